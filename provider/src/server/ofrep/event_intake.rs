//! `POST /ensign/v1/events` on the OFREP port: tracking events from
//! applications, in Ensign's own namespace until OFREP defines one.
//!
//! OFREP has no tracking endpoint yet: open-feature/protocol issue 71
//! discusses one but settles no shape. So the body follows the OpenFeature
//! specification's tracking API (section 6): each event is what one call
//! of `track(trackingEventName, evaluationContext?, trackingEventDetails?)`
//! carries (6.1.1.1), with the evaluation context as the application
//! merged it (6.1.3) and the details' optional numeric `value` (6.2.1)
//! beside custom fields (6.2.2), plus the time it happened, since a
//! provider sends events in batches after the fact:
//!
//! ```json
//! {"events": [{"name": "purchase",
//!              "context": {"targetingKey": "user-1", ...},
//!              "details": {"value": 12.5, "currency": "EUR"},
//!              "timestamp": "2026-12-07T10:00:00Z"}]}
//! ```
//!
//! At most [`MAX_EVENTS`] per request. The caller is admitted as for an
//! evaluation (the same SDK keys, client keys included, and the same rate
//! limit), and each event belongs to the flag set the caller's key is bound
//! to (or, without keys, the one flag set the selector picks). An event
//! needs a targeting key, since results are per user; of the context
//! nothing else is kept. `timestamp` (RFC 3339) defaults to the time of
//! receipt and may be at most five minutes ahead. `details.value` must be
//! a finite number; the other detail fields are kept as the event's
//! attributes.
//!
//! The answer is 202 with how many were accepted and, by index, each
//! refused event's code and reason; when none is accepted it is 400 (or
//! 503 when the buffer was full), with the refusals. A body that is not
//! such an object is refused whole with 400, and nothing is recorded.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use warp::Reply;
use warp::http::StatusCode;
use warp::reply::Response;

use engine::Selector;
use engine::streams::MAX_FIELD_BYTES;
use engine::streams::events::MAX_ATTRIBUTES_BYTES;

use crate::server::Flags;
use crate::server::admission::Grant;
use crate::server::ofrep::error::OfrepError;
use crate::server::outbox::now_micros;
use crate::server::tracking::TrackedEvent;

/// The most events one request may carry.
pub const MAX_EVENTS: usize = 1_000;

/// How far ahead of the node's clock a timestamp may be.
const MAX_AHEAD: time::Duration = time::Duration::minutes(5);

/// The request body. Each event is read on its own, so one malformed event
/// is refused alone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

/// One event as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sent<'a> {
    name: String,
    #[serde(default)]
    context: Map<String, Value>,
    /// Read as raw text first, so a value out of a float's range is refused
    /// as a value.
    #[serde(borrow, default)]
    details: Option<BTreeMap<String, &'a RawValue>>,
    timestamp: Option<String>,
}

/// The answer.
#[derive(Debug, Serialize)]
struct Answer {
    accepted: usize,
    rejected: Vec<Rejected>,
}

/// A refused event.
#[derive(Debug, Serialize)]
struct Rejected {
    index: usize,
    code: &'static str,
    details: String,
}

/// A request refused whole, or whose every event was refused.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Refused {
    error_code: &'static str,
    error_details: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rejected: Vec<Rejected>,
}

/// The code of an event the buffer could not take: the sender may retry.
const BUFFER_FULL: &str = "BUFFER_FULL";

/// Answers an events request.
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
    let refused = |status: StatusCode, code: &'static str, details: String| {
        let refused = Refused {
            error_code: code,
            error_details: details,
            rejected: Vec::new(),
        };
        warp::reply::with_status(warp::reply::json(&refused), status).into_response()
    };
    if !flags.tracking().is_recording() {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "EVENTS_NOT_RECORDED",
            "this node records no events: it has neither a store nor a Redis to hand them to"
                .into(),
        );
    }
    let body: Body<'_> = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "INVALID_BODY",
                format!("the body must be {{\"events\": [...]}}: {error}"),
            );
        }
    };
    if body.events.len() > MAX_EVENTS {
        return refused(
            StatusCode::BAD_REQUEST,
            "TOO_MANY_EVENTS",
            format!(
                "{} events in one request; at most {MAX_EVENTS}",
                body.events.len()
            ),
        );
    }
    let flag_set = match flag_set_of(flags, &grant.selector) {
        Ok(flag_set) => flag_set,
        Err((code, details)) => return refused(StatusCode::BAD_REQUEST, code, details),
    };
    let received = now_micros();
    let now = OffsetDateTime::now_utc();
    let mut answer = Answer {
        accepted: 0,
        rejected: Vec::new(),
    };
    for (index, item) in body.events.into_iter().enumerate() {
        let event = read_event(item, &flag_set, now, received);
        let refusal = match event {
            Ok(event) => match flags.tracking().record(event) {
                Ok(()) => {
                    answer.accepted += 1;
                    continue;
                }
                Err(_) => (
                    BUFFER_FULL,
                    "the node's event buffer is full; send the event again later".to_owned(),
                ),
            },
            Err(refusal) => refusal,
        };
        answer.rejected.push(Rejected {
            index,
            code: refusal.0,
            details: refusal.1,
        });
    }
    if answer.accepted > 0 || answer.rejected.is_empty() {
        return warp::reply::with_status(warp::reply::json(&answer), StatusCode::ACCEPTED)
            .into_response();
    }
    // Nothing was accepted: the request failed, as a whole, for the reason
    // its events share.
    let first = answer.rejected[0].code;
    let (status, code) = if answer.rejected.iter().all(|r| r.code == first) {
        let status = if first == BUFFER_FULL {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::BAD_REQUEST
        };
        (status, first)
    } else {
        (StatusCode::BAD_REQUEST, "INVALID_EVENTS")
    };
    let refused = Refused {
        error_code: code,
        error_details: format!("none of the {} events was accepted", answer.rejected.len()),
        rejected: answer.rejected,
    };
    let mut response =
        warp::reply::with_status(warp::reply::json(&refused), status).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            warp::http::header::RETRY_AFTER,
            warp::http::HeaderValue::from_static("1"),
        );
    }
    response
}

