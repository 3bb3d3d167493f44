//! Exposures: the evaluations an experiment's split decided, recorded off
//! the evaluation's path and handed to the node's exposure outbox
//! ([`crate::server::outbox`]), which writes them in batches to a sink (the
//! node's store, or a Redis stream that nodes with a store consume).
//!
//! Recording never blocks or slows an evaluation: [`Exposures::record`]
//! stages the exposure in its thread's shard; a few at a time are looked
//! up in a bounded deduplication cache and pushed into the outbox's
//! bounded buffer, and when the buffer is full the exposure is dropped and
//! counted.
//!
//! Deduplication: a node records (experiment, targeting key, variant) once
//! while it is in its cache. A later exposure of the same user to the same
//! variant cannot change the analysis, which reads each user's earliest
//! exposure; a switch to another variant is a new key and is recorded. The
//! cache is a fixed table of 64-bit hashes in buckets of one cache line,
//! where a new key replaces its bucket's oldest: its memory never grows,
//! a lookup reads one line, and a user forgotten by it is at worst
//! recorded again (the store keeps the earliest).

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use engine::streams::exposures::{self as stream, StreamBatch, StreamScope, StreamUser};
use engine::{FlagSet, Resolution};
use foldhash::quality::RandomState as QualityHash;
use serde_json::Value;

use crate::server::outbox::{
    Commits, Names, Outbox, OutboxSettings, Sink, WriterQueue, now_micros, shard_of_this_thread,
    shards,
};
use crate::server::stream_sink::StreamRecord;

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

impl StreamRecord for Exposure {
    const FORMAT: u32 = stream::FORMAT;

    fn stream_key(prefix: &str) -> String {
        stream::stream_key(prefix)
    }

    fn encode(batch: &[Exposure]) -> Result<String, serde_json::Error> {
        serde_json::to_string(&wire(batch))
    }
}

/// Exposures as the stream carries them: each scope once.
pub fn wire(exposures: &[Exposure]) -> StreamBatch<'_> {
    let (scopes, indexes) = scopes_of(exposures);
    StreamBatch {
        scopes: scopes
            .into_iter()
            .map(|scope| StreamScope {
                experiment: scope.experiment.as_str().into(),
                flag_set: scope.flag_set.as_str().into(),
                flag: scope.flag.as_str().into(),
                variant: scope.variant.as_str().into(),
                flag_set_version: scope.flag_set_version.as_str().into(),
                surface: scope.surface.as_str().into(),
            })
            .collect(),
        exposures: exposures
            .iter()
            .zip(indexes)
            .map(|(exposure, index)| {
                StreamUser(
                    u32::try_from(index).unwrap_or(u32::MAX),
                    exposure.targeting_key.as_str().into(),
                    exposure.at_micros,
                )
            })
            .collect(),
    }
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
        let OutboxSettings {
            buffer,
            batch,
            linger,
            shutdown_deadline,
        } = OutboxSettings::default();
        ExposureSettings {
            buffer,
            dedupe: 1_000_000,
            batch,
            linger,
            shutdown_deadline,
        }
    }
}

impl ExposureSettings {
    /// The outbox's part.
    pub fn outbox(&self) -> OutboxSettings {
        OutboxSettings {
            buffer: self.buffer,
            batch: self.batch,
            linger: self.linger,
            shutdown_deadline: self.shutdown_deadline,
        }
    }
}

/// The exposure counters of the recorder itself; the outbox's
/// ([`Outbox::counts`]) count what was buffered, dropped and written.
#[derive(Debug, Default)]
pub struct ExposureCounts {
    /// Not recorded: the cache held them.
    pub deduplicated: AtomicU64,
    /// Evaluations of an exposure-tracked flag that were not exposures (no
    /// targeting key, or not decided by the split).
    pub not_exposures: AtomicU64,
}

/// The names of the exposure outbox's metrics.
const NAMES: Names = Names {
    plural: "exposures",
    singular: "exposure",
    delay_from: Some("an exposure was made"),
};

/// A node's exposure recorder. Records only once a writer is attached
/// ([`Exposures::attach`]); a node without a sink records nothing.
#[derive(Debug)]
pub struct Exposures {
    outbox: Outbox<Exposure>,
    stage: OnceLock<Stage>,
    counts: ExposureCounts,
}

