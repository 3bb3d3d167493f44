//! The rules of COMPATIBILITY.md: where flagd's Go daemon and its in-process
//! evaluators (JavaScript `@openfeature/flagd-core`, Python
//! `openfeature-flagd-core`) answer differently, or all differ from JSONLogic
//! elsewhere, the side Ensign takes. One check per rule, named after it.

use serde_json::{Value, json};

use engine::{CompileOptions, ErrorCode, FlagEntry, Format, Selector, Snapshot};

/// A flag file whose only flag, `f`, is `flag`, with `metadata` as the flag
/// set's metadata.
fn flag_file(flag: &Value, metadata: Value) -> String {
    json!({"metadata": metadata, "flags": {"f": flag}}).to_string()
}

/// Compiles a file holding `flag` as `f`; its diagnostics as
/// `severity pointer: message`.
fn compile_flag(flag: &Value, metadata: Value) -> (Snapshot, Vec<String>) {
    let (snapshot, diagnostics) = Snapshot::from_text(
        "test",
        &flag_file(flag, metadata),
        Format::Json,
        &CompileOptions::default(),
    )
    .expect("the flag file parses");
    let found = diagnostics
        .iter()
        .map(|d| format!("{} {}: {}", d.severity.as_str(), d.pointer, d.message))
        .collect();
    (snapshot, found)
}

/// How flag `f` resolves over `context`, as `value variant reason error`,
/// after checking that the prepared, JSON-text and explain paths agree.
fn resolve(snapshot: &Snapshot, context: &Value) -> String {
    let prepared = snapshot.evaluate("f", &Selector::All, context);
    let text = snapshot.evaluate_json("f", &Selector::All, &context.to_string());
    let (explained, _) = snapshot.explain("f", &Selector::All, context);
    assert_eq!(prepared, text, "prepared and JSON-text paths differ");
    assert_eq!(prepared, explained, "plain and explained paths differ");
    format!(
        "{} {} {} {}",
        prepared.value.map_or("-".to_owned(), Value::to_string),
        prepared.variant.unwrap_or("-"),
        prepared.reason,
        prepared.error_code().map_or("-", ErrorCode::as_str),
    )
}

/// Compiles `flag` (in a flag set with `metadata`) and checks its
/// diagnostics and its resolution over `context`.
#[track_caller]
fn check_flag(flag: Value, metadata: Value, context: Value, diagnostics: &[&str], expect: &str) {
    let (snapshot, found) = compile_flag(&flag, metadata);
    assert_eq!(found, diagnostics, "diagnostics of {flag}");
    assert_eq!(
        resolve(&snapshot, &context),
        expect,
        "{flag} over {context}"
    );
}

// Rule 2.

/// `defaultVariant: ""` is no default variant, exactly like null or
/// absent: no load error, the caller's default with reason DEFAULT, even
/// beside a variant named "".
#[test]
fn rule_2_empty_default_variant_means_none() {
    let flag = |default: Value, targeting: Value| {
        json!({
            "state": "ENABLED",
            "variants": {"a": "A", "": "empty"},
            "defaultVariant": default,
            "targeting": targeting,
        })
    };
    let pick = json!({"if": [{"var": "pick"}, "a", null]});
    for default in [json!(""), json!(null)] {
        check_flag(
            flag(default.clone(), json!({})),
            json!({}),
            json!({}),
            &[],
            "- - DEFAULT -",
        );
        check_flag(
            flag(default.clone(), pick.clone()),
            json!({}),
            json!({}),
            &[],
            "- - DEFAULT -",
        );
        check_flag(
            flag(default, pick.clone()),
            json!({}),
            json!({"pick": true}),
            &[],
            "\"A\" a TARGETING_MATCH -",
        );
    }
    check_flag(
        json!({"state": "ENABLED", "variants": {"a": "A"}, "defaultVariant": ""}),
        json!({}),
        json!({}),
        &[],
        "- - DEFAULT -",
    );
    let (snapshot, _) = compile_flag(&flag(json!(""), json!({})), json!({}));
    let set = snapshot.flag_set_for("f", &Selector::All).unwrap();
    let Some(FlagEntry::Ready(compiled)) = set.get("f") else {
        panic!("the flag compiles");
    };
    assert_eq!(compiled.default_variant(), None);
}
