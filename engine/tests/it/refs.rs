//! Rule 3 of flagd parity, shared evaluators do not reference each other:
//! `$ref`s are substituted in one pass in declaration order, as flagd's
//! in-process evaluators (`@openfeature/flagd-core`, `openfeature-flagd-core`)
//! do, a `$ref` left after it is `PARSE_ERROR`, and every `$ref` inside
//! `$evaluators` is a warning.

use expect_test::{Expect, expect};
use serde_json::{Value, json};

use engine::{CompileOptions, ErrorCode, Format, Selector, Snapshot};

/// The only flag of the files below: on when its targeting is true.
const FLAG: &str = r#""f": {"state": "ENABLED", "variants": {"on": true, "off": false},
                       "defaultVariant": "off", "targeting": {"if": [TARGETING, "on", "off"]}}"#;

/// Compiles a file whose `$evaluators` is `evaluators` (its members in
/// declaration order) and whose flag `f` is on when `condition` holds;
/// renders how `f` resolves for a staff member, the definition it is
/// sent with, and the diagnostics.
#[track_caller]
fn check(format: Format, evaluators: &str, condition: &str, expect: Expect) {
    let text = match format {
        Format::Json => format!(
            r#"{{"$evaluators": {evaluators}, "flags": {{{}}}}}"#,
            FLAG.replace("TARGETING", condition)
        ),
        // JSON is YAML: a flow mapping keeps its members' order just the same.
        Format::Yaml => format!(
            "$evaluators: {evaluators}\nflags: {{{}}}\n",
            FLAG.replace("TARGETING", condition)
        ),
    };
    let (snapshot, diagnostics) =
        Snapshot::from_text("refs", &text, format, &CompileOptions::default())
            .expect("the file parses");
    let context = json!({"email": "ada@example.com", "beta": false});
    let r = snapshot.evaluate("f", &Selector::All, &context);
    let mut out = format!(
        "{} {} {}\n",
        r.value.map_or("-".to_owned(), Value::to_string),
        r.reason,
        r.error_code().map_or("-", ErrorCode::as_str),
    );
    let definition = snapshot
        .flag_set_for("f", &Selector::All)
        .and_then(|set| set.get("f"))
        .map(|entry| entry.definition()["targeting"]["if"][0].to_string());
    out.push_str(&format!("sent: {}\n", definition.unwrap_or_default()));
    for d in &diagnostics {
        out.push_str(&format!("{d}\n"));
    }
    expect.assert_eq(&out);
}

const STAFF: &str = r#"{"ends_with": [{"var": "email"}, "@example.com"]}"#;

