//! An outbox: records a node hands on (exposures, tracking events,
//! evaluation counts) held in a bounded buffer and written in batches, each
//! under an id, to a sink (the node's store, or a Redis stream that nodes
//! with a store consume).
//!
//! Pushing never blocks: a full buffer drops the record and counts it. The
//! writer ([`Outbox::write`]) takes batches by size or after a linger, hands
//! each to the sink under an id and retries it, unchanged, with backoff, so
//! a sink that remembers ids writes it once. At shutdown it writes what is
//! left within a deadline and counts the rest as dropped; a record pushed
//! after that is dropped and counted too. Every record is thus written,
//! buffered, or counted as dropped.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use tokio::sync::{Notify, mpsc};

/// How an outbox buffers and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxSettings {
    /// Records buffered before new ones are dropped.
    pub buffer: usize,
    /// The most records in one batch.
    pub batch: usize,
    /// How long a batch waits to fill before it is written.
    pub linger: Duration,
    /// How long the writer may take, at shutdown, to write what is left.
    pub shutdown_deadline: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            buffer: 100_000,
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

/// Where batches of records go. A batch whose write failed is offered again
/// with the same id, so a sink that remembers ids writes it once.
#[async_trait::async_trait]
pub trait Sink<T>: Send + Sync {
    /// Writes one batch.
    async fn write(&self, batch_id: &str, records: &[T]) -> Result<(), SinkError>;
}

/// What an outbox's records are called, in its metric names and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Names {
    /// `exposures`: `ensign_exposures_written_total`.
    pub plural: &'static str,
    /// `exposure`: `ensign_exposure_write_failures_total`.
    pub singular: &'static str,
    /// What the commit delay (`ensign_exposure_commit_delay_seconds`) is
    /// measured from, completing "Time from when …" (`an exposure was
    /// made`); `None` for records that carry no such time, which have no
    /// commit delay.
    pub delay_from: Option<&'static str>,
}

/// An outbox's counters, which `/metrics` reports.
#[derive(Debug, Default)]
pub struct OutboxCounts {
    /// Pushed into the buffer.
    pub recorded: AtomicU64,
    /// Lost: the buffer was full, or shutdown's deadline passed first.
    pub dropped: AtomicU64,
    /// Accepted by the sink.
    pub written: AtomicU64,
    /// Batch writes that failed (and were retried).
    pub write_failures: AtomicU64,
}

/// What this node's store commits of an outbox's kind of record, whichever
/// writer commits them (the store sink, or a stream's consumer): the delay
/// from each record to the commit that stored it, and the consumer's
/// counts.
#[derive(Debug)]
pub struct Commits {
    /// Microseconds from record to commit, 1 µs to an hour (`None` only if
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
    /// Records that records made at `at_micros` (microseconds since the
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

    /// The delay from record to commit at quantile `q`, and how many
    /// records it is over.
    pub fn delay(&self, q: f64) -> (Duration, u64) {
        let delay = self.delay.lock().unwrap_or_else(PoisonError::into_inner);
        delay.as_ref().map_or((Duration::ZERO, 0), |h| {
            (Duration::from_micros(h.value_at_quantile(q)), h.len())
        })
    }
}

/// A bounded buffer of records and its writer's state. Takes records only
/// once a writer is attached ([`Outbox::attach`]).
#[derive(Debug)]
pub struct Outbox<T> {
    names: Names,
    sender: OnceLock<Sender<T>>,
    counts: OutboxCounts,
    commits: Commits,
    /// Records the writer has taken from the buffer and not yet written
    /// (or counted as dropped).
    writing: AtomicUsize,
}

#[derive(Debug)]
struct Sender<T> {
    queue: mpsc::Sender<T>,
    /// Records pushed so far, to tell the writer each time a batch's worth
    /// has been.
    pushed: AtomicU64,
    /// The writer's batch size.
    batch: u64,
    /// Woken once per batch's worth pushed: the writer waits on it, not on
    /// each record, so pushing does not wake it each time.
    batch_ready: Arc<Notify>,
    /// Set as shutdown flushes the buffer, for holders ahead of it (see
    /// [`Outbox::write`]'s `settle`); the buffer itself takes records until
    /// the flush has settled them.
    closed: AtomicBool,
}

