//! What every listener shares: the live snapshot, the feed of changes to it,
//! readiness, the static context and the metrics.
//!
//! Sources publish whole snapshots; readers load the current one without a
//! lock. Every published snapshot that differs from the last is announced
//! once on the change feed, which the OFREP event stream, the gRPC event
//! stream and gRPC sync subscribers follow.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use engine::{Changes, FlagSet, Resolution, Snapshot, SnapshotCell};
use serde_json::{Map, Value};
use tokio::sync::{Mutex, broadcast, watch};

use crate::server::exposures::{Exposures, Surface};
use crate::server::keys::SdkKeys;
use crate::server::metrics::Metrics;
use crate::server::tracking::Tracking;
use crate::server::usage::Usage;

/// How many changes a slow subscriber may fall behind before it is told it
/// lagged (and resynchronises from the current snapshot).
const CHANGE_FEED_CAPACITY: usize = 64;

/// One change: what differs and the snapshot that now serves.
#[derive(Debug)]
pub struct Change {
    /// The keys added, changed and removed.
    pub changes: Changes,
    /// The snapshot after the change.
    pub snapshot: Arc<Snapshot>,
}

/// What a node records and hands on, each through an outbox once a writer
/// is attached to it: exposures, tracking events and evaluation counts.
#[derive(Debug, Clone, Default)]
pub struct Recorders {
    /// The exposure recorder evaluations report to.
    pub exposures: Arc<Exposures>,
    /// The tracking event recorder `POST /ensign/v1/events` feeds.
    pub tracking: Arc<Tracking>,
    /// The evaluation counter every evaluation reports to.
    pub usage: Arc<Usage>,
}

/// The shared state of one server.
#[derive(Debug)]
pub struct Flags {
    cell: SnapshotCell,
    /// Serialises publishers, so the diff each one announces is against the
    /// snapshot it replaced.
    publish: Mutex<()>,
    changes: broadcast::Sender<Arc<Change>>,
    ready: AtomicBool,
    /// When the current snapshot was published.
    published: std::sync::Mutex<(Instant, SystemTime)>,
    static_context: Map<String, Value>,
    shutdown: watch::Sender<bool>,
    metrics: Metrics,
    keys: SdkKeys,
    recorders: Recorders,
}

impl Flags {
    /// An empty, not yet ready state. `static_context` is merged into every
    /// evaluation's context (flagd's `--context-value`).
    pub fn new(static_context: Map<String, Value>) -> Arc<Flags> {
        Flags::with_recorders(static_context, Recorders::default())
    }

    /// The same, reporting to `recorders`.
    pub fn with_recorders(static_context: Map<String, Value>, recorders: Recorders) -> Arc<Flags> {
        let (changes, _) = broadcast::channel(CHANGE_FEED_CAPACITY);
        let (shutdown, _) = watch::channel(false);
        Arc::new(Flags {
            cell: SnapshotCell::default(),
            publish: Mutex::new(()),
            changes,
            ready: AtomicBool::new(false),
            published: std::sync::Mutex::new((Instant::now(), SystemTime::now())),
            static_context,
            shutdown,
            metrics: Metrics::default(),
            keys: SdkKeys::default(),
            recorders,
        })
    }

    /// The SDK keys delivered with the flag sets.
    pub fn sdk_keys(&self) -> &SdkKeys {
        &self.keys
    }

    /// The snapshot serving now (lock-free).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.cell.load()
    }

    /// Replaces the snapshot; announces the change if any flag differs.
    /// Returns what changed.
    pub async fn publish(&self, snapshot: Snapshot) -> Changes {
        let _guard = self.publish.lock().await;
        let changes = self.cell.store(snapshot);
        if let Ok(mut published) = self.published.lock() {
            *published = (Instant::now(), SystemTime::now());
        }
        if !changes.is_empty() {
            let change = Arc::new(Change {
                changes: changes.clone(),
                snapshot: self.cell.load(),
            });
            // No subscriber is not an error.
            let _ = self.changes.send(change);
        }
        changes
    }

    /// Follows the change feed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    /// Marks the server ready (every source has delivered a first state).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Whether the server has loaded its first snapshot from every source.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// How long ago the current snapshot was published, and when (wall
    /// clock).
    pub fn published(&self) -> (std::time::Duration, SystemTime) {
        match self.published.lock() {
            Ok(p) => (p.0.elapsed(), p.1),
            Err(_) => (std::time::Duration::ZERO, SystemTime::now()),
        }
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The node's exposure recorder.
    pub fn exposures(&self) -> &Arc<Exposures> {
        &self.recorders.exposures
    }

    /// The node's tracking event recorder.
    pub fn tracking(&self) -> &Arc<Tracking> {
        &self.recorders.tracking
    }

    /// The node's evaluation counter.
    pub fn usage(&self) -> &Arc<Usage> {
        &self.recorders.usage
    }

    /// Reports an evaluation of a flag of `set`, answered on `surface`: to
    /// the evaluation counts, and to the exposure recorder (which asks for
    /// `targeting_key` only if it is an exposure).
    pub fn observe<'t>(
        &self,
        set: &FlagSet,
        resolution: &Resolution<'_>,
        targeting_key: impl FnOnce() -> Option<std::borrow::Cow<'t, str>>,
        surface: Surface,
    ) {
        self.recorders.usage.count(set.id(), resolution);
        self.recorders
            .exposures
            .observe(set, resolution, targeting_key, surface);
    }

    /// The static context merged into every evaluation.
    pub fn static_context(&self) -> &Map<String, Value> {
        &self.static_context
    }

    /// Merges the static context into a request's context. As in flagd, a
    /// static value wins over the request's value for the same key.
    pub fn enrich(&self, context: &mut Map<String, Value>) {
        for (key, value) in &self.static_context {
            context.insert(key.clone(), value.clone());
        }
    }

    /// Resolves when shutdown begins; streams end their responses then.
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut rx = self.shutdown.subscribe();
        async move {
            // An error means the sender is gone: shutting down either way.
            let _ = rx.wait_for(|stopping| *stopping).await;
        }
    }

    /// Begins shutdown: listeners stop accepting, streams end.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}
