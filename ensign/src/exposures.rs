//! The embedded node's exposure sink: batches written straight to the
//! node's store, each in one transaction with its id.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use graphql_admin::consumer::ConsumerObserver;
use provider::server::exposures::{Exposure, Exposures, scopes_of};
use provider::server::outbox::{Sink, SinkError};
use store::{BatchWrite, ExposureBatch, ExposureRow, ExposureScope, Store};

/// Writes exposure batches to a store, and records their commit delays in
/// the node's metrics.
#[derive(Debug, Clone)]
pub struct StoreSink {
    store: Store,
    recorder: Arc<Exposures>,
}

impl StoreSink {
    /// A sink writing to `store`, reporting to `recorder`'s metrics.
    pub fn new(store: Store, recorder: Arc<Exposures>) -> StoreSink {
        StoreSink { store, recorder }
    }
}

#[async_trait::async_trait]
impl Sink<Exposure> for StoreSink {
    async fn write(&self, batch_id: &str, exposures: &[Exposure]) -> Result<(), SinkError> {
        let written = self
            .store
            .write_exposure_batch(batch_id, &batch(exposures))
            .await
            .map_err(|error| SinkError(error.to_string()))?;
        if let BatchWrite::Written { .. } = written {
            self.recorder
                .commits()
                .committed(exposures.iter().map(|e| e.at_micros));
        }
        Ok(())
    }
}

/// The exposure stream consumer's figures, on this node's `/metrics`.
#[derive(Debug, Clone)]
pub struct StreamMetrics(pub Arc<Exposures>);

impl ConsumerObserver<Vec<ExposureRow>> for StreamMetrics {
    fn committed(&self, rows: &Vec<ExposureRow>) {
        let commits = self.0.commits();
        commits.stream_batches.fetch_add(1, Ordering::Relaxed);
        commits.committed(rows.iter().map(|r| {
            i64::try_from(r.exposed_at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
        }));
    }

    fn poisoned(&self) {
        self.0
            .commits()
            .stream_poisoned
            .fetch_add(1, Ordering::Relaxed);
    }

    fn store_failed(&self) {
        self.0
            .commits()
            .stream_store_failures
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// Exposures as the store takes a batch: each scope once, and each
/// exposure's key borrowed, not copied.
fn batch(exposures: &[Exposure]) -> ExposureBatch<'_> {
    let (scopes, indexes) = scopes_of(exposures);
    let mut batch = ExposureBatch::with_capacity(exposures.len());
    for scope in scopes {
        batch.add_scope(ExposureScope {
            flag_set: &scope.flag_set,
            experiment: &scope.experiment,
            flag: &scope.flag,
            variant: &scope.variant,
            flag_set_version: &scope.flag_set_version,
            surface: scope.surface.as_str(),
        });
    }
    for (exposure, scope) in exposures.iter().zip(indexes) {
        batch.push(scope, &exposure.targeting_key, exposure.at_micros);
    }
    batch
}
