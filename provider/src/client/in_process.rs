//! The in-process provider: flag definitions synced over flagd's
//! `FlagSyncService/SyncFlags`, evaluated by the embedded engine.
//!
//! Every sync message carries the whole configuration for the selector,
//! which replaces the provider's state: a payload that does not parse
//! changes nothing, and a flag that no longer compiles keeps its last good
//! version, as on the server. A lost stream is re-opened with capped
//! exponential backoff; the last good state is served meanwhile (status
//! STALE).
//!
//! **Invariant:** the provider evaluates as the server that sent the
//! payload would. The sync payload has no top-level metadata; each flag's
//! metadata is merged with its flag set's, so a flag set's
//! `ensign.fractional` arrives on each of its flags. Flags are grouped by
//! that key and each group compiled as a flag set carrying it; flags
//! without it use the server-wide default, which the payload cannot carry:
//! [`InProcessBuilder::fractional`] (default v2, the server's default).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use futures::StreamExt;
use open_feature::provider::{
    FeatureProvider, ProviderMetadata, ProviderStatus, ResolutionDetails,
};
use open_feature::{
    EvaluationContext, EvaluationError, EvaluationErrorCode, EvaluationResult, StructValue,
};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use tokio::sync::broadcast;
use tonic::metadata::MetadataValue;
use tonic::transport::{ClientTlsConfig, Endpoint};

use engine::{
    CompileOptions, FRACTIONAL_VERSION_KEY, FlagSet, FractionalVersion, Selector, Severity,
    Snapshot, SourceState,
};

use crate::client::convert::{self, FlagValue, Outcome};
use crate::client::events::Status;
use crate::client::exposures::{Reporter, ReporterSettings};
use crate::client::tracking::{Target, Tracker, TrackingCounts, TrackingDetails};
use crate::client::{AbortOnDrop, ClientError, ProviderEvent, spawn};
use crate::proto::sync::v1::SyncFlagsRequest;
use crate::proto::sync::v1::flag_sync_service_client::FlagSyncServiceClient;

/// The gRPC metadata key carrying the selector.
const SELECTOR_HEADER: &str = "flagd-selector";
/// Name of the flag set holding flags without `ensign.fractional`.
const DEFAULT_SET: &str = "sync";

/// An OpenFeature provider evaluating in process, fed by flagd sync.
///
/// ```no_run
/// # async fn example() -> Result<(), provider::client::ClientError> {
/// use provider::client::InProcessProvider;
///
/// let provider = InProcessProvider::builder("localhost:8015")
///     .selector("flagSetId=shop")
///     .build()?;
/// let mut events = provider.events();
/// let mut api = open_feature::OpenFeature::default();
/// api.set_provider(provider.clone()).await; // waits for the first state
/// let client = api.create_client();
/// let on = client.get_bool_value("banner", None, None).await.unwrap_or(false);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct InProcessProvider {
    inner: Arc<Inner>,
    metadata: ProviderMetadata,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    init_timeout: Duration,
    reporter: Option<Reporter>,
    tracker: Tracker,
    _sync: AbortOnDrop,
}

/// What the sync task and the resolve calls share.
#[derive(Debug)]
struct Shared {
    loaded: ArcSwapOption<Loaded>,
    status: Status,
}

/// The last good state.
#[derive(Debug)]
struct Loaded {
    snapshot: Snapshot,
    /// The server's static context, merged into every evaluation.
    context: Map<String, Value>,
}

/// Settings of an [`InProcessProvider`].
#[derive(Debug, Clone)]
pub struct InProcessBuilder {
    target: String,
    selector: Option<String>,
    tls: Option<ClientTlsConfig>,
    fractional: FractionalVersion,
    backoff: (Duration, Duration),
    connect_timeout: Duration,
    init_timeout: Duration,
    provider_id: String,
    exposures: Option<ReporterSettings>,
}

