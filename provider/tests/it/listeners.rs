//! The server's listeners as flagd's clients reach them: gRPC on TCP and on
//! a unix socket, and TLS on every listener.

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

    let channel = Endpoint::from_shared(format!("http://{}", server.sync_addr))
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
    let path = socket.clone();
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move {
                tokio::net::UnixStream::connect(path)
                    .await
                    .map(TokioIo::new)
            }
        }))
        .await
        .expect("connects over the socket");
    assert_eq!(resolve_banner(channel).await, (false, "STATIC".into()));
    server.shutdown().await;
    let _ = std::fs::remove_file(socket);
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
    for addr in [
        server.evaluation_addr.expect("TCP evaluation listener"),
        server.sync_addr,
    ] {
        let channel = Endpoint::from_shared(format!("https://localhost:{}", addr.port()))
            .expect("endpoint")
            .tls_config(tls.clone())
            .expect("TLS config")
            .connect()
            .await
            .expect("connects with TLS");
        if addr == server.sync_addr {
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
