//! Every way an OFREP request fails before or around evaluation, with its
//! HTTP status and OpenFeature error code, and the status of a flag's own
//! evaluation error: the one place where failures become statuses and
//! responses.

use std::time::Duration;

use http::StatusCode;
use warp::Reply as _;
use warp::http::header::{HeaderValue, RETRY_AFTER};
use warp::reply::Response;

use engine::ErrorCode;

use crate::server::admission::Refusal;
use crate::server::ofrep::wire::Failure;

/// The status of a single evaluation answered with its resolution: 200
/// for a value, 404 when no flag has the key, 400 (OFREP's
/// `evaluationFailure`) for any other evaluation error. (A bulk answer is
/// 200 whatever its flags' errors.)
pub fn evaluation_status(error: Option<ErrorCode>) -> StatusCode {
    match error {
        None => StatusCode::OK,
        Some(ErrorCode::FlagNotFound) => StatusCode::NOT_FOUND,
        Some(
            ErrorCode::TypeMismatch
            | ErrorCode::ParseError
            | ErrorCode::TargetingKeyMissing
            | ErrorCode::InvalidContext
            | ErrorCode::General,
        ) => StatusCode::BAD_REQUEST,
    }
}

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
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            OfrepError::InvalidContext { .. } => Some(ErrorCode::InvalidContext),
            OfrepError::FlagNotFound { .. } => Some(ErrorCode::FlagNotFound),
            OfrepError::Internal => None,
            OfrepError::InvalidKey { .. }
            | OfrepError::UnsupportedMediaType { .. }
            | OfrepError::PayloadTooLarge { .. }
            | OfrepError::Unauthorized
            | OfrepError::Forbidden { .. }
            | OfrepError::TooManyRequests { .. }
            | OfrepError::NotFound
            | OfrepError::MethodNotAllowed => Some(ErrorCode::General),
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
            error_code: self.code().map(ErrorCode::as_str),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks a request failure's status and the error code of its body.
    #[track_caller]
    fn check(error: OfrepError, status: u16, code: Option<&str>) {
        assert_eq!(
            (error.status().as_u16(), error.code().map(ErrorCode::as_str)),
            (status, code),
            "{error}"
        );
    }

    #[test]
    fn every_failure_has_its_status_and_code() {
        let details = String::from("not JSON");
        check(
            OfrepError::InvalidContext { details },
            400,
            Some("INVALID_CONTEXT"),
        );
        let key = String::from("a\u{0}b");
        check(
            OfrepError::InvalidKey {
                key,
                why: "it has a NUL",
            },
            400,
            Some("GENERAL"),
        );
        let key = String::from("banner");
        check(
            OfrepError::FlagNotFound { key },
            404,
            Some("FLAG_NOT_FOUND"),
        );
        let received = Some(String::from("text/plain"));
        check(
            OfrepError::UnsupportedMediaType { received },
            415,
            Some("GENERAL"),
        );
        check(
            OfrepError::PayloadTooLarge { limit: 1 },
            413,
            Some("GENERAL"),
        );
        check(OfrepError::Unauthorized, 401, Some("GENERAL"));
        let selector = String::from("flagSetId=shop");
        check(OfrepError::Forbidden { selector }, 403, Some("GENERAL"));
        let retry_after = Duration::from_secs(2);
        check(
            OfrepError::TooManyRequests { retry_after },
            429,
            Some("GENERAL"),
        );
        check(OfrepError::NotFound, 404, Some("GENERAL"));
        check(OfrepError::MethodNotAllowed, 405, Some("GENERAL"));
        check(OfrepError::Internal, 500, None);
    }

    #[test]
    fn evaluation_errors_have_their_status() {
        let cases = [
            (None, 200),
            (Some(ErrorCode::FlagNotFound), 404),
            (Some(ErrorCode::TypeMismatch), 400),
            (Some(ErrorCode::ParseError), 400),
            (Some(ErrorCode::TargetingKeyMissing), 400),
            (Some(ErrorCode::InvalidContext), 400),
            (Some(ErrorCode::General), 400),
        ];
        for (code, status) in cases {
            assert_eq!(evaluation_status(code).as_u16(), status, "{code:?}");
        }
    }
}
