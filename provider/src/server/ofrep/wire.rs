//! OFREP's JSON bodies, as `openapi.yaml` defines them: separate structs at
//! the edge, converted explicitly from engine resolutions.

use serde::Serialize;
use serde_json::{Map, Value};

use engine::Resolution;

/// Metadata entry carrying the decision path when explain is asked for.
pub const EXPLAIN_METADATA_KEY: &str = "ensign.explain";

/// One flag's outcome: `evaluationSuccess`, or `evaluationFailure` /
/// `flagNotFound` when `errorCode` is set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation<'a> {
    /// The flag key.
    pub key: &'a str,
    /// The value; absent when the caller's code default applies
    /// (`codeDefaultFlag`) and on failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a Value>,
    /// Why; absent on failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The chosen variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<&'a str>,
    /// The OpenFeature error code of a failure.
    #[serde(rename = "errorCode", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    /// What went wrong.
    #[serde(rename = "errorDetails", skip_serializing_if = "Option::is_none")]
    pub error_details: Option<String>,
    /// Flag metadata (scalars only), borrowed from the snapshot.
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata<'a>,
}

/// A flag's metadata as sent: the snapshot's map, borrowed rather than
/// copied for every flag of every response, plus the decision path when
/// explain was asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata<'a> {
    /// The flag's merged metadata.
    pub flag: &'a Map<String, Value>,
    /// The rendered decision path.
    pub explain: Option<String>,
}

impl Metadata<'_> {
    fn is_empty(&self) -> bool {
        self.flag.is_empty() && self.explain.is_none()
    }
}

impl Serialize for Metadata<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.flag {
            // The explain entry replaces a flag's own entry of that name.
            if self.explain.is_none() || key != EXPLAIN_METADATA_KEY {
                map.serialize_entry(key, value)?;
            }
        }
        if let Some(trace) = &self.explain {
            map.serialize_entry(EXPLAIN_METADATA_KEY, trace)?;
        }
        map.end()
    }
}

impl<'a> Evaluation<'a> {
    /// Converts a resolution. flagd's DEFAULT reason is passed through
    /// although the OFREP enum lacks it, as flagd's own OFREP service does.
    pub fn from_resolution(resolution: &Resolution<'a>, explain: Option<String>) -> Self {
        let metadata = Metadata {
            flag: resolution.metadata,
            explain,
        };
        match &resolution.error {
            Some(error) => Evaluation {
                key: resolution.key,
                value: None,
                reason: None,
                variant: None,
                error_code: Some(error.code.as_str()),
                error_details: Some(error.message.clone()),
                metadata,
            },
            None => Evaluation {
                key: resolution.key,
                value: resolution.value,
                reason: Some(resolution.reason.as_str()),
                variant: resolution.variant,
                error_code: None,
                error_details: None,
                metadata,
            },
        }
    }

    /// Whether this is a failure.
    pub fn is_error(&self) -> bool {
        self.error_code.is_some()
    }
}

/// `eventStream`, in its `endpoint` form: the client joins `requestUri` to
/// the origin it already talks to, so the server need not know its public
/// address.
#[derive(Debug, Clone, Serialize)]
pub struct EventStream {
    /// Always `sse`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Where the stream is.
    pub endpoint: EventStreamEndpoint,
    /// Seconds of client inactivity after which it should disconnect.
    #[serde(rename = "inactivityDelaySec")]
    pub inactivity_delay_sec: u32,
}

/// `eventStreamEndpoint`.
#[derive(Debug, Clone, Serialize)]
pub struct EventStreamEndpoint {
    /// Path and query, starting with `/`.
    #[serde(rename = "requestUri")]
    pub request_uri: String,
}

/// `bulkEvaluationFailure`, and the error body of every other failure
/// status (`generalErrorResponse` carries only `errorDetails`).
#[derive(Debug, Clone, Serialize)]
pub struct Failure<'a> {
    /// The flag key, on single evaluations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a str>,
    /// OpenFeature error code.
    #[serde(rename = "errorCode", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    /// What went wrong.
    #[serde(rename = "errorDetails")]
    pub error_details: String,
}

/// `sseEventData`.
#[derive(Debug, Clone, Serialize)]
pub struct SseEventData {
    /// Always `refetchEvaluation`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The new configuration's ETag, for the `flagConfigEtag` parameter.
    pub etag: String,
    /// When it was published, in Unix seconds.
    #[serde(rename = "lastModified")]
    pub last_modified: u64,
}
