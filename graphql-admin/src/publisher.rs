//! The publisher: copies each committed version of every flag set from the
//! store to Redis, where the evaluation nodes pick it up.
//!
//! A pass runs after every commit (the caller wakes the publisher through
//! [`Publisher::notifier`]) and every [`PublisherSettings::interval`]
//! (reconciliation). For each flag set that is not archived and whose store
//! version is ahead of what Redis holds, it reads the flag set's document,
//! compiles it with the engine, and, if nothing in it is an error, writes
//! the payload under its versioned key and moves the `latest` pointer
//! forward, adds the flag set to the index and announces the version, all in
//! one Lua script that refuses to move the pointer backwards; then it raises
//! the flag set's `published_version` in the store. Key names and the
//! payload format are [`engine::publication`]'s.
//!
//! Nothing is lost while Redis is down: the store keeps every committed
//! version, and the first pass after Redis is back publishes the latest.
//! Because a pass compares the flag sets the store records as published
//! with what Redis actually holds, a Redis that comes back empty is filled
//! again too. (A flag set whose version is ahead of `published_version` is
//! written without asking Redis first: the script refuses older versions.) A document that no longer compiles (a row edited by hand in
//! SQL) is not published: Redis keeps the last good version, an alert is
//! logged once per version, and the flag set stays pending.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

use bb8_redis::RedisConnectionManager;
use bb8_redis::bb8::{Pool, RunError};
use redis::{RedisError, Script};
use tokio::sync::{Mutex, Notify};

use engine::Diagnostic;
use engine::publication::{
    Announcement, DEFAULT_PREFIX, Keys, Publication, PublicationError, TIMING_TARGET,
    WRITTEN_FORMATS, timestamp_micros,
};

use store::{Document, FlagSetRecord, Store, StoreError};

/// How often a reconciliation pass runs when nothing wakes the publisher.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// How long a superseded payload stays readable, for a reader that read
/// the `latest` pointer just before it moved.
pub const SUPERSEDED_PAYLOAD_TTL: Duration = Duration::from_secs(300);

/// How long a pass waits for a Redis connection before giving up until the
/// next pass.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);

/// Where and how often to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherSettings {
    /// `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS).
    pub redis_url: String,
    /// Prefix of every key and channel; readers must use the same.
    pub prefix: String,
    /// Time between reconciliation passes.
    pub interval: Duration,
}

impl PublisherSettings {
    /// Settings for `redis_url` with the default prefix and interval.
    pub fn new(redis_url: impl Into<String>) -> PublisherSettings {
        PublisherSettings {
            redis_url: redis_url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            interval: DEFAULT_INTERVAL,
        }
    }
}

/// Why a publication pass failed. Nothing is marked published then; the
/// next pass tries again.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The Redis URL does not parse.
    #[error("invalid Redis URL {url}")]
    Url {
        /// The URL, without its password.
        url: String,
        /// The client's complaint.
        #[source]
        source: RedisError,
    },
    /// No connection to Redis could be had.
    #[error("cannot connect to Redis")]
    Connect(#[source] RunError<RedisError>),
    /// A Redis command failed.
    #[error("Redis command failed while publishing {flag_set:?}")]
    Redis {
        /// The flag set being published, or "" for the whole pass.
        flag_set: String,
        /// The client's error.
        #[source]
        source: RedisError,
    },
    /// Reading from or writing to the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A payload could not be encoded.
    #[error("cannot encode {flag_set:?} version {version}")]
    Encode {
        /// The flag set.
        flag_set: String,
        /// Its version.
        version: i64,
        /// Why.
        #[source]
        source: PublicationError,
    },
}

/// A flag set whose store version is ahead of its published version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The flag set's key.
    pub flag_set: String,
    /// Its store version.
    pub version: i64,
    /// The last version published.
    pub published_version: i64,
}

