//! A whole server on ephemeral ports: readiness, metrics, the OFREP change
//! stream over a real connection, file sources and their failures, and
//! shutdown.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use provider::server::sources::{SourceKind, SourceSpec};
use provider::server::{Server, ServerConfig};

const SHOP: &str = include_str!("../data/shop.flags.json");

fn config(sources: Vec<SourceSpec>) -> ServerConfig {
    ServerConfig {
        bind: [127, 0, 0, 1].into(),
        port: 0,
        sync_port: 0,
        ofrep_port: 0,
        management_port: 0,
        sources,
        ..ServerConfig::default()
    }
}

fn text_source(name: &str, text: &str) -> SourceSpec {
    SourceSpec {
        name: name.into(),
        kind: SourceKind::Text { text: text.into() },
    }
}

/// A fresh directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ensign-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch directory can be made");
    dir
}

/// Polls `check` until it holds (a few seconds at most).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn evaluate(server: &Server, key: &str) -> Value {
    reqwest::Client::new()
        .post(format!(
            "http://{}/ofrep/v1/evaluate/flags/{key}",
            server.ofrep_addr
        ))
        .json(&json!({"context": {}}))
        .send()
        .await
        .expect("the OFREP listener answers")
        .json()
        .await
        .expect("a JSON body")
}

