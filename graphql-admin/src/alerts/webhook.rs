//! Webhook targets, the JSON body of a delivery, its HMAC-SHA256 signature
//! and the HTTP request that carries it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;

use engine::Diagnostic;

use super::classify::{Alert, guard_message, srm_message};
use store::{Action, AuditRecord, Subject};

/// The header carrying `sha256=<hex>`, the HMAC-SHA256 of the signed
/// material under the target's secret.
pub const SIGNATURE_HEADER: &str = "X-Ensign-Signature";
/// The header carrying the Unix time (seconds) of the attempt, which is
/// part of the signed material.
pub const TIMESTAMP_HEADER: &str = "X-Ensign-Timestamp";
/// The header carrying the delivery's id, the same on every attempt.
pub const DELIVERY_HEADER: &str = "X-Ensign-Delivery";
/// The header carrying the event type.
pub const EVENT_HEADER: &str = "X-Ensign-Event";

/// What a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// Every change of a flag.
    #[serde(rename = "flag.changed")]
    FlagChanged,
    /// A change that raises an alert (out-of-band edit, kill switch,
    /// locked flag).
    #[serde(rename = "flag.alert")]
    Alert,
    /// A running experiment's users stopped matching its weights (a
    /// sample-ratio mismatch): its results cannot be trusted.
    #[serde(rename = "experiment.alert")]
    ExperimentAlert,
    /// A guarded rollout's guard found the new variant worse than it
    /// tolerates and paused the rollout or restored its starting weights.
    #[serde(rename = "rollout.alert")]
    RolloutAlert,
    /// A guarded rollout's guard found a step healthy with enough users,
    /// so the next step may follow.
    #[serde(rename = "rollout.cleared")]
    RolloutCleared,
}

impl EventType {
    /// The event's name, as in payloads and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::FlagChanged => "flag.changed",
            EventType::Alert => "flag.alert",
            EventType::ExperimentAlert => "experiment.alert",
            EventType::RolloutAlert => "rollout.alert",
            EventType::RolloutCleared => "rollout.cleared",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event name that is not `flag.changed`, `flag.alert`,
/// `experiment.alert`, `rollout.alert` or `rollout.cleared`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown webhook event {name:?}: expected flag.changed, flag.alert, experiment.alert, rollout.alert or rollout.cleared"
)]
pub struct UnknownEvent {
    /// The name given.
    pub name: String,
}

impl FromStr for EventType {
    type Err = UnknownEvent;

    fn from_str(name: &str) -> Result<EventType, UnknownEvent> {
        match name {
            "flag.changed" => Ok(EventType::FlagChanged),
            "flag.alert" => Ok(EventType::Alert),
            "experiment.alert" => Ok(EventType::ExperimentAlert),
            "rollout.alert" => Ok(EventType::RolloutAlert),
            "rollout.cleared" => Ok(EventType::RolloutCleared),
            _ => Err(UnknownEvent { name: name.into() }),
        }
    }
}

/// One webhook target.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where deliveries are POSTed (`http://` or `https://`).
    pub url: String,
    /// The HMAC key the receiver verifies signatures with.
    pub secret: String,
    /// The events it receives; every event when empty.
    #[serde(default)]
    pub events: Vec<EventType>,
}

impl WebhookConfig {
    /// Whether this target receives events of type `event`.
    pub fn wants(&self, event: EventType) -> bool {
        self.events.is_empty() || self.events.contains(&event)
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret and the URL's path and query (chat webhooks carry
        // their token there) stay out of logs.
        f.debug_struct("WebhookConfig")
            .field("url", &redact::origin(&self.url))
            .field("secret", &"***")
            .field("events", &self.events)
            .finish()
    }
}

/// `sha256=<hex>`: the HMAC-SHA256 under `secret` of the timestamp in
/// decimal, a full stop, and the body.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body)
        .map(|m| m.finalize().into_bytes().to_vec())
        .unwrap_or_default();
    format!("sha256={}", hex(&digest))
}

