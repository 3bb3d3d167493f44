//! The streams' consumer: every node with a store and a Redis reads the
//! batches evaluation nodes append ([`engine::streams`]: exposures,
//! tracking events, evaluation counts) in each stream's consumer group and
//! writes each to the store with its id, in one transaction, before it
//! acknowledges (`XACK`) and deletes (`XDEL`) it.
//!
//! A batch the store cannot take now (PostgreSQL down) stays pending with
//! this consumer and is read again, first thing, once the store is back.
//! Entries a crashed consumer left pending are claimed (`XAUTOCLAIM`) once
//! idle for [`CLAIM_IDLE_MS`]. Since the store writes a batch id once, an
//! entry delivered twice is written once. An entry that can never be
//! written (not a batch, or a batch the store refuses as invalid) is
//! logged, counted and removed, so it cannot block the stream.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use engine::streams::exposures::{self, StreamBatch};
use engine::streams::{CLAIM_IDLE_MS, counts, events};
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use redis::{AsyncConnectionConfig, Client, RedisError};
use store::{BatchWrite, CountRow, EventRow, ExposureRow, Store, StoreError};
use time::OffsetDateTime;

/// A kind of record that evaluation nodes append to a stream of its own.
#[async_trait::async_trait]
pub trait StreamKind: Send + Sync + 'static {
    /// One batch's rows, as the store takes them.
    type Rows: Send + Sync;
    /// What the records are called in logs.
    const WHAT: &'static str;
    /// The entry format read.
    const FORMAT: u32;
    /// The consumer group.
    const GROUP: &'static str;
    /// The stream's key under `prefix`.
    fn stream_key(prefix: &str) -> String;
    /// The rows of a batch's text, or why it is not such a batch.
    fn decode(text: &str) -> Result<Self::Rows, String>;
    /// Writes one batch under its id, in one transaction.
    async fn write(
        store: &Store,
        batch_id: &str,
        rows: &Self::Rows,
    ) -> Result<BatchWrite, StoreError>;
}

/// The exposure stream.
#[derive(Debug)]
pub struct ExposureStream;

#[async_trait::async_trait]
impl StreamKind for ExposureStream {
    type Rows = Vec<ExposureRow>;
    const WHAT: &'static str = "exposures";
    const FORMAT: u32 = exposures::FORMAT;
    const GROUP: &'static str = exposures::GROUP;

    fn stream_key(prefix: &str) -> String {
        exposures::stream_key(prefix)
    }

    fn decode(text: &str) -> Result<Vec<ExposureRow>, String> {
        let batch: StreamBatch = serde_json::from_str(text)
            .map_err(|error| format!("the batch is not exposures: {error}"))?;
        let read = batch
            .into_exposures()
            .map_err(|error| format!("the batch is not exposures: {error}"))?;
        Ok(read
            .into_iter()
            .map(|e| ExposureRow {
                exposed_at: from_micros(e.at),
                flag_set: e.flag_set.into_owned(),
                experiment: e.experiment.into_owned(),
                flag: e.flag.into_owned(),
                variant: e.variant.into_owned(),
                targeting_key: e.targeting_key.into_owned(),
                flag_set_version: e.flag_set_version.into_owned(),
                surface: e.surface.into_owned(),
            })
            .collect())
    }

    async fn write(
        store: &Store,
        batch_id: &str,
        rows: &Vec<ExposureRow>,
    ) -> Result<BatchWrite, StoreError> {
        store.write_exposures(batch_id, rows).await
    }
}

/// The consumer of the exposure stream.
pub type ExposureConsumer = StreamConsumer<ExposureStream>;

/// The tracking event stream.
#[derive(Debug)]
pub struct EventStream;

#[async_trait::async_trait]
impl StreamKind for EventStream {
    type Rows = Vec<EventRow>;
    const WHAT: &'static str = "events";
    const FORMAT: u32 = events::FORMAT;
    const GROUP: &'static str = events::GROUP;

    fn stream_key(prefix: &str) -> String {
        events::stream_key(prefix)
    }

    fn decode(text: &str) -> Result<Vec<EventRow>, String> {
        let batch: events::EventBatch = serde_json::from_str(text)
            .map_err(|error| format!("the batch is not events: {error}"))?;
        Ok(batch
            .events
            .into_iter()
            .map(|e| EventRow {
                flag_set: e.flag_set.into_owned(),
                name: e.name.into_owned(),
                targeting_key: e.targeting_key.into_owned(),
                value: e.value,
                attributes: e.attributes.into_owned(),
                occurred_at: from_micros(e.at),
                received_at: from_micros(e.received),
            })
            .collect())
    }

    async fn write(
        store: &Store,
        batch_id: &str,
        rows: &Vec<EventRow>,
    ) -> Result<BatchWrite, StoreError> {
        store.write_events(batch_id, rows).await
    }
}

/// The consumer of the tracking event stream.
pub type EventConsumer = StreamConsumer<EventStream>;

