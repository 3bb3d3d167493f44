//! Flag sets in the GraphQL API: listing them (viewer) and creating them
//! (admin), and their flag files: exporting one (viewer) and importing one
//! as one commit (editor).

use async_graphql::{Context, Json, Object, SimpleObject};
use serde_json::{Map, Value};

use super::cost::unpaged;
use super::error::store_error;
use super::schema::{
    ADMINISTER, CHANGE_FLAGS, ReadOnlySet, ReadOnlySets, admin, authorize, time, writable,
};
use store::{Action, Commit, FlagSetRecord, NewFlagSet, TokenRole};

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

/// Reading flag sets.
#[derive(Debug, Default)]
pub struct FlagSetQuery;

#[Object]
impl FlagSetQuery {
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
}

/// Creating flag sets.
#[derive(Debug, Default)]
pub struct FlagSetMutation;

#[Object]
impl FlagSetMutation {
    /// Creates a flag set (admin role).
    async fn create_flag_set(
        &self,
        ctx: &Context<'_>,
        key: String,
        #[graphql(default)] name: String,
        fractional: Option<String>,
    ) -> async_graphql::Result<FlagSetObject> {
        let actor = authorize(ctx, ADMINISTER)?;
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
}

/// Exporting a flag set as a flagd flag file.
#[derive(Debug, Default)]
pub struct FlagFileQuery;

#[Object]
impl FlagFileQuery {
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
}

/// Importing a flagd flag file into a flag set.
#[derive(Debug, Default)]
pub struct FlagFileMutation;

#[Object]
impl FlagFileMutation {
    /// Imports a flagd flag file into a flag set, as one commit. Returns
    /// the flag set's version after it.
    async fn import_flag_set(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        file: Json<Value>,
    ) -> async_graphql::Result<i64> {
        let actor = authorize(ctx, CHANGE_FLAGS)?;
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
}