async fn get(server: &Server, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{}{path}", server.management_addr))
        .await
        .expect("the management listener answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn readiness_and_metrics() {
    let server = Server::start(config(vec![text_source("shop.json", SHOP)]))
        .await
        .expect("the server starts");
    eventually("ready", || async { get(&server, "/readyz").await.0 == 200 }).await;
    assert_eq!(get(&server, "/healthz").await, (200, "ok\n".into()));
    assert_eq!(evaluate(&server, "banner").await["value"], json!(false));
    assert_eq!(
        evaluate(&server, "nope").await["errorCode"],
        json!("FLAG_NOT_FOUND")
    );
    assert_eq!(
        evaluate(&server, "broken-ref").await["errorCode"],
        json!("PARSE_ERROR")
    );
    let (status, metrics) = get(&server, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            "ensign_evaluations_total{flag_set=\"shop\",reason=\"STATIC\",error_code=\"\"} 1\n"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "ensign_evaluations_total{flag_set=\"shop\",reason=\"ERROR\",error_code=\"PARSE_ERROR\"} 1\n"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("ensign_evaluation_duration_seconds_count 2\n"),
        "{metrics}"
    );
    assert!(metrics.contains("ensign_ready 1\n"), "{metrics}");
    assert!(
        metrics.contains("ensign_snapshot_age_seconds "),
        "{metrics}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn not_ready_until_every_source_loaded() {
    let dir = scratch("not-ready");
    let missing = dir.join("later.json");
    let server = Server::start(config(vec![
        text_source("shop.json", SHOP),
        SourceSpec {
            name: "later".into(),
            kind: SourceKind::File {
                path: missing.clone(),
            },
        },
    ]))
    .await
    .expect("the server starts");
    eventually("the missing file is counted", || async {
        get(&server, "/metrics")
            .await
            .1
            .contains("ensign_sync_errors_total{source=\"later\"}")
    })
    .await;
    assert_eq!(get(&server, "/readyz").await.0, 503);
    // Flags of the loaded source are served meanwhile.
    assert_eq!(evaluate(&server, "banner").await["value"], json!(false));
    std::fs::write(&missing, r#"{"flags":{}}"#).expect("write");
    eventually("ready", || async { get(&server, "/readyz").await.0 == 200 }).await;
    server.shutdown().await;
}

#[tokio::test]
async fn file_edits_are_served_and_broken_edits_keep_the_last_good_state() {
    let dir = scratch("file-edits");
    let path = dir.join("flags.json");
    std::fs::write(&path, SHOP).expect("write");
    let server = Server::start(config(vec![SourceSpec {
        name: "flags".into(),
        kind: SourceKind::File { path: path.clone() },
    }]))
    .await
    .expect("the server starts");
    eventually("ready", || async { get(&server, "/readyz").await.0 == 200 }).await;
    assert_eq!(evaluate(&server, "banner").await["value"], json!(false));

    // An edit through a rename, as editors and ConfigMaps do it.
    let edited = SHOP.replacen(
        "\"defaultVariant\": \"off\"",
        "\"defaultVariant\": \"on\"",
        1,
    );
    std::fs::write(dir.join("flags.json.tmp"), &edited).expect("write");
    std::fs::rename(dir.join("flags.json.tmp"), &path).expect("rename");
    eventually("the edit is served", || async {
        evaluate(&server, "banner").await["value"] == json!(true)
    })
    .await;

    // Text that does not parse changes nothing, and is counted.
    std::fs::write(&path, "{ not json").expect("write");
    eventually("the failure is counted", || async {
        get(&server, "/metrics")
            .await
            .1
            .contains("ensign_sync_errors_total{source=\"flags\"} 1\n")
    })
    .await;
    assert_eq!(evaluate(&server, "banner").await["value"], json!(true));

    // An invalid flag keeps its last good version while the others update.
    let mixed = edited
        .replacen(
            "\"defaultVariant\": \"on\"",
            "\"defaultVariant\": \"missing\"",
            1,
        )
        .replace(
            "\"defaultVariant\": \"light\"",
            "\"defaultVariant\": \"dark\"",
        );
    std::fs::write(&path, mixed).expect("write");
    eventually("the valid flag updates", || async {
        evaluate(&server, "theme").await["value"] == json!({"bg": "#000"})
    })
    .await;
    assert_eq!(evaluate(&server, "banner").await["value"], json!(true));
    assert!(
        get(&server, "/metrics")
            .await
            .1
            .contains("ensign_flag_diagnostics_total{source=\"flags\"}")
    );
    server.shutdown().await;
}

/// Reads SSE events (id and data) from a response body until `n` arrived.
async fn read_events(
    body: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
    n: usize,
) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    while events.len() < n {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim_start().to_owned())
            };
            if let (Some(id), Some(data)) = (field("id:"), field("data:")) {
                events.push((id, serde_json::from_str(&data).expect("event data is JSON")));
            }
        }
        if events.len() >= n {
            break;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("an event arrives in time")
            .expect("the stream is open")
            .expect("the stream reads");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
    events
}

#[tokio::test]
async fn change_stream_catches_up_announces_changes_and_ends_at_shutdown() {
    let server = Server::start(config(vec![text_source("shop.json", SHOP)]))
        .await
        .expect("the server starts");
    eventually("ready", || async { get(&server, "/readyz").await.0 == 200 }).await;
    let current = format!("{:016x}", server.flags().snapshot().version());

    // Connecting with the current version: nothing to catch up on.
    let response = reqwest::Client::new()
        .get(format!("http://{}/ofrep/v1/events", server.ofrep_addr))
        .header("last-event-id", &current)
        .send()
        .await
        .expect("the stream opens");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut body = response.bytes_stream();
    let mut buffer = String::new();

    // A client that is behind is told at once.
    let behind = reqwest::get(format!(
        "http://{}/ofrep/v1/events?etag=0000000000000000",
        server.ofrep_addr
    ))
    .await
    .expect("the stream opens");
    let mut behind_body = behind.bytes_stream();
    let mut behind_buffer = String::new();
    let caught_up = read_events(&mut behind_body, &mut behind_buffer, 1).await;
    assert_eq!(caught_up[0].0, current);
    assert_eq!(caught_up[0].1["type"], json!("refetchEvaluation"));
    assert_eq!(caught_up[0].1["etag"], json!(current));

    // A change reaches both.
    let changed = SHOP.replace(
        "\"defaultVariant\": \"light\"",
        "\"defaultVariant\": \"dark\"",
    );
    let (snapshot, _) = engine::Snapshot::from_text(
        "shop.json",
        &changed,
        engine::Format::Json,
        &engine::CompileOptions::default(),
    )
    .expect("parses");
    let changes = server.flags().publish(snapshot).await;
    assert_eq!(changes.changed, ["theme"]);
    let new = format!("{:016x}", changes.new_version);
    let events = read_events(&mut body, &mut buffer, 1).await;
    assert_eq!(events[0].0, new);
    assert_eq!(events[0].1["etag"], json!(new));
    assert!(
        events[0].1["lastModified"]
            .as_u64()
            .is_some_and(|t| t > 1_700_000_000)
    );
    assert_eq!(
        read_events(&mut behind_body, &mut behind_buffer, 1).await[0].0,
        new
    );

    // Shutdown ends the stream cleanly.
    let shutdown = tokio::spawn(server.shutdown());
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                return false;
            }
        }
        true
    })
    .await;
    assert_eq!(end, Ok(true), "the stream ends without an error");
    tokio::time::timeout(Duration::from_secs(15), shutdown)
        .await
        .expect("shutdown completes")
        .expect("shutdown does not panic");
}

