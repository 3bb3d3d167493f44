//! Operator semantics: each case is a rule, a context and the expected value.

use serde_json::{Value, json};

use engine::logic::compile::{CompileInput, compile};
use engine::logic::{CompileLimits, Env, NoTrace, evaluate};
use engine::{Evaluators, FractionalVersion, PathTable};

/// Compiles `rule`, evaluates it against `data` and compares with `expect`.
#[track_caller]
fn check(rule: Value, data: Value, expect: Value) {
    let got = eval_rule(&rule, &data);
    assert_eq!(got, expect, "rule {rule} over {data}");
}

/// Compile settings of these tests: flag key "my-flag", fractional v2.
fn input(evaluators: &Evaluators) -> CompileInput<'_> {
    CompileInput {
        flag_key: "my-flag",
        evaluators,
        fractional: FractionalVersion::V2,
        limits: CompileLimits::default(),
    }
}

fn eval_rule(rule: &Value, data: &Value) -> Value {
    let evaluators = Evaluators::new();
    let input = input(&evaluators);
    let mut paths = PathTable::default();
    let (compiled, _) = compile(rule, &input, &mut paths).expect("rule compiles");
    let prepared = paths.prepare(data).with_timestamp(1_700_000_000);
    evaluate(
        &compiled,
        Env {
            context: &prepared,
            flag_key: "my-flag",
        },
        &mut NoTrace,
    )
    .expect("the rule stays within the evaluation budget")
    .to_json()
}

#[test]
fn var() {
    let data = json!({"a": 1, "b": {"c": [10, 20, {"d": "deep"}]}, "n": null, "": "empty-key"});
    check(json!({"var": "a"}), data.clone(), json!(1));
    check(json!({"var": ["a"]}), data.clone(), json!(1));
    check(json!({"var": "b.c.1"}), data.clone(), json!(20));
    check(json!({"var": "b.c.2.d"}), data.clone(), json!("deep"));
    check(
        json!({"var": ["zz", "fallback"]}),
        data.clone(),
        json!("fallback"),
    );
    check(json!({"var": "zz"}), data.clone(), json!(null));
    check(json!({"var": "n"}), data.clone(), json!(null));
    check(json!({"var": ["b.c.9", 7]}), data.clone(), json!(7));
    check(
        json!({"var": {"cat": ["b", ".c.", "0"]}}),
        data.clone(),
        json!(10),
    );
    check(
        json!({"var": "$flagd.flagKey"}),
        data.clone(),
        json!("my-flag"),
    );
    check(
        json!({"var": "$flagd.timestamp"}),
        data.clone(),
        json!(1_700_000_000),
    );
    check(json!({"var": 1}), json!({"1": "one"}), json!("one"));
}

#[test]
fn missing() {
    let data = json!({"a": 1, "e": "", "n": null, "o": {"p": 2}});
    check(
        json!({"missing": ["a", "b", "e", "n", "o.p", "o.q"]}),
        data.clone(),
        json!(["b", "e", "n", "o.q"]),
    );
    check(json!({"missing": [["a", "b"]]}), data.clone(), json!(["b"]));
    check(
        json!({"missing_some": [1, ["a", "b"]]}),
        data.clone(),
        json!([]),
    );
    check(
        json!({"missing_some": [2, ["a", "b", "c"]]}),
        data.clone(),
        json!(["b", "c"]),
    );
}

#[test]
fn conditionals() {
    check(json!({"if": [true, "yes", "no"]}), json!({}), json!("yes"));
    check(json!({"if": [false, "yes", "no"]}), json!({}), json!("no"));
    check(json!({"if": [false, "yes"]}), json!({}), json!(null));
    check(json!({"if": [false, 1, false, 2, 3]}), json!({}), json!(3));
    check(json!({"if": [false, 1, true, 2, 3]}), json!({}), json!(2));
    check(
        json!({"?:": [[], "non-empty", "empty"]}),
        json!({}),
        json!("empty"),
    );
    check(json!({"if": []}), json!({}), json!(null));
    check(json!({"if": ["only"]}), json!({}), json!("only"));
}

