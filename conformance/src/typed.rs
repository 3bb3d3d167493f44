//! The testbed's typed values: a type name (`Boolean`, `String`, `Integer`,
//! `Float`, `Object`) and the text written in a feature file, turned into
//! JSON the way the testbed's expectations require.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde_json::{Number, Value};

use engine::FlagType;

/// A type name used by the testbed's steps and tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// `true` or `false`.
    Boolean,
    /// Any text.
    String,
    /// A 64-bit signed integer.
    Integer,
    /// A finite double.
    Float,
    /// JSON text (an object, in every testbed use).
    Object,
}

/// A value that does not read as its declared type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The type name is none of the testbed's.
    #[error("unknown value type {name:?} (expected Boolean, String, Integer, Float or Object)")]
    UnknownType {
        /// The name as written.
        name: String,
    },
    /// The text is not a value of the type.
    #[error("{text:?} is not a valid {ty}: {reason}")]
    Invalid {
        /// The declared type.
        ty: ValueType,
        /// The text as written.
        text: String,
        /// Why it does not parse.
        reason: String,
    },
}

impl FromStr for ValueType {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Boolean" => Ok(ValueType::Boolean),
            "String" => Ok(ValueType::String),
            "Integer" => Ok(ValueType::Integer),
            "Float" => Ok(ValueType::Float),
            "Object" => Ok(ValueType::Object),
            other => Err(ValueError::UnknownType {
                name: other.to_owned(),
            }),
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueType::Boolean => "Boolean",
            ValueType::String => "String",
            ValueType::Integer => "Integer",
            ValueType::Float => "Float",
            ValueType::Object => "Object",
        })
    }
}

impl ValueType {
    /// The engine's flag type for a `<type>-flag` step.
    pub fn flag_type(self) -> FlagType {
        match self {
            ValueType::Boolean => FlagType::Boolean,
            ValueType::String => FlagType::String,
            ValueType::Integer => FlagType::Integer,
            ValueType::Float => FlagType::Float,
            ValueType::Object => FlagType::Object,
        }
    }

    /// Reads a value of this type.
    ///
    /// The text `null` is not special: a `String` "null" is the four-letter
    /// string. The testbed's expectations require it: its v3 fractional
    /// example `| null | String | bucket8 |` is the bucket of the CBOR text
    /// "null", whereas a JSON null would not be bucketed at all.
    pub fn parse(self, text: &str) -> Result<Value, ValueError> {
        let invalid = |reason: String| ValueError::Invalid {
            ty: self,
            text: text.to_owned(),
            reason,
        };
        match self {
            ValueType::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(invalid("expected true or false".into())),
            },
            ValueType::String => Ok(Value::String(text.to_owned())),
            ValueType::Integer => text
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|e| invalid(e.to_string())),
            ValueType::Float => {
                let float = text
                    .trim()
                    .parse::<f64>()
                    .map_err(|e| invalid(e.to_string()))?;
                Number::from_f64(float)
                    .map(Value::Number)
                    .ok_or_else(|| invalid("not a finite number".into()))
            }
            ValueType::Object => serde_json::from_str(text).map_err(|e| invalid(e.to_string())),
        }
    }
}

/// Unescapes `\"` to `"`, as a Cucumber `{string}` parameter does: the
/// testbed writes JSON inside quoted step arguments that way.
pub fn unescape_quotes(text: &str) -> Cow<'_, str> {
    if text.contains("\\\"") {
        Cow::Owned(text.replace("\\\"", "\""))
    } else {
        Cow::Borrowed(text)
    }
}

/// JSON equality in which numbers compare by value, so that `1`, `1.0` and
/// `1e0` are equal (an SDK reads all three as the same number).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_eq(x, y),
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| json_eq(x, y)))
        }
        _ => a == b,
    }
}

fn number_eq(x: &Number, y: &Number) -> bool {
    let exact = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (exact(x), exact(y)) {
        (Some(x), Some(y)) => x == y,
        _ => x.as_f64() == y.as_f64(),
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use serde_json::json;

    use super::*;

    #[track_caller]
    fn check(ty: &str, text: &str, expect: Expect) {
        test_support::refuse_update_expect_under_ci();
        let actual = match ty.parse::<ValueType>().and_then(|ty| ty.parse(text)) {
            Ok(value) => value.to_string(),
            Err(e) => e.to_string(),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn typed_context_values() {
        check("String", "abc", expect![[r#""abc""#]]);
        check("String", "", expect![[r#""""#]]);
        check("String", "null", expect![[r#""null""#]]);
        check("Object", "null", expect!["null"]);
        check("String", r"A\u0000B", expect![[r#""A\\u0000B""#]]);
        check("Integer", "-2147483649", expect!["-2147483649"]);
        check(
            "Integer",
            "1.5",
            expect![[r#""1.5" is not a valid Integer: invalid digit found in string"#]],
        );
        check("Float", "-0.0", expect!["-0.0"]);
        check("Float", "1e20", expect!["1e+20"]);
        check("Float", "4.9406564584124654e-324", expect!["5e-324"]);
        check("Boolean", "true", expect!["true"]);
        check(
            "Boolean",
            "yes",
            expect![[r#""yes" is not a valid Boolean: expected true or false"#]],
        );
        check(
            "Object",
            r#"{"b": 2, "a": {}}"#,
            expect![[r#"{"a":{},"b":2}"#]],
        );
        check(
            "Long",
            "1",
            expect![[
                r#"unknown value type "Long" (expected Boolean, String, Integer, Float or Object)"#
            ]],
        );
    }

    #[test]
    fn quotes_unescape_as_cucumber_strings() {
        assert_eq!(unescape_quotes(r#"{\"a\": 1}"#), r#"{"a": 1}"#);
        assert_eq!(unescape_quotes(r"A\u0000B"), r"A\u0000B");
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(json_eq(&json!({"n": [1, 0.5]}), &json!({"n": [1.0, 0.5]})));
        assert!(json_eq(&json!(0), &json!(-0.0)));
        assert!(!json_eq(
            &json!(9_007_199_254_740_993_i64),
            &json!(9_007_199_254_740_992_i64)
        ));
        assert!(!json_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!json_eq(&json!("1"), &json!(1)));
    }
}
