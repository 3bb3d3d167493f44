//! Flag sets from Redis, as the admin side's publisher writes them (key
//! names and payload format: [`engine::publication`]).
//!
//! At start the source reads the index, each flag set's `latest` pointer
//! and the payloads they name, and loads them all as one state of several
//! flag sets. It then follows the announcement channel on a dedicated
//! pub/sub connection, fetching a flag set's latest version when one newer
//! than what it holds is announced, and reconciles with Redis every
//! interval, in case an announcement was missed. A lost connection is
//! re-opened with capped exponential backoff, and every failure (Redis
//! unreachable, a payload of an unknown format, ...) is logged and counted
//! while the last good state stays served. Versions never go back: an
//! announcement or pointer older than what the source holds is ignored, and
//! a Redis that comes back empty (restarted without persistence) leaves the
//! state as it is until the publisher fills it again.
//!
//! After each state it loads, the source writes it to its snapshot file, if
//! it has one (a temporary file renamed over the old one, so a crash leaves
//! either the old file or the new). When Redis cannot be reached at start,
//! the source serves that file, and counts as loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{MultiplexedConnection, PubSubStream};
use ::redis::{AsyncConnectionConfig, Client, RedisError};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use tracing::Instrument as _;

use engine::publication::{
    Announcement, FORMAT, Keys, Publication, PublicationError, READABLE_FORMATS, TIMING_TARGET,
    choose_format, timestamp_micros,
};

use crate::server::sources::Loader;

