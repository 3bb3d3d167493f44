//! Exposures: the evaluations an experiment's split decided, recorded off
//! the evaluation's path and written in batches to a sink (the node's
//! store, or a Redis stream that nodes with a store consume).
//!
//! Recording never blocks or slows an evaluation: [`Exposures::record`]
//! checks a bounded deduplication cache and pushes into a bounded buffer,
//! and when the buffer is full the exposure is dropped and counted. A
//! background writer ([`Exposures::run_writer`]) takes batches from the
//! buffer and writes each with an id, retried unchanged until it is
//! accepted, so a sink that deduplicates by id writes it once.
//!
//! Deduplication: a node records (experiment, targeting key, variant) once
//! while it is in its cache. A later exposure of the same user to the same
//! variant cannot change the analysis, which reads each user's earliest
//! exposure; a switch to another variant is a new key and is recorded. The
//! cache is a fixed table of 64-bit hashes in buckets of one cache line,
//! where a new key replaces its bucket's oldest: its memory never grows,
//! a lookup reads one line, and a user forgotten by it is at worst
//! recorded again (the store keeps the earliest).

use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use engine::{FlagSet, Resolution};
use foldhash::quality::RandomState as QualityHash;
use hdrhistogram::Histogram;
use serde_json::Value;
use tokio::sync::{Notify, mpsc};

/// Where an evaluation was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    /// `POST /ofrep/v1/evaluate/flags/{key}`.
    OfrepSingle,
    /// `POST /ofrep/v1/evaluate/flags`.
    OfrepBulk,
    /// flagd's gRPC evaluation (v1 or v2).
    Grpc,
    /// An application evaluating in process, which sent its exposures.
    InProcess,
}

impl Surface {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::OfrepSingle => "ofrep_single",
            Surface::OfrepBulk => "ofrep_bulk",
            Surface::Grpc => "grpc",
            Surface::InProcess => "in_process",
        }
    }
}

/// What the exposures of one variant of a flag, served from one version of
/// its flag set on one surface, have in common: recorded once and shared,
/// so an exposure allocates only its targeting key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposureScope {
    /// The experiment's key (the flag's `ensign.experiment`).
    pub experiment: String,
    /// The flag set's id.
    pub flag_set: String,
    /// The flag's key.
    pub flag: String,
    /// The variant served.
    pub variant: String,
    /// The content version of the flag set served, in hex (its ETag).
    pub flag_set_version: String,
    /// Where it was answered.
    pub surface: Surface,
}

/// One exposure, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// The experiment, flag, variant, flag set version and surface.
    pub scope: Arc<ExposureScope>,
    /// The user's targeting key.
    pub targeting_key: String,
    /// When, in microseconds since the Unix epoch.
    pub at_micros: i64,
}

/// The distinct scopes of `exposures`, in the order they first appear, and
/// for each exposure the index of its scope among them. Exposures recorded
/// in one scope share an `Arc` or a few (one per staging shard), so a scope
/// is found by address, and compared only when an address is new.
pub fn scopes_of(exposures: &[Exposure]) -> (Vec<&ExposureScope>, Vec<usize>) {
    let mut found: Vec<&ExposureScope> = Vec::new();
    let mut addresses: Vec<(&Arc<ExposureScope>, usize)> = Vec::new();
    let indexes = exposures
        .iter()
        .map(|exposure| {
            if let Some(&(_, index)) = addresses
                .iter()
                .find(|(scope, _)| Arc::ptr_eq(scope, &exposure.scope))
            {
                return index;
            }
            let index = found
                .iter()
                .position(|scope| **scope == *exposure.scope)
                .unwrap_or_else(|| {
                    found.push(&exposure.scope);
                    found.len() - 1
                });
            addresses.push((&exposure.scope, index));
            index
        })
        .collect();
    (found, indexes)
}

/// An exposure as an evaluation sees it, before it is recorded (nothing is
/// allocated for one the cache already holds).
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// The experiment's key.
    pub experiment: &'a str,
    /// The flag set's id.
    pub flag_set: &'a str,
    /// The flag's key.
    pub flag: &'a str,
    /// The variant served.
    pub variant: &'a str,
    /// The user's targeting key.
    pub targeting_key: &'a str,
    /// The flag set's content version.
    pub flag_set_version: u64,
    /// Where it was answered.
    pub surface: Surface,
    /// When, in microseconds since the Unix epoch; `None`: now.
    pub at_micros: Option<i64>,
}

/// How a node buffers and writes exposures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExposureSettings {
    /// Exposures buffered before new ones are dropped.
    pub buffer: usize,
    /// (experiment, user, variant) keys the deduplication cache holds
    /// (rounded up to whole buckets of eight).
    pub dedupe: usize,
    /// The most exposures in one batch.
    pub batch: usize,
    /// How long a batch waits to fill before it is written.
    pub linger: Duration,
    /// How long the writer may take, at shutdown, to write what is left.
    pub shutdown_deadline: Duration,
}

impl Default for ExposureSettings {
    fn default() -> Self {
        ExposureSettings {
            buffer: 100_000,
            dedupe: 1_000_000,
            batch: 2_000,
            linger: Duration::from_millis(200),
            shutdown_deadline: Duration::from_secs(10),
        }
    }
}

/// Why a sink did not take a batch.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Where batches of exposures go. A batch whose write failed is offered
/// again with the same id, so a sink that remembers ids writes it once.
#[async_trait::async_trait]
pub trait ExposureSink: Send + Sync {
    /// Writes one batch.
    async fn write(&self, batch_id: &str, exposures: &[Exposure]) -> Result<(), SinkError>;
}

