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

/// A flag of two string variants, `on` and `off` (the default), with this
/// state and targeting.
fn on_off(state: &str, targeting: Value) -> Value {
    json!({
        "state": state,
        "variants": {"on": "ON", "off": "OFF"},
        "defaultVariant": "off",
        "targeting": targeting,
    })
}

// Rule 1.

/// A disabled flag resolves to DISABLED even when its targeting does not
/// compile: its targeting errors are warnings (same wording, so a store
/// sees no new finding), the flag counts as compiled. Enabled, the same
/// definition is an error and resolves to PARSE_ERROR.
#[test]
fn rule_1_disabled_wins_over_broken_targeting() {
    let unknown_operator = json!({"if": [{"bogus": [1]}, "on", "off"]});
    check_flag(
        on_off("DISABLED", unknown_operator.clone()),
        json!({}),
        json!({}),
        &["warning /flags/f/targeting/if/0/bogus: unknown operator \"bogus\""],
        "- - DISABLED -",
    );
    check_flag(
        on_off("ENABLED", unknown_operator),
        json!({}),
        json!({}),
        &["error /flags/f/targeting/if/0/bogus: unknown operator \"bogus\""],
        "- - ERROR PARSE_ERROR",
    );
    let unresolved_ref = json!({"if": [{"$ref": "ghost"}, "on", "off"]});
    check_flag(
        on_off("DISABLED", unresolved_ref.clone()),
        json!({}),
        json!({}),
        &["warning /flags/f/targeting/if/0/$ref: \"$ref\" names unknown evaluator \"ghost\""],
        "- - DISABLED -",
    );
    check_flag(
        on_off("ENABLED", unresolved_ref),
        json!({}),
        json!({}),
        &["error /flags/f/targeting/if/0/$ref: \"$ref\" names unknown evaluator \"ghost\""],
        "- - ERROR PARSE_ERROR",
    );
    check_flag(
        on_off("DISABLED", json!(["not", "a", "rule"])),
        json!({}),
        json!({}),
        &[
            "warning /flags/f/targeting: targeting must be a JSONLogic object, not [\"not\",\"a\",\"rule\"]",
        ],
        "- - DISABLED -",
    );
    // Structural errors flagd refuses at load stay errors.
    let mut bad_default = on_off("DISABLED", json!({"bogus": []}));
    bad_default["defaultVariant"] = json!("missing");
    check_flag(
        bad_default,
        json!({}),
        json!({}),
        &[
            "error /flags/f/defaultVariant: default variant \"missing\" is not one of the flag's variants",
            "warning /flags/f/targeting/bogus: unknown operator \"bogus\"",
        ],
        "- - ERROR PARSE_ERROR",
    );
    check_flag(
        on_off("OFF", json!({"bogus": []})),
        json!({}),
        json!({}),
        &[
            "error /flags/f/state: state must be \"ENABLED\" or \"DISABLED\", not \"OFF\"",
            "error /flags/f/targeting/bogus: unknown operator \"bogus\"",
        ],
        "- - ERROR PARSE_ERROR",
    );
    // The disabled definition is the flag's good version: a reload that
    // enables it without repairing the rule keeps serving it disabled.
    let options = CompileOptions::default();
    let disabled = flag_file(&on_off("DISABLED", json!({"bogus": []})), json!({}));
    let enabled = flag_file(&on_off("ENABLED", json!({"bogus": []})), json!({}));
    let (first, _) = Snapshot::from_text("src", &disabled, Format::Json, &options).unwrap();
    let set = first.flag_set_for("f", &Selector::All).unwrap();
    assert!(matches!(set.get("f"), Some(FlagEntry::Ready(_))));
    let (second, _) = first
        .reload_source("src", &enabled, Format::Json, &options)
        .unwrap();
    assert_eq!(resolve(&second, &json!({})), "- - DISABLED -");
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