/// The evaluation count stream.
#[derive(Debug)]
pub struct CountStream;

#[async_trait::async_trait]
impl StreamKind for CountStream {
    type Rows = Vec<CountRow>;
    const WHAT: &'static str = "evaluation counts";
    const FORMAT: u32 = counts::FORMAT;
    const GROUP: &'static str = counts::GROUP;

    fn stream_key(prefix: &str) -> String {
        counts::stream_key(prefix)
    }

    fn decode(text: &str) -> Result<Vec<CountRow>, String> {
        let batch: counts::CountBatch = serde_json::from_str(text)
            .map_err(|error| format!("the batch is not evaluation counts: {error}"))?;
        Ok(batch
            .counts
            .into_iter()
            .map(|c| CountRow {
                flag_set: c.flag_set.into_owned(),
                flag: c.flag.into_owned(),
                variant: c.variant.into_owned(),
                reason: c.reason.into_owned(),
                minute: c.minute,
                count: c.count,
            })
            .collect())
    }

    async fn write(
        store: &Store,
        batch_id: &str,
        rows: &Vec<CountRow>,
    ) -> Result<BatchWrite, StoreError> {
        store.write_evaluation_counts(batch_id, rows).await
    }
}

/// The consumer of the evaluation count stream.
pub type CountConsumer = StreamConsumer<CountStream>;

/// A time given in microseconds since the Unix epoch.
fn from_micros(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// How a node consumes a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSettings {
    /// The Redis URL.
    pub url: String,
    /// The key prefix (the publisher's).
    pub prefix: String,
    /// This consumer's name in the group: unique per node.
    pub name: String,
    /// Entries read at a time.
    pub count: usize,
    /// How long a read waits for new entries.
    pub block: Duration,
    /// How long an entry stays pending with another consumer before this
    /// one claims it.
    pub claim_idle: Duration,
}

impl ConsumerSettings {
    /// The defaults for the Redis at `url` under `prefix`, with a random
    /// consumer name.
    pub fn new(url: String, prefix: String) -> ConsumerSettings {
        let name = format!("node-{:016x}", rand_id());
        ConsumerSettings {
            url,
            prefix,
            name,
            count: 16,
            block: Duration::from_secs(1),
            claim_idle: Duration::from_millis(CLAIM_IDLE_MS),
        }
    }
}

/// What the consumer did, for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct ConsumerCounts {
    /// Batches written to the store (or found written before).
    pub batches: AtomicU64,
    /// Entries removed unwritten because they can never be written.
    pub poisoned: AtomicU64,
    /// Store writes that failed and will be retried.
    pub store_failures: AtomicU64,
}

/// Told of what the consumer does, for the node's metrics.
pub trait ConsumerObserver<R>: Send + Sync + std::fmt::Debug {
    /// A batch's rows were committed (or had been before: then they are
    /// not reported).
    fn committed(&self, rows: &R);
    /// An entry that can never be written was removed.
    fn poisoned(&self);
    /// The store could not take a batch; it stays pending.
    fn store_failed(&self);
}

/// Why a pass over the stream stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// Redis failed or could not be reached.
    #[error("Redis: {0}")]
    Redis(#[from] RedisError),
    /// The store could not take a batch; it stays pending.
    #[error("the store could not take batch {batch}: {error}")]
    Store {
        /// The batch id.
        batch: String,
        /// Why.
        #[source]
        error: StoreError,
    },
}

/// Consumes one stream into a store.
#[derive(Debug)]
pub struct StreamConsumer<K: StreamKind> {
    store: Store,
    client: Client,
    stream: String,
    settings: ConsumerSettings,
    counts: ConsumerCounts,
    observer: Option<Arc<dyn ConsumerObserver<K::Rows>>>,
}

impl<K: StreamKind> StreamConsumer<K> {
    /// A consumer writing to `store`.
    pub fn new(store: Store, settings: ConsumerSettings) -> Result<StreamConsumer<K>, RedisError> {
        let client = Client::open(settings.url.as_str())?;
        Ok(StreamConsumer {
            store,
            client,
            stream: K::stream_key(&settings.prefix),
            settings,
            counts: ConsumerCounts::default(),
            observer: None,
        })
    }

