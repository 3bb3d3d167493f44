//! OFREP handlers without sockets (`warp::test::request`): statuses and
//! bodies as `ofrep/openapi.yaml` defines them, ETags, explain, CORS, bad
//! input, and the change-notification stream.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use warp::http::StatusCode;

use bytes::Bytes;
use http_body_util::Full;

use engine::{CompileOptions, Format, Snapshot};
use provider::server::Flags;
use provider::server::listen::HttpService;
use provider::server::ofrep::{self, OfrepConfig};

const SHOP: &str = include_str!("../data/shop.flags.json");

/// A state serving the shop flags, with this static context.
async fn shop_with(static_context: Map<String, Value>) -> Arc<Flags> {
    let flags = Flags::new(static_context);
    let (snapshot, _) =
        Snapshot::from_text("shop.json", SHOP, Format::Json, &CompileOptions::default())
            .expect("the shop flags parse");
    flags.publish(snapshot).await;
    flags.set_ready();
    flags
}

async fn shop() -> Arc<Flags> {
    shop_with(Map::new()).await
}

/// Posts `body` as JSON to `path`; returns status, headers and parsed body
/// (`Value::Null` for an empty body). The request goes both through the
/// routes alone and as a listener answers it (the hot path first), which
/// must answer alike.
async fn post(
    flags: &Arc<Flags>,
    config: OfrepConfig,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (StatusCode, warp::http::HeaderMap, Value) {
    let mut request = warp::test::request()
        .method("POST")
        .path(path)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .body(body)
        .reply(&ofrep::routes(Arc::clone(flags), config.clone()))
        .await;
    let (status, listener_headers, listener_body) =
        through_listener(flags, config, path, headers, body).await;
    assert_eq!(
        (status, String::from_utf8_lossy(&listener_body)),
        (response.status(), String::from_utf8_lossy(response.body())),
        "the listener and the routes answer {path} alike"
    );
    for name in ["content-type", "etag", "retry-after"] {
        assert_eq!(
            listener_headers.get(name),
            response.headers().get(name),
            "{name} of {path}"
        );
    }
    let parsed = if response.body().is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(response.body()).expect("every OFREP body is JSON")
    };
    (response.status(), response.headers().clone(), parsed)
}

/// Sends a request as the OFREP listener receives it, to a service of its
/// own.
async fn through_listener(
    flags: &Arc<Flags>,
    config: OfrepConfig,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (StatusCode, warp::http::HeaderMap, Bytes) {
    let (routes, hot) = ofrep::service(Arc::clone(flags), config);
    listener_post(&HttpService::new(routes, hot), path, headers, body).await
}

/// Posts to a service as the listener receives requests.
async fn listener_post(
    service: &HttpService,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (StatusCode, warp::http::HeaderMap, Bytes) {
    use http_body_util::BodyExt as _;
    let mut request = warp::http::Request::post(path)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("a valid request");
    // Each header replaces one of the same name, as with warp's test requests.
    for (name, value) in headers {
        request.headers_mut().insert(
            warp::http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            warp::http::HeaderValue::from_bytes(value.as_bytes()).expect("a header value"),
        );
    }
    let response = service.call(request, PEER).await;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("a body").to_bytes();
    (parts.status, parts.headers, body)
}

/// The client address of requests sent as the listener receives them.
const PEER: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

async fn evaluate(flags: &Arc<Flags>, key: &str, context: Value) -> (StatusCode, Value) {
    let body = json!({ "context": context }).to_string();
    let (status, _, body) = post(
        flags,
        OfrepConfig::default(),
        &format!("/ofrep/v1/evaluate/flags/{key}"),
        &[],
        body.as_bytes(),
    )
    .await;
    (status, body)
}

#[tokio::test]
async fn single_evaluation_success_bodies() {
    let flags = shop().await;
    let (status, body) = evaluate(&flags, "color", json!({"email": "ada@example.com"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"key": "color", "value": "#00f", "reason": "TARGETING_MATCH", "variant": "blue",
               "metadata": {"flagSetId": "shop", "team": "checkout"}})
    );
    let (_, body) = evaluate(&flags, "banner", json!({})).await;
    assert_eq!(
        body,
        json!({"key": "banner", "value": false, "reason": "STATIC", "variant": "off",
               "metadata": {"flagSetId": "shop", "team": "checkout", "owner": "growth"}})
    );
    let (_, body) = evaluate(&flags, "region-price", json!({"region": "eu"})).await;
    assert_eq!(body["value"], json!(9.5));
    let (_, body) = evaluate(&flags, "theme", json!({})).await;
    assert_eq!(body["value"], json!({"bg": "#fff"}));
    // A null targeting result falls back to the default variant, as in flagd.
    let (_, body) = evaluate(&flags, "color", json!({"email": "x@other.org"})).await;
    assert_eq!(
        (&body["reason"], &body["variant"]),
        (&json!("DEFAULT"), &json!("red"))
    );
}

#[tokio::test]
async fn code_default_outcomes_carry_no_value() {
    let flags = shop().await;
    let (status, body) = evaluate(&flags, "retired", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["reason"], json!("DISABLED"));
    assert!(body.get("value").is_none(), "{body}");
    let (status, body) = evaluate(&flags, "no-default", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("value").is_none(), "{body}");
}

#[tokio::test]
async fn evaluation_failures_are_400_and_unknown_flags_404() {
    let flags = shop().await;
    let (status, body) = evaluate(&flags, "broken-ref", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["key"], json!("broken-ref"));
    assert_eq!(body["errorCode"], json!("PARSE_ERROR"));
    assert!(body["errorDetails"].is_string());

    let (status, body) = evaluate(&flags, "nope", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"key": "nope", "errorCode": "FLAG_NOT_FOUND", "errorDetails": "flag \"nope\" was not found"})
    );
}

