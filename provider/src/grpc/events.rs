//! The evaluation event stream, shared by v1 and v2: `provider_ready` at
//! once; `configuration_change` naming the flags visible under the
//! selector that were written, updated or deleted; `keep_alive` after 20
//! quiet seconds; `provider_shutdown` when the server shuts down, then the
//! end of the stream.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use prost_types::Struct;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tonic::Status;

use engine::{Selector, Snapshot};

use crate::grpc::value::to_struct;
use crate::proto::evaluation::{v1, v2};
use crate::server::{Change, Flags};

/// A stream of responses, as the generated services take them.
pub(crate) type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// How long a stream stays silent before it sends `keep_alive` (flagd's
/// interval).
const KEEP_ALIVE: Duration = Duration::from_secs(20);

/// One event, before it takes a protocol version's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    /// `provider_ready`, `configuration_change`, `keep_alive` or
    /// `provider_shutdown`.
    pub kind: &'static str,
    /// The event's data; flagd sends an empty object for `provider_ready`
    /// and `provider_shutdown` and none for `keep_alive`.
    pub data: Option<Struct>,
}

impl From<Event> for v1::EventStreamResponse {
    fn from(event: Event) -> Self {
        v1::EventStreamResponse {
            r#type: event.kind.into(),
            data: event.data,
        }
    }
}

impl From<Event> for v2::EventStreamResponse {
    fn from(event: Event) -> Self {
        v2::EventStreamResponse {
            r#type: event.kind.into(),
            data: event.data,
        }
    }
}

/// Follows the flags visible under `selector` until shutdown.
pub(crate) fn follow<T>(flags: Arc<Flags>, selector: Selector) -> EventStream<T>
where
    T: From<Event> + Send + 'static,
{
    // Subscribe before reading the snapshot, so no change falls between.
    let changes = flags.subscribe();
    let known = visible(&flags.snapshot(), &selector);
    let follower = Follower {
        shutdown: Box::pin(flags.shutdown_signal()),
        flags,
        selector,
        changes,
        known,
        state: State::Starting,
    };
    tracing::debug!(selector = %follower.selector, "Event stream opened.");
    Box::pin(futures::stream::unfold(
        follower,
        |mut follower| async move {
            let event = follower.next().await?;
            Some((Ok(T::from(event)), follower))
        },
    ))
}

/// Where a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `provider_ready` is still to be sent.
    Starting,
    /// Following changes.
    Following,
    /// Ended.
    Done,
}

/// One client's view of the flags.
struct Follower {
    flags: Arc<Flags>,
    selector: Selector,
    changes: broadcast::Receiver<Arc<Change>>,
    /// What the client was last told: content hash and source of each
    /// visible flag.
    known: BTreeMap<String, (u64, String)>,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    state: State,
}

impl Follower {
    async fn next(&mut self) -> Option<Event> {
        match self.state {
            State::Starting => {
                self.state = State::Following;
                return Some(Event {
                    kind: "provider_ready",
                    data: Some(Struct::default()),
                });
            }
            State::Done => return None,
            State::Following => {}
        }
        loop {
            tokio::select! {
                biased;
                () = &mut self.shutdown => {
                    self.state = State::Done;
                    tracing::debug!(selector = %self.selector, "Event stream ended by shutdown.");
                    return Some(Event {
                        kind: "provider_shutdown",
                        data: Some(Struct::default()),
                    });
                }
                received = self.changes.recv() => {
                    let snapshot = match received {
                        Ok(change) => Arc::clone(&change.snapshot),
                        Err(RecvError::Lagged(missed)) => {
                            // Skip the backlog (older than the current
                            // snapshot) and compare with the current state.
                            tracing::debug!(missed, selector = %self.selector, "Event stream fell behind; resynchronising.");
                            self.changes = self.changes.resubscribe();
                            self.flags.snapshot()
                        }
                        Err(RecvError::Closed) => return None,
                    };
                    if let Some(event) = self.catch_up(&snapshot) {
                        return Some(event);
                    }
                }
                () = tokio::time::sleep(KEEP_ALIVE) => {
                    return Some(Event { kind: "keep_alive", data: None });
                }
            }
        }
    }

    /// The `configuration_change` from what the client knows to `snapshot`,
    /// if any flag it sees differs.
    fn catch_up(&mut self, snapshot: &Snapshot) -> Option<Event> {
        let now = visible(snapshot, &self.selector);
        let changed = diff(&self.known, &now);
        self.known = now;
        if changed.is_empty() {
            return None;
        }
        let data = json!({ "flags": changed });
        Some(Event {
            kind: "configuration_change",
            data: data.as_object().map(to_struct),
        })
    }
}

/// Content hash and source of every flag visible under `selector`.
fn visible(snapshot: &Snapshot, selector: &Selector) -> BTreeMap<String, (u64, String)> {
    snapshot
        .visible(selector)
        .into_iter()
        .map(|(set, entry)| {
            (
                entry.key().to_owned(),
                (entry.content_hash(), set.source().to_owned()),
            )
        })
        .collect()
}

/// flagd's change notifications: `{key: {"type": "write" | "update" |
/// "delete"}}` (a flag that moved to another source counts as updated).
fn diff<V: PartialEq>(old: &BTreeMap<String, V>, new: &BTreeMap<String, V>) -> Map<String, Value> {
    let mut changed = Map::new();
    let mut note = |key: &str, kind: &str| {
        changed.insert(key.to_owned(), json!({ "type": kind }));
    };
    for key in old.keys().filter(|k| !new.contains_key(*k)) {
        note(key, "delete");
    }
    for (key, value) in new {
        match old.get(key) {
            None => note(key, "write"),
            Some(before) if before != value => note(key, "update"),
            Some(_) => {}
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_writes_updates_and_deletes() {
        let old = BTreeMap::from([
            ("a".to_owned(), 1),
            ("b".to_owned(), 2),
            ("c".to_owned(), 3),
        ]);
        let new = BTreeMap::from([
            ("a".to_owned(), 1),
            ("b".to_owned(), 9),
            ("d".to_owned(), 4),
        ]);
        assert_eq!(
            Value::Object(diff(&old, &new)),
            json!({"b": {"type": "update"}, "c": {"type": "delete"}, "d": {"type": "write"}})
        );
        assert!(diff(&new, &new).is_empty());
    }
}
