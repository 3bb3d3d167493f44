//! Flag files, resolution semantics, reloads, snapshots, selectors and diffs.

use std::sync::Arc;

use serde_json::{Value, json};

use engine::{
    CompileOptions, ErrorCode, FlagSet, FlagType, Format, Reason, Selector, Severity, Snapshot,
    SnapshotCell, SourceState,
};

fn snapshot(text: &str) -> Snapshot {
    let (snapshot, _) = Snapshot::from_text("test", text, Format::Json, &CompileOptions::default())
        .expect("flag file parses");
    snapshot
}

/// What a resolution looks like, compactly: `value variant reason error`.
fn summary(snapshot: &Snapshot, key: &str, context: &Value) -> String {
    let r = snapshot.evaluate(key, &Selector::All, context);
    format!(
        "{} {} {} {}",
        r.value.map_or("-".to_owned(), Value::to_string),
        r.variant.unwrap_or("-"),
        r.reason,
        r.error_code().map_or("-", ErrorCode::as_str),
    )
}

#[track_caller]
fn check(snapshot: &Snapshot, key: &str, context: Value, expect: &str) {
    assert_eq!(
        summary(snapshot, key, &context),
        expect,
        "flag {key} with {context}"
    );
}

const FLAGS: &str = r#"{
  "metadata": {"flagSetId": "shop", "team": "web"},
  "$evaluators": {"vip": {"in": [{"var": "tier"}, ["gold", "platinum"]]}},
  "flags": {
    "static": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on",
               "metadata": {"team": "payments", "ticket": 42}},
    "disabled": {"state": "DISABLED", "variants": {"on": true}, "defaultVariant": "on"},
    "no-default": {"state": "ENABLED", "variants": {"a": "A", "b": "B"}},
    "null-default": {"state": "ENABLED", "variants": {"a": "A"}, "defaultVariant": null,
                     "targeting": {"if": [{"var": "pick"}, "a"]}},
    "targeted": {"state": "ENABLED", "variants": {"vip": "gold-banner", "plain": "banner"},
                 "defaultVariant": "plain",
                 "targeting": {"if": [{"$ref": "vip"}, "vip", null]}},
    "bool-result": {"state": "ENABLED", "variants": {"true": 1, "false": 0}, "defaultVariant": "false",
                    "targeting": {"==": [{"var": "x"}, 1]}},
    "number-result": {"state": "ENABLED", "variants": {"1": "one", "2.5": "two and a half"},
                      "targeting": {"var": "n"}},
    "unknown-variant": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a",
                        "targeting": {"var": "name"}},
    "object": {"state": "ENABLED", "variants": {"v": {"k": [1, 2]}}, "defaultVariant": "v"}
  }
}"#;

#[test]
fn flagd_resolution_semantics() {
    let s = snapshot(FLAGS);
    check(&s, "static", json!({}), "true on STATIC -");
    check(&s, "disabled", json!({}), "- - DISABLED -");
    check(&s, "no-default", json!({}), "- - DEFAULT -");
    check(&s, "null-default", json!({}), "- - DEFAULT -");
    check(
        &s,
        "null-default",
        json!({"pick": true}),
        "\"A\" a TARGETING_MATCH -",
    );
    check(
        &s,
        "targeted",
        json!({"tier": "gold"}),
        "\"gold-banner\" vip TARGETING_MATCH -",
    );
    check(
        &s,
        "targeted",
        json!({"tier": "bronze"}),
        "\"banner\" plain DEFAULT -",
    );
    // A boolean result names the variant "true" or "false", as in flagd.
    check(
        &s,
        "bool-result",
        json!({"x": 1}),
        "1 true TARGETING_MATCH -",
    );
    check(
        &s,
        "bool-result",
        json!({"x": 2}),
        "0 false TARGETING_MATCH -",
    );
    check(
        &s,
        "number-result",
        json!({"n": 1}),
        "\"one\" 1 TARGETING_MATCH -",
    );
    check(
        &s,
        "number-result",
        json!({"n": 2.5}),
        "\"two and a half\" 2.5 TARGETING_MATCH -",
    );
    check(
        &s,
        "unknown-variant",
        json!({"name": "zzz"}),
        "- - ERROR GENERAL",
    );
    check(&s, "missing", json!({}), "- - ERROR FLAG_NOT_FOUND");
}

