//! Server metrics, rendered in Prometheus' text format: evaluations by flag
//! set, reason and error code; evaluation latency quantiles from an HDR
//! histogram; snapshot version and age; sync errors by source.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use engine::{ErrorCode, Reason};
use hdrhistogram::Histogram;

/// Latency quantiles reported.
const QUANTILES: [f64; 4] = [0.5, 0.9, 0.99, 0.999];

/// Evaluation counters of one flag set, by reason and error code.
type Outcomes = BTreeMap<(&'static str, &'static str), AtomicU64>;

/// Counters and histograms of one server.
#[derive(Debug)]
pub struct Metrics {
    /// By flag set, then outcome: looked up by `&str`, so counting an
    /// evaluation allocates nothing once its labels have been seen.
    evaluations: RwLock<BTreeMap<String, Outcomes>>,
    /// Evaluation latency in nanoseconds, 1 ns to 60 s, 3 significant
    /// digits (`None` only if those bounds were refused, which they are
    /// not).
    latency: Mutex<Option<Histogram<u64>>>,
    sync_errors: RwLock<BTreeMap<String, AtomicU64>>,
    diagnostics: RwLock<BTreeMap<String, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            evaluations: RwLock::default(),
            latency: Mutex::new(Histogram::new_with_bounds(1, 60_000_000_000, 3).ok()),
            sync_errors: RwLock::default(),
            diagnostics: RwLock::default(),
        }
    }
}

/// An evaluation's reason and error code, as metric labels.
type Outcome = (&'static str, &'static str);

/// An evaluation's reason and error code as metric labels.
fn outcome(reason: Reason, error: Option<ErrorCode>) -> Outcome {
    (reason.as_str(), error.map_or("", ErrorCode::as_str))
}

/// The evaluations of one request, counted locally (see
/// [`Metrics::evaluations`]).
#[derive(Debug, Default)]
pub struct Tally<'a> {
    /// By flag set, reason and error code; a request meets only a few.
    outcomes: Vec<(TallyKey<'a>, u64)>,
    evaluations: u64,
}

/// A flag set, reason and error code.
type TallyKey<'a> = (&'a str, Reason, Option<ErrorCode>);

impl<'a> Tally<'a> {
    /// Counts one evaluation.
    pub fn add(&mut self, flag_set: &'a str, reason: Reason, error: Option<ErrorCode>) {
        self.evaluations += 1;
        // The flag sets of one request are told apart by address first: it
        // is nearly always the same string.
        let same = |(set, r, e): &TallyKey<'a>| {
            *r == reason && *e == error && (std::ptr::eq(*set, flag_set) || *set == flag_set)
        };
        match self.outcomes.iter_mut().find(|(key, _)| same(key)) {
            Some((_, n)) => *n += 1,
            None => self.outcomes.push(((flag_set, reason, error), 1)),
        }
    }
}