/// The buffer's receiving end, for the writer.
#[derive(Debug)]
pub struct WriterQueue<T> {
    receiver: mpsc::Receiver<T>,
    batch_ready: Arc<Notify>,
}

impl<T> WriterQueue<T> {
    /// Takes what the buffer holds now, without waiting (for a caller that
    /// writes records itself rather than through [`Outbox::write`]).
    pub fn drain(&mut self) -> Vec<T> {
        let mut taken = Vec::new();
        while let Ok(record) = self.receiver.try_recv() {
            taken.push(record);
        }
        taken
    }

    /// Takes one record, if the buffer holds any.
    pub fn try_take(&mut self) -> Option<T> {
        self.receiver.try_recv().ok()
    }
}

impl<T: Clone + Send + Sync + 'static> Outbox<T> {
    /// An outbox of records called `names`, with no writer yet.
    pub fn new(names: Names) -> Outbox<T> {
        Outbox {
            names,
            sender: OnceLock::new(),
            counts: OutboxCounts::default(),
            commits: Commits::default(),
            writing: AtomicUsize::new(0),
        }
    }

    /// Attaches the writer's buffer and returns what [`Outbox::write`]
    /// drains; `None` if one is attached already.
    pub fn attach(&self, settings: &OutboxSettings) -> Option<WriterQueue<T>> {
        let (queue, receiver) = mpsc::channel(settings.buffer.max(1));
        let batch_ready = Arc::new(Notify::new());
        self.sender
            .set(Sender {
                queue,
                pushed: AtomicU64::new(0),
                batch: settings.batch.max(1) as u64,
                batch_ready: Arc::clone(&batch_ready),
                closed: AtomicBool::new(false),
            })
            .ok()?;
        Some(WriterQueue {
            receiver,
            batch_ready,
        })
    }

    /// Whether a writer is attached (records are taken).
    pub fn is_attached(&self) -> bool {
        self.sender.get().is_some()
    }

    /// Whether shutdown has begun to flush the buffer: a holder ahead of it
    /// drops (and counts) what it is given from now on.
    pub fn is_closed(&self) -> bool {
        self.sender
            .get()
            .is_some_and(|sender| sender.closed.load(Ordering::Acquire))
    }

    /// Buffers `record`. Never waits: without a writer it is ignored (and
    /// `Ok`), and a full or closed buffer drops it, counts the drop and
    /// hands it back.
    pub fn push(&self, record: T) -> Result<(), T> {
        let Some(sender) = self.sender.get() else {
            return Ok(());
        };
        // After shutdown's flush has drained the buffer, its receiver is
        // closed and this fails: dropped and counted.
        match sender.queue.try_send(record) {
            Ok(()) => {
                self.counts.recorded.fetch_add(1, Ordering::Relaxed);
                if (sender.pushed.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(sender.batch)
                {
                    sender.batch_ready.notify_one();
                }
                Ok(())
            }
            Err(error) => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                Err(error.into_inner())
            }
        }
    }

    /// Counts a record lost before it reached the buffer.
    pub fn count_dropped(&self, records: u64) {
        self.counts.dropped.fetch_add(records, Ordering::Relaxed);
    }

    /// The counters.
    pub fn counts(&self) -> &OutboxCounts {
        &self.counts
    }

    /// What this node's store commits of these records.
    pub fn commits(&self) -> &Commits {
        &self.commits
    }

    /// Records waiting to be written: in the buffer, or in the batch being
    /// written.
    pub fn buffered(&self) -> usize {
        self.sender.get().map_or(0, |sender| {
            sender.queue.max_capacity() - sender.queue.capacity()
                + self.writing.load(Ordering::Relaxed)
        })
    }

    /// Writes what `queue` receives to `sink` in batches until `stop`
    /// resolves, then writes what is left within the shutdown deadline and
    /// counts the rest as dropped. A failed batch is retried, unchanged,
    /// with backoff; records meanwhile wait in the buffer, and once it is
    /// full new ones are dropped.
    ///
    /// `settle` moves what is held ahead of the buffer into it: it is
    /// called at least once a linger, before each batch is topped up,
    /// while a batch is retried, and at shutdown, after the outbox is
    /// closed (so a holder that checks [`Outbox::is_closed`] under the same
    /// lock as it settles loses nothing).
    pub async fn write(
        &self,
        mut queue: WriterQueue<T>,
        sink: Arc<dyn Sink<T>>,
        settings: OutboxSettings,
        stop: impl Future<Output = ()> + Send,
        settle: impl Fn() + Send + Sync,
    ) {
        let node = node_id();
        let mut sequence = 0u64;
        let mut stop = std::pin::pin!(stop);
        let mut stopping = false;
        let what = self.names.plural;
        while !stopping {
            // Whatever the buffer holds is taken at once, not one by one.
            let limit = settings.batch.max(1);
            let mut batch = Vec::with_capacity(limit);
            let received = tokio::select! {
                received = queue.receiver.recv_many(&mut batch, limit) => Some(received),
                // What is held ahead of the buffer reaches it within a
                // linger even when no more records come.
                () = tokio::time::sleep(settings.linger) => None,
                () = &mut stop => Some(0),
            };
            let Some(received) = received else {
                settle();
                continue;
            };
            if received == 0 {
                break;
            }
            // Then it waits for a batch's worth, or for the linger to end,
            // without being woken by each record in between.
            if batch.len() + queue.receiver.len() < limit {
                tokio::select! {
                    () = queue.batch_ready.notified() => {}
                    () = tokio::time::sleep(settings.linger) => {}
                    () = &mut stop => stopping = true,
                }
            }
            settle();
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
                        tracing::warn!(%error, batch = %id, records = batch.len(), what, "Writing a batch failed; retrying.");
                        if stopping {
                            break;
                        }
                        // Meanwhile what is held ahead waits in the buffer
                        // (or, once it is full, is dropped and counted).
                        settle();
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
                let flush = Flush {
                    node,
                    sequence,
                    pending,
                };
                return self.flush(queue, sink, settings, flush, &settle).await;
            }
        }
        let flush = Flush {
            node,
            sequence,
            pending: None,
        };
        self.flush(queue, sink, settings, flush, &settle).await;
    }

    /// Shutdown: writes the pending batch (which may have failed) and what
    /// the buffer holds, within the deadline; counts the rest as dropped.
    async fn flush(
        &self,
        mut queue: WriterQueue<T>,
        sink: Arc<dyn Sink<T>>,
        settings: OutboxSettings,
        flush: Flush<T>,
        settle: &(impl Fn() + Send + Sync),
    ) {
        let Flush {
            node,
            mut sequence,
            pending,
        } = flush;
        // What is held ahead is buffered, and what is pushed from now on is
        // dropped and counted.
        if let Some(sender) = self.sender.get() {
            sender.closed.store(true, Ordering::Release);
        }
        settle();
        queue.receiver.close();
        let deadline = tokio::time::Instant::now() + settings.shutdown_deadline;
        let mut batches: Vec<(String, Vec<T>)> = pending.into_iter().collect();
        let left = queue.drain();
        for chunk in left.chunks(settings.batch.max(1)) {
            sequence += 1;
            batches.push((format!("{node}:{sequence}"), chunk.to_vec()));
        }
        self.writing.store(
            batches.iter().map(|(_, batch)| batch.len()).sum(),
            Ordering::Relaxed,
        );
        let what = self.names.plural;
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
                        tracing::warn!(%error, batch = %id, what, "Writing a batch at shutdown failed; retrying.");
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
        tracing::info!(
            what,
            written = self.counts.written.load(Ordering::Relaxed),
            dropped = self.counts.dropped.load(Ordering::Relaxed),
            "Writer stopped."
        );
    }
}

