//! Evaluation through the OpenFeature Rust SDK and a provider from
//! crates.io: `open-feature-flagd` (RPC or in-process) or
//! `open-feature-ofrep`. Each provider is registered under its own name,
//! and the SDK's client does the evaluation (OpenFeature spec 1.1.3: named
//! providers; 1.4.10: an error yields the default value).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue, EvaluationDetails, EvaluationError,
    EvaluationErrorCode, FlagMetadata, FlagMetadataValue, OpenFeature, StructValue,
};
use open_feature_flagd::{FlagdOptions, FlagdProvider, ResolverType};
use open_feature_ofrep::{OfrepOptions, OfrepProvider};
use serde_json::{Map, Number, Value};

use conformance::typed::ValueType;

use crate::outcome::{FlagRequest, Outcome};

/// Which crates.io provider a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// `open-feature-flagd` evaluating on the server over gRPC.
    FlagdRpc,
    /// `open-feature-flagd` syncing flags and evaluating them itself.
    FlagdInProcess,
    /// `open-feature-ofrep` over HTTP.
    Ofrep,
    /// Ensign's own provider syncing flags and evaluating them with the
    /// engine.
    EnsignInProcess,
    /// Ensign's own provider asking OFREP per evaluation.
    EnsignRemote,
}

/// An SDK client bound to one provider for one server.
pub struct SdkClient {
    client: open_feature::Client,
    kind: ProviderKind,
}

impl std::fmt::Debug for SdkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdkClient")
            .field("client", &self.client.metadata().name)
            .field("kind", &self.kind)
            .finish()
    }
}

impl SdkClient {
    /// Builds the provider for `addr` and registers it as `name`.
    pub async fn connect(
        kind: ProviderKind,
        addr: SocketAddr,
        fractional: engine::FractionalVersion,
        name: &str,
    ) -> anyhow::Result<Self> {
        let mut api = OpenFeature::singleton_mut().await;
        match kind {
            ProviderKind::EnsignInProcess => {
                let provider = provider::client::InProcessProvider::builder(addr.to_string())
                    // The server-wide default travels with no payload; the
                    // client is told the server's, as a deployment would be.
                    .fractional(fractional)
                    .build()
                    .with_context(|| format!("building Ensign's in-process provider for {addr}"))?;
                api.set_named_provider(name, provider).await;
            }
            ProviderKind::EnsignRemote => {
                let provider = provider::client::RemoteProvider::builder(format!("http://{addr}"))
                    .build()
                    .with_context(|| format!("building Ensign's remote provider for {addr}"))?;
                api.set_named_provider(name, provider).await;
            }
            ProviderKind::FlagdRpc | ProviderKind::FlagdInProcess => {
                let resolver_type = match kind {
                    ProviderKind::FlagdRpc => ResolverType::Rpc,
                    _ => ResolverType::InProcess,
                };
                let provider = FlagdProvider::new(flagd_options(resolver_type, addr))
                    .await
                    .map_err(|e| anyhow!("{e}"))
                    .with_context(|| format!("connecting open-feature-flagd to {addr}"))?;
                api.set_named_provider(name, provider).await;
            }
            ProviderKind::Ofrep => {
                let provider = OfrepProvider::new(OfrepOptions {
                    base_url: format!("http://{addr}"),
                    ..OfrepOptions::default()
                })
                .await
                .map_err(|e| anyhow!("{e}"))
                .context("building open-feature-ofrep")?;
                api.set_named_provider(name, provider).await;
            }
        }
        Ok(SdkClient {
            client: api.create_named_client(name),
            kind,
        })
    }

    /// Evaluates one flag with the typed detail method the step asks for.
    pub async fn evaluate(
        &self,
        flag: &FlagRequest,
        context: &Map<String, Value>,
    ) -> anyhow::Result<Outcome> {
        let context = evaluation_context(context);
        let key = flag.key.as_str();
        let c = &self.client;
        let result = match flag.ty {
            ValueType::Boolean => map(
                c.get_bool_details(key, Some(&context), None).await,
                Value::Bool,
            ),
            ValueType::String => map(
                c.get_string_details(key, Some(&context), None).await,
                Value::String,
            ),
            ValueType::Integer => map(
                c.get_int_details(key, Some(&context), None).await,
                Value::from,
            ),
            ValueType::Float => map(c.get_float_details(key, Some(&context), None).await, |f| {
                Number::from_f64(f).map_or(Value::Null, Value::Number)
            }),
            ValueType::Object => map(
                c.get_struct_details::<StructValue>(key, Some(&context), None)
                    .await,
                |s| struct_json(&s),
            ),
        };
        let exchange = format!("{:?} provider returned {result:?}", self.kind);
        Ok(match result {
            Ok(details) => Outcome {
                value: details.value,
                // flagd's gRPC responses are proto3: an absent variant
                // arrives as the empty string.
                variant: details.variant.filter(|v| !v.is_empty()),
                reason: details.reason.map(|r| r.to_string()),
                error: None,
                metadata: metadata_json(&details.flag_metadata),
                exchange,
            },
            // Ensign's provider answers "use the code default" as an error
            // carrying the reason (open-feature 0.3 gives a provider no
            // default to return); the SDK then applies the fallback, as it
            // would for any error, and the application sees that reason.
            Err(error) if provider::client::code_default_reason(&error).is_some() => Outcome {
                value: flag.fallback.clone(),
                variant: None,
                reason: provider::client::code_default_reason(&error).map(|r| r.to_string()),
                error: None,
                metadata: Map::new(),
                exchange,
            },
            Err(EvaluationError { code, message }) => Outcome::error(
                flag,
                &code_name(&code),
                message.unwrap_or_default(),
                Map::new(),
                exchange,
            ),
        })
    }
}

