//! Conversions between OpenFeature's types and JSON: evaluation contexts
//! to JSON contexts, JSON values to OpenFeature values, and one flag's
//! outcome (local or from OFREP) to a resolution or an error.

use std::sync::Arc;

use open_feature::provider::ResolutionDetails;
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue, EvaluationError, EvaluationErrorCode,
    EvaluationReason, EvaluationResult, FlagMetadata, FlagMetadataValue, StructValue,
};
use serde_json::{Map, Number, Value};
use time::format_description::well_known::Rfc3339;

use engine::FlagType;

/// Why an evaluation context cannot be sent as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A float field that JSON cannot carry (NaN or infinite).
    #[error("context field {key:?} is not a finite number")]
    NonFiniteNumber {
        /// The field's key.
        key: String,
    },
    /// A date-time field that cannot be written as RFC 3339.
    #[error("context field {key:?} is a date-time outside RFC 3339")]
    DateTime {
        /// The field's key.
        key: String,
    },
    /// A struct field of a type this provider cannot read.
    #[error(
        "context field {key:?} holds a struct of an unsupported type (use serde_json::Value, a serde_json map, open_feature::Value or open_feature::StructValue)"
    )]
    UnsupportedStruct {
        /// The field's key.
        key: String,
    },
}

impl From<ContextError> for EvaluationError {
    fn from(error: ContextError) -> Self {
        EvaluationError {
            code: EvaluationErrorCode::InvalidContext,
            message: Some(error.to_string()),
        }
    }
}

/// An evaluation context as the JSON object flagd and OFREP evaluate
/// against: the targeting key as `targetingKey`, every custom field under
/// its key. Date-times become RFC 3339 strings (as flagd's providers send
/// them); struct fields are read when they hold a `serde_json::Value`, a
/// `serde_json::Map`, an `open_feature::Value` or an
/// `open_feature::StructValue`, and refused otherwise, since a field that
/// silently vanished would change which rule matches.
pub fn context_to_json(context: &EvaluationContext) -> Result<Map<String, Value>, ContextError> {
    let mut map = Map::new();
    for (key, field) in &context.custom_fields {
        map.insert(key.clone(), field_to_json(key, field)?);
    }
    // The targeting key field wins over a custom field of the same name.
    if let Some(key) = &context.targeting_key {
        map.insert("targetingKey".into(), Value::String(key.clone()));
    }
    Ok(map)
}

/// One context field (or tracking detail, which takes the same types) as
/// JSON, read as [`context_to_json`] reads it; `key` names it in the error.
pub(crate) fn field_to_json(
    key: &str,
    field: &EvaluationContextFieldValue,
) -> Result<Value, ContextError> {
    Ok(match field {
        EvaluationContextFieldValue::Bool(b) => Value::Bool(*b),
        EvaluationContextFieldValue::Int(i) => Value::Number((*i).into()),
        EvaluationContextFieldValue::Float(f) => Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| ContextError::NonFiniteNumber {
                key: key.to_owned(),
            })?,
        EvaluationContextFieldValue::String(s) => Value::String(s.clone()),
        EvaluationContextFieldValue::DateTime(at) => {
            Value::String(at.format(&Rfc3339).map_err(|_| ContextError::DateTime {
                key: key.to_owned(),
            })?)
        }
        EvaluationContextFieldValue::Struct(any) => {
            struct_to_json(any).ok_or_else(|| ContextError::UnsupportedStruct {
                key: key.to_owned(),
            })?
        }
    })
}

fn struct_to_json(any: &Arc<dyn std::any::Any + Send + Sync>) -> Option<Value> {
    if let Some(value) = any.downcast_ref::<Value>() {
        return Some(value.clone());
    }
    if let Some(map) = any.downcast_ref::<Map<String, Value>>() {
        return Some(Value::Object(map.clone()));
    }
    if let Some(value) = any.downcast_ref::<open_feature::Value>() {
        return Some(value_to_json(value));
    }
    any.downcast_ref::<StructValue>().map(|s| {
        Value::Object(
            s.fields
                .iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        )
    })
}