/// Follows source `index` in the Redis at `url`, under `prefix`, until
/// `shutdown` resolves.
pub async fn run(
    loader: Arc<Loader>,
    index: usize,
    url: String,
    prefix: String,
    snapshot: Option<PathBuf>,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    if url.starts_with("rediss://") {
        crate::tls::ensure_crypto_provider();
    }
    let client = match Client::open(url.as_str()) {
        Ok(client) => Some(client),
        Err(error) => {
            loader.failed(index, &format!("invalid Redis URL: {error}"));
            None
        }
    };
    let mut follower = Follower {
        loader,
        index,
        prefix,
        snapshot,
        interval,
        held: BTreeMap::new(),
        loaded: false,
        empty_warned: false,
    };
    let Some(client) = client else {
        follower
            .serve_snapshot_file("the Redis URL is invalid")
            .await;
        shutdown.await;
        return;
    };
    let mut backoff = BACKOFF.0;
    loop {
        tokio::select! {
            error = follower.follow(&client, &mut backoff) => {
                follower.loader.failed(follower.index, &format!("following Redis: {error}"));
            }
            () = &mut shutdown => return,
        }
        if !follower.loaded {
            follower.serve_snapshot_file("Redis is unreachable").await;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = &mut shutdown => return,
        }
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

/// First and longest wait between reconnection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(10));

/// How long connecting, subscribing and each command may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Why following Redis stopped; the source reconnects.
#[derive(Debug, thiserror::Error)]
enum FollowError {
    /// A connection or command failed.
    #[error(transparent)]
    Redis(#[from] RedisError),
    /// Redis did not answer in time.
    #[error("Redis did not answer {what} within {TIMEOUT:?}")]
    Timeout {
        /// What was asked.
        what: &'static str,
    },
    /// The subscription's connection closed.
    #[error("the announcement subscription was closed")]
    SubscriptionClosed,
}

/// One source's view of Redis.
struct Follower {
    loader: Arc<Loader>,
    index: usize,
    prefix: String,
    snapshot: Option<PathBuf>,
    interval: Duration,
    /// The latest payload of each flag set served.
    held: BTreeMap<String, Publication>,
    /// Whether a state was loaded (from Redis or the snapshot file).
    loaded: bool,
    /// Whether an empty Redis was reported, so that it is reported once.
    empty_warned: bool,
}

impl Follower {
    /// Connects, subscribes, reconciles, then follows announcements and
    /// reconciles every interval, until something fails.
    async fn follow(&mut self, client: &Client, backoff: &mut Duration) -> FollowError {
        match self.session(client, backoff).await {
            Ok(never) => match never {},
            Err(error) => error,
        }
    }

    async fn session(
        &mut self,
        client: &Client,
        backoff: &mut Duration,
    ) -> Result<std::convert::Infallible, FollowError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let mut connection = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let keys = self.choose_keys(&mut connection).await?;
        let mut messages = subscribe(client, &keys).await?;
        self.reconcile(&mut connection, &keys).await?;
        *backoff = BACKOFF.0;
        tracing::info!(
            source = %self.loader.name(self.index),
            channel = %keys.channel(),
            "Following Redis."
        );
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + self.interval, self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = messages.next() => {
                    let message = message.ok_or(FollowError::SubscriptionClosed)?;
                    let announced = timestamp_micros();
                    match Announcement::decode(message.get_payload_bytes()) {
                        Ok(announcement) => {
                            if announcement.version > self.version(&announcement.flag_set) {
                                self.fetch(&mut connection, &keys, &announcement, announced)
                                    .await?;
                            }
                        }
                        Err(error) => self.loader.failed(self.index, &error.to_string()),
                    }
                }
                _ = tick.tick() => self.reconcile(&mut connection, &keys).await?,
            }
        }
    }

    /// The names of the newest format writers publish that this build
    /// reads (the current format when none is published yet).
    async fn choose_keys(
        &self,
        connection: &mut MultiplexedConnection,
    ) -> Result<Keys, FollowError> {
        let mut published = Vec::new();
        for &format in READABLE_FORMATS {
            let exists: bool = ::redis::cmd("EXISTS")
                .arg(Keys::new(&self.prefix, format).index())
                .query_async(connection)
                .await?;
            if exists {
                published.push(format);
            }
        }
        let format = choose_format(&published).unwrap_or(FORMAT);
        Ok(Keys::new(&self.prefix, format))
    }

    /// The version held for `flag_set` (0 when none).
    fn version(&self, flag_set: &str) -> i64 {
        self.held.get(flag_set).map_or(0, |p| p.version)
    }

    /// Brings the state up to what Redis holds: new and newer flag sets
    /// are fetched, flag sets gone from the index are dropped.
    async fn reconcile(
        &mut self,
        connection: &mut MultiplexedConnection,
        keys: &Keys,
    ) -> Result<(), FollowError> {
        let members: Vec<String> = ::redis::cmd("SMEMBERS")
            .arg(keys.index())
            .query_async(connection)
            .await?;
        if members.is_empty() {
            if !self.held.is_empty() && !self.empty_warned {
                self.empty_warned = true;
                tracing::warn!(
                    source = %self.loader.name(self.index),
                    index = %keys.index(),
                    "Redis holds no flag sets; keeping the last good state until they are published again."
                );
            }
            if !self.loaded && !self.serve_snapshot_file("Redis holds no flag sets").await {
                // Nothing published yet and nothing known before: the node
                // stays not ready until the first publication (announced,
                // or found by reconciliation), rather than serving no flags
                // as if that were the admin side's state.
                tracing::debug!(
                    source = %self.loader.name(self.index),
                    "Redis holds no flag sets yet; waiting for a first publication."
                );
            }
            return Ok(());
        }
        self.empty_warned = false;
        let pointers: Vec<Option<i64>> = ::redis::cmd("MGET")
            .arg(
                members
                    .iter()
                    .map(|set| keys.latest(set))
                    .collect::<Vec<_>>(),
            )
            .query_async(connection)
            .await?;
        let newer: Vec<(&String, i64)> = members
            .iter()
            .zip(pointers)
            .filter_map(|(set, pointer)| pointer.map(|version| (set, version)))
            .filter(|&(set, version)| version > self.version(set))
            .collect();
        let mut changed = false;
        if !newer.is_empty() {
            let payloads: Vec<Option<Vec<u8>>> = ::redis::cmd("MGET")
                .arg(
                    newer
                        .iter()
                        .map(|&(set, version)| keys.payload(set, version))
                        .collect::<Vec<_>>(),
                )
                .query_async(connection)
                .await?;
            for ((set, version), payload) in newer.into_iter().zip(payloads) {
                changed |= self.accept(set, version, payload);
            }
        }
        let before = self.held.len();
        self.held.retain(|set, _| members.contains(set));
        changed |= self.held.len() != before;
        if changed || !self.loaded {
            self.apply().await;
        }
        Ok(())
    }

    /// Fetches one flag set's latest version, if it is newer than the one
    /// held, on its `announcement` received at `announced` (a
    /// [`timestamp_micros`]). The pointer and the announced version's
    /// payload are read in one round trip; only when the pointer has moved
    /// past the announcement (a newer one is on its way) is the newer
    /// payload read after it.
    async fn fetch(
        &mut self,
        connection: &mut MultiplexedConnection,
        keys: &Keys,
        announcement: &Announcement,
        announced: u64,
    ) -> Result<(), FollowError> {
        let flag_set = announcement.flag_set.as_str();
        let (pointer, announced_payload): (Option<i64>, Option<Vec<u8>>) = ::redis::pipe()
            .cmd("GET")
            .arg(keys.latest(flag_set))
            .cmd("GET")
            .arg(keys.payload(flag_set, announcement.version))
            .query_async(connection)
            .await?;
        let Some(version) = pointer.filter(|&v| v > self.version(flag_set)) else {
            return Ok(());
        };
        let payload = if version == announcement.version {
            announced_payload
        } else {
            ::redis::cmd("GET")
                .arg(keys.payload(flag_set, version))
                .query_async(connection)
                .await?
        };
        let fetched = timestamp_micros();
        if self.accept(flag_set, version, payload) {
            // The loader's timing events of this load carry the version.
            let span =
                tracing::debug_span!(target: TIMING_TARGET, "announcement", %flag_set, version);
            async {
                tracing::debug!(
                    target: TIMING_TARGET,
                    announced_us = announced,
                    fetched_us = fetched,
                    "Payload fetched."
                );
                self.apply().await;
            }
            .instrument(span)
            .await;
        }
        Ok(())
    }

    /// Takes a payload read for `flag_set` at `version`. Returns whether the
    /// state changed; a missing or unreadable payload is counted and the
    /// flag set keeps its last good version.
    fn accept(&mut self, flag_set: &str, version: i64, payload: Option<Vec<u8>>) -> bool {
        let Some(payload) = payload else {
            self.loader.failed(
                self.index,
                &format!("{flag_set} version {version}: the payload is missing"),
            );
            return false;
        };
        match Publication::decode_expected(&payload, flag_set, version) {
            Ok(publication) => {
                self.held.insert(flag_set.to_owned(), publication);
                true
            }
            Err(error) => {
                self.loader.failed(self.index, &error.to_string());
                false
            }
        }
    }

    /// Loads the state held and writes it to the snapshot file.
    async fn apply(&mut self) {
        self.load().await;
        if let Some(path) = &self.snapshot
            && let Err(error) = write_snapshot(path, self.held.values()).await
        {
            tracing::warn!(
                source = %self.loader.name(self.index),
                path = %path.display(),
                %error,
                "Cannot write the Redis source's snapshot file."
            );
        }
    }

    /// Hands the state held to the loader.
    async fn load(&mut self) {
        let documents = self
            .held
            .values()
            .map(|p| (p.flag_set.clone(), p.document.clone()))
            .collect();
        // The loader counts and logs documents that do not parse.
        let _ = self.loader.load_sets(self.index, documents).await;
        let access = self
            .held
            .values()
            .map(|p| (p.flag_set.clone(), p.access.clone()))
            .collect();
        self.loader.set_access(self.index, access);
        self.loaded = true;
    }

    /// Serves the snapshot file, if there is one, because of `reason`.
    /// Returns whether it did.
    async fn serve_snapshot_file(&mut self, reason: &str) -> bool {
        let Some(path) = self.snapshot.clone() else {
            return false;
        };
        match read_snapshot(&path).await {
            Ok(Some(publications)) => {
                self.held = publications
                    .into_iter()
                    .map(|p| (p.flag_set.clone(), p))
                    .collect();
                self.load().await;
                tracing::info!(
                    source = %self.loader.name(self.index),
                    path = %path.display(),
                    flag_sets = self.held.len(),
                    %reason,
                    "Serving the last state from the snapshot file."
                );
                true
            }
            Ok(None) => false,
            Err(error) => {
                self.loader.failed(
                    self.index,
                    &format!("snapshot file {}: {error}", path.display()),
                );
                false
            }
        }
    }
}

