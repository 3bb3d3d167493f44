//! Promotion in the GraphQL API: two flag sets compared flag by flag
//! (viewer), and a flag copied from one to the other (editor), as one
//! audited write of the target that is published as any flag write is.

use async_graphql::{Context, Object, SimpleObject};

use super::cost::unpaged;
use super::error::store_error;
use super::flags::FlagObject;
use super::schema::{CHANGE_FLAGS, admin, authorize, writable};
use store::{Action, Commit, ComparedFlag, TokenRole};

/// One flag key of two compared flag sets.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "ComparedFlag")]
pub struct ComparedFlagObject {
    /// The flag's key.
    key: String,
    /// The flag in the first flag set; `null` when it is not live there.
    from: Option<FlagObject>,
    /// The flag in the second flag set, live or archived; `null` when it
    /// has none.
    to: Option<FlagObject>,
    /// What differs: the definition's top-level fields (`state`,
    /// `variants`, `defaultVariant`, `targeting`, `metadata`, then any
    /// other), then `clientVisible` and `archived`. Empty when the flag is
    /// the same in both.
    differences: Vec<String>,
}

impl From<ComparedFlag> for ComparedFlagObject {
    fn from(compared: ComparedFlag) -> Self {
        ComparedFlagObject {
            key: compared.key,
            from: compared.from.map(Into::into),
            to: compared.to.map(Into::into),
            differences: compared.differences,
        }
    }
}

/// Comparing flag sets.
#[derive(Debug, Default)]
pub struct PromotionQuery;

#[Object]
impl PromotionQuery {
    /// Flag sets `from` and `to` side by side, by flag key: every flag
    /// live in either (a key archived in `to` shows there as archived), in
    /// key order, with what differs.
    #[graphql(complexity = "unpaged(child_complexity)")]
    async fn compare_flag_sets(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
    ) -> async_graphql::Result<Vec<ComparedFlagObject>> {
        authorize(ctx, TokenRole::Viewer)?;
        let compared = admin(ctx)?
            .store
            .compare_flag_sets(&from, &to)
            .await
            .map_err(store_error)?;
        Ok(compared.into_iter().map(Into::into).collect())
    }
}

/// Promoting flags.
#[derive(Debug, Default)]
pub struct PromotionMutation;

#[Object]
impl PromotionMutation {
    /// Copies flag `key` of flag set `from`, as it is at `fromVersion`,
    /// into flag set `to`: its definition and `clientVisible` (the target
    /// keeps its own `locked`). `expectedVersion` is the target flag's
    /// version read, `null` when the target has no such flag (it is then
    /// created). A source changed since `fromVersion`, or a target changed
    /// since `expectedVersion`, is `VERSION_CONFLICT`; a definition the
    /// target cannot compile (a `$ref` to a segment it lacks, say) is
    /// refused with the compiler's diagnostics. One write of the target,
    /// audited as `promote` with the source's flag set and version.
    async fn promote_flag(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
        key: String,
        from_version: i64,
        expected_version: Option<i64>,
    ) -> async_graphql::Result<FlagObject> {
        let actor = authorize(ctx, CHANGE_FLAGS)?;
        writable(ctx, &to)?;
        let admin = admin(ctx)?;
        let flag = admin
            .store
            .promote_flag(&actor, &from, &to, &key, from_version, expected_version)
            .await
            .map_err(store_error)?;
        let _ = admin.commits.send(Commit {
            flag_set: to,
            flag: Some(key),
            action: Action::Promote,
            actor: actor.name,
        });
        Ok(flag.into())
    }
}
