//! Engine benchmarks: nanoseconds per evaluation of six flagd rules over one
//! realistic context, Ensign against datalogic-rs, flagd-evaluation-engine
//! and jsonlogic-rs in the same run (`just bench-engine`).
//!
//! Every implementation must first give the same answer as Ensign on every
//! rule; the run stops, listing the disagreements, if one does not. After
//! criterion's groups it prints one `BENCH` line per (rule, baseline, path)
//! with criterion's mean estimates and a `LATENCY` line per Ensign benchmark.
//! Under `cargo test --benches` (criterion's test mode) it only checks the
//! answers and runs each benchmark once.

// The modules sit in `evaluate/`, out of reach of cargo's discovery of bench
// targets in `benches/*.rs`.
#[path = "evaluate/baselines.rs"]
mod baselines;
#[path = "evaluate/fixtures.rs"]
mod fixtures;
#[path = "evaluate/report.rs"]
mod report;

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion};
use datalogic_rs::Engine;
use datalogic_rs::bumpalo::Bump;
use flagd_evaluation_engine::Operator;
use open_feature::EvaluationContext;
use serde_json::Value;

use engine::{CompileOptions, FlagSet, Format, Prepared, Reason, Resolution, Selector, Snapshot};

use crate::baselines::{Datalogic, datalogic_variant, json_variant};
use crate::fixtures::RuleId;
use crate::report::{Id, Impl, Report, Route};

fn main() {
    let inputs = Inputs::new();
    let benches: Vec<RuleBench<'_>> = RuleId::ALL
        .iter()
        .map(|&rule| RuleBench::new(rule, &inputs))
        .collect();

    let mut disagreements = Vec::new();
    for bench in &benches {
        let (answers, problems) = bench.check();
        println!("ANSWERS rule={} {answers}", bench.rule.letter());
        disagreements.extend(problems);
    }
    assert!(
        disagreements.is_empty(),
        "implementations disagree on the bench context, so timing them would \
         compare different work:\n  {}",
        disagreements.join("\n  ")
    );

    // Criterion times only under `cargo bench` (which passes `--bench`),
    // and not when asked to test or list.
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let benchmarking = has("--bench") && !has("--test") && !has("--list");
    let dir = Report::criterion_dir();
    // Criterion is told where to write so that the report reads its
    // estimates from the same place.
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .output_directory(&dir)
        .configure_from_args();
    let mut report = Report::new(dir, benchmarking);
    for bench in &benches {
        bench.measure(&mut criterion, &mut report);
    }
    criterion.final_summary();
    report.print();
}

/// What every rule's benchmarks share.
struct Inputs {
    context: Value,
    /// The context as compact JSON text.
    text: String,
    /// Every rule's flag, `fractional` bucketing as v2.
    v2: Snapshot,
    /// The same flags, `fractional` bucketing as v3.
    v3: Snapshot,
    datalogic: Engine,
    /// datalogic-rs with `fractional` bucketing as v3.
    datalogic_v3: Engine,
    operator: Operator,
    open_feature: EvaluationContext,
}

impl Inputs {
    fn new() -> Self {
        let context: Value = serde_json::from_str(fixtures::CONTEXT).expect("the context is JSON");
        let snapshot = |fractional: &str| {
            let (snapshot, diagnostics) = Snapshot::from_text(
                "bench",
                &fixtures::flag_file(fractional),
                Format::Json,
                &CompileOptions::default(),
            )
            .expect("the flag file parses");
            assert!(
                diagnostics.is_empty(),
                "the bench flags compile cleanly: {diagnostics:?}"
            );
            snapshot
        };
        Inputs {
            text: fixtures::compact(fixtures::CONTEXT),
            v2: snapshot("v2"),
            v3: snapshot("v3"),
            datalogic: baselines::datalogic_engine(),
            datalogic_v3: baselines::datalogic_engine_v3(),
            operator: Operator::new(),
            open_feature: baselines::open_feature_context(&context),
            context,
        }
    }
}

/// One rule, compiled and prepared for every implementation that supports
/// it.
struct RuleBench<'i> {
    rule: RuleId,
    inputs: &'i Inputs,
    set: &'i FlagSet,
    prepared: Prepared<'i>,
    /// A `fractional` rule in the v3 scheme, to compare with the v3
    /// baselines.
    v3: Option<(&'i FlagSet, Prepared<'i>)>,
    /// The targeting as text (flagd-evaluation-engine takes a string) and
    /// compiled by datalogic-rs; `None` for the static flag.
    rule_text: Option<String>,
    datalogic: Option<Datalogic<'i>>,
    /// A `fractional` rule compiled by datalogic-rs bucketing as v3.
    datalogic_v3: Option<Datalogic<'i>>,
    /// The rule as jsonlogic-rs takes it, for the rules whose operators it
    /// has (no `starts_with`, `sem_ver` or `fractional`).
    jsonlogic: Option<Value>,
}