/// Adds one to a labelled counter, taking the write lock only the first time
/// a label is seen.
fn bump<K: Ord + Clone>(map: &RwLock<BTreeMap<K, AtomicU64>>, key: &K, by: u64) {
    if let Ok(read) = map.read()
        && let Some(counter) = read.get(key)
    {
        counter.fetch_add(by, Ordering::Relaxed);
        return;
    }
    if let Ok(mut write) = map.write() {
        write
            .entry(key.clone())
            .or_insert_with(|| AtomicU64::new(0))
            .fetch_add(by, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Counts one evaluation and records how long it took.
    pub fn evaluation(
        &self,
        flag_set: &str,
        reason: Reason,
        error: Option<ErrorCode>,
        took: Duration,
    ) {
        self.count(flag_set, outcome(reason, error), 1);
        self.record_latency(took, 1);
    }

    /// Adds the evaluations of one request, which took `took` together:
    /// counted with one lookup per outcome, and each recorded in the latency
    /// histogram at their mean, so a bulk request does not pay a clock
    /// reading and a lock for each of its flags.
    pub fn evaluations(&self, tally: &Tally<'_>, took: Duration) {
        for ((flag_set, reason, error), n) in &tally.outcomes {
            self.count(flag_set, outcome(*reason, *error), *n);
        }
        if tally.evaluations > 0 {
            let each = took / u32::try_from(tally.evaluations).unwrap_or(u32::MAX);
            self.record_latency(each, tally.evaluations);
        }
    }

    fn count(&self, flag_set: &str, outcome: Outcome, n: u64) {
        let counted = self.evaluations.read().is_ok_and(|sets| {
            sets.get(flag_set)
                .and_then(|outcomes| outcomes.get(&outcome))
                .map(|counter| counter.fetch_add(n, Ordering::Relaxed))
                .is_some()
        });
        if !counted && let Ok(mut sets) = self.evaluations.write() {
            sets.entry(flag_set.to_owned())
                .or_default()
                .entry(outcome)
                .or_insert_with(|| AtomicU64::new(0))
                .fetch_add(n, Ordering::Relaxed);
        }
    }

    fn record_latency(&self, each: Duration, n: u64) {
        let nanos = u64::try_from(each.as_nanos()).unwrap_or(u64::MAX);
        if let Ok(mut latency) = self.latency.lock()
            && let Some(histogram) = latency.as_mut()
        {
            histogram.saturating_record_n(nanos.max(1), n);
        }
    }

    /// Counts a failure of a sync source (unreachable, unparseable, ...).
    pub fn sync_error(&self, source: &str) {
        bump(&self.sync_errors, &source.to_owned(), 1);
    }

    /// Counts diagnostics (invalid flags kept at their last good version)
    /// reported while loading a source.
    pub fn diagnostics(&self, source: &str, count: usize) {
        bump(
            &self.diagnostics,
            &source.to_owned(),
            u64::try_from(count).unwrap_or(u64::MAX),
        );
    }

    /// Sync errors counted so far for `source`.
    pub fn sync_errors(&self, source: &str) -> u64 {
        self.sync_errors
            .read()
            .ok()
            .and_then(|m| m.get(source).map(|c| c.load(Ordering::Relaxed)))
            .unwrap_or(0)
    }

    /// Renders every metric in Prometheus' text exposition format.
    pub fn render(&self, snapshot_version: u64, snapshot_age: Duration, ready: bool) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP ensign_evaluations_total Flag evaluations, by flag set, reason and error code.\n\
             # TYPE ensign_evaluations_total counter\n",
        );
        if let Ok(sets) = self.evaluations.read() {
            for (flag_set, outcomes) in sets.iter() {
                for ((reason, error_code), count) in outcomes {
                    let _ = writeln!(
                        out,
                        "ensign_evaluations_total{{flag_set=\"{}\",reason=\"{reason}\",error_code=\"{error_code}\"}} {}",
                        escape(flag_set),
                        count.load(Ordering::Relaxed)
                    );
                }
            }
        }
        out.push_str(
            "# HELP ensign_evaluation_duration_seconds Time to evaluate one flag.\n\
             # TYPE ensign_evaluation_duration_seconds summary\n",
        );
        if let Ok(latency) = self.latency.lock()
            && let Some(histogram) = latency.as_ref()
        {
            for q in QUANTILES {
                let _ = writeln!(
                    out,
                    "ensign_evaluation_duration_seconds{{quantile=\"{q}\"}} {}",
                    seconds(histogram.value_at_quantile(q))
                );
            }
            let sum: f64 = histogram
                .iter_recorded()
                .map(|v| v.value_iterated_to() as f64 * v.count_at_value() as f64)
                .sum();
            let _ = writeln!(out, "ensign_evaluation_duration_seconds_sum {}", sum / 1e9);
            let _ = writeln!(
                out,
                "ensign_evaluation_duration_seconds_count {}",
                histogram.len()
            );
        }
        out.push_str(
            "# HELP ensign_snapshot_version Content version of the serving snapshot.\n\
             # TYPE ensign_snapshot_version gauge\n",
        );
        // A gauge is a float: the version is shown as its hex ETag too.
        let _ = writeln!(
            out,
            "ensign_snapshot_version{{etag=\"{snapshot_version:016x}\"}} {}",
            snapshot_version as f64
        );
        out.push_str(
            "# HELP ensign_snapshot_age_seconds Time since the serving snapshot was published.\n\
             # TYPE ensign_snapshot_age_seconds gauge\n",
        );
        let _ = writeln!(
            out,
            "ensign_snapshot_age_seconds {}",
            snapshot_age.as_secs_f64()
        );
        out.push_str(
            "# HELP ensign_ready Whether every source has delivered a first state.\n\
             # TYPE ensign_ready gauge\n",
        );
        let _ = writeln!(out, "ensign_ready {}", u8::from(ready));
        for (name, help, map) in [
            (
                "ensign_sync_errors_total",
                "Failures to read a sync source, by source.",
                &self.sync_errors,
            ),
            (
                "ensign_flag_diagnostics_total",
                "Invalid flag definitions met while loading a source, by source.",
                &self.diagnostics,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            if let Ok(map) = map.read() {
                for (source, count) in map.iter() {
                    let _ = writeln!(
                        out,
                        "{name}{{source=\"{}\"}} {}",
                        escape(source),
                        count.load(Ordering::Relaxed)
                    );
                }
            }
        }
        out
    }
}

#[allow(clippy::cast_precision_loss)]
fn seconds(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// Escapes a label value for the text format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_quantiles_and_snapshot_gauges() {
        let metrics = Metrics::default();
        for micros in 1..=100 {
            metrics.evaluation(
                "shop",
                Reason::TargetingMatch,
                None,
                Duration::from_micros(micros),
            );
        }
        metrics.evaluation(
            "shop",
            Reason::Error,
            Some(ErrorCode::FlagNotFound),
            Duration::from_micros(1),
        );
        metrics.sync_error("http://flags.example/a\"b");
        let text = metrics.render(0xabc, Duration::from_secs(3), true);
        assert!(text.contains(
            "ensign_evaluations_total{flag_set=\"shop\",reason=\"TARGETING_MATCH\",error_code=\"\"} 100\n"
        ));
        assert!(text.contains(
            "ensign_evaluations_total{flag_set=\"shop\",reason=\"ERROR\",error_code=\"FLAG_NOT_FOUND\"} 1\n"
        ));
        let p50 = text
            .lines()
            .find_map(|l| l.strip_prefix("ensign_evaluation_duration_seconds{quantile=\"0.5\"} "))
            .and_then(|v| v.parse::<f64>().ok());
        let p50 = p50.unwrap_or(f64::NAN);
        assert!((50e-6..=51e-6).contains(&p50), "p50 was {p50}");
        assert!(text.contains("ensign_evaluation_duration_seconds_count 101\n"));
        assert!(text.contains("ensign_snapshot_version{etag=\"0000000000000abc\"} 2748\n"));
        assert!(text.contains("ensign_snapshot_age_seconds 3\n"));
        assert!(
            text.contains("ensign_sync_errors_total{source=\"http://flags.example/a\\\"b\"} 1\n")
        );
    }

    #[test]
    fn a_tally_adds_a_requests_evaluations_at_once() {
        let metrics = Metrics::default();
        metrics.evaluation("shop", Reason::Static, None, Duration::from_micros(9));
        let mut tally = Tally::default();
        for _ in 0..3 {
            tally.add("shop", Reason::Static, None);
        }
        tally.add("beta", Reason::Error, Some(ErrorCode::General));
        metrics.evaluations(&tally, Duration::from_micros(8));
        let text = metrics.render(1, Duration::ZERO, true);
        assert!(text.contains(
            "ensign_evaluations_total{flag_set=\"shop\",reason=\"STATIC\",error_code=\"\"} 4\n"
        ));
        assert!(text.contains(
            "ensign_evaluations_total{flag_set=\"beta\",reason=\"ERROR\",error_code=\"GENERAL\"} 1\n"
        ));
        // Four evaluations in 8 µs: each recorded at 2 µs.
        assert!(text.contains("ensign_evaluation_duration_seconds_count 5\n"));
        let p50 = text
            .lines()
            .find_map(|l| l.strip_prefix("ensign_evaluation_duration_seconds{quantile=\"0.5\"} "))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN);
        assert!((1.99e-6..=2.01e-6).contains(&p50), "p50 was {p50}");
    }
}
