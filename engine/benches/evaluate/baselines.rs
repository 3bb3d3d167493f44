//! The baselines as their users run them: datalogic-rs with flagd's custom
//! operators registered, flagd-evaluation-engine's `Operator`, and
//! jsonlogic-rs.

use std::collections::HashMap;
use std::sync::Arc;

use datalogic_rs::bumpalo::Bump;
use datalogic_rs::operator::EvalContext;
use datalogic_rs::{ArenaExt, CustomOperator, DataValue, Engine, Logic, ParsedData};
use open_feature::{EvaluationContext, EvaluationContextFieldValue, StructValue};
use serde_json::Value;

use engine::ops::fractional::{cbor_murmur3, cbor_murmur3_str, murmur3_x86_32};

/// A datalogic-rs engine that knows flagd's `starts_with`, `sem_ver` and
/// `fractional`.
///
/// datalogic-rs 5.4 ships its own `fractional` and `sem_ver` behind its
/// `flagd` feature and `starts_with` behind `ext-string`, but built-in
/// operators shadow custom ones: enabling those features in this workspace
/// would silently replace flagd-evaluation-engine's own operators (its
/// CBOR-based `fractional` among them) and change the other baseline. So
/// the bench registers minimal equivalents the way flagd-evaluation-engine
/// does, with `fractional` bucketing as flagd's released v2 scheme does.
pub fn datalogic_engine() -> Engine {
    Engine::builder()
        .add_operator("starts_with", StartsWith)
        .add_operator("sem_ver", SemVer)
        .add_operator("fractional", FractionalV2)
        .build()
}

/// [`datalogic_engine`] with `fractional` bucketing as the v3 scheme does,
/// to compare with Ensign bucketing as v3.
pub fn datalogic_engine_v3() -> Engine {
    Engine::builder()
        .add_operator("starts_with", StartsWith)
        .add_operator("sem_ver", SemVer)
        .add_operator("fractional", FractionalV3)
        .build()
}

/// One rule compiled by datalogic-rs, with the context parsed into its arena
/// once.
pub struct Datalogic<'e> {
    engine: &'e Engine,
    logic: Logic,
    parsed: ParsedData,
    /// The context text the JSON path parses on every evaluation.
    pub text: String,
}

impl<'e> Datalogic<'e> {
    /// Compiles `rule` and parses `text`.
    pub fn new(engine: &'e Engine, rule: &Value, text: String) -> Self {
        let logic = engine
            .compile(rule.to_string().as_str())
            .expect("datalogic-rs compiles the rule");
        let parsed = ParsedData::from_json(&text).expect("datalogic-rs parses the context");
        Datalogic {
            engine,
            logic,
            parsed,
            text,
        }
    }