impl<'i> RuleBench<'i> {
    fn new(rule: RuleId, inputs: &'i Inputs) -> Self {
        let key = rule.flag_key();
        let set_of = |snapshot: &'i Snapshot| -> &'i FlagSet {
            snapshot
                .flag_set_for(key, &Selector::All)
                .expect("the flag is in the snapshot")
        };
        let set = set_of(&inputs.v2);
        let v3 = rule.buckets().then(|| {
            let set = set_of(&inputs.v3);
            (set, set.prepare(&inputs.context))
        });
        let targeting = rule.targeting();
        let datalogic = targeting.as_ref().map(|targeting| {
            let text = if rule.buckets() {
                fixtures::with_flagd_envelope(&inputs.text, key)
            } else {
                inputs.text.clone()
            };
            Datalogic::new(&inputs.datalogic, targeting, text)
        });
        let datalogic_v3 = targeting
            .as_ref()
            .filter(|_| rule.buckets())
            .map(|targeting| {
                let text = fixtures::with_flagd_envelope(&inputs.text, key);
                Datalogic::new(&inputs.datalogic_v3, targeting, text)
            });
        RuleBench {
            rule,
            inputs,
            set,
            prepared: set.prepare(&inputs.context),
            v3,
            rule_text: targeting.as_ref().map(Value::to_string),
            datalogic,
            datalogic_v3,
            jsonlogic: targeting.filter(|_| matches!(rule, RuleId::D | RuleId::E)),
        }
    }