fn value_to_json(value: &open_feature::Value) -> Value {
    match value {
        open_feature::Value::Bool(b) => Value::Bool(*b),
        open_feature::Value::Int(i) => Value::Number((*i).into()),
        open_feature::Value::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        open_feature::Value::String(s) => Value::String(s.clone()),
        open_feature::Value::Array(items) => {
            Value::Array(items.iter().map(value_to_json).collect())
        }
        open_feature::Value::Struct(s) => Value::Object(
            s.fields
                .iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
    }
}

/// A JSON value as an OpenFeature value. OpenFeature has no null: a null
/// is `None` at the top, and left out inside arrays and objects.
pub fn value_from_json(value: &Value) -> Option<open_feature::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => open_feature::Value::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => open_feature::Value::Int(i),
            None => open_feature::Value::Float(n.as_f64()?),
        },
        Value::String(s) => open_feature::Value::String(s.clone()),
        Value::Array(items) => {
            open_feature::Value::Array(items.iter().filter_map(value_from_json).collect())
        }
        Value::Object(map) => open_feature::Value::Struct(struct_from_json(map)),
    })
}

/// A JSON object as an OpenFeature struct (nulls left out).
pub fn struct_from_json(map: &Map<String, Value>) -> StructValue {
    StructValue {
        fields: map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), value_from_json(v)?)))
            .collect(),
    }
}

/// A flag value type a resolve call asks for.
pub(crate) trait FlagValue: Sized {
    /// The engine's name for it.
    const TYPE: FlagType;
    /// The value, if `json` is of this type. An integer request accepts
    /// whole numbers only: 9.5 is a mismatch, not 9.
    fn from_json(json: &Value) -> Option<Self>;
}

impl FlagValue for bool {
    const TYPE: FlagType = FlagType::Boolean;
    fn from_json(json: &Value) -> Option<Self> {
        json.as_bool()
    }
}

impl FlagValue for i64 {
    const TYPE: FlagType = FlagType::Integer;
    fn from_json(json: &Value) -> Option<Self> {
        let Value::Number(n) = json else { return None };
        n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            // Whole and within i64: exact.
            #[expect(
                clippy::cast_possible_truncation,
                reason = "checked whole and in range"
            )]
            (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
        })
    }
}

impl FlagValue for f64 {
    const TYPE: FlagType = FlagType::Float;
    fn from_json(json: &Value) -> Option<Self> {
        json.as_f64()
    }
}

impl FlagValue for String {
    const TYPE: FlagType = FlagType::String;
    fn from_json(json: &Value) -> Option<Self> {
        json.as_str().map(str::to_owned)
    }
}

impl FlagValue for StructValue {
    const TYPE: FlagType = FlagType::Object;
    fn from_json(json: &Value) -> Option<Self> {
        json.as_object().map(struct_from_json)
    }
}

/// One flag's outcome, from the engine or from an OFREP body.
#[derive(Debug)]
pub(crate) struct Outcome<'a> {
    pub(crate) key: &'a str,
    pub(crate) value: Option<&'a Value>,
    pub(crate) variant: Option<&'a str>,
    pub(crate) reason: Option<&'a str>,
    /// Error code and details.
    pub(crate) error: Option<(&'a str, String)>,
    pub(crate) metadata: Option<&'a Map<String, Value>>,
}

impl<'a> From<&'a engine::Resolution<'a>> for Outcome<'a> {
    fn from(resolution: &'a engine::Resolution<'a>) -> Self {
        Outcome {
            key: resolution.key,
            value: resolution.value,
            variant: resolution.variant,
            reason: Some(resolution.reason.as_str()),
            error: resolution
                .error
                .as_ref()
                .map(|e| (e.code.as_str(), e.message.clone())),
            metadata: Some(resolution.metadata),
        }
    }
}

/// Turns an outcome into what a resolve call returns. A value of another
/// type than `T` is a TYPE_MISMATCH; an outcome without a value (a
/// disabled flag, or one without a default variant) is the caller's code
/// default, which open-feature 0.3 cannot express as a resolution (the
/// provider never sees the default), so it becomes the error that
/// [`code_default_reason`] recognises.
pub(crate) fn finish<T: FlagValue>(outcome: Outcome<'_>) -> EvaluationResult<ResolutionDetails<T>> {
    if let Some((code, message)) = outcome.error {
        return Err(EvaluationError {
            code: error_code(code),
            message: Some(message),
        });
    }
    let reason = outcome.reason.unwrap_or("UNKNOWN");
    let Some(json) = outcome.value else {
        return Err(code_default(outcome.key, reason));
    };
    let Some(value) = T::from_json(json) else {
        return Err(EvaluationError {
            code: EvaluationErrorCode::TypeMismatch,
            message: Some(format!(
                "flag {:?} resolved to {json}, not a {}",
                outcome.key,
                T::TYPE.as_str()
            )),
        });
    };
    Ok(ResolutionDetails {
        value,
        variant: outcome.variant.map(str::to_owned),
        reason: Some(reason_from_str(reason)),
        flag_metadata: outcome.metadata.map(metadata),
    })
}

