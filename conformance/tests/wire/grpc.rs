//! flagd's evaluation gRPC on the wire, versions 1 and 2: raw calls through
//! the clients generated from Ensign's own protos (`provider::proto`), the
//! typed `Resolve*` method the step's type asks for, the context sent as it
//! is, and a strict reading of every field of the response.
//!
//! An answer becomes evaluation details as `@openfeature/flagd-provider`
//! (js-sdk-contrib, `libs/providers/flagd/src/lib/service/grpc/
//! grpc-service.ts`, which speaks evaluation v2) makes them:
//!
//! - a failed call's status is its error code (`onRejected`, see
//!   [`error_code`]), with the caller's default, reason `ERROR` and no
//!   metadata, as the OpenFeature SDK reports any error;
//! - an answer with no variant and reason `DEFAULT` or `DISABLED` means "the
//!   caller's default" (`resolve`).
//!
//! What the server must send follows flagd's Go service
//! (`flagd/pkg/service/flag-evaluation`) and the published schemas
//! (`flagd-schemas`, `protobuf/flagd/evaluation`):
//!
//! - both versions report a failed evaluation as a status (`errFormat`),
//!   never as an answer;
//! - v1 always carries a typed value: for a disabled flag its type's proto3
//!   zero value and an empty variant, which is checked;
//! - v2 leaves value and variant unset for a disabled flag and for one
//!   without a default variant (`resolveV2`: reason `DISABLED`, or `DEFAULT`
//!   for flagd's internal `FALLBACK`), and sets both otherwise, which is
//!   checked.

use std::net::SocketAddr;

use anyhow::{Context as _, bail, ensure};
use prost_types::value::Kind;
use prost_types::{ListValue, Struct};
use serde_json::{Map, Number, Value};
use tonic::transport::Channel;
use tonic::{Code, Status};

use conformance::typed::ValueType;
use provider::proto::evaluation::{v1, v2};

use crate::outcome::{FlagRequest, Outcome};

/// Reasons a successful answer may carry: OpenFeature's, without `ERROR`
/// (a failure is a status) and `CACHED` (the server keeps no cache).
const SUCCESS_REASONS: [&str; 6] = [
    "STATIC",
    "TARGETING_MATCH",
    "SPLIT",
    "DISABLED",
    "UNKNOWN",
    "DEFAULT",
];

/// Which evaluation protocol a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `flagd.evaluation.v1.Service`.
    V1,
    /// `flagd.evaluation.v2.Service`.
    V2,
}

/// A raw gRPC client for one server's evaluation port.
#[derive(Debug, Clone)]
pub struct GrpcClient {
    version: Version,
    channel: Channel,
}

/// One response, whatever its type and version.
#[derive(Debug)]
struct Answer {
    /// The value as JSON; `None` when the response carries none.
    value: Option<Value>,
    /// Whether the value is its type's proto3 zero value.
    zero: bool,
    /// The variant: v1's string (empty when none), v2's optional string.
    variant: Option<String>,
    reason: String,
    metadata: Option<Struct>,
}

impl GrpcClient {
    /// Connects to the evaluation service at `addr`.
    pub async fn connect(version: Version, addr: SocketAddr) -> anyhow::Result<GrpcClient> {
        let channel = Channel::from_shared(format!("http://{addr}"))?
            .connect()
            .await
            .with_context(|| format!("connecting to the evaluation service at {addr}"))?;
        Ok(GrpcClient { version, channel })
    }

    /// Evaluates one flag with the typed method its type asks for and reads
    /// the response. A response that breaks the protocol is an error; a flag
    /// that fails to evaluate is not.
    pub async fn evaluate(
        &self,
        flag: &FlagRequest,
        context: &Map<String, Value>,
    ) -> anyhow::Result<Outcome> {
        let context = to_struct(context);
        let method = format!("{:?} Resolve{}", self.version, flag.ty);
        let answer = match self.version {
            Version::V1 => self.call_v1(flag, context.clone()).await,
            Version::V2 => self.call_v2(flag, context.clone()).await,
        };
        let exchange = format!(
            "{method}({:?}, {}) -> {answer:?}",
            flag.key,
            Value::Object(struct_json(&context))
        );
        let outcome = match answer {
            Ok(answer) => read(self.version, flag, answer, exchange.clone()),
            Err(status) => match error_code(status.code()) {
                Some(code) => Ok(Outcome::error(
                    flag,
                    code,
                    status.message().to_owned(),
                    Map::new(),
                    exchange.clone(),
                )),
                None => Err(anyhow::anyhow!("the call failed: {status}")),
            },
        };
        // The cause first, then what crossed the wire.
        outcome.map_err(|e| anyhow::anyhow!("{e:#}; {exchange}"))
    }

