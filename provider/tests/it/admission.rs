//! One admission path for every evaluation and sync surface: with static
//! API keys and a rate limit configured, each surface of a real server
//! (OFREP single, bulk and events; gRPC evaluation v1 and v2, unary and
//! streams; flagd sync) refuses a missing key, a wrong key, a key bound to
//! another selector, and a key over its rate limit, each in its protocol's
//! words.

use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::json;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request};

use provider::proto::evaluation::{v1, v2};
use provider::proto::sync::v1 as sync;
use provider::server::admission::{ApiKey, RateLimit};
use provider::server::ofrep::OfrepConfig;
use provider::server::sources::{SourceKind, SourceSpec};
use provider::server::{Server, ServerConfig};

const SHOP: &str = include_str!("../data/shop.flags.json");

/// Every surface that evaluates or syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    OfrepSingle,
    OfrepBulk,
    OfrepEvents,
    V1Boolean,
    V1All,
    V1Events,
    V2Boolean,
    V2Events,
    SyncFlags,
    FetchAllFlags,
    GetMetadata,
}

const SURFACES: [Surface; 11] = [
    Surface::OfrepSingle,
    Surface::OfrepBulk,
    Surface::OfrepEvents,
    Surface::V1Boolean,
    Surface::V1All,
    Surface::V1Events,
    Surface::V2Boolean,
    Surface::V2Events,
    Surface::SyncFlags,
    Surface::FetchAllFlags,
    Surface::GetMetadata,
];

/// How a call ended, in terms both protocols share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Answered,
    Unauthenticated,
    Forbidden,
    RateLimited,
    /// Anything else: an HTTP status or a gRPC code.
    Other(i32),
}

fn from_status(status: u16) -> Outcome {
    match status {
        200 => Outcome::Answered,
        401 => Outcome::Unauthenticated,
        403 => Outcome::Forbidden,
        429 => Outcome::RateLimited,
        other => Outcome::Other(other.into()),
    }
}

fn from_code(code: Code) -> Outcome {
    match code {
        Code::Ok => Outcome::Answered,
        Code::Unauthenticated => Outcome::Unauthenticated,
        Code::PermissionDenied => Outcome::Forbidden,
        Code::ResourceExhausted => Outcome::RateLimited,
        other => Outcome::Other(other as i32),
    }
}

