//! OpenFeature tracking (specification section 6; a provider's `track`,
//! 2.7) for both providers: events sent in batches to a node's
//! `POST /ensign/v1/events`, with the credentials and selector the
//! provider evaluates with.
//!
//! `track` never waits and never fails (6.1.1.1: a provider's track must
//! not block): it writes the event as the endpoint takes it (name, the
//! context as JSON as for an evaluation, the details, and the time of the
//! call, RFC 3339 in UTC) and pushes it into a bounded queue; a full queue
//! drops it. A background task, started by the first event, posts up to
//! 1000 events at a time after a 500 ms linger, in requests of at most
//! 512 KiB (half the node's default body limit), so large contexts mean
//! more, smaller requests. Events the node would refuse are dropped at
//! once: one without a targeting key, one whose `value` is not finite (the
//! whole event, not only its value: a purchase without its amount would
//! be counted wrong), and one whose context or details JSON cannot carry
//! (a NaN field, a struct of an unknown type).
//!
//! A request that fails on the network, or is answered 429 or 5xx (503
//! when the node's buffer is full or it records no events), is sent again
//! after a backoff, or after the `Retry-After` the node sent (at most
//! 10 s), up to five attempts in all; then its events are dropped. Events
//! a 202 lists as refused with `BUFFER_FULL` are sent again the same way;
//! those refused for any other reason are counted as rejected, and their
//! codes logged once per batch. Any other answer (400, 401, 403, ...) is
//! not retried: the same request would be refused again, so its events
//! count as rejected.
//!
//! Every event given to `track` is thus, at any time, sent (accepted by
//! the node), rejected (refused by it), dropped, or still on its way
//! ([`TrackingCounts`]). `flush` sends what is queued and waits for the
//! node's answers, retries included: for an application about to exit.
//! When the provider's last clone is dropped, what is queued is still
//! sent in the background, as long as the runtime runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use open_feature::{EvaluationContext, EvaluationContextFieldValue};
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::runtime::Handle;

use crate::client::batch::{Batcher, Deliver, Shape, WhenDropped};
use crate::client::convert::{self, ContextError};
use crate::client::remote::retry_after;

/// The details of a tracking event (OpenFeature 6.2): an optional numeric
/// value (a price, a duration) and custom fields of the types an
/// evaluation context takes.
///
/// ```
/// use provider::client::TrackingDetails;
///
/// let details = TrackingDetails::default()
///     .with_value(12.5)
///     .with_field("currency", "EUR");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackingDetails {
    /// The event's value (6.2.1). It must be finite: an event with a NaN
    /// or infinite value is dropped, and counted as dropped.
    pub value: Option<f64>,
    /// Custom fields (6.2.2), which the node keeps as the event's
    /// attributes. A field named `value` is left out: on the wire that name
    /// is [`TrackingDetails::value`]'s.
    pub fields: HashMap<String, EvaluationContextFieldValue>,
}

impl TrackingDetails {
    /// Sets the value.
    pub fn with_value(mut self, value: f64) -> Self {
        self.value = Some(value);
        self
    }

    /// Adds a custom field.
    pub fn with_field(
        mut self,
        key: impl Into<String>,
        value: impl Into<EvaluationContextFieldValue>,
    ) -> Self {
        self.fields.insert(key.into(), value.into());
        self
    }
}

/// What became of the events given to `track` so far. Each is sent,
/// rejected, dropped, or still on its way (queued, or in a request).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackingCounts {
    /// Accepted by the node.
    pub sent: u64,
    /// Refused by the node (a 400, 401, 403, or an event a 202 lists as
    /// refused for a reason other than a full buffer).
    pub rejected: u64,
    /// Never delivered: the queue was full; the event had no targeting key,
    /// a value that is not finite or a context JSON cannot carry; the node
    /// could not take it after every attempt; or the provider has no node
    /// to send events to.
    pub dropped: u64,
    /// Requests sent again after a network error, a 429 or a 5xx, or to
    /// resend events refused with a full buffer (requests, not events).
    pub retries: u64,
}

/// Events queued before new ones are dropped.
const QUEUE: usize = 10_000;
/// The most events in one request (the endpoint's limit).
const BATCH: usize = 1_000;
/// How long a batch waits to fill before it is sent.
const LINGER: Duration = Duration::from_millis(500);
/// Attempts at one batch, the first included.
const ATTEMPTS: u32 = 5;
/// The first wait before a retry; it doubles after each.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait before a retry without a `Retry-After`.
const LONGEST_BACKOFF: Duration = Duration::from_secs(4);
/// The longest `Retry-After` honoured.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(10);
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request body, unless one event alone is larger.
const MAX_BODY: usize = 512 * 1024;
/// The code of an event the node's buffer could not take: it may be sent
/// again.
const BUFFER_FULL: &str = "BUFFER_FULL";

