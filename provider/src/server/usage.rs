//! Evaluation counts: how often each flag of each flag set was evaluated,
//! by variant and reason, per minute, on every evaluation surface and for
//! every flag (not only experiments'), so that the store knows when each
//! flag was last evaluated and which flags can be removed from code.
//!
//! Counting an evaluation adds one to a tally in the evaluating thread's
//! shard (a short lock, one per thread or two). The tallies are rolled up
//! into rows (flag set, flag, variant, reason, minute, count) when a minute
//! ends, or every interval within it, and handed on through the node's
//! count outbox ([`crate::server::outbox`]), which the store adds up.
//!
//! Counts are approximate in two ways, both bounded and counted:
//! - a row's minute is the one in which its roll-up interval began, and
//!   the writer rolls up within a linger (200 ms) of a minute's end, so an
//!   evaluation in that linger may be counted in the minute before;
//! - evaluations a shard cannot tally (more than [`MAX_OUTCOMES`]
//!   outcomes in one interval) or whose row the full buffer drops are not
//!   counted, and `ensign_evaluations_uncounted_total` says how many.
//!
//! Evaluations of flags that do not exist are not counted (their keys are
//! the caller's); nor are those of in-process evaluators, which never
//! reach a node.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use engine::streams::counts::{self as stream, CountBatch, StreamCount};
use engine::{ErrorCode, Reason, Resolution};
use rustc_hash::FxHashMap;

use crate::server::outbox::{
    Names, Outbox, OutboxSettings, Sink, WriterQueue, now_micros, shard_of_this_thread, shards,
};
use crate::server::stream_sink::StreamRecord;

/// Outcomes one shard tallies within one interval before it counts no
/// more new ones (flags × variants × reasons a node serves).
pub const MAX_OUTCOMES: usize = 100_000;

/// How often one flag was evaluated with one outcome within one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCount {
    /// The flag set's id.
    pub flag_set: String,
    /// The flag's key.
    pub flag: String,
    /// The variant served; empty when none was.
    pub variant: String,
    /// The resolution's reason.
    pub reason: Reason,
    /// The minute's start, in seconds since the Unix epoch.
    pub minute: i64,
    /// Evaluations.
    pub count: u64,
}

impl StreamRecord for UsageCount {
    const FORMAT: u32 = stream::FORMAT;

    fn stream_key(prefix: &str) -> String {
        stream::stream_key(prefix)
    }

    fn encode(batch: &[UsageCount]) -> Result<String, serde_json::Error> {
        serde_json::to_string(&wire(batch))
    }
}

/// Counts as the stream carries them, borrowing their text.
pub fn wire(counts: &[UsageCount]) -> CountBatch<'_> {
    CountBatch {
        counts: counts
            .iter()
            .map(|count| StreamCount {
                flag_set: count.flag_set.as_str().into(),
                flag: count.flag.as_str().into(),
                variant: count.variant.as_str().into(),
                reason: count.reason.as_str().into(),
                minute: count.minute,
                count: count.count,
            })
            .collect(),
    }
}

/// How a node rolls up and writes its counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageSettings {
    /// The count outbox's buffer and batches.
    pub outbox: OutboxSettings,
    /// How often tallies are rolled up within a minute (at most a minute:
    /// every minute's end rolls them up too).
    pub interval: Duration,
}

impl Default for UsageSettings {
    fn default() -> Self {
        UsageSettings {
            outbox: OutboxSettings::default(),
            interval: Duration::from_secs(60),
        }
    }
}

/// The names of the count outbox's metrics.
const NAMES: Names = Names {
    plural: "evaluation_counts",
    singular: "evaluation_count",
    delay_from: None,
};

/// A node's evaluation counter. Counts only once a writer is attached
/// ([`Usage::attach`]).
#[derive(Debug)]
pub struct Usage {
    outbox: Outbox<UsageCount>,
    shards: Box<[Mutex<Tallies>]>,
    /// When the interval being tallied began (microseconds since the Unix
    /// epoch), and how long an interval is at most; locked while a roll-up
    /// takes the tallies, so two never interleave.
    rollup: Mutex<Rollup>,
    /// Evaluations not counted.
    uncounted: AtomicU64,
}

#[derive(Debug)]
struct Rollup {
    began: i64,
    interval: Duration,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            outbox: Outbox::new(NAMES),
            shards: (0..shards()).map(|_| Mutex::default()).collect(),
            rollup: Mutex::new(Rollup {
                began: now_micros(),
                interval: UsageSettings::default().interval,
            }),
            uncounted: AtomicU64::new(0),
        }
    }
}

/// One shard's tallies: by flag set, then flag, then outcome (a flag has
/// few).
#[derive(Debug, Default)]
struct Tallies {
    sets: FxHashMap<Box<str>, FxHashMap<Box<str>, Vec<Tally>>>,
    outcomes: usize,
}

#[derive(Debug)]
struct Tally {
    variant: Option<Box<str>>,
    reason: Reason,
    count: u64,
}

