//! From measurements to the printed report: criterion's mean estimates,
//! Ensign's latency percentiles from batched samples, and the `BENCH` and
//! `LATENCY` lines.

use std::fmt;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::fixtures::RuleId;

/// Who evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impl {
    /// Ensign, `fractional` in its default v2 scheme.
    Ensign,
    /// Ensign with the flag set bucketing as v3 (flagd-evaluation-engine's
    /// scheme), for the `fractional` rules only.
    EnsignV3,
    /// datalogic-rs 5.4 with flagd's operators registered, `fractional`
    /// bucketing as v2.
    Datalogic,
    /// The same with `fractional` bucketing as v3, for the `fractional`
    /// rules only.
    DatalogicV3,
    /// flagd-evaluation-engine 0.1's `Operator::apply`.
    Flagd,
    /// jsonlogic-rs 0.5.
    Jsonlogic,
}

impl Impl {
    /// The name in criterion's ids and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Ensign => "ensign",
            Impl::EnsignV3 => "ensign-v3",
            Impl::Datalogic => "datalogic-rs",
            Impl::DatalogicV3 => "datalogic-rs-v3",
            Impl::Flagd => "flagd-evaluation-engine",
            Impl::Jsonlogic => "jsonlogic-rs",
        }
    }

    fn is_ensign(self) -> bool {
        matches!(self, Impl::Ensign | Impl::EnsignV3)
    }
}

/// Where evaluation starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Route {
    /// From a context parsed (and for Ensign, prepared) once.
    Prepared,
    /// From the context's JSON text, parsed on every evaluation.
    Json,
}

impl Route {
    /// The name in criterion's ids and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Route::Prepared => "prepared",
            Route::Json => "json",
        }
    }
}

/// One benchmark: a rule, an implementation, a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Id {
    pub rule: RuleId,
    pub imp: Impl,
    pub route: Route,
}

impl Id {
    /// Criterion's group name for the rule.
    pub fn group(self) -> String {
        format!("rule_{}", self.rule.letter())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rule={} path={} engine={}",
            self.rule.letter(),
            self.route.name(),
            self.imp.name()
        )
    }
}

/// What the run measured, collected as criterion finishes each benchmark.
#[derive(Debug)]
pub struct Report {
    dir: PathBuf,
    started: SystemTime,
    /// Whether criterion times benchmarks (not `--test`, `--list`, ...):
    /// only then are there estimates to read and latencies worth sampling.
    benchmarking: bool,
    means: Vec<(Id, f64)>,
    latencies: Vec<(Id, Latency)>,
}

impl Report {
    /// A report for this process's run; `dir` is criterion's output
    /// directory.
    pub fn new(dir: PathBuf, benchmarking: bool) -> Self {
        Report {
            dir,
            started: SystemTime::now(),
            benchmarking,
            means: Vec::new(),
            latencies: Vec::new(),
        }
    }

