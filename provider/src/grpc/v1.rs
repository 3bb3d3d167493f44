//! `flagd.evaluation.v1.Service`: every response carries a typed value. A
//! disabled flag answers with its type's zero value and reason DISABLED; a
//! flag without a default variant is FLAG_NOT_FOUND (flagd's "old proto
//! version behavior").

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use prost_types::Struct;
use serde_json::Value;
use tonic::{Request, Response, Status};

use engine::{FlagType, Reason};

use crate::grpc::evaluation::{self, Outcome, typed};
use crate::grpc::events::{self, EventStream};
use crate::grpc::value::to_struct;
use crate::grpc::{GrpcError, selector};
use crate::proto::evaluation::v1::service_server::Service;
use crate::proto::evaluation::v1::{
    AnyFlag, EventStreamRequest, EventStreamResponse, ResolveAllRequest, ResolveAllResponse,
    ResolveBooleanRequest, ResolveBooleanResponse, ResolveFloatRequest, ResolveFloatResponse,
    ResolveIntRequest, ResolveIntResponse, ResolveObjectRequest, ResolveObjectResponse,
    ResolveStringRequest, ResolveStringResponse, any_flag,
};
use crate::server::Flags;
use crate::server::admission::{Admission, Grant};
use crate::server::exposures::{self, Surface};

/// The v1 evaluation service.
#[derive(Debug)]
pub(crate) struct EvaluationV1 {
    flags: Arc<Flags>,
    admission: Admission,
}

impl EvaluationV1 {
    pub(crate) fn new(flags: Arc<Flags>, admission: Admission) -> Self {
        EvaluationV1 { flags, admission }
    }

    /// Admits a call through the server's one admission path.
    fn scope<T>(&self, request: &Request<T>) -> Result<Grant, GrpcError> {
        selector::scope(&self.flags, &self.admission, request)
    }
}

/// The parts every v1 single-flag response has.
struct Answer<T> {
    value: T,
    variant: String,
    reason: String,
    metadata: Option<Struct>,
}

/// Evaluates one flag and shapes the outcome as v1 does.
fn answer<T: Default>(
    flags: &Flags,
    scope: Grant,
    key: &str,
    context: Option<Struct>,
    flag_type: FlagType,
    convert: fn(&Value) -> T,
) -> Result<Answer<T>, GrpcError> {
    let resolved = evaluation::resolve(flags, scope, key, context, flag_type)?;
    let (value, variant, reason) = match resolved.outcome {
        Outcome::Value {
            value,
            variant,
            reason,
        } => (convert(&value), variant, reason),
        Outcome::Disabled => (T::default(), String::new(), Reason::Disabled),
        Outcome::Fallback => return Err(GrpcError::NoDefaultVariant { key: key.into() }),
    };
    Ok(Answer {
        value,
        variant,
        reason: reason.as_str().into(),
        metadata: Some(resolved.metadata),
    })
}

#[tonic::async_trait]
impl Service for EvaluationV1 {
    type EventStreamStream = EventStream<EventStreamResponse>;

    async fn resolve_all(
        &self,
        request: Request<ResolveAllRequest>,
    ) -> Result<Response<ResolveAllResponse>, Status> {
        let scope = self.scope(&request)?;
        let body = request.into_inner();
        Ok(Response::new(resolve_all(
            &self.flags,
            scope,
            body.context,
        )?))
    }

    async fn resolve_boolean(
        &self,
        request: Request<ResolveBooleanRequest>,
    ) -> Result<Response<ResolveBooleanResponse>, Status> {
        let scope = self.scope(&request)?;
        let body = request.into_inner();
        let a = answer(
            &self.flags,
            scope,
            &body.flag_key,
            body.context,
            FlagType::Boolean,
            typed::boolean,
        )?;
        Ok(Response::new(ResolveBooleanResponse {
            value: a.value,
            reason: a.reason,
            variant: a.variant,
            metadata: a.metadata,
        }))
    }

    async fn resolve_string(
        &self,
        request: Request<ResolveStringRequest>,
    ) -> Result<Response<ResolveStringResponse>, Status> {
        let scope = self.scope(&request)?;
        let body = request.into_inner();
        let a = answer(
            &self.flags,
            scope,
            &body.flag_key,
            body.context,
            FlagType::String,
            typed::string,
        )?;
        Ok(Response::new(ResolveStringResponse {
            value: a.value,
            reason: a.reason,
            variant: a.variant,
            metadata: a.metadata,
        }))
    }

    async fn resolve_float(
        &self,
        request: Request<ResolveFloatRequest>,
    ) -> Result<Response<ResolveFloatResponse>, Status> {
        let scope = self.scope(&request)?;
        let body = request.into_inner();
        let a = answer(
            &self.flags,
            scope,
            &body.flag_key,
            body.context,
            FlagType::Float,
            typed::float,
        )?;
        Ok(Response::new(ResolveFloatResponse {
            value: a.value,
            reason: a.reason,
            variant: a.variant,
            metadata: a.metadata,
        }))
    }

