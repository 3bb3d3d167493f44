//! API tokens: admin tokens (roles viewer, editor, admin) and SDK keys
//! (server or client, scoped to one flag set). Only a SHA-256 hash of each
//! token is stored; the token itself is shown once, when it is created.

use std::fmt;

use rand::RngCore;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use engine::publication::{Access, SdkKey};

use super::audit::{self, Action, Entry, Subject};
use super::entity::{api_token, flag, flag_set};
use super::flag_sets::{bump_version, lock_flag_set};
use super::{Actor, Store, StoreError};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenRole {
    /// Admin API: read everything.
    Viewer,
    /// Admin API: read everything, change flags and segments.
    Editor,
    /// Admin API: everything, including tokens and flag sets.
    Admin,
    /// Evaluation: every flag of its flag set.
    Server,
    /// Evaluation: only the client-visible flags of its flag set.
    Client,
}

impl TokenRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRole::Viewer => "viewer",
            TokenRole::Editor => "editor",
            TokenRole::Admin => "admin",
            TokenRole::Server => "server",
            TokenRole::Client => "client",
        }
    }

    /// Whether this is an SDK key (evaluation) rather than an admin token.
    pub fn is_sdk(self) -> bool {
        matches!(self, TokenRole::Server | TokenRole::Client)
    }

    /// Whether an admin token of this role may do what `needed` may.
    pub fn allows(self, needed: TokenRole) -> bool {
        let rank = |role: TokenRole| match role {
            TokenRole::Viewer => 1,
            TokenRole::Editor => 2,
            TokenRole::Admin => 3,
            TokenRole::Server | TokenRole::Client => 0,
        };
        !self.is_sdk() && rank(self) >= rank(needed)
    }
}

impl fmt::Display for TokenRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TokenRole {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "viewer" => TokenRole::Viewer,
            "editor" => TokenRole::Editor,
            "admin" => TokenRole::Admin,
            "server" => TokenRole::Server,
            "client" => TokenRole::Client,
            other => {
                return Err(StoreError::InvalidInput {
                    what: "token role",
                    reason: format!("{other:?} is not viewer, editor, admin, server or client"),
                });
            }
        })
    }
}

/// A token as stored (without the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Its id.
    pub id: i64,
    /// Its name: the actor of the audit events it causes.
    pub name: String,
    /// What it may do.
    pub role: TokenRole,
    /// The flag set an SDK key is bound to.
    pub flag_set: Option<String>,
    /// The token's first characters, to recognise it.
    pub prefix: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A token just created: the only time its secret is available.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The record.
    pub record: TokenRecord,
    /// The token to hand to its user.
    pub secret: String,
}

