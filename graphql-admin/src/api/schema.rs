//! The GraphQL schema: queries, mutations and the flag-change subscription
//! over the store, each checked against the caller's role.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{
    Context, ErrorExtensions, InputObject, Json, MergedObject, Object, Schema, SchemaBuilder,
    SimpleObject, Subscription,
};
use futures::Stream;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use tokio::sync::broadcast;

use super::cost::{CostLimits, page_size, paged, unpaged};
use super::history::{HistoryKey, HistoryLoader};
use super::nesting::NestingLimit;
use super::sockets::Sockets;
use super::validation::ContainValidation;
use store::{Action, Actor, AuditRecord, Commit, FlagRecord, FlagSetRecord, Store, StoreError};
use store::{
    AuditFilter, FlagChange, FlagFilter, FlagInput, NewFlagSet, Page, TokenRecord, TokenRole,
};

/// The admin schema.
pub type AdminSchema = Schema<Query, Mutation, Subscription>;

/// Read operations. (Each part of the API contributes an object.)
#[derive(Debug, Default, MergedObject)]
pub struct Query(
    FlagQuery,
    super::segments::SegmentQuery,
    super::rollouts::RolloutQuery,
    super::alerts::AlertQuery,
);

/// Write operations, each one audited commit. (Each part of the API
/// contributes an object.)
#[derive(Debug, Default, MergedObject)]
pub struct Mutation(
    FlagMutation,
    super::rollouts::RolloutMutation,
    super::segments::SegmentMutation,
);

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
}

// The GraphQL face of the store's `Commit` (its doc is the schema's).
/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
#[graphql(name = "Commit")]
pub struct CommitObject {
    /// The flag set that changed.
    pub flag_set: String,
    /// The flag, when one flag changed.
    pub flag: Option<String>,
    /// What was done ("update", "kill", "import", ...).
    pub action: String,
    /// Who did it.
    pub actor: String,
}

impl From<Commit> for CommitObject {
    fn from(commit: Commit) -> CommitObject {
        CommitObject {
            flag_set: commit.flag_set,
            flag: commit.flag,
            action: commit.action.as_str().to_owned(),
            actor: commit.actor,
        }
    }
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

    fn list(&self) -> Vec<ReadOnlySet> {
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
        Some(set) => Err(coded(
            format!(
                "flag set {flag_set:?} is served from {} and is read-only here",
                set.source
            ),
            "READ_ONLY",
        )),
        None => Ok(()),
    }
}

/// The schema without data, for exporting its SDL.
pub fn sdl() -> String {
    detached().sdl()
}

/// Checks that the caller's role allows `needed` and returns the actor.
pub(super) fn authorize(ctx: &Context<'_>, needed: TokenRole) -> async_graphql::Result<Actor> {
    let caller = ctx
        .data_opt::<Caller>()
        .ok_or_else(|| coded("authentication required", "UNAUTHENTICATED"))?;
    if !caller.token.role.allows(needed) {
        return Err(coded(
            format!(
                "token {:?} has role {}, this needs {needed}",
                caller.token.name, caller.token.role
            ),
            "FORBIDDEN",
        ));
    }
    Ok(Actor {
        name: caller.token.name.clone(),
        request_id: caller.request_id.clone(),
    })
}

pub(super) fn admin<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Admin> {
    ctx.data::<Admin>()
}