    /// Tells `observer` what the consumer does.
    pub fn observed_by(mut self, observer: Arc<dyn ConsumerObserver<K::Rows>>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The counters.
    pub fn counts(&self) -> &ConsumerCounts {
        &self.counts
    }

    /// Consumes until `stop` resolves, reconnecting with backoff after a
    /// failure.
    pub async fn run(self, stop: impl Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        let mut backoff = Duration::from_millis(200);
        loop {
            let failed = tokio::select! {
                () = &mut stop => return,
                result = self.session() => result,
            };
            let error = match failed {
                Ok(never) => match never {},
                Err(error) => error,
            };
            tracing::warn!(%error, retry_in = ?backoff, what = K::WHAT, "Consuming a stream failed; retrying.");
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }

    async fn session(&self) -> Result<std::convert::Infallible, ConsumerError> {
        let mut connection = self.connect().await?;
        loop {
            self.pass(&mut connection, Some(self.settings.block))
                .await?;
        }
    }

    /// Connects and makes sure the group exists.
    pub async fn connect(&self) -> Result<MultiplexedConnection, ConsumerError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(self.settings.block + Duration::from_secs(2)));
        let mut connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        // From the start of the stream: batches added before any consumer
        // existed are written too.
        let created: Result<(), RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(K::GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut connection)
            .await;
        match created {
            Err(error) if error.code() != Some("BUSYGROUP") => return Err(error.into()),
            _ => {}
        }
        Ok(connection)
    }

    /// One pass: this consumer's pending entries first, then entries
    /// claimed from idle consumers, then new ones (waiting up to `block`
    /// for them, or not at all). Answers how many entries it handled.
    pub async fn pass(
        &self,
        connection: &mut MultiplexedConnection,
        block: Option<Duration>,
    ) -> Result<usize, ConsumerError> {
        let pending = self.read(connection, "0", None).await?;
        if !pending.is_empty() {
            return self.handle(connection, pending).await;
        }
        let claimed: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(K::GROUP)
            .arg(&self.settings.name)
            .arg(u64::try_from(self.settings.claim_idle.as_millis()).unwrap_or(u64::MAX))
            .arg("0-0")
            .arg("COUNT")
            .arg(self.settings.count)
            .query_async(connection)
            .await?;
        if !claimed.claimed.is_empty() {
            return self.handle(connection, claimed.claimed).await;
        }
        let fresh = self.read(connection, ">", block).await?;
        self.handle(connection, fresh).await
    }

    async fn read(
        &self,
        connection: &mut MultiplexedConnection,
        from: &str,
        block: Option<Duration>,
    ) -> Result<Vec<StreamId>, ConsumerError> {
        let mut command = redis::cmd("XREADGROUP");
        command
            .arg("GROUP")
            .arg(K::GROUP)
            .arg(&self.settings.name)
            .arg("COUNT")
            .arg(self.settings.count);
        if let Some(block) = block {
            command
                .arg("BLOCK")
                .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX));
        }
        command.arg("STREAMS").arg(&self.stream).arg(from);
        let reply: Option<StreamReadReply> = command.query_async(connection).await?;
        Ok(reply
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
            .collect())
    }

    async fn handle(
        &self,
        connection: &mut MultiplexedConnection,
        entries: Vec<StreamId>,
    ) -> Result<usize, ConsumerError> {
        let handled = entries.len();
        for entry in entries {
            match batch::<K>(&entry) {
                Ok((batch_id, rows)) => match K::write(&self.store, &batch_id, &rows).await {
                    Ok(written) => {
                        self.counts.batches.fetch_add(1, Ordering::Relaxed);
                        if let (Some(observer), BatchWrite::Written { .. }) =
                            (&self.observer, written)
                        {
                            observer.committed(&rows);
                        }
                    }
                    Err(error @ StoreError::InvalidInput { .. }) => {
                        self.poison(&entry.id, &error.to_string());
                    }
                    Err(error) => {
                        self.counts.store_failures.fetch_add(1, Ordering::Relaxed);
                        if let Some(observer) = &self.observer {
                            observer.store_failed();
                        }
                        return Err(ConsumerError::Store {
                            batch: batch_id,
                            error,
                        });
                    }
                },
                Err(reason) => self.poison(&entry.id, &reason),
            }
            // Written (or never writable): acknowledged and removed.
            redis::pipe()
                .cmd("XACK")
                .arg(&self.stream)
                .arg(K::GROUP)
                .arg(&entry.id)
                .ignore()
                .cmd("XDEL")
                .arg(&self.stream)
                .arg(&entry.id)
                .ignore()
                .query_async::<()>(connection)
                .await?;
        }
        Ok(handled)
    }

    fn poison(&self, entry: &str, reason: &str) {
        self.counts.poisoned.fetch_add(1, Ordering::Relaxed);
        if let Some(observer) = &self.observer {
            observer.poisoned();
        }
        tracing::error!(
            entry,
            reason,
            what = K::WHAT,
            "A stream entry can never be written; it is removed."
        );
    }
}

/// The batch id and rows of a stream entry, or why it is not a batch.
fn batch<K: StreamKind>(entry: &StreamId) -> Result<(String, K::Rows), String> {
    let id: String = entry.get("id").ok_or("the entry has no batch id")?;
    let format: u32 = entry.get("format").ok_or("the entry has no format")?;
    if format != K::FORMAT {
        return Err(format!("the entry's format is {format}, not {}", K::FORMAT));
    }
    let text: String = entry.get("batch").ok_or("the entry has no batch")?;
    Ok((id, K::decode(&text)?))
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}
