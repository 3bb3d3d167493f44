//! `fractional` with constant buckets, whose bucketing value (a `cat` above
//! all) is hashed without being built, against the general path that
//! evaluates every argument and builds the string, on generated rules and
//! contexts, in every bucketing scheme.

use proptest::prelude::*;
use serde_json::{Value, json};

use engine::logic::{EvalLimits, StepKind};
use engine::{CompileLimits, CompileOptions, Format, Reason, Selector, Snapshot, Trace};

/// A bucketing value: a `cat` of these parts, one of them alone, or none
/// (the shorthand).
fn bucketing() -> impl Strategy<Value = Option<Value>> {
    let part = prop_oneof![
        Just(json!("pre-")),
        Just(json!("")),
        Just(json!("é")),
        Just(json!(null)),
        Just(json!(7)),
        Just(json!(true)),
        Just(json!({"var": "$flagd.flagKey"})),
        Just(json!({"var": "a"})),
        Just(json!({"var": "b"})),
        Just(json!({"var": "c.d"})),
        Just(json!({"var": "absent"})),
        Just(json!({"var": ["a", "fallback"]})),
        Just(json!({"substr": [{"var": "b"}, 1]})),
        Just(json!({"cat": [{"var": "a"}, "-"]})),
    ];
    prop_oneof![
        prop::collection::vec(part.clone(), 0..7).prop_map(|parts| Some(json!({"cat": parts}))),
        part.prop_map(Some),
        Just(None),
    ]
}

/// Mostly valid buckets splitting users among the flag's variants, so
/// that a wrong hash shows as a wrong variant; else buckets of known and
/// unknown variants, of valid and invalid weights, and the odd invalid
/// bucket.
fn buckets() -> impl Strategy<Value = Vec<Value>> {
    let split = prop::collection::vec(1..100u32, 4).prop_map(|weights| {
        ["red", "blue", "green", "yellow"]
            .iter()
            .zip(weights)
            .map(|(variant, weight)| json!([variant, weight]))
            .collect::<Vec<_>>()
    });
    prop_oneof![3 => split, 1 => any_buckets()]
}

fn any_buckets() -> impl Strategy<Value = Vec<Value>> {
    let variant = prop_oneof![
        Just(json!("red")),
        Just(json!("blue")),
        Just(json!("green")),
        Just(json!("yellow")),
        Just(json!("violet")),
        Just(json!(true)),
        Just(json!(null)),
        Just(json!(5)),
    ];
    let weight = prop_oneof![
        Just(None),
        Just(Some(json!(0))),
        Just(Some(json!(1))),
        Just(Some(json!(25))),
        Just(Some(json!(-3))),
        Just(Some(json!(2_147_483_647))),
        Just(Some(json!(null))),
        Just(Some(json!(2.5))),
    ];
    let bucket = prop_oneof![
        8 => (variant, weight).prop_map(|(v, w)| match w {
            Some(w) => json!([v, w]),
            None => json!([v]),
        }),
        1 => Just(json!([])),
        1 => Just(json!([["red"], 1])),
    ];
    prop::collection::vec(bucket, 1..5)
}

/// A context value: strings (some that JSON text escapes), numbers,
/// booleans, null, arrays (some of them buckets) and objects.
fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("user-1")),
        Just(json!("c20ad4d2")),
        Just(json!("")),
        Just(json!("qu\"ote\\")),
        Just(json!("ünï")),
        Just(json!(42)),
        Just(json!(-0.5)),
        Just(json!(1e21)),
        Just(json!(0.1)),
        Just(json!(true)),
        Just(json!(null)),
        Just(json!(["red", 10])),
        Just(json!(["x", "y"])),
        Just(json!({"d": "deep"})),
    ]
}

fn context() -> impl Strategy<Value = Value> {
    (
        prop::option::of(value()),
        prop::option::of(value()),
        prop::option::of(value()),
        prop::option::of(value()),
    )
        .prop_map(|(a, b, c, key)| {
            let mut context = serde_json::Map::new();
            for (name, value) in [("a", a), ("b", b), ("c", c), ("targetingKey", key)] {
                if let Some(value) = value {
                    context.insert(name.to_owned(), value);
                }
            }
            Value::Object(context)
        })
}

