//! Connection limits on every listener (OFREP, management, gRPC evaluation
//! and sync): the header-read and body-read timeouts, the TLS-handshake
//! timeout, the idle
//! timeout (streams are never idle), the connection cap (one listener at
//! its cap leaves the others answering) and the cap on open streams. Each
//! test configures short timeouts or small caps and asserts what happens to
//! the connection (closed, answered, refused); the patience below only
//! bounds how long a test waits before it fails.

use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;
use tonic::transport::Channel;

use engine::{CompileOptions, Format, Snapshot};
use provider::proto::evaluation::v1;
use provider::server::listen::ConnectionLimits;
use provider::server::sources::{SourceKind, SourceSpec};
use provider::server::{Server, ServerConfig};

const SHOP: &str = include_str!("../data/shop.flags.json");

/// How long a test waits for something before it fails.
const PATIENCE: Duration = Duration::from_secs(15);

/// Limits that never get in a test's way; each test tightens one.
fn generous() -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_secs(60),
        body_read_timeout: Duration::from_secs(60),
        tls_handshake_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        max_connections: 64,
        max_streams: 64,
    }
}

async fn start(connections: ConnectionLimits, tls: bool) -> Server {
    let data = |name: &str| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name)
    };
    start_with(ServerConfig {
        tls: tls.then(|| (data("localhost.cert.pem"), data("localhost.key.pem"))),
        connections,
        ..ServerConfig::default()
    })
    .await
}

/// Starts `config` on ephemeral local ports, serving the shop flags.
async fn start_with(config: ServerConfig) -> Server {
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
        ..config
    })
    .await
    .expect("the server starts");
    for _ in 0..250 {
        if server.flags().is_ready() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server never became ready");
}

/// Every TCP listener of a server, by name.
fn listeners(server: &Server) -> [(&'static str, SocketAddr); 4] {
    [
        ("ofrep", server.ofrep_addr),
        ("management", server.management_addr),
        (
            "evaluation",
            server.evaluation_addr.expect("a TCP evaluation listener"),
        ),
        ("sync", server.sync_addr.expect("a TCP sync listener")),
    ]
}

/// Whether the server closes `stream` (reading, and discarding, whatever
/// it sends first) before the patience runs out.
async fn closed(stream: &mut TcpStream) -> bool {
    let mut buffer = [0; 4096];
    let reading = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(PATIENCE, reading).await.is_ok()
}

/// Sends one HTTP/1.1 request on `stream` and reads its answer; the
/// status code, or `None` when the connection ended first.
async fn exchange(stream: &mut TcpStream, request: &str) -> Option<u16> {
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    let reading = async {
        loop {
            let text = String::from_utf8_lossy(&received).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if received.len() >= end + 4 + length {
                    return text.split(' ').nth(1)?.parse().ok();
                }
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, reading).await.ok()?
}

/// A keep-alive request the OFREP listener answers.
const EVALUATE: &str = "POST /ofrep/v1/evaluate/flags/banner HTTP/1.1\r\nHost: localhost\r\n\
    Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
/// A keep-alive request the management listener answers.
const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("connects")
}

async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("an endpoint")
        .connect()
        .await
        .expect("connects")
}

async fn resolve(channel: &Channel) -> Result<bool, Code> {
    v1::service_client::ServiceClient::new(channel.clone())
        .resolve_boolean(v1::ResolveBooleanRequest {
            flag_key: "banner".into(),
            context: None,
        })
        .await
        .map(|answer| answer.into_inner().value)
        .map_err(|status| status.code())
}

/// Publishes the shop flags with `banner` defaulting to `on`, a change
/// every stream announces.
async fn change_banner(server: &Server) {
    let text = SHOP.replacen(
        "\"defaultVariant\": \"off\"",
        "\"defaultVariant\": \"on\"",
        1,
    );
    assert_ne!(text, SHOP, "the fixture's banner defaults to off");
    let (snapshot, _) =
        Snapshot::from_text("shop.json", &text, Format::Json, &CompileOptions::default())
            .expect("the changed flags parse");
    server.flags().publish(snapshot).await;
}