#[test]
fn equality_and_truthiness() {
    check(json!({"==": [1, "1"]}), json!({}), json!(true));
    check(json!({"==": [0, false]}), json!({}), json!(true));
    check(json!({"==": [null, 0]}), json!({}), json!(false));
    check(json!({"===": [1, "1"]}), json!({}), json!(false));
    check(json!({"!=": ["a", "b"]}), json!({}), json!(true));
    check(json!({"!==": [1, 1]}), json!({}), json!(false));
    check(json!({"!": [[]]}), json!({}), json!(true));
    check(json!({"!": []}), json!({}), json!(true));
    check(json!({"!": "0"}), json!({}), json!(false));
    check(json!({"!!": ["0"]}), json!({}), json!(true));
    check(json!({"!!": [0]}), json!({}), json!(false));
}

#[test]
fn and_or_return_values() {
    check(json!({"or": [0, "", "x", "y"]}), json!({}), json!("x"));
    check(json!({"or": [0, ""]}), json!({}), json!(""));
    check(json!({"and": [1, "a", 0, "b"]}), json!({}), json!(0));
    check(json!({"and": [1, "a"]}), json!({}), json!("a"));
}

#[test]
fn comparisons() {
    check(json!({"<": [1, 2]}), json!({}), json!(true));
    check(json!({"<": [1, 2, 3]}), json!({}), json!(true));
    check(json!({"<": [1, 1, 3]}), json!({}), json!(false));
    check(json!({"<=": [1, 1, 3]}), json!({}), json!(true));
    check(json!({">": ["10", 9]}), json!({}), json!(true));
    check(json!({">": ["10", "9"]}), json!({}), json!(false));
    check(json!({">=": [2, 2]}), json!({}), json!(true));
    check(json!({"<": ["a", 1]}), json!({}), json!(false));
    check(json!({">=": ["a", 1]}), json!({}), json!(false));
}

#[test]
fn arithmetic() {
    check(json!({"+": [1, "2", 3.5]}), json!({}), json!(6.5));
    check(json!({"+": "2.5"}), json!({}), json!(2.5));
    check(json!({"-": [10, 4]}), json!({}), json!(6));
    check(json!({"-": 4}), json!({}), json!(-4));
    check(json!({"*": [2, "3"]}), json!({}), json!(6));
    check(json!({"/": [7, 2]}), json!({}), json!(3.5));
    check(json!({"%": [7, 3]}), json!({}), json!(1));
    check(json!({"%": [-7, 3]}), json!({}), json!(-1));
    check(json!({"max": [1, 3, 2]}), json!({}), json!(3));
    check(json!({"min": [1, -3, 2]}), json!({}), json!(-3));
    check(json!({"max": []}), json!({}), json!(null));
    // Operands convert with `Number()`; NaN and division by zero fail (see
    // `parity::rule_4_*`).
    check(json!({"+": [null, "2"]}), json!({}), json!(2));
}

#[test]
fn arrays() {
    let data = json!({"xs": [1, 2, 3, 4], "people": [{"age": 20}, {"age": 40}]});
    check(
        json!({"map": [{"var": "xs"}, {"*": [{"var": ""}, 2]}]}),
        data.clone(),
        json!([2, 4, 6, 8]),
    );
    check(
        json!({"filter": [{"var": "xs"}, {">": [{"var": ""}, 2]}]}),
        data.clone(),
        json!([3, 4]),
    );
    check(
        json!({"reduce": [{"var": "xs"}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, 10]}),
        data.clone(),
        json!(20),
    );
    check(
        json!({"all": [{"var": "xs"}, {">": [{"var": ""}, 0]}]}),
        data.clone(),
        json!(true),
    );
    check(json!({"all": [[], true]}), data.clone(), json!(false));
    check(
        json!({"some": [{"var": "people"}, {">": [{"var": "age"}, 30]}]}),
        data.clone(),
        json!(true),
    );
    check(
        json!({"none": [{"var": "people"}, {">": [{"var": "age"}, 50]}]}),
        data.clone(),
        json!(true),
    );
    check(
        json!({"map": [{"var": "missing"}, 1]}),
        data.clone(),
        json!([]),
    );
    check(
        json!({"merge": [[1, 2], 3, [[4]]]}),
        data.clone(),
        json!([1, 2, 3, [4]]),
    );
    check(json!({"in": [2, {"var": "xs"}]}), data.clone(), json!(true));
    check(
        json!({"in": ["2", {"var": "xs"}]}),
        data.clone(),
        json!(false),
    );
    // Inside map, var reads the element; the outer context is out of reach.
    check(
        json!({"map": [{"var": "xs"}, {"var": "people"}]}),
        data,
        json!([null, null, null, null]),
    );
}