impl InProcessProvider {
    /// Settings for a provider syncing from `target`: `host:port` (plain,
    /// or TLS with [`InProcessBuilder::tls`]) or an `http://` / `https://`
    /// URL.
    pub fn builder(target: impl Into<String>) -> InProcessBuilder {
        InProcessBuilder {
            target: target.into(),
            selector: None,
            tls: None,
            fractional: FractionalVersion::default(),
            backoff: (Duration::from_millis(100), Duration::from_secs(10)),
            connect_timeout: Duration::from_secs(5),
            init_timeout: Duration::from_secs(5),
            provider_id: "ensign-rust".to_owned(),
            exposures: None,
        }
    }

    /// Sends the exposures and tracking events queued so far to the node
    /// and waits until they are sent (retries included): for an
    /// application about to exit. Does nothing without
    /// [`InProcessBuilder::report_exposures`].
    pub async fn flush(&self) {
        if let Some(reporter) = &self.inner.reporter {
            reporter.flush().await;
        }
        self.inner.tracker.flush().await;
    }

    /// Tracks an event (OpenFeature's `track`, specification 6.1.1.1 and
    /// 2.7.1): `name` happened for the user of `context`, with optional
    /// `details`. Sent in batches to the node named by
    /// [`InProcessBuilder::report_exposures`] (`POST /ensign/v1/events`,
    /// with its API key and this provider's selector).
    ///
    /// Never waits and never fails: the event is queued, or dropped and
    /// counted (no targeting key, a value that is not finite, a full
    /// queue). Without `report_exposures` the provider knows no node:
    /// tracking is unavailable and every event is counted as dropped. See
    /// [`InProcessProvider::tracking_counts`], and call
    /// [`InProcessProvider::flush`] before the application exits.
    pub fn track(&self, name: &str, context: &EvaluationContext, details: Option<TrackingDetails>) {
        self.inner.tracker.track(name, context, details.as_ref());
    }

    /// What became of the events given to [`InProcessProvider::track`] so
    /// far.
    pub fn tracking_counts(&self) -> TrackingCounts {
        self.inner.tracker.counts()
    }

    /// Exposures the node accepted, and exposures dropped (queue full, or
    /// refused or unreachable node), so far.
    pub fn exposure_counts(&self) -> (u64, u64) {
        self.inner
            .reporter
            .as_ref()
            .map_or((0, 0), Reporter::counts)
    }

    /// Follows the provider's events from now on.
    pub fn events(&self) -> broadcast::Receiver<ProviderEvent> {
        self.inner.shared.status.subscribe()
    }

    async fn resolve<T: FlagValue>(
        &self,
        key: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<T>> {
        let Some(loaded) = self.inner.shared.loaded.load_full() else {
            return Err(EvaluationError {
                code: EvaluationErrorCode::ProviderNotReady,
                message: Some("no flag configuration has been received yet".into()),
            });
        };
        let mut json = convert::context_to_json(context)?;
        // As on the server, a static value wins over the caller's.
        for (k, v) in &loaded.context {
            json.insert(k.clone(), v.clone());
        }
        let json = Value::Object(json);
        let resolution = loaded
            .snapshot
            .evaluate(key, &Selector::All, &json)
            .expect_type(T::TYPE);
        if let Some(reporter) = &self.inner.reporter
            && resolution.experiment.is_some()
            && resolution.bucketed
            && let (Some(variant), Some(Value::String(user))) =
                (resolution.variant, json.get("targetingKey"))
            && !user.is_empty()
        {
            reporter.report(key, variant, user);
        }
        convert::finish(Outcome::from(&resolution))
    }
}

impl InProcessBuilder {
    /// The flagd selector (`flagSetId=ID`, `source=NAME`): sent in the
    /// `flagd-selector` header and the request's (older) selector field.
    pub fn selector(mut self, selector: impl Into<String>) -> Self {
        self.selector = Some(selector.into());
        self
    }

    /// TLS with the web PKI roots (`true`), or plain (`false`).
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls.then(|| ClientTlsConfig::new().with_webpki_roots());
        self
    }

