//! `ensign validate` accepts flagd's positive schema examples and rejects the
//! negative ones, each against the schema its `$schema` names.

use std::path::Path;

use serde_json::Value;

use crate::{conformance_dir, ensign, stdout};

fn files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path().display().to_string())
        .filter(|path| path.ends_with(".json"))
        .collect();
    files.sort();
    files
}

#[track_caller]
fn check_dir(sub: &str, kind: &str, expect_valid: bool) -> usize {
    let dir = conformance_dir().join("flagd-schemas/json/test").join(sub);
    let files = files(&dir);
    for file in &files {
        let output = ensign(&["validate", "--kind", kind, file]);
        assert_eq!(
            output.status.success(),
            expect_valid,
            "{file} should be {}: {}",
            if expect_valid { "accepted" } else { "rejected" },
            stdout(&output)
        );
        if !expect_valid {
            assert_eq!(output.status.code(), Some(1), "{file}");
        }
    }
    files.len()
}

#[test]
fn accepts_every_positive_example() {
    let count = check_dir("flags/positive", "flags", true)
        + check_dir("flagd/positive", "flags", true)
        + check_dir("targeting/positive", "targeting", true);
    assert!(count >= 16, "only {count} positive examples found");
}

#[test]
fn rejects_every_negative_example() {
    let count = check_dir("flags/negative", "flags", false)
        + check_dir("targeting/negative", "targeting", false);
    assert!(count >= 18, "only {count} negative examples found");
}

#[test]
fn json_report_names_flag_and_pointer() {
    let file =
        conformance_dir().join("flagd-schemas/json/test/flags/negative/state-set-incorrectly.json");
    let output = ensign(&["validate", "--format", "json", &file.display().to_string()]);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON report");
    assert_eq!(report["valid"], Value::Bool(false));
    let diagnostic = &report["files"][0]["diagnostics"][0];
    assert_eq!(diagnostic["flagKey"], "myBoolFlag");
    assert_eq!(diagnostic["pointer"], "/flags/myBoolFlag/state");
    assert_eq!(diagnostic["severity"], "error");
    assert!(
        diagnostic["message"]
            .as_str()
            .unwrap()
            .contains("WILL-FAIL")
    );
}

#[test]
fn reports_every_file_and_syntax_errors() {
    let dir = tempdir();
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\"flags\": {").unwrap();
    let output = ensign(&[
        "validate",
        "examples/flags.json",
        &broken.display().to_string(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("examples/flags.json: ok"), "{text}");
    assert!(text.contains("JSON syntax error"), "{text}");

    let output = ensign(&["validate", "does-not-exist.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("reading does-not-exist.json"));
}

#[test]
fn fractional_weights_beyond_the_cap_fail() {
    // One weight above the cap, and weights each within it whose sum is
    // not: either way the evaluator would serve the default to everyone.
    let dir = tempdir();
    let cases = [
        (
            "single",
            "[\"on\", 2147483648], [\"off\", 1]",
            "bucket weight 2147483648 is above the largest weight, 2147483647",
            "/flags/rollout/targeting/fractional/1/1",
        ),
        (
            "sum",
            "[\"on\", 2147483647], [\"off\", 1]",
            "the bucket weights add up to 2147483648, above the largest total, 2147483647",
            "/flags/rollout/targeting/fractional",
        ),
    ];
    for (name, buckets, message, pointer) in cases {
        let file = dir.join(format!("weights-{name}.json"));
        let text = format!(
            r#"{{"flags": {{"rollout": {{"state": "ENABLED", "variants": {{"on": true, "off": false}},
                "defaultVariant": "off", "targeting": {{"fractional": [{{"var": "targetingKey"}}, {buckets}]}}}}}}}}"#
        );
        std::fs::write(&file, text).unwrap();
        let output = ensign(&["validate", "--format", "json", &file.display().to_string()]);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", stdout(&output));
        let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON report");
        let diagnostic = &report["files"][0]["diagnostics"][0];
        assert_eq!(diagnostic["flagKey"], "rollout", "{name}");
        assert_eq!(diagnostic["pointer"], pointer, "{name}");
        assert_eq!(diagnostic["severity"], "warning", "{name}");
        assert!(
            diagnostic["message"].as_str().unwrap().contains(message),
            "{name}: {diagnostic}"
        );
    }
}