/// Where events go and with which headers.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) http: reqwest::Client,
    /// The node's `/ensign/v1/events`.
    pub(crate) url: Url,
    /// Credentials and selector, as for an evaluation.
    pub(crate) headers: HeaderMap,
}

/// A provider's tracker: converts events, queues them, and counts what
/// became of them.
#[derive(Debug)]
pub(crate) struct Tracker {
    /// `None`: the provider knows no node; every event is dropped.
    target: Option<Target>,
    /// The runtime the provider was built in, if any: the sending task
    /// runs there when `track` is called outside one.
    runtime: Option<Handle>,
    counts: Arc<Counts>,
    /// Started by the first event; holds events written as JSON.
    batcher: OnceLock<Batcher<Box<RawValue>>>,
}

#[derive(Debug, Default)]
struct Counts {
    sent: AtomicU64,
    rejected: AtomicU64,
    dropped: AtomicU64,
    retries: AtomicU64,
}

/// One event as the endpoint takes it.
#[derive(Debug, Serialize)]
struct Event {
    name: String,
    context: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Map<String, Value>>,
    /// `None` only if the clock cannot be written in RFC 3339; the node
    /// then uses the time of receipt.
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
}

/// Why an event is dropped before it is queued.
#[derive(Debug, thiserror::Error)]
enum Unsendable {
    #[error("the context has no targeting key")]
    NoTargetingKey,
    #[error("the value is not a finite number")]
    NonFiniteValue,
    #[error(transparent)]
    Json(#[from] ContextError),
    #[error("the event cannot be written as JSON: {0}")]
    Write(#[from] serde_json::Error),
}

impl Tracker {
    /// A tracker sending to `target`; its task starts with the first event.
    pub(crate) fn new(target: Target) -> Tracker {
        Tracker {
            target: Some(target),
            runtime: Handle::try_current().ok(),
            counts: Arc::default(),
            batcher: OnceLock::new(),
        }
    }

    /// A tracker without a node: every event is dropped and counted.
    pub(crate) fn unavailable() -> Tracker {
        Tracker {
            target: None,
            runtime: None,
            counts: Arc::default(),
            batcher: OnceLock::new(),
        }
    }

    /// Queues an event; never waits.
    pub(crate) fn track(
        &self,
        name: &str,
        context: &EvaluationContext,
        details: Option<&TrackingDetails>,
    ) {
        let written = Event::new(name, context, details)
            .and_then(|event| Ok(serde_json::value::to_raw_value(&event)?));
        let queued = match written {
            Ok(event) => self.batcher().is_some_and(|batcher| batcher.push(event)),
            Err(why) => {
                tracing::trace!(%why, "Tracking event dropped.");
                false
            }
        };
        if !queued {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends what is queued and waits for the node's answers.
    pub(crate) async fn flush(&self) {
        if let Some(batcher) = self.batcher.get() {
            batcher.flush().await;
        }
    }

    pub(crate) fn counts(&self) -> TrackingCounts {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        TrackingCounts {
            sent: read(&self.counts.sent),
            rejected: read(&self.counts.rejected),
            dropped: read(&self.counts.dropped),
            retries: read(&self.counts.retries),
        }
    }

    /// The queue, started on first use; `None` without a node or a runtime.
    fn batcher(&self) -> Option<&Batcher<Box<RawValue>>> {
        if let Some(batcher) = self.batcher.get() {
            return Some(batcher);
        }
        let target = self.target.clone()?;
        let runtime = Handle::try_current()
            .ok()
            .or_else(|| self.runtime.clone())?;
        let post = Post {
            target,
            counts: Arc::clone(&self.counts),
        };
        let shape = Shape {
            queue: QUEUE,
            batch: BATCH,
            linger: LINGER,
        };
        // When two first events race, one batcher is kept; the other,
        // never used, ends at once.
        let _ = self
            .batcher
            .set(Batcher::start(post, shape, WhenDropped::Finish, &runtime));
        self.batcher.get()
    }
}

impl Event {
    fn new(
        name: &str,
        context: &EvaluationContext,
        details: Option<&TrackingDetails>,
    ) -> Result<Event, Unsendable> {
        let context = convert::context_to_json(context)?;
        // The node's own test: results are per user.
        if !matches!(context.get("targetingKey"), Some(Value::String(key)) if !key.is_empty()) {
            return Err(Unsendable::NoTargetingKey);
        }
        Ok(Event {
            name: name.to_owned(),
            context,
            details: details.map(details_to_json).transpose()?,
            timestamp: OffsetDateTime::now_utc().format(&Rfc3339).ok(),
        })
    }
}

/// The details as the endpoint's `details` object.
fn details_to_json(details: &TrackingDetails) -> Result<Map<String, Value>, Unsendable> {
    let mut map = Map::new();
    if let Some(value) = details.value {
        let value = Number::from_f64(value).ok_or(Unsendable::NonFiniteValue)?;
        map.insert("value".into(), Value::Number(value));
    }
    for (key, field) in &details.fields {
        if key != "value" {
            map.insert(key.clone(), convert::field_to_json(key, field)?);
        }
    }
    Ok(map)
}

/// Posts batches and counts the answers.
#[derive(Debug)]
struct Post {
    target: Target,
    counts: Arc<Counts>,
}

/// The request body.
#[derive(Serialize)]
struct Body<'a> {
    events: &'a [&'a RawValue],
}

/// What a 202, a 4xx or a 5xx says; unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    rejected: Vec<Rejected>,
}

#[derive(Debug, Deserialize)]
struct Rejected {
    index: usize,
    code: String,
}

/// What to do after one request.
#[derive(Debug)]
enum Next {
    /// Every event was accepted or refused for good.
    Done,
    /// The events at these indices (of those sent) may be sent again,
    /// after `wait` if the node named one.
    Again {
        retry: Vec<usize>,
        wait: Option<Duration>,
        why: String,
    },
}

impl Deliver<Box<RawValue>> for Post {
    async fn deliver(&self, batch: &[Box<RawValue>]) {
        for request in by_size(batch, MAX_BODY) {
            self.send_with_retries(request).await;
        }
    }
}

/// `batch` cut into runs of at most `limit` bytes of events, each with at
/// least one event.
fn by_size(batch: &[Box<RawValue>], limit: usize) -> Vec<&[Box<RawValue>]> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (index, event) in batch.iter().enumerate() {
        // The comma before each event after the first.
        let size = event.get().len() + 1;
        if index > start && bytes + size > limit {
            runs.push(&batch[start..index]);
            start = index;
            bytes = 0;
        }
        bytes += size;
    }
    if start < batch.len() {
        runs.push(&batch[start..]);
    }
    runs
}