    /// TLS with custom settings (a private CA, a client certificate).
    pub fn tls_config(mut self, config: ClientTlsConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// The server-wide `fractional` bucketing scheme of the server the flags
    /// come from (default v2, Ensign's default). Flag sets that name their
    /// own `ensign.fractional` keep theirs.
    pub fn fractional(mut self, version: FractionalVersion) -> Self {
        self.fractional = version;
        self
    }

    /// First and longest wait between reconnection attempts (default 100 ms
    /// and 10 s); the wait doubles after each failed attempt.
    pub fn backoff(mut self, first: Duration, longest: Duration) -> Self {
        self.backoff = (first, longest.max(first));
        self
    }

    /// How long a connection attempt may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long `initialize` (run by `OpenFeature::set_provider`) waits for
    /// the first state (default 5 s). The SDK holds its provider registry
    /// while it waits; syncing goes on in the background either way.
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.init_timeout = timeout;
        self
    }

    /// Reports exposures (the evaluations a running experiment's split
    /// decides) to the node whose OFREP port is at `base_url`
    /// (`http://host:8016`), with `api_key` if it requires one, at
    /// `POST /ensign/v1/exposures`: in batches, off the evaluation path.
    /// The same node receives [`InProcessProvider::track`]'s events, with
    /// the same key and the provider's selector. Call
    /// [`InProcessProvider::flush`] before the application exits.
    pub fn report_exposures(
        mut self,
        base_url: impl Into<String>,
        api_key: Option<String>,
    ) -> Self {
        self.exposures = Some(ReporterSettings {
            base_url: base_url.into(),
            api_key,
        });
        self
    }

    /// The `provider_id` sent with the sync request.
    pub fn provider_id(mut self, id: impl Into<String>) -> Self {
        self.provider_id = id.into();
        self
    }

    /// Starts syncing in the background of the current tokio runtime.
    pub fn build(self) -> Result<InProcessProvider, ClientError> {
        let invalid = |reason: String| ClientError::InvalidTarget {
            target: redact::url(&self.target),
            reason,
        };
        let uri = if self.target.contains("://") {
            self.target.clone()
        } else if self.tls.is_some() {
            format!("https://{}", self.target)
        } else {
            format!("http://{}", self.target)
        };
        let mut endpoint = Endpoint::from_shared(uri)
            .map_err(|e| invalid(e.to_string()))?
            .connect_timeout(self.connect_timeout)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        if let Some(tls) = self.tls.clone() {
            crate::tls::ensure_crypto_provider();
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| invalid(e.to_string()))?;
        }
        let selector = match &self.selector {
            Some(s) => Some(MetadataValue::try_from(s.as_str()).map_err(|_| {
                ClientError::InvalidHeader {
                    header: SELECTOR_HEADER,
                }
            })?),
            None => None,
        };
        let shared = Arc::new(Shared {
            loaded: ArcSwapOption::empty(),
            status: Status::new(),
        });
        let sync = Follower {
            shared: Arc::clone(&shared),
            endpoint,
            target: self.target.clone(),
            selector: self.selector.clone(),
            selector_header: selector,
            provider_id: self.provider_id.clone(),
            options: CompileOptions {
                fractional: self.fractional,
                ..CompileOptions::default()
            },
            backoff: self.backoff,
        };
        let reporter = self.exposures.clone().map(Reporter::start).transpose()?;
        let tracker = match &self.exposures {
            Some(node) => Tracker::new(tracking_target(node, self.selector.as_deref())?),
            None => Tracker::unavailable(),
        };
        let task = spawn(sync.run())?;
        Ok(InProcessProvider {
            inner: Arc::new(Inner {
                shared,
                init_timeout: self.init_timeout,
                reporter,
                tracker,
                _sync: task,
            }),
            metadata: ProviderMetadata::new("ensign-in-process"),
        })
    }
}

#[async_trait]
impl FeatureProvider for InProcessProvider {
    /// Waits for the first flag configuration, up to the init timeout.
    async fn initialize(&mut self, _context: &EvaluationContext) {
        self.inner
            .shared
            .status
            .settled(self.inner.init_timeout)
            .await;
    }

    fn status(&self) -> ProviderStatus {
        self.inner.shared.status.state().status()
    }

    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn resolve_bool_value(
        &self,
        flag_key: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        self.resolve(flag_key, context).await
    }

    async fn resolve_int_value(
        &self,
        flag_key: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        self.resolve(flag_key, context).await
    }

    async fn resolve_float_value(
        &self,
        flag_key: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        self.resolve(flag_key, context).await
    }