    /// Evaluates against the pre-parsed context, in an arena reset before
    /// each call (datalogic-rs's documented compile-once, parse-once path).
    pub fn prepared<R>(&self, arena: &mut Bump, read: impl FnOnce(&DataValue<'_>) -> R) -> R {
        arena.reset();
        let result = self
            .engine
            .evaluate(&self.logic, &self.parsed, arena)
            .expect("datalogic-rs evaluates the rule");
        read(result)
    }

    /// Parses the context text into the arena and evaluates.
    pub fn json<R>(&self, arena: &mut Bump, read: impl FnOnce(&DataValue<'_>) -> R) -> R {
        arena.reset();
        let result = self
            .engine
            .evaluate(&self.logic, self.text.as_str(), arena)
            .expect("datalogic-rs evaluates the rule");
        read(result)
    }
}

/// A datalogic-rs result as a variant name.
pub fn datalogic_variant(value: &DataValue<'_>) -> Option<String> {
    match value {
        DataValue::Null => None,
        DataValue::String(s) => Some((*s).to_owned()),
        other => Some(other.to_json_string()),
    }
}

/// A jsonlogic-rs result as a variant name.
pub fn json_variant(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The OpenFeature context an application hands the flagd provider, built
/// from the bench context (`targetingKey` becomes the targeting key).
pub fn open_feature_context(context: &Value) -> EvaluationContext {
    let mut out = EvaluationContext::default();
    let Value::Object(map) = context else {
        return out;
    };
    for (key, value) in map {
        match (key.as_str(), value) {
            ("targetingKey", Value::String(s)) => out.targeting_key = Some(s.clone()),
            (_, Value::Null) => {}
            (_, Value::Bool(b)) => out.add_custom_field(key, *b),
            (_, Value::String(s)) => out.add_custom_field(key, s.as_str()),
            (_, Value::Number(n)) => match n.as_i64() {
                Some(i) => out.add_custom_field(key, i),
                None => out.add_custom_field(key, n.as_f64().unwrap_or(f64::NAN)),
            },
            (_, Value::Object(_)) => {
                let open_feature::Value::Struct(fields) = to_open_feature(value) else {
                    continue;
                };
                out.add_custom_field(key, EvaluationContextFieldValue::Struct(Arc::new(fields)));
            }
            (_, Value::Array(_)) => {
                let array = to_open_feature(value);
                out.add_custom_field(key, EvaluationContextFieldValue::Struct(Arc::new(array)));
            }
        }
    }
    out
}

fn to_open_feature(value: &Value) -> open_feature::Value {
    match value {
        Value::Null => open_feature::Value::Struct(StructValue::default()),
        Value::Bool(b) => open_feature::Value::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => open_feature::Value::Int(i),
            None => open_feature::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => open_feature::Value::String(s.clone()),
        Value::Array(items) => {
            open_feature::Value::Array(items.iter().map(to_open_feature).collect())
        }
        Value::Object(map) => open_feature::Value::Struct(StructValue {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), to_open_feature(v)))
                .collect::<HashMap<_, _>>(),
        }),
    }
}

/// flagd's `starts_with`, as flagd-evaluation-engine registers it.
struct StartsWith;

impl CustomOperator for StartsWith {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        _context: &mut EvalContext<'_, 'a>,
        arena: &'a Bump,
    ) -> datalogic_rs::Result<&'a DataValue<'a>> {
        let holds = match args {
            [text, prefix, ..] => match (text.as_str(), prefix.as_str()) {
                (Some(text), Some(prefix)) => text.starts_with(prefix),
                _ => false,
            },
            _ => false,
        };
        Ok(arena.bool(holds))
    }
}

/// flagd's `sem_ver`: `[version, operator, version]`, null when either side
/// is not a version.
struct SemVer;

impl CustomOperator for SemVer {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        _context: &mut EvalContext<'_, 'a>,
        arena: &'a Bump,
    ) -> datalogic_rs::Result<&'a DataValue<'a>> {
        let [left, op, right] = args else {
            return Ok(arena.null());
        };
        let parse = |v: &DataValue<'_>| v.as_str().and_then(|s| semver::Version::parse(s).ok());
        let (Some(left), Some(op), Some(right)) = (parse(left), op.as_str(), parse(right)) else {
            return Ok(arena.null());
        };
        let holds = match op {
            "=" => left == right,
            "!=" => left != right,
            "<" => left < right,
            "<=" => left <= right,
            ">" => left > right,
            ">=" => left >= right,
            "^" => left.major == right.major,
            "~" => left.major == right.major && left.minor == right.minor,
            _ => return Ok(arena.null()),
        };
        Ok(arena.bool(holds))
    }
}

/// flagd's `fractional` in its v2 scheme: MurmurHash3 (x86, 32 bits) of the
/// bucketing string, `bucket = hash * total_weight >> 32`.
struct FractionalV2;

