//! The server's listeners as flagd's clients reach them: gRPC evaluation
//! and sync on TCP and on unix sockets, and TLS on every TCP listener.

use std::path::Path;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use serde_json::json;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use provider::proto::evaluation::v1;
use provider::proto::sync::v1 as sync;
use provider::server::sources::{SourceKind, SourceSpec};
use provider::server::{Server, ServerConfig};

const SHOP: &str = include_str!("../data/shop.flags.json");
const CERT: &str = include_str!("../data/localhost.cert.pem");

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn config() -> ServerConfig {
    ServerConfig {
        bind: [127, 0, 0, 1].into(),
        port: 0,
        sync_port: 0,
        ofrep_port: 0,
        management_port: 0,
        sources: vec![SourceSpec {
            name: "shop.json".into(),
            kind: SourceKind::Text { text: SHOP.into() },
        }],
        ..ServerConfig::default()
    }
}

async fn ready(server: &Server) {
    for _ in 0..100 {
        if server.flags().is_ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server never became ready");
}

async fn resolve_banner(channel: tonic::transport::Channel) -> (bool, String) {
    let mut client = v1::service_client::ServiceClient::new(channel);
    let answer = client
        .resolve_boolean(v1::ResolveBooleanRequest {
            flag_key: "banner".into(),
            context: None,
        })
        .await
        .expect("the flag resolves")
        .into_inner();
    (answer.value, answer.reason)
}

#[tokio::test]
async fn grpc_evaluation_and_sync_on_tcp() {
    let server = Server::start(config()).await.expect("the server starts");
    ready(&server).await;
    let addr = server.evaluation_addr.expect("a TCP evaluation listener");
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects");
    assert_eq!(resolve_banner(channel).await, (false, "STATIC".into()));

    let sync_addr = server.sync_addr.expect("a TCP sync listener");
    let channel = Endpoint::from_shared(format!("http://{sync_addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connects");
    let all = sync::flag_sync_service_client::FlagSyncServiceClient::new(channel)
        .fetch_all_flags(sync::FetchAllFlagsRequest::default())
        .await
        .expect("fetches")
        .into_inner();
    let payload: serde_json::Value =
        serde_json::from_str(&all.flag_configuration).expect("the payload is JSON");
    assert_eq!(payload["flags"]["banner"]["defaultVariant"], json!("off"));
    server.shutdown().await;
}

#[tokio::test]
async fn grpc_evaluation_on_a_unix_socket() {
    let socket = std::env::temp_dir().join(format!("ensign-{}.sock", std::process::id()));
    let server = Server::start(ServerConfig {
        socket_path: Some(socket.clone()),
        ..config()
    })
    .await
    .expect("the server starts");
    ready(&server).await;
    assert_eq!(server.evaluation_addr, None);
    assert!(server.sync_addr.is_some(), "sync stays on TCP");
    let channel = unix_channel(&socket).await;
    assert_eq!(resolve_banner(channel).await, (false, "STATIC".into()));
    server.shutdown().await;
    let _ = std::fs::remove_file(socket);
}

/// A plain-text gRPC channel over the unix socket at `path`.
async fn unix_channel(path: &Path) -> tonic::transport::Channel {
    let path = path.to_owned();
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move {
                tokio::net::UnixStream::connect(path)
                    .await
                    .map(TokioIo::new)
            }
        }))
        .await
        .expect("connects over the socket")
}

async fn fetch_all(channel: tonic::transport::Channel) -> serde_json::Value {
    let all = sync::flag_sync_service_client::FlagSyncServiceClient::new(channel)
        .fetch_all_flags(sync::FetchAllFlagsRequest::default())
        .await
        .expect("fetches")
        .into_inner();
    serde_json::from_str(&all.flag_configuration).expect("the payload is JSON")
}

