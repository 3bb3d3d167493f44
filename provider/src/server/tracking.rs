//! Tracking events: what applications report of their users (a purchase,
//! a sign-up, a page's load time), sent through OpenFeature `track` or over
//! plain HTTP (`POST /ensign/v1/events`, see
//! [`crate::server::ofrep::event_intake`]), and handed on through the node's
//! event outbox ([`crate::server::outbox`]) like exposures: to the node's
//! store, or to the Redis event stream that nodes with a store consume.
//!
//! Unlike an exposure, an event is never deduplicated (a user who buys
//! twice made two purchases), and one the buffer cannot take is refused
//! to its sender, who may send it again, as well as counted as dropped.

use std::sync::Arc;

use engine::streams::events::{self as stream, EventBatch, StreamEvent};

use crate::server::outbox::{Names, Outbox, OutboxSettings, WriterQueue};
use crate::server::stream_sink::StreamRecord;

/// One tracking event, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedEvent {
    /// The flag set of the key that sent it.
    pub flag_set: Arc<str>,
    /// The event's name (`purchase`).
    pub name: String,
    /// The user's targeting key.
    pub targeting_key: String,
    /// Its numeric value (OpenFeature's `details.value`), always finite.
    pub value: Option<f64>,
    /// Its other detail fields, as the text of a JSON object; empty when it
    /// has none.
    pub attributes: String,
    /// When it happened, in microseconds since the Unix epoch.
    pub at_micros: i64,
    /// When this node received it, in microseconds since the Unix epoch:
    /// the delay to its commit is measured from here.
    pub received_micros: i64,
}

impl StreamRecord for TrackedEvent {
    const FORMAT: u32 = stream::FORMAT;

    fn stream_key(prefix: &str) -> String {
        stream::stream_key(prefix)
    }

    fn encode(batch: &[TrackedEvent]) -> Result<String, serde_json::Error> {
        serde_json::to_string(&wire(batch))
    }
}

/// Events as the stream carries them, borrowing their text.
pub fn wire(events: &[TrackedEvent]) -> EventBatch<'_> {
    EventBatch {
        events: events
            .iter()
            .map(|event| StreamEvent {
                flag_set: (*event.flag_set).into(),
                name: event.name.as_str().into(),
                targeting_key: event.targeting_key.as_str().into(),
                value: event.value,
                attributes: event.attributes.as_str().into(),
                at: event.at_micros,
                received: event.received_micros,
            })
            .collect(),
    }
}

/// The names of the event outbox's metrics.
const NAMES: Names = Names {
    plural: "events",
    singular: "event",
    delay_from: Some("a node received an event"),
};

/// A node's tracking event recorder. Takes events only once a writer is
/// attached ([`Tracking::attach`]): a node with neither a store nor a Redis
/// to hand them to refuses them.
#[derive(Debug)]
pub struct Tracking {
    outbox: Outbox<TrackedEvent>,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            outbox: Outbox::new(NAMES),
        }
    }
}

impl Tracking {
    /// Attaches the writer's buffer; `None` if one is attached already.
    pub fn attach(&self, settings: &OutboxSettings) -> Option<WriterQueue<TrackedEvent>> {
        self.outbox.attach(settings)
    }

    /// Whether events are taken: a writer is attached and shutdown has not
    /// begun to flush.
    pub fn is_recording(&self) -> bool {
        self.outbox.is_attached() && !self.outbox.is_closed()
    }

    /// Buffers an event; a full buffer hands it back (counted as dropped).
    pub fn record(&self, event: TrackedEvent) -> Result<(), TrackedEvent> {
        self.outbox.push(event)
    }

    /// The outbox events are buffered in.
    pub fn outbox(&self) -> &Outbox<TrackedEvent> {
        &self.outbox
    }

    /// The event metrics, in Prometheus' text format.
    pub fn render(&self, out: &mut String) {
        self.outbox.render(out, self.outbox.buffered());
    }
}
