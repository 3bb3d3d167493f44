//! Flag documents nested deeper than `MAX_DATA_DEPTH` are refused with a
//! clear error, in JSON and in YAML, whatever part of the document nests
//! (variants, metadata, evaluators), and never overflow the stack.

use serde_json::{Value, json};

use engine::model::{self, ParseError};
use engine::{CompileOptions, Format, MAX_DATA_DEPTH, Selector, Snapshot};

/// `levels` arrays nested inside each other, the innermost holding 1.
fn nested_arrays(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

/// A flag file whose `part` nests to `depth` levels in all, counting the
/// document itself as the first. Flow style: both JSON and YAML.
fn document(part: &str, depth: usize) -> String {
    // The levels above the nested value in each part.
    let (above, template) = match part {
        // document, flags, f, variants
        "variants" => (
            4,
            r#"{"flags": {"f": {"state": "ENABLED", "variants": {"deep": NEST}, "defaultVariant": "deep"}}}"#,
        ),
        // document, flags, f, metadata
        "metadata" => (
            4,
            r#"{"flags": {"f": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on", "metadata": {"deep": NEST}}}}"#,
        ),
        // document, $evaluators
        "evaluators" => (
            2,
            r#"{"$evaluators": {"deep": NEST}, "flags": {"f": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}}}"#,
        ),
        other => panic!("no template for {other}"),
    };
    template.replace("NEST", &nested_arrays(depth - above))
}

/// `ok` or the error's message.
fn outcome(text: &str, format: Format) -> String {
    match model::parse(text, format) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn check(part: &str, depth: usize, format: Format, expect: &str) {
    let got = outcome(&document(part, depth), format);
    assert!(
        got.starts_with(expect),
        "{part} at {depth} levels ({format:?}): {got:?} does not start with {expect:?}"
    );
}

#[test]
fn documents_nest_at_most_max_data_depth() {
    assert_eq!(MAX_DATA_DEPTH, 127);
    let refused = "flag file nested deeper than 127 levels at ";
    for format in [Format::Json, Format::Yaml] {
        for part in ["variants", "metadata", "evaluators"] {
            check(part, 126, format, "ok");
            check(part, 127, format, "ok");
            check(part, 128, format, refused);
            check(part, 129, format, refused);
            check(part, 100_000, format, refused);
        }
    }
}

#[test]
fn refusals_say_where() {
    // Past the parsers' own limits, the parser's position.
    let json = outcome(&document("variants", 128), Format::Json);
    assert!(
        json.starts_with("flag file nested deeper than 127 levels at line 1, column "),
        "{json}"
    );
    // YAML's flow collections are counted before parsing.
    let yaml = outcome(&document("variants", 128), Format::Yaml);
    assert!(
        yaml.starts_with("flag file nested deeper than 127 levels at line 1, column "),
        "{yaml}"
    );
    // Brackets in quoted scalars and comments are no nesting.
    let quoted = format!(
        "flags:\n  f:\n    state: ENABLED  # {open}\n    variants: {{on: '{open}', off: \"{open}\"}}\n    defaultVariant: on\n",
        open = "[".repeat(200)
    );
    assert_eq!(outcome(&quoted, Format::Yaml), "ok");
    // Within the parsers' limits, the pointer of the first array too deep.
    let pointer = format!("/flags/f/variants/deep{}", "/0".repeat(123));
    let mut deep: Value = serde_json::from_str(&document("variants", 127)).unwrap();
    deep["flags"]["f"]["variants"]["deep"] = json!([deep["flags"]["f"]["variants"]["deep"].take()]);
    assert_eq!(
        model::from_value(deep).map(|_| ()).unwrap_err().to_string(),
        format!("flag file nested deeper than 127 levels at {pointer}")
    );
    match model::from_value(serde_json::from_str(&document("metadata", 127)).unwrap()) {
        Ok(_) => {}
        Err(e) => panic!("127 levels are accepted: {e}"),
    }
    let mut deep = serde_json::from_str::<Value>(&document("metadata", 127)).unwrap();
    deep["flags"]["f"]["metadata"]["deep"] = json!([deep["flags"]["f"]["metadata"]["deep"].take()]);
    assert!(matches!(
        model::from_value(deep),
        Err(ParseError::TooDeep { limit: 127, .. })
    ));
}

#[test]
fn block_style_yaml_is_held_to_the_same_limit() {
    // Block style: each level a mapping one step further in.
    let block = |levels: usize| {
        let mut text = String::from(
            "flags:\n  f:\n    state: ENABLED\n    defaultVariant: on\n    variants:\n      on: true\n    metadata:\n      deep:\n",
        );
        // document, flags, f, metadata, deep's mapping: 5 levels so far.
        for level in 0..levels - 5 {
            text.push_str(&"  ".repeat(level + 4));
            text.push_str("k:\n");
        }
        text.push_str(&"  ".repeat(levels - 1));
        text.push_str("k: 1\n");
        text
    };
    assert_eq!(outcome(&block(127), Format::Yaml), "ok");
    assert!(
        outcome(&block(128), Format::Yaml)
            .starts_with("flag file nested deeper than 127 levels at /flags/f/metadata/deep/k"),
        "{}",
        outcome(&block(128), Format::Yaml)
    );
}

#[test]
fn a_document_at_the_limit_serves_its_flag() {
    let text = document("variants", 127);
    let (snapshot, diagnostics) =
        Snapshot::from_text("test", &text, Format::Json, &CompileOptions::default())
            .expect("127 levels parse");
    // An array variant is outside flagd's schema, however deep.
    let found: Vec<&str> = diagnostics.iter().map(|d| d.pointer.as_str()).collect();
    assert_eq!(found, ["/flags/f/variants/deep"], "{diagnostics:?}");
    let resolution = snapshot.evaluate("f", &Selector::All, &json!({}));
    assert_eq!(resolution.variant, Some("deep"));
    let refused = Snapshot::from_text(
        "test",
        &document("variants", 128),
        Format::Json,
        &CompileOptions::default(),
    );
    assert!(matches!(refused, Err(ParseError::TooDeep { .. })));
}
