//! The GraphQL schema's assembly: the parts each subject module contributes
//! to queries and mutations, the subscription, the limits and checks, and
//! what resolvers share: the [`Admin`] data, the [`Caller`] and its role
//! check, and the read-only check of writes.

use std::sync::Arc;

use async_graphql::{Context, MergedObject, Schema, SchemaBuilder};
use time::format_description::well_known::Rfc3339;
use tokio::sync::broadcast;

use super::alerts::AlertQuery;
use super::audit::AuditLogQuery;
use super::cost::CostLimits;
use super::diagnostics::DiagnosticsQuery;
use super::error::ApiError;
use super::evaluation::EvaluationQuery;
use super::experiments::{ExperimentMutation, ExperimentQuery};
use super::flag_sets::{FlagFileMutation, FlagFileQuery, FlagSetMutation, FlagSetQuery};
use super::flags::{FlagMutation, FlagQuery};
use super::nesting::NestingLimit;
use super::promotion::{PromotionMutation, PromotionQuery};
use super::results::{ResultMutation, SharedRunner};
use super::rollouts::{RolloutMutation, RolloutQuery};
use super::segments::{SegmentMutation, SegmentQuery};
use super::sockets::Sockets;
use super::subscription::Subscription;
use super::tokens::{TokenMutation, TokenQuery};
use super::usage::UsageQuery;
use super::validation::ContainValidation;
use super::viewer::ViewerQuery;
use store::{Actor, Commit, Store, TokenRecord, TokenRole};

/// The admin schema.
pub type AdminSchema = Schema<Query, Mutation, Subscription>;

// Each subject contributes its parts; their order is the order of the
// fields in the schema (and in `schema.graphql`).

/// Read operations. (Each part of the API contributes an object.)
#[derive(Debug, Default, MergedObject)]
pub struct Query(
    FlagSetQuery,
    FlagQuery,
    AuditLogQuery,
    TokenQuery,
    FlagFileQuery,
    EvaluationQuery,
    SegmentQuery,
    RolloutQuery,
    ExperimentQuery,
    AlertQuery,
    ViewerQuery,
    DiagnosticsQuery,
    UsageQuery,
    PromotionQuery,
);

/// Write operations, each one audited commit. (Each part of the API
/// contributes an object.)
#[derive(Debug, Default, MergedObject)]
pub struct Mutation(
    FlagSetMutation,
    FlagMutation,
    FlagFileMutation,
    TokenMutation,
    RolloutMutation,
    SegmentMutation,
    ExperimentMutation,
    ResultMutation,
    PromotionMutation,
);

/// The role that changing flags, segments, rollouts and experiments (and importing flag
/// files) needs. Those mutations check it, and `viewer.can.changeFlags`
/// reports it, so the two cannot disagree.
pub(super) const CHANGE_FLAGS: TokenRole = TokenRole::Editor;

/// The role that tokens (listing, creating, revoking them) and creating
/// flag sets need, as those operations check it and `viewer.can.administer`
/// reports it.
pub(super) const ADMINISTER: TokenRole = TokenRole::Admin;

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 10;
/// Most complex query accepted: each field counts one, times the items
/// of every list around it (see [`super::cost`]).
pub const MAX_COMPLEXITY: usize = 2000;

/// What resolvers share: the store and the commit announcements.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The store.
    pub store: Store,
    /// Every committed change, for subscriptions, the publisher and the
    /// embedded evaluation feed.
    pub commits: broadcast::Sender<Commit>,
    /// What runs an experiment's analysis on demand (`runAnalysis`);
    /// `None` on a node that runs none.
    pub analysis: Option<SharedRunner>,
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Its token.
    pub token: TokenRecord,
    /// The request's id, recorded in the audit trail.
    pub request_id: Option<String>,
}

/// Builds the schema with its limits.
pub fn schema(admin: Admin) -> AdminSchema {
    schema_with(admin, ReadOnlySets::default())
}

/// Builds the schema with the flag sets that other sources serve.
pub fn schema_with(admin: Admin, read_only: ReadOnlySets) -> AdminSchema {
    build(admin, read_only, None)
}

/// Builds the schema; with `sockets`, revoking a token closes its open
/// WebSocket sessions.
pub(super) fn build(
    admin: Admin,
    read_only: ReadOnlySets,
    sockets: Option<Sockets>,
) -> AdminSchema {
    let builder = builder()
        .data(super::history::loader(admin.store.clone()))
        .data(admin)
        .data(read_only);
    match sockets {
        Some(sockets) => builder.data(sockets),
        None => builder,
    }
    .finish()
}

/// The schema with its limits and checks but without a store: every field
/// refuses for want of a caller. Requests are parsed, checked and
/// validated as by the served schema (the fuzz target uses it).
pub fn detached() -> AdminSchema {
    builder().finish()
}

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .extension(NestingLimit)
        .extension(ContainValidation)
        .extension(CostLimits)
}

/// A flag set served from a `--uri` source beside the store: listed by the
/// API, but read-only there, so that the store and the source never fight
/// over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOnlySet {
    /// Its `flagSetId`.
    pub key: String,
    /// The source it comes from (file, URL, ...).
    pub source: String,
}

/// How the API learns the read-only flag sets (from the evaluation side,
/// which `graphql-admin` does not depend on).
#[derive(Clone, Default)]
pub struct ReadOnlySets(Option<Arc<dyn Fn() -> Vec<ReadOnlySet> + Send + Sync>>);

impl ReadOnlySets {
    /// The read-only flag sets, as `list` reports them on each request.
    pub fn new(list: impl Fn() -> Vec<ReadOnlySet> + Send + Sync + 'static) -> ReadOnlySets {
        ReadOnlySets(Some(Arc::new(list)))
    }

    pub(super) fn list(&self) -> Vec<ReadOnlySet> {
        self.0.as_ref().map(|list| list()).unwrap_or_default()
    }
}

impl std::fmt::Debug for ReadOnlySets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ReadOnlySets").field(&self.list()).finish()
    }
}

/// Refuses a write to a flag set that another source serves. Every
/// mutation that writes to a flag set (its flags, segments, rollouts, an
/// import) calls it after [`authorize`].
pub(super) fn writable(ctx: &Context<'_>, flag_set: &str) -> async_graphql::Result<()> {
    let read_only = ctx
        .data_opt::<ReadOnlySets>()
        .map(ReadOnlySets::list)
        .unwrap_or_default();
    match read_only.iter().find(|set| set.key == flag_set) {
        Some(set) => Err(ApiError::ReadOnly {
            flag_set: flag_set.to_owned(),
            served_by: set.source.clone(),
        }
        .into()),
        None => Ok(()),
    }
}

/// The schema without data, for exporting its SDL.
pub fn sdl() -> String {
    detached().sdl()
}

/// Checks that the caller's role allows `needed` and returns the actor.
pub(super) fn authorize(ctx: &Context<'_>, needed: TokenRole) -> async_graphql::Result<Actor> {
    let caller = ctx.data_opt::<Caller>().ok_or(ApiError::NoCaller)?;
    if !caller.token.role.allows(needed) {
        return Err(ApiError::RoleTooLow {
            token: caller.token.name.clone(),
            role: caller.token.role,
            needed,
        }
        .into());
    }
    Ok(Actor {
        name: caller.token.name.clone(),
        request_id: caller.request_id.clone(),
    })
}

pub(super) fn admin<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Admin> {
    ctx.data::<Admin>()
}

pub(super) fn time(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}