/// The flag set events of a caller admitted under `selector` belong to:
/// the one it picks (a key is bound to one), or a refusal's code and
/// reason when it picks none or several.
fn flag_set_of(flags: &Flags, selector: &Selector) -> Result<Arc<str>, (&'static str, String)> {
    let snapshot = flags.snapshot();
    let ids = snapshot.flag_set_ids(selector);
    match ids.as_slice() {
        [id] => Ok(Arc::from(*id)),
        [] => Err((
            "FLAG_SET_NOT_FOUND",
            format!(
                "no flag set is served under selector {:?}",
                selector.to_string()
            ),
        )),
        _ => Err((
            "FLAG_SET_REQUIRED",
            format!(
                "this node serves {} flag sets; send a key bound to one, or the \
                 flagd-selector header flagSetId=<id>",
                ids.len()
            ),
        )),
    }
}

/// One event checked and read, or its refusal's code and reason.
fn read_event(
    item: &RawValue,
    flag_set: &Arc<str>,
    now: OffsetDateTime,
    received: i64,
) -> Result<TrackedEvent, (&'static str, String)> {
    let sent: Sent<'_> =
        serde_json::from_str(item.get()).map_err(|error| ("INVALID_EVENT", error.to_string()))?;
    if sent.name.is_empty() || sent.name.len() > MAX_FIELD_BYTES {
        return Err((
            "INVALID_NAME",
            format!(
                "the name has {} bytes; it takes 1 to {MAX_FIELD_BYTES}",
                sent.name.len()
            ),
        ));
    }
    let targeting_key = match sent.context.get("targetingKey") {
        Some(Value::String(key)) if !key.is_empty() => key,
        Some(Value::String(_)) | None => {
            return Err((
                "TARGETING_KEY_MISSING",
                "the context has no targetingKey; results are per user".into(),
            ));
        }
        Some(_) => {
            return Err((
                "INVALID_TARGETING_KEY",
                "the context's targetingKey is not a string".into(),
            ));
        }
    };
    if targeting_key.len() > MAX_FIELD_BYTES {
        return Err((
            "INVALID_TARGETING_KEY",
            format!(
                "the targeting key has {} bytes; at most {MAX_FIELD_BYTES}",
                targeting_key.len()
            ),
        ));
    }
    let mut value = None;
    let mut attributes = Map::new();
    for (field, raw) in sent.details.into_iter().flatten() {
        if field == "value" {
            value = read_value(raw)?;
            continue;
        }
        let read: Value = serde_json::from_str(raw.get())
            .map_err(|error| ("INVALID_EVENT", format!("details.{field}: {error}")))?;
        attributes.insert(field, read);
    }
    let attributes = if attributes.is_empty() {
        String::new()
    } else {
        // Serializing a map of values cannot fail.
        serde_json::to_string(&attributes).unwrap_or_default()
    };
    if attributes.len() > MAX_ATTRIBUTES_BYTES {
        return Err((
            "ATTRIBUTES_TOO_LARGE",
            format!(
                "the details other than value take {} bytes as JSON; at most {MAX_ATTRIBUTES_BYTES}",
                attributes.len()
            ),
        ));
    }
    let at = match sent.timestamp.as_deref() {
        None => received,
        Some(text) => {
            let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|error| {
                (
                    "INVALID_TIMESTAMP",
                    format!("not an RFC 3339 time: {error}"),
                )
            })?;
            if at > now + MAX_AHEAD {
                return Err((
                    "TIMESTAMP_IN_FUTURE",
                    "the timestamp is more than 5 minutes ahead of the server's clock".into(),
                ));
            }
            i64::try_from(at.unix_timestamp_nanos() / 1_000).map_err(|_| {
                (
                    "INVALID_TIMESTAMP",
                    "the timestamp is out of range".to_owned(),
                )
            })?
        }
    };
    Ok(TrackedEvent {
        flag_set: Arc::clone(flag_set),
        name: sent.name,
        targeting_key: targeting_key.clone(),
        value,
        attributes,
        at_micros: at,
        received_micros: received,
    })
}

/// `details.value`: a finite number, or absent (`null`).
fn read_value(raw: &RawValue) -> Result<Option<f64>, (&'static str, String)> {
    let refused = || {
        let text = raw.get();
        let shown = match text.char_indices().nth(64) {
            Some((end, _)) => format!("{}...", &text[..end]),
            None => text.to_owned(),
        };
        (
            "INVALID_VALUE",
            format!("details.value must be a finite number, not {shown}"),
        )
    };
    match serde_json::from_str::<Option<f64>>(raw.get()) {
        Ok(Some(value)) if value.is_finite() => Ok(Some(value)),
        Ok(None) => Ok(None),
        Ok(Some(_)) | Err(_) => Err(refused()),
    }
}