impl Pending {
    /// How many committed versions are not published yet.
    pub fn lag(&self) -> i64 {
        self.version - self.published_version
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// Flag sets whose `latest` pointer this pass moved, with the version.
    pub published: Vec<(String, i64)>,
    /// Flag sets held back because their document does not compile, with
    /// the version refused.
    pub refused: Vec<(String, i64)>,
}

/// Publishes the store's flag sets to Redis. Cheap to clone; clones share
/// the pool and the wake-up signal.
#[derive(Debug, Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    pool: Pool<RedisConnectionManager>,
    keys: Vec<Keys>,
    interval: Duration,
    notify: Arc<Notify>,
    /// One pass at a time per publisher.
    pass: Mutex<()>,
    /// The version last alerted about per flag set, so that a broken
    /// document is reported once, not once per pass.
    alerted: SyncMutex<HashMap<String, i64>>,
    /// Whether the last pass failed to reach Redis, so that an outage is
    /// logged when it starts and when it ends.
    failing: SyncMutex<bool>,
    /// The version this publisher last wrote (or found written) per flag
    /// set, so that a commit made through its store is written once.
    written: SyncMutex<HashMap<String, i64>>,
}

/// Moves a flag set's `latest` pointer to a newer version, atomically with
/// writing that version's payload, indexing the flag set and announcing the
/// version. An older or equal version changes nothing but the index, so
/// two publishers racing can never move the pointer backwards.
///
/// KEYS: latest pointer, new payload key, index.
/// ARGV: version, payload, flag set key, payload key prefix, channel,
/// announcement, superseded payload TTL in milliseconds.
/// Returns 1 when the pointer moved, 0 otherwise.
const PUBLISH_SCRIPT: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local version = tonumber(ARGV[1])
redis.call('SADD', KEYS[3], ARGV[3])
if version <= current then
    return 0
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], ARGV[1])
if current > 0 then
    redis.call('PEXPIRE', ARGV[4] .. current, ARGV[7])
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
";

impl Publisher {
    /// A publisher of `store`'s flag sets to the Redis in `settings`. It
    /// does not connect yet: Redis may be down when the admin side starts.
    pub fn new(store: Store, settings: PublisherSettings) -> Result<Publisher, PublishError> {
        let manager =
            RedisConnectionManager::new(settings.redis_url.as_str()).map_err(|source| {
                PublishError::Url {
                    url: redact::url(&settings.redis_url),
                    source,
                }
            })?;
        let pool = Pool::builder()
            .max_size(4)
            .connection_timeout(CONNECTION_TIMEOUT)
            .build_unchecked(manager);
        Ok(Publisher {
            inner: Arc::new(Inner {
                store,
                pool,
                keys: WRITTEN_FORMATS
                    .iter()
                    .map(|&format| Keys::new(&settings.prefix, format))
                    .collect(),
                interval: settings.interval,
                notify: Arc::new(Notify::new()),
                pass: Mutex::new(()),
                alerted: SyncMutex::new(HashMap::new()),
                failing: SyncMutex::new(false),
                written: SyncMutex::new(HashMap::new()),
            }),
        })
    }

    /// The signal to trigger after each commit: `notify_one()` wakes
    /// [`Publisher::run`] for a pass (a signal sent during a pass causes
    /// one more).
    pub fn notifier(&self) -> Arc<Notify> {
        Arc::clone(&self.inner.notify)
    }

    /// The flag sets whose committed versions are not all published yet:
    /// the publication lag.
    pub async fn pending(&self) -> Result<Vec<Pending>, PublishError> {
        Ok(self
            .inner
            .store
            .unpublished_flag_sets()
            .await?
            .into_iter()
            .map(|set| Pending {
                flag_set: set.key,
                version: set.version,
                published_version: set.published_version,
            })
            .collect())
    }