impl Store {
    /// Creates a token. SDK keys (server, client) need a flag set; admin
    /// tokens must not have one.
    pub async fn create_token(
        &self,
        actor: &Actor,
        name: &str,
        role: TokenRole,
        flag_set: Option<&str>,
    ) -> Result<NewToken, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(StoreError::InvalidInput {
                what: "token name",
                reason: "must be 1 to 100 bytes long".into(),
            });
        }
        match (role.is_sdk(), flag_set) {
            (true, None) => {
                return Err(StoreError::InvalidInput {
                    what: "token scope",
                    reason: format!("a {role} key needs a flag set"),
                });
            }
            (false, Some(_)) => {
                return Err(StoreError::InvalidInput {
                    what: "token scope",
                    reason: "admin tokens are not bound to a flag set".into(),
                });
            }
            _ => {}
        }
        let txn = self.begin_write().await?;
        let set = match flag_set {
            Some(key) => Some(lock_flag_set(&txn, key).await?),
            None => None,
        };
        let secret = generate(role);
        let now = OffsetDateTime::now_utc();
        let model = api_token::ActiveModel {
            name: Set(name.to_owned()),
            kind: Set(if role.is_sdk() { "sdk" } else { "admin" }.into()),
            role: Set(role.as_str().into()),
            flag_set_id: Set(set.as_ref().map(|s| s.id)),
            token_hash: Set(hash(&secret)),
            prefix: Set(secret.chars().take(12).collect()),
            created_at: Set(now),
            revoked_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let entry = Entry {
            flag_set_id: set.as_ref().map(|s| s.id),
            subject: Subject::Token,
            key: &model.name,
            action: Action::Create,
            actor,
            version: None,
            before: None,
            after: Some(serde_json::json!({
                "role": model.role,
                "prefix": model.prefix,
                "flagSet": flag_set,
            })),
        };
        audit::record(&txn, entry, now).await?;
        if let Some(set) = &set {
            // Evaluation nodes learn a flag set's keys with its publication.
            bump_version(&txn, set, now).await?;
        }
        txn.commit().await?;
        Ok(NewToken {
            record: record(model, flag_set.map(str::to_owned))?,
            secret,
        })
    }

    /// The live token whose secret this is, if any.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<TokenRecord>, StoreError> {
        let Some(model) = api_token::Entity::find()
            .filter(api_token::Column::TokenHash.eq(hash(secret)))
            .filter(api_token::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let flag_set = self.flag_set_key(model.flag_set_id).await?;
        Ok(Some(record(model, flag_set)?))
    }

    /// Token `id` as it is now, live or revoked, if it exists.
    pub async fn token(&self, id: i64) -> Result<Option<TokenRecord>, StoreError> {
        let Some(model) = api_token::Entity::find_by_id(id).one(&self.db).await? else {
            return Ok(None);
        };
        let flag_set = self.flag_set_key(model.flag_set_id).await?;
        Ok(Some(record(model, flag_set)?))
    }

    /// Every token, live and revoked, oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let sets = flag_set::Entity::find().all(&self.db).await?;
        let models = api_token::Entity::find()
            .order_by_asc(api_token::Column::Id)
            .all(&self.db)
            .await?;
        models
            .into_iter()
            .map(|m| {
                let key = m
                    .flag_set_id
                    .and_then(|id| sets.iter().find(|s| s.id == id))
                    .map(|s| s.key.clone());
                record(m, key)
            })
            .collect()
    }

    /// Revokes token `id`; it stops working at once on this node, and on
    /// evaluation nodes with their next key refresh.
    pub async fn revoke_token(&self, actor: &Actor, id: i64) -> Result<TokenRecord, StoreError> {
        let txn = self.begin_write().await?;
        let model = api_token::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::InvalidInput {
                what: "token",
                reason: format!("no token with id {id}"),
            })?;
        let now = OffsetDateTime::now_utc();
        let newly_revoked = model.revoked_at.is_none();
        let mut active: api_token::ActiveModel = model.clone().into();
        active.revoked_at = Set(Some(model.revoked_at.unwrap_or(now)));
        let model = active.update(&txn).await?;
        // An SDK key leaves evaluation nodes with its flag set's next
        // publication.
        if newly_revoked
            && let Some(set_id) = model.flag_set_id
            && let Some(set) = flag_set::Entity::find_by_id(set_id).one(&txn).await?
        {
            let set = lock_flag_set(&txn, &set.key).await?;
            bump_version(&txn, &set, now).await?;
        }
        let entry = Entry {
            flag_set_id: model.flag_set_id,
            subject: Subject::Token,
            key: &model.name,
            action: Action::Revoke,
            actor,
            version: None,
            before: None,
            after: Some(serde_json::json!({"prefix": model.prefix})),
        };
        audit::record(&txn, entry, now).await?;
        txn.commit().await?;
        let flag_set = self.flag_set_key(model.flag_set_id).await?;
        record(model, flag_set)
    }

    /// Who may evaluate flag set `flag_set` on evaluation nodes: its live
    /// SDK keys (as hashes) and its client-visible flags, published with
    /// its document. The three reads name the flag set by key and run at
    /// once, as the publisher waits on them.
    pub async fn access(&self, flag_set: &str) -> Result<Access, StoreError> {
        let set_id = || {
            Query::select()
                .column(flag_set::Column::Id)
                .from(flag_set::Entity)
                .and_where(flag_set::Column::Key.eq(flag_set))
                .to_owned()
        };
        let set = flag_set::Entity::find()
            .filter(flag_set::Column::Key.eq(flag_set))
            .one(&self.db);
        let tokens = api_token::Entity::find()
            .filter(api_token::Column::FlagSetId.in_subquery(set_id()))
            .filter(api_token::Column::Kind.eq("sdk"))
            .order_by_asc(api_token::Column::Id)
            .all(&self.db);
        let client_visible = flag::Entity::find()
            .filter(flag::Column::FlagSetId.in_subquery(set_id()))
            .filter(flag::Column::ClientVisible.eq(true))
            .filter(flag::Column::Archived.eq(false))
            .order_by_asc(flag::Column::Key)
            .all(&self.db);
        let (set, tokens, client_visible) = futures::try_join!(set, tokens, client_visible)?;
        if set.is_none() {
            return Err(StoreError::FlagSetNotFound {
                key: flag_set.to_owned(),
            });
        }
        Ok(access_of(
            tokens,
            client_visible.into_iter().map(|f| f.key).collect(),
        ))
    }

    async fn flag_set_key(&self, id: Option<i64>) -> Result<Option<String>, StoreError> {
        let Some(id) = id else {
            return Ok(None);
        };
        Ok(flag_set::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(|s| s.key))
    }
}