/// Options for a flagd provider, written out in full: `FlagdOptions::default`
/// reads `FLAGD_*` environment variables, which must not leak into the run.
fn flagd_options(resolver_type: ResolverType, addr: SocketAddr) -> FlagdOptions {
    FlagdOptions {
        host: addr.ip().to_string(),
        port: addr.port(),
        target_uri: None,
        resolver_type,
        tls: false,
        cert_path: None,
        deadline_ms: 5_000,
        // No cache: a cached answer reports reason CACHED, and the testbed's
        // targeting suite asks for `cache = disabled` anyway.
        cache_settings: None,
        retry_backoff_ms: 100,
        retry_backoff_max_ms: 1_000,
        retry_grace_period: 5,
        selector: None,
        socket_path: None,
        source_configuration: None,
        stream_deadline_ms: 0,
        keep_alive_time_ms: 0,
        offline_poll_interval_ms: None,
        provider_id: None,
    }
}

fn map<T>(
    result: Result<EvaluationDetails<T>, EvaluationError>,
    to_json: impl Fn(T) -> Value,
) -> Result<EvaluationDetails<Value>, EvaluationError> {
    result.map(|d| EvaluationDetails {
        flag_key: d.flag_key,
        value: to_json(d.value),
        reason: d.reason,
        variant: d.variant,
        flag_metadata: d.flag_metadata,
    })
}

/// The spec's name of an error code (`General` displays its message).
fn code_name(code: &EvaluationErrorCode) -> String {
    match code {
        EvaluationErrorCode::General(_) => "GENERAL".to_owned(),
        other => other.to_string(),
    }
}

/// The step's JSON context as an SDK evaluation context. Objects and arrays
/// become opaque struct fields, the only nesting the SDK's context offers
/// (`EvaluationContextFieldValue::Struct` holds an `Arc<dyn Any>`); a JSON
/// null has no counterpart and is left out.
fn evaluation_context(context: &Map<String, Value>) -> EvaluationContext {
    let mut out = EvaluationContext::default();
    for (key, value) in context {
        let field = match value {
            Value::String(s) if key == "targetingKey" => {
                out.targeting_key = Some(s.clone());
                continue;
            }
            Value::Null => continue,
            Value::Bool(b) => EvaluationContextFieldValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => EvaluationContextFieldValue::Int(i),
                None => EvaluationContextFieldValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => EvaluationContextFieldValue::String(s.clone()),
            Value::Array(_) | Value::Object(_) => {
                EvaluationContextFieldValue::Struct(Arc::new(value.clone()))
            }
        };
        out.custom_fields.insert(key.clone(), field);
    }
    out
}

fn struct_json(value: &StructValue) -> Value {
    Value::Object(
        value
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), value_json(v)))
            .collect(),
    )
}

fn value_json(value: &open_feature::Value) -> Value {
    match value {
        open_feature::Value::Bool(b) => Value::Bool(*b),
        open_feature::Value::Int(i) => Value::from(*i),
        open_feature::Value::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        open_feature::Value::String(s) => Value::String(s.clone()),
        open_feature::Value::Array(items) => Value::Array(items.iter().map(value_json).collect()),
        open_feature::Value::Struct(s) => struct_json(s),
    }
}

fn metadata_json(metadata: &FlagMetadata) -> Map<String, Value> {
    let values: &HashMap<String, FlagMetadataValue> = &metadata.values;
    values
        .iter()
        .map(|(k, v)| {
            let json = match v {
                FlagMetadataValue::Bool(b) => Value::Bool(*b),
                FlagMetadataValue::Int(i) => Value::from(*i),
                FlagMetadataValue::Float(f) => {
                    Number::from_f64(*f).map_or(Value::Null, Value::Number)
                }
                FlagMetadataValue::String(s) => Value::String(s.clone()),
            };
            (k.clone(), json)
        })
        .collect()
}