#[test]
fn typed_resolution() {
    let s = snapshot(FLAGS);
    let ctx = json!({});
    let r = s
        .evaluate("static", &Selector::All, &ctx)
        .expect_type(FlagType::String);
    assert_eq!(r.error_code(), Some(ErrorCode::TypeMismatch));
    assert_eq!(r.reason, Reason::Error);
    assert_eq!(r.value, None);
    let r = s
        .evaluate("object", &Selector::All, &ctx)
        .expect_type(FlagType::Object);
    assert_eq!(r.value, Some(&json!({"k": [1, 2]})));
    // No value, no mismatch: the caller's default is of the caller's type.
    let r = s
        .evaluate("disabled", &Selector::All, &ctx)
        .expect_type(FlagType::String);
    assert_eq!(r.reason, Reason::Disabled);
}

#[test]
fn metadata_merges_flag_set_under_flag() {
    let s = snapshot(FLAGS);
    let ctx = json!({});
    let r = s.evaluate("static", &Selector::All, &ctx);
    assert_eq!(
        Value::Object(r.metadata.clone()),
        json!({"flagSetId": "shop", "team": "payments", "ticket": 42})
    );
    let r = s.evaluate("disabled", &Selector::All, &ctx);
    assert_eq!(
        Value::Object(r.metadata.clone()),
        json!({"flagSetId": "shop", "team": "web"})
    );
}

#[test]
fn json_path_agrees_with_prepared_path() {
    let s = snapshot(FLAGS);
    let contexts = [
        json!({"tier": "gold", "noise": {"a": [1, 2, 3]}}),
        json!({"tier": "bronze"}),
        json!({"x": 1, "n": 2.5, "name": "a", "pick": true}),
        json!({}),
    ];
    for key in [
        "static",
        "targeted",
        "bool-result",
        "number-result",
        "unknown-variant",
        "null-default",
        "missing",
    ] {
        for ctx in &contexts {
            let a = s.evaluate(key, &Selector::All, ctx);
            let text = ctx.to_string();
            let b = s.evaluate_json(key, &Selector::All, &text);
            assert_eq!(a, b, "{key} {ctx}");
        }
    }
    let r = s.evaluate_json("static", &Selector::All, "[1, 2]");
    assert_eq!(r.error_code(), Some(ErrorCode::InvalidContext));
    let r = s.evaluate_json("missing", &Selector::All, "{oops");
    assert_eq!(r.error_code(), Some(ErrorCode::InvalidContext));
}

#[test]
fn invalid_flags_are_diagnosed_with_key_and_pointer() {
    let text = r#"{"flags": {
        "good": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a"},
        "bad-state": {"state": "ON", "variants": {"a": 1}, "defaultVariant": "a"},
        "bad-default": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "b"},
        "bad-rule": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a",
                     "targeting": {"if": [{"bogus": 1}, "a"]}}
    }}"#;
    let (s, diagnostics) =
        Snapshot::from_text("t", text, Format::Json, &CompileOptions::default()).unwrap();
    let mut found: Vec<String> = diagnostics
        .iter()
        .map(|d| {
            format!(
                "{} {} {}",
                d.flag_key.as_deref().unwrap_or("-"),
                d.pointer,
                d.severity.as_str()
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "bad-default /flags/bad-default/defaultVariant error",
            "bad-rule /flags/bad-rule/targeting/if/0/bogus error",
            "bad-state /flags/bad-state/state error",
        ]
    );
    check(&s, "good", json!({}), "1 a STATIC -");
    // A flag that never compiled exists, and says why it cannot be used.
    check(&s, "bad-rule", json!({}), "- - ERROR PARSE_ERROR");
    let r = s.evaluate("bad-rule", &Selector::All, &json!({}));
    assert!(
        r.error
            .unwrap()
            .message
            .contains("unknown operator \"bogus\"")
    );
}

