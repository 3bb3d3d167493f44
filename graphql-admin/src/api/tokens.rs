//! Tokens in the GraphQL API (admin role): listing them, creating one (its
//! secret shown once) and revoking one, which also closes its open
//! WebSocket sessions on this node.

use async_graphql::{Context, Object, SimpleObject};

use super::cost::unpaged;
use super::error::store_error;
use super::schema::{ADMINISTER, admin, authorize, time};
use super::sockets::Sockets;
use store::{TokenRecord, TokenRole};

/// A token (never its secret, except once in [`CreatedToken`]).
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Token")]
pub struct TokenObject {
    id: i64,
    name: String,
    role: String,
    flag_set: Option<String>,
    prefix: String,
    created_at: String,
    revoked_at: Option<String>,
}

impl From<TokenRecord> for TokenObject {
    fn from(r: TokenRecord) -> Self {
        TokenObject {
            id: r.id,
            name: r.name,
            role: r.role.as_str().to_owned(),
            flag_set: r.flag_set,
            prefix: r.prefix,
            created_at: time(r.created_at),
            revoked_at: r.revoked_at.map(time),
        }
    }
}

/// A token just created, with the secret shown this once.
#[derive(Debug, Clone, SimpleObject)]
pub struct CreatedToken {
    token: TokenObject,
    secret: String,
}

/// Reading tokens.
#[derive(Debug, Default)]
pub struct TokenQuery;

#[Object]
impl TokenQuery {
    /// Every token (admin role only).
    #[graphql(complexity = "unpaged(child_complexity)")]
    async fn tokens(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TokenObject>> {
        authorize(ctx, ADMINISTER)?;
        let tokens = admin(ctx)?.store.tokens().await.map_err(store_error)?;
        Ok(tokens.into_iter().map(TokenObject::from).collect())
    }
}

/// Creating and revoking tokens.
#[derive(Debug, Default)]
pub struct TokenMutation;

#[Object]
impl TokenMutation {
    /// Creates a token (admin role). The secret is returned this once.
    async fn create_token(
        &self,
        ctx: &Context<'_>,
        name: String,
        role: String,
        flag_set: Option<String>,
    ) -> async_graphql::Result<CreatedToken> {
        let actor = authorize(ctx, ADMINISTER)?;
        let role: TokenRole = role.parse().map_err(store_error)?;
        let created = admin(ctx)?
            .store
            .create_token(&actor, &name, role, flag_set.as_deref())
            .await
            .map_err(store_error)?;
        Ok(CreatedToken {
            token: created.record.into(),
            secret: created.secret,
        })
    }

    /// Revokes a token (admin role). Its open WebSocket sessions on this
    /// node are closed before the answer; other nodes close theirs when
    /// they next check.
    async fn revoke_token(&self, ctx: &Context<'_>, id: i64) -> async_graphql::Result<TokenObject> {
        let actor = authorize(ctx, ADMINISTER)?;
        let token = admin(ctx)?
            .store
            .revoke_token(&actor, id)
            .await
            .map_err(store_error)?;
        if let Some(sockets) = ctx.data_opt::<Sockets>() {
            sockets.close_token(id).await;
        }
        Ok(token.into())
    }
}
