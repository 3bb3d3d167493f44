//! The OpenFeature Remote Evaluation Protocol over warp, as
//! `ofrep/openapi.yaml` defines it: single and bulk evaluation, the bulk
//! ETag, the change-notification event stream, CORS, and an opt-in explain
//! header.

pub mod body;
pub mod error;
pub mod event_intake;
pub mod events;
pub mod exposure_intake;
pub mod hot;
pub mod render;
pub mod wire;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde_json::{Map, Value};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::http::header::{CONTENT_TYPE, ETAG, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use engine::hash::ContentHasher;
use engine::{ErrorCode, FlagSet, Resolution, Selector, Snapshot};

use crate::server::Flags;
use crate::server::admission::{Admission, ApiKey, Credentials, Grant, RateLimit};
use crate::server::exposures::{self, Surface};
use crate::server::keys::KeyRing;
use crate::server::listen::PeerAddr;
use crate::server::metrics::Tally;
use crate::server::ofrep::error::{OfrepError, evaluation_status};
use crate::server::ofrep::hot::Hot;
use crate::server::ofrep::wire::{Evaluation, EventStream, EventStreamEndpoint};

/// Request header that asks for the decision path in `metadata`.
pub const EXPLAIN_HEADER: &str = "x-ensign-explain";
/// Request header naming a selector, as flagd's OFREP service reads it.
pub const SELECTOR_HEADER: &str = "flagd-selector";
/// Path of the change-notification stream.
pub const EVENTS_PATH: &str = "/ofrep/v1/events";

/// OFREP settings.
#[derive(Debug, Clone)]
pub struct OfrepConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Origins allowed by CORS; `*` allows any. Empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// `inactivityDelaySec` advertised with the event stream.
    pub inactivity_delay_sec: u32,
    /// API keys; empty: no authentication. A server builds one
    /// [`Admission`] from these for every evaluation and sync surface,
    /// gRPC included.
    pub api_keys: Vec<ApiKey>,
    /// Rate limit per key (per client address without keys), shared by
    /// every surface of a server.
    pub rate_limit: Option<RateLimit>,
}

impl Default for OfrepConfig {
    fn default() -> Self {
        OfrepConfig {
            body_limit: 1024 * 1024,
            cors_origins: Vec::new(),
            inactivity_delay_sec: 120,
            api_keys: Vec::new(),
            rate_limit: None,
        }
    }
}

/// The OFREP routes over `flags`.
pub fn routes(flags: Arc<Flags>, config: OfrepConfig) -> BoxedFilter<(Response,)> {
    service(flags, config).0
}

/// The OFREP routes over `flags`, and the hot path for the evaluation
/// endpoints that a listener tries first (none when CORS is configured:
/// the routes add its headers), admitting requests by the config's keys
/// and rate limit.
pub fn service(flags: Arc<Flags>, config: OfrepConfig) -> (BoxedFilter<(Response,)>, Option<Hot>) {
    let admission = Admission::new(&config.api_keys, config.rate_limit);
    service_with(flags, config, admission)
}

