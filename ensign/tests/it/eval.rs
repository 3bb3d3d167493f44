//! `ensign eval` prints OFREP-shaped resolutions of the example flags.

use serde_json::{Value, json};

use crate::{ensign, stdout};

fn eval(args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["eval", "--flags", "examples/flags.json"];
    all.extend_from_slice(args);
    let output = ensign(&all);
    let text = stdout(&output);
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (output.status.code(), value)
}

#[test]
fn resolves_a_targeted_flag() {
    let (code, out) = eval(&[
        "--flag",
        "new-checkout",
        "--context",
        r#"{"targetingKey": "u1", "email": "ada@example.com"}"#,
        "--type",
        "boolean",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(out["key"], "new-checkout");
    assert_eq!(out["value"], json!(true));
    assert_eq!(out["variant"], "on");
    assert_eq!(out["reason"], "TARGETING_MATCH");
    assert_eq!(out["metadata"]["owner"], "checkout");
    assert_eq!(out["metadata"]["tags"], "checkout, payments");
    assert!(out.get("errorCode").is_none());
}

#[test]
fn errors_carry_code_and_details() {
    let (code, out) = eval(&["--flag", "payments-kill-switch", "--type", "string"]);
    assert_eq!(code, Some(1));
    assert_eq!(out["errorCode"], "TYPE_MISMATCH");
    assert_eq!(out["reason"], "ERROR");
    assert!(
        out["errorDetails"]
            .as_str()
            .unwrap()
            .contains("not a string")
    );
    assert!(out.get("value").is_none());

    let (code, out) = eval(&["--flag", "nope"]);
    assert_eq!(code, Some(1));
    assert_eq!(out["errorCode"], "FLAG_NOT_FOUND");
}

#[test]
fn bad_context_is_refused() {
    for context in ["[1, 2]", "{not json"] {
        let output = ensign(&[
            "eval",
            "--flags",
            "examples/flags.json",
            "--flag",
            "new-checkout",
            "--context",
            context,
        ]);
        assert_eq!(output.status.code(), Some(2), "{context}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--context"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn explain_adds_the_decision_path() {
    let (code, out) = eval(&[
        "--flag",
        "new-checkout",
        "--context",
        r#"{"targetingKey": "u1", "email": "x@elsewhere.org"}"#,
        "--explain",
    ]);
    assert_eq!(code, Some(0));
    let summary = out["explain"]["summary"].as_str().unwrap();
    assert!(summary.contains("$ref \"staff\" expanded"), "{summary}");
    assert!(summary.contains("fractional bucket"), "{summary}");
    let steps = out["explain"]["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["step"] == "fractional"), "{steps:?}");
}

#[test]
fn batch_mode_writes_one_resolution_per_case() {
    let output = ensign(&[
        "eval",
        "--flags",
        "examples/flags.json",
        "--cases",
        "examples/cases.jsonl",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let lines: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let reasons: Vec<&str> = lines
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "STATIC",
            "TARGETING_MATCH",
            "TARGETING_MATCH",
            "TARGETING_MATCH",
            "DEFAULT",
            "TARGETING_MATCH",
            "DEFAULT",
            "DISABLED"
        ]
    );
    assert_eq!(lines[3]["value"], "v2-dashboard");
    assert_eq!(lines[5]["value"], json!(true));
}

#[test]
fn malformed_case_lines_are_reported_in_place() {
    let dir = std::env::temp_dir().join(format!("ensign-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = dir.join("cases.jsonl");
    std::fs::write(
        &cases,
        "{\"flag\": \"payments-kill-switch\"}\n{\"flag\": 3}\n\n{\"flag\": \"beta-dashboard\", \"context\": []}\n",
    )
    .unwrap();
    let output = ensign(&[
        "eval",
        "--flags",
        "examples/flags.json",
        "--cases",
        &cases.display().to_string(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let lines: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["value"], json!(true));
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[1]["errorCode"], "INVALID_CONTEXT");
    assert_eq!(lines[2]["line"], 4);
    assert!(
        lines[2]["errorDetails"]
            .as_str()
            .unwrap()
            .contains("\"context\" must be a JSON object")
    );
}

/// The OFREP document's reason enum (STATIC, TARGETING_MATCH, SPLIT,
/// DISABLED, UNKNOWN) lacks DEFAULT, which flagd returns when targeting
/// yields null or there is no default variant. Ensign follows flagd, so
/// OpenFeature SDKs see the same reason from Ensign as from flagd.
#[test]
fn default_reason_follows_flagd_where_the_ofrep_enum_lacks_it() {
    let spec = std::fs::read_to_string(crate::conformance_dir().join("ofrep/openapi.yaml"))
        .expect("OFREP document");
    let reason_enum = spec
        .lines()
        .find(|l| l.trim_start().starts_with("enum: [STATIC"))
        .expect("the reason enum");
    assert!(!reason_enum.contains("DEFAULT"), "{reason_enum}");
    let (code, out) = eval(&[
        "--flag",
        "beta-dashboard",
        "--context",
        r#"{"email": "linus@elsewhere.org"}"#,
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(out["reason"], "DEFAULT");
    assert_eq!(out["value"], "v1-dashboard");
}
