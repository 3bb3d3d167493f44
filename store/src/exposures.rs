//! Exposures: the evaluations an experiment's split decided, written in
//! batches, each batch in one transaction with its id, so a batch that is
//! delivered twice (a stream entry claimed again after a crash) is written
//! once.
//!
//! One row per (flag set, experiment, targeting key, variant) keeps the
//! earliest exposure: the analysis reads only a user's first exposure, so
//! a later one to the same variant changes nothing, and a user seen in two
//! variants keeps a row for each.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Set, Statement, TransactionTrait, Value,
};
use time::OffsetDateTime;

use super::entity::{exposure, exposure_batch};
use super::{Store, StoreError};

/// The longest key, variant or batch id an exposure may carry, in bytes.
pub const MAX_EXPOSURE_FIELD_BYTES: usize = 1024;

/// Rows per `INSERT` on SQLite.
const ROWS_PER_STATEMENT: usize = 1_000;

/// One exposure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposureRow {
    /// The flag set's key.
    pub flag_set: String,
    /// The experiment's key.
    pub experiment: String,
    /// The flag's key.
    pub flag: String,
    /// The variant served.
    pub variant: String,
    /// The user's targeting key.
    pub targeting_key: String,
    /// The content version of the flag set served (its ETag); empty when
    /// unknown.
    pub flag_set_version: String,
    /// Where the evaluation was answered: `ofrep_single`, `ofrep_bulk`,
    /// `grpc`, `in_process` or `import`.
    pub surface: String,
    /// When.
    pub exposed_at: OffsetDateTime,
}

/// What writing a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchWrite {
    /// The batch was written; this many of its rows were new or earlier
    /// than the stored one.
    Written {
        /// Rows inserted or moved earlier.
        rows: u64,
    },
    /// A batch with this id was written before; nothing was written now.
    AlreadyWritten,
}