/// Checks a signature header value against the timestamp and body, in
/// constant time.
pub fn verify(secret: &[u8], timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(expected) = header.strip_prefix("sha256=").and_then(unhex) else {
        return false;
    };
    mac(secret, timestamp, body).is_some_and(|m| m.verify_slice(&expected).is_ok())
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Option<Hmac<Sha256>> {
    // HMAC takes keys of any length, so this never fails.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The consumer name under which a target's cursor is stored: a hash of
/// its URL, so the URL (which may carry a token) is not stored.
pub(crate) fn consumer(url: &str) -> String {
    format!("webhook:{}", hex(&Sha256::digest(url.as_bytes())[..16]))
}

/// One message for the targets: its id, type and signed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// Stable across attempts and restarts: the audit event id and the
    /// event type.
    pub id: String,
    /// The event type.
    pub event: EventType,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// The deliveries of one audit event: for a flag change `flag.changed`,
/// and `flag.alert` when it raises an alert; for the onset of an
/// experiment's sample-ratio mismatch `experiment.alert`; for a guarded
/// rollout's stop `rollout.alert`, and for its guard's clearance of a step
/// `rollout.cleared`.
pub(crate) fn deliveries(event: &AuditRecord, alert: Option<&Alert>) -> Vec<Delivery> {
    if event.subject == Subject::Experiment && event.action == Action::SampleRatioMismatch {
        return vec![experiment_alert(event)];
    }
    if event.subject == Subject::Rollout && event.action == Action::GuardStop {
        return vec![rollout_decision(event, EventType::RolloutAlert)];
    }
    if event.subject == Subject::Rollout && event.action == Action::GuardClear {
        return vec![rollout_decision(event, EventType::RolloutCleared)];
    }
    if event.subject != Subject::Flag {
        return Vec::new();
    }
    let mut out = vec![delivery(event, EventType::FlagChanged, None)];
    if let Some(alert) = alert {
        out.push(delivery(event, EventType::Alert, Some(alert)));
    }
    out
}

fn delivery(event: &AuditRecord, kind: EventType, alert: Option<&Alert>) -> Delivery {
    let id = delivery_id(event.id, kind);
    let payload = Payload {
        id: &id,
        kind,
        audit_event_id: event.id,
        occurred_at: event.created_at.format(&Rfc3339).unwrap_or_default(),
        flag_set: event.flag_set.as_deref(),
        flag: &event.subject_key,
        action: event.action.as_str(),
        actor: &event.actor,
        request_id: event.request_id.as_deref(),
        version: event.version,
        out_of_band: event.out_of_band,
        before: event.before.as_ref(),
        after: event.after.as_ref(),
        diff: event.diff.as_ref(),
        alert: alert.map(|a| AlertPayload {
            severity: a.severity.as_str(),
            kind: a.kind.as_str(),
            kinds: a.kinds.iter().map(|k| k.as_str()).collect(),
            message: &a.message,
            publication: a.publication.as_ref().map(|p| PublicationPayload {
                version: p.version,
                published: p.published,
                errors: &p.errors,
            }),
        }),
    };
    Delivery {
        body: serde_json::to_vec(&payload).unwrap_or_default(),
        id,
        event: kind,
    }
}

/// A sample-ratio mismatch's `experiment.alert`.
fn experiment_alert(event: &AuditRecord) -> Delivery {
    let kind = EventType::ExperimentAlert;
    let id = delivery_id(event.id, kind);
    let after = event.after.as_ref();
    let message = srm_message(event);
    let payload = ExperimentPayload {
        id: &id,
        kind,
        audit_event_id: event.id,
        occurred_at: event.created_at.format(&Rfc3339).unwrap_or_default(),
        flag_set: event.flag_set.as_deref(),
        experiment: &event.subject_key,
        action: event.action.as_str(),
        actor: &event.actor,
        analysis: after,
        alert: SummaryPayload {
            severity: "warning",
            kind: "sample_ratio_mismatch",
            message: &message,
        },
    };
    Delivery {
        body: serde_json::to_vec(&payload).unwrap_or_default(),
        id,
        event: kind,
    }
}

/// A guarded rollout's decision as a delivery: a stop as a
/// `rollout.alert`, a step's clearance as a `rollout.cleared`, each with
/// the guard and the figures that decided it.
fn rollout_decision(event: &AuditRecord, kind: EventType) -> Delivery {
    let id = delivery_id(event.id, kind);
    let after = event.after.as_ref();
    let (severity, alert_kind) = match kind {
        EventType::RolloutAlert => ("warning", "guard_stop"),
        _ => ("info", "guard_clear"),
    };
    let message = after.map_or_else(
        || {
            format!(
                "The guard of a rollout of flag {:?} decided.",
                event.subject_key
            )
        },
        |after| {
            guard_message(
                &event.subject_key,
                event.flag_set.as_deref(),
                after,
                kind == EventType::RolloutAlert,
            )
        },
    );
    let payload = RolloutPayload {
        id: &id,
        kind,
        audit_event_id: event.id,
        occurred_at: event.created_at.format(&Rfc3339).unwrap_or_default(),
        flag_set: event.flag_set.as_deref(),
        flag: &event.subject_key,
        rollout: after.and_then(|after| after["id"].as_i64()),
        status: after.and_then(|after| after["status"].as_str()),
        action: event.action.as_str(),
        actor: &event.actor,
        guard: after.map(|after| &after["guard"]),
        check: after.map(|after| &after["guardCheck"]),
        alert: SummaryPayload {
            severity,
            kind: alert_kind,
            message: &message,
        },
    };
    Delivery {
        body: serde_json::to_vec(&payload).unwrap_or_default(),
        id,
        event: kind,
    }
}

/// `evt-<audit event id>-changed`, `evt-<audit event id>-alert`,
/// `evt-<audit event id>-experiment-alert`,
/// `evt-<audit event id>-rollout-alert` or
/// `evt-<audit event id>-rollout-cleared`.
pub fn delivery_id(audit_event_id: i64, event: EventType) -> String {
    let suffix = match event {
        EventType::FlagChanged => "changed",
        EventType::Alert => "alert",
        EventType::ExperimentAlert => "experiment-alert",
        EventType::RolloutAlert => "rollout-alert",
        EventType::RolloutCleared => "rollout-cleared",
    };
    format!("evt-{audit_event_id}-{suffix}")
}

/// The JSON body of a delivery.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: EventType,
    audit_event_id: i64,
    occurred_at: String,
    flag_set: Option<&'a str>,
    flag: &'a str,
    action: &'a str,
    actor: &'a str,
    request_id: Option<&'a str>,
    version: Option<i64>,
    out_of_band: bool,
    before: Option<&'a Value>,
    after: Option<&'a Value>,
    diff: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<AlertPayload<'a>>,
}

/// The JSON body of an `experiment.alert`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExperimentPayload<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: EventType,
    audit_event_id: i64,
    occurred_at: String,
    flag_set: Option<&'a str>,
    experiment: &'a str,
    action: &'a str,
    actor: &'a str,
    /// The analysis that found it: its time, users, the test's figures,
    /// the users per variant and the expected weights.
    analysis: Option<&'a Value>,
    alert: SummaryPayload<'a>,
}

