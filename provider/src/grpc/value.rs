//! Conversions between JSON and protobuf's `Struct`, the type of contexts,
//! object values and metadata on the wire.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct};
use serde_json::{Map, Number, Value};

/// Largest integer a double holds exactly (2^53).
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// A request's `Struct` as a JSON object.
pub(crate) fn to_json(s: Struct) -> Map<String, Value> {
    s.fields
        .into_iter()
        .map(|(key, value)| (key, value_to_json(value)))
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

/// A protobuf `Value` as JSON. Every number arrives as a double; a whole one
/// becomes a JSON integer, as flagd's JSON encoding writes it, so rules that
/// print or hash it see `30`, not `30.0`.
fn value_to_json(value: prost_types::Value) -> Value {
    match value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::NumberValue(n)) => number(n),
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::ListValue(list)) => {
            Value::Array(list.values.into_iter().map(value_to_json).collect())
        }
        Some(Kind::StructValue(s)) => Value::Object(to_json(s)),
    }
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
        assert_eq!(Value::Object(to_json(to_struct(map))), original);
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
