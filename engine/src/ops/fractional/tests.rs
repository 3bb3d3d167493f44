//! Checks of the `fractional` operator, its hashes and its CBOR encoding.

use super::FractionalVersion::{V1, V2, V3};
use serde_json::json;

use super::cbor::*;
use super::murmur3::*;
use super::*;

/// Buckets of `fractional-flag`, the shared-seed flags and their kin.
const SUITS: &str = r#"[["clubs",25],["diamonds",25],["hearts",25],["spades",25]]"#;
/// Buckets of `fractional-flag-shorthand`.
const COIN: &str = r#"[["heads"],["tails",1]]"#;

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("bad JSON {json}: {e}"))
}

/// The variant `fractional` picks, as JSON (`null` for `None`).
fn run(version: FractionalVersion, args: &Value, flag: &str, tk: Option<&Value>) -> Value {
    let Value::Array(items) = args else {
        panic!("args must be an array")
    };
    let args: Vec<Val<'_>> = items.iter().map(Val::from_json).collect();
    let tk = tk.map(Val::from_json);
    fractional(version, &args, flag, tk.as_ref()).map_or(Value::Null, |p| p.variant.to_json())
}

/// `fractional` over the arguments `args` (already evaluated, as JSON),
/// with an optional targeting key (JSON), picks `expect` (JSON, `null`
/// for `None`).
#[track_caller]
fn check(version: FractionalVersion, args: &str, flag: &str, tk: Option<&str>, expect: &str) {
    let tk = tk.map(parse);
    let got = run(version, &parse(args), flag, tk.as_ref());
    assert_eq!(got, parse(expect), "{version} {args} flag={flag} tk={tk:?}");
}

/// `[first, ...buckets]`.
fn with_buckets(first: Value, buckets: &str) -> Value {
    let Value::Array(mut items) = parse(buckets) else {
        panic!("buckets must be an array")
    };
    items.insert(0, first);
    Value::Array(items)
}

/// A flag bucketing on a string value with the given buckets.
#[track_caller]
fn by_string(version: FractionalVersion, value: &str, buckets: &str, expect: &str) {
    let args = with_buckets(Value::from(value), buckets);
    let got = run(version, &args, "unused", None);
    assert_eq!(got, Value::from(expect), "{version} {value:?}");
}

/// `fractional-flag`: `{"cat": [{"var": "$flagd.flagKey"}, {"var": "user.name"}]}`.
#[track_caller]
fn suits(version: FractionalVersion, name: &str, expect: &str) {
    by_string(version, &format!("fractional-flag{name}"), SUITS, expect);
}

/// `fractional-flag-{A,B}-shared-seed`: `{"cat": ["shared-seed", {"var": "user.name"}]}`.
#[track_caller]
fn shared_seed(version: FractionalVersion, name: &str, expect: &str) {
    by_string(version, &format!("shared-seed{name}"), SUITS, expect);
}

/// `fractional-flag-shorthand` with a targeting key.
#[track_caller]
fn coin(version: FractionalVersion, targeting_key: &str, expect: &str) {
    let got = run(
        version,
        &parse(COIN),
        "fractional-flag-shorthand",
        Some(&Value::from(targeting_key)),
    );
    assert_eq!(got, Value::from(expect), "{version} {targeting_key:?}");
}

/// `fractional-basic-flag`: `{"var": "hashing_input"}` over 25 buckets of
/// weight 4, with a context value of the given testbed type.
#[track_caller]
fn basic(ty: &str, input: &str, expect: &str) {
    let value = match ty {
        "String" => Value::from(input),
        "Integer" => Value::from(input.parse::<i64>().unwrap_or_else(|e| panic!("{e}"))),
        "Float" => Value::from(input.parse::<f64>().unwrap_or_else(|e| panic!("{e}"))),
        "Boolean" => Value::from(input == "true"),
        "Object" => parse(input),
        _ => panic!("unknown type {ty}"),
    };
    let buckets: Vec<Value> = (1..=25).map(|i| json!([format!("bucket{i}"), 4])).collect();
    let args = with_buckets(value, &Value::Array(buckets).to_string());
    let got = run(V3, &args, "fractional-basic-flag", None);
    assert_eq!(got, Value::from(expect), "{ty} {input}");
}