#[tokio::test]
async fn half_sent_headers_are_cut_off_after_the_header_timeout() {
    let server = start(
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(1),
            ..generous()
        },
        false,
    )
    .await;
    for (name, addr) in listeners(&server) {
        let mut stream = connect(addr).await;
        stream
            .write_all(b"POST /ofrep/v1/evaluate/flags/banner HTTP/1.1\r\nHost: loc")
            .await
            .expect("writes");
        assert!(closed(&mut stream).await, "{name} kept a half-sent request");
    }
    // A whole request is still answered.
    let mut stream = connect(server.ofrep_addr).await;
    assert_eq!(exchange(&mut stream, EVALUATE).await, Some(200));
    server.shutdown().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_is_given_up_after_the_body_timeout() {
    let server = start(
        ConnectionLimits {
            body_read_timeout: Duration::from_secs(1),
            ..generous()
        },
        false,
    )
    .await;
    // Headers promising ten bytes of body, and two of them.
    let mut stream = connect(server.ofrep_addr).await;
    let answer = exchange(
        &mut stream,
        "POST /ofrep/v1/evaluate/flags/banner HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/json\r\nContent-Length: 10\r\n\r\n{}",
    )
    .await;
    assert_eq!(answer, Some(400), "a slow body was waited for");
    assert!(
        closed(&mut stream).await,
        "the connection of a slow body stayed open"
    );
    // A whole request is still answered.
    let mut stream = connect(server.ofrep_addr).await;
    assert_eq!(exchange(&mut stream, EVALUATE).await, Some(200));
    server.shutdown().await;
}

