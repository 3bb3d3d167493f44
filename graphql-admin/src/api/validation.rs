//! Keeps queries that async-graphql's validation cannot handle away from
//! it.
//!
//! Validation assumes that every type a query names exists: a variable of
//! an unknown type with a list default value (`query($a: [Nope] = [1])`,
//! found by the request fuzz target) makes it panic instead of reporting
//! the unknown type. The extension here refuses, once the query is parsed,
//! variables whose type the schema does not have as an input type, and
//! runs validation under `catch_unwind` for whatever else might panic
//! there; both answers are invalid queries, with code `INVALID_QUERY`
//! ([`ApiError::UnknownVariableType`], [`ApiError::ValidationPanicked`]),
//! never failed requests. Every other parse or validation error gets that
//! code too, and an argument that cannot be read as its type
//! `INVALID_INPUT`, so that no refusal comes without a code.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{BaseType, ExecutableDocument};
use async_graphql::{Pos, Response, ServerError, ServerResult, ValidationResult, Variables};
use futures::FutureExt;

use super::error::{ApiError, INVALID_INPUT, INVALID_QUERY};

/// The schema extension that refuses variables of unknown types before
/// validation, and turns a panic during validation into a validation
/// error.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContainValidation;

impl ExtensionFactory for ContainValidation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ContainValidation)
    }
}

#[async_trait::async_trait]
impl Extension for ContainValidation {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next
            .run(ctx, query, variables)
            .await
            .map_err(invalid_query)?;
        let types = &ctx.schema_env.registry.types;
        for (_, operation) in document.operations.iter() {
            for variable in &operation.node.variable_definitions {
                let mut ty = &variable.node.var_type.node;
                let name = loop {
                    match &ty.base {
                        BaseType::Named(name) => break name,
                        BaseType::List(inner) => ty = inner,
                    }
                };
                if !types.get(name.as_str()).is_some_and(|t| t.is_input()) {
                    let refused = ApiError::UnknownVariableType {
                        variable: variable.node.name.node.to_string(),
                        type_name: name.to_string(),
                    };
                    return Err(refused.server_error(Some(variable.pos)));
                }
            }
        }
        Ok(document)
    }

    /// An error of a valid query that has no code is an argument whose
    /// value async-graphql could not read as its type (a negative `u32`,
    /// say): the request's input, refused with `INVALID_INPUT`.
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        for error in &mut response.errors {
            with_code(error, INVALID_INPUT);
        }
        response
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        match AssertUnwindSafe(next.run(ctx)).catch_unwind().await {
            Ok(result) => result.map_err(|errors| errors.into_iter().map(invalid_query).collect()),
            Err(_) => {
                tracing::warn!("A query failed validation with a panic; it is refused.");
                Err(vec![
                    ApiError::ValidationPanicked.server_error(Some(Pos::default())),
                ])
            }
        }
    }
}

/// A parse or validation error of async-graphql's own (a syntax error, an
/// unknown field, an argument or variable of the wrong type) with the code
/// every such refusal carries, `INVALID_QUERY`, where it has none.
fn invalid_query(mut error: ServerError) -> ServerError {
    with_code(&mut error, INVALID_QUERY);
    error
}

/// Gives `error` the code `code` when it has none.
fn with_code(error: &mut ServerError, code: &str) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
}