    /// Criterion's output directory, as criterion picks it (the
    /// `CRITERION_HOME` or `$CARGO_TARGET_DIR/criterion`), else the
    /// `criterion` folder of the target directory this bench was built in.
    pub fn criterion_dir() -> PathBuf {
        if let Some(home) = std::env::var_os("CRITERION_HOME") {
            return PathBuf::from(home);
        }
        if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
            return Path::new(&target).join("criterion");
        }
        // The bench runs as <target>/<profile>/deps/evaluate-<hash>.
        std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("criterion")))
            .unwrap_or_else(|| PathBuf::from("target/criterion"))
    }

    /// Records a benchmark criterion has just finished: its mean from
    /// criterion's estimates and, for Ensign, latency percentiles sampled by
    /// running `f` again.
    pub fn finished<R>(&mut self, id: Id, f: impl FnMut() -> R) {
        if !self.benchmarking {
            return;
        }
        // A benchmark that the command line filtered out leaves no fresh
        // estimate behind (an old one may remain from an earlier run).
        let Some(mean) = self.fresh_mean(id) else {
            return;
        };
        self.means.push((id, mean));
        if id.imp.is_ensign() {
            self.latencies.push((id, sample(f)));
        }
    }

    fn fresh_mean(&self, id: Id) -> Option<f64> {
        let file = self
            .dir
            .join(id.group())
            .join(id.imp.name())
            .join(id.route.name())
            .join("new")
            .join("estimates.json");
        if std::fs::metadata(&file).ok()?.modified().ok()? < self.started {
            return None;
        }
        let estimates: Value = serde_json::from_str(&std::fs::read_to_string(&file).ok()?).ok()?;
        estimates.pointer("/mean/point_estimate")?.as_f64()
    }

    fn mean(&self, rule: RuleId, imp: Impl, route: Route) -> Option<f64> {
        let id = Id { rule, imp, route };
        self.means.iter().find(|(i, _)| *i == id).map(|(_, m)| *m)
    }

    /// Prints one `BENCH` line per (rule, baseline, path), then Ensign's
    /// latency percentiles.
    pub fn print(&self) {
        if !self.benchmarking {
            return;
        }
        println!();
        for rule in RuleId::ALL {
            for route in [Route::Prepared, Route::Json] {
                // A static flag involves no rule, so there is nothing for a
                // JSONLogic library to do: flagd's providers return the
                // default variant without calling it. Timing datalogic-rs on
                // a constant rule would compare Ensign's flag lookup with an
                // unrelated no-op, so rule (a) has no baseline.
                if rule == RuleId::A {
                    if let Some(ensign) = self.mean(rule, Impl::Ensign, route) {
                        println!(
                            "BENCH rule=a path={} ensign_ns={ensign:.1} baseline=none baseline_ns=0 speedup=0",
                            route.name()
                        );
                    }
                    continue;
                }
                for baseline in [
                    Impl::Datalogic,
                    Impl::DatalogicV3,
                    Impl::Flagd,
                    Impl::Jsonlogic,
                ] {
                    // Ensign's counterpart buckets `fractional` with the
                    // baseline's scheme: v3 for datalogic-rs-v3 and
                    // flagd-evaluation-engine.
                    let ensign = match baseline {
                        Impl::DatalogicV3 | Impl::Flagd if rule.buckets() => Impl::EnsignV3,
                        _ => Impl::Ensign,
                    };
                    let (Some(x), Some(y)) = (
                        self.mean(rule, ensign, route),
                        self.mean(rule, baseline, route),
                    ) else {
                        continue;
                    };
                    println!(
                        "BENCH rule={} path={} ensign_ns={x:.1} baseline={} baseline_ns={y:.1} speedup={:.2}",
                        rule.letter(),
                        route.name(),
                        baseline.name(),
                        y / x
                    );
                }
            }
        }
        println!();
        for (id, l) in &self.latencies {
            let mean = self.mean(id.rule, id.imp, id.route).unwrap_or(f64::NAN);
            println!(
                "LATENCY {id} mean_ns={mean:.1} p50_ns={:.1} p99_ns={:.1} sampled_mean_ns={:.1} batch={} samples={}",
                l.p50, l.p99, l.mean, l.batch, l.samples
            );
        }
        println!(
            "(mean_ns is criterion's mean estimate; p50_ns, p99_ns and sampled_mean_ns come from up to {:?} of samples per benchmark, each sample timing `batch` evaluations and divided by it)",
            SAMPLING_BUDGET
        );
    }
}

/// Time spent sampling latencies, per Ensign benchmark.
const SAMPLING_BUDGET: Duration = Duration::from_millis(500);

/// Each latency sample times a batch lasting at least this long, so that the
/// clock's own cost (tens of nanoseconds) stays in the noise.
const BATCH_TARGET_NS: f64 = 1_000.0;

/// Per-evaluation latency of one benchmark, from batched samples.
#[derive(Debug, Clone, Copy)]
struct Latency {
    batch: usize,
    samples: usize,
    mean: f64,
    p50: f64,
    p99: f64,
}

/// Times `f` in batches and returns per-evaluation percentiles.
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn sample<R>(mut f: impl FnMut() -> R) -> Latency {
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_millis(20) {
        for _ in 0..16 {
            black_box(f());
        }
        calls += 16;
    }
    let estimate = start.elapsed().as_nanos() as f64 / calls as f64;
    let batch = ((BATCH_TARGET_NS / estimate).ceil() as usize).clamp(1, 4096);
    let count = ((SAMPLING_BUDGET.as_nanos() as f64 / (estimate * batch as f64)) as usize)
        .clamp(100, 200_000);
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        samples.push(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    samples.sort_by(f64::total_cmp);
    let rank =
        |p: f64| samples[((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    Latency {
        batch,
        samples: samples.len(),
        mean: samples.iter().sum::<f64>() / samples.len() as f64,
        p50: rank(0.50),
        p99: rank(0.99),
    }
}
