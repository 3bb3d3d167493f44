//! Every error the admin API answers, each with its stable code and, when
//! it refuses a whole HTTP request, its status; the conversion of the
//! store's errors into them; and the one conversion of each protocol: into
//! a GraphQL error (`extensions.code`) and into an HTTP response (a
//! GraphQL-shaped body).
//!
//! A store failure (connection, query) is logged here, once, with its
//! cause; the answer says only that the store is unavailable.

use std::sync::Arc;

use async_graphql::{ErrorExtensionValues, Pos, ServerError};
use serde_json::{Value, json};
use warp::Reply;
use warp::http::StatusCode;

use super::cost::MAX_FIRST;
use super::cursor::CursorError;
use super::nesting::NestingError;
use super::routes::MAX_REQUEST_ID_BYTES;
use super::schema::{MAX_COMPLEXITY, MAX_DEPTH};
use engine::Diagnostic;
use store::KeyError;
use store::{StoreError, TokenRole};

/// The code of a query that does not parse or validate, async-graphql's
/// own findings included.
pub(super) const INVALID_QUERY: &str = "INVALID_QUERY";

/// The code of input that is not what an argument takes.
pub(super) const INVALID_INPUT: &str = "INVALID_INPUT";

/// An error the admin API answers.
///
/// It has no `Display` on purpose: async-graphql turns anything displayable
/// into an error without a code (so `?` would compile and drop the code);
/// without it, the only way into a GraphQL answer is
/// `From<ApiError> for async_graphql::Error`, which sets the code.
#[derive(Debug)]
pub enum ApiError {
    /// No `Authorization: Bearer` header, or an empty token.
    MissingToken,
    /// A token the store does not know, or a revoked one.
    UnknownToken,
    /// A socket's token, revoked since the socket authenticated.
    TokenRevoked,
    /// No authenticated caller: a socket that has not authenticated, or the
    /// schema without a store.
    NoCaller,
    /// An SDK key on the admin API.
    SdkKey,
    /// A token whose role does not allow the operation.
    RoleTooLow {
        /// The token's name.
        token: String,
        /// Its role.
        role: TokenRole,
        /// The role the operation needs.
        needed: TokenRole,
    },
    /// A write to a flag set that a `--uri` source serves.
    ReadOnly {
        /// The flag set.
        flag_set: String,
        /// The source serving it.
        served_by: String,
    },
    /// An `X-Request-Id` that is empty, too long or not visible ASCII.
    InvalidRequestId {
        /// Its length in bytes.
        len: usize,
    },
    /// No route for the path.
    RouteNotFound,
    /// A route exists, but not for the method.
    MethodNotAllowed,
    /// A body that is not JSON.
    UnsupportedMediaType,
    /// A body over the limit ([`super::MAX_BODY_BYTES`]).
    PayloadTooLarge,
    /// A request that is not a GraphQL request.
    NotGraphQl,
    /// A body that could not be read as a GraphQL request.
    BadRequest {
        /// The reader's explanation.
        details: String,
    },
    /// A body whose variables nest deeper than serde_json reads.
    VariablesTooDeep {
        /// The reader's explanation.
        details: String,
    },
    /// A query text refused by the nesting check, before it is parsed.
    NestingTooDeep {
        /// Which bound it exceeds.
        error: NestingError,
    },
    /// A variable whose type is not an input type of the schema.
    UnknownVariableType {
        /// The variable's name, without `$`.
        variable: String,
        /// The type it names.
        type_name: String,
    },
    /// A query whose validation panicked.
    ValidationPanicked,
    /// A query deeper than [`MAX_DEPTH`].
    TooDeep {
        /// Its depth.
        depth: usize,
    },
    /// A query more complex than [`MAX_COMPLEXITY`].
    TooComplex {
        /// Its complexity.
        complexity: usize,
    },
    /// A page size outside 1 to [`MAX_FIRST`].
    InvalidPageSize {
        /// The size asked for.
        first: u64,
    },
    /// A time that is not RFC 3339.
    InvalidTime {
        /// The text sent.
        text: String,
        /// Why it does not parse.
        error: time::error::Parse,
    },
    /// A stored flag set that cannot be read as a flag file (edited by hand).
    InvalidDocument {
        /// Why.
        error: engine::model::ParseError,
    },
    /// A handler panicked; the panic is logged where it is caught.
    Internal,
    /// This node runs no analysis (a server built without one).
    AnalysisUnavailable,
    /// The analysis of an experiment could not run; the cause is logged.
    AnalysisFailed {
        /// The experiment.
        key: String,
        /// Why, in words the caller can act on.
        reason: String,
    },
    /// The store cannot be reached, or a query failed; nothing was
    /// written. The cause is logged when the store's error is converted.
    StoreUnavailable,
    /// No flag set with this key.
    FlagSetNotFound {
        /// The key asked for.
        key: String,
    },
    /// No flag with this key in the flag set.
    FlagNotFound {
        /// The flag set.
        flag_set: String,
        /// The key asked for.
        key: String,
    },
    /// No segment with this key in the flag set.
    SegmentNotFound {
        /// The flag set.
        flag_set: String,
        /// The key asked for.
        key: String,
    },
    /// No experiment with this key in the flag set.
    ExperimentNotFound {
        /// The flag set.
        flag_set: String,
        /// The key asked for.
        key: String,
    },
    /// No version of the flag with this number.
    VersionNotFound {
        /// The flag key.
        key: String,
        /// The version asked for.
        version: i64,
    },
    /// No rollout with this id.
    RolloutNotFound {
        /// The id asked for.
        id: i64,
    },
    /// Creating something whose key is taken.
    AlreadyExists {
        /// "flag set", "flag", ...
        kind: &'static str,
        /// The key.
        key: String,
    },
    /// Restoring a flag that is not archived.
    NotArchived {
        /// The flag set.
        flag_set: String,
        /// The flag key.
        key: String,
    },
    /// A write naming a version that is no longer current.
    VersionConflict {
        /// "flag", "segment", "flag set" or "experiment".
        kind: &'static str,
        /// Its key.
        key: String,
        /// The version the write named.
        expected: i64,
        /// The current version.
        actual: i64,
    },
    /// A definition that does not compile or violates flagd's schema.
    InvalidDefinition {
        /// The flag, segment or flag set key.
        key: String,
        /// What the compiler found (sent as `extensions.diagnostics`).
        diagnostics: Vec<Diagnostic>,
    },
    /// A flag or segment key that the store-key rule refuses.
    InvalidKey {
        /// "flag key" or "segment key".
        what: &'static str,
        /// The key.
        key: String,
        /// What is wrong with it.
        error: KeyError,
    },
    /// A segment that refers to a segment.
    SegmentRef {
        /// The segment key.
        key: String,
        /// Where each `$ref` is (sent as `extensions.diagnostics`).
        diagnostics: Vec<Diagnostic>,
    },
    /// A `fractional` weight, or the sum of one rule's weights, above what
    /// the evaluator accepts.
    WeightTooLarge {
        /// The rollout step (from 1), when scheduling a rollout.
        step: Option<usize>,
        /// The variant whose weight is too large; `None` for the sum.
        variant: Option<String>,
        /// The weight, or the sum.
        weight: u64,
        /// The cap.
        max: u64,
    },
    /// An `after` that is not a cursor of the list asked for.
    InvalidCursor {
        /// Why.
        error: CursorError,
    },
    /// A key, name or role that cannot be used.
    InvalidInput {
        /// What was wrong ("flag key", "role", ...).
        what: &'static str,
        /// Why.
        reason: String,
    },
}