impl Store {
    /// Writes batch `batch_id` of exposures in one transaction with its id:
    /// all of it, or nothing. A batch id written before writes nothing. A
    /// row with an empty or oversized field refuses the batch
    /// (`INVALID_INPUT`, naming the row).
    pub async fn write_exposures(
        &self,
        batch_id: &str,
        rows: &[ExposureRow],
    ) -> Result<BatchWrite, StoreError> {
        check_batch(batch_id, rows)?;
        let txn = self.db.begin().await?;
        let now = OffsetDateTime::now_utc();
        let claimed = exposure_batch::Entity::insert(exposure_batch::ActiveModel {
            batch_id: Set(batch_id.to_owned()),
            rows: Set(i32::try_from(rows.len()).unwrap_or(i32::MAX)),
            written_at: Set(now),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::column(exposure_batch::Column::BatchId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if claimed == 0 {
            return Ok(BatchWrite::AlreadyWritten);
        }
        // One statement may not touch a row twice (PostgreSQL refuses it),
        // so a batch's own repeats are settled first: the earliest stays.
        let rows = earliest_each(rows);
        let written = if txn.get_database_backend() == DbBackend::Postgres {
            insert_unnested(&txn, batch_id, &rows).await?
        } else {
            insert_chunked(&txn, batch_id, &rows).await?
        };
        txn.commit().await?;
        Ok(BatchWrite::Written { rows: written })
    }

    /// The exposures of experiment `experiment` of flag set `flag_set`, by
    /// time, then targeting key and variant.
    pub async fn exposures(
        &self,
        flag_set: &str,
        experiment: &str,
    ) -> Result<Vec<ExposureRow>, StoreError> {
        let models = exposure::Entity::find()
            .filter(exposure::Column::FlagSet.eq(flag_set))
            .filter(exposure::Column::Experiment.eq(experiment))
            .order_by_asc(exposure::Column::ExposedAtUs)
            .order_by_asc(exposure::Column::TargetingKey)
            .order_by_asc(exposure::Column::Variant)
            .all(&self.db)
            .await?;
        Ok(models
            .into_iter()
            .map(|m| ExposureRow {
                flag_set: m.flag_set,
                experiment: m.experiment,
                flag: m.flag_key,
                variant: m.variant,
                targeting_key: m.targeting_key,
                flag_set_version: m.flag_set_version,
                surface: m.surface,
                exposed_at: from_micros(m.exposed_at_us),
            })
            .collect())
    }
}

/// PostgreSQL: the rows as one array per column in a single statement,
/// which costs a fraction of binding nine parameters per row. A row
/// already stored keeps the earlier exposure, with the surface, version
/// and batch that go with it; answers the rows that were new or earlier.
async fn insert_unnested(
    txn: &DatabaseTransaction,
    batch_id: &str,
    rows: &[&ExposureRow],
) -> Result<u64, StoreError> {
    let column = |field: fn(&ExposureRow) -> &String| -> Value {
        rows.iter()
            .map(|row| field(row).clone())
            .collect::<Vec<String>>()
            .into()
    };
    let exposed_at: Vec<i64> = rows.iter().map(|row| micros(row.exposed_at)).collect();
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO exposures (flag_set, experiment, flag_key, variant, targeting_key, \
         flag_set_version, surface, exposed_at_us, batch_id) \
         SELECT r.*, $9 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
         $5::text[], $6::text[], $7::text[], $8::bigint[]) AS r \
         ON CONFLICT (flag_set, experiment, targeting_key, variant) DO UPDATE SET \
         exposed_at_us = excluded.exposed_at_us, surface = excluded.surface, \
         flag_set_version = excluded.flag_set_version, batch_id = excluded.batch_id \
         WHERE excluded.exposed_at_us < exposures.exposed_at_us",
        [
            column(|r| &r.flag_set),
            column(|r| &r.experiment),
            column(|r| &r.flag),
            column(|r| &r.variant),
            column(|r| &r.targeting_key),
            column(|r| &r.flag_set_version),
            column(|r| &r.surface),
            exposed_at.into(),
            batch_id.into(),
        ],
    );
    Ok(txn.execute_raw(statement).await?.rows_affected())
}

/// SQLite: multi-row `INSERT`s of [`ROWS_PER_STATEMENT`] rows, with the
/// same rule for a row already stored as [`insert_unnested`].
async fn insert_chunked(
    txn: &DatabaseTransaction,
    batch_id: &str,
    rows: &[&ExposureRow],
) -> Result<u64, StoreError> {
    let mut written = 0;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let models = chunk.iter().map(|row| exposure::ActiveModel {
            flag_set: Set(row.flag_set.clone()),
            experiment: Set(row.experiment.clone()),
            flag_key: Set(row.flag.clone()),
            variant: Set(row.variant.clone()),
            targeting_key: Set(row.targeting_key.clone()),
            flag_set_version: Set(row.flag_set_version.clone()),
            surface: Set(row.surface.clone()),
            exposed_at_us: Set(micros(row.exposed_at)),
            batch_id: Set(batch_id.to_owned()),
            ..Default::default()
        });
        let on_conflict = OnConflict::columns([
            exposure::Column::FlagSet,
            exposure::Column::Experiment,
            exposure::Column::TargetingKey,
            exposure::Column::Variant,
        ])
        .update_columns([
            exposure::Column::ExposedAtUs,
            exposure::Column::Surface,
            exposure::Column::FlagSetVersion,
            exposure::Column::BatchId,
        ])
        .action_and_where(Expr::cust(
            "excluded.exposed_at_us < exposures.exposed_at_us",
        ))
        .to_owned();
        written += exposure::Entity::insert_many(models)
            .on_conflict(on_conflict)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(written)
}

/// `rows` with one row per (flag set, experiment, targeting key,
/// variant): the earliest, in the order the keys first appear.
fn earliest_each(rows: &[ExposureRow]) -> Vec<&ExposureRow> {
    let mut at: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
    let mut kept: Vec<&ExposureRow> = Vec::with_capacity(rows.len());
    for row in rows {
        let key = (
            row.flag_set.as_str(),
            row.experiment.as_str(),
            row.targeting_key.as_str(),
            row.variant.as_str(),
        );
        match at.get(&key) {
            Some(&i) if kept[i].exposed_at <= row.exposed_at => {}
            Some(&i) => kept[i] = row,
            None => {
                at.insert(key, kept.len());
                kept.push(row);
            }
        }
    }
    kept
}

/// Microseconds since the Unix epoch (saturating far outside ±292 000
/// years).
fn micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(if at.year() < 1970 {
        i64::MIN
    } else {
        i64::MAX
    })
}

fn from_micros(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Refuses a batch with an empty or oversized field, naming the row.
fn check_batch(batch_id: &str, rows: &[ExposureRow]) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidInput {
        what: "exposures",
        reason,
    };
    if batch_id.is_empty() || batch_id.len() > MAX_EXPOSURE_FIELD_BYTES {
        return Err(invalid(format!(
            "a batch id has 1 to {MAX_EXPOSURE_FIELD_BYTES} bytes, not {}",
            batch_id.len()
        )));
    }
    for (i, row) in rows.iter().enumerate() {
        for (what, value, may_be_empty) in [
            ("flag set", &row.flag_set, false),
            ("experiment", &row.experiment, false),
            ("flag", &row.flag, false),
            ("variant", &row.variant, false),
            ("targeting key", &row.targeting_key, false),
            ("flag set version", &row.flag_set_version, true),
            ("surface", &row.surface, false),
        ] {
            if (value.is_empty() && !may_be_empty) || value.len() > MAX_EXPOSURE_FIELD_BYTES {
                return Err(invalid(format!(
                    "exposure {i}: its {what} has {} bytes; it takes {} to {MAX_EXPOSURE_FIELD_BYTES}",
                    value.len(),
                    usize::from(!may_be_empty)
                )));
            }
        }
    }
    Ok(())
}
