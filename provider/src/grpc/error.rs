//! Why a gRPC call fails, and the one place such a failure becomes a gRPC
//! status.
//!
//! Codes and messages are flagd's (`errFormat` in its evaluation service,
//! the readable messages of `core/pkg/model/error.go`, and the selector
//! check of `core/pkg/store`): its providers map `NOT_FOUND` to
//! FLAG_NOT_FOUND, `INVALID_ARGUMENT` to TYPE_MISMATCH, `DATA_LOSS` to
//! PARSE_ERROR and anything else to GENERAL. The detailed cause stays in the
//! server's logs.

use std::time::Duration;

use tonic::{Code, Status};

use engine::{ErrorCode, EvalError};

use crate::server::admission::Refusal;

/// A failed gRPC call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrpcError {
    /// No flag has the key (under the selector).
    #[error("flag {key:?} not found")]
    FlagNotFound {
        /// The requested key.
        key: String,
    },
    /// The flag has no default variant and none was chosen. flagd's v1
    /// protocol reports this as FLAG_NOT_FOUND; v2 answers with reason
    /// DEFAULT instead.
    #[error("flag {key:?} has no default variant")]
    NoDefaultVariant {
        /// The requested key.
        key: String,
    },
    /// The flag's value is not of the requested type.
    #[error("{detail}")]
    TypeMismatch {
        /// The requested key.
        key: String,
        /// The engine's explanation.
        detail: String,
    },
    /// The flag's definition did not compile.
    #[error("{detail}")]
    ParseError {
        /// The requested key.
        key: String,
        /// The engine's explanation.
        detail: String,
    },
    /// The targeting rule chose something that is not a variant.
    #[error("{detail}")]
    General {
        /// The requested key.
        key: String,
        /// The engine's explanation.
        detail: String,
    },
    /// An error code flagd has no status for (it passes the code through as
    /// `UNKNOWN`).
    #[error("{detail}")]
    Unmapped {
        /// The requested key.
        key: String,
        /// The OpenFeature error code.
        code: ErrorCode,
        /// The engine's explanation.
        detail: String,
    },
    /// The request's context cannot be used (it nests too deeply).
    #[error("{detail}")]
    InvalidContext {
        /// What is wrong with it.
        detail: String,
    },
    /// The selector names something other than `flagSetId` or `source`.
    #[error("invalid selector key {key:?}, valid keys: \"flagSetId\", \"source\"")]
    InvalidSelector {
        /// The selector's key (before `=`).
        key: String,
    },
    /// Keys are in use and the call carried none, or an unknown one
    /// (`authorization: Bearer …` or `x-api-key` metadata).
    #[error("a valid API key or SDK key is required")]
    Unauthenticated,
    /// The key does not allow this: a selector outside its flag set, or a
    /// client key asking to sync.
    #[error("{reason}")]
    Forbidden {
        /// Why.
        reason: String,
    },
    /// The caller's rate limit was hit.
    #[error("rate limit exceeded; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited {
        /// When a retry may succeed.
        retry_after: Duration,
    },
}

impl GrpcError {
    /// The error of a failed evaluation of `key`.
    pub(crate) fn evaluation(key: &str, error: EvalError) -> GrpcError {
        let key = key.to_owned();
        let detail = error.message;
        match error.code {
            ErrorCode::FlagNotFound => GrpcError::FlagNotFound { key },
            ErrorCode::TypeMismatch => GrpcError::TypeMismatch { key, detail },
            ErrorCode::ParseError => GrpcError::ParseError { key, detail },
            ErrorCode::General => GrpcError::General { key, detail },
            code @ (ErrorCode::TargetingKeyMissing | ErrorCode::InvalidContext) => {
                GrpcError::Unmapped { key, code, detail }
            }
        }
    }

    /// A stable name for logs.
    pub fn code(&self) -> &'static str {
        match self {
            GrpcError::FlagNotFound { .. } => "FLAG_NOT_FOUND",
            GrpcError::NoDefaultVariant { .. } => "NO_DEFAULT_VARIANT",
            GrpcError::TypeMismatch { .. } => "TYPE_MISMATCH",
            GrpcError::ParseError { .. } => "PARSE_ERROR",
            GrpcError::General { .. } => "GENERAL",
            GrpcError::Unmapped { code, .. } => code.as_str(),
            GrpcError::InvalidContext { .. } => "INVALID_CONTEXT",
            GrpcError::InvalidSelector { .. } => "INVALID_SELECTOR",
            GrpcError::Unauthenticated => "UNAUTHENTICATED",
            GrpcError::Forbidden { .. } => "FORBIDDEN",
            GrpcError::RateLimited { .. } => "RATE_LIMITED",
        }
    }

    /// The gRPC status code.
    pub fn status(&self) -> Code {
        match self {
            GrpcError::FlagNotFound { .. } | GrpcError::NoDefaultVariant { .. } => Code::NotFound,
            GrpcError::TypeMismatch { .. }
            | GrpcError::InvalidContext { .. }
            | GrpcError::InvalidSelector { .. } => Code::InvalidArgument,
            GrpcError::ParseError { .. } => Code::DataLoss,
            GrpcError::General { .. } | GrpcError::Unmapped { .. } => Code::Unknown,
            GrpcError::Unauthenticated => Code::Unauthenticated,
            GrpcError::Forbidden { .. } => Code::PermissionDenied,
            GrpcError::RateLimited { .. } => Code::ResourceExhausted,
        }
    }

    /// The message clients see: flagd's fixed wording, never the detail.
    fn public_message(&self) -> String {
        match self {
            GrpcError::FlagNotFound { .. } | GrpcError::NoDefaultVariant { .. } => {
                "Flag not found".into()
            }
            GrpcError::TypeMismatch { .. } => "Type mismatch error".into(),
            GrpcError::ParseError { .. } => "Error parsing input or configuration".into(),
            GrpcError::General { .. } => "General error".into(),
            GrpcError::Unmapped { code, .. } => code.as_str().into(),
            GrpcError::InvalidContext { .. }
            | GrpcError::InvalidSelector { .. }
            | GrpcError::Unauthenticated
            | GrpcError::Forbidden { .. }
            | GrpcError::RateLimited { .. } => self.to_string(),
        }
    }
}

impl From<Refusal> for GrpcError {
    fn from(refusal: Refusal) -> GrpcError {
        match refusal {
            Refusal::Unauthenticated => GrpcError::Unauthenticated,
            Refusal::Forbidden { selector } => GrpcError::Forbidden {
                reason: format!("the key does not allow selector {selector}"),
            },
            refusal @ Refusal::ClientKeySync => GrpcError::Forbidden {
                reason: refusal.to_string(),
            },
            Refusal::RateLimited { retry_after } => GrpcError::RateLimited { retry_after },
        }
    }
}

impl From<GrpcError> for Status {
    fn from(error: GrpcError) -> Status {
        // An evaluation error is an answer, not a server fault: counted in
        // the metrics, traced here.
        tracing::trace!(code = error.code(), %error, "gRPC call failed.");
        Status::new(error.status(), error.public_message())
    }
}