    async fn call_v1(&self, flag: &FlagRequest, context: Struct) -> Result<Answer, Status> {
        use v1::service_client::ServiceClient;
        let mut client = ServiceClient::new(self.channel.clone());
        let flag_key = flag.key.clone();
        let context = Some(context);
        let variant = |v: String| Some(v).filter(|v| !v.is_empty());
        Ok(match flag.ty {
            ValueType::Boolean => {
                let r = client
                    .resolve_boolean(v1::ResolveBooleanRequest { flag_key, context })
                    .await?
                    .into_inner();
                Answer {
                    zero: !r.value,
                    value: Some(Value::Bool(r.value)),
                    variant: variant(r.variant),
                    reason: r.reason,
                    metadata: r.metadata,
                }
            }
            ValueType::String => {
                let r = client
                    .resolve_string(v1::ResolveStringRequest { flag_key, context })
                    .await?
                    .into_inner();
                Answer {
                    zero: r.value.is_empty(),
                    value: Some(Value::String(r.value)),
                    variant: variant(r.variant),
                    reason: r.reason,
                    metadata: r.metadata,
                }
            }
            ValueType::Integer => {
                let r = client
                    .resolve_int(v1::ResolveIntRequest { flag_key, context })
                    .await?
                    .into_inner();
                Answer {
                    zero: r.value == 0,
                    value: Some(Value::from(r.value)),
                    variant: variant(r.variant),
                    reason: r.reason,
                    metadata: r.metadata,
                }
            }
            ValueType::Float => {
                let r = client
                    .resolve_float(v1::ResolveFloatRequest { flag_key, context })
                    .await?
                    .into_inner();
                Answer {
                    zero: r.value == 0.0,
                    value: Some(Number::from_f64(r.value).map_or(Value::Null, Value::Number)),
                    variant: variant(r.variant),
                    reason: r.reason,
                    metadata: r.metadata,
                }
            }
            ValueType::Object => {
                let r = client
                    .resolve_object(v1::ResolveObjectRequest { flag_key, context })
                    .await?
                    .into_inner();
                Answer {
                    zero: r.value.as_ref().is_some_and(|s| s.fields.is_empty()),
                    value: r.value.map(|s| Value::Object(struct_json(&s))),
                    variant: variant(r.variant),
                    reason: r.reason,
                    metadata: r.metadata,
                }
            }
        })
    }

    async fn call_v2(&self, flag: &FlagRequest, context: Struct) -> Result<Answer, Status> {
        use v2::service_client::ServiceClient;
        let mut client = ServiceClient::new(self.channel.clone());
        let flag_key = flag.key.clone();
        let context = Some(context);
        // v2 has no zero values: an unset value is absent.
        let zero = false;
        Ok(match flag.ty {
            ValueType::Boolean => {
                let r = client
                    .resolve_boolean(v2::ResolveBooleanRequest { flag_key, context })
                    .await?
                    .into_inner();
                Answer {
                    value: r.value.map(Value::Bool),
                    zero,
                    variant: r.variant,
                    reason: r.reason,
                    metadata: r.metadata,
                }
            }
            ValueType::String => {
                let r = client
                    .resolve_string(v2::ResolveStringRequest { flag_key, context })
                    .await?
                    .into_inner();
                Answer {
                    value: r.value.map(Value::String),
                    zero,
                    variant: r.variant,
                    reason: r.reason,
                    metadata: r.metadata,
                }
            }
            ValueType::Integer => {
                let r = client
                    .resolve_int(v2::ResolveIntRequest { flag_key, context })
                    .await?
                    .into_inner();
                Answer {
                    value: r.value.map(Value::from),
                    zero,
                    variant: r.variant,
                    reason: r.reason,
                    metadata: r.metadata,
                }
            }
            ValueType::Float => {
                let r = client
                    .resolve_float(v2::ResolveFloatRequest { flag_key, context })
                    .await?
                    .into_inner();
                Answer {
                    value: r
                        .value
                        .map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
                    zero,
                    variant: r.variant,
                    reason: r.reason,
                    metadata: r.metadata,
                }
            }
            ValueType::Object => {
                let r = client
                    .resolve_object(v2::ResolveObjectRequest { flag_key, context })
                    .await?
                    .into_inner();
                Answer {
                    value: r.value.map(|s| Value::Object(struct_json(&s))),
                    zero,
                    variant: r.variant,
                    reason: r.reason,
                    metadata: r.metadata,
                }
            }
        })
    }
}