/// The exposure counters that `/metrics` reports.
#[derive(Debug, Default)]
pub struct ExposureCounts {
    /// Recorded into the buffer.
    pub recorded: AtomicU64,
    /// Not recorded: the cache held them.
    pub deduplicated: AtomicU64,
    /// Lost: the buffer was full, or shutdown's deadline passed first.
    pub dropped: AtomicU64,
    /// Accepted by the sink.
    pub written: AtomicU64,
    /// Batch writes that failed (and were retried).
    pub write_failures: AtomicU64,
    /// Evaluations of an exposure-tracked flag that were not exposures (no
    /// targeting key, or not decided by the split).
    pub not_exposures: AtomicU64,
}

/// What this node's store commits of exposures, whichever writer commits
/// them (the store sink, or the exposure stream's consumer): the delay from
/// each exposure to the commit that stored it, and the consumer's counts.
#[derive(Debug)]
pub struct Commits {
    /// Microseconds from exposure to commit, 1 µs to an hour (`None` only if
    /// those bounds were refused, which they are not).
    delay: Mutex<Option<Histogram<u64>>>,
    /// Stream batches written to the store (or found written before).
    pub stream_batches: AtomicU64,
    /// Stream entries removed unwritten because they can never be written.
    pub stream_poisoned: AtomicU64,
    /// Stream batches the store could not take (left pending, retried).
    pub stream_store_failures: AtomicU64,
}

impl Default for Commits {
    fn default() -> Self {
        Commits {
            delay: Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 3).ok()),
            stream_batches: AtomicU64::default(),
            stream_poisoned: AtomicU64::default(),
            stream_store_failures: AtomicU64::default(),
        }
    }
}

impl Commits {
    /// Records that exposures made at `at_micros` (microseconds since the
    /// Unix epoch) have just been committed.
    pub fn committed(&self, at_micros: impl IntoIterator<Item = i64>) {
        let now = now_micros();
        let mut delay = self.delay.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(histogram) = delay.as_mut() {
            for at in at_micros {
                histogram.saturating_record(u64::try_from(now - at).unwrap_or(0).max(1));
            }
        }
    }

    /// The delay from exposure to commit at quantile `q`, and how many
    /// exposures it is over.
    pub fn delay(&self, q: f64) -> (Duration, u64) {
        let delay = self.delay.lock().unwrap_or_else(PoisonError::into_inner);
        delay.as_ref().map_or((Duration::ZERO, 0), |h| {
            (Duration::from_micros(h.value_at_quantile(q)), h.len())
        })
    }
}

/// A node's exposure recorder. Records only once a writer is attached
/// ([`Exposures::attach`]); a node without a sink records nothing.
#[derive(Debug, Default)]
pub struct Exposures {
    sender: OnceLock<Sender>,
    counts: ExposureCounts,
    commits: Commits,
    /// Exposures the writer has taken from the buffer and not yet written
    /// (or counted as dropped).
    writing: AtomicUsize,
}

#[derive(Debug)]
struct Sender {
    queue: mpsc::Sender<Exposure>,
    /// Exposures pushed so far, to tell the writer each time a batch's
    /// worth has been.
    pushed: AtomicU64,
    /// The writer's batch size.
    batch: u64,
    /// Woken once per batch's worth pushed: the writer waits on it, not on
    /// each exposure, so recording does not wake it each time.
    batch_ready: Arc<Notify>,
    /// The deduplication cache.
    seen: Dedupe,
    /// Exposures waiting to be looked up in it, a few at a time.
    staging: Box<[Mutex<Shard>]>,
    /// Set as shutdown flushes the buffer: exposures recorded after it are
    /// dropped (and counted), not staged.
    closed: AtomicBool,
}

/// Exposures are looked up in the deduplication cache [`STAGED`] at a
/// time. The cache's table takes megabytes and a new user's key lands in
/// a random line of it, so one lookup waits for memory, while several
/// issued together wait for it once: looked up one by one, they cost a
/// tracked evaluation about as much as the rest of recording together.
const STAGED: usize = 16;

/// Exposures staged for deduplication, and the scopes recent ones were
/// recorded in. A thread stages into a shard of its own (see
/// [`shard_of_this_thread`]), so threads rarely wait for each other.
#[derive(Debug, Default)]
struct Shard {
    staged: Vec<Staged>,
    scopes: Scopes,
}

/// An exposure and its key in the deduplication cache.
#[derive(Debug)]
struct Staged {
    key: u64,
    epoch: u32,
    exposure: Exposure,
}

/// The shard a thread stages into: threads take shards in turn.
fn shard_of_this_thread(shards: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SHARD.with(|shard| *shard) % shards.max(1)
}

/// The scopes recent exposures were recorded in, so that each is allocated
/// once per shard. A node serves few at a time (experiments × variants ×
/// surfaces, per flag set version); past [`Scopes::MOST`] the list starts
/// again.
#[derive(Debug, Default)]
struct Scopes(Vec<(u64, Arc<ExposureScope>)>);

impl Scopes {
    const MOST: usize = 256;

