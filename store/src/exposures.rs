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
use std::collections::hash_map::Entry;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait, sqlx,
};
use time::OffsetDateTime;

use super::batches::{
    BatchWrite, MAX_FIELD_BYTES, check_batch_id, check_field, from_micros, micros, row_count,
    sqlx_error,
};
use super::entity::{exposure, exposure_batch};
use super::{Store, StoreError};

/// The longest key, variant or batch id an exposure may carry, in bytes
/// (the limit of every batch's fields).
pub const MAX_EXPOSURE_FIELD_BYTES: usize = MAX_FIELD_BYTES;

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

/// What exposures of a batch share, named once: the arm (flag set,
/// experiment, flag and variant), the version served and the surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExposureScope<'a> {
    /// The flag set's key.
    pub flag_set: &'a str,
    /// The experiment's key.
    pub experiment: &'a str,
    /// The flag's key.
    pub flag: &'a str,
    /// The variant served.
    pub variant: &'a str,
    /// The content version of the flag set served; empty when unknown.
    pub flag_set_version: &'a str,
    /// Where the evaluation was answered (as [`ExposureRow::surface`]).
    pub surface: &'a str,
}

/// A batch of exposures as a node's writer holds them: each scope once,
/// and each exposure as its scope's index, its targeting key and its time,
/// all borrowed, so that writing a batch copies each key only into the
/// statement.
#[derive(Debug, Clone, Default)]
pub struct ExposureBatch<'a> {
    scopes: Vec<ExposureScope<'a>>,
    exposures: Vec<ScopedExposure<'a>>,
}

#[derive(Debug, Clone, Copy)]
struct ScopedExposure<'a> {
    scope: usize,
    targeting_key: &'a str,
    exposed_at_us: i64,
}

