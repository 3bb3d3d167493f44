//! The evaluation budget: rules whose evaluation would build huge strings or
//! arrays or do unbounded work resolve to `ERROR`/`GENERAL` with the caller's
//! default, the same through every evaluation path, and the compiler refuses
//! rules whose constant parts already exceed the budget.

use serde_json::{Value, json};

use engine::logic::EvalLimits;
use engine::logic::explain::{MAX_TRACE_STEPS, StepKind};
use engine::{
    CompileLimits, CompileOptions, Diagnostic, ErrorCode, Format, Selector, Severity, Snapshot,
};

/// A flag file with one flag, `f`, whose targeting is `rule`.
fn flag_file(rule: &Value) -> String {
    json!({"flags": {"f": {
        "state": "ENABLED",
        "variants": {"on": "on", "off": "off"},
        "defaultVariant": "off",
        "targeting": rule,
    }}})
    .to_string()
}

fn compile_with(rule: &Value, eval: EvalLimits) -> (Snapshot, Vec<Diagnostic>) {
    let options = CompileOptions {
        limits: CompileLimits {
            eval,
            ..CompileLimits::default()
        },
        ..CompileOptions::default()
    };
    Snapshot::from_text("test", &flag_file(rule), Format::Json, &options).expect("flag file parses")
}

/// `reason error-code variant`, and the error message, of one path.
fn outcome(resolution: &engine::Resolution<'_>) -> (String, String) {
    (
        format!(
            "{} {} {}",
            resolution.reason,
            resolution.error_code().map_or("-", ErrorCode::as_str),
            resolution.variant.unwrap_or("-"),
        ),
        resolution
            .error
            .as_ref()
            .map_or(String::new(), |e| e.message.clone()),
    )
}

/// Evaluates flag `f` over `context` through the prepared, JSON-text and
/// explain paths, checks that they agree, and compares with `expect`
/// (`reason error-code variant`); an error message must contain `message`.
#[track_caller]
fn check_with(eval: EvalLimits, rule: Value, context: Value, expect: &str, message: &str) {
    let (snapshot, diagnostics) = compile_with(&rule, eval);
    assert!(
        diagnostics.is_empty(),
        "rule {rule} compiles cleanly: {diagnostics:?}"
    );
    let prepared = outcome(&snapshot.evaluate("f", &Selector::All, &context));
    let text = outcome(&snapshot.evaluate_json("f", &Selector::All, &context.to_string()));
    let explained = outcome(&snapshot.explain("f", &Selector::All, &context).0);
    assert_eq!(prepared, text, "prepared and JSON-text paths differ");
    assert_eq!(prepared, explained, "plain and explained paths differ");
    assert_eq!(prepared.0, expect, "rule {rule}");
    assert!(
        prepared.1.contains(message),
        "rule {rule}: error {:?} does not mention {message:?}",
        prepared.1
    );
}

#[track_caller]
fn check(rule: Value, context: Value, expect: &str, message: &str) {
    check_with(EvalLimits::DEFAULT, rule, context, expect, message);
}

/// The doubling accumulators of the issue, over a list from the context.
fn doubling(body: Value, initial: Value) -> Value {
    json!({"if": [{"reduce": [{"var": "list"}, body, initial]}, "on", "off"]})
}

fn list(len: usize) -> Value {
    json!({"list": (0..len).collect::<Vec<_>>()})
}

const FAILED: &str = "ERROR GENERAL -";