#[test]
fn rule_3_a_reference_to_an_evaluator_declared_later_resolves() {
    // Declared before the evaluator it names (and after it by name, so a
    // map sorted by key would get this wrong).
    check(
        Format::Json,
        &format!(
            r#"{{"staff_or_beta": {{"or": [{{"$ref": "staff"}}, {{"var": "beta"}}]}}, "staff": {STAFF}}}"#
        ),
        r#"{"$ref": "staff_or_beta"}"#,
        expect![[r#"
            true TARGETING_MATCH -
            sent: {"or":[{"ends_with":[{"var":"email"},"@example.com"]},{"var":"beta"}]}
            warning: /$evaluators/staff_or_beta/or/0/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
        "#]],
    );
}

#[test]
fn rule_3_a_reference_to_an_evaluator_declared_earlier_stays_unresolved() {
    check(
        Format::Json,
        &format!(
            r#"{{"staff": {STAFF}, "staff_or_beta": {{"or": [{{"$ref": "staff"}}, {{"var": "beta"}}]}}}}"#
        ),
        r#"{"$ref": "staff_or_beta"}"#,
        expect![[r#"
            - ERROR PARSE_ERROR
            sent: {"$ref":"staff_or_beta"}
            warning: /$evaluators/staff_or_beta/or/0/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
            error: flag "f": /flags/f/targeting/if/0/$ref/or/0/$ref: "$ref" to evaluator "staff" inside evaluator "staff_or_beta" is not resolved: evaluators are substituted once, in declaration order, so a reference inside one resolves only to an evaluator declared after it
        "#]],
    );
}

#[test]
fn rule_3_yaml_keeps_declaration_order_too() {
    check(
        Format::Yaml,
        &format!(
            r#"{{"staff_or_beta": {{"or": [{{"$ref": "staff"}}, {{"var": "beta"}}]}}, "staff": {STAFF}}}"#
        ),
        r#"{"$ref": "staff_or_beta"}"#,
        expect![[r#"
            true TARGETING_MATCH -
            sent: {"or":[{"ends_with":[{"var":"email"},"@example.com"]},{"var":"beta"}]}
            warning: /$evaluators/staff_or_beta/or/0/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
        "#]],
    );
    check(
        Format::Yaml,
        &format!(
            r#"{{"staff": {STAFF}, "staff_or_beta": {{"or": [{{"$ref": "staff"}}, {{"var": "beta"}}]}}}}"#
        ),
        r#"{"$ref": "staff_or_beta"}"#,
        expect![[r#"
            - ERROR PARSE_ERROR
            sent: {"$ref":"staff_or_beta"}
            warning: /$evaluators/staff_or_beta/or/0/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
            error: flag "f": /flags/f/targeting/if/0/$ref/or/0/$ref: "$ref" to evaluator "staff" inside evaluator "staff_or_beta" is not resolved: evaluators are substituted once, in declaration order, so a reference inside one resolves only to an evaluator declared after it
        "#]],
    );
}

#[test]
fn rule_3_a_chain_of_three_resolves_only_in_declaration_order() {
    let a = r#""a": {"and": [{"$ref": "b"}, true]}"#;
    let b = r#""b": {"or": [{"$ref": "c"}, false]}"#;
    let c = format!(r#""c": {STAFF}"#);
    let flag = r#"{"$ref": "a"}"#;
    // a, b, c: each reference names a later evaluator.
    check(
        Format::Json,
        &format!("{{{a}, {b}, {c}}}"),
        flag,
        expect![[r#"
            true TARGETING_MATCH -
            sent: {"and":[{"or":[{"ends_with":[{"var":"email"},"@example.com"]},false]},true]}
            warning: /$evaluators/a/and/0/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
            warning: /$evaluators/b/or/0/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
        "#]],
    );
    // a, c, b: a's reference to b resolves, b's to c (declared before b)
    // does not.
    check(
        Format::Json,
        &format!("{{{a}, {c}, {b}}}"),
        flag,
        expect![[r#"
            - ERROR PARSE_ERROR
            sent: {"$ref":"a"}
            warning: /$evaluators/a/and/0/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
            warning: /$evaluators/b/or/0/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
            error: flag "f": /flags/f/targeting/if/0/$ref/and/0/$ref/or/0/$ref: "$ref" to evaluator "c" inside evaluator "b" is not resolved: evaluators are substituted once, in declaration order, so a reference inside one resolves only to an evaluator declared after it
        "#]],
    );
    // c, b, a: a's reference to b already stays unresolved.
    check(
        Format::Json,
        &format!("{{{c}, {b}, {a}}}"),
        flag,
        expect![[r#"
            - ERROR PARSE_ERROR
            sent: {"$ref":"a"}
            warning: /$evaluators/b/or/0/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
            warning: /$evaluators/a/and/0/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
            error: flag "f": /flags/f/targeting/if/0/$ref/and/0/$ref: "$ref" to evaluator "b" inside evaluator "a" is not resolved: evaluators are substituted once, in declaration order, so a reference inside one resolves only to an evaluator declared after it
        "#]],
    );
    // The flag itself may name any evaluator: c, b, a with the flag
    // naming c, which names nothing.
    check(
        Format::Json,
        &format!("{{{c}, {b}, {a}}}"),
        r#"{"$ref": "c"}"#,
        expect![[r#"
            true TARGETING_MATCH -
            sent: {"ends_with":[{"var":"email"},"@example.com"]}
            warning: /$evaluators/b/or/0/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
            warning: /$evaluators/a/and/0/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
        "#]],
    );
}

#[test]
fn rule_3_a_self_reference_stays_unresolved() {
    check(
        Format::Json,
        r#"{"loop": {"or": [{"var": "beta"}, {"$ref": "loop"}]}}"#,
        r#"{"$ref": "loop"}"#,
        expect![[r#"
            - ERROR PARSE_ERROR
            sent: {"$ref":"loop"}
            warning: /$evaluators/loop/or/1/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
            error: flag "f": /flags/f/targeting/if/0/$ref/or/1/$ref: "$ref" to evaluator "loop" inside evaluator "loop" is not resolved: evaluators are substituted once, in declaration order, so a reference inside one resolves only to an evaluator declared after it
        "#]],
    );
}

#[test]
fn rule_3_a_reference_to_an_unknown_name_in_a_flag_is_a_parse_error() {
    check(
        Format::Json,
        &format!(r#"{{"staff": {STAFF}}}"#),
        r#"{"$ref": "ghost"}"#,
        expect![[r#"
            - ERROR PARSE_ERROR
            sent: {"$ref":"ghost"}
            error: flag "f": /flags/f/targeting/if/0/$ref: "$ref" names unknown evaluator "ghost"
        "#]],
    );
}

#[test]
fn rule_3_references_in_evaluators_no_flag_uses_are_still_warned_about() {
    check(
        Format::Json,
        &format!(
            r#"{{"staff": {STAFF}, "unused": {{"!": [{{"$ref": "staff"}}]}}, "odd": {{"$ref": "x", "y": 1}}}}"#
        ),
        r#"{"$ref": "staff"}"#,
        expect![[r#"
            true TARGETING_MATCH -
            sent: {"ends_with":[{"var":"email"},"@example.com"]}
            warning: /$evaluators/unused/!/0/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
            warning: /$evaluators/odd/$ref: a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: only a reference to one declared later resolves
        "#]],
    );
}