/// The OpenFeature error code of a failed call, as
/// `@openfeature/flagd-provider` reads the status (`onRejected`):
/// `DATA_LOSS` → PARSE_ERROR, `INVALID_ARGUMENT` → TYPE_MISMATCH,
/// `NOT_FOUND` → FLAG_NOT_FOUND, anything else GENERAL. It reads
/// `UNAVAILABLE` as FLAG_NOT_FOUND too; that status means the server could
/// not be reached, which no evaluation answers with, so here it fails the
/// run (`None`) rather than let an unreachable server pass a scenario.
fn error_code(code: Code) -> Option<&'static str> {
    match code {
        Code::DataLoss => Some("PARSE_ERROR"),
        Code::InvalidArgument => Some("TYPE_MISMATCH"),
        Code::NotFound => Some("FLAG_NOT_FOUND"),
        Code::Unavailable => None,
        _ => Some("GENERAL"),
    }
}

/// Reads one successful response into evaluation details.
fn read(
    version: Version,
    flag: &FlagRequest,
    answer: Answer,
    exchange: String,
) -> anyhow::Result<Outcome> {
    let reason = answer.reason;
    ensure!(
        SUCCESS_REASONS.contains(&reason.as_str()),
        "reason {reason:?} is not a success reason"
    );
    let metadata = match answer.metadata {
        None => Map::new(),
        Some(metadata) => {
            let metadata = struct_json(&metadata);
            ensure!(
                metadata
                    .values()
                    .all(|v| v.is_boolean() || v.is_string() || v.is_number()),
                "metadata values must be booleans, strings or numbers"
            );
            metadata
        }
    };
    // The JavaScript provider's test for "the caller's default".
    let code_default = answer.variant.as_deref().is_none_or(str::is_empty)
        && matches!(reason.as_str(), "DEFAULT" | "DISABLED");
    let value = if code_default {
        match version {
            Version::V1 => ensure!(
                answer.zero,
                "a v1 answer without a variant must carry its type's zero value, not {:?}",
                answer.value
            ),
            Version::V2 => ensure!(
                answer.value.is_none(),
                "a v2 answer without a variant must carry no value, not {:?}",
                answer.value
            ),
        }
        flag.fallback.clone()
    } else {
        match answer.value {
            Some(Value::Null) => bail!("the value is not a finite number"),
            Some(value) => value,
            None => bail!("the answer carries no value, with reason {reason}"),
        }
    };
    if version == Version::V2 {
        ensure!(
            answer.variant.as_deref() != Some(""),
            "a v2 answer sets its variant to the empty string"
        );
    }
    Ok(Outcome {
        value,
        variant: answer.variant.filter(|v| !v.is_empty()),
        reason: Some(reason),
        error: None,
        metadata,
        exchange,
    })
}

/// A JSON object as a protobuf `Struct`; numbers become doubles, the only
/// number type `Struct` has.
fn to_struct(map: &Map<String, Value>) -> Struct {
    Struct {
        fields: map
            .iter()
            .map(|(key, value)| (key.clone(), to_value(value)))
            .collect(),
    }
}

fn to_value(value: &Value) -> prost_types::Value {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(to_value).collect(),
        }),
        Value::Object(map) => Kind::StructValue(to_struct(map)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// A protobuf `Struct` as a JSON object. A double that JSON cannot hold
/// (NaN, ±infinity) becomes `null`.
fn struct_json(s: &Struct) -> Map<String, Value> {
    s.fields
        .iter()
        .map(|(key, value)| (key.clone(), json(value)))
        .collect()
}

fn json(value: &prost_types::Value) -> Value {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(n)) => Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::ListValue(list)) => Value::Array(list.values.iter().map(json).collect()),
        Some(Kind::StructValue(s)) => Value::Object(struct_json(s)),
    }
}