/// The JSON body of a `rollout.alert` or a `rollout.cleared`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RolloutPayload<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: EventType,
    audit_event_id: i64,
    occurred_at: String,
    flag_set: Option<&'a str>,
    flag: &'a str,
    rollout: Option<i64>,
    /// `paused` or `restored`.
    status: Option<&'a str>,
    action: &'a str,
    actor: &'a str,
    /// The guard: metric, direction, tolerance, minimum of users, action,
    /// and the variant rolled out.
    guard: Option<&'a Value>,
    /// The check that stopped it: step, time, verdict, users per side,
    /// lift and interval.
    check: Option<&'a Value>,
    alert: SummaryPayload<'a>,
}

/// The `alert` of an `experiment.alert`, a `rollout.alert` or a
/// `rollout.cleared`: how severe, what kind, and what it says in words.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SummaryPayload<'a> {
    severity: &'static str,
    kind: &'static str,
    message: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertPayload<'a> {
    severity: &'static str,
    kind: &'static str,
    kinds: Vec<&'static str>,
    message: &'a str,
    publication: Option<PublicationPayload<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PublicationPayload<'a> {
    version: i64,
    published: bool,
    errors: &'a [Diagnostic],
}

/// Why one attempt to deliver failed; the delivery is tried again.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The request could not be sent or answered (connection, timeout).
    #[error("request to {host} failed")]
    Request {
        /// The target's origin (scheme, host and port).
        host: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The receiver answered with a status other than 2xx.
    #[error("{host} answered {status}")]
    Status {
        /// The target's origin (scheme, host and port).
        host: String,
        /// The HTTP status.
        status: u16,
    },
}

/// POSTs `delivery` to `target`, signed with the current time.
pub(crate) async fn send(
    client: &reqwest::Client,
    target: &WebhookConfig,
    delivery: &Delivery,
    timestamp: i64,
    timeout: Duration,
) -> Result<(), DeliveryError> {
    let host = || redact::origin(&target.url);
    let response = client
        .post(&target.url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(DELIVERY_HEADER, &delivery.id)
        .header(EVENT_HEADER, delivery.event.as_str())
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(
            SIGNATURE_HEADER,
            signature(target.secret.as_bytes(), timestamp, &delivery.body),
        )
        .body(delivery.body.clone())
        .send()
        .await
        .map_err(|source| DeliveryError::Request {
            host: host(),
            // The client's error carries the URL, path and query included.
            source: source.without_url(),
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(DeliveryError::Status {
            host: host(),
            status: status.as_u16(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_timestamp_and_body() {
        let header = signature(b"Jefe", 1_700_000_000, br#"{"a":1}"#);
        assert!(header.starts_with("sha256=") && header.len() == 7 + 64);
        assert!(verify(b"Jefe", 1_700_000_000, br#"{"a":1}"#, &header));
        assert!(!verify(b"Jefe", 1_700_000_001, br#"{"a":1}"#, &header));
        assert!(!verify(b"Jefe", 1_700_000_000, br#"{"a":2}"#, &header));
        assert!(!verify(b"jefe", 1_700_000_000, br#"{"a":1}"#, &header));
        assert!(!verify(b"Jefe", 1_700_000_000, br#"{"a":1}"#, "sha256=zz"));
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2: the MAC under the signature is the
        // standard HMAC-SHA256.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn event_names_round_trip() {
        for event in [
            EventType::FlagChanged,
            EventType::Alert,
            EventType::ExperimentAlert,
            EventType::RolloutAlert,
            EventType::RolloutCleared,
        ] {
            assert_eq!(event.as_str().parse::<EventType>(), Ok(event));
        }
        assert!("flag.deleted".parse::<EventType>().is_err());
    }

    #[test]
    fn consumers_hide_the_url() {
        let name = consumer("https://hooks.example/T000/secret-token");
        assert!(name.starts_with("webhook:") && !name.contains("secret"));
    }
}