#[test]
fn doubling_strings_and_arrays_fail() {
    // 64 doublings of one byte: 2^64 bytes without a budget.
    check(
        doubling(
            json!({"cat": [{"var": "accumulator"}, {"var": "accumulator"}]}),
            json!("x"),
        ),
        list(64),
        FAILED,
        "cat would build a string longer than 1048576 bytes",
    );
    check(
        doubling(
            json!({"merge": [{"var": "accumulator"}, {"var": "accumulator"}]}),
            json!([1]),
        ),
        list(64),
        FAILED,
        "merge would build an array longer than 100000 elements",
    );
    // Wrapping instead of concatenating: the nesting grows by one level each
    // time, and with it the cost of every later copy.
    check(
        doubling(
            json!([{"var": "accumulator"}, {"var": "accumulator"}]),
            json!(1),
        ),
        list(64),
        FAILED,
        "evaluation took more than 1000000 steps",
    );
    check(
        doubling(json!([{"var": "accumulator"}]), json!(1)),
        list(1000),
        FAILED,
        "array would build arrays nested deeper than 127 levels",
    );
    // A substring of a tripling string still grows.
    check(
        doubling(
            json!({"substr": [{"cat": [{"var": "accumulator"}, {"var": "accumulator"}, {"var": "accumulator"}]}, 1]}),
            json!("ab"),
        ),
        list(64),
        FAILED,
        "cat would build a string longer than",
    );
    // Rendering an array of repeated long strings (cheap to copy) as one string.
    check(
        json!({"if": [{"cat": [{"reduce": [{"var": "list"}, {"merge": [{"var": "accumulator"}, [{"var": "current"}]]}, []]}]}, "on", "off"]}),
        json!({"list": vec!["y".repeat(64 * 1024); 32]}),
        FAILED,
        "cat would build a string longer than",
    );
}

#[test]
fn produced_arrays_are_bounded() {
    let big = list(200_000);
    for op in ["map", "filter"] {
        check(
            json!({"if": [{op: [{"var": "list"}, true]}, "on", "off"]}),
            big.clone(),
            FAILED,
            &format!("{op} would build an array longer than 100000 elements"),
        );
    }
    check(
        json!({"if": [{"merge": [{"var": "list"}, {"var": "list"}]}, "on", "off"]}),
        list(60_000),
        FAILED,
        "merge would build an array longer than 100000 elements",
    );
    // Reading a long input array is no failure: only building one is.
    check(
        json!({"if": [{"some": [{"var": "list"}, {"==": [{"var": ""}, 199_999]}]}, "on", "off"]}),
        big,
        "TARGETING_MATCH - on",
        "",
    );
}

#[test]
fn quadratic_work_fails() {
    // For each of 2 000 elements, a reduce over the 2 000-element
    // accumulator: four million iterations.
    let inner = json!({"reduce": [{"var": "accumulator"}, {"+": [{"var": "accumulator"}, 1]}, 0]});
    check(
        doubling(
            json!({"if": [inner, {"var": "accumulator"}, null]}),
            json!({"var": "list"}),
        ),
        list(2000),
        FAILED,
        "evaluation took more than 1000000 steps",
    );
    // Copying a growing accumulator is work too.
    check(
        doubling(
            json!({"merge": [{"var": "accumulator"}, [{"var": "current"}]]}),
            json!([]),
        ),
        list(5000),
        FAILED,
        "evaluation took more than 1000000 steps",
    );
}

#[test]
fn limits_are_exact() {
    let small = EvalLimits {
        max_string_bytes: 8,
        max_array_len: 4,
        max_depth: 3,
        max_steps: 1000,
    };
    let cat =
        json!({"if": [{"==": [{"cat": [{"var": "a"}, {"var": "b"}]}, "abcdefgh"]}, "on", "off"]});
    check_with(
        small,
        cat.clone(),
        json!({"a": "abcd", "b": "efgh"}),
        "TARGETING_MATCH - on",
        "",
    );
    check_with(
        small,
        cat,
        json!({"a": "abcd", "b": "efghi"}),
        FAILED,
        "cat would build a string longer than 8 bytes",
    );
    let merge = json!({"if": [{"merge": [{"var": "a"}, {"var": "b"}]}, "on", "off"]});
    check_with(
        small,
        merge.clone(),
        json!({"a": [1, 2], "b": [3, 4]}),
        "TARGETING_MATCH - on",
        "",
    );
    check_with(
        small,
        merge,
        json!({"a": [1, 2], "b": [3, 4, 5]}),
        FAILED,
        "merge would build an array longer than 4 elements",
    );
    let nest = |levels: usize| (0..levels).fold(json!({"var": "x"}), |inner, _| json!([inner]));
    check_with(
        small,
        json!({"if": [nest(3), "on", "off"]}),
        json!({"x": 1}),
        "TARGETING_MATCH - on",
        "",
    );
    check_with(
        small,
        json!({"if": [nest(4), "on", "off"]}),
        json!({"x": 1}),
        FAILED,
        "array would build arrays nested deeper than 3 levels",
    );
    // Each iteration of `some` costs its body's nodes (`==`, `var`, a
    // constant): 333 iterations fit in 1 000 steps, 334 do not.
    let scan = json!({"if": [{"some": [{"var": "list"}, {"==": [{"var": ""}, -1]}]}, "on", "off"]});
    check_with(small, scan.clone(), list(333), "TARGETING_MATCH - off", "");
    check_with(
        small,
        scan,
        list(334),
        FAILED,
        "evaluation took more than 1000 steps",
    );
}

