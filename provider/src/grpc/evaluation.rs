//! One flag evaluation as both protocol versions share it: selector and
//! context from the request, static context merged in, the engine's
//! resolution checked against the requested type and counted; then each
//! version shapes the outcome.

use std::time::Instant;

use prost_types::Struct;
use serde_json::{Map, Value};

use engine::{FlagType, Reason, Selector, Snapshot};

use crate::grpc::value::{to_json, to_struct};
use crate::grpc::{GrpcError, selector};
use crate::server::Flags;
use crate::server::admission::Grant;
use crate::server::exposures::{self, Surface};

/// A successful evaluation.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// What was chosen.
    pub outcome: Outcome,
    /// Flag metadata (the flag set's, overridden by the flag's), over the
    /// selector's.
    pub metadata: Struct,
}

/// What an evaluation chose.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A value of the requested type.
    Value {
        /// The value.
        value: Value,
        /// The variant's name.
        variant: String,
        /// Why it was chosen.
        reason: Reason,
    },
    /// The flag is disabled: the caller's default.
    Disabled,
    /// The flag has no default variant and none was chosen: the caller's
    /// default (flagd's internal FALLBACK reason).
    Fallback,
}

/// Evaluates `key` for an admitted request with `context`, expecting
/// `flag_type`.
pub(crate) fn resolve(
    flags: &Flags,
    scope: Grant,
    key: &str,
    context: Option<Struct>,
    flag_type: FlagType,
) -> Result<Resolved, GrpcError> {
    if !scope.allows(key) {
        // A client key sees only client-visible flags.
        return Err(GrpcError::FlagNotFound {
            key: key.to_owned(),
        });
    }
    let selector = scope.selector;
    let context = request_context(flags, context)?;
    let snapshot = flags.snapshot();
    let started = Instant::now();
    let resolution = snapshot
        .evaluate(key, &selector, &context)
        .expect_type(flag_type);
    flags.metrics().evaluation(
        flag_set_id(&snapshot, key, &selector),
        resolution.reason,
        resolution.error_code(),
        started.elapsed(),
    );
    if let Some(set) = snapshot.flag_set_for(key, &selector) {
        flags.observe(
            set,
            &resolution,
            || exposures::targeting_key_of(&context),
            Surface::Grpc,
        );
    }
    if let Some(error) = resolution.error {
        return Err(GrpcError::evaluation(key, error));
    }
    let outcome = match (resolution.value, resolution.reason) {
        (Some(value), reason) => Outcome::Value {
            value: value.clone(),
            variant: resolution.variant.unwrap_or_default().to_owned(),
            reason,
        },
        (None, Reason::Disabled) => Outcome::Disabled,
        (None, _) => Outcome::Fallback,
    };
    Ok(Resolved {
        outcome,
        metadata: metadata(&selector, resolution.metadata),
    })
}

/// The request's context with the static context merged over it, as a JSON
/// object; refused when it nests deeper than any data Ensign reads.
pub(crate) fn request_context(flags: &Flags, context: Option<Struct>) -> Result<Value, GrpcError> {
    let mut map = context
        .map(to_json)
        .transpose()
        .map_err(|too_deep| GrpcError::InvalidContext {
            detail: too_deep.to_string(),
        })?
        .unwrap_or_default();
    flags.enrich(&mut map);
    Ok(Value::Object(map))
}

/// Evaluation metadata as flagd builds it: the selector's metadata, then the
/// flag's over it.
pub(crate) fn metadata(selector: &Selector, flag: &Map<String, Value>) -> Struct {
    let mut map = selector::metadata(selector);
    for (key, value) in flag {
        map.insert(key.clone(), value.clone());
    }
    to_struct(&map)
}

/// The id of the flag set serving `key`, for metrics ("" when none does).
fn flag_set_id<'s>(snapshot: &'s Snapshot, key: &str, selector: &Selector) -> &'s str {
    snapshot
        .flag_set_for(key, selector)
        .map_or("", |set| set.id())
}

/// Typed values of a resolved flag. The resolution was checked against the
/// type asked for, so the fallbacks here are never taken.
pub(crate) mod typed {
    use prost_types::Struct;
    use serde_json::Value;

    use crate::grpc::value::to_struct;

    pub(crate) fn boolean(value: &Value) -> bool {
        value.as_bool().unwrap_or_default()
    }

    pub(crate) fn string(value: &Value) -> String {
        value.as_str().unwrap_or_default().to_owned()
    }

    /// flagd reads every number as a double and truncates it to an integer.
    pub(crate) fn integer(value: &Value) -> i64 {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "truncation toward zero (saturating) is flagd's conversion"
        )]
        value
            .as_i64()
            .unwrap_or_else(|| value.as_f64().unwrap_or_default() as i64)
    }

    pub(crate) fn float(value: &Value) -> f64 {
        value.as_f64().unwrap_or_default()
    }

    pub(crate) fn object(value: &Value) -> Struct {
        value.as_object().map(to_struct).unwrap_or_default()
    }
}