#[test]
fn reload_keeps_last_good_version_of_an_invalid_flag() {
    let v1 = r#"{"flags": {
        "a": {"state": "ENABLED", "variants": {"x": "one"}, "defaultVariant": "x"},
        "b": {"state": "ENABLED", "variants": {"x": "one"}, "defaultVariant": "x"}
    }}"#;
    let v2 = r#"{"flags": {
        "a": {"state": "ENABLED", "variants": {"x": "two"}, "defaultVariant": "x"},
        "b": {"state": "ENABLED", "variants": {"x": "two"}, "defaultVariant": "missing"},
        "c": {"state": "ENABLED", "variants": {"x": "new"}, "defaultVariant": "x"}
    }}"#;
    let options = CompileOptions::default();
    let (first, _) = Snapshot::from_text("src", v1, Format::Json, &options).unwrap();
    let (file, _) = engine::model::parse(v2, Format::Json).unwrap();
    let (second, diagnostics) = first.with_source("src", &file, &options);
    assert!(
        diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error && d.flag_key.as_deref() == Some("b"))
    );
    check(&second, "a", json!({}), "\"two\" x STATIC -");
    check(&second, "b", json!({}), "\"one\" x STATIC -");
    check(&second, "c", json!({}), "\"new\" x STATIC -");
    let changes = first.diff(&second);
    assert_eq!(changes.added, ["c"]);
    assert_eq!(changes.changed, ["a"]);
    assert!(changes.removed.is_empty());

    // A file that does not parse changes nothing: the caller keeps serving
    // the last good snapshot, whole.
    let error = second
        .reload_source("src", "{\"flags\": ", Format::Json, &options)
        .unwrap_err();
    assert!(error.to_string().contains("JSON syntax error"), "{error}");
    let (third, _) = second
        .reload_source("src", v1, Format::Json, &options)
        .unwrap();
    check(&third, "b", json!({}), "\"one\" x STATIC -");
    assert_eq!(second.diff(&third).removed, ["c"]);
}

#[test]
fn sources_merge_with_later_winning_and_selectors_pick_one() {
    let options = CompileOptions::default();
    let a = r#"{"metadata": {"flagSetId": "alpha"}, "flags": {
        "shared": {"state": "ENABLED", "variants": {"v": "from-a"}, "defaultVariant": "v"},
        "only-a": {"state": "ENABLED", "variants": {"v": "a"}, "defaultVariant": "v"}}}"#;
    let b = r#"{"flags": {
        "shared": {"state": "ENABLED", "variants": {"v": "from-b"}, "defaultVariant": "v"}}}"#;
    let compile = |name: &str, text: &str| {
        let (file, _) = engine::model::parse(text, Format::Json).unwrap();
        let (set, _) = FlagSet::compile(name, &file, &options, None);
        SourceState {
            name: name.into(),
            set: Arc::new(set),
        }
    };
    let s = Snapshot::from_sources(vec![compile("file:a.json", a), compile("file:b.json", b)]);
    let ctx = json!({});
    let value = |key, selector: &str| {
        s.evaluate(key, &Selector::parse(selector), &ctx)
            .value
            .map_or("-".to_owned(), Value::to_string)
    };
    assert_eq!(value("shared", ""), "\"from-b\"");
    assert_eq!(value("shared", "flagSetId=alpha"), "\"from-a\"");
    assert_eq!(value("shared", "source=file:a.json"), "\"from-a\"");
    assert_eq!(value("shared", "file:b.json"), "\"from-b\"");
    assert_eq!(value("only-a", "flagSetId=file:b.json"), "-");
    assert_eq!(value("only-a", "flagSetId=alpha"), "\"a\"");
    let visible: Vec<&str> = s
        .visible(&Selector::All)
        .iter()
        .map(|(_, e)| e.key())
        .collect();
    assert_eq!(visible, ["only-a", "shared"]);
    // One selected flag set: its own flags, sorted, none from the other.
    let of_a: Vec<(&str, &str)> = s
        .visible(&Selector::parse("source=file:a.json"))
        .iter()
        .map(|(set, e)| (set.source(), e.key()))
        .collect();
    assert_eq!(of_a, [("file:a.json", "only-a"), ("file:a.json", "shared")]);
    // The flag sets a selector picks, by id.
    assert_eq!(s.flag_set_ids(&Selector::All), ["alpha", "file:b.json"]);
    assert_eq!(
        s.flag_set_ids(&Selector::parse("file:b.json")),
        ["file:b.json"]
    );
    assert!(
        s.flag_set_ids(&Selector::parse("flagSetId=none"))
            .is_empty()
    );
    // Evaluating a listed entry is evaluating its key.
    for (set, entry) in s.visible(&Selector::All) {
        let prepared = set.prepare(&ctx);
        assert_eq!(
            set.evaluate_entry(entry, &prepared),
            set.evaluate(entry.key(), &prepared)
        );
    }
}

