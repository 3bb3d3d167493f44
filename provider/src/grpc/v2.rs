//! `flagd.evaluation.v2.Service`: values and variants are optional. A
//! disabled flag answers with reason DISABLED and no value, a flag without a
//! default variant with reason DEFAULT and no value; the client then uses
//! its own default. Errors are statuses, as in v1.

use std::sync::Arc;

use prost_types::Struct;
use serde_json::Value;
use tonic::{Request, Response, Status};

use engine::{FlagType, Reason};

use crate::grpc::evaluation::{self, Outcome, typed};
use crate::grpc::events::{self, EventStream};
use crate::grpc::{GrpcError, selector};
use crate::proto::evaluation::v2::service_server::Service;
use crate::proto::evaluation::v2::{
    EventStreamRequest, EventStreamResponse, ResolveBooleanRequest, ResolveBooleanResponse,
    ResolveFloatRequest, ResolveFloatResponse, ResolveIntRequest, ResolveIntResponse,
    ResolveObjectRequest, ResolveObjectResponse, ResolveStringRequest, ResolveStringResponse,
};
use crate::server::Flags;
use crate::server::admission::{Admission, Grant};

/// The v2 evaluation service.
#[derive(Debug)]
pub(crate) struct EvaluationV2 {
    flags: Arc<Flags>,
    admission: Admission,
}

impl EvaluationV2 {
    pub(crate) fn new(flags: Arc<Flags>, admission: Admission) -> Self {
        EvaluationV2 { flags, admission }
    }

    /// Admits a call through the server's one admission path.
    fn scope<T>(&self, request: &Request<T>) -> Result<Grant, GrpcError> {
        selector::scope(&self.flags, &self.admission, request)
    }
}

/// The parts every v2 single-flag response has.
struct Answer<T> {
    value: Option<T>,
    variant: Option<String>,
    reason: String,
    metadata: Option<Struct>,
}

/// Evaluates one flag and shapes the outcome as v2 does.
fn answer<T>(
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
        } => (
            Some(convert(&value)),
            Some(variant).filter(|v| !v.is_empty()),
            reason,
        ),
        Outcome::Disabled => (None, None, Reason::Disabled),
        Outcome::Fallback => (None, None, Reason::Default),
    };
    Ok(Answer {
        value,
        variant,
        reason: reason.as_str().into(),
        metadata: Some(resolved.metadata),
    })
}

#[tonic::async_trait]
impl Service for EvaluationV2 {
    type EventStreamStream = EventStream<EventStreamResponse>;

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
        let a = answer(
            &self.flags,
            scope,
            &body.flag_key,
            body.context,
            FlagType::Object,
            typed::object,
        )?;
        Ok(Response::new(ResolveObjectResponse {
            value: a.value,
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
