//! The rules of COMPATIBILITY.md: where flagd's Go daemon and its in-process
//! evaluators (JavaScript `@openfeature/flagd-core`, Python
//! `openfeature-flagd-core`) answer differently, or all differ from JSONLogic
//! elsewhere, the side Ensign takes. One check per rule, named after it.

use serde_json::{Value, json};

use engine::logic::compile::{CompileInput, compile};
use engine::logic::{CompileLimits, Env, NoTrace, evaluate};
use engine::{
    CompileOptions, ErrorCode, Evaluators, FlagEntry, FlagType, Format, FractionalVersion,
    PathTable, Selector, Snapshot,
};

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

/// What a bare rule gives over `data`: its value as JSON, `fails: ...` when
/// evaluation stops, or `refused POINTER: ...` when it does not compile.
fn run_rule(rule: &Value, data: &Value) -> String {
    let evaluators = Evaluators::new();
    let input = CompileInput {
        flag_key: "f",
        evaluators: &evaluators,
        fractional: FractionalVersion::V2,
        limits: CompileLimits::default(),
    };
    let mut paths = PathTable::default();
    let compiled = match compile(rule, &input, &mut paths) {
        Ok((compiled, _)) => compiled,
        Err(errors) => {
            let error = &errors[0];
            return format!("refused {}: {}", error.pointer, error.message);
        }
    };
    let prepared = paths.prepare(data);
    let env = Env {
        context: &prepared,
        flag_key: "f",
    };
    match evaluate(&compiled, env, &mut NoTrace) {
        Ok(value) => value.to_json().to_string(),
        Err(failure) => format!("fails: {failure}"),
    }
}