impl Post {
    /// Sends `batch` until the node has settled every event or the attempts
    /// are spent.
    async fn send_with_retries(&self, batch: &[Box<RawValue>]) {
        let mut pending: Vec<&RawValue> = batch.iter().map(AsRef::as_ref).collect();
        let mut backoff = FIRST_BACKOFF;
        let mut why = String::new();
        for attempt in 1..=ATTEMPTS {
            let (retry, wait) = match self.send(&pending).await {
                Next::Done => return,
                Next::Again {
                    retry,
                    wait,
                    why: failed,
                } => {
                    why = failed;
                    (retry, wait)
                }
            };
            pending = retry
                .into_iter()
                .filter_map(|index| pending.get(index).copied())
                .collect();
            if attempt == ATTEMPTS || pending.is_empty() {
                break;
            }
            self.counts.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%why, attempt, events = pending.len(), "Sending tracking events failed; retrying.");
            tokio::time::sleep(wait.map_or(backoff, |wait| wait.min(LONGEST_RETRY_AFTER))).await;
            backoff = (backoff * 2).min(LONGEST_BACKOFF);
        }
        if !pending.is_empty() {
            self.counts
                .dropped
                .fetch_add(pending.len() as u64, Ordering::Relaxed);
            tracing::warn!(%why, events = pending.len(), attempts = ATTEMPTS, "Tracking events dropped: the node did not take them.");
        }
    }

    /// One request with `pending`; counts what the answer settles.
    async fn send(&self, pending: &[&RawValue]) -> Next {
        let all = || (0..pending.len()).collect();
        let response = match self
            .target
            .http
            .post(self.target.url.clone())
            .headers(self.target.headers.clone())
            .timeout(TIMEOUT)
            .json(&Body { events: pending })
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => {
                // The URL may carry credentials: logged without it.
                return Next::Again {
                    retry: all(),
                    wait: None,
                    why: error.without_url().to_string(),
                };
            }
        };
        let status = response.status();
        let wait = retry_after(response.headers());
        let answer: Answer = response.json().await.unwrap_or_default();
        let settled = settle(status, wait, answer, pending.len());
        let add = |counter: &AtomicU64, n: usize| counter.fetch_add(n as u64, Ordering::Relaxed);
        add(&self.counts.sent, settled.sent);
        add(&self.counts.rejected, settled.rejected.len());
        if !settled.rejected.is_empty() {
            tracing::warn!(%status, code = settled.code.as_deref().unwrap_or(""), rejected = %codes(&settled.rejected), events = pending.len(), "The node refused tracking events.");
        }
        settled.next
    }
}