#[test]
fn ordinary_rules_are_unaffected() {
    let members: Vec<String> = (0..10_000).map(|i| format!("user-{i}")).collect();
    check(
        json!({"if": [{"in": [{"var": "id"}, members]}, "on", "off"]}),
        json!({"id": "user-9999"}),
        "TARGETING_MATCH - on",
        "",
    );
    // The same list from the context, scanned by the generic `in`.
    check(
        json!({"if": [{"in": [{"var": "id"}, {"var": "members"}]}, "on", "off"]}),
        json!({"id": "user-9999", "members": members}),
        "TARGETING_MATCH - on",
        "",
    );
    check(
        json!({"if": [{"in": ["user-42", {"map": [{"var": "users"}, {"var": "id"}]}]}, "on", "off"]}),
        json!({"users": (0..10_000).map(|i| json!({"id": format!("user-{i}")})).collect::<Vec<_>>()}),
        "TARGETING_MATCH - on",
        "",
    );
    check(
        json!({"if": [{"==": [{"cat": [{"var": "first"}, " ", {"var": "last"}]}, "Ada Lovelace"]}, "on", "off"]}),
        json!({"first": "Ada", "last": "Lovelace"}),
        "TARGETING_MATCH - on",
        "",
    );
    check(
        json!({"if": [{">": [{"reduce": [{"var": "cart"}, {"+": [{"var": "accumulator"}, {"var": "current.price"}]}, 0]}, 100]}, "on", "off"]}),
        json!({"cart": [{"price": 60}, {"price": 50}]}),
        "TARGETING_MATCH - on",
        "",
    );
}

/// Compiles a rule and returns its error diagnostics as `pointer: message`.
fn refusals(rule: &Value) -> Vec<String> {
    let (snapshot, diagnostics) = compile_with(rule, EvalLimits::DEFAULT);
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{}: {}", d.pointer, d.message))
        .collect();
    if !errors.is_empty() {
        // A refused flag never evaluates its rule.
        let resolution = snapshot.evaluate("f", &Selector::All, &json!({}));
        assert_eq!(resolution.error_code(), Some(ErrorCode::ParseError));
    }
    errors
}

#[track_caller]
fn check_refused(rule: Value, expect: &str) {
    let errors = refusals(&rule);
    assert!(
        errors.iter().any(|e| e.contains(expect)),
        "rule {rule}: {errors:?} lacks {expect:?}"
    );
}