    async fn resolve_int(
        &self,
        request: Request<ResolveIntRequest>,
    ) -> Result<Response<ResolveIntResponse>, Status> {
        let scope = self.scope(&request)?;
        let body = request.into_inner();
        let a = answer(
            &self.flags,
            scope,
            &body.flag_key,
            body.context,
            FlagType::Integer,
            typed::integer,
        )?;
        Ok(Response::new(ResolveIntResponse {
            value: a.value,
            reason: a.reason,
            variant: a.variant,
            metadata: a.metadata,
        }))
    }

    async fn resolve_object(
        &self,
        request: Request<ResolveObjectRequest>,
    ) -> Result<Response<ResolveObjectResponse>, Status> {
        let scope = self.scope(&request)?;
        let body = request.into_inner();
        // A disabled object flag answers with an empty object, as flagd's.
        let a = answer(
            &self.flags,
            scope,
            &body.flag_key,
            body.context,
            FlagType::Object,
            typed::object,
        )?;
        Ok(Response::new(ResolveObjectResponse {
            value: Some(a.value),
            reason: a.reason,
            variant: a.variant,
            metadata: a.metadata,
        }))
    }

    async fn event_stream(
        &self,
        request: Request<EventStreamRequest>,
    ) -> Result<Response<Self::EventStreamStream>, Status> {
        let selector = self.scope(&request)?.selector;
        Ok(Response::new(events::follow(
            Arc::clone(&self.flags),
            selector,
        )))
    }
}

/// Evaluates every flag visible under the request's selector, as flagd's v1
/// ResolveAll does: each flag's type is its default variant's; a flag
/// without one (or whose default is not a boolean, string, number or
/// object) is left out; a flag that is disabled or fails is still listed,
/// with its type's zero value and reason DISABLED or ERROR. The response's
/// own metadata is the selector's.
fn resolve_all(
    flags: &Flags,
    scope: Grant,
    context: Option<Struct>,
) -> Result<ResolveAllResponse, GrpcError> {
    let selector = scope.selector.clone();
    let context = evaluation::request_context(flags, context)?;
    let snapshot = flags.snapshot();
    let mut out = HashMap::new();
    for (set, entry) in snapshot.visible(&selector) {
        let key = entry.key();
        if !scope.allows(key) {
            continue;
        }
        let Some(flag_type) = declared_type(entry.definition()) else {
            continue;
        };
        let started = Instant::now();
        let resolution = set
            .evaluate(key, &set.prepare_for(key, &context))
            .expect_type(flag_type);
        flags.metrics().evaluation(
            set.id(),
            resolution.reason,
            resolution.error_code(),
            started.elapsed(),
        );
        flags.observe(
            set,
            &resolution,
            || exposures::targeting_key_of(&context),
            Surface::Grpc,
        );
        let (value, variant, reason) = match resolution.value {
            Some(value) => (
                typed_value(flag_type, value),
                resolution.variant.unwrap_or_default().to_owned(),
                resolution.reason,
            ),
            None => (
                typed_value(flag_type, &zero(flag_type)),
                String::new(),
                match resolution.reason {
                    Reason::Disabled => Reason::Disabled,
                    _ => Reason::Error,
                },
            ),
        };
        out.insert(
            key.to_owned(),
            AnyFlag {
                reason: reason.as_str().into(),
                variant,
                metadata: Some(evaluation::metadata(&selector, resolution.metadata)),
                value: Some(value),
            },
        );
    }
    Ok(ResolveAllResponse {
        flags: out,
        metadata: Some(to_struct(&selector::metadata(&selector))),
    })
}

/// A flag's type as flagd's bulk evaluation infers it: from its default
/// variant's value. An empty `defaultVariant` names none, as in flagd.
fn declared_type(definition: &Value) -> Option<FlagType> {
    let default = definition
        .get("defaultVariant")?
        .as_str()
        .filter(|name| !name.is_empty())?;
    match definition.get("variants")?.get(default)? {
        Value::Bool(_) => Some(FlagType::Boolean),
        Value::String(_) => Some(FlagType::String),
        Value::Number(_) => Some(FlagType::Float),
        Value::Object(_) => Some(FlagType::Object),
        Value::Null | Value::Array(_) => None,
    }
}

/// The zero value of a type.
fn zero(flag_type: FlagType) -> Value {
    match flag_type {
        FlagType::Boolean => Value::Bool(false),
        FlagType::String => Value::String(String::new()),
        FlagType::Integer | FlagType::Float => Value::from(0.0),
        FlagType::Object => Value::Object(serde_json::Map::new()),
    }
}

fn typed_value(flag_type: FlagType, value: &Value) -> any_flag::Value {
    match flag_type {
        FlagType::Boolean => any_flag::Value::BoolValue(typed::boolean(value)),
        FlagType::String => any_flag::Value::StringValue(typed::string(value)),
        FlagType::Integer | FlagType::Float => any_flag::Value::DoubleValue(typed::float(value)),
        FlagType::Object => any_flag::Value::ObjectValue(typed::object(value)),
    }
}
