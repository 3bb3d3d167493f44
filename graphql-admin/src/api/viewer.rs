//! The caller in the GraphQL API (any admin token): who it is, its role,
//! and which classes of mutation that role may run, so that a client can
//! disable what would be refused, with the reason, without keeping its own
//! copy of the role table.

use async_graphql::{Context, Object, SimpleObject};

use super::error::ApiError;
use super::schema::{ADMINISTER, CHANGE_FLAGS, Caller, authorize};
use store::TokenRole;

/// The token making the request.
#[derive(Debug, Clone, SimpleObject)]
pub struct Viewer {
    /// The token's name, which the audit trail records as the actor of its
    /// changes.
    name: String,
    /// The token's role as `createToken` spells roles: `viewer`, `editor`
    /// or `admin`.
    role: String,
    /// What the role may change.
    can: ViewerRights,
}

/// The classes of mutation, and whether the viewer's role may run each.
#[derive(Debug, Clone, SimpleObject)]
pub struct ViewerRights {
    /// Changing flags, segments and rollouts and importing flag files.
    change_flags: Permission,
    /// Listing, creating and revoking tokens, and creating flag sets.
    administer: Permission,
}

/// Whether the viewer may run one class of mutation.
#[derive(Debug, Clone, SimpleObject)]
pub struct Permission {
    /// Whether its role allows it; when it does not, such a mutation is
    /// refused with `FORBIDDEN`.
    allowed: bool,
    /// The least role that allows it (`editor` or `admin`), to name in the
    /// reason a control is disabled.
    needed_role: String,
}

impl Permission {
    fn of(role: TokenRole, needed: TokenRole) -> Permission {
        Permission {
            allowed: role.allows(needed),
            needed_role: needed.as_str().to_owned(),
        }
    }
}

/// Reading the caller.
#[derive(Debug, Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The token making the request, its role and what that role may
    /// change. Any admin token may read it.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        authorize(ctx, TokenRole::Viewer)?;
        let token = &ctx.data_opt::<Caller>().ok_or(ApiError::NoCaller)?.token;
        Ok(Viewer {
            name: token.name.clone(),
            role: token.role.as_str().to_owned(),
            can: ViewerRights {
                change_flags: Permission::of(token.role, CHANGE_FLAGS),
                administer: Permission::of(token.role, ADMINISTER),
            },
        })
    }
}