/// Where shutdown's flush starts: the node's batch ids, the last sequence
/// number used, and a batch the writer had not written yet.
struct Flush<T> {
    node: String,
    sequence: u64,
    pending: Option<(String, Vec<T>)>,
}

impl<T> Outbox<T> {
    /// The outbox's metrics, in Prometheus' text format; `buffered` is the
    /// count of records waiting, which a holder ahead of the buffer adds
    /// to.
    pub fn render(&self, out: &mut String, buffered: usize) {
        let Names {
            plural,
            singular,
            delay_from,
        } = self.names;
        let counts = &self.counts;
        let commits = &self.commits;
        for (name, help, counter) in [
            (
                format!("ensign_{plural}_recorded_total"),
                format!("{plural} recorded into the node's buffer."),
                &counts.recorded,
            ),
            (
                format!("ensign_{plural}_dropped_total"),
                format!("{plural} lost: the buffer was full, or shutdown's deadline passed."),
                &counts.dropped,
            ),
            (
                format!("ensign_{plural}_written_total"),
                format!("{plural} their sink accepted."),
                &counts.written,
            ),
            (
                format!("ensign_{singular}_write_failures_total"),
                format!("{singular} batch writes that failed and were retried."),
                &counts.write_failures,
            ),
            (
                format!("ensign_{singular}_stream_batches_total"),
                format!(
                    "{singular} stream batches this node wrote to its store (or found written before)."
                ),
                &commits.stream_batches,
            ),
            (
                format!("ensign_{singular}_stream_poisoned_total"),
                format!(
                    "{singular} stream entries removed unwritten because they can never be written."
                ),
                &commits.stream_poisoned,
            ),
            (
                format!("ensign_{singular}_stream_store_failures_total"),
                format!(
                    "{singular} stream batches the store could not take (left pending and retried)."
                ),
                &commits.stream_store_failures,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {}\n# TYPE {name} counter\n{name} {}",
                capitalized(&help),
                counter.load(Ordering::Relaxed)
            );
        }
        if let Some(delay_from) = delay_from {
            let name = format!("ensign_{singular}_commit_delay_seconds");
            let _ = writeln!(
                out,
                "# HELP {name} Time from when {delay_from} to the commit that stored it, on this node's store.\n\
                 # TYPE {name} summary",
            );
            let mut count = 0;
            for q in [0.5, 0.9, 0.99] {
                let (delay, n) = commits.delay(q);
                count = n;
                let _ = writeln!(out, "{name}{{quantile=\"{q}\"}} {}", delay.as_secs_f64());
            }
            let _ = writeln!(out, "{name}_count {count}");
        }
        let name = format!("ensign_{plural}_buffered");
        let _ = writeln!(
            out,
            "# HELP {name} {} waiting to be written: ahead of the buffer, in it, or in the batch being written.\n\
             # TYPE {name} gauge\n{name} {buffered}",
            capitalized(plural),
        );
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// An id for this process's batches: random, so that two nodes (or two runs
/// of one) never share batch ids.
fn node_id() -> String {
    let mut hasher = RandomState::new().build_hasher();
    std::process::id().hash(&mut hasher);
    now_micros().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Shards for what threads record ahead of an outbox: two per thread the
/// machine runs at once, so threads taking shards in turn seldom share one.
pub(crate) fn shards() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get) * 2
}

/// The shard of `shards` a thread records into: threads take shards in
/// turn.
pub(crate) fn shard_of_this_thread(shards: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SHARD.with(|shard| *shard) % shards.max(1)
}

/// Now, in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use super::*;