/// A flag file served over HTTP with ETags, whose content and status the
/// test changes; counts requests and conditional hits.
#[derive(Default)]
struct Origin {
    body: std::sync::Mutex<(u16, String)>,
    requests: std::sync::atomic::AtomicUsize,
    not_modified: std::sync::atomic::AtomicUsize,
}

async fn serve_origin(origin: std::sync::Arc<Origin>) -> std::net::SocketAddr {
    use warp::Filter;
    let route = warp::path!("flags.json")
        .and(warp::header::optional::<String>("if-none-match"))
        .and(warp::header::optional::<String>("authorization"))
        .map(move |tag: Option<String>, auth: Option<String>| {
            use std::sync::atomic::Ordering;
            origin.requests.fetch_add(1, Ordering::SeqCst);
            let (status, body) = origin.body.lock().expect("lock").clone();
            let etag = format!("\"{:x}\"", body.len() * 31 + usize::from(status));
            let builder = warp::http::Response::builder().header("etag", &etag);
            if auth.as_deref() != Some("Bearer secret") {
                return builder.status(401).body(String::new()).expect("response");
            }
            if tag.as_deref() == Some(etag.as_str()) {
                origin.not_modified.fetch_add(1, Ordering::SeqCst);
                return builder.status(304).body(String::new()).expect("response");
            }
            builder.status(status).body(body).expect("response")
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(warp::serve(route).incoming(listener).run());
    addr
}

#[tokio::test]
async fn http_sources_poll_with_etags_and_survive_failures() {
    use std::sync::atomic::Ordering;
    let origin = std::sync::Arc::new(Origin::default());
    *origin.body.lock().expect("lock") = (200, SHOP.to_owned());
    let addr = serve_origin(std::sync::Arc::clone(&origin)).await;
    let url = format!("http://{addr}/flags.json");
    let server = Server::start(config(vec![SourceSpec {
        name: url.clone(),
        kind: SourceKind::Http {
            url,
            bearer_token: Some("secret".into()),
            interval: Duration::from_millis(100),
        },
    }]))
    .await
    .expect("the server starts");
    eventually("ready", || async { get(&server, "/readyz").await.0 == 200 }).await;
    assert_eq!(evaluate(&server, "banner").await["value"], json!(false));
    eventually("a conditional poll hits", || async {
        origin.not_modified.load(Ordering::SeqCst) >= 2
    })
    .await;

    // The origin fails: the last good flags keep being served.
    *origin.body.lock().expect("lock") = (500, "oops".into());
    eventually("the failure is counted", || async {
        get(&server, "/metrics")
            .await
            .1
            .contains("ensign_sync_errors_total{source=\"http://")
    })
    .await;
    assert_eq!(evaluate(&server, "banner").await["value"], json!(false));

    // It recovers with new content.
    let edited = SHOP.replacen(
        "\"defaultVariant\": \"off\"",
        "\"defaultVariant\": \"on\"",
        1,
    );
    *origin.body.lock().expect("lock") = (200, edited);
    eventually("the new content is served", || async {
        evaluate(&server, "banner").await["value"] == json!(true)
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn grpc_sources_follow_an_upstream_and_survive_its_restart() {
    let upstream = Server::start(config(vec![text_source("shop.json", SHOP)]))
        .await
        .expect("the upstream starts");
    let sync_addr = upstream.sync_addr.expect("a TCP sync listener");
    let downstream = Server::start(config(vec![SourceSpec {
        name: "upstream".into(),
        kind: SourceKind::Grpc {
            target: sync_addr.to_string(),
            tls: false,
            selector: Some("flagSetId=shop".into()),
        },
    }]))
    .await
    .expect("the downstream starts");
    eventually("ready", || async {
        get(&downstream, "/readyz").await.0 == 200
    })
    .await;
    assert_eq!(evaluate(&downstream, "banner").await["value"], json!(false));
    // Flag-set metadata travels with each flag.
    assert_eq!(
        evaluate(&downstream, "banner").await["metadata"]["team"],
        json!("checkout")
    );

    // A change upstream arrives downstream.
    let edited = SHOP.replacen(
        "\"defaultVariant\": \"off\"",
        "\"defaultVariant\": \"on\"",
        1,
    );
    let (snapshot, _) = engine::Snapshot::from_text(
        "shop.json",
        &edited,
        engine::Format::Json,
        &engine::CompileOptions::default(),
    )
    .expect("parses");
    upstream.flags().publish(snapshot).await;
    eventually("the change arrives", || async {
        evaluate(&downstream, "banner").await["value"] == json!(true)
    })
    .await;

    // The upstream goes away: the downstream keeps serving and counts it.
    upstream.shutdown().await;
    eventually("the loss is counted", || async {
        get(&downstream, "/metrics")
            .await
            .1
            .contains("ensign_sync_errors_total{source=\"upstream\"}")
    })
    .await;
    assert_eq!(evaluate(&downstream, "banner").await["value"], json!(true));

    // It comes back on the same port, with the original flags.
    let restarted = Server::start(ServerConfig {
        sync_port: sync_addr.port(),
        ..config(vec![text_source("shop.json", SHOP)])
    })
    .await
    .expect("the upstream restarts on its port");
    eventually("the downstream resyncs", || async {
        evaluate(&downstream, "banner").await["value"] == json!(false)
    })
    .await;
    restarted.shutdown().await;
    downstream.shutdown().await;
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish_and_refuses_new_ones() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start(config(vec![text_source("shop.json", SHOP)]))
        .await
        .expect("the server starts");
    eventually("ready", || async { server.flags().is_ready() }).await;
    let addr = server.ofrep_addr;
    let body = r#"{"context":{}}"#;
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let head = format!(
        "POST /ofrep/v1/evaluate/flags/banner HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    // Half the body now: the request is in flight when shutdown begins.
    stream.write_all(head.as_bytes()).await.expect("writes");
    stream
        .write_all(&body.as_bytes()[..5])
        .await
        .expect("writes");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let shutdown = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections once shutdown began"
    );
    stream
        .write_all(&body.as_bytes()[5..])
        .await
        .expect("writes");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("reads");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(r#""value":false,"reason":"STATIC","variant":"off","metadata":{"flagSetId":"shop","owner":"growth","team":"checkout"}}"#), "{response}");
    tokio::time::timeout(Duration::from_secs(15), shutdown)
        .await
        .expect("shutdown completes")
        .expect("shutdown does not panic");
}

fn flag_document(flag_set: &str, default: &str) -> Value {
    json!({
        "flags": {"banner": {
            "state": "ENABLED",
            "variants": {"on": true, "off": false},
            "defaultVariant": default,
        }},
        "metadata": {"flagSetId": flag_set},
    })
}

async fn evaluate_in(server: &Server, key: &str, selector: &str) -> Value {
    reqwest::Client::new()
        .post(format!(
            "http://{}/ofrep/v1/evaluate/flags/{key}",
            server.ofrep_addr
        ))
        .header("flagd-selector", selector)
        .json(&json!({"context": {}}))
        .send()
        .await
        .expect("the OFREP listener answers")
        .json()
        .await
        .expect("a JSON body")
}

/// An in-process feed delivers several flag sets at once; each new state
/// replaces the last, so a flag set left out is no longer served.
#[tokio::test]
async fn a_feed_delivers_several_flag_sets_and_replaces_them() {
    let (sender, feed) = provider::server::sources::feed::channel();
    let server = Server::start(config(vec![SourceSpec {
        name: "store".into(),
        kind: SourceKind::Feed { feed },
    }]))
    .await
    .expect("the server starts");
    assert_eq!(
        get(&server, "/readyz").await.0,
        503,
        "ready before any state"
    );

    sender.send(vec![
        ("production".into(), flag_document("production", "on")),
        ("staging".into(), flag_document("staging", "off")),
    ]);
    eventually("the feed's first state is served", || async {
        get(&server, "/readyz").await.0 == 200
    })
    .await;
    let production = evaluate_in(&server, "banner", "flagSetId=production").await;
    assert_eq!(production["value"], true, "{production}");
    let staging = evaluate_in(&server, "banner", "flagSetId=staging").await;
    assert_eq!(staging["value"], false, "{staging}");

    sender.send(vec![(
        "production".into(),
        flag_document("production", "off"),
    )]);
    eventually("the second state is served", || async {
        evaluate_in(&server, "banner", "flagSetId=production").await["value"] == false
    })
    .await;
    let gone = evaluate_in(&server, "banner", "flagSetId=staging").await;
    assert_eq!(gone["errorCode"], "FLAG_NOT_FOUND", "{gone}");
    server.shutdown().await;
}

async fn ofrep_with_key(
    server: &Server,
    path: &str,
    key: Option<&str>,
    selector: Option<&str>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!(
            "http://{}/ofrep/v1/evaluate/flags{path}",
            server.ofrep_addr
        ))
        .json(&json!({"context": {}}));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(selector) = selector {
        request = request.header("flagd-selector", selector);
    }
    let response = request.send().await.expect("the OFREP listener answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// SDK keys delivered with flag sets: once any exists, a key is needed; a
/// key is bound to its flag set, a client key to its client-visible flags,
/// and a key left out of a new delivery stops working.
#[tokio::test]
async fn sdk_keys_delivered_with_flag_sets_bind_requests() {
    use engine::publication::{Access, SdkKey};
    use provider::server::keys::hash;

    let (sender, feed) = provider::server::sources::feed::channel();
    let server = Server::start(config(vec![SourceSpec {
        name: "store".into(),
        kind: SourceKind::Feed { feed },
    }]))
    .await
    .expect("the server starts");
    let mut web = flag_document("web", "on");
    web["flags"]["secret"] = web["flags"]["banner"].clone();
    let documents = vec![
        ("web".to_owned(), web),
        ("batch".to_owned(), flag_document("batch", "off")),
    ];
    let access = |keys: Vec<SdkKey>| {
        vec![(
            "web".to_owned(),
            Access {
                keys,
                client_visible: vec!["banner".into()],
                required: true,
            },
        )]
    };
    let server_key = SdkKey {
        hash: hash("srv-key"),
        client: false,
    };
    let client_key = SdkKey {
        hash: hash("cli-key"),
        client: true,
    };
    sender.send_with_access(
        documents.clone(),
        access(vec![server_key.clone(), client_key]),
    );
    eventually("the feed is served", || async {
        get(&server, "/readyz").await.0 == 200
    })
    .await;

    let (status, body) = ofrep_with_key(&server, "/banner", None, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = ofrep_with_key(&server, "/banner", Some("guess"), None).await;
    assert_eq!(status, 401);

    // A server key evaluates every flag of its flag set, and only there.
    let (status, body) = ofrep_with_key(&server, "/secret", Some("srv-key"), None).await;
    assert_eq!((status, &body["value"]), (200, &json!(true)), "{body}");
    let (status, body) =
        ofrep_with_key(&server, "/banner", Some("srv-key"), Some("flagSetId=batch")).await;
    assert_eq!(status, 403, "{body}");

    // A client key sees only client-visible flags.
    let (status, body) = ofrep_with_key(&server, "/banner", Some("cli-key"), None).await;
    assert_eq!((status, &body["value"]), (200, &json!(true)), "{body}");
    let (status, body) = ofrep_with_key(&server, "/secret", Some("cli-key"), None).await;
    assert_eq!(
        (status, &body["errorCode"]),
        (404, &json!("FLAG_NOT_FOUND")),
        "{body}"
    );
    let (status, body) = ofrep_with_key(&server, "", Some("cli-key"), None).await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = body["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["banner"], "{body}");
    let (_, body) = ofrep_with_key(&server, "", Some("srv-key"), None).await;
    assert_eq!(body["flags"].as_array().unwrap().len(), 2, "{body}");

    // The next delivery without the client key revokes it.
    sender.send_with_access(documents, access(vec![server_key]));
    eventually("the revoked key is refused", || async {
        ofrep_with_key(&server, "/banner", Some("cli-key"), None)
            .await
            .0
            == 401
    })
    .await;
    assert_eq!(
        ofrep_with_key(&server, "/banner", Some("srv-key"), None)
            .await
            .0,
        200
    );
    server.shutdown().await;
}

/// A source URL's credentials and query values never reach a metric label
/// or a flag-set id (the source's name, when the file names none): both
/// show the URL redacted.
#[tokio::test]
async fn http_source_secrets_stay_out_of_metrics_and_flag_set_names() {
    let origin = std::sync::Arc::new(Origin::default());
    // Without `flagSetId`, the flag set is named after its source.
    let unnamed = SHOP.replacen("\"flagSetId\": \"shop\", ", "", 1);
    assert_ne!(unnamed, SHOP, "the fixture names its flag set");
    *origin.body.lock().expect("lock") = (200, unnamed);
    let addr = serve_origin(std::sync::Arc::clone(&origin)).await;
    let sources = SourceSpec::from_sources_json(&format!(
        r#"[{{"uri": "http://{addr}/flags.json?token=t0ken-in-query#frag-secret",
              "provider": "http", "bearerToken": "secret"}},
            {{"uri": "http://ops:hunter2@{addr}/flags.json?password=pa55word",
              "provider": "http", "bearerToken": "secret"}}]"#
    ))
    .expect("the sources parse");
    let server = Server::start(config(sources))
        .await
        .expect("the server starts");
    // The first source loads; the second one is refused (its userinfo
    // becomes a second Authorization header) and counts sync errors.
    eventually("the flags are served", || async {
        evaluate(&server, "banner").await["value"] == json!(false)
    })
    .await;
    let redacted_failure = format!("http://***@{addr}/flags.json?password=***");
    eventually("the failure is counted", || async {
        get(&server, "/metrics").await.1.contains(&format!(
            "ensign_sync_errors_total{{source=\"{redacted_failure}\"}}"
        ))
    })
    .await;
    let metrics = get(&server, "/metrics").await.1;
    let named = format!("flag_set=\"http://{addr}/flags.json?token=***\"");
    assert!(metrics.contains(&named), "{named} in {metrics}");
    for secret in [
        "t0ken-in-query",
        "frag-secret",
        "hunter2",
        "ops:",
        "pa55word",
    ] {
        assert!(!metrics.contains(secret), "{secret} leaked into {metrics}");
    }
    server.shutdown().await;
}
