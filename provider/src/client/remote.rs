//! The remote provider: evaluation over OFREP.
//!
//! In single mode every resolve call is one `POST
//! /ofrep/v1/evaluate/flags/{key}` with the caller's context. In bulk mode
//! (OFREP's static-context paradigm) every flag is evaluated once for a
//! context fixed at build time, `POST /ofrep/v1/evaluate/flags`; the answer
//! is cached with its ETag, revalidated with `If-None-Match`, and
//! re-fetched when the server's event stream (`eventStreams`, Server-Sent
//! Events) announces `refetchEvaluation`, or on a poll interval when the
//! server offers no stream. Resolve calls in bulk mode answer from the
//! cache and ignore the caller's context.
//!
//! A `429 Too Many Requests` pauses requests until its `Retry-After`
//! passes; resolve calls meanwhile fail at once with a GENERAL error
//! rather than adding load. `401`/`403` put the provider in ERROR.
//!
//! [`RemoteProvider::track`] sends OpenFeature tracking events to the same
//! server's `POST /ensign/v1/events`, in batches (see the tracking module).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;
use tokio::sync::broadcast;

use crate::client::convert::{self, FlagValue, Outcome};
use crate::client::events::{State, Status};
use crate::client::sse::SseParser;
use crate::client::tracking::{Target, Tracker, TrackingCounts, TrackingDetails};
use crate::client::{AbortOnDrop, ClientError, ProviderEvent, spawn};

/// A `Retry-After` the provider cannot read waits this long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// An OpenFeature provider asking an OFREP server.
///
/// ```no_run
/// # async fn example() -> Result<(), provider::client::ClientError> {
/// use open_feature::EvaluationContext;
/// use provider::client::RemoteProvider;
///
/// // One request per evaluation:
/// let remote = RemoteProvider::builder("http://localhost:8016")
///     .api_key("secret")
///     .build()?;
/// // Or every flag evaluated once for this context, kept up to date:
/// let cached = RemoteProvider::builder("http://localhost:8016")
///     .bulk(EvaluationContext::default().with_targeting_key("service-a"))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RemoteProvider {
    inner: Arc<Inner>,
    metadata: ProviderMetadata,
}

#[derive(Debug)]
struct Inner {
    remote: Arc<Remote>,
    init_timeout: Duration,
    tracker: Tracker,
    _refresh: Option<AbortOnDrop>,
}

/// Settings of a [`RemoteProvider`].
#[derive(Debug, Clone)]
pub struct RemoteBuilder {
    base_url: String,
    api_key: Option<String>,
    bearer_token: Option<String>,
    selector: Option<String>,
    bulk: Option<EvaluationContext>,
    timeout: Duration,
    init_timeout: Duration,
    backoff: (Duration, Duration),
    poll_interval: Duration,
}

/// What a bulk refresh found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The server answered `304 Not Modified` to the cached ETag.
    NotModified,
    /// New evaluations were cached; `flag_keys` lists the flags whose
    /// outcome differs from the previous cache (empty on the first fetch).
    Updated {
        /// The keys that differ, sorted.
        flag_keys: Vec<String>,
    },
}

/// What the refresh task and the resolve calls share.
#[derive(Debug)]
struct Remote {
    http: reqwest::Client,
    base: Url,
    /// Credentials and selector, sent with every request.
    headers: HeaderMap,
    timeout: Duration,
    status: Status,
    /// Set by a 429: no request before this instant.
    paused_until: Mutex<Option<Instant>>,
    bulk: Option<Bulk>,
}

#[derive(Debug)]
struct Bulk {
    context: Map<String, Value>,
    cache: ArcSwapOption<Cache>,
    /// One fetch at a time, so each diff is against the cache it replaces.
    fetching: tokio::sync::Mutex<()>,
    backoff: (Duration, Duration),
    poll_interval: Duration,
}

/// The last good bulk evaluation.
#[derive(Debug)]
struct Cache {
    etag: Option<String>,
    flags: HashMap<String, WireFlag>,
    /// Where to hear about changes: a URL, already resolved.
    events: Option<Url>,
}

