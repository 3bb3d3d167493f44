//! The baseline for `just bench-server`: a bare warp handler that reads a
//! POST body and answers with a fixed JSON body of about 200 bytes, served
//! through the same listener code (hyper-util, HTTP/1.1 and h2) and the same
//! kind of runtime as `ensign serve`, so the ratio between the two measures
//! what evaluation adds.
//!
//! Binds `127.0.0.1` on a free port (or the port given as the only argument)
//! and logs `Listener started. listener="bare" addr=…` to stderr, as the
//! server's listeners do.

use std::net::{Ipv4Addr, SocketAddr};

use warp::Filter as _;
use warp::http::header::{CONTENT_TYPE, HeaderValue};
use warp::reply::Response;

/// The fixed answer, shaped like an OFREP evaluation.
const BODY: &str = r#"{"key":"bare-baseline","value":true,"reason":"TARGETING_MATCH","variant":"on","metadata":{"flagSetId":"baseline","owner":"bench","kind":"rollout","version":"1"},"padding":"................"}"#;

/// Largest request body read, as OFREP's default limit.
const BODY_LIMIT: u64 = 1024 * 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = match std::env::args().nth(1) {
        Some(port) => port.parse()?,
        None => 0,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = provider::server::listen::bind(addr).await?;
        let addr = listener.local_addr()?;
        eprintln!("Listener started. listener=\"bare\" addr={addr}");
        let routes = warp::post()
            .and(warp::body::content_length_limit(BODY_LIMIT))
            .and(warp::body::bytes())
            .map(|_body: bytes::Bytes| {
                let mut response = Response::new(BODY.into());
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            })
            .boxed();
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        provider::server::listen::serve_http(
            "bare",
            listener,
            None,
            routes,
            provider::server::listen::ConnectionLimits::default(),
            shutdown,
        )
        .await;
        Ok(())
    })
}
