//! The embedded node's exposure sink: batches written straight to the
//! node's store, each in one transaction with its id.

use provider::server::exposures::{Exposure, ExposureSink, SinkError};
use store::{ExposureRow, Store};
use time::OffsetDateTime;

/// Writes exposure batches to a store.
#[derive(Debug, Clone)]
pub struct StoreSink {
    store: Store,
}

impl StoreSink {
    /// A sink writing to `store`.
    pub fn new(store: Store) -> StoreSink {
        StoreSink { store }
    }
}

#[async_trait::async_trait]
impl ExposureSink for StoreSink {
    async fn write(&self, batch_id: &str, exposures: &[Exposure]) -> Result<(), SinkError> {
        let rows: Vec<ExposureRow> = exposures.iter().map(row).collect();
        self.store
            .write_exposures(batch_id, &rows)
            .await
            .map(drop)
            .map_err(|error| SinkError(error.to_string()))
    }
}

/// An exposure as the store keeps it.
pub fn row(exposure: &Exposure) -> ExposureRow {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(exposure.at_micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    ExposureRow {
        flag_set: exposure.flag_set.clone(),
        experiment: exposure.experiment.clone(),
        flag: exposure.flag.clone(),
        variant: exposure.variant.clone(),
        targeting_key: exposure.targeting_key.clone(),
        flag_set_version: exposure.flag_set_version.clone(),
        surface: exposure.surface.as_str().to_owned(),
        exposed_at: at,
    }
}
