//! `POST /ensign/v1/events`: tracking events from applications, recorded
//! for the flag set of the caller's key, bad input refused with its code,
//! whole or event by event, and nothing recorded of what is refused.

use std::sync::Arc;

use serde_json::{Value, json};
use warp::http::StatusCode;

use engine::{CompileOptions, Format, Snapshot, SourceState};
use provider::server::Flags;
use provider::server::admission::{ApiKey, RateLimit};
use provider::server::ofrep::{self, OfrepConfig};
use provider::server::outbox::OutboxSettings;
use provider::server::tracking::TrackedEvent;

const SHOP: &str = r#"{"metadata": {"flagSetId": "shop"}, "flags": {
    "checkout": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a"}
}}"#;
const OPS: &str = r#"{"metadata": {"flagSetId": "ops"}, "flags": {
    "maintenance": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}
}}"#;

async fn flags_of(files: &[(&str, &str)]) -> Arc<Flags> {
    let flags = Flags::new(serde_json::Map::new());
    let sources = files
        .iter()
        .map(|(name, text)| {
            let (file, _) = engine::model::parse(text, Format::Json).expect("the flags parse");
            let (set, _) = engine::FlagSet::compile(name, &file, &CompileOptions::default(), None);
            SourceState {
                name: (*name).into(),
                set: Arc::new(set),
            }
        })
        .collect();
    flags.publish(Snapshot::from_sources(sources)).await;
    flags.set_ready();
    flags
}

async fn shop() -> Arc<Flags> {
    flags_of(&[("shop.json", SHOP)]).await
}