#[tokio::test]
async fn an_unfinished_tls_handshake_is_dropped() {
    let server = start(
        ConnectionLimits {
            tls_handshake_timeout: Duration::from_secs(1),
            ..generous()
        },
        true,
    )
    .await;
    for (name, addr) in listeners(&server) {
        // Silent, and the first bytes of a ClientHello.
        for hello in [&b""[..], &[0x16, 0x03, 0x01, 0x02, 0x00][..]] {
            let mut stream = connect(addr).await;
            stream.write_all(hello).await.expect("writes");
            assert!(
                closed(&mut stream).await,
                "{name} kept an unfinished handshake ({} bytes)",
                hello.len()
            );
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn idle_connections_close_and_open_streams_outlive_the_idle_timeout() {
    let server = start(
        ConnectionLimits {
            idle_timeout: Duration::from_secs(1),
            ..generous()
        },
        false,
    )
    .await;
    // Streams, opened first.
    let events = reqwest::get(format!("http://{}/ofrep/v1/events", server.ofrep_addr))
        .await
        .expect("the event stream opens");
    assert_eq!(events.status(), 200);
    let mut events = events.bytes_stream();
    let evaluation = channel(server.evaluation_addr.expect("TCP")).await;
    let mut grpc_events = v1::service_client::ServiceClient::new(evaluation.clone())
        .event_stream(v1::EventStreamRequest::default())
        .await
        .expect("the gRPC event stream opens")
        .into_inner();
    let ready = grpc_events
        .message()
        .await
        .expect("reads")
        .expect("an event");
    assert_eq!(ready.r#type, "provider_ready");

    // A keep-alive connection that has been answered, then says nothing.
    let mut keep_alive = connect(server.ofrep_addr).await;
    assert_eq!(exchange(&mut keep_alive, EVALUATE).await, Some(200));
    assert!(
        closed(&mut keep_alive).await,
        "an idle HTTP/1.1 connection stayed open"
    );
    // An HTTP/2 connection (the gRPC client's kind) that sends no call.
    let mut quiet = connect(server.sync_addr.expect("a TCP sync listener")).await;
    quiet
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .expect("writes");
    assert!(
        closed(&mut quiet).await,
        "an idle HTTP/2 connection stayed open"
    );

    // Both streams lived past the idle timeout, and still deliver.
    change_banner(&server).await;
    let delivered = tokio::time::timeout(PATIENCE, async {
        let mut text = String::new();
        while !text.contains("data:") {
            let chunk = events.next().await?.ok()?;
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        Some(())
    })
    .await;
    assert_eq!(delivered, Ok(Some(())), "the SSE stream was cut");
    let change = tokio::time::timeout(PATIENCE, grpc_events.message())
        .await
        .expect("an event in time")
        .expect("the gRPC stream is open")
        .expect("an event");
    assert_eq!(change.r#type, "configuration_change");
    server.shutdown().await;
}

#[tokio::test]
async fn a_listener_at_its_cap_closes_new_connections_and_others_answer() {
    let server = start(
        ConnectionLimits {
            max_connections: 2,
            ..generous()
        },
        false,
    )
    .await;
    // OFREP at its cap.
    let mut first = connect(server.ofrep_addr).await;
    let mut second = connect(server.ofrep_addr).await;
    assert_eq!(exchange(&mut first, EVALUATE).await, Some(200));
    assert_eq!(exchange(&mut second, EVALUATE).await, Some(200));
    let mut third = connect(server.ofrep_addr).await;
    assert!(
        closed(&mut third).await,
        "a third OFREP connection was kept"
    );
    // Health on its own listener still answers, and so do the connections
    // already open.
    let mut health = connect(server.management_addr).await;
    assert_eq!(exchange(&mut health, HEALTHZ).await, Some(200));
    assert_eq!(exchange(&mut first, EVALUATE).await, Some(200));
    // Once one closes, its place is free again.
    drop(second);
    let mut served = false;
    for _ in 0..150 {
        let mut again = connect(server.ofrep_addr).await;
        if exchange(&mut again, EVALUATE).await == Some(200) {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "a freed place was never given again");

    // gRPC the same.
    let evaluation = server.evaluation_addr.expect("TCP");
    let (one, two) = (channel(evaluation).await, channel(evaluation).await);
    assert_eq!(resolve(&one).await, Ok(false));
    assert_eq!(resolve(&two).await, Ok(false));
    let mut third = connect(evaluation).await;
    assert!(closed(&mut third).await, "a third gRPC connection was kept");
    assert_eq!(resolve(&one).await, Ok(false));
    let mut health = connect(server.management_addr).await;
    assert_eq!(exchange(&mut health, HEALTHZ).await, Some(200));
    server.shutdown().await;
}

#[tokio::test]
async fn streams_over_the_cap_are_refused_and_requests_go_on() {
    let server = start(
        ConnectionLimits {
            max_streams: 1,
            ..generous()
        },
        false,
    )
    .await;
    let http = reqwest::Client::new();
    let events = format!("http://{}/ofrep/v1/events", server.ofrep_addr);
    let open = http.get(&events).send().await.expect("opens");
    assert_eq!(open.status(), 200);
    let refused = http.get(&events).send().await.expect("answers");
    assert_eq!(refused.status(), 503);
    let evaluated = http
        .post(format!(
            "http://{}/ofrep/v1/evaluate/flags/banner",
            server.ofrep_addr
        ))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("answers");
    assert_eq!(evaluated.status(), 200);
    drop(open);
    let mut reopened = false;
    for _ in 0..150 {
        let status = http.get(&events).send().await.map(|r| r.status().as_u16());
        if status.ok() == Some(200) {
            reopened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened, "a closed stream's place was never given again");

    let evaluation = channel(server.evaluation_addr.expect("TCP")).await;
    let mut client = v1::service_client::ServiceClient::new(evaluation.clone());
    let first = client
        .event_stream(v1::EventStreamRequest::default())
        .await
        .expect("the first stream opens");
    let second = client.event_stream(v1::EventStreamRequest::default()).await;
    assert_eq!(
        second.map(drop).map_err(|status| status.code()),
        Err(Code::ResourceExhausted)
    );
    assert_eq!(resolve(&evaluation).await, Ok(false));
    drop(first);
    let mut reopened = false;
    for _ in 0..150 {
        if client
            .event_stream(v1::EventStreamRequest::default())
            .await
            .is_ok()
        {
            reopened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        reopened,
        "a closed gRPC stream's place was never given again"
    );
    server.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_unix_socket_listener_has_the_same_limits() {
    let socket = std::env::temp_dir().join(format!("ensign-limits-{}.sock", std::process::id()));
    let mut config = ServerConfig {
        socket_path: Some(socket.clone()),
        ..ServerConfig::default()
    };
    config.connections = ConnectionLimits {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        ..generous()
    };
    let server = start_with(config).await;
    // A half-sent HTTP/1.1 header, and an HTTP/2 connection with no call.
    for opening in [
        &b"POST /flagd.evaluation.v1.Service/ResolveBoolean HTTP/1.1\r\nHo"[..],
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"[..],
    ] {
        let mut stream = tokio::net::UnixStream::connect(&socket)
            .await
            .expect("connects");
        stream.write_all(opening).await.expect("writes");
        let mut buffer = [0; 4096];
        let reading = async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        assert!(
            tokio::time::timeout(PATIENCE, reading).await.is_ok(),
            "the unix socket kept {:?}",
            String::from_utf8_lossy(&opening[..16])
        );
    }
    server.shutdown().await;
    let _ = std::fs::remove_file(socket);
}
