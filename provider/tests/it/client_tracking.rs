//! OpenFeature `track` in both Rust providers (specification 6.1.1.1 and
//! 2.7.1), against a whole server that records tracking events, and
//! against a scripted node where the exact answers matter: events arrive
//! in batches with their name, user, value, attributes and time of the
//! call; `flush` waits for them; requests are split at the endpoint's
//! limit; events the node would refuse are dropped before sending; a 503
//! or a full buffer is retried, a 400 or 401 is not; credentials and the
//! selector are sent.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use open_feature::EvaluationContext;
use serde_json::{Value, json};
use warp::Filter;
use warp::http::HeaderMap;

use provider::client::{InProcessProvider, RemoteProvider, TrackingCounts, TrackingDetails};
use provider::server::admission::ApiKey;
use provider::server::ofrep::OfrepConfig;
use provider::server::outbox::{OutboxSettings, WriterQueue, now_micros};
use provider::server::tracking::TrackedEvent;
use provider::server::{Server, ServerConfig};

use crate::client::{app_sources, config};

/// The test server serves two flag sets: events need a key or a selector
/// naming one.
const APP: &str = "flagSetId=app";

/// A loaded server recording tracking events into the returned queue.
async fn recording(config: ServerConfig) -> (Server, WriterQueue<TrackedEvent>) {
    let queue = config
        .recorders
        .tracking
        .attach(&OutboxSettings::default())
        .expect("a writer queue");
    (ready(config).await, queue)
}

async fn ready(config: ServerConfig) -> Server {
    let server = Server::start(config).await.expect("the server starts");
    for _ in 0..500 {
        if server.flags().is_ready() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server never loaded its flags");
}

fn base(server: &Server) -> String {
    format!("http://{}", server.ofrep_addr)
}

fn remote(server: &Server) -> RemoteProvider {
    RemoteProvider::builder(base(server))
        .selector(APP)
        .build()
        .expect("the provider builds")
}

fn user(key: &str) -> EvaluationContext {
    EvaluationContext::default().with_targeting_key(key)
}

fn sent(n: u64) -> TrackingCounts {
    TrackingCounts {
        sent: n,
        ..TrackingCounts::default()
    }
}

/// Polls `done` until it holds, for a few seconds at most.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn tracked_events_arrive_with_their_details_and_time() {
    let (server, mut queue) = recording(config(app_sources())).await;
    let provider = remote(&server);
    let before = now_micros();
    provider.track(
        "purchase",
        &user("u1").with_custom_field("plan", "pro"),
        Some(
            TrackingDetails::default()
                .with_value(12.5)
                .with_field("currency", "EUR")
                .with_field("items", 3),
        ),
    );
    provider.track("signup", &user("u2"), None);
    let after = now_micros();
    // The linger is 500 ms: events here at once prove flush sent and waited.
    provider.flush().await;
    assert_eq!(provider.tracking_counts(), sent(2));
    let events = queue.drain();
    let recorded: Vec<_> = events
        .iter()
        .map(|event| {
            (
                &*event.flag_set,
                event.name.as_str(),
                event.targeting_key.as_str(),
                event.value,
                serde_json::from_str(&event.attributes).unwrap_or(Value::Null),
            )
        })
        .collect();
    assert_eq!(
        recorded,
        [
            (
                "app",
                "purchase",
                "u1",
                Some(12.5),
                json!({"currency": "EUR", "items": 3})
            ),
            ("app", "signup", "u2", None, Value::Null),
        ]
    );
    for event in &events {
        assert!(
            (before..=after).contains(&event.at_micros),
            "the time of the call"
        );
        assert!(
            event.at_micros < event.received_micros,
            "not the node's time of receipt"
        );
    }
    server.shutdown().await;
}

/// The node refuses more than 1000 events in one request (400
/// TOO_MANY_EVENTS): all of them accepted means they went in several.
#[tokio::test]
async fn more_events_than_a_request_holds_go_in_several() {
    let (server, mut queue) = recording(config(app_sources())).await;
    let provider = remote(&server);
    for i in 0..2500 {
        provider.track("view", &user(&format!("u{i}")), None);
    }
    provider.flush().await;
    assert_eq!(provider.tracking_counts(), sent(2500));
    let users: Vec<String> = queue
        .drain()
        .into_iter()
        .map(|event| event.targeting_key)
        .collect();
    let expected: Vec<String> = (0..2500).map(|i| format!("u{i}")).collect();
    assert_eq!(users, expected, "all of them, in order");
    server.shutdown().await;
}