/// A server whose keys are, per surface `i`: `open-i` (any selector),
/// `ops-i` (bound to flag set `ops`) and `busy-i` (for the rate limit),
/// with a limit of one request per second and a burst of one, so each
/// key's first call passes the limit and calls right after it do not.
async fn server() -> Server {
    let mut api_keys = Vec::new();
    for index in 0..SURFACES.len() {
        for (name, selector) in [
            ("open", None),
            ("ops", Some("flagSetId=ops")),
            ("busy", None),
        ] {
            api_keys.push(ApiKey {
                key: format!("{name}-{index}"),
                selector: selector.map(str::to_owned),
            });
        }
    }
    let server = Server::start(ServerConfig {
        bind: [127, 0, 0, 1].into(),
        port: 0,
        sync_port: 0,
        ofrep_port: 0,
        management_port: 0,
        sources: vec![SourceSpec {
            name: "shop.json".into(),
            kind: SourceKind::Text { text: SHOP.into() },
        }],
        ofrep: OfrepConfig {
            api_keys,
            rate_limit: Some(RateLimit {
                requests_per_second: NonZeroU32::MIN,
                burst: Some(NonZeroU32::MIN),
            }),
            ..OfrepConfig::default()
        },
        ..ServerConfig::default()
    })
    .await
    .expect("the server starts");
    for _ in 0..100 {
        if server.flags().is_ready() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server never became ready");
}

/// Clients made once, so every call reuses a connection.
struct Clients {
    http: reqwest::Client,
    ofrep: String,
    evaluation: Channel,
    sync: Channel,
}

impl Clients {
    async fn new(server: &Server) -> Clients {
        let channel = |addr: std::net::SocketAddr| async move {
            Channel::from_shared(format!("http://{addr}"))
                .expect("an endpoint")
                .connect()
                .await
                .expect("connects")
        };
        Clients {
            http: reqwest::Client::new(),
            ofrep: format!("http://{}", server.ofrep_addr),
            evaluation: channel(server.evaluation_addr.expect("a TCP listener")).await,
            sync: channel(server.sync_addr.expect("a TCP sync listener")).await,
        }
    }

    /// Calls `surface` with `key` (as `x-api-key`) and a `selector`.
    async fn call(&self, surface: Surface, key: Option<&str>, selector: &str) -> Outcome {
        match surface {
            Surface::OfrepSingle | Surface::OfrepBulk | Surface::OfrepEvents => {
                let request = match surface {
                    Surface::OfrepSingle => self
                        .http
                        .post(format!("{}/ofrep/v1/evaluate/flags/banner", self.ofrep))
                        .json(&json!({"context": {}})),
                    Surface::OfrepBulk => self
                        .http
                        .post(format!("{}/ofrep/v1/evaluate/flags", self.ofrep))
                        .json(&json!({"context": {}})),
                    _ => self.http.get(format!("{}/ofrep/v1/events", self.ofrep)),
                };
                let mut request = request.header("flagd-selector", selector);
                if let Some(key) = key {
                    request = request.header("x-api-key", key);
                }
                let response = request.send().await.expect("an HTTP answer");
                from_status(response.status().as_u16())
            }
            _ => from_code(self.grpc(surface, key, selector).await),
        }
    }

    async fn grpc(&self, surface: Surface, key: Option<&str>, selector: &str) -> Code {
        fn request<T>(message: T, key: Option<&str>, selector: &str) -> Request<T> {
            let mut request = Request::new(message);
            let metadata = request.metadata_mut();
            metadata.insert(
                "flagd-selector",
                MetadataValue::try_from(selector).expect("ASCII"),
            );
            if let Some(key) = key {
                metadata.insert("x-api-key", MetadataValue::try_from(key).expect("ASCII"));
            }
            request
        }
        let v1 = || v1::service_client::ServiceClient::new(self.evaluation.clone());
        let v2 = || v2::service_client::ServiceClient::new(self.evaluation.clone());
        let sync = || sync::flag_sync_service_client::FlagSyncServiceClient::new(self.sync.clone());
        let boolean = v1::ResolveBooleanRequest {
            flag_key: "banner".into(),
            context: None,
        };
        let result = match surface {
            Surface::V1Boolean => v1()
                .resolve_boolean(request(boolean, key, selector))
                .await
                .map(drop),
            Surface::V1All => v1()
                .resolve_all(request(v1::ResolveAllRequest::default(), key, selector))
                .await
                .map(drop),
            Surface::V1Events => v1()
                .event_stream(request(v1::EventStreamRequest::default(), key, selector))
                .await
                .map(drop),
            Surface::V2Boolean => v2()
                .resolve_boolean(request(
                    v2::ResolveBooleanRequest {
                        flag_key: "banner".into(),
                        context: None,
                    },
                    key,
                    selector,
                ))
                .await
                .map(drop),
            Surface::V2Events => v2()
                .event_stream(request(v2::EventStreamRequest::default(), key, selector))
                .await
                .map(drop),
            Surface::SyncFlags => sync()
                .sync_flags(request(sync::SyncFlagsRequest::default(), key, selector))
                .await
                .map(drop),
            Surface::FetchAllFlags => sync()
                .fetch_all_flags(request(
                    sync::FetchAllFlagsRequest::default(),
                    key,
                    selector,
                ))
                .await
                .map(drop),
            #[expect(deprecated, reason = "flagd still serves GetMetadata")]
            Surface::GetMetadata => sync()
                .get_metadata(request(sync::GetMetadataRequest::default(), key, selector))
                .await
                .map(drop),
            Surface::OfrepSingle | Surface::OfrepBulk | Surface::OfrepEvents => {
                unreachable!("HTTP surfaces are called over HTTP")
            }
        };
        result.map_or_else(|status| status.code(), |()| Code::Ok)
    }
}

#[tokio::test]
async fn every_surface_admits_through_the_same_keys_selectors_and_limit() {
    let server = server().await;
    let clients = Clients::new(&server).await;
    let mut failures = Vec::new();
    for (index, &surface) in SURFACES.iter().enumerate() {
        let (open, ops, busy) = (
            format!("open-{index}"),
            format!("ops-{index}"),
            format!("busy-{index}"),
        );
        let cases = [
            ("no key", None, "flagSetId=shop", Outcome::Unauthenticated),
            (
                "wrong key",
                Some("not-a-key"),
                "flagSetId=shop",
                Outcome::Unauthenticated,
            ),
            (
                "key for another selector",
                Some(ops.as_str()),
                "flagSetId=shop",
                Outcome::Forbidden,
            ),
            (
                "valid key",
                Some(open.as_str()),
                "flagSetId=shop",
                Outcome::Answered,
            ),
        ];
        for (case, key, selector, expect) in cases {
            let got = clients.call(surface, key, selector).await;
            if got != expect {
                failures.push(format!("{surface:?}, {case}: {got:?}, expected {expect:?}"));
            }
        }
        // A limited key: its first call passes, and of the calls right
        // after it one is refused (several, so a slow machine that lets a
        // second pass still sees the limit).
        let mut calls = Vec::new();
        for _ in 0..4 {
            calls.push(clients.call(surface, Some(&busy), "flagSetId=shop").await);
        }
        if calls[0] != Outcome::Answered || !calls[1..].contains(&Outcome::RateLimited) {
            failures.push(format!("{surface:?}, a limited key: {calls:?}"));
        }
    }
    server.shutdown().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