impl Default for Exposures {
    fn default() -> Self {
        Exposures {
            outbox: Outbox::new(NAMES),
            stage: OnceLock::new(),
            counts: ExposureCounts::default(),
        }
    }
}

/// What stands ahead of the outbox's buffer.
#[derive(Debug)]
struct Stage {
    /// The deduplication cache.
    seen: Dedupe,
    /// Exposures waiting to be looked up in it, a few at a time.
    staging: Box<[Mutex<Shard>]>,
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
        let Some(stage) = self.stage.get() else {
            return;
        };
        let now = now_micros();
        let key = stage.seen.key(observed);
        let shard = &stage.staging[shard_of_this_thread(stage.staging.len())];
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        // Checked under the shard's lock, which shutdown's settling takes
        // after closing the outbox: nothing staged is left behind.
        if self.outbox.is_closed() {
            self.outbox.count_dropped(1);
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
            self.buffer(stage, staged);
        }
    }

    /// Looks up every staged exposure in the deduplication cache now, and
    /// buffers those it did not hold.
    pub fn settle(&self) {
        let Some(stage) = self.stage.get() else {
            return;
        };
        for shard in &stage.staging {
            let staged =
                std::mem::take(&mut shard.lock().unwrap_or_else(PoisonError::into_inner).staged);
            if !staged.is_empty() {
                self.buffer(stage, staged);
            }
        }
    }

    /// Buffers those of `staged` the cache does not hold (and now holds).
    fn buffer(&self, stage: &Stage, staged: Vec<Staged>) {
        stage.seen.fetch(staged.iter().map(|staged| staged.key));
        for Staged {
            key,
            epoch,
            exposure,
        } in staged
        {
            if !stage.seen.insert(key, epoch) {
                self.counts.deduplicated.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if self.outbox.push(exposure).is_err() {
                // Not recorded, so not seen: the next evaluation tries
                // again.
                stage.seen.remove(key);
            }
        }
    }

    /// The recorder's own counters.
    pub fn counts(&self) -> &ExposureCounts {
        &self.counts
    }

    /// The outbox exposures are buffered in.
    pub fn outbox(&self) -> &Outbox<Exposure> {
        &self.outbox
    }

    /// What this node's store commits of exposures.
    pub fn commits(&self) -> &Commits {
        self.outbox.commits()
    }

    /// Exposures waiting to be written: staged for the buffer, in it, or
    /// in the batch being written.
    pub fn buffered(&self) -> usize {
        let staged: usize = self.stage.get().map_or(0, |stage| {
            stage
                .staging
                .iter()
                .map(|shard| {
                    shard
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .staged
                        .len()
                })
                .sum()
        });
        staged + self.outbox.buffered()
    }

    /// Attaches the writer's buffer and returns what [`Exposures::run_writer`]
    /// drains; `None` if one is attached already.
    pub fn attach(&self, settings: &ExposureSettings) -> Option<WriterQueue<Exposure>> {
        let queue = self.outbox.attach(&settings.outbox())?;
        // Only the first attach gets here, so the stage is unset.
        let _ = self.stage.set(Stage {
            seen: Dedupe::new(settings.dedupe),
            staging: (0..shards()).map(|_| Mutex::default()).collect(),
        });
        Some(queue)
    }

    /// Writes what `queue` receives to `sink` through the outbox's writer
    /// ([`Outbox::write`]) until `stop` resolves, settling what is staged
    /// within each linger and at shutdown.
    pub async fn run_writer(
        self: Arc<Self>,
        queue: WriterQueue<Exposure>,
        sink: Arc<dyn Sink<Exposure>>,
        settings: ExposureSettings,
        stop: impl Future<Output = ()> + Send,
    ) {
        self.outbox
            .write(queue, sink, settings.outbox(), stop, || self.settle())
            .await;
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
        self.outbox.render(out, self.buffered());
        for (name, help, counter) in [
            (
                "ensign_exposures_deduplicated_total",
                "Exposures not recorded because the node had recorded the same user and variant.",
                &self.counts.deduplicated,
            ),
            (
                "ensign_tracked_evaluations_not_exposures_total",
                "Evaluations of exposure-tracked flags that were not exposures (no targeting key, or not decided by the split).",
                &self.counts.not_exposures,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.load(Ordering::Relaxed)
            );
        }
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
        self.stage.get().map_or(0, |stage| stage.seen.bytes())
    }
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
    impl Sink<Exposure> for Kept {
        async fn write(
            &self,
            batch_id: &str,
            exposures: &[Exposure],
        ) -> Result<(), crate::server::outbox::SinkError> {
            let mut batches = self.batches.lock().unwrap();
            batches.push((batch_id.to_owned(), exposures.to_vec()));
            if self.failures.load(Ordering::Relaxed) > 0 {
                self.failures.fetch_sub(1, Ordering::Relaxed);
                return Err(crate::server::outbox::SinkError("down".into()));
            }
            Ok(())
        }
    }

    /// Runs `exposures`' writer until the returned sender is used (or
    /// dropped).
    fn spawn_writer(
        exposures: &Arc<Exposures>,
        queue: WriterQueue<Exposure>,
        sink: Arc<dyn Sink<Exposure>>,
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
        assert_eq!(count(&exposures.outbox().counts().recorded), 0);
        assert_eq!(count(&exposures.outbox().counts().dropped), 0);
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
        assert_eq!(count(&exposures.outbox().counts().recorded), 0);
        exposures.settle();
        assert_eq!(count(&exposures.outbox().counts().recorded), 3);
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
        assert_eq!(count(&exposures.outbox().counts().recorded), 2);
        assert_eq!(count(&exposures.outbox().counts().dropped), 2);
        // Once there is room, a dropped user is recorded on their next
        // evaluation: the cache did not keep them.
        queue.try_take().unwrap();
        exposures.record(observed("u3", "a"));
        exposures.settle();
        assert_eq!(count(&exposures.outbox().counts().recorded), 3);
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
        assert_eq!(count(&exposures.outbox().counts().recorded), 200_000);
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
        assert_eq!(count(&exposures.outbox().counts().written), 4);
        assert_eq!(count(&exposures.outbox().counts().write_failures), 1);
        assert_eq!(count(&exposures.outbox().counts().dropped), 0);
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
        assert_eq!(count(&exposures.outbox().counts().written), 0);
        assert_eq!(count(&exposures.outbox().counts().dropped), 3);
    }

    /// A sink whose writes wait until it is opened.
    #[derive(Default)]
    struct Gate {
        entered: tokio::sync::Notify,
        open: tokio::sync::Notify,
    }

    #[async_trait::async_trait]
    impl Sink<Exposure> for Gate {
        async fn write(
            &self,
            _: &str,
            _: &[Exposure],
        ) -> Result<(), crate::server::outbox::SinkError> {
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
            if count(&exposures.outbox().counts().written) == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(count(&exposures.outbox().counts().written), 2);
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
        assert_eq!(count(&exposures.outbox().counts().written), 1);
        assert_eq!(count(&exposures.outbox().counts().dropped), 1);
        assert_eq!(exposures.buffered(), 0);
        assert_eq!(sink.batches.lock().unwrap().len(), 1);
    }

    #[test]
    fn the_metrics_keep_their_names() {
        let exposures = Exposures::default();
        let _queue = exposures.attach(&settings(100)).unwrap();
        exposures.record(observed("u1", "a"));
        exposures.record(observed("u1", "a"));
        exposures.settle();
        exposures.not_exposure();
        let mut text = String::new();
        exposures.render(&mut text);
        for line in [
            "ensign_exposures_recorded_total 1\n",
            "ensign_exposures_deduplicated_total 1\n",
            "ensign_exposures_dropped_total 0\n",
            "ensign_exposures_written_total 0\n",
            "ensign_exposure_write_failures_total 0\n",
            "ensign_tracked_evaluations_not_exposures_total 1\n",
            "ensign_exposure_commit_delay_seconds_count 0\n",
            "ensign_exposure_stream_batches_total 0\n",
            "ensign_exposures_buffered 1\n",
            "ensign_exposure_dedupe_bytes 8000\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
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
