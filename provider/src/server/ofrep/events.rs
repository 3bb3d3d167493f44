//! The change-notification stream (`event-streams.yaml`): Server-Sent
//! Events telling OFREP clients to re-fetch.
//!
//! Every event's id is the content version of the snapshot it announces. A
//! client that reconnects with `Last-Event-ID` (or first connects with the
//! `etag` the bulk response put in the stream's URL) and names anything
//! but the current version is told to re-fetch at once, so a change made
//! while it was away, or between its bulk fetch and its connection, is
//! never missed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use futures::{Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use warp::Reply;
use warp::sse::Event;

use engine::Snapshot;

use crate::server::Flags;
use crate::server::ofrep::wire::SseEventData;

/// Suggested reconnection delay.
const RETRY: Duration = Duration::from_secs(2);
/// Comment lines keep idle connections (and proxies) from timing out.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The response of `GET /ofrep/v1/events`. `seen` is the version the
/// client last knew, if it says.
pub fn stream(flags: Arc<Flags>, seen: Option<String>) -> impl Reply {
    warp::sse::reply(
        warp::sse::keep_alive()
            .interval(KEEP_ALIVE)
            .stream(events(flags, seen)),
    )
}

/// The events: a catch-up event if the client is behind, then one per
/// change, until shutdown.
fn events(
    flags: Arc<Flags>,
    seen: Option<String>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    // Subscribe before reading the current version, so a change between the
    // two is announced rather than lost.
    let receiver = flags.subscribe();
    let current = flags.snapshot();
    let catch_up = seen
        .filter(|seen| seen.trim().trim_matches('"') != version_id(&current))
        .map(|_| refetch(&flags, &current));
    let shutdown = flags.shutdown_signal();
    let changes = futures::stream::unfold((receiver, flags), |(mut receiver, flags)| async move {
        let snapshot = match receiver.recv().await {
            Ok(change) => Arc::clone(&change.snapshot),
            // Behind the feed: announce where things stand now.
            Err(RecvError::Lagged(_)) => flags.snapshot(),
            Err(RecvError::Closed) => return None,
        };
        let event = refetch(&flags, &snapshot);
        Some((event, (receiver, flags)))
    });
    futures::stream::iter(catch_up)
        .chain(changes)
        .take_until(shutdown)
        .map(Ok)
}

/// The id of the event announcing `snapshot`.
pub fn version_id(snapshot: &Snapshot) -> String {
    format!("{:016x}", snapshot.version())
}

/// A `refetchEvaluation` event for `snapshot`.
fn refetch(flags: &Flags, snapshot: &Snapshot) -> Event {
    let (_, published) = flags.published();
    let data = SseEventData {
        kind: "refetchEvaluation",
        etag: version_id(snapshot),
        last_modified: published
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let event = Event::default()
        .id(version_id(snapshot))
        .event("message")
        .retry(RETRY);
    match serde_json::to_string(&data) {
        Ok(json) => event.data(json),
        // Serialising three plain fields cannot fail; an empty payload
        // still makes the client re-fetch.
        Err(_) => event.data("{\"type\":\"refetchEvaluation\"}"),
    }
}
