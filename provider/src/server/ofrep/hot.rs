//! The two evaluation endpoints, answered without warp's filter chain.
//!
//! Single and bulk evaluation are nearly all of an OFREP server's traffic,
//! and warp's chain of filters (a future per filter, a `String` per header
//! read) cost as much as evaluating a flag. The listener hands each request
//! to [`Hot::answer`] first; it takes only well-formed evaluation requests
//! (`POST` to the two paths, every header it reads visible ASCII) and gives
//! every other request back for the routes, which answer it as before.
//! Both run the same admission, body reading and evaluation code, so a
//! request gets the same answer either way (the OFREP tests send each
//! request both ways and compare).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyDataStream;
use hyper::body::Body;
use warp::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, IF_NONE_MATCH};
use warp::http::{HeaderMap, Method, Request};
use warp::reply::Response;

use engine::Selector;

use crate::server::Flags;
use crate::server::admission::{Admission, Credentials};
use crate::server::ofrep::error::OfrepError;
use crate::server::ofrep::{EXPLAIN_HEADER, OfrepConfig, SELECTOR_HEADER, body};

/// The evaluation endpoints' path; a single evaluation adds `/{key}`.
const FLAGS_PATH: &str = "/ofrep/v1/evaluate/flags";

/// The hot path of one OFREP listener, sharing the routes' access policy
/// (and so their rate-limit state).
#[derive(Debug, Clone)]
pub struct Hot(Arc<Shared>);

/// What the hot path shares with the routes.
#[derive(Debug)]
struct Shared {
    flags: Arc<Flags>,
    admission: Admission,
    config: Arc<OfrepConfig>,
}

/// Which endpoint a request is for.
enum Endpoint {
    /// Single evaluation, with the flag key's raw path segment.
    Single(String),
    Bulk,
}

/// Header names the endpoints read, made once: a name given as text is
/// parsed and checked at every lookup.
static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
static SELECTOR: HeaderName = HeaderName::from_static(SELECTOR_HEADER);
static EXPLAIN: HeaderName = HeaderName::from_static(EXPLAIN_HEADER);

/// The request headers the endpoints read.
static READ: [&HeaderName; 7] = [
    &CONTENT_TYPE,
    &CONTENT_LENGTH,
    &X_API_KEY,
    &AUTHORIZATION,
    &SELECTOR,
    &EXPLAIN,
    &IF_NONE_MATCH,
];

/// What [`Hot::answer`] does with a request.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per request and matched at once: boxing the request would cost an allocation"
)]
pub enum Answer<F, B> {
    /// Taken: the response, once the future resolves.
    Taken(F),
    /// Given back, for the routes.
    Declined(Request<B>),
}

impl Hot {
    /// The hot path over the routes' state and access policy.
    pub(super) fn new(flags: Arc<Flags>, admission: Admission, config: Arc<OfrepConfig>) -> Hot {
        Hot(Arc::new(Shared {
            flags,
            admission,
            config,
        }))
    }

    /// Answers an evaluation request, or gives the request back when it is
    /// for the routes.
    pub fn answer<B>(
        &self,
        request: Request<B>,
        peer: SocketAddr,
    ) -> Answer<impl Future<Output = Response> + Send + 'static, B>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: std::fmt::Display,
    {
        let Some(endpoint) = endpoint(&request) else {
            return Answer::Declined(request);
        };
        // A header value warp would refuse as invalid gets warp's answer.
        let headers = request.headers();
        if READ
            .iter()
            .flat_map(|&name| headers.get_all(name))
            .any(|value| value.to_str().is_err())
        {
            return Answer::Declined(request);
        }
        let (parts, incoming) = request.into_parts();
        let hot = Arc::clone(&self.0);
        Answer::Taken(async move {
            let headers = &parts.headers;
            let credentials = Credentials {
                api_key: text(headers, &X_API_KEY),
                authorization: text(headers, &AUTHORIZATION),
                peer: Some(peer.ip()),
            };
            let grant = hot
                .admission
                .admit(
                    &hot.flags.sdk_keys().ring(),
                    credentials,
                    text(headers, &SELECTOR).map(Selector::parse),
                )
                .map_err(OfrepError::from);
            let explain =
                text(headers, &EXPLAIN).is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"));
            let body = read_body(headers, incoming, hot.config.body_limit).await;
            match endpoint {
                Endpoint::Single(segment) => {
                    super::evaluate_one(segment, Arc::clone(&hot.flags), grant, explain, body)
                }
                Endpoint::Bulk => super::evaluate_all(
                    &hot.config,
                    Arc::clone(&hot.flags),
                    grant,
                    explain,
                    text(headers, &IF_NONE_MATCH).map(str::to_owned),
                    body,
                ),
            }
        })
    }
}