    const NAMES: Names = Names {
        plural: "things",
        singular: "thing",
        delay_from: Some("a thing was made"),
    };

    fn settings(buffer: usize) -> OutboxSettings {
        OutboxSettings {
            buffer,
            batch: 2,
            linger: Duration::from_millis(20),
            shutdown_deadline: Duration::from_millis(500),
        }
    }

    /// A sink that keeps what it is given, failing the first `failures`
    /// writes.
    #[derive(Default)]
    struct Kept {
        batches: StdMutex<Vec<(String, Vec<u32>)>>,
        failures: AtomicU64,
    }

    #[async_trait::async_trait]
    impl Sink<u32> for Kept {
        async fn write(&self, batch_id: &str, records: &[u32]) -> Result<(), SinkError> {
            let mut batches = self.batches.lock().unwrap();
            batches.push((batch_id.to_owned(), records.to_vec()));
            if self.failures.load(Ordering::Relaxed) > 0 {
                self.failures.fetch_sub(1, Ordering::Relaxed);
                return Err(SinkError("down".into()));
            }
            Ok(())
        }
    }

    fn count(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    #[test]
    fn nothing_is_taken_without_a_writer_and_a_full_buffer_drops() {
        let outbox = Outbox::new(NAMES);
        assert_eq!(outbox.push(1), Ok(()));
        assert_eq!(count(&outbox.counts().recorded), 0);
        let mut queue = outbox.attach(&settings(2)).unwrap();
        assert!(outbox.attach(&settings(2)).is_none());
        assert_eq!(outbox.push(1), Ok(()));
        assert_eq!(outbox.push(2), Ok(()));
        assert_eq!(outbox.push(3), Err(3));
        assert_eq!(count(&outbox.counts().recorded), 2);
        assert_eq!(count(&outbox.counts().dropped), 1);
        assert_eq!(outbox.buffered(), 2);
        assert_eq!(queue.drain(), [1, 2]);
        assert_eq!(outbox.buffered(), 0);
    }

    #[tokio::test]
    async fn batches_are_retried_under_their_id_and_flushed_at_shutdown() {
        let outbox = Arc::new(Outbox::new(NAMES));
        let settings = settings(100);
        let queue = outbox.attach(&settings).unwrap();
        let sink = Arc::new(Kept::default());
        sink.failures.store(1, Ordering::Relaxed);
        let (stop, stopping) = tokio::sync::oneshot::channel::<()>();
        let writer = tokio::spawn({
            let outbox = Arc::clone(&outbox);
            let sink = Arc::clone(&sink);
            async move {
                let stopped = async move {
                    let _ = stopping.await;
                };
                outbox.write(queue, sink, settings, stopped, || {}).await;
            }
        });
        for record in [1, 2, 3] {
            outbox.push(record).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        outbox.push(4).unwrap();
        stop.send(()).unwrap();
        writer.await.unwrap();
        let batches = sink.batches.lock().unwrap().clone();
        // The first batch failed once and was written again under its id.
        assert_eq!(batches[0], batches[1]);
        let mut records: Vec<u32> = batches[1..]
            .iter()
            .flat_map(|(_, batch)| batch.iter().copied())
            .collect();
        records.sort_unstable();
        assert_eq!(records, [1, 2, 3, 4]);
        assert_eq!(count(&outbox.counts().written), 4);
        assert_eq!(count(&outbox.counts().write_failures), 1);
        assert_eq!(count(&outbox.counts().dropped), 0);
        // Closed: what comes after shutdown is dropped and counted.
        assert!(outbox.is_closed());
        assert_eq!(outbox.push(5), Err(5));
        assert_eq!(count(&outbox.counts().dropped), 1);
    }

    #[tokio::test]
    async fn what_shutdown_cannot_write_in_time_is_counted_as_dropped() {
        let outbox = Outbox::new(NAMES);
        let mut settings = settings(100);
        settings.linger = Duration::from_secs(60);
        settings.batch = 1_000;
        let queue = outbox.attach(&settings).unwrap();
        let sink = Arc::new(Kept::default());
        sink.failures.store(u64::MAX, Ordering::Relaxed);
        for record in [1, 2, 3] {
            outbox.push(record).unwrap();
        }
        let started = tokio::time::Instant::now();
        outbox.write(queue, sink, settings, async {}, || {}).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(count(&outbox.counts().written), 0);
        assert_eq!(count(&outbox.counts().dropped), 3);
        assert_eq!(outbox.buffered(), 0);
    }

    #[test]
    fn commit_delays_are_kept_from_each_record_and_rendered_by_name() {
        let outbox: Outbox<u32> = Outbox::new(NAMES);
        let commits = outbox.commits();
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
        outbox.render(&mut text, 7);
        for line in [
            "# HELP ensign_things_dropped_total Things lost: the buffer was full, or shutdown's deadline passed.\n",
            "ensign_things_recorded_total 0\n",
            "ensign_thing_write_failures_total 0\n",
            "# HELP ensign_thing_commit_delay_seconds Time from when a thing was made to the commit that stored it, on this node's store.\n",
            "ensign_thing_commit_delay_seconds_count 3\n",
            "ensign_things_buffered 7\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