#[test]
fn constant_parts_beyond_the_budget_are_refused() {
    let constant_list: Vec<u32> = (0..64).collect();
    check_refused(
        json!({"if": [{"reduce": [constant_list, {"cat": [{"var": "accumulator"}, {"var": "accumulator"}]}, "x"]}, "on", "off"]}),
        "/flags/f/targeting/if/0: this expression reads no context and exceeds the evaluation budget: cat would build a string longer than 1048576 bytes",
    );
    check_refused(
        json!({"reduce": [constant_list, {"merge": [{"var": "accumulator"}, {"var": "accumulator"}]}, [1]]}),
        "/flags/f/targeting: this expression reads no context and exceeds the evaluation budget: merge would build an array longer than 100000 elements",
    );
    let half = "z".repeat(600 * 1024);
    check_refused(
        json!({"if": [{"==": [{"var": "x"}, {"cat": [half, half]}]}, "on", "off"]}),
        "/flags/f/targeting/if/0/==/1: this expression reads no context and exceeds the evaluation budget: cat would build a string longer than 1048576 bytes",
    );
    check_refused(
        json!({"if": [{"==": [{"var": "x"}, "w".repeat(1024 * 1024 + 1)]}, "on", "off"]}),
        "/flags/f/targeting/if/0/==/1: string literal has 1048577 bytes, more than the evaluation limit of 1048576",
    );
    check_refused(
        json!({"if": [{"in": [{"var": "x"}, vec![0; 100_001]]}, "on", "off"]}),
        "/flags/f/targeting/if/0/in/1: array literal has 100001 elements, more than the evaluation limit of 100000",
    );
    // Constant work inside a rule that reads the context is found too: for
    // each of 2 000 elements, a reduce over all of them.
    let elements: Vec<u32> = (0..2000).collect();
    let inner = json!({"reduce": [{"var": "accumulator"}, {"+": [{"var": "accumulator"}, 1]}, 0]});
    check_refused(
        json!({"if": [{"and": [{"var": "x"}, {"reduce": [elements, {"if": [inner, {"var": "accumulator"}, null]}, elements]}]}, "on", "off"]}),
        "/flags/f/targeting/if/0/and/1: this expression reads no context and exceeds the evaluation budget: evaluation took more than 1000000 steps",
    );
}

#[test]
fn constant_parts_within_the_budget_compile() {
    let constant_list: Vec<u32> = (0..10).collect();
    let cases = [
        json!({"if": [{"in": [{"var": "x"}, {"map": [constant_list, {"*": [{"var": ""}, 2]}]}]}, "on", "off"]}),
        json!({"if": [{"==": [{"var": "x"}, {"cat": ["a", "b"]}]}, "on", "off"]}),
        json!({"if": [{"==": [{"var": "x"}, "w".repeat(1024 * 1024)]}, "on", "off"]}),
    ];
    for rule in cases {
        assert_eq!(refusals(&rule), Vec::<String>::new(), "rule {rule}");
    }
}

#[test]
fn explained_loops_keep_their_trace_small() {
    // Every element decides an `or`: 5 000 decisions, of which the trace
    // keeps the first ones, counts the rest and ends with the result.
    let rule = json!({"if": [{"some": [{"var": "list"}, {"or": [{"==": [{"var": ""}, -1]}, false]}]}, "on", "off"]});
    let (snapshot, _) = compile_with(&rule, EvalLimits::DEFAULT);
    let (resolution, trace) = snapshot.explain("f", &Selector::All, &list(5000));
    assert_eq!(resolution.variant, Some("off"));
    assert_eq!(trace.steps.len(), MAX_TRACE_STEPS + 1);
    assert_eq!(trace.steps.len() + trace.omitted, 5000 + 2);
    assert!(matches!(
        trace.steps.last().map(|s| &s.kind),
        Some(StepKind::Result { .. })
    ));
    assert!(
        trace
            .render()
            .ends_with("result \"off\"; 4001 more steps omitted"),
        "{}",
        trace.render()
    );
    // Large values are summarized, small ones shown in full.
    let rule = json!({"or": [{"cat": [{"var": "s"}, {"var": "s"}]}, "x"]});
    let (snapshot, _) = compile_with(&rule, EvalLimits::DEFAULT);
    let (_, trace) = snapshot.explain("f", &Selector::All, &json!({"s": "z".repeat(100_000)}));
    let clause = trace
        .steps
        .iter()
        .find_map(|s| match &s.kind {
            StepKind::Clause { value, .. } => Some(value.clone()),
            _ => None,
        })
        .expect("the or is traced");
    assert_eq!(clause, json!(format!("{}…", "z".repeat(64))));
    let (_, trace) = snapshot.explain("f", &Selector::All, &json!({"s": "ab"}));
    assert!(trace.render().contains("(\"abab\")"), "{}", trace.render());
}