/// As [`service`], admitting requests by a policy shared with the server's
/// other listeners.
pub fn service_with(
    flags: Arc<Flags>,
    config: OfrepConfig,
    admission: Admission,
) -> (BoxedFilter<(Response,)>, Option<Hot>) {
    let config = Arc::new(config);
    let with_flags = {
        let flags = Arc::clone(&flags);
        warp::any().map(move || Arc::clone(&flags))
    };
    let body = {
        let limit = config.body_limit;
        warp::header::optional::<String>("content-type")
            .and(warp::header::optional::<String>("content-length"))
            .and(warp::body::stream())
            .then(
                move |content_type: Option<String>, length: Option<String>, stream| async move {
                    body::check_content_type(content_type.as_deref())?;
                    let declared = length.and_then(|l| l.trim().parse::<u64>().ok());
                    body::collect(declared, stream, limit).await
                },
            )
    };
    let explain = warp::header::optional::<String>(EXPLAIN_HEADER)
        .map(|v: Option<String>| v.is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes")));
    spawn_forgetting(&flags, admission.clone());
    let hot = config
        .cors_origins
        .is_empty()
        .then(|| Hot::new(Arc::clone(&flags), admission.clone(), Arc::clone(&config)));
    let ring = {
        let flags = Arc::clone(&flags);
        warp::any().map(move || flags.sdk_keys().ring())
    };
    let admit = ring
        .and(warp::header::optional::<String>("x-api-key"))
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::ext::optional::<PeerAddr>())
        .and(warp::header::optional::<String>(SELECTOR_HEADER))
        .map(
            move |ring: Arc<KeyRing>,
                  key: Option<String>,
                  authorization: Option<String>,
                  peer: Option<PeerAddr>,
                  selector: Option<String>| {
                let credentials = Credentials {
                    api_key: key.as_deref(),
                    authorization: authorization.as_deref(),
                    peer: peer.map(|p| p.0.ip()),
                };
                admission
                    .admit(&ring, credentials, selector.as_deref().map(Selector::parse))
                    .map_err(OfrepError::from)
            },
        );

    let single = warp::path!("ofrep" / "v1" / "evaluate" / "flags" / String)
        .and(warp::post())
        .and(with_flags.clone())
        .and(admit.clone())
        .and(explain)
        .and(body)
        .map(evaluate_one);
    let bulk = warp::path!("ofrep" / "v1" / "evaluate" / "flags")
        .and(warp::post())
        .and(with_flags.clone())
        .and(admit.clone())
        .and(explain)
        .and(warp::header::optional::<String>("if-none-match"))
        .and(body)
        .map({
            let config = Arc::clone(&config);
            move |flags, grant, explain, if_none_match, body| {
                evaluate_all(&config, flags, grant, explain, if_none_match, body)
            }
        });
    let exposures = warp::path!("ensign" / "v1" / "exposures")
        .and(warp::post())
        .and(with_flags.clone())
        .and(admit.clone())
        .and(body)
        .map(|flags: Arc<Flags>, grant, body| exposure_intake::receive(&flags, grant, body));
    let tracking = warp::path!("ensign" / "v1" / "events")
        .and(warp::post())
        .and(with_flags.clone())
        .and(admit.clone())
        .and(body)
        .map(|flags: Arc<Flags>, grant, body| event_intake::receive(&flags, grant, body));
    let events = warp::path!("ofrep" / "v1" / "events")
        .and(warp::get())
        .and(with_flags)
        .and(admit)
        .and(warp::header::optional::<String>("last-event-id"))
        .and(warp::query::<HashMap<String, String>>())
        .map(
            |flags,
             grant: Result<Grant, OfrepError>,
             last: Option<String>,
             query: HashMap<String, String>| {
                if let Err(error) = grant {
                    return error.into_response(None);
                }
                let seen = last.or_else(|| query.get("etag").cloned());
                events::stream(flags, seen).into_response()
            },
        );

    let api = single
        .or(bulk)
        .unify()
        .or(events)
        .unify()
        .or(exposures)
        .unify()
        .or(tracking)
        .unify();
    let cors = cors(&config.cors_origins);
    let routes = match cors {
        Some(cors) => api
            .with(cors)
            .map(Reply::into_response)
            .recover(recover)
            .unify()
            .boxed(),
        None => api.recover(recover).unify().boxed(),
    };
    (routes, hot)
}

/// Forgets idle rate-limit state once a minute, until shutdown, so the
/// per-address table does not grow with every client ever seen.
fn spawn_forgetting(flags: &Flags, admission: Admission) {
    let shutdown = flags.shutdown_signal();
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let mut shutdown = std::pin::pin!(shutdown);
            loop {
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(60)) => {
                        admission.forget_idle_clients();
                    }
                    () = &mut shutdown => break,
                }
            }
        });
    }
}

/// CORS for the browser OFREP provider, when origins are configured.
fn cors(origins: &[String]) -> Option<warp::cors::Builder> {
    if origins.is_empty() {
        return None;
    }
    let builder = warp::cors()
        .allow_methods(["GET", "POST", "OPTIONS"])
        .allow_headers([
            "content-type",
            "authorization",
            "x-api-key",
            "if-none-match",
            "last-event-id",
            SELECTOR_HEADER,
            EXPLAIN_HEADER,
        ])
        .expose_headers(["etag", "retry-after"])
        .max_age(600);
    Some(if origins.iter().any(|o| o == "*") {
        builder.allow_any_origin()
    } else {
        builder.allow_origins(origins.iter().map(String::as_str))
    })
}

/// Maps warp's own rejections (no route, wrong method, CORS) onto OFREP
/// error bodies.
async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let error = if rejection.is_not_found() {
        OfrepError::NotFound
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        OfrepError::MethodNotAllowed
    } else if let Some(cors) = rejection.find::<warp::cors::CorsForbidden>() {
        OfrepError::Forbidden {
            selector: cors.to_string(),
        }
    } else if let Some(e) = rejection.find::<warp::reject::InvalidHeader>() {
        OfrepError::InvalidContext {
            details: e.to_string(),
        }
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        OfrepError::InvalidContext {
            details: e.to_string(),
        }
    } else {
        tracing::error!(?rejection, "Unhandled OFREP rejection.");
        OfrepError::Internal
    };
    Ok(error.into_response(None))
}

