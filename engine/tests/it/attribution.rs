//! Which resolutions a flag's `fractional` split decides: the evaluations
//! that are exposures of the flag's experiment.

use serde_json::{Value, json};

use engine::{CompileOptions, Format, Selector, Snapshot};

const FLAGS: &str = r#"{
  "$evaluators": {"beta": {"==": [{"var": "plan"}, "beta"]}},
  "flags": {
    "root": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a",
             "metadata": {"ensign.experiment": "exp-root"},
             "targeting": {"fractional": [["a", 50], ["b", 50]]}},
    "behind-segment": {"state": "ENABLED", "variants": {"a": 1, "b": 2, "off": 0}, "defaultVariant": "off",
             "metadata": {"ensign.experiment": "exp-seg"},
             "targeting": {"if": [{"$ref": "beta"}, {"fractional": [["a", 50], ["b", 50]]}, "off"]}},
    "split-else": {"state": "ENABLED", "variants": {"a": 1, "b": 2, "staff": 3}, "defaultVariant": "a",
             "metadata": {"ensign.experiment": "exp-else"},
             "targeting": {"if": [{"==": [{"var": "staff"}, true]}, "staff", {"fractional": [["a", 50], ["b", 50]]}]}},
    "computed-buckets": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a",
             "metadata": {"ensign.experiment": "exp-computed"},
             "targeting": {"fractional": [[{"cat": ["a", ""]}, 50], ["b", 50]]}},
    "nested-if": {"state": "ENABLED", "variants": {"a": 1, "b": 2, "off": 0}, "defaultVariant": "off",
             "metadata": {"ensign.experiment": "exp-nested"},
             "targeting": {"if": [{"var": "on"}, {"if": [{"var": "deep"}, {"fractional": [[{"var": "pick"}, 50], ["b", 50]]}, "off"]}, null]}},
    "computed-on-pick": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a",
             "metadata": {"ensign.experiment": "exp-cat"},
             "targeting": {"cat": [{"fractional": [["a", 50], ["b", 50]]}, ""]}},
    "untracked": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a",
             "targeting": {"fractional": [["a", 50], ["b", 50]]}},
    "disabled": {"state": "DISABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a",
             "metadata": {"ensign.experiment": "exp-off"},
             "targeting": {"fractional": [["a", 50], ["b", 50]]}},
    "bad-variant": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a",
             "metadata": {"ensign.experiment": "exp-bad"},
             "targeting": {"fractional": [["a", 50], ["z", 50]]}}
  }
}"#;

fn snapshot() -> Snapshot {
    let (snapshot, _) =
        Snapshot::from_text("test", FLAGS, Format::Json, &CompileOptions::default())
            .expect("the flag file parses");
    snapshot
}

/// `variant experiment bucketed`, the same from a prepared context, from
/// JSON text and explained.
#[track_caller]
fn check(snapshot: &Snapshot, key: &str, context: Value, expect: &str) {
    let summary = |r: &engine::Resolution<'_>| {
        format!(
            "{} {} {}",
            r.variant.unwrap_or("-"),
            r.experiment.unwrap_or("-"),
            r.bucketed
        )
    };
    let prepared = summary(&snapshot.evaluate(key, &Selector::All, &context));
    assert_eq!(prepared, expect, "flag {key} with {context}");
    let text = context.to_string();
    let from_text = summary(&snapshot.evaluate_json(key, &Selector::All, &text));
    assert_eq!(from_text, expect, "flag {key} with text {text}");
    let (explained, _) = snapshot.explain(key, &Selector::All, &context);
    assert_eq!(
        summary(&explained),
        expect,
        "flag {key} explained with {context}"
    );
}

#[test]
fn only_the_split_decides_an_exposure() {
    let s = snapshot();
    // User "u1" falls in bucket "b" of a 50/50 split over these flags'
    // keys, "u3" in bucket "a" (the engine's v2 bucketing).
    let b = |key: &str| {
        let r = s.evaluate(key, &Selector::All, &json!({"targetingKey": "u1"}));
        r.variant.map(str::to_owned)
    };
    assert!(b("root").is_some());

    check(
        &s,
        "root",
        json!({"targetingKey": "u1"}),
        &format!("{} exp-root true", b("root").unwrap()),
    );
    // Behind a segment: the split decides only for those in it.
    check(
        &s,
        "behind-segment",
        json!({"targetingKey": "u1", "plan": "free"}),
        "off exp-seg false",
    );
    let inside = s.evaluate(
        "behind-segment",
        &Selector::All,
        &json!({"targetingKey": "u1", "plan": "beta"}),
    );
    check(
        &s,
        "behind-segment",
        json!({"targetingKey": "u1", "plan": "beta"}),
        &format!("{} exp-seg true", inside.variant.unwrap()),
    );
    // Another branch of the same `if` is not the split.
    check(
        &s,
        "split-else",
        json!({"targetingKey": "u1", "staff": true}),
        "staff exp-else false",
    );
    let split = s.evaluate("split-else", &Selector::All, &json!({"targetingKey": "u1"}));
    check(
        &s,
        "split-else",
        json!({"targetingKey": "u1"}),
        &format!("{} exp-else true", split.variant.unwrap()),
    );
    // Buckets that are computed take the general path.
    let computed = s.evaluate(
        "computed-buckets",
        &Selector::All,
        &json!({"targetingKey": "u1"}),
    );
    check(
        &s,
        "computed-buckets",
        json!({"targetingKey": "u1"}),
        &format!("{} exp-computed true", computed.variant.unwrap()),
    );
    // Nested `if`s: the split decides only at the end of the taken path.
    check(
        &s,
        "nested-if",
        json!({"targetingKey": "u1"}),
        "off exp-nested false",
    );
    check(
        &s,
        "nested-if",
        json!({"targetingKey": "u1", "on": true}),
        "off exp-nested false",
    );
    let deep = s.evaluate(
        "nested-if",
        &Selector::All,
        &json!({"targetingKey": "u1", "on": true, "deep": true, "pick": "a"}),
    );
    check(
        &s,
        "nested-if",
        json!({"targetingKey": "u1", "on": true, "deep": true, "pick": "a"}),
        &format!("{} exp-nested true", deep.variant.unwrap()),
    );
    // A value computed from the split's pick is not the split's decision.
    let cat = s.evaluate(
        "computed-on-pick",
        &Selector::All,
        &json!({"targetingKey": "u1"}),
    );
    check(
        &s,
        "computed-on-pick",
        json!({"targetingKey": "u1"}),
        &format!("{} exp-cat false", cat.variant.unwrap()),
    );
    // Untracked flags are never attributed, tracked disabled flags and
    // picks of unknown variants neither.
    check(
        &s,
        "untracked",
        json!({"targetingKey": "u1"}),
        &format!("{} - false", b("untracked").unwrap()),
    );
    check(
        &s,
        "disabled",
        json!({"targetingKey": "u1"}),
        "- exp-off false",
    );
    for user in ["u1", "u2", "u3", "u4", "u5", "u6"] {
        let r = s.evaluate(
            "bad-variant",
            &Selector::All,
            &json!({"targetingKey": user}),
        );
        let expect = match r.variant {
            Some("a") => "a exp-bad true",
            _ => "- exp-bad false",
        };
        check(&s, "bad-variant", json!({"targetingKey": user}), expect);
    }
}
