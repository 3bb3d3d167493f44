//! Dry runs of flag writes in the GraphQL API (viewer role, since nothing
//! is written): `validateFlag` and the `Diagnostic`s it answers, in the
//! shape of the `extensions.diagnostics` of a refused write.

use async_graphql::{Context, Json, Object, SimpleObject};
use serde_json::Value;

use super::cost::unpaged;
use super::error::store_error;
use super::schema::{admin, authorize};
use store::{Finding, TokenRole};

/// A finding of the engine's compiler, with the fields of the
/// `extensions.diagnostics` entries of an `INVALID_DEFINITION` error.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Diagnostic")]
pub struct DiagnosticObject {
    /// `error` (the flag cannot be evaluated as written) or `warning` (it
    /// violates flagd's schema, or it is the broken rule of a disabled
    /// flag).
    severity: String,
    /// The flag concerned, when the finding is about one flag.
    flag_key: Option<String>,
    /// Where, as a JSON pointer into the flag set's flagd document (`""`
    /// for the whole document), e.g. `/flags/banner/defaultVariant`.
    pointer: String,
    /// What is wrong.
    message: String,
    /// Whether the change introduces it. A write is refused when any
    /// finding is new; one the flag set already had (a row edited by hand)
    /// does not block it.
    new: bool,
}

impl From<Finding> for DiagnosticObject {
    fn from(finding: Finding) -> Self {
        let d = finding.diagnostic;
        DiagnosticObject {
            severity: d.severity.as_str().to_owned(),
            flag_key: d.flag_key,
            pointer: d.pointer,
            message: d.message,
            new: finding.new,
        }
    }
}

/// Checking a flag definition without writing it.
#[derive(Debug, Default)]
pub struct DiagnosticsQuery;

#[Object]
impl DiagnosticsQuery {
    /// A dry run of writing `definition` as flag `key` (in place of the
    /// flag, or as a new one): what the engine's compiler says about the
    /// flag set's document with it, without writing anything. Answers the
    /// findings about this flag and any other the change would introduce;
    /// the write would pass the compiler when none is `new`. The key and
    /// the definition are checked as a write checks them (`INVALID_KEY`,
    /// `INVALID_INPUT` for a definition that is not an object).
    #[graphql(complexity = "unpaged(child_complexity)")]
    async fn validate_flag(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        definition: Json<Value>,
    ) -> async_graphql::Result<Vec<DiagnosticObject>> {
        authorize(ctx, TokenRole::Viewer)?;
        let findings = admin(ctx)?
            .store
            .check_flag(&flag_set, key.as_str(), definition.0)
            .await
            .map_err(store_error)?;
        Ok(findings.into_iter().map(DiagnosticObject::from).collect())
    }
}