/// One flag's outcome on the wire (`evaluationSuccess`,
/// `evaluationFailure`, or an error body).
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct WireFlag {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default, rename = "errorCode")]
    error_code: Option<String>,
    #[serde(default, rename = "errorDetails")]
    error_details: Option<String>,
    #[serde(default)]
    metadata: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct WireBulk {
    flags: Vec<WireFlag>,
    #[serde(default, rename = "eventStreams")]
    event_streams: Vec<WireStream>,
}

#[derive(Debug, Deserialize)]
struct WireStream {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    endpoint: Option<WireEndpoint>,
}

#[derive(Debug, Deserialize)]
struct WireEndpoint {
    #[serde(default)]
    origin: Option<String>,
    #[serde(rename = "requestUri")]
    request_uri: String,
}

/// `sseEventData`.
#[derive(Debug, Deserialize)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default, rename = "lastModified")]
    last_modified: Option<Value>,
}

impl WireFlag {
    fn outcome(&self) -> Outcome<'_> {
        Outcome {
            key: &self.key,
            value: self.value.as_ref(),
            variant: self.variant.as_deref(),
            reason: self.reason.as_deref(),
            error: self.error_code.as_deref().map(|code| {
                (
                    code,
                    self.error_details
                        .clone()
                        .unwrap_or_else(|| format!("flag {:?} failed with {code}", self.key)),
                )
            }),
            metadata: Some(&self.metadata),
        }
    }
}

impl RemoteProvider {
    /// Settings for a provider asking the OFREP server at `base_url` (the
    /// origin, optionally with a path prefix before `/ofrep/v1`).
    pub fn builder(base_url: impl Into<String>) -> RemoteBuilder {
        RemoteBuilder {
            base_url: base_url.into(),
            api_key: None,
            bearer_token: None,
            selector: None,
            bulk: None,
            timeout: Duration::from_secs(10),
            init_timeout: Duration::from_secs(5),
            backoff: (Duration::from_millis(100), Duration::from_secs(10)),
            poll_interval: Duration::from_secs(30),
        }
    }

    /// Follows the provider's events from now on.
    pub fn events(&self) -> broadcast::Receiver<ProviderEvent> {
        self.inner.remote.status.subscribe()
    }

    /// Tracks an event (OpenFeature's `track`, specification 6.1.1.1 and
    /// 2.7.1): `name` happened for the user of `context` (the context the
    /// application merged, as for an evaluation), with optional `details`.
    /// Sent to the OFREP server's `POST /ensign/v1/events` with this
    /// provider's API key, bearer token and selector, in batches.
    ///
    /// Never waits and never fails: the event is queued, or dropped and
    /// counted (no targeting key, a value that is not finite, a full
    /// queue). See [`RemoteProvider::tracking_counts`], and call
    /// [`RemoteProvider::flush`] before the application exits. Called
    /// outside a tokio runtime, the events are sent on the runtime the
    /// provider was built in; built outside one too, they are dropped.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), provider::client::ClientError> {
    /// use open_feature::EvaluationContext;
    /// use provider::client::{RemoteProvider, TrackingDetails};
    ///
    /// let remote = RemoteProvider::builder("http://localhost:8016")
    ///     .api_key("secret")
    ///     .build()?;
    /// let user = EvaluationContext::default().with_targeting_key("user-1");
    /// let paid = TrackingDetails::default()
    ///     .with_value(12.5)
    ///     .with_field("currency", "EUR");
    /// remote.track("purchase", &user, Some(paid));
    /// remote.flush().await; // before exiting
    /// # Ok(()) }
    /// ```
    pub fn track(&self, name: &str, context: &EvaluationContext, details: Option<TrackingDetails>) {
        self.inner.tracker.track(name, context, details.as_ref());
    }

    /// Sends the tracking events queued so far and waits until the server
    /// has answered for them (retries included, so a server that is down
    /// holds it for some seconds): for an application about to exit.
    pub async fn flush(&self) {
        self.inner.tracker.flush().await;
    }

    /// What became of the events given to [`RemoteProvider::track`] so far.
    pub fn tracking_counts(&self) -> TrackingCounts {
        self.inner.tracker.counts()
    }

    /// Revalidates the bulk cache now (with `If-None-Match`). Bulk mode
    /// only; the provider also does this by itself when told to.
    pub async fn refresh(&self) -> Result<Refresh, ClientError> {
        self.inner.remote.fetch_bulk(None).await
    }