#[tokio::test]
async fn events_the_node_would_refuse_are_dropped_and_counted() {
    let (server, mut queue) = recording(config(app_sources())).await;
    let provider = remote(&server);
    let anonymous = EvaluationContext::default().with_custom_field("plan", "pro");
    provider.track("purchase", &anonymous, None);
    provider.track("purchase", &user(""), None);
    for value in [f64::NAN, f64::INFINITY] {
        provider.track(
            "purchase",
            &user("u1"),
            Some(TrackingDetails::default().with_value(value)),
        );
    }
    provider.track("kept", &user("u1"), None);
    provider.flush().await;
    assert_eq!(
        provider.tracking_counts(),
        TrackingCounts {
            sent: 1,
            dropped: 4,
            ..TrackingCounts::default()
        }
    );
    let names: Vec<String> = queue.drain().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["kept"]);
    server.shutdown().await;
}

/// A node without a writer answers 503 EVENTS_NOT_RECORDED: the batch is
/// sent again, and arrives once the node records.
#[tokio::test]
async fn unavailable_nodes_are_retried_until_they_record() {
    let server = ready(config(app_sources())).await;
    let provider = remote(&server);
    provider.track("purchase", &user("u1"), None);
    let flushing = tokio::spawn({
        let provider = provider.clone();
        async move { provider.flush().await }
    });
    eventually("a refused attempt is retried", || {
        provider.tracking_counts().retries >= 1
    })
    .await;
    let mut queue = server
        .flags()
        .tracking()
        .attach(&OutboxSettings::default())
        .expect("a writer queue");
    flushing.await.expect("the flush ends");
    let counts = provider.tracking_counts();
    assert_eq!((counts.sent, counts.rejected, counts.dropped), (1, 0, 0));
    let users: Vec<String> = queue.drain().into_iter().map(|e| e.targeting_key).collect();
    assert_eq!(users, ["u1"]);
    server.shutdown().await;
}

/// Without a selector the node cannot tell which of its two flag sets the
/// events belong to: 400 FLAG_SET_REQUIRED, which is not retried.
#[tokio::test]
async fn refused_requests_are_not_retried() {
    let (server, mut queue) = recording(config(app_sources())).await;
    let provider = RemoteProvider::builder(base(&server))
        .build()
        .expect("the provider builds");
    provider.track("purchase", &user("u1"), None);
    provider.track("purchase", &user("u2"), None);
    provider.flush().await;
    assert_eq!(
        provider.tracking_counts(),
        TrackingCounts {
            rejected: 2,
            ..TrackingCounts::default()
        },
        "refused once, never sent again"
    );
    assert!(queue.drain().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn api_keys_and_bearer_tokens_are_sent() {
    let (server, mut queue) = recording(ServerConfig {
        ofrep: OfrepConfig {
            api_keys: vec![ApiKey {
                key: "s3cret".into(),
                selector: Some(APP.into()),
            }],
            ..OfrepConfig::default()
        },
        ..config(app_sources())
    })
    .await;
    let anonymous = RemoteProvider::builder(base(&server))
        .build()
        .expect("the provider builds");
    anonymous.track("purchase", &user("u0"), None);
    anonymous.flush().await;
    assert_eq!(
        anonymous.tracking_counts(),
        TrackingCounts {
            rejected: 1,
            ..TrackingCounts::default()
        },
        "401, not retried"
    );

    let keyed = RemoteProvider::builder(base(&server))
        .api_key("s3cret")
        .build()
        .expect("the provider builds");
    keyed.track("purchase", &user("u1"), None);
    keyed.flush().await;
    assert_eq!(keyed.tracking_counts(), sent(1));
    let bearer = RemoteProvider::builder(base(&server))
        .bearer_token("s3cret")
        .build()
        .expect("the provider builds");
    bearer.track("purchase", &user("u2"), None);
    bearer.flush().await;
    assert_eq!(bearer.tracking_counts(), sent(1));

    let recorded: Vec<(String, String)> = queue
        .drain()
        .into_iter()
        .map(|e| (e.flag_set.to_string(), e.targeting_key))
        .collect();
    assert_eq!(
        recorded,
        [
            ("app".to_owned(), "u1".to_owned()),
            ("app".to_owned(), "u2".to_owned())
        ],
        "the flag set the key is bound to"
    );
    server.shutdown().await;
}

/// The in-process provider sends events to the node it reports exposures
/// to, with its selector; without one, tracking is unavailable.
#[tokio::test]
async fn in_process_providers_track_through_their_exposure_node() {
    let (server, mut queue) = recording(config(app_sources())).await;
    let sync = server.sync_addr.expect("a sync port");
    let provider = InProcessProvider::builder(sync.to_string())
        .selector(APP)
        .report_exposures(base(&server), None)
        .build()
        .expect("the provider builds");
    provider.track(
        "purchase",
        &user("u1"),
        Some(TrackingDetails::default().with_value(3.0)),
    );
    provider.flush().await;
    assert_eq!(provider.tracking_counts(), sent(1));
    let recorded: Vec<_> = queue
        .drain()
        .into_iter()
        .map(|e| (e.flag_set.to_string(), e.targeting_key, e.value))
        .collect();
    assert_eq!(recorded, [("app".to_owned(), "u1".to_owned(), Some(3.0))]);

    let unreporting = InProcessProvider::builder(sync.to_string())
        .build()
        .expect("the provider builds");
    unreporting.track("purchase", &user("u1"), None);
    unreporting.flush().await;
    assert_eq!(
        unreporting.tracking_counts(),
        TrackingCounts {
            dropped: 1,
            ..TrackingCounts::default()
        }
    );
    server.shutdown().await;
}

/// The OpenFeature SDK shuts a provider down by dropping it: what is
/// queued is still sent.
#[tokio::test]
async fn dropping_the_provider_sends_what_is_queued() {
    let (server, mut queue) = recording(config(app_sources())).await;
    let provider = remote(&server);
    provider.track("purchase", &user("u1"), None);
    drop(provider);
    let mut users = Vec::new();
    eventually("the queued event arrives", || {
        users.extend(queue.drain().into_iter().map(|e| e.targeting_key));
        !users.is_empty()
    })
    .await;
    assert_eq!(users, ["u1"]);
    server.shutdown().await;
}

/// A node that cannot be reached: every attempt fails, and the events are
/// dropped; flush still returns.
#[tokio::test]
async fn unreachable_nodes_drop_events_after_the_last_attempt() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("binds")
        .local_addr()
        .expect("an address");
    let provider = RemoteProvider::builder(format!("http://{closed}"))
        .build()
        .expect("the provider builds");
    provider.track("purchase", &user("u1"), None);
    provider.flush().await;
    assert_eq!(
        provider.tracking_counts(),
        TrackingCounts {
            dropped: 1,
            retries: 4,
            ..TrackingCounts::default()
        }
    );
}

/// What a scripted node was sent, and what it answers next.
#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<(u16, Option<&'static str>, Value)>>,
    requests: Mutex<Vec<(HeaderMap, Value)>>,
}