/// `POST /ofrep/v1/evaluate/flags/{key}`.
fn evaluate_one(
    segment: String,
    flags: Arc<Flags>,
    grant: Result<Grant, OfrepError>,
    explain: bool,
    body: Result<Bytes, OfrepError>,
) -> Response {
    let (selector, visible, explain) = match grant {
        // A client key's requests never see rule structure; the header is
        // ignored for them, so a browser sending it still gets its answer.
        Ok(grant) => {
            let explain = explain && grant.may_explain();
            (grant.selector, grant.visible, explain)
        }
        Err(error) => return error.into_response(None),
    };
    let key = match body::flag_key(&segment) {
        Ok(key) => key,
        Err(error) => return error.into_response(None),
    };
    if visible.is_some_and(|visible| !visible.contains(&key)) {
        // A client key sees only client-visible flags; the others do not
        // exist for it.
        return OfrepError::FlagNotFound { key: key.clone() }.into_response(Some(&key));
    }
    body.and_then(|body| {
        let snapshot = flags.snapshot();
        // The usual body, `{"context": {...}}`: its context is read once,
        // where the flag reads it, instead of the body being parsed first.
        if let Some(context) = body::enveloped_context(&body)
            && let Some(response) =
                evaluate_text(&flags, &snapshot, &key, &selector, context, explain, true)
        {
            return Ok(response);
        }
        let context = body::context_text(&body)?;
        // Not tentative, so always answered: the default is never used.
        Ok(
            evaluate_text(&flags, &snapshot, &key, &selector, context, explain, false)
                .unwrap_or_else(|| OfrepError::Internal.into_response(Some(&key))),
        )
    })
    .unwrap_or_else(|error| error.into_response(Some(&key)))
}

/// Evaluates one flag from its context text and renders the response.
///
/// A `tentative` context was cut out of the body without parsing the body:
/// if it is not a JSON object it may just not be the whole context (the
/// body has other members), so instead of an error this answers `None`,
/// for the caller to read the body properly. Otherwise it always answers.
fn evaluate_text(
    flags: &Flags,
    snapshot: &Arc<Snapshot>,
    key: &str,
    selector: &Selector,
    context: &str,
    explain: bool,
    tentative: bool,
) -> Option<Response> {
    let Some(set) = snapshot.flag_set_for(key, selector) else {
        // The context must still be a context.
        if let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(context) {
            return (!tentative).then(|| {
                OfrepError::InvalidContext {
                    details: format!("the evaluation context is not valid JSON: {error}"),
                }
                .into_response(Some(key))
            });
        }
        return Some(
            OfrepError::FlagNotFound {
                key: key.to_owned(),
            }
            .into_response(None),
        );
    };
    let started = Instant::now();
    let mut parsed = None;
    let (resolution, trace) = if explain || !flags.static_context().is_empty() {
        let parsed = match parse_context(flags, context) {
            Ok(context) => &*parsed.insert(context),
            Err(error) => return (!tentative).then(|| error.into_response(Some(key))),
        };
        let prepared = set.prepare_for(key, parsed);
        if explain {
            let (resolution, trace) = set.explain(key, &prepared);
            (resolution, Some(trace.render()))
        } else {
            (set.evaluate(key, &prepared), None)
        }
    } else {
        (set.evaluate_json(key, context), None)
    };
    if tentative && resolution.error_code() == Some(ErrorCode::InvalidContext) {
        return None;
    }
    record(flags, set, &resolution, started);
    flags.observe(
        set,
        &resolution,
        || match &parsed {
            Some(parsed) => exposures::targeting_key_of(parsed),
            None => exposures::targeting_key_in(context),
        },
        Surface::OfrepSingle,
    );
    let status = evaluation_status(resolution.error_code());
    let mut body = Vec::with_capacity(256);
    match trace {
        None => render::write_evaluation(&mut body, snapshot, &resolution),
        Some(trace) => {
            // Serializing into a vector cannot fail.
            let _ = serde_json::to_writer(
                &mut body,
                &Evaluation::from_resolution(&resolution, Some(trace)),
            );
        }
    }
    Some(json_response(body, status))
}

/// A JSON response.
fn json_response(body: Vec<u8>, status: StatusCode) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Counts one evaluation in the metrics.
fn record(flags: &Flags, set: &FlagSet, resolution: &Resolution<'_>, started: Instant) {
    flags.metrics().evaluation(
        set.id(),
        resolution.reason,
        resolution.error_code(),
        started.elapsed(),
    );
}

/// Parses a context and merges the static context into it.
fn parse_context(flags: &Flags, text: &str) -> Result<Value, OfrepError> {
    let mut context: Map<String, Value> =
        serde_json::from_str(text).map_err(|e| OfrepError::InvalidContext {
            details: format!("the evaluation context is not valid JSON: {e}"),
        })?;
    flags.enrich(&mut context);
    Ok(Value::Object(context))
}