/// flagd's `--sync-socket-path`: the sync service on a unix socket instead
/// of its port, in plain text like the evaluation socket even when every
/// TCP listener has TLS, beside an evaluation socket of its own.
#[tokio::test]
async fn grpc_sync_on_a_unix_socket_without_tls() {
    let dir = std::env::temp_dir().join(format!("ensign-sync-socket-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let (evaluation, sync) = (dir.join("flagd.sock"), dir.join("flagd-sync.sock"));
    let server = Server::start(ServerConfig {
        socket_path: Some(evaluation.clone()),
        sync_socket_path: Some(sync.clone()),
        tls: Some((data("localhost.cert.pem"), data("localhost.key.pem"))),
        ..config()
    })
    .await
    .expect("the server starts");
    ready(&server).await;
    assert_eq!((server.evaluation_addr, server.sync_addr), (None, None));

    let payload = fetch_all(unix_channel(&sync).await).await;
    assert_eq!(payload["flags"]["banner"]["defaultVariant"], json!("off"));
    let mut stream =
        sync::flag_sync_service_client::FlagSyncServiceClient::new(unix_channel(&sync).await)
            .sync_flags(sync::SyncFlagsRequest::default())
            .await
            .expect("the stream opens")
            .into_inner();
    let first = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("the first message comes")
        .expect("the stream carries it")
        .expect("a message, not the end");
    assert!(first.flag_configuration.contains("\"banner\""), "{first:?}");
    assert_eq!(
        resolve_banner(unix_channel(&evaluation).await).await,
        (false, "STATIC".into())
    );
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn one_unix_socket_cannot_carry_both_services() {
    let socket = std::env::temp_dir().join(format!("ensign-shared-{}.sock", std::process::id()));
    let refused = Server::start(ServerConfig {
        socket_path: Some(socket.clone()),
        sync_socket_path: Some(socket.clone()),
        ..config()
    })
    .await
    .map(|_| ())
    .map_err(|e| e.to_string());
    assert_eq!(
        refused,
        Err(format!(
            "the evaluation and sync services cannot share the unix socket {}",
            socket.display()
        ))
    );
}

/// Binding replaces a stale socket file, never a file of another kind that
/// a mistyped path names.
#[tokio::test]
async fn a_socket_path_naming_a_regular_file_is_refused_and_kept() {
    let file = std::env::temp_dir().join(format!("ensign-not-a-socket-{}", std::process::id()));
    std::fs::write(&file, "keep me").expect("a scratch file");
    let refused = Server::start(ServerConfig {
        sync_socket_path: Some(file.clone()),
        ..config()
    })
    .await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().starts_with("binding unix socket")),
        "{refused:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).ok().as_deref(),
        Some("keep me")
    );
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn tls_on_every_listener() {
    let server = Server::start(ServerConfig {
        tls: Some((data("localhost.cert.pem"), data("localhost.key.pem"))),
        ..config()
    })
    .await
    .expect("the server starts");
    ready(&server).await;

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(CERT.as_bytes()).expect("a PEM"))
        .build()
        .expect("client");
    for (addr, path) in [
        (server.management_addr, "/readyz"),
        (server.ofrep_addr, "/ofrep/v1/evaluate/flags/banner"),
    ] {
        let url = format!("https://localhost:{}{path}", addr.port());
        let response = if path.starts_with("/ofrep") {
            client.post(&url).json(&json!({"context": {}})).send().await
        } else {
            client.get(&url).send().await
        };
        assert_eq!(
            response.as_ref().map(|r| r.status().as_u16()).ok(),
            Some(200),
            "{url}: {response:?}"
        );
    }
    // Plain HTTP is refused on a TLS listener.
    let plain = reqwest::get(format!(
        "http://127.0.0.1:{}/readyz",
        server.management_addr.port()
    ))
    .await;
    assert!(plain.is_err() || plain.is_ok_and(|r| !r.status().is_success()));

    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(CERT))
        .domain_name("localhost");
    let sync_addr = server.sync_addr.expect("TCP sync listener");
    for addr in [
        server.evaluation_addr.expect("TCP evaluation listener"),
        sync_addr,
    ] {
        let channel = Endpoint::from_shared(format!("https://localhost:{}", addr.port()))
            .expect("endpoint")
            .tls_config(tls.clone())
            .expect("TLS config")
            .connect()
            .await
            .expect("connects with TLS");
        if addr == sync_addr {
            let all = sync::flag_sync_service_client::FlagSyncServiceClient::new(channel)
                .fetch_all_flags(sync::FetchAllFlagsRequest::default())
                .await;
            assert!(all.is_ok(), "{all:?}");
        } else {
            assert_eq!(resolve_banner(channel).await, (false, "STATIC".into()));
        }
    }
    server.shutdown().await;
}