/// The error standing for "use the caller's default": code
/// `General("DISABLED")` or `General("DEFAULT")`, named after the reason.
fn code_default(key: &str, reason: &str) -> EvaluationError {
    EvaluationError {
        code: EvaluationErrorCode::General(reason.to_owned()),
        message: Some(format!(
            "flag {key:?} resolved to the caller's default (reason {reason})"
        )),
    }
}

/// Whether a resolve error means "use the caller's default" rather than a
/// failure: a disabled flag (`Some(Disabled)`) or a flag without a default
/// variant (`Some(Default)`). open-feature 0.3 never passes the default to
/// the provider, so such flags surface as errors with code
/// `General("DISABLED")` / `General("DEFAULT")`; the caller's
/// `unwrap_or(default)` then does the right thing, and this tells the two
/// apart from real failures.
pub fn code_default_reason(error: &EvaluationError) -> Option<EvaluationReason> {
    match &error.code {
        EvaluationErrorCode::General(code) if code == "DISABLED" => {
            Some(EvaluationReason::Disabled)
        }
        EvaluationErrorCode::General(code) if code == "DEFAULT" => Some(EvaluationReason::Default),
        _ => None,
    }
}

/// An OpenFeature error code from its wire name (unknown names become
/// `General` with the name).
pub(crate) fn error_code(code: &str) -> EvaluationErrorCode {
    match code {
        "FLAG_NOT_FOUND" => EvaluationErrorCode::FlagNotFound,
        "TYPE_MISMATCH" => EvaluationErrorCode::TypeMismatch,
        "PARSE_ERROR" => EvaluationErrorCode::ParseError,
        "TARGETING_KEY_MISSING" => EvaluationErrorCode::TargetingKeyMissing,
        "INVALID_CONTEXT" => EvaluationErrorCode::InvalidContext,
        "PROVIDER_NOT_READY" => EvaluationErrorCode::ProviderNotReady,
        other => EvaluationErrorCode::General(other.to_owned()),
    }
}

/// An OpenFeature reason from its wire name.
pub(crate) fn reason_from_str(reason: &str) -> EvaluationReason {
    match reason {
        "STATIC" => EvaluationReason::Static,
        "DEFAULT" => EvaluationReason::Default,
        "TARGETING_MATCH" => EvaluationReason::TargetingMatch,
        "SPLIT" => EvaluationReason::Split,
        "CACHED" => EvaluationReason::Cached,
        "DISABLED" => EvaluationReason::Disabled,
        "UNKNOWN" => EvaluationReason::Unknown,
        "ERROR" => EvaluationReason::Error,
        other => EvaluationReason::Other(other.to_owned()),
    }
}