/// What one answer settles.
#[derive(Debug)]
struct Settled {
    /// Events accepted.
    sent: usize,
    /// The codes of events refused for good.
    rejected: Vec<String>,
    /// The request's own error code, if it has one.
    code: Option<String>,
    next: Next,
}

/// Reads an answer to `count` events: accepted, refused for good, or to be
/// sent again.
fn settle(status: StatusCode, wait: Option<Duration>, answer: Answer, count: usize) -> Settled {
    if status == StatusCode::ACCEPTED {
        let mut retry = Vec::new();
        let mut rejected = Vec::new();
        let mut seen = vec![false; count];
        for refusal in answer.rejected {
            if refusal.index >= count || std::mem::replace(&mut seen[refusal.index], true) {
                continue;
            }
            if refusal.code == BUFFER_FULL {
                retry.push(refusal.index);
            } else {
                rejected.push(refusal.code);
            }
        }
        let sent = count - rejected.len() - retry.len();
        let next = if retry.is_empty() {
            Next::Done
        } else {
            Next::Again {
                why: format!("the node's buffer could not take {} events", retry.len()),
                retry,
                wait: None,
            }
        };
        return Settled {
            sent,
            rejected,
            code: None,
            next,
        };
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let why = match &answer.error_code {
            Some(code) => format!("the node answered {status} ({code})"),
            None => format!("the node answered {status}"),
        };
        return Settled {
            sent: 0,
            rejected: Vec::new(),
            code: answer.error_code,
            next: Next::Again {
                retry: (0..count).collect(),
                wait,
                why,
            },
        };
    }
    // Refused whole: sent again, it would be refused again.
    let fallback = answer
        .error_code
        .clone()
        .unwrap_or_else(|| status.as_u16().to_string());
    let mut rejected = vec![fallback; count];
    for refusal in answer.rejected {
        if let Some(slot) = rejected.get_mut(refusal.index) {
            *slot = refusal.code;
        }
    }
    Settled {
        sent: 0,
        rejected,
        code: answer.error_code,
        next: Next::Done,
    }
}

