//! Flags in the GraphQL API: reading them, their tags and their histories
//! (viewer), and changing them (editor): create, update, archive, restore,
//! the kill switch, the default variant, `fractional` weights and
//! rollback, each one audited commit.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, InputObject, Json, Object, SimpleObject};
use serde_json::Value;

use super::audit::AuditPage;
use super::cost::{page_size, paged, unpaged};
use super::cursor;
use super::error::{ApiError, store_error, store_error_ref};
use super::history::{HistoryKey, HistoryLoader};
use super::schema::{CHANGE_FLAGS, admin, authorize, time, writable};
use store::{Action, Commit, FlagChange, FlagFilter, FlagInput, FlagRecord, Page, TokenRole};
use store::{FlagSort as StoreFlagSort, FlagState as StoreFlagState};

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
    /// The string entries of the definition's `metadata.tags` array, in
    /// their order (other entries are ignored; none when it is not an
    /// array).
    tags: Vec<String>,
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
        Ok(page.into())
    }
}

impl From<FlagRecord> for FlagObject {
    fn from(r: FlagRecord) -> Self {
        FlagObject {
            tags: r.tags(),
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
#[graphql(complex)]
pub struct FlagPage {
    items: Vec<FlagObject>,
    /// Pass as `after` for the next page, with the same `sort`; `null` on
    /// the last page.
    next: Option<String>,
    #[graphql(skip)]
    flag_set: String,
    #[graphql(skip)]
    filter: FlagFilter,
}

#[async_graphql::ComplexObject]
impl FlagPage {
    /// How many flags match the filters, on all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        admin(ctx)?
            .store
            .count_flags(&self.flag_set, &self.filter)
            .await
            .map_err(store_error)
    }
}

/// A flag's `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "store::FlagState")]
pub enum FlagState {
    /// `ENABLED`: the flag is evaluated.
    Enabled,
    /// `DISABLED`: the flag resolves to `DISABLED` (the kill switch).
    Disabled,
}

/// The order of a list of flags; flags changed at the same time go by key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
#[graphql(remote = "store::FlagSort")]
pub enum FlagSort {
    /// By key, `a` to `z`.
    #[default]
    KeyAsc,
    /// By key, `z` to `a`.
    KeyDesc,
    /// Last changed first (`updatedAt`; to the millisecond on SQLite).
    UpdatedDesc,
    /// Last changed last.
    UpdatedAsc,
}

/// Reading flags.
#[derive(Debug, Default)]
pub struct FlagQuery;

#[Object]
impl FlagQuery {
    /// A page of a flag set's flags (`first`: 1 to 100) that match every
    /// filter given: `search` (text in the key, any case), `state`, `tag`
    /// (see `Flag.tags`) and `includeArchived`, in `sort`'s order. `after`
    /// is the previous page's `next`, under the same `sort` (a cursor from
    /// another order, or not from this list, is `INVALID_INPUT`).
    #[graphql(complexity = "paged(first, child_complexity)")]
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is one of the field's GraphQL arguments"
    )]
    async fn flags(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        search: Option<String>,
        after: Option<String>,
        #[graphql(default = 50)] first: u64,
        #[graphql(default = false)] include_archived: bool,
        state: Option<FlagState>,
        tag: Option<String>,
        #[graphql(default)] sort: FlagSort,
    ) -> async_graphql::Result<FlagPage> {
        authorize(ctx, TokenRole::Viewer)?;
        let sort = StoreFlagSort::from(sort);
        let after = after
            .map(|text| cursor::decode(sort, &text))
            .transpose()
            .map_err(|error| ApiError::InvalidCursor { error })?;
        let filter = FlagFilter {
            search,
            include_archived,
            state: state.map(StoreFlagState::from),
            tag,
            sort,
            after,
            limit: page_size(first)?,
        };
        let page = admin(ctx)?
            .store
            .flags(&flag_set, &filter)
            .await
            .map_err(store_error)?;
        Ok(FlagPage {
            items: page.items.into_iter().map(FlagObject::from).collect(),
            next: page.next.map(|next| cursor::encode(sort, &next)),
            flag_set,
            filter,
        })
    }

    /// The distinct tags of a flag set's flags (see `Flag.tags`), sorted:
    /// the options of the `flags` list's `tag` filter.
    #[graphql(complexity = "unpaged(child_complexity)")]
    async fn flag_tags(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        #[graphql(default = false)] include_archived: bool,
    ) -> async_graphql::Result<Vec<String>> {
        authorize(ctx, TokenRole::Viewer)?;
        admin(ctx)?
            .store
            .flag_tags(&flag_set, include_archived)
            .await
            .map_err(store_error)
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
}

/// Changing flags. Every mutation is one audited commit.
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
        let actor = authorize(ctx, CHANGE_FLAGS)?;
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

    /// Restores an archived flag: served again, with the definition and
    /// settings it had when it was archived; `expectedVersion` is the
    /// version read. A flag that is not archived is refused
    /// (`NOT_ARCHIVED`).
    async fn restore_flag(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        expected_version: i64,
    ) -> async_graphql::Result<FlagObject> {
        let change = FlagChange::Restore { expected_version };
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
}