/// Keys that flagd accepts but a store refuses (bidirectional overrides,
/// zero-width marks, surrounding white space) are reported as warnings;
/// the file stays valid, as file sources keep flagd's rule.
#[test]
fn keys_a_store_refuses_are_warnings_that_do_not_fail() {
    let dir = tempdir();
    let file = dir.join("invisible-keys.json");
    let flag =
        serde_json::json!({"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"});
    let document = serde_json::json!({
        "flags": {
            "plain": flag,
            "admin\u{202e}txt.exe": flag,
            "zero\u{200b}width": flag,
            " padded": flag,
        },
        "$evaluators": {"staff\u{2066}": {"==": [1, 1]}},
    });
    std::fs::write(&file, document.to_string()).unwrap();
    let path = file.display().to_string();

    let output = ensign(&["validate", &path]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    for part in [
        "U+202E",
        "U+200B",
        "white space",
        "U+2066",
        "a store refuses it",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    assert_eq!(text.matches("warning:").count(), 4, "{text}");
    assert!(!text.contains("\"plain\""), "{text}");

    let output = ensign(&["validate", "--format", "json", &path]);
    assert_eq!(output.status.code(), Some(0));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON report");
    assert_eq!(report["valid"], Value::Bool(true));
    let warnings = report["files"][0]["keyWarnings"].as_array().unwrap();
    let pointers: Vec<&str> = warnings
        .iter()
        .map(|w| w["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers.len(), 4, "{pointers:?}");
    assert!(
        pointers.contains(&"/flags/admin\u{202e}txt.exe"),
        "{pointers:?}"
    );
    assert!(
        pointers.contains(&"/$evaluators/staff\u{2066}"),
        "{pointers:?}"
    );
    assert!(warnings.iter().all(|w| w["severity"] == "warning"));
}

/// Rule 3 of flagd parity: every `$ref` inside `$evaluators` is a warning
/// naming its JSON pointer, and one to an evaluator declared earlier is
/// also an error, there and in the flag that uses it, since flagd's
/// one-pass substitution leaves it unresolved.
#[test]
fn rule_3_refs_between_evaluators_are_reported_by_pointer() {
    let dir = tempdir();
    let flag = r#""f": {"state": "ENABLED", "variants": {"on": true, "off": false},
                      "defaultVariant": "off", "targeting": {"if": [{"$ref": "segA"}, "on", "off"]}}"#;
    let staff = r#"{"ends_with": [{"var": "email"}, "@example.com"]}"#;
    let cases = [
        (
            "later",
            format!(r#"{{"segA": {{"in": ["x", {{"$ref": "segB"}}]}}, "segB": {staff}}}"#),
            &["warning - /$evaluators/segA/in/1/$ref"][..],
        ),
        (
            "earlier",
            format!(r#"{{"segB": {staff}, "segA": {{"in": ["x", {{"$ref": "segB"}}]}}}}"#),
            &[
                "warning - /$evaluators/segA/in/1/$ref",
                "error f /flags/f/targeting/if/0/$ref/in/1/$ref",
                "error - /$evaluators/segA/in/1/$ref",
            ][..],
        ),
    ];
    for (name, evaluators, expect) in cases {
        let file = dir.join(format!("refs-{name}.json"));
        std::fs::write(
            &file,
            format!(r#"{{"$evaluators": {evaluators}, "flags": {{{flag}}}}}"#),
        )
        .unwrap();
        let path = file.display().to_string();
        let output = ensign(&["validate", "--format", "json", &path]);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", stdout(&output));
        let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON report");
        let found: Vec<String> = report["files"][0]["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                format!(
                    "{} {} {}",
                    d["severity"].as_str().unwrap(),
                    d["flagKey"].as_str().unwrap_or("-"),
                    d["pointer"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(found, expect, "{name}");
        let warning = &report["files"][0]["diagnostics"][0]["message"];
        assert!(
            warning
                .as_str()
                .unwrap()
                .contains("refers to another ($ref) is not supported by flagd"),
            "{warning}"
        );
        // The text report prints the same warning, pointer first.
        let text = stdout(&ensign(&["validate", &path]));
        assert!(
            text.contains(&format!(
                "{path}: warning: /$evaluators/segA/in/1/$ref: a shared evaluator"
            )),
            "{text}"
        );
    }
}

/// A disabled flag whose targeting does not compile, and an array variant
/// beside objects, are warnings: the file fails validation, as any finding
/// does, but nothing in it is an error (a server serves both flags, the
/// first as DISABLED).
#[test]
fn disabled_broken_targeting_and_array_variants_are_warnings() {
    let dir = tempdir();
    let file = dir.join("warnings-only.json");
    let document = serde_json::json!({"flags": {
        "killed": {"state": "DISABLED", "variants": {"on": true, "off": false},
                   "defaultVariant": "off", "targeting": {"if": [{"bogus": [1]}, "on", "off"]}},
        "lists": {"state": "ENABLED", "variants": {"a": [1, 2], "b": {"k": 1}},
                  "defaultVariant": "b"},
    }});
    std::fs::write(&file, document.to_string()).unwrap();
    let output = ensign(&["validate", "--format", "json", &file.display().to_string()]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON report");
    let found: Vec<String> = report["files"][0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d["severity"].as_str().unwrap(),
                d["pointer"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            "warning /flags/killed/targeting/if/0/bogus",
            "warning /flags/lists/variants/a"
        ]
    );
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ensign-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
