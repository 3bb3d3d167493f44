//! What the batch writers (exposures, events, evaluation counts) share:
//! the outcome of a write, the field limit, their checks and errors, and
//! times as microseconds since the Unix epoch.
//!
//! **Invariant:** a batch's id is claimed in the same transaction as its
//! rows, so a batch delivered twice is written once, and a batch that is
//! refused or fails leaves its id free.

use std::sync::Arc;

use sea_orm::{DbErr, RuntimeErr, sqlx};
use time::OffsetDateTime;

use super::StoreError;

/// The longest key, name, variant or batch id a batch's row may carry, in
/// bytes: the bound the streams' records are held to.
pub const MAX_FIELD_BYTES: usize = engine::streams::MAX_FIELD_BYTES;

/// What writing a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchWrite {
    /// The batch was written: this many rows were inserted or changed
    /// (exposures new or earlier than the stored one, every event, the
    /// minute rows counts were added to).
    Written {
        /// Rows inserted or changed.
        rows: u64,
    },
    /// A batch with this id was written before; nothing was written now.
    AlreadyWritten,
}

/// Refuses a batch id that is empty or longer than [`MAX_FIELD_BYTES`].
pub(crate) fn check_batch_id(what: &'static str, batch_id: &str) -> Result<(), StoreError> {
    if batch_id.is_empty() || batch_id.len() > MAX_FIELD_BYTES {
        return Err(StoreError::InvalidInput {
            what,
            reason: format!(
                "a batch id has 1 to {MAX_FIELD_BYTES} bytes, not {}",
                batch_id.len()
            ),
        });
    }
    Ok(())
}

/// Refuses field `field` of row `index` (a `noun`, such as "event") when
/// it is empty (unless it `may_be_empty`) or longer than
/// [`MAX_FIELD_BYTES`].
pub(crate) fn check_field(
    what: &'static str,
    noun: &str,
    index: usize,
    field: &str,
    value: &str,
    may_be_empty: bool,
) -> Result<(), StoreError> {
    if (value.is_empty() && !may_be_empty) || value.len() > MAX_FIELD_BYTES {
        return Err(StoreError::InvalidInput {
            what,
            reason: format!(
                "{noun} {index}: its {field} has {} bytes; it takes {} to {MAX_FIELD_BYTES}",
                value.len(),
                usize::from(!may_be_empty)
            ),
        });
    }
    Ok(())
}

/// The row count a batch table records: a batch past `i32::MAX` rows cannot
/// be held in memory anyway.
pub(crate) fn row_count(rows: usize) -> i32 {
    i32::try_from(rows).unwrap_or(i32::MAX)
}

/// A driver error of a write made through sqlx itself, as SeaORM reports
/// its own.
pub(crate) fn sqlx_error(error: sqlx::Error) -> StoreError {
    StoreError::Database(DbErr::Exec(RuntimeErr::SqlxError(Arc::new(error))))
}

/// Microseconds since the Unix epoch (saturating far outside ±292 000
/// years).
pub(crate) fn micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(if at.year() < 1970 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// The time `micros` microseconds after the Unix epoch (the epoch itself
/// for one no `OffsetDateTime` holds).
pub(crate) fn from_micros(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