#[track_caller]
fn check(rule: Value, data: Value, expect: &str) {
    assert_eq!(run_rule(&rule, &data), expect, "rule {rule} over {data}");
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
    check_flag(
        on_off("DISABLED", json!({"/": [{"var": "n"}, 0]})),
        json!({}),
        json!({"n": 1}),
        &[
            "warning /flags/f/targeting/~1/1: the divisor is a constant zero, so this expression always fails: \"/\" divides by zero",
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

// Rule 4.

/// Operands of every arithmetic operator convert with JavaScript's
/// `Number()`: null and "" are 0, booleans 0 and 1, numeric strings (after
/// trimming, with JavaScript's radix prefixes and "Infinity") their number,
/// `[]` 0 and `[x]` x's number.
#[test]
fn rule_4_arithmetic_converts_operands_with_number() {
    let data = json!({"s": "2", "t": true, "n": null, "e": "", "xs": [4]});
    check(json!({"+": [1, null]}), json!({}), "1");
    check(json!({"+": ["2", "3"]}), json!({}), "5");
    check(
        json!({"+": [{"var": "s"}, {"var": "t"}]}),
        data.clone(),
        "3",
    );
    check(
        json!({"*": [{"var": "s"}, {"var": "n"}]}),
        data.clone(),
        "0",
    );
    check(json!({"+": [{"var": "e"}, 1]}), data.clone(), "1");
    check(json!({"+": [[], {"var": "xs"}]}), data.clone(), "4");
    check(json!({"*": [" 2 ", "0x10"]}), json!({}), "32");
    check(json!({"+": [false, "1e2"]}), json!({}), "100");
    check(json!({"-": ["5", null]}), json!({}), "5");
    check(json!({"max": ["3", true]}), json!({}), "3");
    // Infinity is a number; only NaN and division by zero fail.
    check(
        json!({"<": [1000, {"+": ["Infinity", 1]}]}),
        json!({}),
        "true",
    );
}

/// An operation whose result is NaN, and a division or modulo by zero,
/// stop the evaluation: `ERROR`/`GENERAL` with the caller's default, on
/// every path, whatever encloses the operation.
#[test]
fn rule_4_nan_and_division_by_zero_stop_evaluation() {
    let data = json!({"n": 7, "zero": 0, "null": null, "empty": "", "word": "2abc",
                      "o": {"a": 1}, "pair": [1, 2], "inf": "Infinity"});
    let nan = "fails: \"+\" has no number for its result (NaN)";
    check(json!({"+": [1, {"var": "word"}]}), data.clone(), nan);
    check(json!({"+": [{"var": "o"}]}), data.clone(), nan);
    check(json!({"+": [{"var": "pair"}]}), data.clone(), nan);
    check(
        json!({"*": [{"var": "word"}, 2]}),
        data.clone(),
        "fails: \"*\" has no number for its result (NaN)",
    );
    check(
        json!({"-": [{"var": "inf"}, {"var": "inf"}]}),
        data.clone(),
        "fails: \"-\" has no number for its result (NaN)",
    );
    check(
        json!({"max": [1, {"var": "word"}]}),
        data.clone(),
        "fails: \"max\" has no number for its result (NaN)",
    );
    for divisor in ["zero", "null", "empty"] {
        check(
            json!({"/": [{"var": "n"}, {"var": divisor}]}),
            data.clone(),
            "fails: \"/\" divides by zero",
        );
        check(
            json!({"%": [{"var": "n"}, {"var": divisor}]}),
            data.clone(),
            "fails: \"%\" divides by zero",
        );
    }
    // Nothing encloses the failure: not a condition, not a loop, not `!!`.
    check(
        json!({"!!": [{"/": [{"var": "n"}, {"var": "zero"}]}]}),
        data.clone(),
        "fails: \"/\" divides by zero",
    );
    check(
        json!({"map": [[1, 2], {"/": [{"var": ""}, 0]}]}),
        json!({}),
        "refused /map/1/~1/1: the divisor is a constant zero, so this expression always fails: \"/\" divides by zero",
    );
    check(
        json!({"some": [{"var": "pair"}, {"+": [{"var": ""}, "x"]}]}),
        data.clone(),
        nan,
    );
    let rule = json!({"if": [{">": [{"/": [{"var": "n"}, {"var": "d"}]}, 1]}, "on", "off"]});
    let (snapshot, diagnostics) = compile_flag(&on_off("ENABLED", rule), json!({}));
    assert_eq!(diagnostics, Vec::<String>::new());
    assert_eq!(
        resolve(&snapshot, &json!({"n": 7, "d": 2})),
        "\"ON\" on TARGETING_MATCH -"
    );
    assert_eq!(
        resolve(&snapshot, &json!({"n": 7, "d": 0})),
        "- - ERROR GENERAL"
    );
    let r = snapshot.evaluate("f", &Selector::All, &json!({"n": 7}));
    assert_eq!(
        r.error.map(|e| e.message),
        Some("targeting rule of flag \"f\" failed: \"/\" divides by zero".to_owned())
    );
}

/// An expression that reads no context and always fails its arithmetic,
/// or a division by a constant zero, is refused where it stands, as flagd's
/// JavaScript evaluator refuses it when it builds the rule: the flag keeps
/// its last good version or resolves to PARSE_ERROR.
#[test]
fn rule_4_arithmetic_that_always_fails_is_refused() {
    check(
        json!({"/": [1, 0]}),
        json!({}),
        "refused /~1/1: the divisor is a constant zero, so this expression always fails: \"/\" divides by zero",
    );
    check(
        json!({"%": [{"var": "n"}, null]}),
        json!({}),
        "refused /%/1: the divisor is a constant zero, so this expression always fails: \"%\" divides by zero",
    );
    check(
        json!({"if": [{"var": "x"}, {"+": ["abc"]}, "off"]}),
        json!({}),
        "refused /if/1: this expression reads no context and always fails: \"+\" has no number for its result (NaN)",
    );
    check(
        json!({"cat": ["a", {"-": [{"+": ["Infinity"]}, {"+": ["Infinity"]}]}]}),
        json!({}),
        "refused /cat/1: this expression reads no context and always fails: \"-\" has no number for its result (NaN)",
    );
    check(
        json!({"reduce": [[1, 0], {"/": [1, {"var": "current"}]}, 0]}),
        json!({}),
        "refused : this expression reads no context and always fails: \"/\" divides by zero",
    );
    // Constant arithmetic that succeeds compiles.
    check(
        json!({"/": [{"var": "n"}, {"+": [1, 1]}]}),
        json!({"n": 5}),
        "2.5",
    );
    check_flag(
        on_off("ENABLED", json!({"if": [{"/": [1, 0]}, "on", "off"]})),
        json!({}),
        json!({}),
        &[
            "error /flags/f/targeting/if/0/~1/1: the divisor is a constant zero, so this expression always fails: \"/\" divides by zero",
        ],
        "- - ERROR PARSE_ERROR",
    );
}

/// `reduce` without an initial value starts from 0.
#[test]
fn rule_4_reduce_without_initial_value_starts_from_zero() {
    let sum = json!({"+": [{"var": "accumulator"}, {"var": "current"}]});
    let data = json!({"xs": [1, 2, 3], "words": ["a", "b"]});
    check(json!({"reduce": [{"var": "xs"}, sum]}), data.clone(), "6");
    check(
        json!({"reduce": [{"var": "words"}, {"cat": [{"var": "accumulator"}, {"var": "current"}]}]}),
        data.clone(),
        "\"0ab\"",
    );
    check(json!({"reduce": [{"var": "none"}, 1]}), data.clone(), "0");
    // An explicit initial value, null included, is kept.
    check(json!({"reduce": [{"var": "none"}, 1, null]}), data, "null");
}

/// A targeting result that is NaN or ±Infinity names no variant, even a
/// variant spelled that way: `ERROR`/`GENERAL`.
#[test]
fn rule_4_non_finite_results_name_no_variant() {
    let flag = json!({
        "state": "ENABLED",
        "variants": {"Infinity": "inf", "-Infinity": "-inf", "NaN": "nan", "0": "zero"},
        "defaultVariant": "0",
        "targeting": {"*": [{"var": "n"}, 1e308]},
    });
    let (snapshot, diagnostics) = compile_flag(&flag, json!({}));
    assert_eq!(diagnostics, Vec::<String>::new());
    assert_eq!(resolve(&snapshot, &json!({"n": 10})), "- - ERROR GENERAL");
    assert_eq!(resolve(&snapshot, &json!({"n": -10})), "- - ERROR GENERAL");
    let r = snapshot.evaluate("f", &Selector::All, &json!({"n": 10}));
    assert_eq!(
        r.error.map(|e| e.message),
        Some(
            "targeting rule of flag \"f\" returned Infinity, which is not a variant of the flag"
                .to_owned()
        )
    );
    assert_eq!(
        resolve(&snapshot, &json!({"n": 0})),
        "\"zero\" 0 TARGETING_MATCH -"
    );
}

// Keep, and document.

/// `fractional` v2 whose bucketing expression is null buckets
/// `flagKey + targetingKey`, as the Go daemon and flagd's fractional spec
/// do (the in-process evaluators answer DEFAULT).
#[test]
fn keep_fractional_v2_null_bucketing_value_buckets_flag_key_and_targeting_key() {
    let flag = |targeting: Value| {
        json!({
            "state": "ENABLED",
            "variants": {"a": "A", "b": "B", "c": "C"},
            "defaultVariant": "c",
            "targeting": targeting,
        })
    };
    let buckets = [json!(["a", 50]), json!(["b", 50])];
    let null_value = flag(json!({"fractional": [{"var": "missing"}, buckets[0], buckets[1]]}));
    let shorthand = flag(json!({"fractional": [buckets[0], buckets[1]]}));
    let v2 = json!({"ensign.fractional": "v2"});
    let (with_null, _) = compile_flag(&null_value, v2.clone());
    let (with_shorthand, _) = compile_flag(&shorthand, v2);
    let mut seen = Vec::new();
    for user in ["user-1", "user-2", "user-3", "user-4", "user-5", "user-6"] {
        let context = json!({"targetingKey": user});
        let got = resolve(&with_null, &context);
        assert_eq!(got, resolve(&with_shorthand, &context), "{user}");
        assert!(got.ends_with("TARGETING_MATCH -"), "{user}: {got}");
        seen.push(got);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 2, "both buckets are used: {seen:?}");
}

/// `fractional` v3 whose bucketing expression is null picks no bucket: the
/// default variant with reason DEFAULT, as v3's design says.
#[test]
fn keep_fractional_v3_null_bucketing_value_is_default() {
    check_flag(
        json!({
            "state": "ENABLED",
            "variants": {"a": "A", "b": "B", "c": "C"},
            "defaultVariant": "c",
            "targeting": {"fractional": [{"var": "missing"}, ["a", 50], ["b", 50]]},
        }),
        json!({"ensign.fractional": "v3"}),
        json!({"targetingKey": "user-1"}),
        &[],
        "\"C\" c DEFAULT -",
    );
}

/// `cat` renders null (a literal or a missing value) as "", as the Go
/// daemon and JavaScript's `join` do (Python's evaluator writes "null").
#[test]
fn keep_cat_renders_null_as_empty() {
    check(
        json!({"cat": ["a", null, {"var": "missing"}, {"var": "n"}, "b"]}),
        json!({"n": null}),
        "\"ab\"",
    );
    check(json!({"cat": [null]}), json!({}), "\"\"");
}

/// `==` and `!=` treat null as equal only to null (never to 0, false or
/// ""), on the generic path and on the specialised comparison of a context
/// value with a constant.
#[test]
fn keep_null_equals_only_null() {
    let data = json!({"n": null, "zero": 0, "no": false, "empty": ""});
    for (other, equal) in [
        (json!(null), true),
        (json!(0), false),
        (json!(false), false),
        (json!(""), false),
        (json!([]), false),
    ] {
        let expect = |eq: bool| if eq { "true" } else { "false" };
        check(
            json!({"==": [null, other.clone()]}),
            json!({}),
            expect(equal),
        );
        check(
            json!({"!=": [other.clone(), null]}),
            json!({}),
            expect(!equal),
        );
        check(
            json!({"==": [{"var": "n"}, other.clone()]}),
            data.clone(),
            expect(equal),
        );
        check(
            json!({"!=": [{"var": "n"}, other]}),
            data.clone(),
            expect(!equal),
        );
    }
    for key in ["zero", "no", "empty"] {
        check(json!({"==": [{"var": key}, null]}), data.clone(), "false");
        check(
            json!({"==": [{"var": key}, {"var": "n"}]}),
            data.clone(),
            "false",
        );
    }
    check(json!({"==": [{"var": "missing"}, null]}), data, "true");
}

/// A typed object request for an array-valued variant is TYPE_MISMATCH;
/// untyped, the variant's array is the value (what OFREP answers).
#[test]
fn keep_typed_object_request_for_an_array_variant_is_type_mismatch() {
    let flag = json!({
        "state": "ENABLED",
        "variants": {"list": [1, 2], "map": {"k": 1}},
        "defaultVariant": "list",
    });
    let (snapshot, _) = compile_flag(&flag, json!({}));
    let context = json!({});
    assert_eq!(resolve(&snapshot, &context), "[1,2] list STATIC -");
    let typed = snapshot
        .evaluate("f", &Selector::All, &context)
        .expect_type(FlagType::Object);
    assert_eq!(
        (typed.value, typed.error_code()),
        (None, Some(ErrorCode::TypeMismatch))
    );
}

/// Array variants of a flag whose other variants are objects are warned
/// about: flagd's schema allows only objects there. Beside variants of
/// other types, the mixed-types warning covers them.
#[test]
fn keep_array_variants_of_object_flags_are_warned_about() {
    let warning = |name: &str| {
        format!(
            "warning /flags/f/variants/{name}: variant {name:?} is an array, which flagd's schema does not allow (an object flag's variants are objects): a typed object evaluation of it answers TYPE_MISMATCH, only an untyped one (OFREP) returns the array"
        )
    };
    let diagnostics = |variants: Value| {
        let flag = json!({"state": "ENABLED", "variants": variants, "defaultVariant": null});
        compile_flag(&flag, json!({})).1
    };
    assert_eq!(
        diagnostics(json!({"list": [1, 2], "map": {"k": 1}})),
        [warning("list")]
    );
    assert_eq!(
        diagnostics(json!({"a": [], "b": [{"k": 1}]})),
        [warning("a"), warning("b")]
    );
    assert_eq!(
        diagnostics(json!({"a": {}, "b": {"k": []}})),
        Vec::<String>::new()
    );
    assert_eq!(
        diagnostics(json!({"on": true, "list": [true]})),
        [
            "warning /flags/f/variants: all variants of a flag must have one type: \"on\" is boolean where the first is array"
        ]
    );
}