/// Flag metadata: scalars only, as OpenFeature allows (others are left
/// out).
pub(crate) fn metadata(map: &Map<String, Value>) -> FlagMetadata {
    FlagMetadata {
        values: map
            .iter()
            .filter_map(|(k, v)| {
                let value = match v {
                    Value::Bool(b) => FlagMetadataValue::Bool(*b),
                    Value::Number(n) => match n.as_i64() {
                        Some(i) => FlagMetadataValue::Int(i),
                        None => FlagMetadataValue::Float(n.as_f64()?),
                    },
                    Value::String(s) => FlagMetadataValue::String(s.clone()),
                    _ => return None,
                };
                Some((k.clone(), value))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contexts_become_json() {
        let context = EvaluationContext::default()
            .with_targeting_key("user-1")
            .with_custom_field("admin", true)
            .with_custom_field("age", 36)
            .with_custom_field("ratio", 0.5)
            .with_custom_field("email", "ada@example.com")
            .with_custom_field(
                "since",
                time::OffsetDateTime::from_unix_timestamp(1_709_209_800).expect("a valid time"),
            )
            .with_custom_field(
                "address",
                EvaluationContextFieldValue::new_struct(json!({"city": "London"})),
            )
            .with_custom_field(
                "prefs",
                EvaluationContextFieldValue::new_struct(
                    StructValue::default().with_field("theme", "dark"),
                ),
            );
        assert_eq!(
            Value::Object(context_to_json(&context).expect("converts")),
            json!({
                "targetingKey": "user-1", "admin": true, "age": 36, "ratio": 0.5,
                "email": "ada@example.com", "since": "2024-02-29T12:30:00Z",
                "address": {"city": "London"}, "prefs": {"theme": "dark"}
            })
        );
    }

    #[test]
    fn unreadable_contexts_are_invalid() {
        let context = EvaluationContext::default()
            .with_custom_field("opaque", EvaluationContextFieldValue::new_struct(42_u8));
        let error = EvaluationError::from(context_to_json(&context).expect_err("refused"));
        assert_eq!(error.code, EvaluationErrorCode::InvalidContext);
        let context = EvaluationContext::default().with_custom_field("nan", f64::NAN);
        assert_eq!(
            context_to_json(&context),
            Err(ContextError::NonFiniteNumber { key: "nan".into() })
        );
    }

    #[test]
    fn json_becomes_values_without_nulls() {
        assert_eq!(
            value_from_json(&json!({"a": 1, "b": [1.5, null, "x"], "c": null, "d": {"e": false}})),
            Some(open_feature::Value::Struct(
                StructValue::default()
                    .with_field("a", 1)
                    .with_field(
                        "b",
                        open_feature::Value::Array(vec![1.5.into(), "x".into()])
                    )
                    .with_field("d", StructValue::default().with_field("e", false))
            ))
        );
        assert_eq!(value_from_json(&Value::Null), None);
    }

    #[track_caller]
    fn check_int(json: Value, expect: Option<i64>) {
        assert_eq!(i64::from_json(&json), expect);
    }

    #[test]
    fn integers_accept_whole_numbers_only() {
        check_int(json!(10), Some(10));
        check_int(json!(10.0), Some(10));
        check_int(json!(9.5), None);
        check_int(json!(1e300), None);
        check_int(json!("10"), None);
    }

    #[test]
    fn outcomes_map_to_resolutions_and_errors() {
        let meta = json!({"team": "checkout", "rank": 2, "weight": 0.5, "nested": {}});
        let Value::Object(meta) = meta else {
            unreachable!()
        };
        let value = json!("blue");
        let ok = finish::<String>(Outcome {
            key: "color",
            value: Some(&value),
            variant: Some("blue"),
            reason: Some("TARGETING_MATCH"),
            error: None,
            metadata: Some(&meta),
        })
        .expect("resolves");
        assert_eq!(ok.value, "blue");
        assert_eq!(ok.variant.as_deref(), Some("blue"));
        assert_eq!(ok.reason, Some(EvaluationReason::TargetingMatch));
        assert_eq!(
            ok.flag_metadata,
            Some(
                FlagMetadata::default()
                    .with_value("team", "checkout")
                    .with_value("rank", 2)
                    .with_value("weight", 0.5)
            )
        );

        let mismatch = finish::<bool>(Outcome {
            key: "color",
            value: Some(&value),
            variant: Some("blue"),
            reason: Some("STATIC"),
            error: None,
            metadata: None,
        })
        .expect_err("a string is not a bool");
        assert_eq!(mismatch.code, EvaluationErrorCode::TypeMismatch);

        let disabled = finish::<bool>(Outcome {
            key: "retired",
            value: None,
            variant: None,
            reason: Some("DISABLED"),
            error: None,
            metadata: None,
        })
        .expect_err("the caller's default");
        assert_eq!(
            code_default_reason(&disabled),
            Some(EvaluationReason::Disabled)
        );

        let parse = finish::<bool>(Outcome {
            key: "broken",
            value: None,
            variant: None,
            reason: Some("ERROR"),
            error: Some(("PARSE_ERROR", "bad".into())),
            metadata: None,
        })
        .expect_err("an error");
        assert_eq!(parse.code, EvaluationErrorCode::ParseError);
        assert_eq!(code_default_reason(&parse), None);
    }
}
