//! Where a node's recorders hand what they record (exposures, tracking
//! events, evaluation counts): its store, or, on an evaluation node without
//! one, the Redis streams that nodes with a store consume. Starts each
//! recorder's writer, and reports what the streams' consumers commit to
//! the node's metrics.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context as _;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinSet;

use graphql_admin::consumer::ConsumerObserver;
use provider::server::Recorders;
use provider::server::exposures::{Exposure, ExposureSettings, scopes_of};
use provider::server::outbox::{Commits, OutboxSettings, Sink, SinkError};
use provider::server::stream_sink::{RedisStreamSink, StreamRecord};
use provider::server::tracking::TrackedEvent;
use provider::server::usage::{UsageCount, UsageSettings};
use store::{
    BatchWrite, CountRow, EventRow, ExposureBatch, ExposureRow, ExposureScope, Store, StoreError,
};

/// Where records go.
#[derive(Debug, Clone)]
pub enum Target {
    /// The node's own store.
    Store(Store),
    /// The Redis streams under a prefix.
    Streams {
        /// The Redis URL.
        url: String,
        /// The key prefix.
        prefix: String,
    },
}

/// The writers of a node's recorders, running until [`Writers::stop`].
#[derive(Debug)]
pub struct Writers {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Writers {
    /// Attaches a writer to each of `recorders` and starts it, writing to
    /// `target`; counts are rolled up every `count_interval`. Call before
    /// the listeners serve, so the first request is recorded.
    pub fn start(
        recorders: &Recorders,
        target: &Target,
        count_interval: std::time::Duration,
    ) -> anyhow::Result<Writers> {
        let (stop, stopping) = watch::channel(false);
        let stopped = move || {
            let mut stopping = stopping.clone();
            async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            }
        };
        let mut tasks = JoinSet::new();
        let exposures = ExposureSettings::default();
        if let Some(queue) = recorders.exposures.attach(&exposures) {
            let sink = sink::<Exposure>(recorders, target)?;
            tasks.spawn(Arc::clone(&recorders.exposures).run_writer(
                queue,
                sink,
                exposures,
                stopped(),
            ));
        }
        let events = OutboxSettings::default();
        if let Some(queue) = recorders.tracking.attach(&events) {
            let sink = sink::<TrackedEvent>(recorders, target)?;
            let tracking = Arc::clone(&recorders.tracking);
            let stopped = stopped();
            tasks.spawn(async move {
                tracking
                    .outbox()
                    .write(queue, sink, events, stopped, || {})
                    .await;
            });
        }
        let counts = UsageSettings {
            interval: count_interval,
            ..UsageSettings::default()
        };
        if let Some(queue) = recorders.usage.attach(&counts) {
            let sink = sink::<UsageCount>(recorders, target)?;
            tasks.spawn(Arc::clone(&recorders.usage).run_writer(queue, sink, counts, stopped()));
        }
        Ok(Writers { stop, tasks })
    }

    /// Stops the writers, each once it has written what is left (within
    /// its shutdown deadline).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// The sink of `T` for `target`.
fn sink<T: Stored + StreamRecord>(
    recorders: &Recorders,
    target: &Target,
) -> anyhow::Result<Arc<dyn Sink<T>>> {
    Ok(match target {
        Target::Store(store) => Arc::new(StoreSink {
            store: store.clone(),
            recorders: recorders.clone(),
        }),
        Target::Streams { url, prefix } => Arc::new(
            RedisStreamSink::<T>::new(url, prefix).context("the record streams' Redis URL")?,
        ),
    })
}

/// A record a node's store writes.
#[async_trait::async_trait]
pub trait Stored: Sized + Send + Sync + 'static {
    /// Writes one batch under its id.
    async fn write(store: &Store, batch_id: &str, batch: &[Self])
    -> Result<BatchWrite, StoreError>;
    /// What this node's store commits of these records, in its metrics.
    fn commits(recorders: &Recorders) -> &Commits;
    /// When each record of a written batch began its way to the store
    /// (microseconds since the Unix epoch), for the commit delay; counts,
    /// which a roll-up makes, have none.
    fn started(batch: &[Self]) -> Vec<i64>;
}

/// Writes batches to a store, and records their commit delays in the
/// node's metrics.
#[derive(Debug, Clone)]
pub struct StoreSink {
    store: Store,
    recorders: Recorders,
}

