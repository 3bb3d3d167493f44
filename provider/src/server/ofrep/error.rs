//! Every way an OFREP request fails before or around evaluation, with its
//! HTTP status and OpenFeature error code: the one place where failures
//! become responses.

use std::time::Duration;

use http::StatusCode;
use warp::Reply as _;
use warp::http::header::{HeaderValue, RETRY_AFTER};
use warp::reply::Response;

use crate::server::admission::Refusal;
use crate::server::ofrep::wire::Failure;

/// A request-level failure (a flag's own evaluation error is a resolution,
/// not one of these).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfrepError {
    /// The body is not JSON, not UTF-8, or not `{"context": {...}}`.
    #[error("{details}")]
    InvalidContext {
        /// What is wrong with it.
        details: String,
    },
    /// The path's flag key cannot name a flag.
    #[error("flag key {key:?} is not valid: {why}")]
    InvalidKey {
        /// The key as received (lossily decoded).
        key: String,
        /// Why.
        why: &'static str,
    },
    /// No such flag.
    #[error("flag {key:?} was not found")]
    FlagNotFound {
        /// The key asked for.
        key: String,
    },
    /// The body is not `application/json`.
    #[error(
        "the request body must be application/json, not {}",
        received.as_deref().unwrap_or("untyped")
    )]
    UnsupportedMediaType {
        /// The content type sent, if any.
        received: Option<String>,
    },
    /// The body is larger than the limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// No credentials, or unknown ones.
    #[error("missing or unknown API key")]
    Unauthorized,
    /// Credentials that may not read what was asked.
    #[error("this API key may not evaluate flags of selector {selector:?}")]
    Forbidden {
        /// The selector asked for.
        selector: String,
    },
    /// The rate limit was hit.
    #[error("rate limit exceeded; retry in {} s", retry_after.as_secs().max(1))]
    TooManyRequests {
        /// When a retry may succeed.
        retry_after: Duration,
    },
    /// No route for this path.
    #[error("no such endpoint")]
    NotFound,
    /// A route exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Something broke inside; the cause is logged, never sent.
    #[error("an internal error occurred while processing the request")]
    Internal,
}

impl OfrepError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            OfrepError::InvalidContext { .. } | OfrepError::InvalidKey { .. } => {
                StatusCode::BAD_REQUEST
            }
            OfrepError::FlagNotFound { .. } | OfrepError::NotFound => StatusCode::NOT_FOUND,
            OfrepError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            OfrepError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            OfrepError::Unauthorized => StatusCode::UNAUTHORIZED,
            OfrepError::Forbidden { .. } => StatusCode::FORBIDDEN,
            OfrepError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            OfrepError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            OfrepError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The OpenFeature error code in the body; `None` for the 500 body,
    /// which the spec gives only `errorDetails`.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            OfrepError::InvalidContext { .. } => Some("INVALID_CONTEXT"),
            OfrepError::FlagNotFound { .. } => Some("FLAG_NOT_FOUND"),
            OfrepError::Internal => None,
            _ => Some("GENERAL"),
        }
    }

    /// The response: status, OFREP error body, and `Retry-After` on 429.
    pub fn into_response(self, key: Option<&str>) -> Response {
        let key = match &self {
            OfrepError::FlagNotFound { key } => Some(key.as_str()),
            _ => key,
        };
        let body = Failure {
            key,
            error_code: self.code(),
            error_details: self.to_string(),
        };
        let mut response =
            warp::reply::with_status(warp::reply::json(&body), self.status()).into_response();
        if let OfrepError::TooManyRequests { retry_after } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        response
    }
}

impl From<Refusal> for OfrepError {
    fn from(refusal: Refusal) -> OfrepError {
        match refusal {
            Refusal::Unauthenticated => OfrepError::Unauthorized,
            Refusal::Forbidden { selector } => OfrepError::Forbidden { selector },
            // OFREP has no sync call; a client key reading whole
            // configurations would be refused the same way.
            Refusal::ClientKeySync => OfrepError::Forbidden {
                selector: String::new(),
            },
            Refusal::RateLimited { retry_after } => OfrepError::TooManyRequests { retry_after },
        }
    }
}
