//! Flag sets: creating and reading them, and the per-transaction helpers
//! that lock one and bump its version.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::audit::{self, Action, Entry, Subject};
use super::entity::flag_set;
use super::{Actor, FlagSetKey, FlagSetRecord, Store, StoreError};

/// What creating a flag set takes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewFlagSet {
    /// The key: letters, digits, `_`, `-` and `.`, at most 64 bytes. It is
    /// the flag set's `flagSetId` and part of its cache keys.
    pub key: String,
    /// A human name (the key when empty).
    pub name: String,
    /// Flag-set metadata (scalar values, as flagd allows).
    pub metadata: Map<String, Value>,
    /// The `fractional` scheme override: "v1", "v2" or "v3".
    pub fractional: Option<String>,
}

impl Store {
    /// Creates a flag set, with an audit event.
    pub async fn create_flag_set(
        &self,
        actor: &Actor,
        new: NewFlagSet,
    ) -> Result<FlagSetRecord, StoreError> {
        FlagSetKey::new(new.key.as_str())?;
        if let Some(version) = &new.fractional
            && !matches!(version.as_str(), "v1" | "v2" | "v3")
        {
            return Err(StoreError::InvalidInput {
                what: "fractional version",
                reason: format!("{version:?} is not v1, v2 or v3"),
            });
        }
        let txn = self.begin_write().await?;
        let taken = flag_set::Entity::find()
            .filter(flag_set::Column::Key.eq(&new.key))
            .one(&txn)
            .await?;
        if taken.is_some() {
            return Err(StoreError::AlreadyExists {
                kind: "flag set",
                key: new.key,
            });
        }
        let now = OffsetDateTime::now_utc();
        let name = if new.name.trim().is_empty() {
            new.key.clone()
        } else {
            new.name
        };
        let model = flag_set::ActiveModel {
            key: Set(new.key.clone()),
            name: Set(name),
            metadata: Set(Value::Object(new.metadata)),
            fractional: Set(new.fractional),
            version: Set(1),
            published_version: Set(0),
            archived: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let after = flag_set_json(&model);
        let entry = Entry {
            flag_set_id: Some(model.id),
            subject: Subject::FlagSet,
            key: &model.key,
            action: Action::Create,
            actor,
            version: Some(model.version),
            before: None,
            after: Some(after),
        };
        audit::record(&txn, entry, now).await?;
        txn.commit().await?;
        Ok(FlagSetRecord::from(model))
    }

    /// One flag set by key.
    pub async fn flag_set(&self, key: &str) -> Result<FlagSetRecord, StoreError> {
        flag_set::Entity::find()
            .filter(flag_set::Column::Key.eq(key))
            .one(&self.db)
            .await?
            .map(FlagSetRecord::from)
            .ok_or_else(|| StoreError::FlagSetNotFound {
                key: key.to_owned(),
            })
    }

    /// Every flag set, by key.
    pub async fn flag_sets(&self) -> Result<Vec<FlagSetRecord>, StoreError> {
        Ok(flag_set::Entity::find()
            .order_by_asc(flag_set::Column::Key)
            .all(&self.db)
            .await?
            .into_iter()
            .map(FlagSetRecord::from)
            .collect())
    }

    /// Starts a write transaction. On PostgreSQL it marks the transaction as
    /// Ensign's own, so the out-of-band audit trigger leaves it alone.
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        let txn = self.db.begin().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared("SELECT set_config('ensign.in_band', 'on', true)")
                .await?;
        }
        Ok(txn)
    }

    /// Starts a write transaction on flag set `key` and loads it as
    /// [`lock_flag_set`] does. On PostgreSQL the statement that locks the
    /// row also marks the transaction as Ensign's own, as
    /// [`Store::begin_write`] does: one round trip to the database less on
    /// the way of every flag write.
    pub(crate) async fn begin_write_on(
        &self,
        key: &str,
    ) -> Result<(DatabaseTransaction, flag_set::Model), StoreError> {
        let txn = self.db.begin().await?;
        let mut query = flag_set::Entity::find().filter(flag_set::Column::Key.eq(key));
        if txn.get_database_backend() == DbBackend::Postgres {
            query = query
                .expr_as(
                    Expr::cust("set_config('ensign.in_band', 'on', true)"),
                    "in_band",
                )
                .lock_exclusive();
        }
        let set = live(query.one(&txn).await?, key)?;
        Ok((txn, set))
    }
}

/// Loads a flag set for writing. On PostgreSQL the row is locked until the
/// transaction ends, so that concurrent writers of one flag set commit one
/// after the other and its version orders their changes; SQLite has a
/// single writer anyway.
pub(crate) async fn lock_flag_set(
    txn: &DatabaseTransaction,
    key: &str,
) -> Result<flag_set::Model, StoreError> {
    let mut query = flag_set::Entity::find().filter(flag_set::Column::Key.eq(key));
    if txn.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    live(query.one(txn).await?, key)
}

/// The flag set loaded for a write, or the error that there is no live one.
fn live(set: Option<flag_set::Model>, key: &str) -> Result<flag_set::Model, StoreError> {
    match set {
        Some(set) if !set.archived => Ok(set),
        _ => Err(StoreError::FlagSetNotFound {
            key: key.to_owned(),
        }),
    }
}

/// Increases a flag set's version by one and returns the new version.
/// `set` must have been loaded with [`lock_flag_set`] (or
/// [`Store::begin_write_on`]) in `txn`, so its version is current and the
/// new one is known without reading it back;
/// the `UPDATE` checks it all the same.
pub(crate) async fn bump_version(
    txn: &DatabaseTransaction,
    set: &flag_set::Model,
    now: OffsetDateTime,
) -> Result<i64, StoreError> {
    let version = set.version + 1;
    let updated = flag_set::Entity::update_many()
        .col_expr(flag_set::Column::Version, Expr::value(version))
        .col_expr(flag_set::Column::UpdatedAt, Expr::value(now))
        .filter(flag_set::Column::Id.eq(set.id))
        .filter(flag_set::Column::Version.eq(set.version))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::Conflict {
            kind: "flag set",
            key: set.key.clone(),
            expected: set.version,
            actual: version,
        });
    }
    Ok(version)
}

/// A flag set's settings as the audit trail records them.
fn flag_set_json(model: &flag_set::Model) -> Value {
    serde_json::json!({
        "name": model.name,
        "metadata": model.metadata,
        "fractional": model.fractional,
        "archived": model.archived,
    })
}

impl From<flag_set::Model> for FlagSetRecord {
    fn from(model: flag_set::Model) -> Self {
        FlagSetRecord {
            key: model.key,
            name: model.name,
            metadata: match model.metadata {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            fractional: model.fractional,
            version: model.version,
            published_version: model.published_version,
            archived: model.archived,
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}