    async fn resolve_string_value(
        &self,
        flag_key: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        self.resolve(flag_key, context).await
    }

    async fn resolve_struct_value(
        &self,
        flag_key: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        self.resolve(flag_key, context).await
    }
}

/// The sync task.
struct Follower {
    shared: Arc<Shared>,
    endpoint: Endpoint,
    target: String,
    selector: Option<String>,
    selector_header: Option<MetadataValue<tonic::metadata::Ascii>>,
    provider_id: String,
    options: CompileOptions,
    backoff: (Duration, Duration),
}

/// How one sync stream ended.
enum Ended {
    /// The server ended it (shutdown) or it broke after delivering.
    Lost { delivered: bool, why: String },
    /// The server refused the credentials or the selector.
    Refused(String),
}

impl Follower {
    async fn run(self) {
        let mut backoff = self.backoff.0;
        loop {
            match self.follow().await {
                Ended::Lost { delivered, why } => {
                    let message =
                        format!("sync stream from {} lost: {why}", redact::url(&self.target));
                    tracing::debug!(target = %redact::url(&self.target), %why, "Sync stream lost.");
                    if self.shared.loaded.load().is_some() {
                        self.shared.status.stale(message);
                    } else {
                        self.shared.status.error(message);
                    }
                    if delivered {
                        backoff = self.backoff.0;
                    }
                }
                Ended::Refused(why) => {
                    tracing::warn!(target = %redact::url(&self.target), %why, "Sync refused.");
                    self.shared.status.error(format!(
                        "sync from {} refused: {why}",
                        redact::url(&self.target)
                    ));
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.backoff.1);
        }
    }

    /// Opens one stream and applies what it delivers until it ends.
    async fn follow(&self) -> Ended {
        let lost = |delivered, why: String| Ended::Lost { delivered, why };
        let channel = match self.endpoint.connect().await {
            Ok(channel) => channel,
            Err(error) => return lost(false, describe(&error)),
        };
        #[expect(
            deprecated,
            reason = "older flagd servers read the selector only from this field; newer ones from the header"
        )]
        let mut request = tonic::Request::new(SyncFlagsRequest {
            provider_id: self.provider_id.clone(),
            selector: self.selector.clone().unwrap_or_default(),
        });
        if let Some(value) = &self.selector_header {
            request
                .metadata_mut()
                .insert(SELECTOR_HEADER, value.clone());
        }
        let mut stream = match FlagSyncServiceClient::new(channel)
            .sync_flags(request)
            .await
        {
            Ok(response) => response.into_inner(),
            Err(status) => return ended_by(&status, false),
        };
        let mut delivered = false;
        while let Some(message) = stream.next().await {
            match message {
                Ok(message) => {
                    let context = message.sync_context.map(struct_to_json).unwrap_or_default();
                    delivered |= self.apply(&message.flag_configuration, context);
                }
                Err(status) => return ended_by(&status, delivered),
            }
        }
        lost(delivered, "the server ended the stream".into())
    }

    /// Replaces the state with a payload; announces readiness and changes.
    /// Returns whether the payload was good.
    fn apply(&self, payload: &str, context: Map<String, Value>) -> bool {
        let previous = self.shared.loaded.load_full();
        let snapshot = match compile(payload, &self.options, previous.as_deref()) {
            Ok(snapshot) => snapshot,
            Err(reason) => {
                // The last good state stays; the next payload may be good.
                tracing::warn!(target = %redact::url(&self.target), %reason, "Sync payload refused; keeping the last good state.");
                return false;
            }
        };
        let changed = previous.as_deref().map(|old| {
            if old.context == context {
                let changes = old.snapshot.diff(&snapshot);
                changes.keys().into_iter().map(str::to_owned).collect()
            } else {
                // A new static context can change any flag's value.
                let mut keys: Vec<String> = old
                    .snapshot
                    .visible(&Selector::All)
                    .into_iter()
                    .chain(snapshot.visible(&Selector::All))
                    .map(|(_, entry)| entry.key().to_owned())
                    .collect();
                keys.sort_unstable();
                keys.dedup();
                keys
            }
        });
        self.shared
            .loaded
            .store(Some(Arc::new(Loaded { snapshot, context })));
        self.shared.status.ready();
        if let Some(keys) = changed.filter(|keys: &Vec<String>| !keys.is_empty()) {
            self.shared.status.changed(keys);
        }
        true
    }
}