#[test]
fn murmur3_known_answers() {
    #[track_caller]
    fn mm(data: &[u8], seed: u32, expect: u32) {
        assert_eq!(
            murmur3_x86_32(data, seed),
            expect,
            "{data:?} seed {seed:#x}"
        );
    }
    mm(b"", 0, 0);
    mm(b"", 1, 0x514e_28b7);
    mm(b"", 0xffff_ffff, 0x81f1_6f39);
    mm(&[0, 0, 0, 0], 0, 0x2362_f9de);
    mm(&[0xff, 0xff, 0xff, 0xff], 0, 0x7629_3b50);
    mm(&[0x21, 0x43, 0x65, 0x87], 0, 0xf55b_516b);
    mm(&[0x21, 0x43, 0x65, 0x87], 0x5082_edee, 0x2362_f9de);
    mm(&[0x21, 0x43, 0x65], 0, 0x7e4a_8634);
    mm(&[0x21, 0x43], 0, 0xa0f7_b07a);
    mm(&[0x21], 0, 0x7266_1cf4);
    mm(b"aaaa", 0x9747_b28c, 0x5a97_808a);
    mm(b"aaa", 0x9747_b28c, 0x283e_0130);
    mm(b"aa", 0x9747_b28c, 0x5d21_1726);
    mm(b"a", 0x9747_b28c, 0x7fa0_9ea6);
    mm(b"abcd", 0x9747_b28c, 0xf047_8627);
    mm(b"Hello, world!", 0x9747_b28c, 0x2488_4cba);
    mm(
        b"The quick brown fox jumps over the lazy dog",
        0x9747_b28c,
        0x2fa8_26cd,
    );
    mm(b"flag-user", 0, 2_410_693_464);
    // The testbed's hash edge-case keys.
    mm(b"ejOoVL", 0, 0);
    mm(b"bY9fO-", 0, 1);
    mm(b"SI7p-", 0, 2_147_483_647);
    mm(b"6LvT0", 0, 2_147_483_648);
    mm(b"ceQdGm", 0, 4_294_967_295);
}

#[test]
fn murmur3_incremental_matches_one_shot() {
    let data: Vec<u8> = (0u8..=40).map(|i| i.wrapping_mul(37)).collect();
    for len in 0..data.len() {
        let whole = murmur3_x86_32(&data[..len], 7);
        for a in 0..=len {
            for b in a..=len {
                let mut h = Murmur3::new(7);
                h.write(&data[..a]);
                h.write(&data[a..b]);
                h.write(&data[b..len]);
                assert_eq!(h.finish(), whole, "len {len} split {a} {b}");
            }
        }
    }
}

#[test]
fn version_names() {
    for (text, version) in [
        ("v1", V1),
        ("v2", V2),
        ("v3", V3),
        ("1", V1),
        ("2", V2),
        ("3", V3),
    ] {
        assert_eq!(text.parse::<FractionalVersion>(), Ok(version));
    }
    assert_eq!(V1.as_str(), "v1");
    assert_eq!(V2.as_str(), "v2");
    assert_eq!(V3.to_string(), "v3");
    assert_eq!(FractionalVersion::default(), V2);
    assert!("v4".parse::<FractionalVersion>().is_err());
    assert!("".parse::<FractionalVersion>().is_err());
}

// Both evaluator/gherkin/fractional.feature and gherkin/targeting.feature
// (identical v1 and v2 tables; v3 only in the latter).

#[test]
fn fractional_flag_v1() {
    suits(V1, "jack", "spades");
    suits(V1, "queen", "clubs");
    suits(V1, "ten", "diamonds");
    suits(V1, "nine", "hearts");
    suits(V1, "3", "diamonds");
}

#[test]
fn fractional_flag_v2() {
    suits(V2, "jack", "hearts");
    suits(V2, "queen", "spades");
    suits(V2, "ten", "clubs");
    suits(V2, "nine", "diamonds");
    suits(V2, "3", "clubs");
}

#[test]
fn fractional_flag_v3() {
    suits(V3, "jack", "diamonds");
    suits(V3, "queen", "diamonds");
    suits(V3, "ten", "clubs");
    suits(V3, "nine", "clubs");
    suits(V3, "3", "spades");
}

#[test]
fn shorthand() {
    coin(V1, "jon@company.com", "heads");
    coin(V1, "jane@company.com", "tails");
    coin(V2, "jon@company.com", "heads");
    coin(V2, "jane@company.com", "tails");
    coin(V3, "jon@company.com", "tails");
    coin(V3, "jane@company.com", "tails");
    // "Fractional operator using implicit targeting key".
    coin(V3, "user-1", "heads");
    coin(V3, "user-2", "tails");
    coin(V3, "user-3", "heads");
}

#[test]
fn shared_seed_a() {
    shared_seed(V1, "jack", "hearts");
    shared_seed(V1, "queen", "spades");
    shared_seed(V1, "ten", "hearts");
    shared_seed(V1, "nine", "diamonds");
    shared_seed(V2, "seven", "hearts");
    shared_seed(V2, "eight", "diamonds");
    shared_seed(V2, "nine", "clubs");
    shared_seed(V2, "two", "spades");
    shared_seed(V3, "seven", "hearts");
    shared_seed(V3, "eight", "hearts");
    shared_seed(V3, "nine", "diamonds");
    shared_seed(V3, "two", "diamonds");
}

/// Flag B has A's rule; its variants map `hearts` to `ace-of-hearts` etc.
#[test]
fn shared_seed_b() {
    shared_seed(V1, "jack", "hearts"); // ace-of-hearts
    shared_seed(V1, "queen", "spades"); // ace-of-spades
    shared_seed(V1, "ten", "hearts"); // ace-of-hearts
    shared_seed(V1, "nine", "diamonds"); // ace-of-diamonds
    shared_seed(V2, "seven", "hearts"); // ace-of-hearts
    shared_seed(V2, "eight", "diamonds"); // ace-of-diamonds
    shared_seed(V2, "nine", "clubs"); // ace-of-clubs
    shared_seed(V2, "two", "spades"); // ace-of-spades
    shared_seed(V3, "seven", "hearts"); // ace-of-hearts
    shared_seed(V3, "eight", "hearts"); // ace-of-hearts
    shared_seed(V3, "nine", "diamonds"); // ace-of-diamonds
    shared_seed(V3, "two", "diamonds"); // ace-of-diamonds
}

