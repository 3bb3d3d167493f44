//! Conversions between JSON and protobuf's `Struct`, the type of contexts,
//! object values and metadata on the wire.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct};
use serde_json::{Map, Number, Value};

use engine::MAX_DATA_DEPTH;

/// Largest integer a double holds exactly (2^53).
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// A request's data nests deeper than [`MAX_DATA_DEPTH`] objects and
/// lists (the `Struct` itself is the first level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the context nests deeper than {MAX_DATA_DEPTH} levels")]
pub(crate) struct TooDeep;

/// A request's `Struct` as a JSON object, refused when it nests deeper than
/// any data Ensign reads ([`MAX_DATA_DEPTH`], as OFREP contexts).
pub(crate) fn to_json(s: Struct) -> Result<Map<String, Value>, TooDeep> {
    struct_to_json(s, 1)
}

/// A `Struct` at nesting level `depth` (1 for the outermost).
fn struct_to_json(s: Struct, depth: usize) -> Result<Map<String, Value>, TooDeep> {
    if depth > MAX_DATA_DEPTH {
        return Err(TooDeep);
    }
    s.fields
        .into_iter()
        .map(|(key, value)| Ok((key, value_to_json(value, depth)?)))
        .collect()
}

/// A JSON object as a `Struct`.
pub(crate) fn to_struct(map: &Map<String, Value>) -> Struct {
    Struct {
        fields: map
            .iter()
            .map(|(key, value)| (key.clone(), to_value(value)))
            .collect(),
    }
}

/// A JSON value as a protobuf `Value` (numbers become doubles).
pub(crate) fn to_value(value: &Value) -> prost_types::Value {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(to_value).collect(),
        }),
        Value::Object(map) => Kind::StructValue(to_struct(map)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// A protobuf `Value` inside a container at level `depth`, as JSON. Every
/// number arrives as a double; a whole one becomes a JSON integer, as
/// flagd's JSON encoding writes it, so rules that print or hash it see
/// `30`, not `30.0`.
fn value_to_json(value: prost_types::Value, depth: usize) -> Result<Value, TooDeep> {
    Ok(match value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::NumberValue(n)) => number(n),
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::ListValue(list)) => {
            if depth + 1 > MAX_DATA_DEPTH {
                return Err(TooDeep);
            }
            Value::Array(
                list.values
                    .into_iter()
                    .map(|value| value_to_json(value, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        Some(Kind::StructValue(s)) => Value::Object(struct_to_json(s, depth + 1)?),
    })
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() <= EXACT_INTEGER {
        // Exact: whole and within the doubles' integer range.
        #[expect(
            clippy::cast_possible_truncation,
            reason = "checked whole and in range"
        )]
        return Value::Number(Number::from(n as i64));
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn round_trips_json() {
        let original = json!({
            "name": "ada", "age": 36, "ratio": 0.25, "admin": true, "none": null,
            "tags": ["a", 1], "address": {"city": "London"}
        });
        let Value::Object(map) = &original else {
            unreachable!("an object literal")
        };
        assert_eq!(Value::Object(to_json(to_struct(map)).unwrap()), original);
    }

    /// A context of `depth` levels: objects, or lists inside the outermost
    /// object.
    fn nested(depth: usize, lists: bool) -> Struct {
        let mut value = json!(1);
        for _ in 1..depth {
            value = if lists {
                json!([value])
            } else {
                json!({"a": value})
            };
        }
        let Value::Object(map) = json!({"a": value}) else {
            unreachable!("an object literal")
        };
        to_struct(&map)
    }

    #[track_caller]
    fn check(depth: usize, lists: bool, expect: Result<(), TooDeep>) {
        assert_eq!(to_json(nested(depth, lists)).map(drop), expect, "{depth}");
    }

    #[test]
    fn contexts_nest_at_most_as_deep_as_any_data() {
        assert_eq!(MAX_DATA_DEPTH, 127);
        for lists in [false, true] {
            check(1, lists, Ok(()));
            check(126, lists, Ok(()));
            check(127, lists, Ok(()));
            check(128, lists, Err(TooDeep));
            check(1_000, lists, Err(TooDeep));
        }
    }

    #[test]
    fn whole_doubles_become_integers() {
        assert_eq!(number(30.0), json!(30));
        assert_eq!(number(-2.0), json!(-2));
        assert_eq!(number(1.5), json!(1.5));
        assert_eq!(number(1e300), json!(1e300));
        assert_eq!(number(f64::NAN), Value::Null);
    }
}