#[test]
fn versions_are_content_hashes() {
    let a = snapshot(FLAGS);
    let b = snapshot(FLAGS);
    assert_eq!(a.version(), b.version());
    assert_eq!(a.etag(), b.etag());
    let changed = snapshot(&FLAGS.replace("gold-banner", "golden-banner"));
    assert_ne!(a.version(), changed.version());
    assert_eq!(a.diff(&changed).changed, ["targeted"]);
    assert!(a.diff(&b).is_empty());
}

#[test]
fn snapshot_cell_swaps_and_reports_changes() {
    let cell = SnapshotCell::new(snapshot(FLAGS));
    let before = cell.load();
    let changes = cell.store(snapshot(
        r#"{"flags": {"static": {"state": "DISABLED", "variants": {"on": true}}}}"#,
    ));
    // Readers holding the old snapshot keep a consistent view.
    assert!(before.flag_set_for("targeted", &Selector::All).is_some());
    assert_eq!(changes.changed, ["static"]);
    assert!(changes.removed.contains(&"targeted".to_owned()));
    assert_eq!(changes.new_version, cell.load().version());
}

#[test]
fn explain_reports_the_decision_path() {
    let s = snapshot(FLAGS);
    let ctx = json!({"tier": "gold"});
    let (r, trace) = s.explain("targeted", &Selector::All, &ctx);
    assert_eq!(r.variant, Some("vip"));
    let rendered = trace.render();
    assert!(
        rendered.contains("/targeting/if/0: $ref \"vip\" expanded"),
        "{rendered}"
    );
    assert!(
        rendered.contains("/if: condition 0 chose branch 1"),
        "{rendered}"
    );
    assert!(rendered.contains("result \"vip\""), "{rendered}");
    // Explaining changes nothing about the result.
    assert_eq!(r, s.evaluate("targeted", &Selector::All, &ctx));
}

#[test]
fn yaml_and_array_forms_load() {
    let yaml =
        "flags:\n  - key: y\n    state: ENABLED\n    variants: {a: 1}\n    defaultVariant: a\n";
    let (s, diagnostics) =
        Snapshot::from_text("y", yaml, Format::Yaml, &CompileOptions::default()).unwrap();
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    check(&s, "y", json!({}), "1 a STATIC -");
}

mod json_path {
    //! The JSON-text path (slots read straight from the text) agrees with
    //! parsing the whole context, on generated contexts.

    use proptest::prelude::*;
    use serde_json::{Value, json};

    use engine::{CompileOptions, Format, Selector, Snapshot};

    const FLAGS: &str = r#"{"flags": {
      "paths": {"state": "ENABLED", "variants": {"y": "y", "n": "n"}, "defaultVariant": "n",
        "targeting": {"if": [{"or": [
          {"==": [{"var": "a.b"}, 1]}, {"in": [{"var": "s"}, ["x", "yy"]]},
          {"in": ["x", {"var": "arr"}]}, {">": [{"var": "arr.1"}, 2]},
          {"==": [{"var": "a"}, "1"]}, {"starts_with": [{"var": "a.s"}, "x"]}
        ]}, "y", null]}},
      "cat": {"state": "ENABLED", "variants": {"y": "y", "n": "n"}, "defaultVariant": "n",
        "targeting": {"if": [{"==": [{"cat": [{"var": "a.b"}, {"var": "s"}, {"var": "a.s"}]}, "1x"]}, "y", "n"]}}
    }}"#;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..4).prop_map(Value::from),
            prop_oneof![Just("x"), Just("yy"), Just("1"), Just("xa\"b"), Just("")]
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![Just("a"), Just("b"), Just("s"), Just("arr")],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }

    fn context() -> impl Strategy<Value = Value> {
        prop::collection::btree_map(
            prop_oneof![Just("a"), Just("s"), Just("arr"), Just("z")],
            json_value(),
            0..4,
        )
        .prop_map(|m| json!(m))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn agrees_with_the_full_parse(ctx in context()) {
            let (snapshot, _) = Snapshot::from_text("t", FLAGS, Format::Json, &CompileOptions::default()).unwrap();
            for key in ["paths", "cat", "absent"] {
                let full = snapshot.evaluate(key, &Selector::All, &ctx);
                for text in [ctx.to_string(), serde_json::to_string_pretty(&ctx).unwrap()] {
                    let sparse = snapshot.evaluate_json(key, &Selector::All, &text);
                    prop_assert_eq!(&full, &sparse, "{} {}", key, text);
                }
            }
        }
    }
}

