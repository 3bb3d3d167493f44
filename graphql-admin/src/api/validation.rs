//! Contains panics of async-graphql's query validation.
//!
//! Validation assumes that every type a query names exists: a variable of
//! an unknown type with a list default value (`query($a: [Nope] = [1])`, found
//! by the request fuzz target) makes it panic instead of reporting the
//! unknown type. The extension here runs validation under `catch_unwind`
//! and answers such a query as invalid, with code [`INVALID_QUERY`], so
//! that it never reaches the connection's panic handling.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::{Pos, ServerError, ValidationResult};
use futures::FutureExt;

/// The stable code of a query that validation could not check.
pub const INVALID_QUERY: &str = "INVALID_QUERY";

/// The schema extension that turns a panic during validation into a
/// validation error.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContainValidation;

impl ExtensionFactory for ContainValidation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ContainValidation)
    }
}

#[async_trait::async_trait]
impl Extension for ContainValidation {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        match AssertUnwindSafe(next.run(ctx)).catch_unwind().await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!("A query failed validation with a panic; it is refused.");
                let error = super::schema::coded(
                    "the query cannot be validated: it names a type the schema does not have",
                    INVALID_QUERY,
                );
                Err(vec![error.into_server_error(Pos::default())])
            }
        }
    }
}