impl CustomOperator for FractionalV2 {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        context: &mut EvalContext<'_, 'a>,
        arena: &'a Bump,
    ) -> datalogic_rs::Result<&'a DataValue<'a>> {
        let Some(first) = args.first() else {
            return Ok(arena.null());
        };
        let implicit;
        let (key, buckets): (&str, &[&'a DataValue<'a>]) = match first.as_str() {
            Some(key) => (key, &args[1..]),
            None => {
                // The shorthand: the flag key and the targeting key.
                let root = context.root_input();
                let Some(targeting_key) = root
                    .get("targetingKey")
                    .and_then(DataValue::as_str)
                    .filter(|s| !s.is_empty())
                else {
                    return Ok(arena.null());
                };
                let flag_key = root
                    .get("$flagd")
                    .and_then(|f| f.get("flagKey"))
                    .and_then(DataValue::as_str)
                    .unwrap_or("");
                implicit = format!("{flag_key}{targeting_key}");
                let rest = if first.is_null() { &args[1..] } else { args };
                (implicit.as_str(), rest)
            }
        };
        let mut total: u64 = 0;
        for bucket in buckets {
            let weight = match bucket.as_array() {
                Some([variant, weight, ..]) if variant.is_string() => weight.as_i64(),
                Some([variant]) if variant.is_string() => Some(1),
                _ => None,
            };
            let Some(weight) = weight else {
                return Ok(arena.null());
            };
            total += u64::try_from(weight).unwrap_or(0);
        }
        if total == 0 {
            return Ok(arena.null());
        }
        // The engine's MurmurHash3, checked there against reference vectors.
        let bucket = (u64::from(murmur3_x86_32(key.as_bytes(), 0)) * total) >> 32;
        let mut end = 0;
        for entry in buckets {
            if let Some([variant, rest @ ..]) = entry.as_array() {
                end += rest
                    .first()
                    .and_then(DataValue::as_i64)
                    .map_or(1, |w| u64::try_from(w).unwrap_or(0));
                if bucket < end {
                    return Ok(variant);
                }
            }
        }
        Ok(arena.null())
    }
}

/// `fractional` in the v3 scheme, as flagd-evaluation-engine buckets:
/// MurmurHash3 of a deterministic CBOR encoding of the bucketing value (of
/// `[flagKey, targetingKey]` for the shorthand), then as v2. The hash is
/// the engine's, streamed through its CBOR encoder, so this baseline and
/// Ensign differ only in how they get to the bucketing value and the
/// buckets.
struct FractionalV3;

impl CustomOperator for FractionalV3 {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        context: &mut EvalContext<'_, 'a>,
        arena: &'a Bump,
    ) -> datalogic_rs::Result<&'a DataValue<'a>> {
        let Some(first) = args.first() else {
            return Ok(arena.null());
        };
        let (hash, buckets): (Option<u32>, &[&'a DataValue<'a>]) = match first {
            DataValue::Null => return Ok(arena.null()),
            DataValue::Array(_) => {
                // The shorthand: the flag key and the targeting key.
                let root = context.root_input();
                let Some(targeting_key) = root
                    .get("targetingKey")
                    .and_then(DataValue::as_str)
                    .filter(|s| !s.is_empty())
                else {
                    return Ok(arena.null());
                };
                let flag_key = root
                    .get("$flagd")
                    .and_then(|f| f.get("flagKey"))
                    .and_then(DataValue::as_str)
                    .unwrap_or("");
                (cbor_murmur3(&Value::from([flag_key, targeting_key])), args)
            }
            _ if args.len() < 2 => return Ok(arena.null()),
            DataValue::String(s) => (Some(cbor_murmur3_str(s)), &args[1..]),
            // Other values are rare bucketing values: read through JSON.
            other => {
                let value = serde_json::from_str::<Value>(&other.to_json_string()).ok();
                (value.as_ref().and_then(cbor_murmur3), &args[1..])
            }
        };
        let Some(hash) = hash else {
            return Ok(arena.null());
        };
        let mut total: u64 = 0;
        for bucket in buckets {
            let weight = match bucket.as_array() {
                Some([variant, weight, ..]) if !(variant.is_array() || variant.is_object()) => {
                    weight.as_i64()
                }
                Some([variant]) if !(variant.is_array() || variant.is_object()) => Some(1),
                _ => None,
            };
            let Some(weight) = weight else {
                return Ok(arena.null());
            };
            total += u64::try_from(weight).unwrap_or(0);
        }
        if total == 0 {
            return Ok(arena.null());
        }
        let bucket = (u64::from(hash) * total) >> 32;
        let mut end = 0;
        for entry in buckets {
            if let Some([variant, rest @ ..]) = entry.as_array() {
                end += rest
                    .first()
                    .and_then(DataValue::as_i64)
                    .map_or(1, |w| u64::try_from(w).unwrap_or(0));
                if bucket < end {
                    return Ok(variant);
                }
            }
        }
        Ok(arena.null())
    }
}