    async fn resolve<T: FlagValue>(
        &self,
        key: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<T>> {
        let remote = &self.inner.remote;
        match &remote.bulk {
            Some(bulk) => {
                let Some(cache) = bulk.cache.load_full() else {
                    return Err(EvaluationError {
                        code: EvaluationErrorCode::ProviderNotReady,
                        message: Some("no bulk evaluation has been received yet".into()),
                    });
                };
                match cache.flags.get(key) {
                    Some(flag) => convert::finish(flag.outcome()),
                    None => Err(EvaluationError {
                        code: EvaluationErrorCode::FlagNotFound,
                        message: Some(format!("flag {key:?} was not in the bulk evaluation")),
                    }),
                }
            }
            None => {
                let flag = remote.evaluate(key, context).await?;
                convert::finish(Outcome {
                    key,
                    ..flag.outcome()
                })
            }
        }
    }
}

impl RemoteBuilder {
    /// An API key, sent as `X-API-Key`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// A bearer token, sent as `Authorization: Bearer`.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_token = Some(token.into());
        self
    }

    /// A flagd selector (`flagSetId=ID`), sent as `Flagd-Selector`.
    pub fn selector(mut self, selector: impl Into<String>) -> Self {
        self.selector = Some(selector.into());
        self
    }

    /// Bulk mode: evaluate every flag for `context` once, cache it, and keep
    /// it current; resolve calls answer from the cache and ignore their own
    /// context.
    pub fn bulk(mut self, context: EvaluationContext) -> Self {
        self.bulk = Some(context);
        self
    }

    /// How long one evaluation request may take (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long `initialize` waits for the first bulk evaluation (default
    /// 5 s).
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.init_timeout = timeout;
        self
    }

    /// First and longest wait between attempts after a failed bulk fetch or
    /// a lost event stream (default 100 ms and 10 s).
    pub fn backoff(mut self, first: Duration, longest: Duration) -> Self {
        self.backoff = (first, longest.max(first));
        self
    }

    /// How often bulk mode revalidates when the server offers no event
    /// stream (default 30 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Builds the provider; in bulk mode, starts fetching in the background
    /// of the current tokio runtime.
    pub fn build(self) -> Result<RemoteProvider, ClientError> {
        let invalid = |reason: String| ClientError::InvalidBaseUrl {
            url: redact::url(&self.base_url),
            reason,
        };
        let base = Url::parse(&self.base_url).map_err(|e| invalid(e.to_string()))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("not an http or https URL".into()));
        }
        let mut headers = HeaderMap::new();
        let mut add = |name: HeaderName, label: &'static str, value: &str| {
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| ClientError::InvalidHeader { header: label })?;
            value.set_sensitive(label != "flagd-selector");
            headers.insert(name, value);
            Ok::<(), ClientError>(())
        };
        if let Some(key) = &self.api_key {
            add(HeaderName::from_static("x-api-key"), "X-API-Key", key)?;
        }
        if let Some(token) = &self.bearer_token {
            add(
                header::AUTHORIZATION,
                "Authorization",
                &format!("Bearer {token}"),
            )?;
        }
        if let Some(selector) = &self.selector {
            add(
                HeaderName::from_static("flagd-selector"),
                "flagd-selector",
                selector,
            )?;
        }
        // No client-wide timeout: it would cut the event stream. Each
        // evaluation request sets its own.
        let http = reqwest::Client::builder()
            .connect_timeout(self.timeout)
            .build()
            .map_err(ClientError::Http)?;
        let bulk = match &self.bulk {
            Some(context) => Some(Bulk {
                context: convert::context_to_json(context)?,
                cache: ArcSwapOption::empty(),
                fetching: tokio::sync::Mutex::new(()),
                backoff: self.backoff,
                poll_interval: self.poll_interval,
            }),
            None => None,
        };
        let remote = Arc::new(Remote {
            http,
            base,
            headers,
            timeout: self.timeout,
            status: Status::new(),
            paused_until: Mutex::new(None),
            bulk,
        });
        let refresh = if remote.bulk.is_some() {
            Some(spawn(Arc::clone(&remote).follow())?)
        } else {
            // Nothing to load first: ready until the server says otherwise.
            remote.status.ready();
            None
        };
        let tracker = Tracker::new(Target {
            http: remote.http.clone(),
            url: remote.url(&["ensign", "v1", "events"]),
            headers: remote.headers.clone(),
        });
        Ok(RemoteProvider {
            inner: Arc::new(Inner {
                remote,
                init_timeout: self.init_timeout,
                tracker,
                _refresh: refresh,
            }),
            metadata: ProviderMetadata::new("ensign-ofrep"),
        })
    }
}