    /// Publishes on every wake-up and every interval until `shutdown`
    /// completes. Failures are logged; the next pass retries.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut tick = tokio::time::interval(self.inner.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let notify = Arc::clone(&self.inner.notify);
        tracing::info!(interval = ?self.inner.interval, "Publisher started.");
        loop {
            tokio::select! {
                () = notify.notified() => {}
                _ = tick.tick() => {}
                () = &mut shutdown => break,
            }
            let _ = self.publish_pending().await;
        }
        tracing::info!("Publisher stopped.");
    }

    /// Runs one pass: publishes every flag set whose store version is ahead
    /// of Redis, and records what was published. Logs what it did.
    pub async fn publish_pending(&self) -> Result<Pass, PublishError> {
        let _pass = self.inner.pass.lock().await;
        let result = self.pass().await;
        let was_failing = {
            let mut failing = self
                .inner
                .failing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            std::mem::replace(&mut *failing, result.is_err())
        };
        match &result {
            Ok(pass) => {
                if was_failing {
                    tracing::info!("Publishing again.");
                }
                for (flag_set, version) in &pass.published {
                    tracing::info!(%flag_set, version, "Flag set published.");
                }
            }
            Err(error) if !was_failing => {
                tracing::warn!(
                    error = %error_chain(error),
                    "Publishing failed; committed versions wait in the store until the next pass."
                );
            }
            Err(error) => {
                tracing::debug!(error = %error_chain(error), "Publishing still failing.");
            }
        }
        result
    }

    async fn pass(&self) -> Result<Pass, PublishError> {
        let woke = timestamp_micros();
        let inner = &self.inner;
        let mut connection = inner.pool.get().await.map_err(PublishError::Connect)?;
        let connection = &mut *connection;
        let mut pass = Pass::default();

        // Commits made through this store go first: their documents are in
        // memory, so they reach the nodes without waiting for the list of
        // flag sets. The full pass below then finds them written (or
        // refuses them, if they do not compile).
        for (flag_set, version) in inner.store.committed_versions() {
            if self.written_version(&flag_set) < version {
                let first = Attempt::Committed { woke };
                self.publish(connection, &flag_set, version, first, &mut pass)
                    .await?;
            }
        }

        let sets = inner.store.flag_sets().await?;
        let (archived, live): (Vec<FlagSetRecord>, Vec<FlagSetRecord>) =
            sets.into_iter().partition(|set| set.archived);
        let whole_pass = |source| PublishError::Redis {
            flag_set: String::new(),
            source,
        };

        if !archived.is_empty() {
            let keys: Vec<&str> = archived.iter().map(|set| set.key.as_str()).collect();
            for names in &inner.keys {
                redis::cmd("SREM")
                    .arg(names.index())
                    .arg(&keys)
                    .query_async::<()>(connection)
                    .await
                    .map_err(whole_pass)?;
            }
        }
        if live.is_empty() {
            return Ok(pass);
        }

        // What Redis holds: the lowest `latest` version over the formats,
        // asked only for the flag sets the store records as published (to
        // fill a Redis that lost them again). A flag set with a newer
        // version is written without asking: the script moves nothing
        // backwards, and a commit reaches the nodes a round trip sooner.
        let mut held: Vec<i64> = live
            .iter()
            .map(|set| {
                if set.published_version < set.version {
                    0
                } else {
                    i64::MAX
                }
            })
            .collect();
        let published: Vec<usize> = (0..live.len()).filter(|&i| held[i] > 0).collect();
        if !published.is_empty() {
            for names in &inner.keys {
                let pointers: Vec<String> = published
                    .iter()
                    .map(|&i| names.latest(&live[i].key))
                    .collect();
                let versions: Vec<Option<i64>> = redis::cmd("MGET")
                    .arg(&pointers)
                    .query_async(connection)
                    .await
                    .map_err(whole_pass)?;
                for (&i, version) in published.iter().zip(versions) {
                    held[i] = held[i].min(version.unwrap_or(0));
                }
            }
        }

        for (set, held) in live.iter().zip(held) {
            if set.version <= held {
                if set.published_version < set.version {
                    // Published by another admin node, or by a pass that
                    // stopped before recording it.
                    inner.store.mark_published(&set.key, set.version).await?;
                }
                self.record_written(&set.key, set.version);
                continue;
            }
            let attempt = Attempt::Behind { held, woke };
            self.publish(connection, &set.key, set.version, attempt, &mut pass)
                .await?;
        }
        Ok(pass)
    }

    /// Publishes flag set `flag_set` at `version` (or at the later version
    /// the store holds when it has to read the document) as `attempt`
    /// says, and records the outcome in `pass`.
    async fn publish(
        &self,
        connection: &mut redis::aio::MultiplexedConnection,
        flag_set: &str,
        version: i64,
        attempt: Attempt,
        pass: &mut Pass,
    ) -> Result<(), PublishError> {
        let inner = &self.inner;
        let Document {
            version,
            content: document,
            errors,
            access,
        } = inner.store.document_to_publish(flag_set, version).await?;
        let (held, woke) = match attempt {
            Attempt::Committed { woke } => (0, woke),
            Attempt::Behind { held, woke } => (held, woke),
        };
        if version <= held {
            return Ok(());
        }
        if !errors.is_empty() {
            if let Attempt::Committed { .. } = attempt {
                return Ok(());
            }
            self.alert(flag_set, version, &errors);
            pass.refused.push((flag_set.to_owned(), version));
            return Ok(());
        }
        let read = timestamp_micros();
        let publication =
            Publication::new(flag_set.to_owned(), version, document).with_access(access);
        let mut moved = false;
        for names in &inner.keys {
            moved |= self.write(connection, names, &publication).await?;
        }
        tracing::debug!(
            target: TIMING_TARGET,
            %flag_set,
            version,
            woke_us = woke,
            read_us = read,
            written_us = timestamp_micros(),
            "Publication written."
        );
        self.record_written(flag_set, version);
        inner.store.mark_published(flag_set, version).await?;
        if moved {
            pass.published.push((flag_set.to_owned(), version));
        }
        Ok(())
    }

    /// The version this publisher last wrote or found written for
    /// `flag_set`; 0 for none.
    fn written_version(&self, flag_set: &str) -> i64 {
        let written = self
            .inner
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        written.get(flag_set).copied().unwrap_or(0)
    }

    fn record_written(&self, flag_set: &str, version: i64) {
        let mut written = self
            .inner
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let held = written.entry(flag_set.to_owned()).or_insert(0);
        *held = (*held).max(version);
    }

    /// Runs the publish script for one format. Returns whether the pointer
    /// moved.
    async fn write(
        &self,
        connection: &mut redis::aio::MultiplexedConnection,
        names: &Keys,
        publication: &Publication,
    ) -> Result<bool, PublishError> {
        let flag_set = &publication.flag_set;
        let version = publication.version;
        let payload =
            publication
                .encode(names.format())
                .map_err(|source| PublishError::Encode {
                    flag_set: flag_set.clone(),
                    version,
                    source,
                })?;
        let announcement = Announcement {
            flag_set: flag_set.clone(),
            version,
        }
        .encode();
        let ttl = u64::try_from(SUPERSEDED_PAYLOAD_TTL.as_millis()).unwrap_or(u64::MAX);
        let moved: i64 = Script::new(PUBLISH_SCRIPT)
            .key(names.latest(flag_set))
            .key(names.payload(flag_set, version))
            .key(names.index())
            .arg(version)
            .arg(payload)
            .arg(flag_set)
            .arg(names.payload_prefix(flag_set))
            .arg(names.channel())
            .arg(announcement)
            .arg(ttl)
            .invoke_async(connection)
            .await
            .map_err(|source| PublishError::Redis {
                flag_set: flag_set.clone(),
                source,
            })?;
        Ok(moved == 1)
    }

    /// Logs, once per version, that a flag set's document does not compile.
    fn alert(&self, flag_set: &str, version: i64, errors: &[Diagnostic]) {
        let mut alerted = self
            .inner
            .alerted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if alerted.get(flag_set) == Some(&version) {
            return;
        }
        alerted.insert(flag_set.to_owned(), version);
        let diagnostics = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        tracing::warn!(
            alert = true,
            %flag_set,
            version,
            %diagnostics,
            "Flag set does not compile; evaluation nodes keep its last published version."
        );
    }
}

