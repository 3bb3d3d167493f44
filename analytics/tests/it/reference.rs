//! The analysis against figures computed independently: each folder of
//! `tests/data/reference/` holds an experiment, its exposures and events
//! as CSV, and the report that `scripts/reference.py` computed from them
//! with scipy, statsmodels and gbstats. Every number must agree within
//! the tolerance of its kind, every `null` must be `null` here too, and
//! every undefined figure must carry a note.

use std::path::{Path, PathBuf};

use analytics::{Experiment, Input, Kind, Table, analyse};
use serde_json::Value;
use time::OffsetDateTime;

/// How close a figure must be: |actual − expected| ≤ absolute + relative·|expected|.
#[derive(Debug, Clone, Copy)]
struct Tolerance {
    relative: f64,
    absolute: f64,
}

/// Closed forms: counts, sums, means, variances, lifts, the z-test, MDE,
/// the sample-ratio test, the sequential figures and the adjustments.
const CLOSED_FORM: Tolerance = Tolerance {
    relative: 1e-9,
    absolute: 1e-12,
};

/// Welch's t-test: Student's t quantile and tail from the incomplete beta
/// function.
const WELCH: Tolerance = Tolerance {
    relative: 1e-7,
    absolute: 1e-12,
};

/// The Bayesian figures: quadrature on both sides.
const QUADRATURE: Tolerance = Tolerance {
    relative: 0.0,
    absolute: 1e-6,
};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|error| panic!("reading {}: {error}", root.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    cases
}

#[test]
fn every_figure_matches_the_reference() {
    let cases = cases();
    assert!(
        cases.len() >= 15,
        "expected the generated cases, found {cases:?}"
    );
    for case in cases {
        check_case(&case);
    }
}

fn check_case(case: &Path) {
    let name = case
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let read = |file: &str| {
        std::fs::read_to_string(case.join(file))
            .unwrap_or_else(|error| panic!("{name}/{file}: {error}"))
    };
    let experiment = Experiment::parse(&read("experiment.json"))
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    let input = Input {
        exposures: Table::file(Kind::Exposures, &case.join("exposures.csv"))
            .unwrap_or_else(|error| panic!("{name}: {error}")),
        events: Table::file(Kind::Events, &case.join("events.csv"))
            .unwrap_or_else(|error| panic!("{name}: {error}")),
    };
    let report = analyse(&experiment, &input, OffsetDateTime::UNIX_EPOCH)
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    let actual = serde_json::to_value(&report).expect("a report is JSON");
    let expected: Value = serde_json::from_str(&read("expected.json")).expect("expected.json");

    for field in ["experiment", "flag", "control"] {
        assert_eq!(actual[field], expected[field], "{name}: {field}");
    }
    compare(&name, "/srm", &actual["srm"], &expected["srm"], CLOSED_FORM);
    compare(
        &name,
        "/multiple_exposure_share",
        &actual["multiple_exposure_share"],
        &expected["multiple_exposure_share"],
        CLOSED_FORM,
    );
    compare(
        &name,
        "/variants",
        &actual["variants"],
        &expected["variants"],
        CLOSED_FORM,
    );
    let (Some(actual_comparisons), Some(expected_comparisons)) = (
        actual["comparisons"].as_array(),
        expected["comparisons"].as_array(),
    ) else {
        panic!("{name}: comparisons are not arrays");
    };
    assert_eq!(
        actual_comparisons.len(),
        expected_comparisons.len(),
        "{name}: comparisons"
    );
    let kinds: std::collections::HashMap<&str, analytics::MetricKind> = experiment
        .metrics
        .iter()
        .map(|metric| (metric.name.as_str(), metric.kind))
        .collect();
    for (index, (actual, expected)) in actual_comparisons
        .iter()
        .zip(expected_comparisons)
        .enumerate()
    {
        let Some(fields) = expected.as_object() else {
            panic!("{name}: comparison {index} is not an object");
        };
        let kind = kinds[expected["metric"].as_str().unwrap_or_default()];
        for (field, expected_value) in fields {
            let tolerance = match field.as_str() {
                "chance_to_beat_control" | "expected_loss" => QUADRATURE,
                "abs_ci" | "rel_ci" | "p_value" | "p_value_holm" | "p_value_bh"
                    if kind == analytics::MetricKind::Sum =>
                {
                    WELCH
                }
                _ => CLOSED_FORM,
            };
            compare(
                &name,
                &format!("/comparisons/{index}/{field}"),
                &actual[field],
                expected_value,
                tolerance,
            );
        }
    }
    let notes = |report: &Value| -> Vec<String> {
        report["notes"]
            .as_object()
            .map(|notes| notes.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(
        notes(&actual),
        notes(&expected),
        "{name}: the notes' pointers"
    );
}

/// Compares two JSON values: numbers within `tolerance`, everything else
/// exactly, objects by the expected keys.
#[track_caller]
fn compare(case: &str, at: &str, actual: &Value, expected: &Value, tolerance: Tolerance) {
    match (actual, expected) {
        (Value::Number(a), Value::Number(e)) => {
            let (a, e) = (
                a.as_f64().unwrap_or(f64::NAN),
                e.as_f64().unwrap_or(f64::NAN),
            );
            let allowed = tolerance.absolute + tolerance.relative * e.abs();
            assert!(
                (a - e).abs() <= allowed,
                "{case}{at}: {a} vs {e} (difference {:e}, allowed {allowed:e})",
                (a - e).abs()
            );
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "{case}{at}: lengths");
            for (index, (a, e)) in a.iter().zip(e).enumerate() {
                compare(case, &format!("{at}/{index}"), a, e, tolerance);
            }
        }
        (Value::Object(a), Value::Object(e)) => {
            for (key, e) in e {
                let a = a.get(key).unwrap_or(&Value::Null);
                compare(case, &format!("{at}/{key}"), a, e, tolerance);
            }
        }
        (a, e) => assert_eq!(a, e, "{case}{at}"),
    }
}