/// A dedicated pub/sub connection subscribed to the announcement channel.
async fn subscribe(client: &Client, keys: &Keys) -> Result<PubSubStream, FollowError> {
    let mut pubsub = tokio::time::timeout(TIMEOUT, client.get_async_pubsub())
        .await
        .map_err(|_| FollowError::Timeout { what: "connecting" })??;
    tokio::time::timeout(TIMEOUT, pubsub.subscribe(keys.channel()))
        .await
        .map_err(|_| FollowError::Timeout {
            what: "subscribing",
        })??;
    Ok(pubsub.into_on_message())
}

/// Why the snapshot file could not be read or written.
#[derive(Debug, thiserror::Error)]
enum SnapshotFileError {
    /// Reading, writing or renaming failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file is not a snapshot.
    #[error("not a snapshot file: {0}")]
    Malformed(#[from] serde_json::Error),
    /// An entry is not a payload this build reads.
    #[error(transparent)]
    Payload(#[from] PublicationError),
}

/// The snapshot file: the payloads held, each in the publication format.
#[derive(Deserialize)]
struct SnapshotFile<'a> {
    #[serde(borrow)]
    publications: Vec<&'a RawValue>,
}

/// Writes the payloads held to `path`, replacing it atomically.
async fn write_snapshot<'a>(
    path: &Path,
    publications: impl Iterator<Item = &'a Publication>,
) -> Result<(), SnapshotFileError> {
    let entries = publications
        .map(|p| p.encode(FORMAT))
        .collect::<Result<Vec<_>, _>>()?;
    let text = format!("{{\"publications\":[{}]}}\n", entries.join(","));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await?;
    }
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || replace_file(&path, text.as_bytes()))
        .await
        .map_err(std::io::Error::other)??;
    Ok(())
}

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk and
/// renames it over `path`.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), std::io::Error> {
    use std::io::Write as _;
    let mut temporary = path.as_os_str().to_owned();
    // Unique per write, so that two sources sharing a file (tests) never
    // write the same temporary file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    temporary.push(format!(".tmp-{}-{write}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Reads the snapshot file; `None` when there is none.
