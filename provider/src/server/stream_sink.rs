//! The sink of an evaluation node without a store: batches appended to a
//! Redis stream ([`engine::streams`]), which the nodes with a store
//! consume. One stream per kind of record: exposures, tracking events,
//! evaluation counts.
//!
//! A batch is added only while the stream is shorter than its bound
//! ([`STREAM_BOUND`]); otherwise, or when Redis cannot be reached, the
//! write fails and the writer keeps the batch and retries, while new
//! records wait in the node's buffer and, once it is full, are dropped
//! and counted. A batch whose `XADD` answer was lost may be added twice:
//! consumers write a batch id once.

use std::marker::PhantomData;
use std::time::Duration;

use engine::streams::STREAM_BOUND;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};
use tokio::sync::Mutex;

use crate::server::outbox::{Sink, SinkError};

/// How long a Redis call may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A record that travels in a stream of its own.
pub trait StreamRecord: Sized + Send + Sync + 'static {
    /// The stream's key under `prefix`.
    fn stream_key(prefix: &str) -> String;
    /// The entry format written.
    const FORMAT: u32;
    /// A batch as the entry's `batch` field.
    fn encode(batch: &[Self]) -> Result<String, serde_json::Error>;
}

/// Appends batches of `T` to their stream under a prefix.
#[derive(Debug)]
pub struct RedisStreamSink<T> {
    client: Client,
    stream: String,
    bound: u64,
    connection: Mutex<Option<MultiplexedConnection>>,
    records: PhantomData<fn(&T)>,
}

impl<T: StreamRecord> RedisStreamSink<T> {
    /// A sink for the Redis at `url`, under `prefix`.
    pub fn new(url: &str, prefix: &str) -> Result<RedisStreamSink<T>, redis::RedisError> {
        if url.starts_with("rediss://") {
            crate::tls::ensure_crypto_provider();
        }
        Ok(RedisStreamSink {
            client: Client::open(url)?,
            stream: T::stream_key(prefix),
            bound: STREAM_BOUND,
            connection: Mutex::new(None),
            records: PhantomData,
        })
    }

    /// The same sink with another bound (tests fill a small stream).
    pub fn with_bound(mut self, bound: u64) -> RedisStreamSink<T> {
        self.bound = bound;
        self
    }

    async fn connection(&self) -> Result<MultiplexedConnection, SinkError> {
        let mut held = self.connection.lock().await;
        if let Some(connection) = held.as_ref() {
            return Ok(connection.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|error| SinkError(format!("connecting to Redis: {error}")))?;
        *held = Some(connection.clone());
        Ok(connection)
    }

    async fn forget_connection(&self) {
        *self.connection.lock().await = None;
    }
}

#[async_trait::async_trait]
impl<T: StreamRecord> Sink<T> for RedisStreamSink<T> {
    async fn write(&self, batch_id: &str, records: &[T]) -> Result<(), SinkError> {
        let batch =
            T::encode(records).map_err(|error| SinkError(format!("encoding a batch: {error}")))?;
        let mut connection = self.connection().await?;
        let added = async {
            let length: u64 = redis::cmd("XLEN")
                .arg(&self.stream)
                .query_async(&mut connection)
                .await?;
            if length >= self.bound {
                return Ok(Err(length));
            }
            redis::cmd("XADD")
                .arg(&self.stream)
                .arg("*")
                .arg("id")
                .arg(batch_id)
                .arg("format")
                .arg(T::FORMAT)
                .arg("batch")
                .arg(&batch)
                .query_async::<String>(&mut connection)
                .await
                .map(Ok)
        }
        .await;
        match added {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(length)) => Err(SinkError(format!(
                "stream {} holds {length} batches, its bound; keeping the batch",
                self.stream
            ))),
            Err(error) => {
                self.forget_connection().await;
                Err(SinkError(format!(
                    "adding to stream {}: {error}",
                    self.stream
                )))
            }
        }
    }
}