/// Where tracking events go: the exposures' node, with its key (as the
/// exposure reporter sends it) and the sync selector.
fn tracking_target(node: &ReporterSettings, selector: Option<&str>) -> Result<Target, ClientError> {
    let base = node.base_url.trim_end_matches('/');
    let url = reqwest::Url::parse(&format!("{base}/ensign/v1/events")).map_err(|error| {
        ClientError::InvalidBaseUrl {
            url: redact::url(&node.base_url),
            reason: error.to_string(),
        }
    })?;
    let mut headers = HeaderMap::new();
    let mut add = |name: HeaderName, label: &'static str, value: &str, sensitive: bool| {
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| ClientError::InvalidHeader { header: label })?;
        value.set_sensitive(sensitive);
        headers.insert(name, value);
        Ok::<(), ClientError>(())
    };
    if let Some(key) = &node.api_key {
        add(
            header::AUTHORIZATION,
            "authorization",
            &format!("Bearer {key}"),
            true,
        )?;
    }
    if let Some(selector) = selector {
        add(
            HeaderName::from_static(SELECTOR_HEADER),
            SELECTOR_HEADER,
            selector,
            false,
        )?;
    }
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(ClientError::Http)?;
    Ok(Target { http, url, headers })
}

/// How a gRPC status ends a stream.
fn ended_by(status: &tonic::Status, delivered: bool) -> Ended {
    match status.code() {
        tonic::Code::Unauthenticated
        | tonic::Code::PermissionDenied
        | tonic::Code::InvalidArgument => Ended::Refused(status.message().to_owned()),
        _ => Ended::Lost {
            delivered,
            why: format!("{}: {}", status.code(), status.message()),
        },
    }
}

/// An error with its causes, for messages.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Compiles a sync payload, grouping flags by their `ensign.fractional` so
/// each group is bucketed as its flag set is on the server (see the module
/// docs). `previous` lends each group its last good flags.
fn compile(
    payload: &str,
    options: &CompileOptions,
    previous: Option<&Loaded>,
) -> Result<Snapshot, String> {
    let Value::Object(mut root) =
        serde_json::from_str::<Value>(payload).map_err(|e| format!("not JSON: {e}"))?
    else {
        return Err("not a JSON object".into());
    };
    let Some(Value::Object(flags)) = root.remove("flags") else {
        return Err("no \"flags\" object".into());
    };
    let mut groups: BTreeMap<Option<String>, Map<String, Value>> = BTreeMap::new();
    for (key, flag) in flags {
        let version = flag
            .get("metadata")
            .and_then(|m| m.get(FRACTIONAL_VERSION_KEY))
            .and_then(Value::as_str)
            .map(str::to_owned);
        groups.entry(version).or_default().insert(key, flag);
    }
    let metadata = match root.remove("metadata") {
        Some(Value::Object(metadata)) => metadata,
        _ => Map::new(),
    };
    let evaluators = root.remove("$evaluators");
    let mut sources = Vec::with_capacity(groups.len());
    for (version, flags) in groups {
        let name = match &version {
            None => DEFAULT_SET.to_owned(),
            Some(version) => format!("{DEFAULT_SET}#{version}"),
        };
        let mut set_metadata = metadata.clone();
        if let Some(version) = version {
            set_metadata.insert(FRACTIONAL_VERSION_KEY.into(), Value::String(version));
        }
        let mut document = Map::new();
        document.insert("metadata".into(), Value::Object(set_metadata));
        if let Some(evaluators) = &evaluators {
            document.insert("$evaluators".into(), evaluators.clone());
        }
        document.insert("flags".into(), Value::Object(flags));
        let (file, _) =
            engine::model::from_value(Value::Object(document)).map_err(|e| e.to_string())?;
        let last = previous.and_then(|p| {
            p.snapshot
                .sources()
                .iter()
                .find(|s| *s.name == *name)
                .map(|s| &*s.set)
        });
        let (set, diagnostics) = FlagSet::compile(&name, &file, options, last);
        for diagnostic in diagnostics.iter().filter(|d| d.severity == Severity::Error) {
            tracing::debug!(flag = diagnostic.flag_key.as_deref().unwrap_or(""), pointer = %diagnostic.pointer, message = %diagnostic.message, "Synced flag does not compile.");
        }
        sources.push(SourceState {
            name: name.into(),
            set: Arc::new(set),
        });
    }
    Ok(Snapshot::from_sources(sources))
}