#[test]
fn strings() {
    check(
        json!({"cat": ["a", 1, true, null, 2.5]}),
        json!({}),
        json!("a1true2.5"),
    );
    check(json!({"in": ["ell", "hello"]}), json!({}), json!(true));
    check(
        json!({"substr": ["jsonlogic", 4]}),
        json!({}),
        json!("logic"),
    );
    check(
        json!({"substr": ["jsonlogic", -5]}),
        json!({}),
        json!("logic"),
    );
    check(
        json!({"substr": ["jsonlogic", 0, 4]}),
        json!({}),
        json!("json"),
    );
    check(
        json!({"substr": ["jsonlogic", 1, -5]}),
        json!({}),
        json!("son"),
    );
    check(json!({"substr": ["héllo", 1, 2]}), json!({}), json!("él"));
    check(json!({"substr": ["abc", 10]}), json!({}), json!(""));
}

#[test]
fn flagd_string_operators() {
    let data = json!({"email": "ada@example.com", "n": 5});
    check(
        json!({"starts_with": [{"var": "email"}, "ada"]}),
        data.clone(),
        json!(true),
    );
    check(
        json!({"ends_with": [{"var": "email"}, "@example.com"]}),
        data.clone(),
        json!(true),
    );
    check(
        json!({"ends_with": [{"var": "email"}, "@other.org"]}),
        data.clone(),
        json!(false),
    );
    // flagd returns null, not false, for unusable arguments, so the default
    // variant applies rather than a variant named "false".
    check(
        json!({"starts_with": [{"var": "n"}, "5"]}),
        data.clone(),
        json!(null),
    );
    check(
        json!({"starts_with": [{"var": "email"}]}),
        data.clone(),
        json!(null),
    );
    check(
        json!({"ends_with": [{"var": "email"}, 0]}),
        data,
        json!(null),
    );
}

#[test]
fn literals_and_unknown_objects() {
    check(json!([1, {"var": "a"}]), json!({"a": 2}), json!([1, 2]));
    check(json!({"a": 1, "b": 2}), json!({}), json!({"a": 1, "b": 2}));
    check(json!("plain"), json!({}), json!("plain"));
}

#[test]
fn compile_errors_are_located() {
    let evaluators = Evaluators::new();
    let input = input(&evaluators);
    let cases = [
        (
            json!({"if": [{"nope": [1]}, 1, 2]}),
            "/if/0/nope",
            "unknown operator \"nope\"",
        ),
        (
            json!({"and": [true, {"$ref": "ghost"}]}),
            "/and/1/$ref",
            "unknown evaluator \"ghost\"",
        ),
    ];
    for (rule, pointer, message) in cases {
        let errors = compile(&rule, &input, &mut PathTable::default()).unwrap_err();
        assert_eq!(errors.len(), 1, "{rule}");
        assert_eq!(errors[0].pointer, pointer, "{rule}");
        assert!(
            errors[0].message.contains(message),
            "{rule}: {}",
            errors[0].message
        );
    }
}

#[test]
fn deep_and_huge_rules_are_rejected_at_compile_time() {
    let evaluators = Evaluators::new();
    let input = input(&evaluators);
    let mut deep = json!(true);
    for _ in 0..100 {
        deep = json!({"!": [deep]});
    }
    let errors = compile(&deep, &input, &mut PathTable::default()).unwrap_err();
    assert!(
        errors[0].message.contains("nested deeper than 64"),
        "{}",
        errors[0].message
    );

    let wide =
        json!({"or": (0..30_000).map(|i| json!({"==": [{"var": "x"}, i]})).collect::<Vec<_>>()});
    let errors = compile(&wide, &input, &mut PathTable::default()).unwrap_err();
    assert!(
        errors[0].message.contains("more than 20000 nodes"),
        "{}",
        errors[0].message
    );
}