/// Refusal codes with their counts, for the log: `INVALID_NAME x2, ...`.
fn codes(rejected: &[String]) -> String {
    let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
    for code in rejected {
        *counted.entry(code).or_default() += 1;
    }
    counted
        .into_iter()
        .map(|(code, n)| format!("{code} x{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[track_caller]
    fn check(status: u16, retry_after: Option<u64>, body: Value, count: usize, expect: &str) {
        let answer: Answer = serde_json::from_value(body).unwrap_or_default();
        let settled = settle(
            StatusCode::from_u16(status).unwrap(),
            retry_after.map(Duration::from_secs),
            answer,
            count,
        );
        let next = match &settled.next {
            Next::Done => "done".to_owned(),
            Next::Again { retry, wait, .. } => format!("again {retry:?} after {wait:?}"),
        };
        let actual = format!(
            "sent {}, rejected [{}], {next}",
            settled.sent,
            codes(&settled.rejected)
        );
        assert_eq!(actual, expect);
    }

    #[test]
    fn answers_settle_events() {
        check(
            202,
            None,
            json!({"accepted": 3, "rejected": []}),
            3,
            "sent 3, rejected [], done",
        );
        check(
            202,
            None,
            json!({"accepted": 1, "rejected": [
                {"index": 0, "code": "INVALID_NAME", "details": "x"},
                {"index": 2, "code": "BUFFER_FULL", "details": "y"},
                {"index": 2, "code": "BUFFER_FULL", "details": "listed twice"},
                {"index": 9, "code": "INVALID_NAME", "details": "out of range"}
            ]}),
            3,
            "sent 1, rejected [INVALID_NAME x1], again [2] after None",
        );
        check(
            202,
            None,
            json!("not an answer"),
            2,
            "sent 2, rejected [], done",
        );
        check(
            400,
            None,
            json!({"errorCode": "INVALID_EVENTS", "rejected": [
                {"index": 0, "code": "INVALID_NAME", "details": "x"},
                {"index": 1, "code": "TARGETING_KEY_MISSING", "details": "y"}
            ]}),
            2,
            "sent 0, rejected [INVALID_NAME x1, TARGETING_KEY_MISSING x1], done",
        );
        check(
            400,
            None,
            json!({"errorCode": "FLAG_SET_REQUIRED"}),
            2,
            "sent 0, rejected [FLAG_SET_REQUIRED x2], done",
        );
        check(401, None, json!(null), 1, "sent 0, rejected [401 x1], done");
        check(
            503,
            Some(1),
            json!({"errorCode": "BUFFER_FULL"}),
            2,
            "sent 0, rejected [], again [0, 1] after Some(1s)",
        );
        check(
            429,
            Some(2),
            json!(null),
            1,
            "sent 0, rejected [], again [0] after Some(2s)",
        );
        check(
            502,
            None,
            json!(null),
            1,
            "sent 0, rejected [], again [0] after None",
        );
    }

    #[test]
    fn events_the_node_would_refuse_are_not_sent() {
        let user = EvaluationContext::default().with_targeting_key("u1");
        let event = |context: &EvaluationContext, details: Option<&TrackingDetails>| {
            Event::new("purchase", context, details)
                .map(|event| serde_json::to_value(event).unwrap())
        };
        let sent = event(
            &user.clone().with_custom_field("plan", "pro"),
            Some(
                &TrackingDetails::default()
                    .with_value(12.5)
                    .with_field("currency", "EUR")
                    .with_field("value", "not the value"),
            ),
        )
        .unwrap();
        assert_eq!(sent["name"], "purchase");
        assert_eq!(
            sent["context"],
            json!({"targetingKey": "u1", "plan": "pro"})
        );
        assert_eq!(sent["details"], json!({"value": 12.5, "currency": "EUR"}));
        let at = sent["timestamp"].as_str().unwrap();
        assert!(
            OffsetDateTime::parse(at, &Rfc3339).is_ok_and(|at| at.offset().is_utc()),
            "{at}"
        );
        assert!(event(&user, None).unwrap().get("details").is_none());

        let anonymous = EvaluationContext::default().with_custom_field("plan", "pro");
        assert!(matches!(
            event(&anonymous, None),
            Err(Unsendable::NoTargetingKey)
        ));
        let empty = EvaluationContext::default().with_targeting_key("");
        assert!(matches!(
            event(&empty, None),
            Err(Unsendable::NoTargetingKey)
        ));
        for value in [f64::NAN, f64::INFINITY] {
            let details = TrackingDetails::default().with_value(value);
            assert!(matches!(
                event(&user, Some(&details)),
                Err(Unsendable::NonFiniteValue)
            ));
        }
        let details = TrackingDetails::default().with_field("ratio", f64::NAN);
        assert!(matches!(
            event(&user, Some(&details)),
            Err(Unsendable::Json(_))
        ));
    }

    #[test]
    fn requests_stay_under_the_body_limit() {
        let events: Vec<Box<RawValue>> = ["1", "22", "333", "4444", "1"]
            .into_iter()
            .map(|text| RawValue::from_string(text.to_owned()).unwrap())
            .collect();
        let sizes = |limit| -> Vec<Vec<&str>> {
            by_size(&events, limit)
                .into_iter()
                .map(|run| run.iter().map(|event| event.get()).collect())
                .collect()
        };
        assert_eq!(sizes(1000), [vec!["1", "22", "333", "4444", "1"]]);
        assert_eq!(sizes(7), [vec!["1", "22"], vec!["333"], vec!["4444", "1"]]);
        assert_eq!(
            sizes(1),
            [vec!["1"], vec!["22"], vec!["333"], vec!["4444"], vec!["1"]],
            "an event larger than the limit goes alone"
        );
        assert!(by_size(&[], 10).is_empty());
    }

    #[test]
    fn a_tracker_without_a_node_drops_and_counts() {
        let tracker = Tracker::unavailable();
        tracker.track(
            "purchase",
            &EvaluationContext::default().with_targeting_key("u1"),
            None,
        );
        assert_eq!(
            tracker.counts(),
            TrackingCounts {
                dropped: 1,
                ..TrackingCounts::default()
            }
        );
    }
}
