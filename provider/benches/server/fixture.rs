//! The workload: a flag file of fifty flags with targeting rules and a pool
//! of realistic evaluation contexts, rendered once as OFREP request bytes and
//! gRPC requests so that generating load costs no serialization.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use provider::proto::evaluation::v1::ResolveBooleanRequest;

/// Flags in the file, all evaluated by the bulk scenario.
pub const FLAG_COUNT: usize = 50;
/// The boolean flag evaluated by the single-flag scenarios.
pub const SINGLE_FLAG: &str = "flag-00";
/// Distinct contexts cycled through, so bucketing and rule outcomes vary.
pub const CONTEXTS: usize = 1024;

/// The flagd flag file: `FLAG_COUNT` flags of mixed types, each with one of
/// a handful of typical rules (email domain, country list plus minimum app
/// version, plan, age, and fractional rollouts behind them).
pub fn flag_file() -> String {
    let mut flags = serde_json::Map::new();
    for i in 0..FLAG_COUNT {
        let (variants, on, off) = match i % 4 {
            0 | 1 => (json!({ "on": true, "off": false }), "on", "off"),
            2 => (
                json!({ "on": "checkout-v2", "off": "checkout-v1" }),
                "on",
                "off",
            ),
            _ => (json!({ "on": 25, "off": 10 }), "on", "off"),
        };
        let targeting = match i % 5 {
            0 => json!({
                "if": [
                    { "ends_with": [{ "var": "email" }, "@example.com"] }, on,
                    { "and": [
                        { "in": [{ "var": "country" }, ["DE", "FR", "NL", "SE"]] },
                        { "sem_ver": [{ "var": "appVersion" }, ">=", "4.2.0"] }
                    ] },
                    { "fractional": [[on, 50], [off, 50]] },
                    off
                ]
            }),
            1 => json!({
                "if": [
                    { "in": [{ "var": "plan" }, ["pro", "enterprise"]] }, on, off
                ]
            }),
            2 => json!({
                "if": [
                    { "and": [
                        { "==": [{ "var": "platform" }, "ios"] },
                        { ">=": [{ "var": "age" }, 21] }
                    ] }, on,
                    { "fractional": [[on, 10], [off, 90]] }
                ]
            }),
            3 => json!({
                "if": [
                    { "starts_with": [{ "var": "orgId" }, "org-1"] }, on,
                    { "!": [{ "var": "beta" }] }, off,
                    { "fractional": [[on, 30], [off, 70]] }
                ]
            }),
            _ => json!({ "fractional": [[on, 20], [off, 80]] }),
        };
        flags.insert(
            flag_key(i),
            json!({
                "state": "ENABLED",
                "variants": variants,
                "defaultVariant": off,
                "targeting": targeting,
                "metadata": { "owner": format!("team-{}", i % 7), "kind": "rollout" }
            }),
        );
    }
    let file = json!({
        "$schema": "https://flagd.dev/schema/v0/flags.json",
        "metadata": { "flagSetId": "bench", "version": "1" },
        "flags": flags,
    });
    file.to_string()
}

/// The key of flag `i`.
fn flag_key(i: usize) -> String {
    format!("flag-{i:02}")
}

/// Evaluation context `i` of the pool: fifteen keys, as a browser or mobile
/// SDK typically sends.
pub fn context(i: usize) -> Value {
    const COUNTRIES: [&str; 6] = ["DE", "US", "FR", "JP", "NL", "BR"];
    const PLATFORMS: [&str; 3] = ["ios", "android", "web"];
    const PLANS: [&str; 3] = ["free", "pro", "enterprise"];
    let email = if i.is_multiple_of(10) {
        format!("user{i}@example.com")
    } else {
        format!("user{i}@customer{}.com", i % 7)
    };
    json!({
        "targetingKey": format!("user-{i:06}"),
        "email": email,
        "country": COUNTRIES[i % COUNTRIES.len()],
        "platform": PLATFORMS[i % PLATFORMS.len()],
        "appVersion": format!("4.{}.{}", i % 6, i % 3),
        "plan": PLANS[i % PLANS.len()],
        "orgId": format!("org-{}", i % 97),
        "locale": "de-DE",
        "beta": i.is_multiple_of(4),
        "age": 16 + i % 50,
        "sessionCount": i % 1000,
        "region": "eu-west-1",
        "device": "iPhone15,3",
        "createdAt": "2024-11-05T09:12:44Z",
        "deviceScore": 0.25 + (i % 50) as f64 / 100.0,
    })
}

/// The OFREP request body for context `i`.
pub fn ofrep_body(i: usize) -> String {
    json!({ "context": context(i) }).to_string()
}

/// A flagd `ResolveBoolean` request for context `i`.
pub fn resolve_boolean(i: usize) -> ResolveBooleanRequest {
    let Value::Object(fields) = context(i) else {
        unreachable!("contexts are objects")
    };
    ResolveBooleanRequest {
        flag_key: SINGLE_FLAG.to_owned(),
        context: Some(prost_types::Struct {
            fields: fields
                .into_iter()
                .map(|(k, v)| (k, to_prost(v)))
                .collect::<BTreeMap<_, _>>(),
        }),
    }
}

/// A JSON value as a protobuf `Value`.
fn to_prost(value: Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(to_prost).collect(),
        }),
        Value::Object(fields) => Kind::StructValue(prost_types::Struct {
            fields: fields.into_iter().map(|(k, v)| (k, to_prost(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}