impl ApiError {
    /// The stable, machine-readable code (`extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MissingToken
            | ApiError::UnknownToken
            | ApiError::TokenRevoked
            | ApiError::NoCaller => "UNAUTHENTICATED",
            ApiError::SdkKey | ApiError::RoleTooLow { .. } => "FORBIDDEN",
            ApiError::ReadOnly { .. } => "READ_ONLY",
            ApiError::InvalidRequestId { .. } => "INVALID_REQUEST_ID",
            ApiError::RouteNotFound => "NOT_FOUND",
            ApiError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ApiError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ApiError::NotGraphQl | ApiError::BadRequest { .. } => "BAD_REQUEST",
            ApiError::VariablesTooDeep { .. } | ApiError::NestingTooDeep { .. } => {
                "NESTING_TOO_DEEP"
            }
            ApiError::UnknownVariableType { .. } | ApiError::ValidationPanicked => INVALID_QUERY,
            ApiError::TooDeep { .. } => "TOO_DEEP",
            ApiError::TooComplex { .. } => "TOO_COMPLEX",
            ApiError::InvalidPageSize { .. } => "INVALID_PAGE_SIZE",
            ApiError::InvalidTime { .. }
            | ApiError::InvalidCursor { .. }
            | ApiError::InvalidInput { .. } => INVALID_INPUT,
            ApiError::InvalidDocument { .. } | ApiError::InvalidDefinition { .. } => {
                "INVALID_DEFINITION"
            }
            ApiError::Internal => "INTERNAL",
            ApiError::AnalysisUnavailable => "ANALYSIS_UNAVAILABLE",
            ApiError::AnalysisFailed { .. } => "ANALYSIS_FAILED",
            ApiError::StoreUnavailable => "STORE_UNAVAILABLE",
            ApiError::FlagSetNotFound { .. } => "FLAG_SET_NOT_FOUND",
            ApiError::FlagNotFound { .. } => "FLAG_NOT_FOUND",
            ApiError::SegmentNotFound { .. } => "SEGMENT_NOT_FOUND",
            ApiError::ExperimentNotFound { .. } => "EXPERIMENT_NOT_FOUND",
            ApiError::VersionNotFound { .. } => "VERSION_NOT_FOUND",
            ApiError::RolloutNotFound { .. } => "ROLLOUT_NOT_FOUND",
            ApiError::AlreadyExists { .. } => "ALREADY_EXISTS",
            ApiError::NotArchived { .. } => "NOT_ARCHIVED",
            ApiError::VersionConflict { .. } => "VERSION_CONFLICT",
            ApiError::InvalidKey { .. } => "INVALID_KEY",
            ApiError::SegmentRef { .. } => "SEGMENT_REF",
            ApiError::WeightTooLarge { .. } => "WEIGHT_TOO_LARGE",
        }
    }

    /// The HTTP status of a request this error refuses as a whole, before
    /// (or instead of) executing it; `None` for an error answered only
    /// inside a GraphQL result, whose status is 200.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::MissingToken | ApiError::UnknownToken => Some(StatusCode::UNAUTHORIZED),
            ApiError::SdkKey => Some(StatusCode::FORBIDDEN),
            ApiError::InvalidRequestId { .. }
            | ApiError::NotGraphQl
            | ApiError::BadRequest { .. }
            | ApiError::VariablesTooDeep { .. }
            | ApiError::NestingTooDeep { .. } => Some(StatusCode::BAD_REQUEST),
            ApiError::RouteNotFound => Some(StatusCode::NOT_FOUND),
            ApiError::MethodNotAllowed => Some(StatusCode::METHOD_NOT_ALLOWED),
            ApiError::UnsupportedMediaType => Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ApiError::PayloadTooLarge => Some(StatusCode::PAYLOAD_TOO_LARGE),
            ApiError::Internal => Some(StatusCode::INTERNAL_SERVER_ERROR),
            ApiError::StoreUnavailable => Some(StatusCode::SERVICE_UNAVAILABLE),
            ApiError::TokenRevoked
            | ApiError::NoCaller
            | ApiError::RoleTooLow { .. }
            | ApiError::ReadOnly { .. }
            | ApiError::UnknownVariableType { .. }
            | ApiError::ValidationPanicked
            | ApiError::TooDeep { .. }
            | ApiError::TooComplex { .. }
            | ApiError::InvalidPageSize { .. }
            | ApiError::InvalidTime { .. }
            | ApiError::InvalidDocument { .. }
            | ApiError::FlagSetNotFound { .. }
            | ApiError::FlagNotFound { .. }
            | ApiError::SegmentNotFound { .. }
            | ApiError::ExperimentNotFound { .. }
            | ApiError::VersionNotFound { .. }
            | ApiError::RolloutNotFound { .. }
            | ApiError::AlreadyExists { .. }
            | ApiError::NotArchived { .. }
            | ApiError::VersionConflict { .. }
            | ApiError::InvalidDefinition { .. }
            | ApiError::InvalidKey { .. }
            | ApiError::SegmentRef { .. }
            | ApiError::WeightTooLarge { .. }
            | ApiError::InvalidCursor { .. }
            | ApiError::InvalidInput { .. }
            | ApiError::AnalysisUnavailable
            | ApiError::AnalysisFailed { .. } => None,
        }
    }

    /// The message answered with the code.
    pub fn message(&self) -> String {
        match self {
            ApiError::MissingToken => {
                "an admin token is required: Authorization: Bearer <token>".into()
            }
            ApiError::UnknownToken => "the token is unknown or revoked".into(),
            ApiError::TokenRevoked => "the token was revoked".into(),
            ApiError::NoCaller => "authentication required".into(),
            ApiError::SdkKey => {
                "SDK keys evaluate flags; the admin API needs an admin token".into()
            }
            ApiError::RoleTooLow {
                token,
                role,
                needed,
            } => format!("token {token:?} has role {role}, this needs {needed}"),
            ApiError::ReadOnly {
                flag_set,
                served_by,
            } => format!("flag set {flag_set:?} is served from {served_by} and is read-only here"),
            ApiError::InvalidRequestId { len } => format!(
                "X-Request-Id must be 1 to {MAX_REQUEST_ID_BYTES} visible ASCII characters \
                 (got {len} bytes)"
            ),
            ApiError::RouteNotFound => "no such route".into(),
            ApiError::MethodNotAllowed => "use POST, or a WebSocket for subscriptions".into(),
            ApiError::UnsupportedMediaType => "send application/json".into(),
            ApiError::PayloadTooLarge => "the request body is larger than 1 MiB".into(),
            ApiError::NotGraphQl => "the request is not a GraphQL request".into(),
            ApiError::BadRequest { details } | ApiError::VariablesTooDeep { details } => {
                details.clone()
            }
            ApiError::NestingTooDeep { error } => error.to_string(),
            ApiError::UnknownVariableType {
                variable,
                type_name,
            } => format!(
                "variable ${variable} has type {type_name}, which is not an input type of this schema"
            ),
            ApiError::ValidationPanicked => {
                "the query cannot be validated: it names a type the schema does not have".into()
            }
            ApiError::TooDeep { depth } => {
                format!("the query is nested too deep: depth {depth}, at most {MAX_DEPTH}")
            }
            ApiError::TooComplex { complexity } => format!(
                "the query is too complex: complexity {complexity}, at most {MAX_COMPLEXITY} \
                 (each list counts once per item it may return: ask for smaller pages)"
            ),
            ApiError::InvalidPageSize { first } => {
                format!("first must be 1 to {MAX_FIRST}, not {first}")
            }
            ApiError::InvalidTime { text, error } => {
                format!("{text:?} is not an RFC 3339 time: {error}")
            }
            ApiError::InvalidDocument { error } => error.to_string(),
            ApiError::Internal => "the request failed".into(),
            ApiError::AnalysisUnavailable => "this node runs no experiment analysis".into(),
            ApiError::AnalysisFailed { key, reason } => {
                format!("the analysis of experiment {key:?} failed: {reason}")
            }
            ApiError::StoreUnavailable => "the store is unavailable; nothing was written".into(),
            ApiError::FlagSetNotFound { key } => format!("flag set {key:?} not found"),
            ApiError::FlagNotFound { flag_set, key } => {
                format!("flag {key:?} not found in flag set {flag_set:?}")
            }
            ApiError::SegmentNotFound { flag_set, key } => {
                format!("segment {key:?} not found in flag set {flag_set:?}")
            }
            ApiError::ExperimentNotFound { flag_set, key } => {
                format!("experiment {key:?} not found in flag set {flag_set:?}")
            }
            ApiError::VersionNotFound { key, version } => {
                format!("flag {key:?} has no version {version}")
            }
            ApiError::RolloutNotFound { id } => format!("rollout {id} not found"),
            ApiError::AlreadyExists { kind, key } => format!("{kind} {key:?} already exists"),
            ApiError::NotArchived { flag_set, key } => format!(
                "flag {key:?} in flag set {flag_set:?} is not archived: only an archived flag \
                 can be restored"
            ),
            ApiError::VersionConflict {
                kind,
                key,
                expected,
                actual,
            } => {
                format!(
                    "{kind} {key:?} is at version {actual}, not {expected}: reload it and retry"
                )
            }
            ApiError::InvalidDefinition { key, diagnostics } => format!(
                "invalid definition of {key:?}: {}",
                first_message(diagnostics)
            ),
            ApiError::InvalidKey { what, key, error } => {
                format!("invalid {what} {key:?}: it {error}")
            }
            ApiError::SegmentRef { key, diagnostics } => format!(
                "segment {key:?} may not refer to another segment: {}",
                first_message(diagnostics)
            ),
            ApiError::WeightTooLarge {
                step,
                variant,
                weight,
                max,
            } => {
                let step = step.map(|n| format!("step {n}: ")).unwrap_or_default();
                let weight = match variant {
                    Some(variant) => format!("the weight {weight} of variant {variant:?}"),
                    None => format!("the sum of the weights, {weight},"),
                };
                format!("{step}{weight} is above {max}, the largest weight the evaluator accepts")
            }
            ApiError::InvalidCursor { error } => format!("invalid cursor: {error}"),
            ApiError::InvalidInput { what, reason } => format!("invalid {what}: {reason}"),
        }
    }

    /// The compiler's findings, answered as `extensions.diagnostics`.
    fn diagnostics(&self) -> Option<&[Diagnostic]> {
        match self {
            ApiError::InvalidDefinition { diagnostics, .. }
            | ApiError::SegmentRef { diagnostics, .. } => Some(diagnostics),
            _ => None,
        }
    }

    /// The error as a GraphQL server error (what schema extensions
    /// return), at `pos` in the query if it has one.
    pub fn server_error(self, pos: Option<Pos>) -> ServerError {
        let mut error = async_graphql::Error::from(self).into_server_error(Pos::default());
        error.locations = pos.into_iter().collect();
        error
    }
}