impl<'a> ExposureBatch<'a> {
    /// An empty batch with room for `exposures`.
    pub fn with_capacity(exposures: usize) -> ExposureBatch<'a> {
        ExposureBatch {
            scopes: Vec::new(),
            exposures: Vec::with_capacity(exposures),
        }
    }

    /// The batch of `rows`, each scope named once.
    pub fn of_rows(rows: &'a [ExposureRow]) -> ExposureBatch<'a> {
        let mut batch = ExposureBatch::with_capacity(rows.len());
        let mut scopes: HashMap<ExposureScope<'a>, usize> = HashMap::new();
        for row in rows {
            let scope = ExposureScope {
                flag_set: &row.flag_set,
                experiment: &row.experiment,
                flag: &row.flag,
                variant: &row.variant,
                flag_set_version: &row.flag_set_version,
                surface: &row.surface,
            };
            let index = *scopes
                .entry(scope)
                .or_insert_with(|| batch.add_scope(scope));
            batch.push(index, &row.targeting_key, micros(row.exposed_at));
        }
        batch
    }

    /// Adds a scope; answers the index its exposures name.
    pub fn add_scope(&mut self, scope: ExposureScope<'a>) -> usize {
        self.scopes.push(scope);
        self.scopes.len() - 1
    }

    /// Adds an exposure of scope `scope` (an index [`add_scope`] answered;
    /// another refuses the batch when it is written), at `exposed_at_us`
    /// microseconds since the Unix epoch.
    ///
    /// [`add_scope`]: ExposureBatch::add_scope
    pub fn push(&mut self, scope: usize, targeting_key: &'a str, exposed_at_us: i64) {
        self.exposures.push(ScopedExposure {
            scope,
            targeting_key,
            exposed_at_us,
        });
    }

    /// How many exposures it holds.
    pub fn len(&self) -> usize {
        self.exposures.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.exposures.is_empty()
    }

    /// The exposures to write: one per (flag set, experiment, targeting
    /// key, variant), the earliest, in the order the keys first appear. One
    /// statement may not touch a row twice (PostgreSQL refuses it).
    fn earliest_each(&self) -> Vec<ScopedExposure<'a>> {
        // Scopes that differ only in version or surface are one arm.
        let mut arms: HashMap<(&str, &str, &str), usize> = HashMap::new();
        let arm_of: Vec<usize> = self
            .scopes
            .iter()
            .map(|s| {
                let next = arms.len();
                *arms
                    .entry((s.flag_set, s.experiment, s.variant))
                    .or_insert(next)
            })
            .collect();
        let mut at: HashMap<(usize, &str), usize, FoldHash> =
            HashMap::with_capacity_and_hasher(self.exposures.len(), FoldHash::default());
        let mut kept: Vec<ScopedExposure<'a>> = Vec::with_capacity(self.exposures.len());
        for exposure in &self.exposures {
            match at.entry((arm_of[exposure.scope], exposure.targeting_key)) {
                Entry::Occupied(i) => {
                    let held = &mut kept[*i.get()];
                    if exposure.exposed_at_us < held.exposed_at_us {
                        *held = *exposure;
                    }
                }
                Entry::Vacant(slot) => {
                    slot.insert(kept.len());
                    kept.push(*exposure);
                }
            }
        }
        kept
    }
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
        self.write_exposure_batch(batch_id, &ExposureBatch::of_rows(rows))
            .await
    }

    /// [`Store::write_exposures`] for a batch whose scopes are named once.
    pub async fn write_exposure_batch(
        &self,
        batch_id: &str,
        batch: &ExposureBatch<'_>,
    ) -> Result<BatchWrite, StoreError> {
        check_batch(batch_id, batch)?;
        if self.db.get_database_backend() == DbBackend::Postgres {
            write_postgres(self.db.get_postgres_connection_pool(), batch_id, batch)
                .await
                .map_err(sqlx_error)
        } else {
            write_chunked(&self.db, batch_id, batch).await
        }
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

/// The hasher of a batch's own repeats: keys come from one node's batch,
/// and the map lives only while the batch is written.
type FoldHash = foldhash::fast::RandomState;

const CLAIM_BATCH: &str = "INSERT INTO exposure_batches (batch_id, rows, written_at) \
     VALUES ($1, $2, $3) ON CONFLICT (batch_id) DO NOTHING";

/// Each scope's columns as arrays, each exposure as its scope's number
/// (from 1), key and time: one statement, in which a stored row keeps the
/// earlier exposure with the surface, version and batch that go with it.
const INSERT_UNNESTED: &str = "INSERT INTO exposures (flag_set, experiment, flag_key, variant, \
     targeting_key, flag_set_version, surface, exposed_at_us, batch_id) \
     SELECT s.flag_set, s.experiment, s.flag_key, s.variant, e.targeting_key, \
     s.flag_set_version, s.surface, e.exposed_at_us, $10 \
     FROM UNNEST($7::int4[], $8::text[], $9::int8[]) AS e(scope, targeting_key, exposed_at_us) \
     JOIN UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
     WITH ORDINALITY AS s(flag_set, experiment, flag_key, variant, flag_set_version, surface, n) \
     ON s.n = e.scope \
     ON CONFLICT (flag_set, experiment, targeting_key, variant) DO UPDATE SET \
     exposed_at_us = excluded.exposed_at_us, surface = excluded.surface, \
     flag_set_version = excluded.flag_set_version, batch_id = excluded.batch_id \
     WHERE excluded.exposed_at_us < exposures.exposed_at_us";

/// PostgreSQL: the batch's id claimed and its rows written in one
/// transaction, through the driver itself. SeaORM would copy every bound
/// value (once into a boxed value per array element, once more as it binds
/// the statement), which costs the writing node more than the rest of the
/// write; here each key is copied once, into the statement.
async fn write_postgres<'a>(
    pool: &sqlx::PgPool,
    batch_id: &str,
    batch: &ExposureBatch<'a>,
) -> Result<BatchWrite, sqlx::Error> {
    let mut txn = pool.begin().await?;
    let claimed = sqlx::query(CLAIM_BATCH)
        .bind(batch_id)
        .bind(row_count(batch.len()))
        .bind(OffsetDateTime::now_utc())
        .execute(&mut *txn)
        .await?
        .rows_affected();
    if claimed == 0 {
        return Ok(BatchWrite::AlreadyWritten);
    }
    let kept = batch.earliest_each();
    let scope_column = |field: fn(&ExposureScope<'a>) -> &'a str| -> Vec<&'a str> {
        batch.scopes.iter().map(field).collect()
    };
    // Scope numbers fit: a batch refused past `i32::MAX` scopes cannot be
    // held in memory anyway.
    let numbers: Vec<i32> = kept
        .iter()
        .map(|e| i32::try_from(e.scope + 1).unwrap_or(i32::MAX))
        .collect();
    let keys: Vec<&str> = kept.iter().map(|e| e.targeting_key).collect();
    let times: Vec<i64> = kept.iter().map(|e| e.exposed_at_us).collect();
    let written = sqlx::query(INSERT_UNNESTED)
        .bind(scope_column(|s| s.flag_set))
        .bind(scope_column(|s| s.experiment))
        .bind(scope_column(|s| s.flag))
        .bind(scope_column(|s| s.variant))
        .bind(scope_column(|s| s.flag_set_version))
        .bind(scope_column(|s| s.surface))
        .bind(numbers)
        .bind(keys)
        .bind(times)
        .bind(batch_id)
        .execute(&mut *txn)
        .await?
        .rows_affected();
    txn.commit().await?;
    Ok(BatchWrite::Written { rows: written })
}

