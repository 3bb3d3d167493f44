//! The evaluation debugger in the GraphQL API (viewer role): a stored
//! flag evaluated for a context by the engine, with its decision path.

use async_graphql::{Context, Json, Object, SimpleObject};
use serde_json::{Map, Value};

use super::error::{ApiError, store_error};
use super::schema::{admin, authorize};
use store::TokenRole;

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

/// The evaluation debugger.
#[derive(Debug, Default)]
pub struct EvaluationQuery;

#[Object]
impl EvaluationQuery {
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
            .map_err(|error| ApiError::InvalidDocument { error })?;
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
