//! `POST /ensign/v1/exposures`: exposures from in-process evaluators,
//! checked against the flags this node serves, recorded like any other,
//! and bad input refused with its code, whole or item by item.

use std::sync::Arc;

use serde_json::{Value, json};
use warp::http::StatusCode;

use engine::{CompileOptions, Format, Snapshot};
use provider::server::Flags;
use provider::server::exposures::{ExposureSettings, Surface};
use provider::server::ofrep::{self, OfrepConfig};

const FLAGS: &str = r#"{"metadata": {"flagSetId": "shop"}, "flags": {
    "checkout": {"state": "ENABLED", "variants": {"a": 1, "b": 2}, "defaultVariant": "a",
                 "metadata": {"ensign.experiment": "checkout-test"},
                 "targeting": {"fractional": [["a", 50], ["b", 50]]}},
    "plain": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}
}}"#;

async fn flags() -> Arc<Flags> {
    let flags = Flags::new(serde_json::Map::new());
    let (snapshot, _) =
        Snapshot::from_text("shop.json", FLAGS, Format::Json, &CompileOptions::default())
            .expect("the flags parse");
    flags.publish(snapshot).await;
    flags.set_ready();
    flags
}

async fn post(flags: &Arc<Flags>, body: &str) -> (StatusCode, Value) {
    let response = warp::test::request()
        .method("POST")
        .path("/ensign/v1/exposures")
        .header("content-type", "application/json")
        .body(body)
        .reply(&ofrep::routes(Arc::clone(flags), OfrepConfig::default()))
        .await;
    (
        response.status(),
        serde_json::from_slice(response.body()).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn valid_exposures_are_recorded_and_bad_ones_listed() {
    let flags = flags().await;
    let mut queue = flags
        .exposures()
        .attach(&ExposureSettings::default())
        .unwrap();
    let body = json!({"exposures": [
        {"flagKey": "checkout", "variant": "b", "targetingKey": "u1", "timestamp": "2026-12-06T10:00:00.000123Z"},
        {"flagKey": "checkout", "variant": "a", "targetingKey": "u2"},
        {"flagKey": "checkout", "variant": "z", "targetingKey": "u3"},
        {"flagKey": "plain", "variant": "on", "targetingKey": "u4"},
        {"flagKey": "missing", "variant": "a", "targetingKey": "u5"},
        {"flagKey": "checkout", "variant": "a", "targetingKey": ""},
        {"flagKey": "checkout", "variant": "a", "targetingKey": "u6", "timestamp": "yesterday"},
        {"flagKey": "checkout", "variant": "a", "targetingKey": "u7", "timestamp": "2999-01-01T00:00:00Z"},
        {"flagKey": "checkout", "variant": "a"},
        {"flagKey": "checkout", "variant": "a", "targetingKey": "u8", "extra": 1}
    ]});
    let (status, answer) = post(&flags, &body.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["accepted"], 2, "{answer}");
    let rejected: Vec<(u64, &str)> = answer["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejected,
        [
            (2, "UNKNOWN_VARIANT"),
            (3, "NOT_TRACKED"),
            (4, "FLAG_NOT_FOUND"),
            (5, "TARGETING_KEY_MISSING"),
            (6, "INVALID_TIMESTAMP"),
            (7, "TIMESTAMP_IN_FUTURE"),
            (8, "INVALID_EXPOSURE"),
            (9, "INVALID_EXPOSURE"),
        ]
    );
    let recorded = queue.drain();
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        (
            recorded[0].scope.experiment.as_str(),
            recorded[0].scope.flag_set.as_str(),
            recorded[0].scope.variant.as_str(),
            recorded[0].targeting_key.as_str(),
            recorded[0].scope.surface,
            recorded[0].at_micros
        ),
        (
            "checkout-test",
            "shop",
            "b",
            "u1",
            Surface::InProcess,
            1_796_551_200_000_123
        )
    );
    // The same user and variant again is deduplicated, not recorded twice.
    let again =
        json!({"exposures": [{"flagKey": "checkout", "variant": "a", "targetingKey": "u2"}]});
    let (status, answer) = post(&flags, &again.to_string()).await;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (StatusCode::ACCEPTED, Some(1))
    );
    assert!(queue.drain().is_empty());
}

/// With the evaluation's context, the node decides whether the split
/// picked the variant: an OpenFeature hook sees only the reason.
#[tokio::test]
async fn with_a_context_the_node_decides_what_is_an_exposure() {
    const BRANCHED: &str = r#"{"metadata": {"flagSetId": "shop"}, "flags": {
        "checkout": {"state": "ENABLED", "variants": {"a": 1, "b": 2, "staff": 3}, "defaultVariant": "a",
                     "metadata": {"ensign.experiment": "checkout-test"},
                     "targeting": {"if": [{"var": "staff"}, "staff", {"fractional": [["a", 50], ["b", 50]]}]}}
    }}"#;
    let flags = Flags::new(serde_json::Map::new());
    let (snapshot, _) = Snapshot::from_text(
        "shop.json",
        BRANCHED,
        Format::Json,
        &CompileOptions::default(),
    )
    .expect("the flags parse");
    flags.publish(snapshot).await;
    let mut queue = flags
        .exposures()
        .attach(&ExposureSettings::default())
        .unwrap();
    let split = flags
        .snapshot()
        .evaluate(
            "checkout",
            &engine::Selector::All,
            &json!({"targetingKey": "u1"}),
        )
        .variant
        .unwrap()
        .to_owned();
    let other = if split == "a" { "b" } else { "a" };
    let body = json!({"exposures": [
        {"flagKey": "checkout", "variant": split, "targetingKey": "u1", "context": {"plan": "pro"}},
        {"flagKey": "checkout", "variant": other, "targetingKey": "u1", "context": {}},
        {"flagKey": "checkout", "variant": "staff", "targetingKey": "u2", "context": {"staff": true}},
        {"flagKey": "checkout", "variant": split, "targetingKey": "u1", "context": {"targetingKey": "u9"}}
    ]});
    let (status, answer) = post(&flags, &body.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["accepted"], 1, "{answer}");
    let codes: Vec<&str> = answer["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "NOT_AN_EXPOSURE",
            "NOT_AN_EXPOSURE",
            "TARGETING_KEY_MISMATCH"
        ]
    );
    let recorded = queue.drain();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        (
            recorded[0].targeting_key.as_str(),
            recorded[0].scope.variant.as_str()
        ),
        ("u1", split.as_str())
    );
}

#[tokio::test]
async fn a_body_that_is_not_exposures_is_refused_whole() {
    let flags = flags().await;
    let mut queue = flags
        .exposures()
        .attach(&ExposureSettings::default())
        .unwrap();
    let too_many = json!({"exposures": vec![json!({"flagKey": "checkout", "variant": "a", "targetingKey": "u"}); 1001]});
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for (body, code) in [
        ("{not json".to_owned(), "INVALID_BODY"),
        ("[]".to_owned(), "INVALID_BODY"),
        (r#"{"exposures": {}}"#.to_owned(), "INVALID_BODY"),
        (r#"{"exposure": []}"#.to_owned(), "INVALID_BODY"),
        (format!(r#"{{"exposures": {deep}}}"#), "INVALID_BODY"),
        (too_many.to_string(), "TOO_MANY_EXPOSURES"),
    ] {
        let (status, answer) = post(&flags, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["errorCode"], code, "{answer}");
    }
    assert!(queue.drain().is_empty(), "nothing was recorded");
}