/// SQLite: multi-row `INSERT`s of [`ROWS_PER_STATEMENT`] rows through
/// SeaORM, in one transaction with the batch's id, with the same rule for
/// a row already stored as on PostgreSQL.
async fn write_chunked(
    db: &DatabaseConnection,
    batch_id: &str,
    batch: &ExposureBatch<'_>,
) -> Result<BatchWrite, StoreError> {
    let txn = db.begin().await?;
    let claimed = exposure_batch::Entity::insert(exposure_batch::ActiveModel {
        batch_id: Set(batch_id.to_owned()),
        rows: Set(row_count(batch.len())),
        written_at: Set(OffsetDateTime::now_utc()),
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
    let mut written = 0;
    for chunk in batch.earliest_each().chunks(ROWS_PER_STATEMENT) {
        let models = chunk.iter().map(|e| {
            let scope = &batch.scopes[e.scope];
            exposure::ActiveModel {
                flag_set: Set(scope.flag_set.to_owned()),
                experiment: Set(scope.experiment.to_owned()),
                flag_key: Set(scope.flag.to_owned()),
                variant: Set(scope.variant.to_owned()),
                targeting_key: Set(e.targeting_key.to_owned()),
                flag_set_version: Set(scope.flag_set_version.to_owned()),
                surface: Set(scope.surface.to_owned()),
                exposed_at_us: Set(e.exposed_at_us),
                batch_id: Set(batch_id.to_owned()),
                ..Default::default()
            }
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
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(BatchWrite::Written { rows: written })
}

/// Refuses a batch with an empty or oversized field, or an exposure of a
/// scope it lacks, naming the exposure.
fn check_batch(batch_id: &str, batch: &ExposureBatch<'_>) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidInput {
        what: "exposures",
        reason,
    };
    check_batch_id("exposures", batch_id)?;
    let check = |i: usize, what: &str, value: &str, may_be_empty: bool| {
        check_field("exposures", "exposure", i, what, value, may_be_empty)
    };
    // A scope's fields are checked at its first exposure, which names it.
    let mut checked = vec![false; batch.scopes.len()];
    for (i, exposure) in batch.exposures.iter().enumerate() {
        let Some(scope) = batch.scopes.get(exposure.scope) else {
            return Err(invalid(format!(
                "exposure {i} names scope {}, which the batch lacks",
                exposure.scope
            )));
        };
        if !checked[exposure.scope] {
            for (what, value, may_be_empty) in [
                ("flag set", scope.flag_set, false),
                ("experiment", scope.experiment, false),
                ("flag", scope.flag, false),
                ("variant", scope.variant, false),
                ("flag set version", scope.flag_set_version, true),
                ("surface", scope.surface, false),
            ] {
                check(i, what, value, may_be_empty)?;
            }
            checked[exposure.scope] = true;
        }
        check(i, "targeting key", exposure.targeting_key, false)?;
    }
    Ok(())
}