async fn post_with(
    routes: &warp::filters::BoxedFilter<(warp::reply::Response,)>,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, warp::http::HeaderMap, Value) {
    let mut request = warp::test::request()
        .method("POST")
        .path("/ensign/v1/events")
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.reply(routes).await;
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

async fn post(flags: &Arc<Flags>, body: &str) -> (StatusCode, Value) {
    let routes = ofrep::routes(Arc::clone(flags), OfrepConfig::default());
    let (status, _, body) = post_with(&routes, &[], body).await;
    (status, body)
}

fn codes(answer: &Value) -> Vec<(u64, String)> {
    answer["rejected"]
        .as_array()
        .map(|rejected| {
            rejected
                .iter()
                .map(|r| {
                    (
                        r["index"].as_u64().unwrap(),
                        r["code"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn valid_events_are_recorded_and_bad_ones_listed_by_index() {
    let flags = shop().await;
    let mut queue = flags.tracking().attach(&OutboxSettings::default()).unwrap();
    let long = "k".repeat(1025);
    let body = json!({"events": [
        {"name": "purchase", "context": {"targetingKey": "u1", "plan": "pro"},
         "details": {"value": 12.5, "currency": "EUR", "items": [1, 2]},
         "timestamp": "2026-12-06T10:00:00.000123Z"},
        {"name": "signup", "context": {"targetingKey": "u2"}},
        {"name": "purchase", "context": {"targetingKey": "u3"}, "details": {"value": "12.5"}},
        {"name": "purchase", "context": {"targetingKey": "u4"}, "details": {"value": "HUGE"}},
        {"name": "purchase", "context": {"targetingKey": "u5"}, "timestamp": "2999-01-01T00:00:00Z"},
        {"name": "purchase", "context": {"targetingKey": "u6"}, "timestamp": "yesterday"},
        {"name": "purchase", "context": {}},
        {"name": "purchase", "context": {"targetingKey": 7}},
        {"name": "", "context": {"targetingKey": "u7"}},
        {"name": 5, "context": {"targetingKey": "u8"}},
        {"name": "purchase", "context": {"targetingKey": "u9"}, "extra": true},
        "purchase",
        {"name": "purchase", "context": {"targetingKey": long}},
        {"name": "purchase", "context": {"targetingKey": "u10"},
         "details": {"blob": "x".repeat(17 * 1024)}},
        {"name": "refund", "context": {"targetingKey": "u11"}, "details": {"value": null}}
    ]});
    // A number JSON can write but no float can hold.
    let body = body.to_string().replace("\"HUGE\"", "1e999");
    let (status, answer) = post(&flags, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["accepted"], 3, "{answer}");
    let expected: Vec<(u64, String)> = [
        (2, "INVALID_VALUE"),
        (3, "INVALID_VALUE"),
        (4, "TIMESTAMP_IN_FUTURE"),
        (5, "INVALID_TIMESTAMP"),
        (6, "TARGETING_KEY_MISSING"),
        (7, "INVALID_TARGETING_KEY"),
        (8, "INVALID_NAME"),
        (9, "INVALID_EVENT"),
        (10, "INVALID_EVENT"),
        (11, "INVALID_EVENT"),
        (12, "INVALID_TARGETING_KEY"),
        (13, "ATTRIBUTES_TOO_LARGE"),
    ]
    .into_iter()
    .map(|(index, code)| (index, code.to_owned()))
    .collect();
    assert_eq!(codes(&answer), expected);
    let recorded = queue.drain();
    assert_eq!(recorded.len(), 3);
    let first = &recorded[0];
    assert_eq!(
        (
            &*first.flag_set,
            first.name.as_str(),
            first.targeting_key.as_str(),
            first.value,
            first.attributes.as_str(),
            first.at_micros
        ),
        (
            "shop",
            "purchase",
            "u1",
            Some(12.5),
            r#"{"currency":"EUR","items":[1,2]}"#,
            1_796_551_200_000_123
        )
    );
    assert!(first.received_micros > first.at_micros);
    // No timestamp: the time of receipt. No details: no value, no
    // attributes. A null value is no value.
    let signup = &recorded[1];
    assert_eq!(signup.at_micros, signup.received_micros);
    assert_eq!((signup.value, signup.attributes.as_str()), (None, ""));
    assert_eq!(
        (recorded[2].name.as_str(), recorded[2].value),
        ("refund", None)
    );
}

#[tokio::test]
async fn a_request_none_of_whose_events_is_valid_is_a_400_and_records_nothing() {
    let flags = shop().await;
    let mut queue = flags.tracking().attach(&OutboxSettings::default()).unwrap();
    let (status, answer) = post(
        &flags,
        r#"{"events": [{"name": "purchase", "context": {"targetingKey": "u1"}, "details": {"value": 1e400}}]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["errorCode"], "INVALID_VALUE", "{answer}");
    assert_eq!(codes(&answer), [(0, "INVALID_VALUE".to_owned())]);
    let (status, answer) = post(
        &flags,
        r#"{"events": [{"name": "purchase", "context": {}}, {"name": "purchase", "context": {"targetingKey": "u1"}, "timestamp": "2999-01-01T00:00:00Z"}]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["errorCode"], "INVALID_EVENTS", "{answer}");
    assert_eq!(codes(&answer).len(), 2);
    assert!(queue.drain().is_empty(), "nothing was recorded");
    // An empty batch is no error.
    let (status, answer) = post(&flags, r#"{"events": []}"#).await;
    assert_eq!(
        (status, &answer["accepted"]),
        (StatusCode::ACCEPTED, &json!(0))
    );
}

#[tokio::test]
async fn a_body_that_is_not_events_is_refused_whole() {
    let flags = shop().await;
    let mut queue = flags.tracking().attach(&OutboxSettings::default()).unwrap();
    let event = json!({"name": "purchase", "context": {"targetingKey": "u"}});
    let too_many = json!({"events": vec![event.clone(); 1001]});
    // Nested as deep as the body limit allows.
    let deep = format!("{}{}", "[".repeat(500_000), "]".repeat(500_000));
    let deep_event = format!(
        r#"{{"events": [{{"name": "purchase", "context": {{"targetingKey": "u"}}, "details": {{"x": {}{}}}}}]}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    for (body, code) in [
        ("{not json".to_owned(), "INVALID_BODY"),
        ("[]".to_owned(), "INVALID_BODY"),
        (r#"{"events": {}}"#.to_owned(), "INVALID_BODY"),
        (r#"{"event": []}"#.to_owned(), "INVALID_BODY"),
        (r#"{"events": [], "more": 1}"#.to_owned(), "INVALID_BODY"),
        // An array is the events, each of which is refused on its own.
        (format!(r#"{{"events": {deep}}}"#), "INVALID_EVENT"),
        (format!(r#"{{"events": [{deep}]}}"#), "INVALID_EVENT"),
        (format!(r#"{{"events": [], "x": {deep}}}"#), "INVALID_BODY"),
        (deep_event, "INVALID_EVENT"),
        (too_many.to_string(), "TOO_MANY_EVENTS"),
    ] {
        let (status, answer) = post(&flags, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["errorCode"], code, "{answer}");
    }
    // Larger than the body limit: 413, read no further.
    let huge = json!({"events": [
        {"name": "purchase", "context": {"targetingKey": "u"}, "details": {"blob": "x".repeat(2 << 20)}}
    ]});
    let (status, _) = post(&flags, &huge.to_string()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(queue.drain().is_empty(), "nothing was recorded");
}

#[tokio::test]
async fn a_node_with_nowhere_to_hand_events_refuses_them() {
    let flags = shop().await;
    let (status, answer) = post(
        &flags,
        r#"{"events": [{"name": "purchase", "context": {"targetingKey": "u1"}}]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["errorCode"], "EVENTS_NOT_RECORDED");
}

#[tokio::test]
async fn a_full_buffer_refuses_what_it_cannot_take_so_it_can_be_sent_again() {
    let flags = shop().await;
    let mut queue = flags
        .tracking()
        .attach(&OutboxSettings {
            buffer: 2,
            ..OutboxSettings::default()
        })
        .unwrap();
    let event = json!({"name": "purchase", "context": {"targetingKey": "u1"}});
    let body = json!({"events": [event, event, event]}).to_string();
    let (status, answer) = post(&flags, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["accepted"], 2);
    assert_eq!(codes(&answer), [(2, "BUFFER_FULL".to_owned())]);
    let routes = ofrep::routes(Arc::clone(&flags), OfrepConfig::default());
    let (status, headers, answer) = post_with(&routes, &[], &body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["errorCode"], "BUFFER_FULL");
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(queue.drain().len(), 2);
    let counts = flags.tracking().outbox().counts();
    assert_eq!(
        counts.dropped.load(std::sync::atomic::Ordering::Relaxed),
        4,
        "every refusal is counted"
    );
}

/// Each event belongs to the flag set of the key that sent it; without
/// keys, to the one flag set the selector picks.
#[tokio::test]
async fn events_belong_to_the_flag_set_of_the_callers_key() {
    let flags = flags_of(&[("shop.json", SHOP), ("ops.json", OPS)]).await;
    let mut queue = flags.tracking().attach(&OutboxSettings::default()).unwrap();
    let body = r#"{"events": [{"name": "purchase", "context": {"targetingKey": "u1"}}]}"#;
    let open = ofrep::routes(Arc::clone(&flags), OfrepConfig::default());
    let (status, _, answer) = post_with(&open, &[], body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["errorCode"], "FLAG_SET_REQUIRED");
    let (status, _, answer) = post_with(&open, &[("flagd-selector", "flagSetId=nope")], body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["errorCode"], "FLAG_SET_NOT_FOUND");
    let (status, _, answer) = post_with(&open, &[("flagd-selector", "flagSetId=ops")], body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");

    let keyed = ofrep::routes(
        Arc::clone(&flags),
        OfrepConfig {
            api_keys: vec![ApiKey {
                key: "shop-key".into(),
                selector: Some("flagSetId=shop".into()),
            }],
            ..OfrepConfig::default()
        },
    );
    let (status, _, _) = post_with(&keyed, &[], body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, answer) = post_with(&keyed, &[("x-api-key", "shop-key")], body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    // A key bound to one flag set cannot send events for another.
    let (status, _, _) = post_with(
        &keyed,
        &[
            ("x-api-key", "shop-key"),
            ("flagd-selector", "flagSetId=ops"),
        ],
        body,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let sets: Vec<String> = queue
        .drain()
        .iter()
        .map(|event: &TrackedEvent| event.flag_set.to_string())
        .collect();
    assert_eq!(sets, ["ops", "shop"]);
}

/// Events and evaluations draw on one rate limit per key.
#[tokio::test]
async fn events_share_the_callers_rate_limit() {
    let flags = shop().await;
    let _queue = flags.tracking().attach(&OutboxSettings::default()).unwrap();
    let (routes, _) = ofrep::service(
        Arc::clone(&flags),
        OfrepConfig {
            api_keys: vec![ApiKey {
                key: "k1".into(),
                selector: None,
            }],
            rate_limit: Some(RateLimit {
                requests_per_second: std::num::NonZeroU32::MIN,
                burst: std::num::NonZeroU32::new(2),
            }),
            ..OfrepConfig::default()
        },
    );
    let evaluation = warp::test::request()
        .method("POST")
        .path("/ofrep/v1/evaluate/flags/checkout")
        .header("content-type", "application/json")
        .header("x-api-key", "k1")
        .body("{}")
        .reply(&routes)
        .await;
    assert_eq!(evaluation.status(), StatusCode::OK);
    let body = r#"{"events": [{"name": "purchase", "context": {"targetingKey": "u1"}}]}"#;
    let (status, _, _) = post_with(&routes, &[("x-api-key", "k1")], body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, headers, answer) = post_with(&routes, &[("x-api-key", "k1")], body).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert!(headers.contains_key("retry-after"));
}