/// The flag file: `fractional` over `args` at the root of `root` and under
/// an `if` in `nested`.
fn flags(version: &str, args: &[Value]) -> String {
    let flag = |targeting: Value| {
        json!({
            "state": "ENABLED",
            "variants": {"red": "R", "blue": "B", "green": "G", "yellow": "Y", "true": "T"},
            "defaultVariant": "red",
            "targeting": targeting,
            // Tracked, so that the split's attribution is compared too.
            "metadata": {"ensign.experiment": "colours"}
        })
    };
    let fractional = json!({ "fractional": args });
    json!({
        "metadata": {"ensign.fractional": version},
        "flags": {
            "root": flag(fractional.clone()),
            "nested": flag(json!({"if": [{"!": [{"var": "off"}]}, fractional, null]}))
        }
    })
    .to_string()
}

/// `args` with the first bucket made an expression that evaluates to it,
/// so that the buckets are no longer constants.
fn with_computed_bucket(args: &[Value], buckets_from: usize) -> Option<Vec<Value>> {
    let mut args = args.to_vec();
    let at =
        (buckets_from..args.len()).find(|&i| args[i].as_array().is_some_and(|b| !b.is_empty()))?;
    let bucket = args[at].as_array_mut()?;
    bucket[0] = json!({"if": [true, bucket[0].take()]});
    Some(args)
}

/// The `fractional` steps of a trace (bucket, hash, variant), as JSON.
fn bucketings(trace: &Trace) -> Value {
    trace
        .steps
        .iter()
        .filter(|step| matches!(step.kind, StepKind::Fractional { .. }))
        .map(|step| serde_json::to_value(step).unwrap_or_default())
        .collect()
}

fn load(text: &str, limits: CompileLimits) -> Snapshot {
    let options = CompileOptions {
        limits,
        ..CompileOptions::default()
    };
    let (snapshot, _) =
        Snapshot::from_text("t", text, Format::Json, &options).expect("the flag file parses");
    snapshot
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn constant_buckets_resolve_as_computed_ones(
        version in prop_oneof![Just("v1"), Just("v2"), Just("v3")],
        first in bucketing(),
        buckets in buckets(),
        contexts in prop::collection::vec(context(), 1..5),
        tight in any::<bool>(),
    ) {
        let (args, buckets_from) = match first {
            Some(first) => ([vec![first], buckets].concat(), 1),
            None => (buckets, 0),
        };
        let Some(computed) = with_computed_bucket(&args, buckets_from) else {
            return Ok(());
        };
        // Tight limits make some `cat`s too long, or too costly.
        let limits = if tight {
            CompileLimits {
                eval: EvalLimits { max_string_bytes: 12, max_steps: 40, ..EvalLimits::DEFAULT },
                ..CompileLimits::default()
            }
        } else {
            CompileLimits::default()
        };
        let fast = load(&flags(version, &args), limits);
        let general = load(&flags(version, &computed), limits);
        for context in &contexts {
            let text = context.to_string();
            for key in ["root", "nested"] {
                let expected = general.evaluate(key, &Selector::All, context);
                let prepared = fast.evaluate(key, &Selector::All, context);
                prop_assert_eq!(&prepared, &expected, "{} {} over {}", key, version, text);
                let from_text = fast.evaluate_json(key, &Selector::All, &text);
                prop_assert_eq!(&from_text, &expected, "{} {} over text {}", key, version, text);
                let (explained, trace) = fast.explain(key, &Selector::All, context);
                prop_assert_eq!(&explained, &expected, "{} {} explained over {}", key, version, text);
                // After a failure the computed bucket, an array built at
                // evaluation, is no longer built: the traces then part.
                if expected.reason == Reason::Error {
                    continue;
                }
                let (_, expected_trace) = general.explain(key, &Selector::All, context);
                prop_assert_eq!(
                    bucketings(&trace),
                    bucketings(&expected_trace),
                    "{} {} traced over {}",
                    key,
                    version,
                    text
                );
            }
        }
    }
}