/// A root `if` whose branches are all constants resolves through a branch
/// plan; it must agree with the general path in every case.
#[test]
fn constant_branches_resolve_like_values() {
    let s = snapshot(
        r#"{"flags": {
        "plan": {"state": "ENABLED", "variants": {"a": "A", "true": "T", "false": "F"}, "defaultVariant": "a",
                 "targeting": {"if": [{"==": [{"var": "x"}, 1]}, "nope", {"==": [{"var": "x"}, 2]}, true,
                                      {"==": [{"var": "x"}, 3]}, null, false]}}
    }}"#,
    );
    check(&s, "plan", json!({"x": 1}), "- - ERROR GENERAL");
    check(&s, "plan", json!({"x": 2}), "\"T\" true TARGETING_MATCH -");
    check(&s, "plan", json!({"x": 3}), "\"A\" a DEFAULT -");
    check(&s, "plan", json!({"x": 4}), "\"F\" false TARGETING_MATCH -");
    for x in 1..=4 {
        let ctx = json!({ "x": x });
        let (explained, _) = s.explain("plan", &Selector::All, &ctx);
        assert_eq!(
            explained,
            s.evaluate("plan", &Selector::All, &ctx),
            "x = {x}"
        );
    }
}

/// A `fractional` with constant buckets behind a segment condition (a
/// progressive rollout) resolves through a branch plan too; it must agree
/// with the general path, which `explain` takes, in every case: outside the
/// segment, in each bucket, in a bucket naming no variant, in a null one.
#[test]
fn rollouts_behind_a_condition_resolve_like_values() {
    let s = snapshot(
        r#"{"$evaluators": {"beta": {"and": [{"==": [{"var": "betaOptIn"}, true]},
                                            {"in": [{"var": "country"}, ["DE", "AT", "CH"]]}]}},
            "flags": {"rollout": {"state": "ENABLED", "variants": {"on": true, "off": false},
                                  "defaultVariant": "off",
                                  "targeting": {"if": [{"$ref": "beta"},
                                      {"fractional": [{"cat": [{"var": "$flagd.flagKey"}, {"var": "email"}]},
                                                      ["on", 1], ["other", 1], [null, 1]]},
                                      "off"]}}}}"#,
    );
    let user = |email: &str| json!({"betaOptIn": true, "country": "DE", "email": email});
    check(
        &s,
        "rollout",
        user("u2@example.com"),
        "true on TARGETING_MATCH -",
    );
    check(&s, "rollout", user("u5@example.com"), "- - ERROR GENERAL");
    check(&s, "rollout", user("u0@example.com"), "false off DEFAULT -");
    check(
        &s,
        "rollout",
        json!({"betaOptIn": true, "country": "FR", "email": "a@example.com"}),
        "false off TARGETING_MATCH -",
    );
    let mut contexts = vec![json!({}), json!({"betaOptIn": true, "country": "AT"})];
    contexts.extend((0..40).map(|i| user(&format!("user-{i}@example.com"))));
    for ctx in &contexts {
        let (explained, _) = s.explain("rollout", &Selector::All, ctx);
        assert_eq!(
            explained,
            s.evaluate("rollout", &Selector::All, ctx),
            "{ctx}"
        );
    }
}