    /// Evaluates the rule once with every implementation; returns their
    /// answers and every way in which one differs from Ensign's, or Ensign's
    /// from what the rule is built to do.
    fn check(&self) -> (String, Vec<String>) {
        let mut problems = Vec::new();
        let mut answers = Vec::new();
        let letter = self.rule.letter();
        let key = self.rule.flag_key();
        let expected_reason = match self.rule {
            RuleId::A => Reason::Static,
            _ => Reason::TargetingMatch,
        };
        let mut ensign = |imp: Impl, route: Route, resolution: Resolution<'_>| {
            if resolution.reason != expected_reason {
                problems.push(format!(
                    "rule {letter}: {} ({}) resolved with reason {} instead of {expected_reason}{}",
                    imp.name(),
                    route.name(),
                    resolution.reason,
                    resolution
                        .error
                        .as_ref()
                        .map(|e| format!(": {} {}", e.code, e.message))
                        .unwrap_or_default()
                ));
            }
            resolution.variant.map(str::to_owned)
        };
        let reference = ensign(
            Impl::Ensign,
            Route::Prepared,
            self.set.evaluate(key, &self.prepared),
        );
        let from_json = ensign(
            Impl::Ensign,
            Route::Json,
            self.set.evaluate_json(key, &self.inputs.text),
        );
        let reference_v3 = self.v3.as_ref().map(|(set, prepared)| {
            ensign(Impl::EnsignV3, Route::Prepared, set.evaluate(key, prepared))
        });
        let from_json_v3 = self.v3.as_ref().map(|(set, _)| {
            ensign(
                Impl::EnsignV3,
                Route::Json,
                set.evaluate_json(key, &self.inputs.text),
            )
        });
        answers.push(format!("ensign={}", shown(&reference)));
        if let Some(v3) = &reference_v3 {
            answers.push(format!("ensign-v3={}", shown(v3)));
        }
        let mut compare = |who: &str, ours: &Option<String>, theirs: Option<String>| {
            answers.push(format!("{}={}", who, shown(&theirs)));
            if *ours != theirs {
                problems.push(format!(
                    "rule {letter}: Ensign chose {ours:?}, {who} chose {theirs:?}"
                ));
            }
        };
        compare("ensign/json", &reference, from_json);
        if let (Some(v3), Some(from_json)) = (&reference_v3, from_json_v3) {
            compare("ensign-v3/json", v3, from_json);
        }
        if let Some(dl) = &self.datalogic {
            let mut arena = Bump::new();
            compare(
                "datalogic-rs/prepared",
                &reference,
                dl.prepared(&mut arena, datalogic_variant),
            );
            compare(
                "datalogic-rs/json",
                &reference,
                dl.json(&mut arena, datalogic_variant),
            );
        }
        if let (Some(dl), Some(v3)) = (&self.datalogic_v3, &reference_v3) {
            let mut arena = Bump::new();
            compare(
                "datalogic-rs-v3/prepared",
                v3,
                dl.prepared(&mut arena, datalogic_variant),
            );
            compare(
                "datalogic-rs-v3/json",
                v3,
                dl.json(&mut arena, datalogic_variant),
            );
        }
        if let Some(text) = &self.rule_text {
            let flagd = self
                .inputs
                .operator
                .apply(key, text, &self.inputs.open_feature)
                .unwrap_or_else(|e| Some(format!("error: {e}")));
            // flagd-evaluation-engine buckets `fractional` with the v3 scheme.
            compare(
                "flagd-evaluation-engine",
                reference_v3.as_ref().unwrap_or(&reference),
                flagd,
            );
        }
        if let Some(rule) = &self.jsonlogic {
            let theirs = jsonlogic_rs::apply(rule, &self.inputs.context)
                .map_or_else(|e| Some(format!("error: {e}")), |v| json_variant(&v));
            compare("jsonlogic-rs", &reference, theirs);
        }
        (answers.join(" "), problems)
    }

    /// Runs this rule's criterion group.
    fn measure(&self, criterion: &mut Criterion, report: &mut Report) {
        let key = self.rule.flag_key();
        let text = self.inputs.text.as_str();
        let mut group = criterion.benchmark_group(format!("rule_{}", self.rule.letter()));
        let g = &mut group;
        let id = |imp: Impl, route: Route| Id {
            rule: self.rule,
            imp,
            route,
        };

        let (set, prepared) = (self.set, &self.prepared);
        run(g, report, id(Impl::Ensign, Route::Prepared), move || {
            set.evaluate(key, prepared)
        });
        run(g, report, id(Impl::Ensign, Route::Json), move || {
            set.evaluate_json(key, text)
        });
        if let Some((set, prepared)) = &self.v3 {
            run(g, report, id(Impl::EnsignV3, Route::Prepared), move || {
                set.evaluate(key, prepared)
            });
            run(g, report, id(Impl::EnsignV3, Route::Json), move || {
                set.evaluate_json(key, text)
            });
        }

        if let Some(dl) = &self.datalogic {
            let mut arena = Bump::new();
            run(g, report, id(Impl::Datalogic, Route::Prepared), || {
                dl.prepared(&mut arena, |v| {
                    black_box(v.as_str());
                })
            });
            run(g, report, id(Impl::Datalogic, Route::Json), || {
                dl.json(&mut arena, |v| {
                    black_box(v.as_str());
                })
            });
        }
        if let Some(dl) = &self.datalogic_v3 {
            let mut arena = Bump::new();
            run(g, report, id(Impl::DatalogicV3, Route::Prepared), || {
                dl.prepared(&mut arena, |v| {
                    black_box(v.as_str());
                })
            });
            run(g, report, id(Impl::DatalogicV3, Route::Json), || {
                dl.json(&mut arena, |v| {
                    black_box(v.as_str());
                })
            });
        }
        if let Some(rule_text) = &self.rule_text {
            // The rule string and the OpenFeature context are built once, as
            // the flagd provider holds them; `apply` is what it calls per
            // evaluation.
            let (operator, context) = (&self.inputs.operator, &self.inputs.open_feature);
            run(g, report, id(Impl::Flagd, Route::Prepared), move || {
                operator.apply(key, rule_text, context)
            });
        }
        if let Some(rule) = &self.jsonlogic {
            let data = &self.inputs.context;
            run(g, report, id(Impl::Jsonlogic, Route::Prepared), move || {
                jsonlogic_rs::apply(rule, data)
            });
            run(g, report, id(Impl::Jsonlogic, Route::Json), move || {
                let data: Value = serde_json::from_str(text).expect("the context is JSON");
                jsonlogic_rs::apply(rule, &data)
            });
        }
        group.finish();
    }
}

/// Times `f` with criterion in the rule's group, then hands it to the report.
fn run<R>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    report: &mut Report,
    id: Id,
    mut f: impl FnMut() -> R,
) {
    group.bench_function(BenchmarkId::new(id.imp.name(), id.route.name()), |b| {
        b.iter(&mut f)
    });
    report.finished(id, f);
}

/// A variant name for the `ANSWERS` lines.
fn shown(variant: &Option<String>) -> &str {
    variant.as_deref().unwrap_or("<none>")
}