#[test]
fn single_entry() {
    let flag = "fractional-single-entry-flag";
    for v in [V1, V2, V3] {
        check(
            v,
            r#"[["single",1]]"#,
            flag,
            Some(r#""some-targeting-key""#),
            r#""single""#,
        );
    }
}

#[test]
fn hash_edge_cases_v2() {
    let edge = r#"[["lower",50],["upper",50]]"#;
    by_string(V2, "ejOoVL", edge, "lower");
    by_string(V2, "bY9fO-", edge, "lower");
    by_string(V2, "SI7p-", edge, "lower");
    by_string(V2, "6LvT0", edge, "upper");
    by_string(V2, "ceQdGm", edge, "upper");
    let args = [Val::Str("ceQdGm".into()), Val::Json(&json!(["x", 100]))];
    let pick = fractional(V2, &args, "f", None);
    assert_eq!(pick.map(|p| (p.hash, p.bucket)), Some((u32::MAX, 99)));
    let args = [Val::Str("6LvT0".into()), Val::Json(&json!(["x", 100]))];
    let pick = fractional(V2, &args, "f", None);
    assert_eq!(pick.map(|p| (p.hash, p.bucket)), Some((1 << 31, 50)));
}

/// The `@fractional-nested` scenarios carry no version tag; the bucket
/// names and weights reach the operator evaluated.
#[test]
fn nested_expressions() {
    for v in [V2, V3] {
        // fractional-nested-if-flag: bucket0 = if(tier == premium, premium, standard).
        let tk = "jon@company.com";
        let rule = |first: &str| format!(r#"["{tk}", ["{first}", 50], ["standard", 50]]"#);
        check(
            v,
            &rule("premium"),
            "fractional-nested-if-flag",
            None,
            r#""premium""#,
        );
        check(
            v,
            &rule("standard"),
            "fractional-nested-if-flag",
            None,
            r#""standard""#,
        );
        let rule = r#"["user1", ["premium", 50], ["standard", 50]]"#;
        check(v, rule, "fractional-nested-if-flag", None, r#""standard""#);
        let rule = r#"["user1", ["standard", 50], ["standard", 50]]"#;
        check(v, rule, "fractional-nested-if-flag", None, r#""standard""#);
        // fractional-nested-var-flag: bucket0 = var(color); a missing
        // color is null, and yellow or null are no variant of the flag.
        let flag = "fractional-nested-var-flag";
        check(
            v,
            r#"["jon@company.com", ["red", 50], ["blue", 50]]"#,
            flag,
            None,
            r#""red""#,
        );
        let rule = r#"["jon@company.com", ["green", 50], ["blue", 50]]"#;
        check(v, rule, flag, None, r#""green""#);
        check(
            v,
            r#"["user1", ["red", 50], ["blue", 50]]"#,
            flag,
            None,
            r#""blue""#,
        );
        let rule = r#"["jon@company.com", ["yellow", 50], ["blue", 50]]"#;
        check(v, rule, flag, None, r#""yellow""#);
        check(
            v,
            r#"["jon@company.com", [null, 50], ["blue", 50]]"#,
            flag,
            None,
            "null",
        );
        // fractional-nested-weight-flag: bucket0 weight = if(tier == premium, 100, 0).
        let flag = "fractional-nested-weight-flag";
        for tk in ["jon@company.com", "user1"] {
            let rule = format!(r#"["{tk}", ["red", 100], ["blue", 10]]"#);
            check(v, &rule, flag, None, r#""red""#);
            let rule = format!(r#"["{tk}", ["red", 0], ["blue", 10]]"#);
            check(v, &rule, flag, None, r#""blue""#);
        }
        // fractional-as-condition(-false)-flag: the shorthand picks a bool.
        let tk = Some(r#""some-targeting-key""#);
        check(
            v,
            "[[false, 0], [true, 100]]",
            "fractional-as-condition-flag",
            tk,
            "true",
        );
        let flag = "fractional-as-condition-false-flag";
        check(v, "[[false, 100], [true, 0]]", flag, tk, "false");
    }
}

#[test]
fn operator_errors() {
    for v in [V1, V2, V3] {
        // fractional-null-bucket-key-flag: {"var": "missing_key"}, no targeting key.
        let flag = "fractional-null-bucket-key-flag";
        check(v, r#"[null, ["one", 50], ["two", 50]]"#, flag, None, "null");
        // fractional-zero-weights-flag.
        let tk = Some(r#""any-user""#);
        let flag = "fractional-zero-weights-flag";
        check(
            v,
            r#"["any-user", ["one", 0], ["two", 0]]"#,
            flag,
            tk,
            "null",
        );
        // fractional-negative-weight-flag: -50 counts as 0.
        let flag = "fractional-negative-weight-flag";
        check(
            v,
            r#"["any-user", ["one", -50], ["two", 100]]"#,
            flag,
            tk,
            r#""two""#,
        );
        // targeting-null-flag (edge-case-flags.json), empty context.
        check(v, r#"[null, ["one"]]"#, "targeting-null-flag", None, "null");
    }
}

#[test]
fn v3_basic_types() {
    basic("Boolean", "true", "bucket5");
    basic("Boolean", "false", "bucket1");
    basic("String", "user1", "bucket22");
    basic("String", "user2", "bucket16");
    basic("Integer", "123", "bucket20");
    basic("Integer", "456", "bucket12");
    basic("Float", "1.23", "bucket14");
    basic("Float", "4.56", "bucket18");
    basic("String", "123", "bucket22");
    basic("String", "true", "bucket24");
    basic("String", "false", "bucket1");
    basic("String", "null", "bucket8");
    basic("String", "1.23", "bucket4");
    basic("Integer", "0", "bucket8");
}

#[test]
fn v3_float_mapping_and_zeros() {
    basic("Float", "1.0", "bucket23");
    basic("Integer", "1", "bucket23");
    basic("Float", "1.0000000000000001", "bucket23");
    basic("Float", "-2.0", "bucket12");
    basic("Integer", "-2", "bucket12");
    basic("Float", "9007199254740992.0", "bucket10");
    basic("Integer", "9007199254740992", "bucket10");
    basic("Float", "0.0", "bucket8");
    basic("Float", "-0.0", "bucket8");
    basic("Integer", "0", "bucket8");
}

#[test]
fn v3_integer_limits() {
    basic("Integer", "2147483647", "bucket10");
    basic("Integer", "2147483648", "bucket25");
    basic("Integer", "-2147483648", "bucket8");
    basic("Integer", "-2147483649", "bucket18");
    basic("Integer", "9007199254740991", "bucket2");
    basic("Integer", "23", "bucket21");
    basic("Integer", "24", "bucket11");
    basic("Integer", "255", "bucket13");
    basic("Integer", "256", "bucket13");
    basic("Integer", "65535", "bucket4");
    basic("Integer", "65536", "bucket11");
    basic("Integer", "4294967295", "bucket14");
    basic("Integer", "4294967296", "bucket19");
    basic("Integer", "-24", "bucket4");
    basic("Integer", "-25", "bucket16");
}

#[test]
fn v3_float_limits() {
    basic("Float", "1e20", "bucket19");
    basic("Float", "-1e20", "bucket25");
    basic("Float", "65504.0", "bucket16");
    basic("Float", "-65504.0", "bucket9");
    basic("Float", "0.00006103515625", "bucket22");
    basic("Float", "0.000000059604644775390625", "bucket23");
    basic("Float", "65505.0", "bucket17");
    basic("Float", "-65505.0", "bucket17");
    basic("Float", "3.4028234663852886e+38", "bucket10");
    basic("Float", "-3.4028234663852886e+38", "bucket3");
    basic("Float", "1.1754943508222875e-38", "bucket24");
    basic("Float", "3.5e+38", "bucket1");
    basic("Float", "-3.5e+38", "bucket6");
    basic("Float", "1.7976931348623157e+308", "bucket17");
    basic("Float", "-1.7976931348623157e+308", "bucket9");
    basic("Float", "2.2250738585072014e-308", "bucket11");
    basic("Float", "4.9406564584124654e-324", "bucket2");
}

#[test]
fn v3_map_key_ordering() {
    basic("Object", r#"{"a": 1, "b": 2}"#, "bucket23");
    basic("Object", r#"{"b": 2, "a": 1}"#, "bucket23");
    basic("Object", r#"{"a": 1, "b": 2, "c": 3}"#, "bucket18");
    basic("Object", r#"{"c": 3, "a": 1, "b": 2}"#, "bucket18");
    basic("Object", r#"{"z": 1, "aa": 2}"#, "bucket21");
    basic("Object", r#"{"aa": 2, "z": 1}"#, "bucket21");
    basic("Object", r#"{"a": {"b": 1}, "b": 2}"#, "bucket9");
    basic("Object", r#"{"b": 2, "a": {"b": 1}}"#, "bucket9");
    basic(
        "Object",
        r#"{"a": true, "bbb": 1, "c": "text", "dddd": 2.5}"#,
        "bucket25",
    );
    basic(
        "Object",
        r#"{"c": "text", "bbb": 1, "a": true, "dddd": 2.5}"#,
        "bucket25",
    );
    basic("Object", r#"{"aaa": 1, "ÿ": 2}"#, "bucket12");
    basic("Object", r#"{"ÿ": 2, "aaa": 1}"#, "bucket12");
    basic("Object", r#"{"": 2, "abc": 1}"#, "bucket25");
    basic("Object", r#"{"key": -0.0}"#, "bucket10");
    basic("Object", r#"{"key": 0}"#, "bucket10");
    basic("Object", r#"{"key": 0.0}"#, "bucket10");
    basic(
        "Object",
        r#"{"b": -0.0, "a": {"b": 1}, "c": 0.0}"#,
        "bucket8",
    );
    basic(
        "Object",
        r#"{"c": 0.0, "b": -0.0, "a": {"b": 1}}"#,
        "bucket8",
    );
    basic(
        "Object",
        r#"{"café": "façade", "b": {"résumé": {"ÿ": true}}}"#,
        "bucket22",
    );
}

#[test]
fn v3_advanced_structures() {
    basic("Object", r#"{}"#, "bucket3");
    basic("Object", r#"{"a": {} }"#, "bucket20");
    basic("Object", r#"{"b": 2, "a": {} }"#, "bucket20");
    basic("Object", r#"{"a": {}, "b": {}}"#, "bucket21");
    basic("Object", r#"{"a": {}, "b": []}"#, "bucket7");
    basic("Object", r#"{"c": 0.0, "a": []}"#, "bucket18");
    basic(
        "Object",
        r#"{"c": 0.0, "b": -0.0, "a": {"b": []}}"#,
        "bucket9",
    );
    basic("Object", r#"{"a": [] }"#, "bucket12");
    basic("Object", r#"{"a": [1, [], 3], "b": null}"#, "bucket3");
    basic(
        "Object",
        r#"{"a": ["a", "b", {}], "b": [1, null, 2]}"#,
        "bucket23",
    );
    basic("Object", r#"{"a": [1, "two", true, [], null]}"#, "bucket23");
    let dup = r#"{"a": [false, 2.5, ""], "b": [], "c": [{}], "c": null}"#;
    basic("Object", dup, "bucket15");
    basic(
        "Object",
        r#"{"x": [{"a": 1}, {"b": 2}, {"b": null}]}"#,
        "bucket3",
    );
    basic("Object", r#"{"x": [{"a": {"b": []}}] }"#, "bucket16");
    basic("Object", r#"{"x": [{"a": {"b": null}}] }"#, "bucket6");
    basic("Object", r#"{"x": [{"a": {"b": {}}}] }"#, "bucket2");
    basic(
        "Object",
        r#"{"": "", "": [], "": {}, "": null}"#,
        "bucket25",
    );
    let dup = r#"{"": {"": ""}, "": ["", {"": ""}], "": {"": {"": ""}}}"#;
    basic("Object", dup, "bucket11");
    basic("Object", r#"{"a": [[[[[]]]]] }"#, "bucket15");
    basic("Object", r#"{"a": [[[[null]]]] }"#, "bucket7");
    basic("Object", r#"{"a": {"b": {"c": {"d": {}}} } }"#, "bucket21");
    basic(
        "Object",
        r#"{"a": {"b": {"c": {"d": null}} } }"#,
        "bucket19",
    );
}

#[test]
fn v3_strings() {
    basic("String", "", "bucket4");
    basic("String", "a", "bucket6");
    basic("String", "12345678901234567890123", "bucket4");
    basic("String", "123456789012345678901234", "bucket14");
    basic("String", &"a".repeat(255), "bucket18");
    basic("String", &"a".repeat(256), "bucket7");
    basic("String", "あいうえおかき", "bucket17");
    basic("String", "あいうえおかきく", "bucket16");
    basic("String", "ééééééééééé", "bucket16");
    basic("String", "éééééééééééé", "bucket19");
    basic("String", "café façade résumé café", "bucket9");
    // The table's escapes reach the provider as text, not unescaped.
    basic("String", r"A\u0000B", "bucket15");
    basic("String", r"e\u0301", "bucket7");
    basic("String", r"\uD83D\uDE00", "bucket23");
}

/// "Fractional operator invalid implicit inputs": no usable targeting key.
#[test]
fn invalid_shorthand_inputs() {
    for v in [V1, V2, V3] {
        let flag = "fractional-flag-shorthand";
        check(v, COIN, flag, None, "null");
        check(v, COIN, flag, Some("12345"), "null");
        check(v, COIN, flag, Some("true"), "null");
        check(v, COIN, flag, Some("null"), "null");
        check(v, COIN, flag, Some(r#""""#), "null");
    }
}

/// Where v1/v2 (flagd's Go evaluator) and v3 treat the first argument
/// differently.
#[test]
fn first_argument_by_version() {
    let tk = Some(r#""jon@company.com""#);
    let flag = "fractional-flag-shorthand";
    // v1/v2 skip a null bucketing value and bucket the targeting key; v3 yields null.
    check(
        V1,
        r#"[null, ["heads"], ["tails", 1]]"#,
        flag,
        tk,
        r#""heads""#,
    );
    check(
        V2,
        r#"[null, ["heads"], ["tails", 1]]"#,
        flag,
        tk,
        r#""heads""#,
    );
    check(V3, r#"[null, ["heads"], ["tails", 1]]"#, flag, tk, "null");
    // v1/v2 bucket only strings; v3 encodes numbers, bools and objects.
    for first in ["1", "true", r#"{"a": 1}"#] {
        let args = format!(r#"[{first}, ["heads"], ["tails", 1]]"#);
        check(V1, &args, flag, tk, "null");
        check(V2, &args, flag, tk, "null");
        assert_ne!(run(V3, &parse(&args), flag, None), Value::Null, "{args}");
    }
    // A bucketing value with no buckets.
    for v in [V1, V2, V3] {
        check(v, r#"["user"]"#, flag, tk, "null");
        check(v, "[]", flag, tk, "null");
    }
    // Built arrays are the shorthand too.
    let key = Val::Str("jon@company.com".into());
    let args = [
        Val::Arr(vec![Val::Str("heads".into())]),
        Val::Arr(vec![Val::Str("tails".into()), Val::Num(1.0)]),
    ];
    for (v, expect) in [(V1, "heads"), (V2, "heads"), (V3, "tails")] {
        let pick = fractional(v, &args, flag, Some(&key)).map(|p| p.variant);
        assert_eq!(pick, Some(Val::Str(expect.into())), "{v}");
    }
}

#[test]
fn weight_validation() {
    let flag = "f";
    for v in [V1, V2, V3] {
        // Weights must be whole numbers up to i32::MAX, summing to at most i32::MAX.
        check(v, r#"["u", ["a", 1.5], ["b", 1]]"#, flag, None, "null");
        check(
            v,
            r#"["u", ["a", 2147483648], ["b", 1]]"#,
            flag,
            None,
            "null",
        );
        check(
            v,
            r#"["u", ["a", 2147483647], ["b", 1]]"#,
            flag,
            None,
            "null",
        );
        check(
            v,
            r#"["u", ["a", 2147483646], ["b", 1]]"#,
            flag,
            None,
            r#""a""#,
        );
        check(v, r#"["u", ["a", "50"], ["b", 1]]"#, flag, None, "null");
        check(v, r#"["u", ["a", [1]], ["b", 1]]"#, flag, None, "null");
        // Every bucket is validated, not only the one picked.
        check(v, r#"["u", ["a", 1], ["b", 1], "c"]"#, flag, None, "null");
        check(v, r#"["u", ["a", 1], []]"#, flag, None, "null");
        check(v, r#"["u", ["a", 1], [["b"], 1]]"#, flag, None, "null");
        check(v, r#"["u", ["a", 1], [{"b": 1}, 1]]"#, flag, None, "null");
        // Scalar variants of any type; extra elements are ignored.
        check(v, r#"["u", [7, 1, "extra"]]"#, flag, None, "7");
        check(v, r#"["u", [null, 1]]"#, flag, None, "null");
        check(v, r#"["u", [false, 0], [true, 5]]"#, flag, None, "true");
    }
    // A null weight counts as 1 for flagd (Go); v3 rejects it.
    check(V2, r#"["u", ["a", null]]"#, flag, None, r#""a""#);
    check(V1, r#"["u", ["a", null]]"#, flag, None, r#""a""#);
    check(V3, r#"["u", ["a", null]]"#, flag, None, "null");
    // A NaN weight (e.g. from arithmetic) is invalid.
    for v in [V1, V2, V3] {
        let args = [
            Val::Str("u".into()),
            Val::Arr(vec![Val::Str("a".into()), Val::Num(f64::NAN)]),
        ];
        assert_eq!(fractional(v, &args, flag, None), None);
    }
}

/// v3 cannot encode non-finite numbers.
#[test]
fn v3_non_finite_bucketing_value() {
    let buckets = Val::Arr(vec![Val::Str("a".into()), Val::Num(1.0)]);
    for n in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let args = [Val::Num(n), buckets.clone()];
        assert_eq!(fractional(V3, &args, "f", None), None);
        let args = [Val::Arr(vec![Val::Num(n)]), buckets.clone()];
        assert_eq!(fractional(V3, &args, "f", None), None);
    }
}

#[test]
fn v1_bucket_is_a_percentage() {
    // Hash i32::MAX: abs / i32::MAX * 100 = 100, past every bucket.
    let args = [
        Val::Str("SI7p-".into()),
        Val::Arr(vec![Val::Str("x".into()), Val::Num(1.0)]),
    ];
    assert_eq!(fractional(V1, &args, "f", None), None);
    // Hash i32::MIN (-2^31): 100.00000005, also past every bucket.
    let args = [
        Val::Str("6LvT0".into()),
        Val::Arr(vec![Val::Str("x".into()), Val::Num(1.0)]),
    ];
    assert_eq!(fractional(V1, &args, "f", None), None);
    // Hash u32::MAX is -1 as i32: bucket 0.
    let args = [
        Val::Str("ceQdGm".into()),
        Val::Arr(vec![Val::Str("x".into()), Val::Num(1.0)]),
    ];
    let pick = fractional(V1, &args, "f", None).map(|p| (p.bucket, p.hash));
    assert_eq!(pick, Some((0, u32::MAX)));
}

fn cbor_hex(v: &Value) -> String {
    let mut out = Vec::new();
    cbor_val(&mut out, &Val::from_json(v)).unwrap_or_else(|| panic!("cannot encode {v}"));
    out.iter().map(|b| format!("{b:02x}")).collect()
}

#[track_caller]
fn cbor(json: &str, hex: &str) {
    assert_eq!(cbor_hex(&parse(json)), hex, "{json}");
}

#[track_caller]
fn cbor_num(n: f64, hex: &str) {
    let mut out = Vec::new();
    assert_eq!(cbor_f64(&mut out, n), Some(()));
    let got: String = out.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(got, hex, "{n:e}");
}

/// The public v3 hashes are the hash of the encoding.
#[test]
fn cbor_murmur3_hashes_the_encoding() {
    for json in [
        r#""""#,
        r#""fractional-colorc20ad4d2""#,
        "-1.5",
        "18446744073709551615",
        r#"[1, "two", null, {"b": true, "aa": [{}]}]"#,
    ] {
        let value = parse(json);
        let mut encoding = Vec::new();
        assert_eq!(cbor_json(&mut encoding, &value), Some(()), "{json}");
        let expect = murmur3_x86_32(&encoding, 0);
        assert_eq!(cbor_murmur3(&value), Some(expect), "{json}");
        if let Value::String(s) = &value {
            assert_eq!(cbor_murmur3_str(s), expect, "{json}");
        }
    }
}

/// RFC 8949 appendix A examples, with whole floats as integers. (Floats
/// are given as Rust literals: serde_json's default float parsing is not
/// always correctly rounded.)
#[test]
fn cbor_encoding() {
    cbor("0", "00");
    cbor("23", "17");
    cbor("24", "1818");
    cbor("100", "1864");
    cbor("1000", "1903e8");
    cbor("1000000", "1a000f4240");
    cbor("1000000000000", "1b000000e8d4a51000");
    // Beyond i64 a JSON integer is read as a float, as flagd's v3 does.
    cbor("18446744073709549568", "1bfffffffffffff800");
    cbor("18446744073709551615", "fa5f800000");
    cbor("-1", "20");
    cbor("-10", "29");
    cbor("-100", "3863");
    cbor("-1000", "3903e7");
    cbor("-9223372036854775808", "3b7fffffffffffffff");
    cbor_num(0.0, "00");
    cbor_num(-0.0, "00");
    cbor_num(1.0, "01");
    cbor_num(-4.0, "23");
    cbor_num(1.1, "fb3ff199999999999a");
    cbor_num(1.5, "f93e00");
    cbor_num(65504.0, "19ffe0");
    cbor_num(100000.0, "1a000186a0");
    cbor_num(3.4028234663852886e+38, "fa7f7fffff");
    cbor_num(1.0e+300, "fb7e37e43c8800759c");
    cbor_num(5.960464477539063e-8, "f90001");
    cbor_num(0.00006103515625, "f90400");
    cbor_num(-4.1, "fbc010666666666666");
    cbor_num(1e20, "fb4415af1d78b58c40");
    cbor_num(-1e20, "fbc415af1d78b58c40");
    cbor("false", "f4");
    cbor("true", "f5");
    cbor("null", "f6");
    cbor(r#""""#, "60");
    cbor(r#""a""#, "6161");
    cbor(r#""IETF""#, "6449455446");
    cbor(r#""\u00fc""#, "62c3bc");
    cbor("[]", "80");
    cbor("[1, 2, 3]", "83010203");
    cbor("[1, [2, 3], [4, 5]]", "8301820203820405");
    cbor("{}", "a0");
    cbor(r#"{"a": 1, "b": [2, 3]}"#, "a26161016162820203");
    cbor(r#"{"aa": 1, "b": 2}"#, "a261620262616101");
    cbor(r#"{"b": 1, "a": 2, "b": 3}"#, "a2616102616203");
}

/// Streaming a `cat` bucketing value into the hash, and picking among
/// constant buckets, against hashing the built string and the general
/// operator.
mod streaming {
    use proptest::prelude::*;

    use super::*;

    /// A `cat` argument's piece, owned.
    #[derive(Debug, Clone)]
    enum Part {
        Text(String),
        Number(f64),
    }

    fn part() -> impl Strategy<Value = Part> {
        prop_oneof![
            any::<String>().prop_map(Part::Text),
            "[a-z0-9é-]{0,9}".prop_map(Part::Text),
            any::<f64>().prop_map(Part::Number),
            prop::sample::select(vec![
                0.0,
                -0.0,
                1e21,
                1e-7,
                123.0,
                -4.5,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ])
            .prop_map(Part::Number),
        ]
    }

    /// A small JSON value: scalars, buckets and other arrays, objects.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-3i64..40).prop_map(Value::from),
            Just(json!(2.5)),
            Just(json!(2_147_483_647)),
            prop::sample::select(vec!["a", "b", "", "user-1"]).prop_map(Value::from),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                inner.prop_map(|v| json!({ "k": v })),
            ]
        })
    }

    /// A bucket, usually a valid one.
    fn bucket() -> impl Strategy<Value = Value> {
        prop_oneof![
            3 => (prop::sample::select(vec!["a", "b", "c"]), 0u32..50)
                .prop_map(|(v, w)| json!([v, w])),
            1 => json(),
        ]
    }

    const VERSIONS: [FractionalVersion; 3] = [V1, V2, V3];

    proptest! {
        #[test]
        fn concat_hashes_as_the_built_string(
            prefix in "[a-z-]{0,12}",
            parts in prop::collection::vec(part(), 0..6),
            buckets in prop::collection::vec(bucket(), 1..5),
        ) {
            let pieces: Vec<Piece<'_>> = parts
                .iter()
                .map(|p| match p {
                    Part::Text(s) => Piece::Text(s),
                    Part::Number(n) => Piece::Number(*n),
                })
                .collect();
            // What `cat` builds from the prefix and the parts.
            let mut built = prefix.clone();
            for part in &parts {
                match part {
                    Part::Text(s) => Val::Str(s.as_str().into()),
                    Part::Number(n) => Val::Num(*n),
                }
                .write_js_string(&mut built);
            }
            let len: usize = pieces.iter().map(|p| p.len()).sum();
            prop_assert_eq!(prefix.len() + len, built.len());
            for version in VERSIONS {
                let constants = ConstBuckets::new(version, &buckets, &prefix, 1);
                let source = Source::Concat(Some(&constants.prefix), &pieces);
                let expected = match version {
                    V3 => {
                        let mut encoding = Vec::new();
                        cbor_text(&mut encoding, &built);
                        murmur3_x86_32(&encoding, 0)
                    }
                    V1 | V2 => murmur3_x86_32(built.as_bytes(), 0),
                };
                prop_assert_eq!(hash(version, source), Some(expected), "{}", version);
                // The general operator over the built string.
                let args: Vec<Val<'_>> = std::iter::once(Val::Str(built.as_str().into()))
                    .chain(buckets.iter().map(Val::from_json))
                    .collect();
                let general = fractional(version, &args, "flag", None);
                let picked = constants.pick(Key::Concat(&pieces), "flag", None);
                prop_assert_eq!(&picked, &general, "{}", version);
                let streamed = constants.pick_concat(len, |hasher| {
                    for piece in &pieces {
                        piece.write_to(hasher);
                    }
                });
                prop_assert_eq!(&streamed, &general, "{}", version);
            }
        }

        #[test]
        fn constant_buckets_pick_as_the_general_operator(
            first in json(),
            buckets in prop::collection::vec(bucket(), 0..5),
            targeting_key in prop::option::of(json()),
        ) {
            let tk = targeting_key.as_ref().map(Val::from_json);
            let first_val = Val::from_json(&first);
            let args: Vec<Val<'_>> = std::iter::once(first_val.clone())
                .chain(buckets.iter().map(Val::from_json))
                .collect();
            for version in VERSIONS {
                let general = fractional(version, &args, "flag", tk.as_ref());
                // The first argument evaluated, the buckets constant.
                let constants = ConstBuckets::new(version, &buckets, "", 0);
                let picked = constants.pick(Key::Value(&first_val), "flag", tk.as_ref());
                prop_assert_eq!(&picked, &general, "{} first {}", version, first);
                // Every argument constant, the first an array: the shorthand.
                if first.is_array() {
                    let all: Vec<Value> =
                        std::iter::once(first.clone()).chain(buckets.iter().cloned()).collect();
                    let constants = ConstBuckets::new(version, &all, "", 0);
                    let picked = constants.pick(Key::Shorthand, "flag", tk.as_ref());
                    prop_assert_eq!(&picked, &general, "{} shorthand {}", version, first);
                }
            }
        }
    }
}

/// Monotone ramps: a step that keeps the weights' sum and raises only one
/// variant's weight (every other weight kept or lowered) moves no user off
/// that variant, in every bucketing version: the variant's range of
/// buckets only grows. Guarded rollouts are scheduled only as such ramps,
/// so their users on the new variant stay on it.
mod ramps {
    use proptest::prelude::*;

    use super::*;

    const VERSIONS: [FractionalVersion; 3] = [V1, V2, V3];

    /// The index of the variant `fractional` picks for `key` among buckets
    /// `v0`, `v1`, … with `weights`.
    fn pick(version: FractionalVersion, weights: &[u64], key: &str) -> Option<usize> {
        let buckets: Vec<Value> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| json!([format!("v{i}"), w]))
            .collect();
        let args: Vec<Val<'_>> = std::iter::once(Val::Str(key.into()))
            .chain(buckets.iter().map(Val::from_json))
            .collect();
        let picked = fractional(version, &args, "flag", None)?.variant.to_json();
        picked.as_str()?.strip_prefix('v')?.parse().ok()
    }

    proptest! {
        #[test]
        fn raising_one_weight_at_a_kept_sum_keeps_its_users(
            weights in prop::collection::vec(0u64..1_000, 2..6),
            new in 0usize..6,
            taken in prop::collection::vec(0u64..1_000, 6),
            keys in prop::collection::vec("[a-z0-9-]{1,24}", 64),
        ) {
            let new = new % weights.len();
            prop_assume!(weights.iter().sum::<u64>() > 0);
            // The next step: weight taken from the others, given to `new`.
            let mut next = weights.clone();
            for (i, take) in taken.iter().enumerate().take(weights.len()) {
                if i != new {
                    let take = (*take).min(next[i]);
                    next[i] -= take;
                    next[new] += take;
                }
            }
            for version in VERSIONS {
                for key in &keys {
                    if pick(version, &weights, key) == Some(new) {
                        prop_assert_eq!(
                            pick(version, &next, key),
                            Some(new),
                            "{} {:?} -> {:?} key {}",
                            version,
                            &weights,
                            &next,
                            key
                        );
                    }
                }
            }
        }
    }

    /// Why a ramp must keep the sum: lowering another variant's weight
    /// without giving it to the new one shrinks the total, and the new
    /// variant's range slides, moving some of its users.
    #[test]
    fn lowering_the_sum_moves_users_off_a_variant() {
        for version in VERSIONS {
            let moved = (0..1_000)
                .map(|i| format!("user-{i}"))
                .filter(|key| pick(version, &[1, 1, 1], key) == Some(1))
                .filter(|key| pick(version, &[1, 1, 0], key) != Some(1))
                .count();
            assert!(moved > 0, "{version}: no user moved");
        }
    }
}