async fn read_snapshot(path: &Path) -> Result<Option<Vec<Publication>>, SnapshotFileError> {
    let text = match tokio::fs::read(path).await {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let file: SnapshotFile<'_> = serde_json::from_slice(&text)?;
    let publications = file
        .publications
        .iter()
        .map(|entry| Publication::decode(entry.get().as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(publications))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn snapshot_files_round_trip_and_refuse_unknown_formats() {
        let dir =
            std::env::temp_dir().join(format!("ensign-redis-snapshot-{}", std::process::id()));
        let path = dir.join("nested").join("redis.snapshot.json");
        assert!(read_snapshot(&path).await.unwrap().is_none());
        let publications = [
            Publication::new("production", 4, json!({"flags": {}})),
            Publication::new("staging", 9, json!({"flags": {}})),
        ];
        write_snapshot(&path, publications.iter()).await.unwrap();
        assert_eq!(
            read_snapshot(&path).await.unwrap().unwrap(),
            publications.to_vec()
        );
        // Nothing is left beside the file.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["redis.snapshot.json"]);

        std::fs::write(
            &path,
            r#"{"publications":[{"format":2,"flagSet":"p","version":1,"document":{}}]}"#,
        )
        .unwrap();
        assert!(matches!(
            read_snapshot(&path).await,
            Err(SnapshotFileError::Payload(
                PublicationError::UnknownFormat { format: 2, .. }
            ))
        ));
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(
            read_snapshot(&path).await,
            Err(SnapshotFileError::Malformed(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