impl Remote {
    /// `base` + `/ofrep/v1/...` segments (each percent-encoded).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Fails fast while a 429's `Retry-After` runs.
    fn check_paused(&self) -> Result<(), Duration> {
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match *paused {
            Some(until) if until > Instant::now() => Err(until - Instant::now()),
            Some(_) => {
                *paused = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn pause(&self, response: &reqwest::Response) -> Duration {
        let wait = retry_after(response.headers()).unwrap_or(DEFAULT_RETRY_AFTER);
        *self
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now() + wait);
        wait
    }

    /// One single evaluation.
    async fn evaluate(&self, key: &str, context: &EvaluationContext) -> EvaluationResult<WireFlag> {
        if let Err(wait) = self.check_paused() {
            return Err(general(format!(
                "rate limited by the OFREP server; retrying in {} ms",
                wait.as_millis()
            )));
        }
        let context = convert::context_to_json(context)?;
        let url = self.url(&["ofrep", "v1", "evaluate", "flags", key]);
        let response = self
            .http
            .post(url)
            .headers(self.headers.clone())
            .timeout(self.timeout)
            .json(&json!({ "context": context }))
            .send()
            .await
            .map_err(|e| general(format!("OFREP request failed: {e}")))?;
        let status = response.status();
        match status {
            StatusCode::OK | StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND => {
                let body = response
                    .bytes()
                    .await
                    .map_err(|e| general(format!("OFREP response could not be read: {e}")))?;
                let flag = match serde_json::from_slice::<WireFlag>(&body) {
                    Ok(flag) => flag,
                    // A 404 without an OFREP body is still a missing flag.
                    Err(_) if status == StatusCode::NOT_FOUND => WireFlag {
                        key: key.to_owned(),
                        value: None,
                        reason: None,
                        variant: None,
                        error_code: Some("FLAG_NOT_FOUND".into()),
                        error_details: Some(format!("flag {key:?} was not found")),
                        metadata: Map::new(),
                    },
                    Err(e) => {
                        return Err(EvaluationError {
                            code: EvaluationErrorCode::ParseError,
                            message: Some(format!("OFREP body is not valid: {e}")),
                        });
                    }
                };
                if status == StatusCode::OK && flag.error_code.is_none() {
                    // Answers again after a refusal.
                    self.status.ready();
                } else if status == StatusCode::OK {
                    return Err(EvaluationError {
                        code: EvaluationErrorCode::ParseError,
                        message: Some("OFREP success body carries an error code".into()),
                    });
                }
                Ok(flag)
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                let message = format!("the OFREP server refused the credentials ({status})");
                self.status.error(message.clone());
                Err(general(message))
            }
            StatusCode::TOO_MANY_REQUESTS => {
                let wait = self.pause(&response);
                Err(general(format!(
                    "rate limited by the OFREP server; retrying in {} ms",
                    wait.as_millis()
                )))
            }
            other => Err(general(format!("the OFREP server answered {other}"))),
        }
    }

    /// Fetches the bulk evaluation (conditionally, when a cache exists)
    /// and announces what changed. `announced` is the etag and
    /// last-modified of the event that asked for it.
    async fn fetch_bulk(&self, announced: Option<&WireEvent>) -> Result<Refresh, ClientError> {
        let Some(bulk) = &self.bulk else {
            return Err(ClientError::NotBulk);
        };
        let _one_at_a_time = bulk.fetching.lock().await;
        if let Err(wait) = self.check_paused() {
            return Err(ClientError::Status {
                status: StatusCode::TOO_MANY_REQUESTS.as_u16(),
                details: format!("rate limited; retrying in {} ms", wait.as_millis()),
            });
        }
        let mut url = self.url(&["ofrep", "v1", "evaluate", "flags"]);
        if let Some(event) = announced {
            let mut query = url.query_pairs_mut();
            if let Some(etag) = &event.etag {
                query.append_pair("flagConfigEtag", etag);
            }
            match &event.last_modified {
                Some(Value::Number(n)) => {
                    query.append_pair("flagConfigLastModified", &n.to_string());
                }
                Some(Value::String(s)) => {
                    query.append_pair("flagConfigLastModified", s);
                }
                _ => {}
            }
        }
        let previous = bulk.cache.load_full();
        let mut request = self
            .http
            .post(url.clone())
            .headers(self.headers.clone())
            .timeout(self.timeout)
            .json(&json!({ "context": bulk.context }));
        if let Some(etag) = previous.as_ref().and_then(|c| c.etag.as_deref()) {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        // The client's error would carry the URL as given; ours shows it
        // redacted.
        let failed = |source: reqwest::Error| ClientError::Request {
            url: redact::url(url.as_str()),
            source: source.without_url(),
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        match status {
            StatusCode::NOT_MODIFIED if previous.is_some() => {
                self.status.ready();
                return Ok(Refresh::NotModified);
            }
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => {
                let wait = self.pause(&response);
                return Err(ClientError::Status {
                    status: status.as_u16(),
                    details: format!("rate limited; retrying in {} ms", wait.as_millis()),
                });
            }
            _ => {
                let body = response.text().await.unwrap_or_default();
                let details = serde_json::from_str::<WireFlag>(&body)
                    .ok()
                    .and_then(|f| f.error_details)
                    .unwrap_or(body);
                if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                    self.status.error(format!(
                        "the OFREP server refused the credentials ({status})"
                    ));
                }
                return Err(ClientError::Status {
                    status: status.as_u16(),
                    details,
                });
            }
        }
        let etag = response
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(failed)?;
        let wire: WireBulk = serde_json::from_slice(&body).map_err(|e| ClientError::Body {
            url: redact::url(url.as_str()),
            reason: e.to_string(),
        })?;
        let events = wire
            .event_streams
            .iter()
            .filter(|s| s.kind == "sse")
            .find_map(|s| self.stream_url(s));
        let flags: HashMap<String, WireFlag> = wire
            .flags
            .into_iter()
            .map(|flag| (flag.key.clone(), flag))
            .collect();
        let flag_keys = previous
            .as_ref()
            .map(|old| differing(&old.flags, &flags))
            .unwrap_or_default();
        bulk.cache.store(Some(Arc::new(Cache {
            etag,
            flags,
            events,
        })));
        self.status.ready();
        if !flag_keys.is_empty() {
            self.status.changed(flag_keys.clone());
        }
        Ok(Refresh::Updated { flag_keys })
    }

    /// The URL of an `eventStream`: its `url`, or its endpoint's
    /// `requestUri` on its `origin` (default: the base URL's origin).
    fn stream_url(&self, stream: &WireStream) -> Option<Url> {
        if let Some(url) = &stream.url {
            return Url::parse(url).ok();
        }
        let endpoint = stream.endpoint.as_ref()?;
        let origin = match &endpoint.origin {
            Some(origin) => Url::parse(origin).ok()?,
            None => self.base.clone(),
        };
        origin.join(&endpoint.request_uri).ok()
    }

    /// Bulk mode's background work: fetch, then follow the event stream
    /// (or poll), re-fetching when told; back off on failures.
    async fn follow(self: Arc<Self>) {
        let Some(bulk) = &self.bulk else { return };
        let mut backoff = bulk.backoff.0;
        let mut last_event_id: Option<String> = None;
        loop {
            if let Err(error) = self.fetch_bulk(None).await {
                let message = error.to_string();
                tracing::debug!(%message, "Bulk evaluation failed.");
                if self.status.state() == State::Error {
                    // Already in error (never loaded, or refused).
                } else if bulk.cache.load().is_some() {
                    self.status.stale(message);
                } else {
                    self.status.error(message);
                }
                let wait = self.check_paused().err().unwrap_or(backoff);
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(bulk.backoff.1);
                continue;
            }
            backoff = bulk.backoff.0;
            let events = bulk.cache.load().as_ref().and_then(|c| c.events.clone());
            let Some(url) = events else {
                tokio::time::sleep(bulk.poll_interval).await;
                continue;
            };
            let why = self.follow_events(url, &mut last_event_id).await;
            tracing::debug!(%why, "OFREP event stream lost.");
            self.status.stale(format!("OFREP event stream lost: {why}"));
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(bulk.backoff.1);
        }
    }

    /// Follows one event-stream connection until it ends; returns why.
    async fn follow_events(&self, url: Url, last_event_id: &mut Option<String>) -> String {
        let mut request = self
            .http
            .get(url)
            .headers(self.headers.clone())
            .header(header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id.as_deref() {
            request = request.header("last-event-id", id);
        }
        let response = match request.send().await {
            Ok(response) if response.status().is_success() => response,
            Ok(response) => return format!("the server answered {}", response.status()),
            Err(error) => return format!("connecting failed: {error}"),
        };
        let mut body = response.bytes_stream();
        let mut parser = SseParser::default();
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(error) => return format!("reading failed: {error}"),
            };
            for event in parser.push(&chunk) {
                if event.id.is_some() {
                    last_event_id.clone_from(&event.id);
                }
                let Ok(data) = serde_json::from_str::<WireEvent>(&event.data) else {
                    continue;
                };
                // Unknown types are ignored, as the document asks.
                if data.kind == "refetchEvaluation"
                    && let Err(error) = self.fetch_bulk(Some(&data)).await
                {
                    tracing::debug!(%error, "Re-fetch after a change event failed.");
                }
            }
        }
        "the server ended the stream".into()
    }
}

/// The keys whose outcome differs between two bulk evaluations, sorted.
fn differing(old: &HashMap<String, WireFlag>, new: &HashMap<String, WireFlag>) -> Vec<String> {
    let mut keys: Vec<String> = new
        .iter()
        .filter(|(key, flag)| old.get(*key) != Some(*flag))
        .map(|(key, _)| key.clone())
        .chain(old.keys().filter(|key| !new.contains_key(*key)).cloned())
        .collect();
    keys.sort_unstable();
    keys
}

/// A `Retry-After` as seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = OffsetDateTime::parse(value, &Rfc2822).ok()?;
    let wait = at - OffsetDateTime::now_utc();
    Some(wait.try_into().unwrap_or(Duration::ZERO))
}

/// A GENERAL failure with a message.
fn general(message: String) -> EvaluationError {
    EvaluationError {
        code: EvaluationErrorCode::General("GENERAL".into()),
        message: Some(message),
    }
}

#[async_trait]
impl FeatureProvider for RemoteProvider {
    /// In bulk mode, waits for the first bulk evaluation, up to the init
    /// timeout.
    async fn initialize(&mut self, _context: &EvaluationContext) {
        if self.inner.remote.bulk.is_some() {
            self.inner
                .remote
                .status
                .settled(self.inner.init_timeout)
                .await;
        }
    }

