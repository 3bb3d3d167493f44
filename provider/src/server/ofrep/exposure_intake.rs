//! `POST /ensign/v1/exposures` on the OFREP port: exposures from
//! applications that evaluate in process (the Rust provider's in-process
//! mode, or another SDK's hook), so they are not blind spots. In Ensign's
//! own namespace until OFREP defines such an endpoint.
//!
//! The body is `{"exposures": [{"flagKey", "variant", "targetingKey",
//! "timestamp"?, "context"?}]}`, at most [`MAX_EXPOSURES`] of them. The caller is
//! admitted as for an evaluation (SDK keys, client keys limited to their
//! visible flags, the rate limit). Each exposure names a flag this node
//! serves under the caller's selector; the experiment, flag set and
//! version are the node's, so a client cannot attribute an exposure to an
//! experiment its flag does not serve. A timestamp (RFC 3339, default the
//! time of receipt) more than five minutes ahead is refused. With the
//! evaluation `context` (an object), the node evaluates the flag itself
//! and takes the exposure only if the flag's split picked that variant, so
//! a client that cannot tell which branch decided (an OpenFeature hook
//! sees only the reason, `TARGETING_MATCH` for any branch) sends the
//! context and lets the node decide; without it, the client vouches that
//! the split decided. Valid
//! exposures go through the node's recorder like any evaluation's
//! (deduplicated, buffered, surface `in_process`); the answer, 202, counts
//! them and lists each refused one by index with a code and the reason.
//! A body that is not such an object is refused whole with 400.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use warp::Reply;
use warp::http::StatusCode;
use warp::reply::Response;

use engine::FlagEntry;

use crate::server::Flags;
use crate::server::admission::Grant;
use crate::server::exposures::{Observed, Surface};
use crate::server::ofrep::error::OfrepError;

/// The most exposures one request may carry.
pub const MAX_EXPOSURES: usize = 1_000;

/// How far ahead of the node's clock a timestamp may be.
const MAX_AHEAD: time::Duration = time::Duration::minutes(5);

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    exposures: Vec<Value>,
}

/// One exposure as sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Sent {
    flag_key: String,
    variant: String,
    targeting_key: String,
    timestamp: Option<String>,
    context: Option<serde_json::Map<String, Value>>,
}

/// The answer.
#[derive(Debug, Serialize)]
struct Answer {
    accepted: usize,
    rejected: Vec<Rejected>,
}

/// A refused exposure.
#[derive(Debug, Serialize)]
struct Rejected {
    index: usize,
    code: &'static str,
    details: String,
}

/// A request refused whole.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Refused {
    error_code: &'static str,
    error_details: String,
}

/// Answers an exposures request.
pub(crate) fn receive(
    flags: &Arc<Flags>,
    grant: Result<Grant, OfrepError>,
    body: Result<bytes::Bytes, OfrepError>,
) -> Response {
    let grant = match grant {
        Ok(grant) => grant,
        Err(error) => return error.into_response(None),
    };
    let body = match body {
        Ok(body) => body,
        Err(error) => return error.into_response(None),
    };
    let refused = |code: &'static str, details: String| {
        warp::reply::with_status(
            warp::reply::json(&Refused {
                error_code: code,
                error_details: details,
            }),
            StatusCode::BAD_REQUEST,
        )
        .into_response()
    };
    let body: Body = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => {
            return refused(
                "INVALID_BODY",
                format!("the body must be {{\"exposures\": [...]}}: {error}"),
            );
        }
    };
    if body.exposures.len() > MAX_EXPOSURES {
        return refused(
            "TOO_MANY_EXPOSURES",
            format!(
                "{} exposures in one request; at most {MAX_EXPOSURES}",
                body.exposures.len()
            ),
        );
    }
    let snapshot = flags.snapshot();
    let now = OffsetDateTime::now_utc();
    let mut answer = Answer {
        accepted: 0,
        rejected: Vec::new(),
    };
    for (index, item) in body.exposures.into_iter().enumerate() {
        let mut reject = |code: &'static str, details: String| {
            answer.rejected.push(Rejected {
                index,
                code,
                details,
            });
        };
        let sent: Sent = match serde_json::from_value(item) {
            Ok(sent) => sent,
            Err(error) => {
                reject("INVALID_EXPOSURE", error.to_string());
                continue;
            }
        };
        if sent.targeting_key.is_empty() {
            reject("TARGETING_KEY_MISSING", "the targeting key is empty".into());
            continue;
        }
        let at = match sent
            .timestamp
            .as_deref()
            .map(|t| OffsetDateTime::parse(t, &Rfc3339))
        {
            None => None,
            Some(Ok(at)) if at > now + MAX_AHEAD => {
                reject(
                    "TIMESTAMP_IN_FUTURE",
                    "the timestamp is more than 5 minutes ahead of the server's clock".into(),
                );
                continue;
            }
            Some(Ok(at)) => Some(at),
            Some(Err(error)) => {
                reject(
                    "INVALID_TIMESTAMP",
                    format!("not an RFC 3339 time: {error}"),
                );
                continue;
            }
        };
        let found = grant
            .allows(&sent.flag_key)
            .then(|| snapshot.flag_set_for(&sent.flag_key, &grant.selector))
            .flatten()
            .and_then(|set| match set.get(&sent.flag_key) {
                Some(FlagEntry::Ready(flag)) => Some((set, flag)),
                _ => None,
            });
        let Some((set, flag)) = found else {
            reject(
                "FLAG_NOT_FOUND",
                format!("flag {:?} was not found", sent.flag_key),
            );
            continue;
        };
        let Some(experiment) = flag.experiment() else {
            reject(
                "NOT_TRACKED",
                format!("flag {:?} is in no running experiment", sent.flag_key),
            );
            continue;
        };
        if !flag.variants().any(|(name, _)| name == sent.variant) {
            reject(
                "UNKNOWN_VARIANT",
                format!("flag {:?} has no variant {:?}", sent.flag_key, sent.variant),
            );
            continue;
        }
        if let Some(mut context) = sent.context {
            match context.get("targetingKey") {
                None => {
                    context.insert("targetingKey".into(), sent.targeting_key.clone().into());
                }
                Some(Value::String(key)) if *key == sent.targeting_key => {}
                Some(_) => {
                    reject(
                        "TARGETING_KEY_MISMATCH",
                        "the context's targetingKey is not the exposure's".into(),
                    );
                    continue;
                }
            }
            let context = Value::Object(context);
            let resolution =
                set.evaluate(&sent.flag_key, &set.prepare_for(&sent.flag_key, &context));
            if !resolution.bucketed || resolution.variant != Some(sent.variant.as_str()) {
                reject(
                    "NOT_AN_EXPOSURE",
                    format!(
                        "with this context the flag's split does not pick {:?}",
                        sent.variant
                    ),
                );
                continue;
            }
        }
        flags.exposures().record(Observed {
            experiment,
            flag_set: set.id(),
            flag: &sent.flag_key,
            variant: &sent.variant,
            targeting_key: &sent.targeting_key,
            flag_set_version: set.version(),
            surface: Surface::InProcess,
            at_micros: at
                .map(|at| i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)),
        });
        answer.accepted += 1;
    }
    // Buffered now: the batch is whole, and waits for no more.
    flags.exposures().settle();
    warp::reply::with_status(warp::reply::json(&answer), StatusCode::ACCEPTED).into_response()
}