impl Tallies {
    /// Adds one evaluation; `false` when it would be an outcome past the
    /// bound.
    fn add(&mut self, flag_set: &str, flag: &str, variant: Option<&str>, reason: Reason) -> bool {
        // Keys come from the snapshot, never from a caller (an evaluation
        // of an unknown flag is not counted), so a fast unkeyed hash is
        // safe.
        let full = self.outcomes >= MAX_OUTCOMES;
        let flags = match self.sets.get_mut(flag_set) {
            Some(flags) => flags,
            None if full => return false,
            None => self.sets.entry(flag_set.into()).or_default(),
        };
        let tallies = match flags.get_mut(flag) {
            Some(tallies) => tallies,
            None if full => return false,
            None => flags.entry(flag.into()).or_default(),
        };
        if let Some(tally) = tallies
            .iter_mut()
            .find(|t| t.reason == reason && t.variant.as_deref() == variant)
        {
            tally.count += 1;
            return true;
        }
        if full {
            return false;
        }
        tallies.push(Tally {
            variant: variant.map(Into::into),
            reason,
            count: 1,
        });
        self.outcomes += 1;
        true
    }
}

impl Usage {
    /// Counts `resolution`, an evaluation of a flag of flag set `flag_set`.
    pub fn count(&self, flag_set: &str, resolution: &Resolution<'_>) {
        if !self.outbox.is_attached() || resolution.error_code() == Some(ErrorCode::FlagNotFound) {
            return;
        }
        if self.outbox.is_closed() {
            self.uncounted.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let shard = &self.shards[shard_of_this_thread(self.shards.len())];
        let counted = shard.lock().unwrap_or_else(PoisonError::into_inner).add(
            flag_set,
            resolution.key,
            resolution.variant,
            resolution.reason,
        );
        if !counted {
            self.uncounted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Rolls the tallies up into the outbox if a minute has ended or an
    /// interval has passed since the last roll-up, or shutdown has begun.
    pub fn settle(&self) {
        self.roll_up(false);
    }

    /// Rolls the tallies up into the outbox now (or, unless `now`, only
    /// when due). Rows are of the minute in which the interval began.
    pub fn roll_up(&self, now: bool) {
        let mut rollup = self.rollup.lock().unwrap_or_else(PoisonError::into_inner);
        let at = now_micros();
        let interval = i64::try_from(rollup.interval.as_micros()).unwrap_or(i64::MAX);
        let due = now
            || self.outbox.is_closed()
            || at - rollup.began >= interval
            || minute_of(at) != minute_of(rollup.began);
        if !due {
            return;
        }
        let minute = minute_of(rollup.began);
        rollup.began = at;
        for shard in &self.shards {
            let tallies =
                std::mem::take(&mut *shard.lock().unwrap_or_else(PoisonError::into_inner));
            for (flag_set, flags) in tallies.sets {
                for (flag, outcomes) in flags {
                    for tally in outcomes {
                        let row = UsageCount {
                            flag_set: flag_set.to_string(),
                            flag: flag.to_string(),
                            variant: tally.variant.map(String::from).unwrap_or_default(),
                            reason: tally.reason,
                            minute,
                            count: tally.count,
                        };
                        if let Err(row) = self.outbox.push(row) {
                            self.uncounted.fetch_add(row.count, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
    }

    /// Attaches the writer's buffer; `None` if one is attached already.
    pub fn attach(&self, settings: &UsageSettings) -> Option<WriterQueue<UsageCount>> {
        let queue = self.outbox.attach(&settings.outbox)?;
        let mut rollup = self.rollup.lock().unwrap_or_else(PoisonError::into_inner);
        *rollup = Rollup {
            began: now_micros(),
            interval: settings.interval.min(Duration::from_secs(60)),
        };
        Some(queue)
    }

    /// Writes what `queue` receives to `sink` through the outbox's writer
    /// ([`Outbox::write`]) until `stop` resolves, rolling the tallies up
    /// when due and at shutdown.
    pub async fn run_writer(
        self: Arc<Self>,
        queue: WriterQueue<UsageCount>,
        sink: Arc<dyn Sink<UsageCount>>,
        settings: UsageSettings,
        stop: impl Future<Output = ()> + Send,
    ) {
        self.outbox
            .write(queue, sink, settings.outbox, stop, || self.settle())
            .await;
    }

    /// The outbox counts are buffered in.
    pub fn outbox(&self) -> &Outbox<UsageCount> {
        &self.outbox
    }

    /// Evaluations not counted: past a shard's bound, dropped with a full
    /// buffer, or made after shutdown's last roll-up.
    pub fn uncounted(&self) -> u64 {
        self.uncounted.load(Ordering::Relaxed)
    }

    /// The count metrics, in Prometheus' text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        self.outbox.render(out, self.outbox.buffered());
        let _ = writeln!(
            out,
            "# HELP ensign_evaluations_uncounted_total Evaluations missing from the evaluation counts: past a shard's bound, or in rows dropped with a full buffer.\n\
             # TYPE ensign_evaluations_uncounted_total counter\nensign_evaluations_uncounted_total {}",
            self.uncounted()
        );
    }
}

/// The start of the minute of `at_micros`, in seconds since the Unix
/// epoch.
fn minute_of(at_micros: i64) -> i64 {
    at_micros.div_euclid(60_000_000) * 60
}

#[cfg(test)]
mod tests {
    use super::*;

    use engine::{CompileOptions, Format, Selector, Snapshot};
    use serde_json::json;

    fn snapshot() -> Snapshot {
        let flags = r#"{"flags": {
            "banner": {"state": "ENABLED", "variants": {"on": true, "off": false},
                       "defaultVariant": "off",
                       "targeting": {"if": [{"==": [{"var": "plan"}, "pro"]}, "on", null]}},
            "color": {"state": "ENABLED", "variants": {"red": "r"}, "defaultVariant": "red"}
        }}"#;
        let (snapshot, _) =
            Snapshot::from_text("shop", flags, Format::Json, &CompileOptions::default()).unwrap();
        snapshot
    }

    fn settings() -> UsageSettings {
        UsageSettings {
            outbox: OutboxSettings {
                buffer: 100,
                ..OutboxSettings::default()
            },
            interval: Duration::from_secs(60),
        }
    }

    #[test]
    fn evaluations_are_tallied_by_flag_variant_and_reason() {
        let snapshot = snapshot();
        let usage = Usage::default();
        let evaluate = |key: &str, context: serde_json::Value| {
            let resolution = snapshot.evaluate(key, &Selector::All, &context);
            usage.count("shop", &resolution);
        };
        // Nothing is counted before a writer is attached.
        evaluate("banner", json!({"plan": "pro"}));
        let mut queue = usage.attach(&settings()).unwrap();
        for _ in 0..3 {
            evaluate("banner", json!({"plan": "pro"}));
        }
        evaluate("banner", json!({}));
        evaluate("color", json!({}));
        evaluate("missing", json!({}));
        usage.settle();
        assert!(queue.drain().is_empty(), "not due yet");
        usage.roll_up(true);
        let mut rows: Vec<(String, String, &str, u64)> = queue
            .drain()
            .into_iter()
            .map(|r| {
                assert_eq!(r.flag_set, "shop");
                assert_eq!(r.minute % 60, 0);
                (r.flag, r.variant, r.reason.as_str(), r.count)
            })
            .collect();
        rows.sort();
        assert_eq!(
            rows,
            [
                ("banner".into(), "off".into(), "DEFAULT", 1),
                ("banner".into(), "on".into(), "TARGETING_MATCH", 3),
                ("color".into(), "red".into(), "STATIC", 1),
            ]
        );
        // Rolled up: the next roll-up starts from zero.
        usage.roll_up(true);
        assert!(queue.drain().is_empty());
        assert_eq!(usage.uncounted(), 0);
    }

    #[test]
    fn outcomes_past_the_bound_are_counted_as_uncounted() {
        let mut tallies = Tallies::default();
        for i in 0..MAX_OUTCOMES {
            assert!(tallies.add("shop", &format!("flag-{i}"), Some("a"), Reason::Static));
        }
        // Known outcomes still add up; new ones do not.
        assert!(tallies.add("shop", "flag-7", Some("a"), Reason::Static));
        assert!(!tallies.add("shop", "flag-7", Some("b"), Reason::Static));
        assert!(!tallies.add("shop", "another", None, Reason::Error));
        assert!(!tallies.add("other", "flag-1", None, Reason::Error));
        assert_eq!(tallies.sets["shop"]["flag-7"][0].count, 2);
    }

    #[test]
    fn a_full_buffer_leaves_its_evaluations_uncounted() {
        let snapshot = snapshot();
        let usage = Usage::default();
        let mut settings = settings();
        settings.outbox.buffer = 1;
        let _queue = usage.attach(&settings).unwrap();
        for key in ["banner", "color"] {
            for _ in 0..2 {
                usage.count("shop", &snapshot.evaluate(key, &Selector::All, &json!({})));
            }
        }
        usage.roll_up(true);
        assert_eq!(usage.outbox().counts().recorded.load(Ordering::Relaxed), 1);
        assert_eq!(usage.uncounted(), 2);
        let mut text = String::new();
        usage.render(&mut text);
        assert!(
            text.contains("ensign_evaluations_uncounted_total 2\n"),
            "{text}"
        );
        assert!(text.contains("ensign_evaluation_counts_recorded_total 1\n"));
        // Counts carry no time to measure a commit delay from.
        assert!(!text.contains("commit_delay"), "{text}");
    }

    #[test]
    fn minutes_start_on_the_minute() {
        assert_eq!(minute_of(0), 0);
        assert_eq!(minute_of(59_999_999), 0);
        assert_eq!(minute_of(60_000_000), 60);
        assert_eq!(minute_of(1_800_000_030_000_000), 1_800_000_000);
        assert_eq!(minute_of(-1), -60);
    }
}