/// The flagd parity rules over OFREP, which is untyped: an array variant
/// (outside flagd's schema, and a type mismatch for a typed object request)
/// is answered as the array; a disabled flag whose targeting does not
/// compile is DISABLED; `defaultVariant: ""` is no default variant.
#[tokio::test]
async fn flagd_parity_rules_hold_over_ofrep() {
    let flags = Flags::new(Map::new());
    let text = r#"{"flags": {
        "lists": {"state": "ENABLED", "variants": {"a": [1, "two"], "b": {"k": 1}}, "defaultVariant": "a"},
        "killed": {"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
                   "targeting": {"if": [{"$ref": "gone"}, "on", "off"]}},
        "unset": {"state": "ENABLED", "variants": {"a": "x", "": "y"}, "defaultVariant": ""}
    }}"#;
    let (snapshot, _) = Snapshot::from_text(
        "parity.json",
        text,
        Format::Json,
        &CompileOptions::default(),
    )
    .expect("the flags parse");
    flags.publish(snapshot).await;
    flags.set_ready();
    let outcome = |body: &Value| {
        (
            body["reason"].clone(),
            body.get("variant").cloned(),
            body.get("value").cloned(),
        )
    };
    let (status, body) = evaluate(&flags, "lists", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        outcome(&body),
        (json!("STATIC"), Some(json!("a")), Some(json!([1, "two"])))
    );
    let (status, body) = evaluate(&flags, "killed", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(outcome(&body), (json!("DISABLED"), None, None));
    let (status, body) = evaluate(&flags, "unset", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(outcome(&body), (json!("DEFAULT"), None, None));
}

/// One bad request: status, error code, and a phrase of the details.
#[track_caller]
fn check_failure(got: (StatusCode, Value), status: u16, code: &str, phrase: &str) {
    let (got_status, body) = got;
    assert_eq!(got_status.as_u16(), status, "{body}");
    assert_eq!(body["errorCode"], json!(code), "{body}");
    let details = body["errorDetails"].as_str().unwrap_or_default();
    assert!(details.contains(phrase), "{details:?} lacks {phrase:?}");
}

#[tokio::test]
async fn bad_input_gets_the_right_status_and_an_ofrep_error_body() {
    let flags = shop().await;
    let config = OfrepConfig {
        body_limit: 2048,
        ..OfrepConfig::default()
    };
    let send = |path: &'static str, headers: Vec<(&'static str, &'static str)>, body: Vec<u8>| {
        let (flags, config) = (Arc::clone(&flags), config.clone());
        async move {
            let (status, _, body) = post(&flags, config, path, &headers, &body).await;
            (status, body)
        }
    };
    let single = "/ofrep/v1/evaluate/flags/banner";
    let bulk = "/ofrep/v1/evaluate/flags";
    for path in [single, bulk] {
        check_failure(
            send(path, vec![], b"{\"context\":".to_vec()).await,
            400,
            "INVALID_CONTEXT",
            "not valid JSON",
        );
        check_failure(
            send(path, vec![], b"[1,2]".to_vec()).await,
            400,
            "INVALID_CONTEXT",
            "must be a JSON object",
        );
        check_failure(
            send(path, vec![], br#"{"context":[1]}"#.to_vec()).await,
            400,
            "INVALID_CONTEXT",
            "must be a JSON object",
        );
        check_failure(
            send(path, vec![], b"{\"context\":{\"a\":\"\xff\"}}".to_vec()).await,
            400,
            "INVALID_CONTEXT",
            "not UTF-8",
        );
        let deep = format!(
            "{{\"context\":{}1{}}}",
            "{\"a\":".repeat(150),
            "}".repeat(150)
        );
        check_failure(
            send(path, vec![], deep.into_bytes()).await,
            400,
            "INVALID_CONTEXT",
            "recursion limit",
        );
        check_failure(
            send(path, vec![], vec![b' '; 3000]).await,
            413,
            "GENERAL",
            "larger than 2048 bytes",
        );
        check_failure(
            send(path, vec![("content-type", "text/plain")], b"{}".to_vec()).await,
            415,
            "GENERAL",
            "must be application/json, not text/plain",
        );
    }
    check_failure(
        send("/ofrep/v1/evaluate/flags/%FF", vec![], b"{}".to_vec()).await,
        400,
        "GENERAL",
        "not UTF-8",
    );
    check_failure(
        send("/ofrep/v1/evaluate/flags/a%0Ab", vec![], b"{}".to_vec()).await,
        400,
        "GENERAL",
        "control character",
    );
    check_failure(
        send("/ofrep/v1/evaluate/nothing", vec![], b"{}".to_vec()).await,
        404,
        "GENERAL",
        "no such endpoint",
    );

    let response = warp::test::request()
        .method("GET")
        .path(single)
        .reply(&ofrep::routes(Arc::clone(&flags), OfrepConfig::default()))
        .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = serde_json::from_slice(response.body()).expect("JSON error body");
    assert_eq!(body["errorCode"], json!("GENERAL"));
}

/// Bodies other than `{"context": {...}}` alone are read in full: their
/// context is found wherever it is, and malformed ones are refused.
#[tokio::test]
async fn bodies_of_other_shapes_are_read_in_full() {
    let flags = shop().await;
    let path = "/ofrep/v1/evaluate/flags/color";
    let matched = json!({"key": "color", "value": "#00f", "reason": "TARGETING_MATCH",
        "variant": "blue", "metadata": {"flagSetId": "shop", "team": "checkout"}});
    for body in [
        r#"{"context":{"email":"ada@example.com"},"extra":{"email":"x@other.org"}}"#,
        r#"{"extra":1,"context":{"email":"ada@example.com"}}"#,
        r#" { "context" : { "email" : "ada@example.com" } } "#,
    ] {
        let (status, _, got) =
            post(&flags, OfrepConfig::default(), path, &[], body.as_bytes()).await;
        assert_eq!((status, &got), (StatusCode::OK, &matched), "{body}");
    }
    for body in [
        r#"{"context":{}"#,
        r#"{"context":{}}}"#,
        r#"{"context":{},}"#,
    ] {
        let got = post(&flags, OfrepConfig::default(), path, &[], body.as_bytes()).await;
        check_failure((got.0, got.2), 400, "INVALID_CONTEXT", "not valid JSON");
    }
}

#[tokio::test]
async fn a_missing_context_is_an_empty_one() {
    let flags = shop().await;
    let (status, _, body) = post(
        &flags,
        OfrepConfig::default(),
        "/ofrep/v1/evaluate/flags/banner",
        &[],
        b"{}",
    )
    .await;
    assert_eq!((status, &body["value"]), (StatusCode::OK, &json!(false)));
}

#[tokio::test]
async fn bulk_evaluation_lists_every_flag_with_an_etag() {
    let flags = shop().await;
    let body = json!({"context": {"email": "ada@example.com", "region": "eu"}}).to_string();
    let (status, headers, bulk) = post(
        &flags,
        OfrepConfig::default(),
        "/ofrep/v1/evaluate/flags",
        &[],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&str> = bulk["flags"]
        .as_array()
        .map(|flags| flags.iter().filter_map(|f| f["key"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "banner",
            "broken-ref",
            "color",
            "no-default",
            "region-price",
            "retired",
            "theme"
        ]
    );
    let color = bulk["flags"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["key"] == "color"));
    assert_eq!(color.map(|c| &c["value"]), Some(&json!("#00f")));
    let broken = bulk["flags"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["key"] == "broken-ref"));
    assert_eq!(broken.map(|c| &c["errorCode"]), Some(&json!("PARSE_ERROR")));
    assert_eq!(
        bulk["metadata"],
        json!({"flagSetId": "shop", "team": "checkout"})
    );
    assert_eq!(bulk["eventStreams"][0]["type"], json!("sse"));
    let uri = bulk["eventStreams"][0]["endpoint"]["requestUri"]
        .as_str()
        .unwrap_or_default();
    assert!(uri.starts_with("/ofrep/v1/events?etag="), "{uri}");

    let etag = headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(etag.starts_with('"') && etag.len() == 18, "{etag}");
    // Same flags, same context: 304 with no body.
    let (status, headers, body304) = post(
        &flags,
        OfrepConfig::default(),
        "/ofrep/v1/evaluate/flags",
        &[("if-none-match", &etag)],
        body.as_bytes(),
    )
    .await;
    assert_eq!((status, body304), (StatusCode::NOT_MODIFIED, Value::Null));
    assert_eq!(
        headers.get("etag").and_then(|v| v.to_str().ok()),
        Some(etag.as_str())
    );
    let weak = format!("\"other\", W/{etag}");
    let (status, _, _) = post(
        &flags,
        OfrepConfig::default(),
        "/ofrep/v1/evaluate/flags",
        &[("if-none-match", &weak)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    // Another context is another response.
    let (status, headers, _) = post(
        &flags,
        OfrepConfig::default(),
        "/ofrep/v1/evaluate/flags",
        &[("if-none-match", &etag)],
        br#"{"context":{"region":"us"}}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(
        headers.get("etag").and_then(|v| v.to_str().ok()),
        Some(etag.as_str())
    );
    // Changed flags: a new ETag.
    let changed = SHOP.replace(
        "\"defaultVariant\": \"light\"",
        "\"defaultVariant\": \"dark\"",
    );
    let (snapshot, _) = Snapshot::from_text(
        "shop.json",
        &changed,
        Format::Json,
        &CompileOptions::default(),
    )
    .expect("parses");
    flags.publish(snapshot).await;
    let (status, _, _) = post(
        &flags,
        OfrepConfig::default(),
        "/ofrep/v1/evaluate/flags",
        &[("if-none-match", &etag)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn selectors_pick_a_flag_set() {
    let flags = Flags::new(Map::new());
    let other = r#"{"metadata":{"flagSetId":"other"},"flags":{"banner":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"}}}"#;
    let options = CompileOptions::default();
    let (snapshot, _) =
        Snapshot::from_text("shop.json", SHOP, Format::Json, &options).expect("parses");
    let (snapshot, _) = snapshot
        .reload_source("other.json", other, Format::Json, &options)
        .expect("parses");
    flags.publish(snapshot).await;
    let path = "/ofrep/v1/evaluate/flags/banner";
    let (_, _, body) = post(&flags, OfrepConfig::default(), path, &[], b"{}").await;
    assert_eq!(
        body["value"],
        json!(true),
        "the later source wins without a selector"
    );
    let (_, _, body) = post(
        &flags,
        OfrepConfig::default(),
        path,
        &[("flagd-selector", "flagSetId=shop")],
        b"{}",
    )
    .await;
    assert_eq!(body["value"], json!(false));
    let (_, _, bulk) = post(
        &flags,
        OfrepConfig::default(),
        "/ofrep/v1/evaluate/flags",
        &[("flagd-selector", "flagSetId=other")],
        b"{}",
    )
    .await;
    assert_eq!(bulk["flags"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        bulk["metadata"],
        json!({"flagSetId": "other"}),
        "only the selected flag set's metadata"
    );
}

#[tokio::test]
async fn static_context_is_merged_and_wins() {
    let mut static_context = Map::new();
    static_context.insert("region".into(), json!("eu"));
    let flags = shop_with(static_context).await;
    let (_, body) = evaluate(&flags, "region-price", json!({"region": "us"})).await;
    assert_eq!(body["value"], json!(9.5));
}

#[tokio::test]
async fn explain_adds_the_decision_path_as_one_string() {
    let flags = shop().await;
    let body = json!({"context": {"email": "ada@example.com"}}).to_string();
    let path = "/ofrep/v1/evaluate/flags/color";
    let (_, _, plain) = post(&flags, OfrepConfig::default(), path, &[], body.as_bytes()).await;
    assert!(plain["metadata"].get("ensign.explain").is_none());
    let (status, _, explained) = post(
        &flags,
        OfrepConfig::default(),
        path,
        &[("x-ensign-explain", "true")],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let trace = explained["metadata"]["ensign.explain"]
        .as_str()
        .unwrap_or_default();
    assert!(trace.contains("/if"), "{trace}");
    assert_eq!(explained["value"], plain["value"]);
}

/// Explain reads rule structure: it is answered to static API keys, to
/// server SDK keys and on a node without keys, never to a client SDK key
/// (whose header is ignored, so its answer is the plain one), single and
/// bulk, both ways.
#[tokio::test]
async fn explain_is_never_answered_to_client_keys() {
    use engine::publication::{Access, SdkKey};
    use provider::server::admission::ApiKey;
    use provider::server::keys::hash;

    let open = shop().await;
    let keyed = shop().await;
    let key = |secret: &str, client| SdkKey {
        hash: hash(secret),
        client,
    };
    keyed.sdk_keys().set(
        0,
        vec![(
            "shop".to_owned(),
            Access {
                keys: vec![key("srv-key", false), key("cli-key", true)],
                client_visible: vec!["color".into()],
                required: true,
            },
        )],
    );
    let with_static = OfrepConfig {
        api_keys: vec![ApiKey {
            key: "static-key".into(),
            selector: None,
        }],
        ..OfrepConfig::default()
    };
    let body = json!({"context": {"email": "ada@example.com"}}).to_string();

    #[track_caller]
    fn explained(answer: &Value) -> bool {
        answer["metadata"].get("ensign.explain").is_some()
    }
    let cases: [(&Arc<Flags>, &OfrepConfig, Option<&str>, bool); 4] = [
        (&open, &OfrepConfig::default(), None, true),
        (&keyed, &with_static, Some("static-key"), true),
        (&keyed, &OfrepConfig::default(), Some("srv-key"), true),
        (&keyed, &OfrepConfig::default(), Some("cli-key"), false),
    ];
    for (flags, config, key, expect) in cases {
        let mut headers = vec![("x-ensign-explain", "true")];
        if let Some(key) = key {
            headers.push(("x-api-key", key));
        }
        let single = "/ofrep/v1/evaluate/flags/color";
        let (status, _, answer) =
            post(flags, config.clone(), single, &headers, body.as_bytes()).await;
        assert_eq!(status, StatusCode::OK, "{key:?}: {answer}");
        assert_eq!(answer["value"], json!("#00f"), "{key:?}");
        assert_eq!(explained(&answer), expect, "single, {key:?}: {answer}");

        let bulk = "/ofrep/v1/evaluate/flags";
        let (status, _, answer) =
            post(flags, config.clone(), bulk, &headers, body.as_bytes()).await;
        assert_eq!(status, StatusCode::OK, "{key:?}: {answer}");
        let flags = answer["flags"].as_array().cloned().unwrap_or_default();
        assert!(!flags.is_empty(), "{key:?}: {answer}");
        assert!(
            flags.iter().all(|flag| explained(flag) == expect),
            "bulk, {key:?}: {answer}"
        );
    }
}

/// Numbers at the edges of JSON: the single evaluation (which reads only
/// the paths its flag needs) refuses exactly what a full parse refuses (the
/// bulk evaluation's), whether the number sits on a path the flag reads or
/// deep in a member it skips, and both ways.
#[tokio::test]
async fn numbers_at_the_edges_get_the_same_answer_everywhere() {
    let flags = shop().await;
    let numbers = [
        "1e400",
        "-1e400",
        "1e308",
        "-1e308",
        "1.7976931348623157e308",
        "1.7976931348623159e308",
        "-0",
        "-0.0",
        "1.0e-400",
        "-1e-400",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "123456789012345678901234567890",
        &"9".repeat(308),
        &"9".repeat(309),
        &"9".repeat(400),
        &format!("0.{}1", "0".repeat(400)),
        &format!("{}.0", "1".repeat(320)),
        "1E+2",
        "1e-2",
        "1E2",
        "01",
        "-01",
        "00",
        ".5",
        "5.",
        "-",
        "+1",
        "1e",
        "1e+",
        "NaN",
        "Infinity",
        "-Infinity",
    ];
    let mut failures = Vec::new();
    for number in numbers {
        for context in [
            format!(r#"{{"region": {number}}}"#),
            format!(r#"{{"other": {{"deep": [1, {{"x": [{number}]}}]}}, "region": "eu"}}"#),
            format!(r#"{{"region": "eu", "tail": {number}}}"#),
        ] {
            let body = format!(r#"{{"context": {context}}}"#);
            let expect = if serde_json::from_str::<Value>(&body).is_ok() {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            let single = "/ofrep/v1/evaluate/flags/region-price";
            let (status, _, answer) =
                post(&flags, OfrepConfig::default(), single, &[], body.as_bytes()).await;
            if status != expect {
                failures.push(format!(
                    "single {context}: {status} {answer}, expected {expect}"
                ));
            } else if status == StatusCode::BAD_REQUEST
                && answer["errorCode"] != json!("INVALID_CONTEXT")
            {
                failures.push(format!("single {context}: {answer}"));
            }
            let bulk = "/ofrep/v1/evaluate/flags";
            let (status, _, answer) =
                post(&flags, OfrepConfig::default(), bulk, &[], body.as_bytes()).await;
            if status != expect {
                failures.push(format!(
                    "bulk {context}: {status} {answer}, expected {expect}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn cors_allows_configured_origins() {
    let flags = shop().await;
    let config = OfrepConfig {
        cors_origins: vec!["https://app.example".into()],
        ..OfrepConfig::default()
    };
    let routes = ofrep::routes(Arc::clone(&flags), config);
    let preflight = warp::test::request()
        .method("OPTIONS")
        .path("/ofrep/v1/evaluate/flags")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,if-none-match",
        )
        .reply(&routes)
        .await;
    assert_eq!(preflight.status(), StatusCode::OK);
    assert_eq!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.example")
    );
    let response = warp::test::request()
        .method("POST")
        .path("/ofrep/v1/evaluate/flags")
        .header("origin", "https://app.example")
        .header("content-type", "application/json")
        .body("{}")
        .reply(&routes)
        .await;
    let exposed = response
        .headers()
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(exposed.contains("etag"), "{exposed}");
    let foreign = warp::test::request()
        .method("OPTIONS")
        .path("/ofrep/v1/evaluate/flags")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .reply(&routes)
        .await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn api_keys_and_rate_limits_answer_401_403_429() {
    keys_and_limits(false).await;
    keys_and_limits(true).await;
}

/// Keys and rate limits through the routes alone, or as the listener
/// answers (the hot path first).
async fn keys_and_limits(via_listener: bool) {
    use provider::server::admission::{ApiKey, RateLimit};
    let flags = shop().await;
    let config = OfrepConfig {
        api_keys: vec![
            ApiKey {
                key: "k1".into(),
                selector: None,
            },
            ApiKey {
                key: "shop".into(),
                selector: Some("flagSetId=shop".into()),
            },
        ],
        rate_limit: Some(RateLimit {
            requests_per_second: std::num::NonZeroU32::MIN,
            burst: std::num::NonZeroU32::new(3),
        }),
        ..OfrepConfig::default()
    };
    // One service, so the rate limiter's state carries across requests.
    let (routes, hot) = ofrep::service(Arc::clone(&flags), config);
    let service = HttpService::new(routes.clone(), hot);
    let send = |headers: Vec<(&'static str, &'static str)>| {
        let mut request = warp::test::request()
            .method("POST")
            .path("/ofrep/v1/evaluate/flags/banner")
            .header("content-type", "application/json")
            .body("{}");
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let (routes, service) = (routes.clone(), service.clone());
        async move {
            let (status, headers, body) = if via_listener {
                let path = "/ofrep/v1/evaluate/flags/banner";
                listener_post(&service, path, &headers, b"{}").await
            } else {
                let response = request.reply(&routes).await;
                let (parts, body) = response.into_parts();
                (parts.status, parts.headers, body)
            };
            let body: Value = serde_json::from_slice(&body).expect("a JSON body");
            (status, headers, body)
        }
    };
    let (status, _, body) = send(vec![]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["errorCode"], json!("GENERAL"));
    assert_eq!(
        send(vec![("x-api-key", "nope")]).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _, body) = send(vec![("authorization", "Bearer k1")]).await;
    assert_eq!((status, &body["value"]), (StatusCode::OK, &json!(false)));
    let (status, _, body) = send(vec![
        ("x-api-key", "shop"),
        ("flagd-selector", "flagSetId=other"),
    ])
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // k1 has used one of its three; two more pass, the fourth is limited.
    for _ in 0..2 {
        assert_eq!(send(vec![("x-api-key", "k1")]).await.0, StatusCode::OK);
    }
    let (status, headers, body) = send(vec![("x-api-key", "k1")]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let retry: u64 = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(retry >= 1, "Retry-After is a positive number of seconds");
    assert_eq!(body["errorCode"], json!("GENERAL"));
}