#[test]
fn definitions_carry_refs_expanded_and_evaluator_edits_are_changes() {
    let file = |domain: &str| {
        format!(
            r#"{{"$evaluators": {{"staff_or_beta": {{"or": [{{"$ref": "staff"}}, {{"var": "beta"}}]}},
                                 "staff": {{"ends_with": [{{"var": "email"}}, "{domain}"]}}}},
                "flags": {{
                  "panel": {{"state": "ENABLED", "variants": {{"on": true, "off": false}},
                             "defaultVariant": "off",
                             "targeting": {{"if": [{{"$ref": "staff_or_beta"}}, "on", "off"]}}}},
                  "plain": {{"state": "ENABLED", "variants": {{"on": true}}, "defaultVariant": "on"}}}}}}"#
        )
    };
    let old = snapshot(&file("@example.com"));
    let set = old
        .flag_set_for("panel", &Selector::All)
        .expect("the flag is served");
    let definition = set.get("panel").map(|entry| entry.definition().clone());
    assert_eq!(
        definition.map(|d| d["targeting"].clone()),
        Some(json!({"if": [
            {"or": [{"ends_with": [{"var": "email"}, "@example.com"]}, {"var": "beta"}]},
            "on", "off"
        ]}))
    );
    let new = snapshot(&file("@example.org"));
    let changes = old.diff(&new);
    assert_eq!(changes.changed, ["panel"]);
    assert!(changes.added.is_empty() && changes.removed.is_empty());
}

/// The diagnostics of a `fractional` rule with these buckets, as
/// `severity pointer: message`, and how the flag then resolves.
fn weight_diagnostics(buckets: Value) -> (Vec<String>, String) {
    let mut args = vec![json!({"var": "targetingKey"})];
    args.extend(buckets.as_array().unwrap().iter().cloned());
    let text = json!({"flags": {"split": {
        "state": "ENABLED", "variants": {"a": "A", "b": "B"}, "defaultVariant": "a",
        "targeting": {"fractional": args},
    }}})
    .to_string();
    let (s, diagnostics) =
        Snapshot::from_text("t", &text, Format::Json, &CompileOptions::default()).unwrap();
    let found = diagnostics
        .iter()
        .map(|d| {
            assert_eq!(d.flag_key.as_deref(), Some("split"));
            format!("{} {}: {}", d.severity.as_str(), d.pointer, d.message)
        })
        .collect();
    (
        found,
        summary(&s, "split", &json!({"targetingKey": "user-1"})),
    )
}

#[track_caller]
fn check_weights(buckets: Value, expect: &[&str]) {
    let (found, _) = weight_diagnostics(buckets.clone());
    assert_eq!(found, expect, "buckets {buckets}");
}

#[test]
fn fractional_weights_above_the_cap_are_diagnosed() {
    assert_eq!(engine::ops::fractional::MAX_WEIGHT, 2_147_483_647);
    check_weights(json!([["a", 2_147_483_647u64], ["b", 0]]), &[]);
    check_weights(json!([["a", 2_147_483_646u64], ["b"]]), &[]);
    check_weights(
        json!([["a", 2_147_483_648u64], ["b", 1]]),
        &[
            "warning /flags/split/targeting/fractional/1/1: bucket weight 2147483648 is above the largest weight, 2147483647, so the rule never buckets anyone",
        ],
    );
    check_weights(
        json!([["a", u64::MAX], ["b", 1]]),
        &[
            "warning /flags/split/targeting/fractional/1/1: bucket weight 18446744073709551615 is above the largest weight, 2147483647, so the rule never buckets anyone",
        ],
    );
    check_weights(
        json!([["a", 2_000_000_000u64], ["b", 147_483_648u64]]),
        &[
            "warning /flags/split/targeting/fractional: the bucket weights add up to 2147483648, above the largest total, 2147483647, so the rule never buckets anyone",
        ],
    );
    // A bucket without a weight weighs 1.
    check_weights(
        json!([["a", 2_147_483_647u64], ["b"]]),
        &[
            "warning /flags/split/targeting/fractional: the bucket weights add up to 2147483648, above the largest total, 2147483647, so the rule never buckets anyone",
        ],
    );
    // Computed weights are the evaluator's to judge.
    check_weights(json!([["a", 2_147_483_647u64], ["b", {"var": "w"}]]), &[]);
    // The flag still compiles, and resolves as flagd does: no bucket, the
    // default variant.
    let (_, resolved) = weight_diagnostics(json!([["a", 2_147_483_648u64], ["b", 1]]));
    assert_eq!(resolved, "\"A\" a DEFAULT -");
}