pub(super) fn coded(message: impl Into<String>, code: &'static str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

/// The one conversion of store errors into GraphQL errors: the message and
/// `extensions.code`; internal failures are logged and reported without
/// detail.
pub(super) fn store_error(error: StoreError) -> async_graphql::Error {
    store_error_ref(&error)
}

/// [`store_error`] of a shared error (the history loader's).
pub(super) fn store_error_ref(error: &StoreError) -> async_graphql::Error {
    match error {
        StoreError::Connect { .. } | StoreError::Database(_) | StoreError::Migrate(_) => {
            tracing::error!(error = %error, cause = ?std::error::Error::source(error), "Store failure in the admin API.");
            coded(
                "the store is unavailable; nothing was written",
                error.code(),
            )
        }
        StoreError::Invalid { diagnostics, .. } | StoreError::SegmentRef { diagnostics, .. } => {
            let details: Vec<Value> = diagnostics
                .iter()
                .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
                .collect();
            let code = error.code();
            async_graphql::Error::new(error.to_string()).extend_with(move |_, e| {
                e.set("code", code);
                if let Ok(value) = async_graphql::Value::from_json(Value::Array(details.clone())) {
                    e.set("diagnostics", value);
                }
            })
        }
        _ => coded(error.to_string(), error.code()),
    }
}

pub(super) fn time(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// A flag set.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "FlagSet")]
pub struct FlagSetObject {
    key: String,
    name: String,
    metadata: Json<Map<String, Value>>,
    fractional: Option<String>,
    version: i64,
    published_version: i64,
    archived: bool,
    /// Served from a `--uri` source beside the store: not editable here.
    read_only: bool,
    updated_at: String,
}

impl FlagSetObject {
    fn from_source(set: ReadOnlySet) -> FlagSetObject {
        FlagSetObject {
            key: set.key,
            name: set.source,
            metadata: Json(Map::new()),
            fractional: None,
            version: 0,
            published_version: 0,
            archived: false,
            read_only: true,
            updated_at: String::new(),
        }
    }
}

impl From<FlagSetRecord> for FlagSetObject {
    fn from(r: FlagSetRecord) -> Self {
        FlagSetObject {
            key: r.key,
            name: r.name,
            metadata: Json(r.metadata),
            fractional: r.fractional,
            version: r.version,
            published_version: r.published_version,
            archived: r.archived,
            read_only: false,
            updated_at: time(r.updated_at),
        }
    }
}

/// A flag.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex, name = "Flag")]
pub struct FlagObject {
    flag_set: String,
    key: String,
    definition: Json<Value>,
    state: String,
    default_variant: Option<String>,
    version: i64,
    client_visible: bool,
    locked: bool,
    archived: bool,
    updated_at: String,
}

#[async_graphql::ComplexObject]
impl FlagObject {
    /// A page of this flag's audit events, newest first, paged like
    /// `audit`: pass `next` as `beforeId` for the next page.
    #[graphql(complexity = "paged(first, child_complexity)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: u64,
        before_id: Option<i64>,
    ) -> async_graphql::Result<AuditPage> {
        authorize(ctx, TokenRole::Viewer)?;
        let key = HistoryKey {
            flag_set: self.flag_set.clone(),
            flag: self.key.clone(),
            first: page_size(first)?,
            before_id,
        };
        let page = ctx
            .data::<DataLoader<HistoryLoader>>()?
            .load_one(key)
            .await
            .map_err(|error| store_error_ref(&error))?
            .unwrap_or(Page {
                items: Vec::new(),
                next: None,
            });
        Ok(AuditPage {
            items: page.items.into_iter().map(AuditObject::from).collect(),
            next: page.next,
        })
    }
}

impl From<FlagRecord> for FlagObject {
    fn from(r: FlagRecord) -> Self {
        FlagObject {
            state: r.definition["state"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            default_variant: r.definition["defaultVariant"].as_str().map(str::to_owned),
            flag_set: r.flag_set,
            key: r.key,
            definition: Json(r.definition),
            version: r.version,
            client_visible: r.client_visible,
            locked: r.locked,
            archived: r.archived,
            updated_at: time(r.updated_at),
        }
    }
}

/// A page of flags.
#[derive(Debug, Clone, SimpleObject)]
pub struct FlagPage {
    items: Vec<FlagObject>,
    /// Pass as `after` for the next page.
    next: Option<String>,
}

/// An audit event.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "AuditEvent")]
pub struct AuditObject {
    id: i64,
    flag_set: Option<String>,
    subject_kind: String,
    subject_key: String,
    action: String,
    actor: String,
    request_id: Option<String>,
    version: Option<i64>,
    before: Option<Json<Value>>,
    after: Option<Json<Value>>,
    diff: Option<Json<Value>>,
    out_of_band: bool,
    created_at: String,
}

impl From<AuditRecord> for AuditObject {
    fn from(r: AuditRecord) -> Self {
        AuditObject {
            id: r.id,
            flag_set: r.flag_set,
            subject_kind: r.subject.as_str().to_owned(),
            subject_key: r.subject_key,
            action: r.action.as_str().to_owned(),
            actor: r.actor,
            request_id: r.request_id,
            version: r.version,
            before: r.before.map(Json),
            after: r.after.map(Json),
            diff: r.diff.map(Json),
            out_of_band: r.out_of_band,
            created_at: time(r.created_at),
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Clone, SimpleObject)]
pub struct AuditPage {
    items: Vec<AuditObject>,
    /// Pass as `beforeId` for the next page.
    next: Option<i64>,
}

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

/// The evaluation debugger's answer.
#[derive(Debug, Clone, SimpleObject)]
pub struct Evaluation {
    value: Option<Json<Value>>,
    variant: Option<String>,
    reason: String,
    error_code: Option<String>,
    error_message: Option<String>,
    /// The engine's decision path.
    explain: String,
}

/// Audit log filters.
#[derive(Debug, Clone, InputObject)]
#[graphql(name = "AuditFilter")]
pub struct AuditQuery {
    flag_set: Option<String>,
    flag: Option<String>,
    actor: Option<String>,
    /// RFC 3339.
    since: Option<String>,
    /// RFC 3339.
    until: Option<String>,
    before_id: Option<i64>,
    /// The page size, 1 to 100.
    #[graphql(default = 50)]
    first: u64,
}

impl Default for AuditQuery {
    fn default() -> Self {
        AuditQuery {
            flag_set: None,
            flag: None,
            actor: None,
            since: None,
            until: None,
            before_id: None,
            first: 50,
        }
    }
}

fn parse_time(text: Option<String>) -> async_graphql::Result<Option<time::OffsetDateTime>> {
    text.map(|t| {
        time::OffsetDateTime::parse(&t, &Rfc3339).map_err(|e| {
            coded(
                format!("{t:?} is not an RFC 3339 time: {e}"),
                "INVALID_INPUT",
            )
        })
    })
    .transpose()
}

/// Read access.
#[derive(Debug, Default)]
pub struct FlagQuery;

#[Object]
impl FlagQuery {
    /// Every flag set.
    #[graphql(complexity = "unpaged(child_complexity)")]
    async fn flag_sets(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<FlagSetObject>> {
        authorize(ctx, TokenRole::Viewer)?;
        let sets = admin(ctx)?.store.flag_sets().await.map_err(store_error)?;
        let mut objects: Vec<FlagSetObject> = sets.into_iter().map(FlagSetObject::from).collect();
        let read_only = ctx
            .data_opt::<ReadOnlySets>()
            .map(ReadOnlySets::list)
            .unwrap_or_default();
        for set in read_only {
            if objects.iter().all(|o| o.key != set.key) {
                objects.push(FlagSetObject::from_source(set));
            }
        }
        Ok(objects)
    }

    /// A page of a flag set's flags, by key (`first`: 1 to 100).
    #[graphql(complexity = "paged(first, child_complexity)")]
    async fn flags(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        search: Option<String>,
        after: Option<String>,
        #[graphql(default = 50)] first: u64,
        #[graphql(default = false)] include_archived: bool,
    ) -> async_graphql::Result<FlagPage> {
        authorize(ctx, TokenRole::Viewer)?;
        let page = admin(ctx)?
            .store
            .flags(
                &flag_set,
                &FlagFilter {
                    search,
                    include_archived,
                    after,
                    limit: page_size(first)?,
                },
            )
            .await
            .map_err(store_error)?;
        Ok(FlagPage {
            items: page.items.into_iter().map(FlagObject::from).collect(),
            next: page.next,
        })
    }

    /// One flag.
    async fn flag(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
    ) -> async_graphql::Result<FlagObject> {
        authorize(ctx, TokenRole::Viewer)?;
        let flag = admin(ctx)?
            .store
            .flag(&flag_set, &key)
            .await
            .map_err(store_error)?;
        Ok(flag.into())
    }

    /// A page of the audit log, newest first.
    #[graphql(complexity = "paged(filter.first, child_complexity)")]
    async fn audit(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: AuditQuery,
    ) -> async_graphql::Result<AuditPage> {
        authorize(ctx, TokenRole::Viewer)?;
        let page = admin(ctx)?
            .store
            .audit(&AuditFilter {
                flag_set: filter.flag_set,
                flag: filter.flag,
                actor: filter.actor,
                since: parse_time(filter.since)?,
                until: parse_time(filter.until)?,
                before_id: filter.before_id,
                limit: page_size(filter.first)?,
            })
            .await
            .map_err(store_error)?;
        Ok(AuditPage {
            items: page.items.into_iter().map(AuditObject::from).collect(),
            next: page.next,
        })
    }

    /// Every token (admin role only).
    #[graphql(complexity = "unpaged(child_complexity)")]
    async fn tokens(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TokenObject>> {
        authorize(ctx, TokenRole::Admin)?;
        let tokens = admin(ctx)?.store.tokens().await.map_err(store_error)?;
        Ok(tokens.into_iter().map(TokenObject::from).collect())
    }

    /// The flag set as a flagd flag file.
    async fn export_flag_set(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
    ) -> async_graphql::Result<Json<Value>> {
        authorize(ctx, TokenRole::Viewer)?;
        let (_, document) = admin(ctx)?
            .store
            .document(&flag_set)
            .await
            .map_err(store_error)?;
        Ok(Json(document))
    }

    /// The evaluation debugger: evaluates a stored flag for a context and
    /// returns the engine's decision path.
    async fn evaluate(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        #[graphql(default_with = "Json(Value::Object(Map::new()))")] context: Json<Value>,
    ) -> async_graphql::Result<Evaluation> {
        authorize(ctx, TokenRole::Viewer)?;
        let (_, document) = admin(ctx)?
            .store
            .document(&flag_set)
            .await
            .map_err(store_error)?;
        let (file, _) = engine::model::from_value(document)
            .map_err(|e| coded(e.to_string(), "INVALID_DEFINITION"))?;
        let (set, _) =
            engine::FlagSet::compile(&flag_set, &file, &engine::CompileOptions::default(), None);
        let prepared = set.prepare(&context.0);
        let (resolution, trace) = set.explain(&key, &prepared);
        Ok(Evaluation {
            value: resolution.value.cloned().map(Json),
            variant: resolution.variant.map(str::to_owned),
            reason: resolution.reason.as_str().to_owned(),
            error_code: resolution
                .error
                .as_ref()
                .map(|e| e.code.as_str().to_owned()),
            error_message: resolution.error.as_ref().map(|e| e.message.clone()),
            explain: trace.render(),
        })
    }
}

/// Write access. Every mutation is one audited commit.
#[derive(Debug, Default)]
pub struct FlagMutation;

/// The input of a flag write.
#[derive(Debug, Clone, InputObject)]
pub struct FlagWrite {
    /// The flagd definition.
    definition: Json<Value>,
    client_visible: Option<bool>,
    locked: Option<bool>,
}

impl From<FlagWrite> for FlagInput {
    fn from(w: FlagWrite) -> Self {
        FlagInput {
            definition: w.definition.0,
            client_visible: w.client_visible,
            locked: w.locked,
        }
    }
}

/// One variant's share of a `fractional` rollout.
#[derive(Debug, Clone, InputObject)]
pub struct Weight {
    pub(super) variant: String,
    pub(super) weight: u32,
}

impl FlagMutation {
    async fn write(
        ctx: &Context<'_>,
        flag_set: &str,
        key: &str,
        change: FlagChange<'_>,
    ) -> async_graphql::Result<FlagObject> {
        let actor = authorize(ctx, TokenRole::Editor)?;
        writable(ctx, flag_set)?;
        let admin = admin(ctx)?;
        let action = change.action().to_owned();
        let flag = admin
            .store
            .write_flag(&actor, flag_set, key, change)
            .await
            .map_err(store_error)?;
        let _ = admin.commits.send(Commit {
            flag_set: flag_set.to_owned(),
            flag: Some(key.to_owned()),
            action,
            actor: actor.name,
        });
        Ok(flag.into())
    }
}

#[Object]
impl FlagMutation {
    /// Creates a flag set (admin role).
    async fn create_flag_set(
        &self,
        ctx: &Context<'_>,
        key: String,
        #[graphql(default)] name: String,
        fractional: Option<String>,
    ) -> async_graphql::Result<FlagSetObject> {
        let actor = authorize(ctx, TokenRole::Admin)?;
        writable(ctx, &key)?;
        let admin = admin(ctx)?;
        let set = admin
            .store
            .create_flag_set(
                &actor,
                NewFlagSet {
                    key: key.clone(),
                    name,
                    metadata: Map::new(),
                    fractional,
                },
            )
            .await
            .map_err(store_error)?;
        let _ = admin.commits.send(Commit {
            flag_set: key,
            flag: None,
            action: Action::Create,
            actor: actor.name,
        });
        Ok(set.into())
    }

    /// Creates a flag.
    async fn create_flag(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        flag: FlagWrite,
    ) -> async_graphql::Result<FlagObject> {
        FlagMutation::write(ctx, &flag_set, &key, FlagChange::Create(flag.into())).await
    }

    /// Replaces a flag's definition; `expectedVersion` is the version read.
    async fn update_flag(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        expected_version: i64,
        flag: FlagWrite,
    ) -> async_graphql::Result<FlagObject> {
        let change = FlagChange::Update {
            expected_version,
            input: flag.into(),
        };
        FlagMutation::write(ctx, &flag_set, &key, change).await
    }

    /// Archives a flag: kept in history, no longer served.
    async fn archive_flag(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        expected_version: i64,
    ) -> async_graphql::Result<FlagObject> {
        let change = FlagChange::Archive { expected_version };
        FlagMutation::write(ctx, &flag_set, &key, change).await
    }

    /// The kill switch: disables the flag now, whatever its version.
    async fn kill_switch(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
    ) -> async_graphql::Result<FlagObject> {
        let edit = |definition: &mut Value| {
            definition["state"] = Value::String("DISABLED".into());
            Ok(())
        };
        let change = FlagChange::Edit {
            expected_version: None,
            action: Action::Kill,
            edit: &edit,
        };
        FlagMutation::write(ctx, &flag_set, &key, change).await
    }

    /// Sets the default variant.
    async fn set_default_variant(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        expected_version: i64,
        variant: String,
    ) -> async_graphql::Result<FlagObject> {
        let edit = move |definition: &mut Value| {
            definition["defaultVariant"] = Value::String(variant.clone());
            Ok(())
        };
        let change = FlagChange::Edit {
            expected_version: Some(expected_version),
            action: Action::SetDefaultVariant,
            edit: &edit,
        };
        FlagMutation::write(ctx, &flag_set, &key, change).await
    }

    /// Sets the weights of the flag's `fractional` rule (the first one in
    /// its targeting).
    async fn set_rollout(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        expected_version: i64,
        weights: Vec<Weight>,
    ) -> async_graphql::Result<FlagObject> {
        let edit = move |definition: &mut Value| {
            store::set_weights(
                definition,
                &weights
                    .iter()
                    .map(|w| (w.variant.clone(), w.weight))
                    .collect::<Vec<_>>(),
            )
        };
        let change = FlagChange::Edit {
            expected_version: Some(expected_version),
            action: Action::SetRollout,
            edit: &edit,
        };
        FlagMutation::write(ctx, &flag_set, &key, change).await
    }

    /// Restores the definition a flag had at `toVersion`.
    async fn rollback_flag(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        expected_version: i64,
        to_version: i64,
    ) -> async_graphql::Result<FlagObject> {
        let change = FlagChange::Rollback {
            expected_version,
            to_version,
        };
        FlagMutation::write(ctx, &flag_set, &key, change).await
    }

    /// Imports a flagd flag file into a flag set, as one commit. Returns
    /// the flag set's version after it.
    async fn import_flag_set(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        file: Json<Value>,
    ) -> async_graphql::Result<i64> {
        let actor = authorize(ctx, TokenRole::Editor)?;
        writable(ctx, &flag_set)?;
        let admin = admin(ctx)?;
        let summary = admin
            .store
            .import_flag_set(&actor, &flag_set, file.0)
            .await
            .map_err(store_error)?;
        let _ = admin.commits.send(Commit {
            flag_set,
            flag: None,
            action: Action::Import,
            actor: actor.name,
        });
        Ok(summary.version)
    }

    /// Creates a token (admin role). The secret is returned this once.
    async fn create_token(
        &self,
        ctx: &Context<'_>,
        name: String,
        role: String,
        flag_set: Option<String>,
    ) -> async_graphql::Result<CreatedToken> {
        let actor = authorize(ctx, TokenRole::Admin)?;
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
        let actor = authorize(ctx, TokenRole::Admin)?;
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

/// Live updates.
#[derive(Debug, Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Every committed change of one flag set (all flag sets when omitted).
    async fn flag_changes(
        &self,
        ctx: &Context<'_>,
        flag_set: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = CommitObject> + use<>> {
        authorize(ctx, TokenRole::Viewer)?;
        let receiver = admin(ctx)?.commits.subscribe();
        let stream = tokio_stream::wrappers::BroadcastStream::new(receiver);
        Ok(futures::StreamExt::filter_map(stream, move |commit| {
            let wanted = match &commit {
                Ok(c) => flag_set.as_ref().is_none_or(|f| f == &c.flag_set),
                Err(_) => false,
            };
            std::future::ready(if wanted {
                commit.ok().map(CommitObject::from)
            } else {
                None
            })
        }))
    }
}