    fn get(&mut self, observed: &Observed<'_>) -> Arc<ExposureScope> {
        let scopes = &mut self.0;
        let held = scopes.iter().find(|(version, scope)| {
            *version == observed.flag_set_version
                && scope.surface == observed.surface
                && scope.variant == observed.variant
                && scope.flag == observed.flag
                && scope.experiment == observed.experiment
                && scope.flag_set == observed.flag_set
        });
        if let Some((_, scope)) = held {
            return Arc::clone(scope);
        }
        if scopes.len() >= Self::MOST {
            scopes.clear();
        }
        let scope = Arc::new(ExposureScope {
            experiment: observed.experiment.to_owned(),
            flag_set: observed.flag_set.to_owned(),
            flag: observed.flag.to_owned(),
            variant: observed.variant.to_owned(),
            flag_set_version: format!("{:016x}", observed.flag_set_version),
            surface: observed.surface,
        });
        scopes.push((observed.flag_set_version, Arc::clone(&scope)));
        scope
    }
}

impl Exposures {
    /// Records `resolution`, an evaluation of a flag of `set` answered on
    /// `surface`, if it is an exposure: its flag names an experiment, its
    /// split picked the variant, and the context has a targeting key
    /// (`targeting_key` is asked only then). An evaluation of a tracked
    /// flag that is not one is counted. Costs nothing for other flags.
    pub fn observe<'t>(
        &self,
        set: &FlagSet,
        resolution: &Resolution<'_>,
        targeting_key: impl FnOnce() -> Option<std::borrow::Cow<'t, str>>,
        surface: Surface,
    ) {
        let Some(experiment) = resolution.experiment else {
            return;
        };
        let user = match (resolution.bucketed, resolution.variant) {
            (true, Some(variant)) => targeting_key().map(|user| (variant, user)),
            _ => None,
        };
        let Some((variant, user)) = user.filter(|(_, user)| !user.is_empty()) else {
            self.not_exposure();
            return;
        };
        self.record(Observed {
            experiment,
            flag_set: set.id(),
            flag: resolution.key,
            variant,
            targeting_key: &user,
            flag_set_version: set.version(),
            surface,
            at_micros: None,
        });
    }

    /// Counts an evaluation of a tracked flag that is not an exposure.
    pub fn not_exposure(&self) {
        self.counts.not_exposures.fetch_add(1, Ordering::Relaxed);
    }

    /// Records an exposure, unless the cache holds it or no writer is
    /// attached. Never waits: a full buffer drops it (counted). It is
    /// staged, and looked up in the cache and buffered with the next few
    /// of its thread's (or within the writer's linger, or by
    /// [`Exposures::settle`]).
    pub fn record(&self, observed: Observed<'_>) {
        let Some(sender) = self.sender.get() else {
            return;
        };
        let now = now_micros();
        let key = sender.seen.key(observed);
        let shard = &sender.staging[shard_of_this_thread(sender.staging.len())];
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if sender.closed.load(Ordering::Acquire) {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let exposure = Exposure {
            scope: shard.scopes.get(&observed),
            targeting_key: observed.targeting_key.to_owned(),
            at_micros: observed.at_micros.unwrap_or(now),
        };
        shard.staged.push(Staged {
            key,
            epoch: epoch(now),
            exposure,
        });
        if shard.staged.len() >= STAGED {
            let staged = std::mem::replace(&mut shard.staged, Vec::with_capacity(STAGED));
            drop(shard);
            self.buffer(sender, staged);
        }
    }

    /// Looks up every staged exposure in the deduplication cache now, and
    /// buffers those it did not hold.
    pub fn settle(&self) {
        let Some(sender) = self.sender.get() else {
            return;
        };
        for shard in &sender.staging {
            let staged =
                std::mem::take(&mut shard.lock().unwrap_or_else(PoisonError::into_inner).staged);
            if !staged.is_empty() {
                self.buffer(sender, staged);
            }
        }
    }

    /// Buffers those of `staged` the cache does not hold (and now holds).
    fn buffer(&self, sender: &Sender, staged: Vec<Staged>) {
        sender.seen.fetch(staged.iter().map(|staged| staged.key));
        for Staged {
            key,
            epoch,
            exposure,
        } in staged
        {
            if !sender.seen.insert(key, epoch) {
                self.counts.deduplicated.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            match sender.queue.try_send(exposure) {
                Ok(()) => {
                    self.counts.recorded.fetch_add(1, Ordering::Relaxed);
                    if (sender.pushed.fetch_add(1, Ordering::Relaxed) + 1)
                        .is_multiple_of(sender.batch)
                    {
                        sender.batch_ready.notify_one();
                    }
                }
                Err(_) => {
                    // Not recorded, so not seen: the next evaluation tries
                    // again.
                    sender.seen.remove(key);
                    self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// The counters.
    pub fn counts(&self) -> &ExposureCounts {
        &self.counts
    }

    /// What this node's store commits of exposures.
    pub fn commits(&self) -> &Commits {
        &self.commits
    }

    /// Exposures waiting to be written: staged for the buffer, in it, or
    /// in the batch being written.
    pub fn buffered(&self) -> usize {
        self.sender.get().map_or(0, |sender| {
            let staged: usize = sender
                .staging
                .iter()
                .map(|shard| {
                    shard
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .staged
                        .len()
                })
                .sum();
            sender.queue.max_capacity() - sender.queue.capacity()
                + staged
                + self.writing.load(Ordering::Relaxed)
        })
    }

    /// Attaches the writer's buffer and returns what [`Exposures::run_writer`]
    /// drains; `None` if one is attached already.
    pub fn attach(&self, settings: &ExposureSettings) -> Option<WriterQueue> {
        let (queue, receiver) = mpsc::channel(settings.buffer.max(1));
        let batch_ready = Arc::new(Notify::new());
        self.sender
            .set(Sender {
                queue,
                pushed: AtomicU64::new(0),
                batch: settings.batch.max(1) as u64,
                batch_ready: Arc::clone(&batch_ready),
                seen: Dedupe::new(settings.dedupe),
                staging: (0..staging_shards()).map(|_| Mutex::default()).collect(),
                closed: AtomicBool::new(false),
            })
            .ok()?;
        Some(WriterQueue {
            receiver,
            batch_ready,
        })
    }

    /// Writes what `queue` receives to `sink` in batches until `stop`
    /// resolves, then writes what is left within the shutdown deadline and
    /// counts the rest as dropped. A failed batch is retried, unchanged,
    /// with backoff; exposures meanwhile wait in the buffer, and once it is
    /// full new ones are dropped.
    pub async fn run_writer(
        self: Arc<Self>,
        mut queue: WriterQueue,
        sink: Arc<dyn ExposureSink>,
        settings: ExposureSettings,
        stop: impl Future<Output = ()> + Send,
    ) {
        let node = node_id();
        let mut sequence = 0u64;
        let mut stop = std::pin::pin!(stop);
        let mut stopping = false;
        while !stopping {
            // Whatever the buffer holds is taken at once, not one by one.
            let limit = settings.batch.max(1);
            let mut batch = Vec::with_capacity(limit);
            let received = tokio::select! {
                received = queue.receiver.recv_many(&mut batch, limit) => Some(received),
                // What evaluations staged reaches the buffer within a linger
                // even when no more come to fill their shard.
                () = tokio::time::sleep(settings.linger) => None,
                () = &mut stop => Some(0),
            };
            let Some(received) = received else {
                self.settle();
                continue;
            };
            if received == 0 {
                break;
            }
            // Then it waits for a batch's worth, or for the linger to end,
            // without being woken by each exposure in between.
            if batch.len() + queue.receiver.len() < limit {
                tokio::select! {
                    () = queue.batch_ready.notified() => {}
                    () = tokio::time::sleep(settings.linger) => {}
                    () = &mut stop => stopping = true,
                }
            }
            self.settle();
            let room = limit - batch.len();
            if room > 0 && !queue.receiver.is_empty() {
                queue.receiver.recv_many(&mut batch, room).await;
            }
            sequence += 1;
            let id = format!("{node}:{sequence}");
            let mut backoff = Duration::from_millis(100);
            let mut written = false;
            self.writing.store(batch.len(), Ordering::Relaxed);
            loop {
                match sink.write(&id, &batch).await {
                    Ok(()) => {
                        self.counts
                            .written
                            .fetch_add(batch.len() as u64, Ordering::Relaxed);
                        self.writing.store(0, Ordering::Relaxed);
                        written = true;
                        break;
                    }
                    Err(error) => {
                        self.counts.write_failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%error, batch = %id, exposures = batch.len(), "Writing exposures failed; retrying.");
                        if stopping {
                            break;
                        }
                        // Meanwhile what is staged waits in the buffer (or,
                        // once it is full, is dropped and counted).
                        self.settle();
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            () = &mut stop => {
                                stopping = true;
                            }
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
            if stopping {
                // A batch not written yet goes first in what shutdown
                // flushes, under its id.
                let pending = (!written).then_some((id, batch));
                return self
                    .flush(queue, sink, settings, node, sequence, pending)
                    .await;
            }
        }
        self.flush(queue, sink, settings, node, sequence, None)
            .await;
    }

    /// Shutdown: writes `pending` (a batch that may have failed) and what
    /// the buffer holds, within the deadline; counts the rest as dropped.
    async fn flush(
        &self,
        mut queue: WriterQueue,
        sink: Arc<dyn ExposureSink>,
        settings: ExposureSettings,
        node: String,
        mut sequence: u64,
        pending: Option<(String, Vec<Exposure>)>,
    ) {
        // What is staged is buffered, and what evaluations record from now
        // on is dropped and counted: the shard's lock orders the two.
        if let Some(sender) = self.sender.get() {
            sender.closed.store(true, Ordering::Release);
        }
        self.settle();
        queue.receiver.close();
        let deadline = tokio::time::Instant::now() + settings.shutdown_deadline;
        let mut batches: Vec<(String, Vec<Exposure>)> = pending.into_iter().collect();
        let mut left = Vec::new();
        while let Ok(exposure) = queue.receiver.try_recv() {
            left.push(exposure);
        }
        for chunk in left.chunks(settings.batch.max(1)) {
            sequence += 1;
            batches.push((format!("{node}:{sequence}"), chunk.to_vec()));
        }
        self.writing.store(
            batches.iter().map(|(_, batch)| batch.len()).sum(),
            Ordering::Relaxed,
        );
        for (id, batch) in batches {
            let mut written = false;
            while tokio::time::Instant::now() < deadline {
                match tokio::time::timeout_at(deadline, sink.write(&id, &batch)).await {
                    Ok(Ok(())) => {
                        written = true;
                        break;
                    }
                    Ok(Err(error)) => {
                        self.counts.write_failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%error, batch = %id, "Writing exposures at shutdown failed; retrying.");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(_) => break,
                }
            }
            let counter = if written {
                &self.counts.written
            } else {
                &self.counts.dropped
            };
            counter.fetch_add(batch.len() as u64, Ordering::Relaxed);
            self.writing.fetch_sub(batch.len(), Ordering::Relaxed);
        }
        let dropped = self.counts.dropped.load(Ordering::Relaxed);
        tracing::info!(
            written = self.counts.written.load(Ordering::Relaxed),
            dropped,
            "Exposure writer stopped."
        );
    }
}

/// The buffer's receiving end, for the writer.
#[derive(Debug)]
pub struct WriterQueue {
    receiver: mpsc::Receiver<Exposure>,
    batch_ready: Arc<Notify>,
}

impl WriterQueue {
    /// Takes what the buffer holds now, without waiting (for a caller
    /// that writes exposures itself rather than through
    /// [`Exposures::run_writer`]).
    pub fn drain(&mut self) -> Vec<Exposure> {
        let mut taken = Vec::new();
        while let Ok(exposure) = self.receiver.try_recv() {
            taken.push(exposure);
        }
        taken
    }
}

/// Keys per bucket of the deduplication cache: eight 8-byte slots, one
/// cache line, so a lookup reads one line of memory.
const WAYS: usize = 8;

/// The deduplication cache: a fixed table of buckets, each holding the
/// tags of the last [`WAYS`] keys that hashed to it, with when each was
/// inserted. A new key replaces its bucket's oldest, so the cache never
/// grows, and a user it forgets is at worst recorded again (the store
/// keeps the earliest exposure).
///
/// It takes no lock: slots are atomics read and written independently.
/// Two evaluations racing for one bucket can at worst both record a key,
/// or make it forget a key early; neither changes what the store keeps.
#[derive(Debug)]
struct Dedupe {
    /// Seeded per process: a key that collides with another user's tag
    /// cannot be built ahead. (Not SipHash: it costs an evaluation several
    /// times as much, over the four strings of a key.)
    hasher: QualityHash,
    buckets: Box<[Bucket]>,
}

#[derive(Debug, Default)]
#[repr(align(64))]
struct Bucket([AtomicU64; WAYS]);

/// A slot holds a key's tag in its upper 40 bits (never zero, since the
/// tag's lowest bit is set) and, in its lower 24, when it was inserted, in
/// units of about a millisecond ([`epoch`]); 0 is an empty slot. With the
/// bucket's index, a tag tells keys apart by 40 bits and more: two users
/// are taken for one about once in 100 billion lookups.
const EPOCH_BITS: u32 = 24;
const EPOCH_MASK: u64 = (1 << EPOCH_BITS) - 1;

impl Dedupe {
    /// A cache of about `keys` keys (rounded up to whole buckets).
    fn new(keys: usize) -> Dedupe {
        let buckets = keys.div_ceil(WAYS).max(1);
        Dedupe {
            hasher: QualityHash::default(),
            buckets: (0..buckets).map(|_| Bucket::default()).collect(),
        }
    }

    fn key(&self, observed: Observed<'_>) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        (
            observed.experiment,
            observed.targeting_key,
            observed.variant,
        )
            .hash(&mut hasher);
        observed.flag_set.hash(&mut hasher);
        hasher.finish()
    }

    /// The bucket of `key` (from its upper bits) and its tag (from its
    /// lower 40), so the two use different bits of the hash.
    fn place(&self, key: u64) -> (&Bucket, u64) {
        let index = ((u128::from(key) * self.buckets.len() as u128) >> 64) as usize;
        (&self.buckets[index], (key | 1) << EPOCH_BITS)
    }

    /// Reads the buckets of `keys` into the processor's cache: the reads
    /// do not depend on each other, so their waits for memory overlap,
    /// and the lookups that follow find their buckets at hand.
    fn fetch(&self, keys: impl Iterator<Item = u64>) {
        let mut any = 0;
        for key in keys {
            any ^= self.place(key).0.0[0].load(Ordering::Relaxed);
        }
        std::hint::black_box(any);
    }

    /// Whether `key` is new (and now held), inserted at `epoch`.
    fn insert(&self, key: u64, epoch: u32) -> bool {
        let (bucket, tag) = self.place(key);
        // Ties in age (slots inserted in the same epoch) are broken from a
        // place that depends on the key, so no one slot takes every new key:
        // bits the tag (the low 40) does not use, and below those that pick
        // the bucket (the top ones), so keys of one bucket differ in them.
        let first = (key >> 40) as usize;
        let mut victim = None;
        for step in 0..WAYS {
            let slot = &bucket.0[(first + step) % WAYS];
            let held = slot.load(Ordering::Relaxed);
            if held & !EPOCH_MASK == tag {
                return false;
            }
            let age = if held == 0 {
                u32::MAX
            } else {
                (u64::from(epoch).wrapping_sub(held) & EPOCH_MASK) as u32
            };
            if victim.is_none_or(|(_, oldest)| age > oldest) {
                victim = Some((slot, age));
            }
        }
        if let Some((slot, _)) = victim {
            slot.store(tag | u64::from(epoch), Ordering::Relaxed);
        }
        true
    }

    fn remove(&self, key: u64) {
        let (bucket, tag) = self.place(key);
        for slot in &bucket.0 {
            let held = slot.load(Ordering::Relaxed);
            if held & !EPOCH_MASK == tag {
                let _ = slot.compare_exchange(held, 0, Ordering::Relaxed, Ordering::Relaxed);
            }
        }
    }

    /// The bytes the cache's table takes (all of it, from the start).
    fn bytes(&self) -> usize {
        std::mem::size_of_val::<[Bucket]>(&self.buckets)
    }
}

/// The cache's clock: `at_micros` in units of 2^10 µs (about a
/// millisecond), wrapping after about 4.8 hours; only the order of recent
/// insertions matters.
fn epoch(at_micros: i64) -> u32 {
    ((at_micros >> 10) as u64 & EPOCH_MASK) as u32
}

impl Exposures {
    /// The exposure metrics, in Prometheus' text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let counts = &self.counts;
        for (name, help, counter) in [
            (
                "ensign_exposures_recorded_total",
                "Exposures recorded into the node's buffer.",
                &counts.recorded,
            ),
            (
                "ensign_exposures_deduplicated_total",
                "Exposures not recorded because the node had recorded the same user and variant.",
                &counts.deduplicated,
            ),
            (
                "ensign_exposures_dropped_total",
                "Exposures lost: the buffer was full, or shutdown's deadline passed.",
                &counts.dropped,
            ),
            (
                "ensign_exposures_written_total",
                "Exposures their sink accepted.",
                &counts.written,
            ),
            (
                "ensign_exposure_write_failures_total",
                "Exposure batch writes that failed and were retried.",
                &counts.write_failures,
            ),
            (
                "ensign_tracked_evaluations_not_exposures_total",
                "Evaluations of exposure-tracked flags that were not exposures (no targeting key, or not decided by the split).",
                &counts.not_exposures,
            ),
            (
                "ensign_exposure_stream_batches_total",
                "Exposure stream batches this node wrote to its store (or found written before).",
                &self.commits.stream_batches,
            ),
            (
                "ensign_exposure_stream_poisoned_total",
                "Exposure stream entries removed unwritten because they can never be written.",
                &self.commits.stream_poisoned,
            ),
            (
                "ensign_exposure_stream_store_failures_total",
                "Exposure stream batches the store could not take (left pending and retried).",
                &self.commits.stream_store_failures,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP ensign_exposure_commit_delay_seconds Time from an exposure to the commit that stored it, on this node's store.\n\
             # TYPE ensign_exposure_commit_delay_seconds summary\n",
        );
        let mut count = 0;
        for q in [0.5, 0.9, 0.99] {
            let (delay, n) = self.commits.delay(q);
            count = n;
            let _ = writeln!(
                out,
                "ensign_exposure_commit_delay_seconds{{quantile=\"{q}\"}} {}",
                delay.as_secs_f64()
            );
        }
        let _ = writeln!(out, "ensign_exposure_commit_delay_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP ensign_exposures_buffered Exposures waiting to be written: staged for the buffer, in it, or in the batch being written.\n\
             # TYPE ensign_exposures_buffered gauge\nensign_exposures_buffered {}",
            self.buffered()
        );
        let _ = writeln!(
            out,
            "# HELP ensign_exposure_dedupe_bytes Bytes the exposure deduplication cache's table takes (fixed by its size).\n\
             # TYPE ensign_exposure_dedupe_bytes gauge\nensign_exposure_dedupe_bytes {}",
            self.dedupe_bytes()
        );
    }

    /// The bytes the deduplication cache's table takes (0 before a writer
    /// is attached).
    pub fn dedupe_bytes(&self) -> usize {
        self.sender.get().map_or(0, |sender| sender.seen.bytes())
    }
}

/// An id for this process's batches: random, so that two nodes (or two runs
/// of one) never share batch ids.
fn node_id() -> String {
    let mut hasher = RandomState::new().build_hasher();
    std::process::id().hash(&mut hasher);
    now_micros().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Staging shards: two per thread the machine runs at once, so threads
/// taking shards in turn seldom share one.
fn staging_shards() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get) * 2
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The targeting key of a context given as JSON text, if it has a
/// non-empty string one. Read only for exposures, so a parse of the text
/// here costs tracked evaluations alone; the key borrows the text unless
/// it holds an escape.
pub fn targeting_key_in(text: &str) -> Option<std::borrow::Cow<'_, str>> {
    #[derive(serde::Deserialize)]
    struct Context<'a> {
        #[serde(rename = "targetingKey", borrow)]
        targeting_key: Option<std::borrow::Cow<'a, str>>,
    }
    // A key that is not a string fails the parse: no key either way.
    let context: Context<'_> = serde_json::from_str(text).ok()?;
    context.targeting_key.filter(|key| !key.is_empty())
}

/// The targeting key of a parsed context, if it has a non-empty string one.
pub fn targeting_key_of(context: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match context.get("targetingKey")? {
        Value::String(key) if !key.is_empty() => Some(key.as_str().into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use super::*;

    fn observed<'a>(user: &'a str, variant: &'a str) -> Observed<'a> {
        Observed {
            experiment: "checkout-test",
            flag_set: "production",
            flag: "checkout",
            variant,
            targeting_key: user,
            flag_set_version: 0xff,
            surface: Surface::OfrepSingle,
            at_micros: None,
        }
    }

    fn settings(buffer: usize) -> ExposureSettings {
        ExposureSettings {
            buffer,
            dedupe: 1_000,
            batch: 2,
            linger: Duration::from_millis(20),
            shutdown_deadline: Duration::from_millis(500),
        }
    }

    /// A sink that keeps what it is given, failing the first `failures`
    /// writes.
    #[derive(Default)]
    struct Kept {
        batches: StdMutex<Vec<(String, Vec<Exposure>)>>,
        failures: AtomicU64,
    }

    #[async_trait::async_trait]
    impl ExposureSink for Kept {
        async fn write(&self, batch_id: &str, exposures: &[Exposure]) -> Result<(), SinkError> {
            let mut batches = self.batches.lock().unwrap();
            batches.push((batch_id.to_owned(), exposures.to_vec()));
            if self.failures.load(Ordering::Relaxed) > 0 {
                self.failures.fetch_sub(1, Ordering::Relaxed);
                return Err(SinkError("down".into()));
            }
            Ok(())
        }
    }

    /// Runs `exposures`' writer until the returned sender is used (or
    /// dropped).
    fn spawn_writer(
        exposures: &Arc<Exposures>,
        queue: WriterQueue,
        sink: Arc<dyn ExposureSink>,
        settings: ExposureSettings,
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let (stop, stopping) = tokio::sync::oneshot::channel::<()>();
        let writer =
            tokio::spawn(
                Arc::clone(exposures).run_writer(queue, sink, settings, async move {
                    let _ = stopping.await;
                }),
            );
        (stop, writer)
    }

    fn count(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    #[test]
    fn nothing_is_recorded_without_a_writer() {
        let exposures = Exposures::default();
        exposures.record(observed("u1", "a"));
        assert_eq!(count(&exposures.counts().recorded), 0);
        assert_eq!(count(&exposures.counts().dropped), 0);
    }

    #[test]
    fn a_user_is_recorded_once_per_variant() {
        let exposures = Exposures::default();
        let _queue = exposures.attach(&settings(100)).unwrap();
        exposures.record(observed("u1", "a"));
        exposures.record(observed("u1", "a"));
        exposures.record(observed("u1", "b"));
        exposures.record(observed("u2", "a"));
        assert_eq!(exposures.buffered(), 4, "staged");
        assert_eq!(count(&exposures.counts().recorded), 0);
        exposures.settle();
        assert_eq!(count(&exposures.counts().recorded), 3);
        assert_eq!(count(&exposures.counts().deduplicated), 1);
        assert_eq!(exposures.buffered(), 3);
    }

    #[test]
    fn exposures_of_one_variant_share_their_scope() {
        let exposures = Exposures::default();
        let mut queue = exposures.attach(&settings(100)).unwrap();
        exposures.record(observed("u1", "a"));
        exposures.record(observed("u2", "a"));
        exposures.record(observed("u3", "b"));
        exposures.settle();
        let recorded = queue.drain();
        assert!(Arc::ptr_eq(&recorded[0].scope, &recorded[1].scope));
        assert!(!Arc::ptr_eq(&recorded[0].scope, &recorded[2].scope));
        assert_eq!(
            *recorded[2].scope,
            ExposureScope {
                experiment: "checkout-test".into(),
                flag_set: "production".into(),
                flag: "checkout".into(),
                variant: "b".into(),
                flag_set_version: "00000000000000ff".into(),
                surface: Surface::OfrepSingle,
            }
        );
        assert_eq!(recorded[2].targeting_key, "u3");
    }

    #[test]
    fn a_full_buffer_drops_and_counts_and_forgets_what_it_dropped() {
        let exposures = Exposures::default();
        let mut queue = exposures.attach(&settings(2)).unwrap();
        for user in ["u1", "u2", "u3", "u4"] {
            exposures.record(observed(user, "a"));
        }
        exposures.settle();
        assert_eq!(count(&exposures.counts().recorded), 2);
        assert_eq!(count(&exposures.counts().dropped), 2);
        // Once there is room, a dropped user is recorded on their next
        // evaluation: the cache did not keep them.
        queue.receiver.try_recv().unwrap();
        exposures.record(observed("u3", "a"));
        exposures.settle();
        assert_eq!(count(&exposures.counts().recorded), 3);
        assert_eq!(count(&exposures.counts().deduplicated), 0);
    }

    /// One bucket: a key is remembered until it is its bucket's oldest
    /// and a new key needs the room; removing one makes room.
    #[test]
    fn the_cache_forgets_its_oldest_key_first() {
        let dedupe = Dedupe::new(WAYS);
        assert_eq!(dedupe.buckets.len(), 1);
        // Keys 1..=8 at epochs 1..=8 fill the bucket; each is held.
        for key in 1..=8u64 {
            assert!(dedupe.insert(key << 1, key as u32), "{key}");
        }
        for key in 1..=8u64 {
            assert!(!dedupe.insert(key << 1, 20), "{key}");
        }
        // Key 9 evicts key 1, the oldest; key 10 evicts key 2.
        assert!(dedupe.insert(9 << 1, 9));
        assert!(dedupe.insert(10 << 1, 10));
        assert!(dedupe.insert(1 << 1, 11));
        assert!(!dedupe.insert(4 << 1, 12));
        // Ages are read across the epoch counter's wrap.
        let wrapped = Dedupe::new(WAYS);
        for key in 1..=8u64 {
            assert!(wrapped.insert(key << 1, EPOCH_MASK as u32 - 8 + key as u32));
        }
        assert!(wrapped.insert(100 << 1, 2));
        assert!(
            wrapped.insert(1 << 1, 3),
            "the oldest, before the wrap, went"
        );
        assert!(!wrapped.insert(8 << 1, 4));
        dedupe.remove(9 << 1);
        assert!(dedupe.insert(9 << 1, 13));
    }

    #[test]
    fn the_cache_stays_within_its_bound() {
        let exposures = Exposures::default();
        let mut settings = settings(1_000_000);
        settings.dedupe = 32_000;
        let _queue = exposures.attach(&settings).unwrap();
        for i in 0..200_000 {
            exposures.record(observed(&format!("user-{i}"), "a"));
        }
        exposures.settle();
        assert_eq!(count(&exposures.counts().recorded), 200_000);
        assert_eq!(exposures.dedupe_bytes(), 32_000 * 8);
        // The most recent users are still held.
        for i in 199_000..200_000 {
            exposures.record(observed(&format!("user-{i}"), "a"));
        }
        exposures.settle();
        assert_eq!(count(&exposures.counts().deduplicated), 1_000);
    }

    #[tokio::test]
    async fn batches_are_retried_under_their_id_and_flushed_at_shutdown() {
        let exposures = Arc::new(Exposures::default());
        let settings = settings(100);
        let queue = exposures.attach(&settings).unwrap();
        let sink = Arc::new(Kept::default());
        sink.failures.store(1, Ordering::Relaxed);
        let (stop, writer) = spawn_writer(&exposures, queue, sink.clone(), settings);
        for user in ["u1", "u2", "u3"] {
            exposures.record(observed(user, "a"));
        }
        // Recorded as shutdown begins: written by the batch it starts or
        // by the flush, either way before the writer ends.
        tokio::time::sleep(Duration::from_millis(400)).await;
        exposures.record(observed("u4", "a"));
        stop.send(()).unwrap();
        writer.await.unwrap();
        let batches = sink.batches.lock().unwrap().clone();
        // The first batch failed once and was written again under its id.
        assert_eq!(batches[0].0, batches[1].0);
        assert_eq!(batches[0].1, batches[1].1);
        let mut users: Vec<String> = batches[1..]
            .iter()
            .flat_map(|(_, batch)| batch.iter().map(|e| e.targeting_key.clone()))
            .collect();
        users.sort();
        assert_eq!(users, ["u1", "u2", "u3", "u4"]);
        assert_eq!(count(&exposures.counts().written), 4);
        assert_eq!(count(&exposures.counts().write_failures), 1);
        assert_eq!(count(&exposures.counts().dropped), 0);
    }

    #[tokio::test]
    async fn what_shutdown_cannot_write_in_time_is_counted_as_dropped() {
        let exposures = Arc::new(Exposures::default());
        let mut settings = settings(100);
        settings.linger = Duration::from_secs(60);
        settings.batch = 1_000;
        let queue = exposures.attach(&settings).unwrap();
        let sink = Arc::new(Kept::default());
        sink.failures.store(u64::MAX, Ordering::Relaxed);
        for user in ["u1", "u2", "u3"] {
            exposures.record(observed(user, "a"));
        }
        let started = tokio::time::Instant::now();
        exposures
            .clone()
            .run_writer(queue, sink, settings, async {})
            .await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(count(&exposures.counts().written), 0);
        assert_eq!(count(&exposures.counts().dropped), 3);
    }

    /// A sink whose writes wait until it is opened.
    #[derive(Default)]
    struct Gate {
        entered: tokio::sync::Notify,
        open: tokio::sync::Notify,
    }

    #[async_trait::async_trait]
    impl ExposureSink for Gate {
        async fn write(&self, _: &str, _: &[Exposure]) -> Result<(), SinkError> {
            self.entered.notify_one();
            self.open.notified().await;
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_batch_being_written_is_still_counted_as_buffered() {
        let exposures = Arc::new(Exposures::default());
        let settings = settings(100);
        let queue = exposures.attach(&settings).unwrap();
        let sink = Arc::new(Gate::default());
        exposures.record(observed("u1", "a"));
        exposures.record(observed("u2", "a"));
        exposures.settle();
        let (stop, writer) = spawn_writer(&exposures, queue, sink.clone(), settings);
        sink.entered.notified().await;
        assert_eq!(exposures.buffered(), 2, "the batch is in the sink's hands");
        sink.open.notify_one();
        for _ in 0..100 {
            if count(&exposures.counts().written) == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(count(&exposures.counts().written), 2);
        assert_eq!(exposures.buffered(), 0);
        stop.send(()).unwrap();
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn what_is_recorded_after_shutdown_flushed_is_counted_as_dropped() {
        let exposures = Arc::new(Exposures::default());
        let settings = settings(100);
        let queue = exposures.attach(&settings).unwrap();
        let sink = Arc::new(Kept::default());
        exposures.record(observed("u1", "a"));
        exposures
            .clone()
            .run_writer(queue, sink.clone(), settings, async {})
            .await;
        exposures.record(observed("u2", "a"));
        assert_eq!(count(&exposures.counts().written), 1);
        assert_eq!(count(&exposures.counts().dropped), 1);
        assert_eq!(exposures.buffered(), 0);
        assert_eq!(sink.batches.lock().unwrap().len(), 1);
    }

    #[test]
    fn commit_delays_are_kept_from_each_exposure() {
        let commits = Commits::default();
        let now = now_micros();
        commits.committed([now - 2_000_000, now - 1_000, now - 1_000]);
        let (median, count) = commits.delay(0.5);
        assert_eq!(count, 3);
        assert!(
            median >= Duration::from_micros(1_000) && median < Duration::from_secs(1),
            "{median:?}"
        );
        assert!(commits.delay(0.99).0 >= Duration::from_secs(2));
        let mut text = String::new();
        Exposures::default().render(&mut text);
        assert!(
            text.contains("ensign_exposure_commit_delay_seconds_count 0\n"),
            "{text}"
        );
    }

    #[test]
    fn targeting_keys_are_read_only_when_they_are_strings() {
        assert_eq!(
            targeting_key_in(r#"{"a": [1, {"b": 2}], "targetingKey": "u1"}"#).as_deref(),
            Some("u1")
        );
        assert_eq!(
            targeting_key_in(r#"{"targetingKey": "caf\u00e9 \"7\""}"#).as_deref(),
            Some("café \"7\"")
        );
        for text in [
            r#"{"targetingKey": ""}"#,
            r#"{"targetingKey": 7}"#,
            "{}",
            "[1]",
            "{",
        ] {
            assert_eq!(targeting_key_in(text), None, "{text}");
        }
        assert_eq!(
            targeting_key_of(&serde_json::json!({"targetingKey": "u2"})).as_deref(),
            Some("u2")
        );
    }
}