/// `POST /ofrep/v1/evaluate/flags`.
fn evaluate_all(
    config: &OfrepConfig,
    flags: Arc<Flags>,
    grant: Result<Grant, OfrepError>,
    explain: bool,
    if_none_match: Option<String>,
    body: Result<Bytes, OfrepError>,
) -> Response {
    let result = grant.and_then(|grant| {
        // As for a single evaluation: no explain for client keys.
        let explain = explain && grant.may_explain();
        Ok((grant.selector, grant.visible, explain, body?))
    });
    let result = result.and_then(|(selector, visible, explain, body)| {
        let context = parse_context(&flags, body::context_text(&body)?)?;
        let snapshot = flags.snapshot();
        let etag = bulk_etag(&snapshot, &selector, visible.is_some(), &context);
        if if_none_match.is_some_and(|tags| etag_matches(&tags, &etag)) {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            insert_etag(&mut response, &etag);
            return Ok(response);
        }
        let mut prepared: Vec<(&Arc<FlagSet>, engine::Prepared<'_>)> = Vec::new();
        let mut tally = Tally::default();
        let user = exposures::targeting_key_of(&context);
        let started = Instant::now();
        // `bulkEvaluationSuccess`, written out: `flags`, then `metadata`
        // when there is any, then `eventStreams`.
        let mut body = Vec::with_capacity(4096);
        body.extend_from_slice(b"{\"flags\":[");
        let mut first = true;
        for (set, entry) in snapshot.visible(&selector) {
            if visible
                .as_ref()
                .is_some_and(|visible| !visible.contains(entry.key()))
            {
                continue;
            }
            let index = match prepared.iter().position(|(s, _)| Arc::ptr_eq(s, set)) {
                Some(index) => index,
                None => {
                    prepared.push((set, set.prepare(&context)));
                    prepared.len() - 1
                }
            };
            let context = &prepared[index].1;
            if !first {
                body.push(b',');
            }
            first = false;
            let resolution = if explain {
                let (resolution, trace) = set.explain(entry.key(), context);
                let _ = serde_json::to_writer(
                    &mut body,
                    &Evaluation::from_resolution(&resolution, Some(trace.render())),
                );
                resolution
            } else {
                let resolution = set.evaluate_entry(entry, context);
                render::write_evaluation(&mut body, &snapshot, &resolution);
                resolution
            };
            tally.add(set.id(), resolution.reason, resolution.error_code());
            flags.observe(set, &resolution, || user.clone(), Surface::OfrepBulk);
        }
        flags.metrics().evaluations(&tally, started.elapsed());
        body.push(b']');
        // The metadata of the flag sets the selector picks, a later set's
        // entries over an earlier one's, as their flags merge.
        let mut metadata = Map::new();
        let mut sets: Vec<&Arc<FlagSet>> = prepared.iter().map(|(set, _)| *set).collect();
        sets.sort_by_key(|set| {
            snapshot
                .sources()
                .iter()
                .position(|source| Arc::ptr_eq(&source.set, set))
        });
        for set in sets {
            for (k, v) in set.metadata() {
                metadata.insert(k.clone(), v.clone());
            }
        }
        if !metadata.is_empty() {
            body.extend_from_slice(b",\"metadata\":");
            let _ = serde_json::to_writer(&mut body, &metadata);
        }
        body.extend_from_slice(b",\"eventStreams\":");
        let streams = [EventStream {
            kind: "sse",
            endpoint: EventStreamEndpoint {
                request_uri: format!("{EVENTS_PATH}?etag={:016x}", snapshot.version()),
            },
            inactivity_delay_sec: config.inactivity_delay_sec,
        }];
        let _ = serde_json::to_writer(&mut body, &streams);
        body.push(b'}');
        let mut response = json_response(body, StatusCode::OK);
        insert_etag(&mut response, &etag);
        Ok(response)
    });
    result.unwrap_or_else(|error| error.into_response(None))
}

/// The bulk response's entity tag: it changes when the flags, the selector
/// or the context (static context included) do.
fn bulk_etag(
    snapshot: &Snapshot,
    selector: &Selector,
    client_only: bool,
    context: &Value,
) -> String {
    let mut hasher = ContentHasher::default();
    hasher.write(&snapshot.version().to_le_bytes());
    hasher.write_str(&selector.to_string());
    // A client key's answer holds fewer flags than a server key's.
    hasher.write(&[u8::from(client_only)]);
    hasher.write_json(context);
    format!("\"{:016x}\"", hasher.finish())
}

/// Whether an `If-None-Match` list names `etag` (weak comparison, as for
/// GET: `W/` prefixes are ignored; `*` matches anything).
fn etag_matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

fn insert_etag(response: &mut Response, etag: &str) {
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(ETAG, value);
    }
}