/// A protobuf `Struct` as JSON. Numbers arrive as doubles; whole ones
/// become integers, as flagd's JSON writes them, so rules see `30`, not
/// `30.0`.
fn struct_to_json(s: prost_types::Struct) -> Map<String, Value> {
    s.fields
        .into_iter()
        .map(|(key, value)| (key, proto_to_json(value)))
        .collect()
}

fn proto_to_json(value: prost_types::Value) -> Value {
    use prost_types::value::Kind;
    match value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::NumberValue(n)) => {
            if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 {
                #[expect(
                    clippy::cast_possible_truncation,
                    reason = "whole and exact in a double"
                )]
                return Value::Number((n as i64).into());
            }
            serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
        }
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::ListValue(list)) => {
            Value::Array(list.values.into_iter().map(proto_to_json).collect())
        }
        Some(Kind::StructValue(s)) => Value::Object(struct_to_json(s)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fractional_flag(version: Option<&str>) -> Value {
        let mut metadata = json!({"flagSetId": "s"});
        if let Some(v) = version {
            metadata[FRACTIONAL_VERSION_KEY] = json!(v);
        }
        json!({
            "state": "ENABLED",
            "variants": {"a": "a", "b": "b"},
            "defaultVariant": "a",
            "targeting": {"fractional": [["a", 50], ["b", 50]]},
            "metadata": metadata,
            "source": "test.json"
        })
    }

    #[test]
    fn each_flag_is_bucketed_with_its_flag_sets_version() {
        let payload = json!({"flags": {
            "plain": fractional_flag(None),
            "v1": fractional_flag(Some("v1")),
            "v3": fractional_flag(Some("v3")),
        }})
        .to_string();
        let snapshot = compile(&payload, &CompileOptions::default(), None).expect("compiles");
        let version = |key: &str| {
            snapshot
                .flag_set_for(key, &Selector::All)
                .map(|set| set.fractional())
        };
        assert_eq!(version("plain"), Some(FractionalVersion::V2));
        assert_eq!(version("v1"), Some(FractionalVersion::V1));
        assert_eq!(version("v3"), Some(FractionalVersion::V3));
        let v1 = CompileOptions {
            fractional: FractionalVersion::V1,
            ..CompileOptions::default()
        };
        let snapshot = compile(&payload, &v1, None).expect("compiles");
        assert_eq!(
            snapshot
                .flag_set_for("plain", &Selector::All)
                .map(|set| set.fractional()),
            Some(FractionalVersion::V1),
            "the provider option sets the server-wide default"
        );
        let context = json!({"targetingKey": "user-7"});
        let resolution = snapshot.evaluate("v3", &Selector::All, &context);
        assert_eq!(resolution.error, None);
        assert_eq!(resolution.metadata.get("flagSetId"), Some(&json!("s")));
    }

    #[test]
    fn bad_payloads_are_refused() {
        let options = CompileOptions::default();
        assert!(compile("{", &options, None).is_err());
        assert!(compile("[]", &options, None).is_err());
        assert!(compile("{\"flag\": {}}", &options, None).is_err());
    }

    #[test]
    fn sync_contexts_become_json() {
        use prost_types::value::Kind;
        let s = prost_types::Struct {
            fields: [
                ("env".to_owned(), Kind::StringValue("prod".into())),
                ("weight".to_owned(), Kind::NumberValue(30.0)),
                ("ratio".to_owned(), Kind::NumberValue(0.5)),
            ]
            .into_iter()
            .map(|(k, kind)| (k, prost_types::Value { kind: Some(kind) }))
            .collect(),
        };
        assert_eq!(
            Value::Object(struct_to_json(s)),
            json!({"env": "prod", "weight": 30, "ratio": 0.5})
        );
    }
}
