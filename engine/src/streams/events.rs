//! The tracking event stream's format.
//!
//! ```text
//! {prefix}:events    STREAM, one entry per batch: id = the batch id,
//!                    format = FORMAT, batch = an EventBatch as JSON
//! ```

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The entry format this build writes and reads.
pub const FORMAT: u32 = 1;

/// The longest text of an event's attributes (its detail fields other than
/// `value`, as a JSON object), in bytes.
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

/// The consumer group of the nodes that write events to their store.
pub const GROUP: &str = "ensign-event-writers";

/// The stream's key under `prefix`.
pub fn stream_key(prefix: &str) -> String {
    format!("{prefix}:events")
}

/// What a stream entry's `batch` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatch<'a> {
    /// The events.
    #[serde(borrow)]
    pub events: Vec<StreamEvent<'a>>,
}

/// One tracking event. Its text borrows what it is written from, and is
/// read borrowing the entry's text where no escape must be undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamEvent<'a> {
    /// The flag set of the key that sent it.
    #[serde(borrow)]
    pub flag_set: Cow<'a, str>,
    /// The event's name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// The user's targeting key.
    #[serde(borrow)]
    pub targeting_key: Cow<'a, str>,
    /// Its numeric value, if it has one (always finite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Its other detail fields, as the text of a JSON object; empty when
    /// it has none.
    #[serde(borrow, default, skip_serializing_if = "str::is_empty")]
    pub attributes: Cow<'a, str>,
    /// When it happened, in microseconds since the Unix epoch.
    pub at: i64,
    /// When the node received it, in microseconds since the Unix epoch.
    pub received: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_back_as_written() {
        let written = EventBatch {
            events: vec![
                StreamEvent {
                    flag_set: "production".into(),
                    name: "purchase".into(),
                    targeting_key: "user-1".into(),
                    value: Some(12.5),
                    attributes: r#"{"currency":"EUR"}"#.into(),
                    at: 1_800_000_000_000_000,
                    received: 1_800_000_000_000_100,
                },
                StreamEvent {
                    flag_set: "production".into(),
                    name: "signup".into(),
                    targeting_key: "user-2".into(),
                    value: None,
                    attributes: "".into(),
                    at: 1_800_000_000_000_000,
                    received: 1_800_000_000_000_000,
                },
            ],
        };
        let text = serde_json::to_string(&written).unwrap();
        assert_eq!(
            text,
            r#"{"events":[{"flagSet":"production","name":"purchase","targetingKey":"user-1","value":12.5,"attributes":"{\"currency\":\"EUR\"}","at":1800000000000000,"received":1800000000000100},{"flagSet":"production","name":"signup","targetingKey":"user-2","at":1800000000000000,"received":1800000000000000}]}"#
        );
        let read: EventBatch = serde_json::from_str(&text).unwrap();
        assert_eq!(read, written);
        assert!(matches!(read.events[0].name, Cow::Borrowed("purchase")));
        assert_eq!(stream_key("ensign"), "ensign:events");
    }
}