/// Why a pass publishes a flag set.
#[derive(Debug, Clone, Copy)]
enum Attempt {
    /// This store committed the version: its document is in memory, and one
    /// that does not compile is left to the full pass, which refuses it.
    Committed {
        /// When the pass started, as a [`timestamp_micros`].
        woke: u64,
    },
    /// The store's version is ahead of `held`, the lowest version Redis
    /// holds over the formats.
    Behind {
        /// The lowest version Redis holds; 0 when not asked.
        held: i64,
        /// When the pass started, as a [`timestamp_micros`].
        woke: u64,
    },
}

/// An error with its causes, for one log line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use store::publication_errors;

    use super::*;

    #[test]
    fn only_errors_hold_a_document_back() {
        let good = json!({"flags": {"a": {
            "state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"
        }}});
        assert_eq!(publication_errors(&good), vec![]);
        let broken = json!({"flags": {"a": {
            "state": "ENABLED", "variants": {"on": true}, "defaultVariant": "missing"
        }}});
        let found = publication_errors(&broken);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].flag_key.as_deref(), Some("a"));
        assert_eq!(publication_errors(&json!([])).len(), 1);
    }

    #[test]
    fn settings_default_to_the_shared_prefix_and_a_second() {
        let settings = PublisherSettings::new("redis://127.0.0.1:6379");
        assert_eq!(settings.prefix, "ensign");
        assert_eq!(settings.interval, Duration::from_secs(1));
    }
}