/// The GraphQL conversion: the message, `extensions.code`, and the
/// compiler's diagnostics where there are some. The error itself stays
/// readable as the GraphQL error's source.
impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> async_graphql::Error {
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", error.code());
        if let Some(diagnostics) = error.diagnostics() {
            let details: Vec<Value> = diagnostics
                .iter()
                .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
                .collect();
            if let Ok(value) = async_graphql::Value::from_json(Value::Array(details)) {
                extensions.set("diagnostics", value);
            }
        }
        async_graphql::Error {
            message: error.message(),
            source: Some(Arc::new(error)),
            extensions: Some(extensions),
        }
    }
}

/// The HTTP conversion: the status, and a GraphQL-shaped body with the
/// message and code (200, as any GraphQL answer, for an error without a
/// status of its own).
impl Reply for ApiError {
    fn into_response(self) -> warp::reply::Response {
        let status = self.status().unwrap_or(StatusCode::OK);
        let body =
            json!({"errors": [{"message": self.message(), "extensions": {"code": self.code()}}]});
        warp::reply::with_status(warp::reply::json(&body), status).into_response()
    }
}

/// The store's errors as the API answers them. A store failure is logged
/// here with its cause, and answered without detail.
impl From<&StoreError> for ApiError {
    fn from(error: &StoreError) -> ApiError {
        match error {
            StoreError::Connect { .. } | StoreError::Database(_) | StoreError::Migrate(_) => {
                tracing::error!(error = %error, cause = ?std::error::Error::source(error), "Store failure in the admin API.");
                ApiError::StoreUnavailable
            }
            StoreError::FlagSetNotFound { key } => ApiError::FlagSetNotFound { key: key.clone() },
            StoreError::FlagNotFound { flag_set, key } => ApiError::FlagNotFound {
                flag_set: flag_set.clone(),
                key: key.clone(),
            },
            StoreError::SegmentNotFound { flag_set, key } => ApiError::SegmentNotFound {
                flag_set: flag_set.clone(),
                key: key.clone(),
            },
            StoreError::ExperimentNotFound { flag_set, key } => ApiError::ExperimentNotFound {
                flag_set: flag_set.clone(),
                key: key.clone(),
            },
            StoreError::VersionNotFound { key, version } => ApiError::VersionNotFound {
                key: key.clone(),
                version: *version,
            },
            StoreError::RolloutNotFound { id } => ApiError::RolloutNotFound { id: *id },
            StoreError::AlreadyExists { kind, key } => ApiError::AlreadyExists {
                kind,
                key: key.clone(),
            },
            StoreError::NotArchived { flag_set, key } => ApiError::NotArchived {
                flag_set: flag_set.clone(),
                key: key.clone(),
            },
            StoreError::Conflict {
                kind,
                key,
                expected,
                actual,
            } => ApiError::VersionConflict {
                kind,
                key: key.clone(),
                expected: *expected,
                actual: *actual,
            },
            StoreError::Invalid { key, diagnostics } => ApiError::InvalidDefinition {
                key: key.clone(),
                diagnostics: diagnostics.clone(),
            },
            StoreError::InvalidKey { what, key, source } => ApiError::InvalidKey {
                what,
                key: key.clone(),
                error: source.clone(),
            },
            StoreError::SegmentRef { key, diagnostics } => ApiError::SegmentRef {
                key: key.clone(),
                diagnostics: diagnostics.clone(),
            },
            StoreError::WeightTooLarge {
                step,
                variant,
                weight,
                max,
            } => ApiError::WeightTooLarge {
                step: *step,
                variant: variant.clone(),
                weight: *weight,
                max: *max,
            },
            StoreError::InvalidInput { what, reason } => ApiError::InvalidInput {
                what,
                reason: reason.clone(),
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        ApiError::from(&error)
    }
}

/// A store error as a GraphQL error (for `map_err` in resolvers).
pub(super) fn store_error(error: StoreError) -> async_graphql::Error {
    store_error_ref(&error)
}

/// [`store_error`] of a shared error (the history loader's).
pub(super) fn store_error_ref(error: &StoreError) -> async_graphql::Error {
    ApiError::from(error).into()
}

fn first_message(diagnostics: &[Diagnostic]) -> String {
    match diagnostics {
        [] => "no diagnostics".into(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks an error's code and the status it refuses a request with.
    #[track_caller]
    fn check(error: ApiError, code: &str, status: Option<u16>) {
        let message = error.message();
        assert_eq!(
            (error.code(), error.status().map(|s| s.as_u16())),
            (code, status),
            "{message}"
        );
    }

    fn diagnostic(message: &str) -> Diagnostic {
        Diagnostic {
            severity: engine::Severity::Error,
            flag_key: Some("banner".into()),
            pointer: "/targeting".into(),
            message: message.into(),
        }
    }

    #[test]
    fn every_error_has_its_code_and_status() {
        let parse_error = time::OffsetDateTime::parse(
            "yesterday",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap_err();
        check(ApiError::MissingToken, "UNAUTHENTICATED", Some(401));
        check(ApiError::UnknownToken, "UNAUTHENTICATED", Some(401));
        check(ApiError::TokenRevoked, "UNAUTHENTICATED", None);
        check(ApiError::NoCaller, "UNAUTHENTICATED", None);
        check(ApiError::SdkKey, "FORBIDDEN", Some(403));
        let role_too_low = ApiError::RoleTooLow {
            token: "ci".into(),
            role: TokenRole::Viewer,
            needed: TokenRole::Editor,
        };
        check(role_too_low, "FORBIDDEN", None);
        let read_only = ApiError::ReadOnly {
            flag_set: "production".into(),
            served_by: "file:flags.json".into(),
        };
        check(read_only, "READ_ONLY", None);
        check(
            ApiError::InvalidRequestId { len: 0 },
            "INVALID_REQUEST_ID",
            Some(400),
        );
        check(ApiError::RouteNotFound, "NOT_FOUND", Some(404));
        check(ApiError::MethodNotAllowed, "METHOD_NOT_ALLOWED", Some(405));
        check(
            ApiError::UnsupportedMediaType,
            "UNSUPPORTED_MEDIA_TYPE",
            Some(415),
        );
        check(ApiError::PayloadTooLarge, "PAYLOAD_TOO_LARGE", Some(413));
        check(ApiError::NotGraphQl, "BAD_REQUEST", Some(400));
        let details = String::from("expected value at line 1 column 1");
        check(ApiError::BadRequest { details }, "BAD_REQUEST", Some(400));
        let details = String::from("recursion limit exceeded");
        check(
            ApiError::VariablesTooDeep { details },
            "NESTING_TOO_DEEP",
            Some(400),
        );
        let error = NestingError::QueryTooDeep { limit: 159 };
        check(
            ApiError::NestingTooDeep { error },
            "NESTING_TOO_DEEP",
            Some(400),
        );
        let unknown = ApiError::UnknownVariableType {
            variable: "a".into(),
            type_name: "Nope".into(),
        };
        check(unknown, "INVALID_QUERY", None);
        check(ApiError::ValidationPanicked, "INVALID_QUERY", None);
        check(ApiError::TooDeep { depth: 11 }, "TOO_DEEP", None);
        check(
            ApiError::TooComplex { complexity: 2001 },
            "TOO_COMPLEX",
            None,
        );
        check(
            ApiError::InvalidPageSize { first: 0 },
            "INVALID_PAGE_SIZE",
            None,
        );
        let text = String::from("yesterday");
        let time = ApiError::InvalidTime {
            text,
            error: parse_error,
        };
        check(time, "INVALID_INPUT", None);
        let error = engine::model::from_value(json!([])).unwrap_err();
        check(
            ApiError::InvalidDocument { error },
            "INVALID_DEFINITION",
            None,
        );
        check(ApiError::Internal, "INTERNAL", Some(500));
        check(ApiError::AnalysisUnavailable, "ANALYSIS_UNAVAILABLE", None);
        check(
            ApiError::AnalysisFailed {
                key: "checkout-test".into(),
                reason: "no weights".into(),
            },
            "ANALYSIS_FAILED",
            None,
        );
        check(ApiError::StoreUnavailable, "STORE_UNAVAILABLE", Some(503));
        let key = || String::from("banner");
        check(
            ApiError::FlagSetNotFound { key: key() },
            "FLAG_SET_NOT_FOUND",
            None,
        );
        let flag_set = || String::from("production");
        let flag = ApiError::FlagNotFound {
            flag_set: flag_set(),
            key: key(),
        };
        check(flag, "FLAG_NOT_FOUND", None);
        let segment = ApiError::SegmentNotFound {
            flag_set: flag_set(),
            key: key(),
        };
        check(segment, "SEGMENT_NOT_FOUND", None);
        let experiment = ApiError::ExperimentNotFound {
            flag_set: flag_set(),
            key: key(),
        };
        check(experiment, "EXPERIMENT_NOT_FOUND", None);
        let version = ApiError::VersionNotFound {
            key: key(),
            version: 9,
        };
        check(version, "VERSION_NOT_FOUND", None);
        check(
            ApiError::RolloutNotFound { id: 7 },
            "ROLLOUT_NOT_FOUND",
            None,
        );
        let exists = ApiError::AlreadyExists {
            kind: "flag",
            key: key(),
        };
        check(exists, "ALREADY_EXISTS", None);
        let not_archived = ApiError::NotArchived {
            flag_set: flag_set(),
            key: key(),
        };
        check(not_archived, "NOT_ARCHIVED", None);
        let conflict = ApiError::VersionConflict {
            kind: "flag",
            key: key(),
            expected: 1,
            actual: 2,
        };
        check(conflict, "VERSION_CONFLICT", None);
        let invalid = ApiError::InvalidDefinition {
            key: key(),
            diagnostics: vec![diagnostic("no variants")],
        };
        check(invalid, "INVALID_DEFINITION", None);
        let invalid_key = ApiError::InvalidKey {
            what: "flag key",
            key: key(),
            error: engine::flag_key::check_store_key("").unwrap_err().into(),
        };
        check(invalid_key, "INVALID_KEY", None);
        let segment_ref = ApiError::SegmentRef {
            key: key(),
            diagnostics: vec![diagnostic("a $ref")],
        };
        check(segment_ref, "SEGMENT_REF", None);
        let weight = ApiError::WeightTooLarge {
            step: None,
            variant: None,
            weight: u64::MAX,
            max: 1,
        };
        check(weight, "WEIGHT_TOO_LARGE", None);
        let input = ApiError::InvalidInput {
            what: "role",
            reason: "unknown".into(),
        };
        check(input, "INVALID_INPUT", None);
        let cursor = ApiError::InvalidCursor {
            error: CursorError::Garbled,
        };
        check(cursor, "INVALID_INPUT", None);
    }

    /// Every store error keeps the store's message and code through the
    /// conversion, so the API's answers are the store's words.
    #[test]
    fn store_errors_keep_their_message_and_code() {
        let diagnostics = || vec![diagnostic("no variants"), diagnostic("no default")];
        let errors = [
            StoreError::Database(sea_orm::DbErr::Custom("gone".into())),
            StoreError::FlagSetNotFound {
                key: "production".into(),
            },
            StoreError::FlagNotFound {
                flag_set: "production".into(),
                key: "banner".into(),
            },
            StoreError::SegmentNotFound {
                flag_set: "production".into(),
                key: "staff".into(),
            },
            StoreError::ExperimentNotFound {
                flag_set: "production".into(),
                key: "checkout-test".into(),
            },
            StoreError::VersionNotFound {
                key: "banner".into(),
                version: 3,
            },
            StoreError::RolloutNotFound { id: 4 },
            StoreError::AlreadyExists {
                kind: "flag set",
                key: "production".into(),
            },
            StoreError::NotArchived {
                flag_set: "production".into(),
                key: "banner".into(),
            },
            StoreError::Conflict {
                kind: "flag",
                key: "banner".into(),
                expected: 1,
                actual: 2,
            },
            StoreError::Invalid {
                key: "banner".into(),
                diagnostics: diagnostics(),
            },
            StoreError::InvalidKey {
                what: "segment key",
                key: " staff".into(),
                source: engine::flag_key::check_store_key(" staff")
                    .unwrap_err()
                    .into(),
            },
            StoreError::SegmentRef {
                key: "staff".into(),
                diagnostics: diagnostics()[..1].to_vec(),
            },
            StoreError::WeightTooLarge {
                step: Some(2),
                variant: Some("on".into()),
                weight: 5,
                max: 4,
            },
            StoreError::WeightTooLarge {
                step: None,
                variant: None,
                weight: 9,
                max: 4,
            },
            StoreError::InvalidInput {
                what: "role",
                reason: "\"owner\" is not a role".into(),
            },
        ];
        for error in errors {
            let answered = ApiError::from(&error);
            assert_eq!(answered.code(), error.code(), "{error}");
            if matches!(answered, ApiError::StoreUnavailable) {
                // Nothing internal is answered.
                assert!(!answered.message().contains("gone"));
            } else {
                assert_eq!(answered.message(), error.to_string());
            }
        }
    }

    #[test]
    fn graphql_errors_carry_their_code_and_diagnostics() {
        let error = async_graphql::Error::from(ApiError::SegmentRef {
            key: "staff".into(),
            diagnostics: vec![diagnostic("a $ref")],
        });
        let answered = serde_json::to_value(error.into_server_error(Pos::default())).unwrap();
        assert_eq!(answered["extensions"]["code"], "SEGMENT_REF");
        assert_eq!(
            answered["extensions"]["diagnostics"][0]["message"],
            "a $ref"
        );
        let refused = ApiError::TooDeep { depth: 11 }.server_error(None);
        assert!(refused.locations.is_empty());
        assert!(matches!(
            refused.source::<ApiError>(),
            Some(ApiError::TooDeep { depth: 11 })
        ));
    }

    #[test]
    fn http_refusals_carry_their_status_and_code() {
        let response = ApiError::PayloadTooLarge.into_response();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let response = ApiError::FlagSetNotFound { key: "x".into() }.into_response();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