#[test]
fn self_referencing_evaluators_are_rejected() {
    let evaluators: Evaluators = [
        ("a".to_owned(), json!({"$ref": "b"})),
        ("b".to_owned(), json!({"or": [true, {"$ref": "a"}]})),
    ]
    .into_iter()
    .collect();
    let input = input(&evaluators);
    let errors = compile(&json!({"$ref": "a"}), &input, &mut PathTable::default()).unwrap_err();
    assert_eq!(errors[0].pointer, "/$ref/$ref/or/1/$ref");
    assert!(
        errors[0]
            .message
            .contains("\"$ref\" to evaluator \"a\" inside evaluator \"b\" is not resolved"),
        "{}",
        errors[0].message
    );
}

#[test]
fn sem_ver() {
    let rule = |op: &str, v: &str| json!({"sem_ver": [{"var": "v"}, op, v]});
    check(rule(">=", "2.1.0"), json!({"v": "2.1.0"}), json!(true));
    check(
        rule(">=", "2.1.0"),
        json!({"v": "2.1.0+build.7"}),
        json!(true),
    );
    check(rule(">=", "2.1.0"), json!({"v": "v2.4.1"}), json!(true));
    check(
        rule(">=", "2.1.0"),
        json!({"v": "2.1.0-rc.1"}),
        json!(false),
    );
    check(rule(">=", "2.1.0"), json!({"v": "02.1.0"}), json!(null));
    check(rule(">=", "2.1.0"), json!({"v": "2.1"}), json!(true));
    check(rule(">=", "2.1.0"), json!({"v": 3}), json!(true));
    check(
        rule("<", "2.1.0-rc.2"),
        json!({"v": "2.1.0-rc.1"}),
        json!(true),
    );
    check(rule("^", "2.0.0"), json!({"v": "2.9.9"}), json!(true));
    check(rule("~", "2.1.0"), json!({"v": "2.2.0"}), json!(false));
    check(
        rule("!=", "1.0.0"),
        json!({"v": "1.0.0+other"}),
        json!(false),
    );
    check(rule("=", "1.0.0"), json!({}), json!(null));
    check(rule(">=", "2.1.0"), json!({"v": "2.1.0+"}), json!(null));
    check(rule(">=", "2.1.0"), json!({"v": "2.1.0+a..b"}), json!(null));
    check(
        rule(">=", "2.1.0"),
        json!({"v": "2.1.0+exp.sha-5114f85"}),
        json!(true),
    );
    check(
        rule(">", "2.1.0"),
        json!({"v": "18446744073709551616.0.0"}),
        json!(null),
    );
}

/// `and`/`or` over specialised tests keep JSONLogic's value semantics: the
/// first deciding value, or the last one, null included.
#[test]
fn grouped_tests_return_values() {
    let data = json!({"a": 1, "n": 5, "s": "xy"});
    let sw = |path: &str| json!({"starts_with": [{"var": path}, "x"]});
    let eq = |path: &str, v: Value| json!({"==": [{"var": path}, v]});
    check(
        json!({"and": [sw("n"), eq("a", json!(1))]}),
        data.clone(),
        json!(null),
    );
    check(
        json!({"and": [eq("a", json!(1)), sw("s")]}),
        data.clone(),
        json!(true),
    );
    check(
        json!({"and": [eq("a", json!(2)), sw("n")]}),
        data.clone(),
        json!(false),
    );
    check(
        json!({"or": [eq("a", json!(2)), sw("n")]}),
        data.clone(),
        json!(null),
    );
    check(
        json!({"or": [sw("n"), eq("a", json!(2))]}),
        data.clone(),
        json!(false),
    );
    check(json!({"or": [sw("n"), sw("s")]}), data.clone(), json!(true));
    check(
        json!({"and": [{"or": [eq("a", json!(2)), sw("s")]}, {"sem_ver": [{"var": "v"}, ">", "1.0.0"]}]}),
        json!({"a": 1, "s": "xy", "v": "1.2.0"}),
        json!(true),
    );
    check(
        json!({"if": [{"and": [sw("n"), eq("a", json!(1))]}, "yes", "no"]}),
        data,
        json!("no"),
    );
}
