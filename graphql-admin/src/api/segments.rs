//! Segments in the GraphQL API: shared rules of a flag set, which flags
//! use through `$ref`. Reading them needs a viewer, changing them an
//! editor; each change is one audited commit.

use async_graphql::{Context, Json, Object, SimpleObject};
use serde_json::Value;

use super::cost::unpaged;
use super::error::store_error;
use super::schema::{CHANGE_FLAGS, admin, authorize, time, writable};
use store::{Action, Commit, SegmentRecord, TokenRole};

/// A segment.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Segment")]
pub struct SegmentObject {
    flag_set: String,
    /// What flags name in `{"$ref": key}`.
    key: String,
    /// The JSONLogic rule.
    definition: Json<Value>,
    version: i64,
    updated_at: String,
}

impl From<SegmentRecord> for SegmentObject {
    fn from(r: SegmentRecord) -> Self {
        SegmentObject {
            flag_set: r.flag_set,
            key: r.key,
            definition: Json(r.definition),
            version: r.version,
            updated_at: time(r.updated_at),
        }
    }
}

/// Segment queries.
#[derive(Debug, Default)]
pub struct SegmentQuery;

#[Object]
impl SegmentQuery {
    /// A flag set's segments, by key.
    #[graphql(complexity = "unpaged(child_complexity)")]
    async fn segments(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
    ) -> async_graphql::Result<Vec<SegmentObject>> {
        authorize(ctx, TokenRole::Viewer)?;
        let segments = admin(ctx)?
            .store
            .segments(&flag_set)
            .await
            .map_err(store_error)?;
        Ok(segments.into_iter().map(SegmentObject::from).collect())
    }
}

/// Segment mutations.
#[derive(Debug, Default)]
pub struct SegmentMutation;

impl SegmentMutation {
    async fn change(
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        definition: Option<Value>,
        expected_version: Option<i64>,
    ) -> async_graphql::Result<SegmentObject> {
        let actor = authorize(ctx, CHANGE_FLAGS)?;
        writable(ctx, &flag_set)?;
        let admin = admin(ctx)?;
        // The action as the store audits it.
        let action = match (&definition, expected_version) {
            (None, _) => Action::Delete,
            (Some(_), None) => Action::Create,
            (Some(_), Some(_)) => Action::Update,
        };
        let segment = match definition {
            Some(definition) => {
                admin
                    .store
                    .write_segment(&actor, &flag_set, &key, definition, expected_version)
                    .await
            }
            None => {
                admin
                    .store
                    .delete_segment(&actor, &flag_set, &key, expected_version.unwrap_or(0))
                    .await
            }
        }
        .map_err(store_error)?;
        let _ = admin.commits.send(Commit {
            flag_set,
            flag: None,
            action,
            actor: actor.name,
        });
        Ok(segment.into())
    }
}

#[Object]
impl SegmentMutation {
    /// Creates a segment.
    async fn create_segment(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        definition: Json<Value>,
    ) -> async_graphql::Result<SegmentObject> {
        SegmentMutation::change(ctx, flag_set, key, Some(definition.0), None).await
    }

    /// Replaces a segment's rule; refused if a flag using it would no
    /// longer compile.
    async fn update_segment(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        expected_version: i64,
        definition: Json<Value>,
    ) -> async_graphql::Result<SegmentObject> {
        SegmentMutation::change(
            ctx,
            flag_set,
            key,
            Some(definition.0),
            Some(expected_version),
        )
        .await
    }

    /// Deletes a segment; refused while a flag refers to it.
    async fn delete_segment(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        expected_version: i64,
    ) -> async_graphql::Result<SegmentObject> {
        SegmentMutation::change(ctx, flag_set, key, None, Some(expected_version)).await
    }
}