/// A node answering `POST /ensign/v1/events` from `script` (202 accepting
/// everything once the script is spent).
async fn scripted(script: Arc<Script>) -> SocketAddr {
    let route = warp::post()
        .and(warp::path!("ensign" / "v1" / "events"))
        .and(warp::header::headers_cloned())
        .and(warp::body::content_length_limit(1024 * 1024))
        .and(warp::body::json())
        .map(move |headers: HeaderMap, body: Value| {
            let events = body["events"].as_array().map_or(0, Vec::len);
            script.requests.lock().expect("lock").push((headers, body));
            let (status, retry_after, answer) = script
                .answers
                .lock()
                .expect("lock")
                .pop_front()
                .unwrap_or((202, None, json!({"accepted": events, "rejected": []})));
            let mut response = warp::http::Response::builder().status(status);
            if let Some(wait) = retry_after {
                response = response.header("retry-after", wait);
            }
            response.body(answer.to_string()).expect("a response")
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(warp::serve(route).incoming(listener).run());
    addr
}

/// One batch, three events: a full buffer refuses the whole request, then
/// takes one event, refuses one for good and has no room for the third,
/// which is sent again alone, unchanged. Every request carries the
/// provider's credentials and selector.
#[tokio::test]
async fn full_buffers_are_retried_and_refusals_counted() {
    let script = Arc::new(Script::default());
    script.answers.lock().expect("lock").extend([
        (
            503,
            Some("1"),
            json!({"errorCode": "BUFFER_FULL", "errorDetails": "none of the 3 events was accepted"}),
        ),
        (
            202,
            None,
            json!({"accepted": 1, "rejected": [
                {"index": 1, "code": "BUFFER_FULL", "details": "full"},
                {"index": 2, "code": "INVALID_NAME", "details": "too long"}
            ]}),
        ),
    ]);
    let addr = scripted(Arc::clone(&script)).await;
    let provider = RemoteProvider::builder(format!("http://{addr}"))
        .api_key("key-1")
        .bearer_token("token-1")
        .selector(APP)
        .build()
        .expect("the provider builds");
    for name in ["a", "b", "c"] {
        provider.track(name, &user("u1"), None);
    }
    provider.flush().await;
    assert_eq!(
        provider.tracking_counts(),
        TrackingCounts {
            sent: 2,
            rejected: 1,
            dropped: 0,
            retries: 2,
        }
    );
    let requests = script.requests.lock().expect("lock");
    let names: Vec<Vec<&str>> = requests
        .iter()
        .map(|(_, body)| {
            body["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|event| event["name"].as_str().expect("a name"))
                .collect()
        })
        .collect();
    assert_eq!(names, [vec!["a", "b", "c"], vec!["a", "b", "c"], vec!["b"]]);
    assert_eq!(
        requests[2].1["events"][0], requests[0].1["events"][1],
        "sent again as it was, time included"
    );
    for (headers, _) in requests.iter() {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(header("x-api-key"), Some("key-1"));
        assert_eq!(header("authorization"), Some("Bearer token-1"));
        assert_eq!(header("flagd-selector"), Some(APP));
    }
}