#[async_trait::async_trait]
impl<T: Stored> Sink<T> for StoreSink {
    async fn write(&self, batch_id: &str, batch: &[T]) -> Result<(), SinkError> {
        let written = T::write(&self.store, batch_id, batch)
            .await
            .map_err(|error| SinkError(error.to_string()))?;
        if let BatchWrite::Written { .. } = written {
            T::commits(&self.recorders).committed(T::started(batch));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Stored for Exposure {
    async fn write(
        store: &Store,
        batch_id: &str,
        batch: &[Exposure],
    ) -> Result<BatchWrite, StoreError> {
        store
            .write_exposure_batch(batch_id, &exposure_batch(batch))
            .await
    }

    fn commits(recorders: &Recorders) -> &Commits {
        recorders.exposures.commits()
    }

    fn started(batch: &[Exposure]) -> Vec<i64> {
        batch.iter().map(|e| e.at_micros).collect()
    }
}

#[async_trait::async_trait]
impl Stored for TrackedEvent {
    async fn write(
        store: &Store,
        batch_id: &str,
        batch: &[TrackedEvent],
    ) -> Result<BatchWrite, StoreError> {
        let rows: Vec<EventRow> = batch.iter().map(event_row).collect();
        store.write_events(batch_id, &rows).await
    }

    fn commits(recorders: &Recorders) -> &Commits {
        recorders.tracking.outbox().commits()
    }

    fn started(batch: &[TrackedEvent]) -> Vec<i64> {
        batch.iter().map(|e| e.received_micros).collect()
    }
}

#[async_trait::async_trait]
impl Stored for UsageCount {
    async fn write(
        store: &Store,
        batch_id: &str,
        batch: &[UsageCount],
    ) -> Result<BatchWrite, StoreError> {
        let rows: Vec<CountRow> = batch
            .iter()
            .map(|count| CountRow {
                flag_set: count.flag_set.clone(),
                flag: count.flag.clone(),
                variant: count.variant.clone(),
                reason: count.reason.as_str().to_owned(),
                minute: count.minute,
                count: count.count,
            })
            .collect();
        store.write_evaluation_counts(batch_id, &rows).await
    }

    fn commits(recorders: &Recorders) -> &Commits {
        recorders.usage.outbox().commits()
    }

    fn started(_: &[UsageCount]) -> Vec<i64> {
        Vec::new()
    }
}

/// An event as the store takes it.
fn event_row(event: &TrackedEvent) -> EventRow {
    EventRow {
        flag_set: event.flag_set.to_string(),
        name: event.name.clone(),
        targeting_key: event.targeting_key.clone(),
        value: event.value,
        attributes: event.attributes.clone(),
        occurred_at: from_micros(event.at_micros),
        received_at: from_micros(event.received_micros),
    }
}

fn from_micros(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// Exposures as the store takes a batch: each scope once, and each
/// exposure's key borrowed, not copied.
fn exposure_batch(exposures: &[Exposure]) -> ExposureBatch<'_> {
    let (scopes, indexes) = scopes_of(exposures);
    let mut batch = ExposureBatch::with_capacity(exposures.len());
    for scope in scopes {
        batch.add_scope(ExposureScope {
            flag_set: &scope.flag_set,
            experiment: &scope.experiment,
            flag: &scope.flag,
            variant: &scope.variant,
            flag_set_version: &scope.flag_set_version,
            surface: scope.surface.as_str(),
        });
    }
    for (exposure, scope) in exposures.iter().zip(indexes) {
        batch.push(scope, &exposure.targeting_key, exposure.at_micros);
    }
    batch
}

/// What the streams' consumers commit, on this node's `/metrics`.
#[derive(Debug, Clone)]
pub struct StreamMetrics(pub Recorders);

impl StreamMetrics {
    fn counted(commits: &Commits, rows: impl IntoIterator<Item = i64>) {
        commits.stream_batches.fetch_add(1, Ordering::Relaxed);
        commits.committed(rows);
    }
}

/// Reports a stream consumer's failures to `commits`.
fn poisoned(commits: &Commits) {
    commits.stream_poisoned.fetch_add(1, Ordering::Relaxed);
}

fn store_failed(commits: &Commits) {
    commits
        .stream_store_failures
        .fetch_add(1, Ordering::Relaxed);
}

impl ConsumerObserver<Vec<ExposureRow>> for StreamMetrics {
    fn committed(&self, rows: &Vec<ExposureRow>) {
        let commits = self.0.exposures.commits();
        StreamMetrics::counted(commits, rows.iter().map(|r| micros(r.exposed_at)));
    }

    fn poisoned(&self) {
        poisoned(self.0.exposures.commits());
    }

    fn store_failed(&self) {
        store_failed(self.0.exposures.commits());
    }
}

impl ConsumerObserver<Vec<EventRow>> for StreamMetrics {
    fn committed(&self, rows: &Vec<EventRow>) {
        let commits = self.0.tracking.outbox().commits();
        StreamMetrics::counted(commits, rows.iter().map(|r| micros(r.received_at)));
    }

    fn poisoned(&self) {
        poisoned(self.0.tracking.outbox().commits());
    }

    fn store_failed(&self) {
        store_failed(self.0.tracking.outbox().commits());
    }
}

impl ConsumerObserver<Vec<CountRow>> for StreamMetrics {
    fn committed(&self, _: &Vec<CountRow>) {
        StreamMetrics::counted(self.0.usage.outbox().commits(), []);
    }

    fn poisoned(&self) {
        poisoned(self.0.usage.outbox().commits());
    }

    fn store_failed(&self) {
        store_failed(self.0.usage.outbox().commits());
    }
}