/// The endpoint a request is for, if it is a `POST` to one of the two
/// paths exactly as the routes match them.
fn endpoint<B>(request: &Request<B>) -> Option<Endpoint> {
    if request.method() != Method::POST {
        return None;
    }
    match request.uri().path().strip_prefix(FLAGS_PATH)? {
        "" => Some(Endpoint::Bulk),
        rest => {
            let segment = rest.strip_prefix('/')?;
            (!segment.is_empty() && !segment.contains('/'))
                .then(|| Endpoint::Single(segment.to_owned()))
        }
    }
}

/// A header's value, checked to be visible ASCII before.
fn text<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The body, within its content type and size limit.
async fn read_body<B>(headers: &HeaderMap, incoming: B, limit: usize) -> Result<Bytes, OfrepError>
where
    B: Body,
    B::Error: std::fmt::Display,
{
    body::check_content_type(text(headers, &CONTENT_TYPE))?;
    let declared = text(headers, &CONTENT_LENGTH).and_then(|l| l.trim().parse::<u64>().ok());
    body::collect(declared, BodyDataStream::new(incoming), limit).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn hot() -> Hot {
        let config = OfrepConfig::default();
        let admission = Admission::new(&config.api_keys, config.rate_limit);
        Hot::new(
            crate::server::Flags::new(serde_json::Map::new()),
            admission,
            Arc::new(config),
        )
    }

    fn request(method: &str, path: &str, header: Option<&[u8]>) -> Request<Full<Bytes>> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        if let Some(value) = header {
            request = request.header(
                "x-api-key",
                warp::http::HeaderValue::from_bytes(value).unwrap(),
            );
        }
        request.body(Full::new(Bytes::from_static(b"{}"))).unwrap()
    }

    #[tokio::test]
    async fn takes_evaluations_and_gives_back_everything_else() {
        let hot = hot();
        let peer = SocketAddr::from(([127, 0, 0, 1], 1));
        for path in [
            "/ofrep/v1/evaluate/flags",
            "/ofrep/v1/evaluate/flags/banner",
            "/ofrep/v1/evaluate/flags/caf%C3%A9?x=1",
        ] {
            assert!(
                matches!(
                    hot.answer(request("POST", path, None), peer),
                    Answer::Taken(_)
                ),
                "{path}"
            );
        }
        for (method, path, header) in [
            ("GET", "/ofrep/v1/evaluate/flags/banner", None),
            ("POST", "/ofrep/v1/evaluate/flags/", None),
            ("POST", "/ofrep/v1/evaluate/flags/a/b", None),
            ("POST", "/ofrep/v1/evaluate/flagsx", None),
            ("POST", "/ofrep/v1/events", None),
            (
                "POST",
                "/ofrep/v1/evaluate/flags/banner",
                Some(&b"caf\xc3\xa9"[..]),
            ),
        ] {
            let request = request(method, path, header);
            match hot.answer(request, peer) {
                Answer::Declined(declined) => {
                    assert_eq!(declined.uri().path(), path.split('?').next().unwrap());
                }
                Answer::Taken(_) => panic!("{method} {path} taken"),
            }
        }
    }
}