/// The SDK keys of flag set `set_id`, live and revoked, for [`access_of`].
pub(crate) async fn sdk_tokens(
    db: &impl ConnectionTrait,
    set_id: i64,
) -> Result<Vec<api_token::Model>, StoreError> {
    Ok(api_token::Entity::find()
        .filter(api_token::Column::FlagSetId.eq(set_id))
        .filter(api_token::Column::Kind.eq("sdk"))
        .order_by_asc(api_token::Column::Id)
        .all(db)
        .await?)
}

/// A flag set's access from its SDK keys (live and revoked) and the keys
/// of its client-visible live flags, in key order.
pub(crate) fn access_of(tokens: Vec<api_token::Model>, client_visible: Vec<String>) -> Access {
    // Once a flag set has had a key, it needs one, even if every key has
    // been revoked since.
    let required = !tokens.is_empty();
    let keys = tokens
        .into_iter()
        .filter(|t| t.revoked_at.is_none())
        .map(|t| SdkKey {
            hash: t.token_hash,
            client: t.role == TokenRole::Client.as_str(),
        })
        .collect();
    Access {
        keys,
        client_visible,
        required,
    }
}

/// A new random token: a readable kind prefix and 32 random bytes in hex.
fn generate(role: TokenRole) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let kind = if role.is_sdk() { "sdk" } else { "adm" };
    let mut secret = format!("ens_{kind}_");
    for byte in bytes {
        secret.push_str(&format!("{byte:02x}"));
    }
    secret
}

/// The stored form of a token: its SHA-256 in hex.
fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn record(model: api_token::Model, flag_set: Option<String>) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: model.id,
        name: model.name,
        role: model.role.parse()?,
        flag_set,
        prefix: model.prefix,
        created_at: model.created_at,
        revoked_at: model.revoked_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_rank_admin_tokens_only() {
        assert!(TokenRole::Admin.allows(TokenRole::Editor));
        assert!(TokenRole::Editor.allows(TokenRole::Viewer));
        assert!(!TokenRole::Viewer.allows(TokenRole::Editor));
        assert!(!TokenRole::Server.allows(TokenRole::Viewer));
        for role in ["viewer", "editor", "admin", "server", "client"] {
            assert_eq!(role.parse::<TokenRole>().unwrap().as_str(), role);
        }
        assert!("root".parse::<TokenRole>().is_err());
    }

    #[test]
    fn tokens_are_random_and_stored_as_hashes() {
        let a = generate(TokenRole::Admin);
        let b = generate(TokenRole::Admin);
        assert_ne!(a, b);
        assert!(a.starts_with("ens_adm_") && a.len() == 8 + 64, "{a}");
        assert!(generate(TokenRole::Client).starts_with("ens_sdk_"));
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
