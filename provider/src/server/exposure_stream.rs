//! The evaluation node's exposure sink without a store: batches appended
//! to the Redis exposure stream ([`engine::exposure_stream`]), which the
//! nodes with a store consume.
//!
//! A batch is added only while the stream is shorter than its bound
//! ([`STREAM_BOUND`]); otherwise, or when Redis cannot be reached, the
//! write fails and the writer keeps the batch and retries, while new
//! exposures wait in the node's buffer and, once it is full, are dropped
//! and counted. A batch whose `XADD` answer was lost may be added twice:
//! consumers write a batch id once.

use engine::exposure_stream::{
    FORMAT, STREAM_BOUND, StreamBatch, StreamScope, StreamUser, stream_key,
};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};
use std::time::Duration;
use tokio::sync::Mutex;

use crate::server::exposures::{Exposure, ExposureSink, SinkError, scopes_of};

/// How long a Redis call may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Appends exposure batches to the stream under a prefix.
#[derive(Debug)]
pub struct RedisStreamSink {
    client: Client,
    stream: String,
    bound: u64,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl RedisStreamSink {
    /// A sink for the Redis at `url`, under `prefix`.
    pub fn new(url: &str, prefix: &str) -> Result<RedisStreamSink, redis::RedisError> {
        if url.starts_with("rediss://") {
            crate::tls::ensure_crypto_provider();
        }
        Ok(RedisStreamSink {
            client: Client::open(url)?,
            stream: stream_key(prefix),
            bound: STREAM_BOUND,
            connection: Mutex::new(None),
        })
    }

    /// The same sink with another bound (tests fill a small stream).
    pub fn with_bound(mut self, bound: u64) -> RedisStreamSink {
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
impl ExposureSink for RedisStreamSink {
    async fn write(&self, batch_id: &str, exposures: &[Exposure]) -> Result<(), SinkError> {
        let batch = serde_json::to_string(&wire(exposures))
            .map_err(|error| SinkError(format!("encoding a batch: {error}")))?;
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
                .arg(FORMAT)
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
                "the exposure stream holds {length} batches, its bound; keeping the batch"
            ))),
            Err(error) => {
                self.forget_connection().await;
                Err(SinkError(format!("adding to the exposure stream: {error}")))
            }
        }
    }
}

/// Exposures as the stream carries them: each scope once.
pub fn wire(exposures: &[Exposure]) -> StreamBatch<'_> {
    let (scopes, indexes) = scopes_of(exposures);
    StreamBatch {
        scopes: scopes
            .into_iter()
            .map(|scope| StreamScope {
                experiment: scope.experiment.as_str().into(),
                flag_set: scope.flag_set.as_str().into(),
                flag: scope.flag.as_str().into(),
                variant: scope.variant.as_str().into(),
                flag_set_version: scope.flag_set_version.as_str().into(),
                surface: scope.surface.as_str().into(),
            })
            .collect(),
        exposures: exposures
            .iter()
            .zip(indexes)
            .map(|(exposure, index)| {
                StreamUser(
                    u32::try_from(index).unwrap_or(u32::MAX),
                    exposure.targeting_key.as_str().into(),
                    exposure.at_micros,
                )
            })
            .collect(),
    }
}