    fn status(&self) -> ProviderStatus {
        self.inner.remote.status.state().status()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a past date");
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn stream_urls_join_the_base_origin() {
        let remote =
            RemoteProvider::builder("http://flags.internal:8016/prefix").build_remote_for_test();
        let endpoint = |origin: Option<&str>, uri: &str| WireStream {
            kind: "sse".into(),
            url: None,
            endpoint: Some(WireEndpoint {
                origin: origin.map(str::to_owned),
                request_uri: uri.into(),
            }),
        };
        assert_eq!(
            remote
                .stream_url(&endpoint(None, "/ofrep/v1/events?etag=ab"))
                .map(String::from),
            Some("http://flags.internal:8016/ofrep/v1/events?etag=ab".into())
        );
        assert_eq!(
            remote
                .stream_url(&endpoint(Some("https://sse.example.com"), "/s?c=1"))
                .map(String::from),
            Some("https://sse.example.com/s?c=1".into())
        );
        assert_eq!(
            remote
                .url(&["ofrep", "v1", "evaluate", "flags", "a/b c"])
                .as_str(),
            "http://flags.internal:8016/prefix/ofrep/v1/evaluate/flags/a%2Fb%20c"
        );
    }

    impl RemoteBuilder {
        /// The shared part, without a runtime.
        fn build_remote_for_test(self) -> Remote {
            Remote {
                http: reqwest::Client::new(),
                base: Url::parse(&self.base_url).expect("a valid URL"),
                headers: HeaderMap::new(),
                timeout: self.timeout,
                status: Status::new(),
                paused_until: Mutex::new(None),
                bulk: None,
            }
        }
    }
}
