//! gRPC workers for the load generator: flagd `ResolveBoolean` calls on
//! shared HTTP/2 connections.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use loadgen::{Call, Worker};
use tonic::transport::{Channel, Endpoint};

use provider::proto::evaluation::v1::ResolveBooleanRequest;
use provider::proto::evaluation::v1::service_client::ServiceClient;

/// A worker making flagd `ResolveBoolean` calls.
#[derive(Debug)]
struct Grpc {
    client: ServiceClient<Channel>,
    requests: Arc<[ResolveBooleanRequest]>,
    next: usize,
}

impl Call for Grpc {
    fn call(&mut self) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + '_>> {
        Box::pin(async move {
            let request = self.requests[self.next % self.requests.len()].clone();
            self.next = self.next.wrapping_add(1);
            let response = self.client.resolve_boolean(request).await?;
            if response.get_ref().reason.is_empty() {
                bail!("an answer without a reason");
            }
            Ok(())
        })
    }
}

/// `per_connection` gRPC workers on each of `connections` HTTP/2
/// connections to `addr`.
pub async fn workers(
    addr: SocketAddr,
    requests: Arc<[ResolveBooleanRequest]>,
    connections: usize,
    per_connection: usize,
) -> anyhow::Result<Vec<Worker>> {
    let mut workers = Vec::new();
    for c in 0..connections {
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        for w in 0..per_connection {
            workers.push(Worker::Call(Box::new(Grpc {
                client: ServiceClient::new(channel.clone()),
                requests: Arc::clone(&requests),
                next: (c * per_connection + w) * 37,
            })));
        }
    }
    Ok(workers)
}
