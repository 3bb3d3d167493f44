//! Copying a whole store to another database (`ensign store copy`), the way
//! an embedded SQLite store grows up to PostgreSQL: every table, ids kept,
//! in one transaction on the target, verified by counts and checksums.

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait,
    IntoActiveModel, QueryOrder, TransactionTrait,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::entity::{
    alert_cursor, api_token, audit_event, count_batch, evaluation_count, evaluation_count_hourly,
    event, event_batch, experiment, experiment_result, exposure, exposure_batch, flag, flag_set,
    flag_usage, rollout, segment,
};
use super::{Store, StoreError};

/// The tables a copy moves, parents before children.
pub const TABLES: [&str; 17] = [
    "flag_sets",
    "flags",
    "segments",
    "audit_events",
    "api_tokens",
    "rollouts",
    "alert_cursors",
    "experiments",
    "experiment_results",
    "exposures",
    "exposure_batches",
    "events",
    "event_batches",
    "evaluation_counts",
    "evaluation_counts_hourly",
    "flag_usage",
    "count_batches",
];

/// Rows per `INSERT` of a copy: a few thousand bound values, well under
/// either database's limit.
const ROWS_PER_STATEMENT: usize = 500;

/// One table's rows on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    /// The table.
    pub table: &'static str,
    /// Rows in the source (and, after a verified copy, in the target).
    pub rows: usize,
    /// SHA-256 of the rows in id order, as canonical JSON.
    pub checksum: String,
}

/// Why a copy was refused or failed verification.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Reading or writing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The target already holds data; a copy never merges.
    #[error("the target is not empty: table {table} has {rows} rows")]
    TargetNotEmpty {
        /// The first non-empty table.
        table: &'static str,
        /// Its row count.
        rows: usize,
    },
    /// After copying, a table differs (the target transaction was rolled
    /// back).
    #[error(
        "verification failed for {table}: source {source_rows} rows ({source_sum}), target {target_rows} rows ({target_sum})"
    )]
    Mismatch {
        /// The table.
        table: &'static str,
        /// Source rows.
        source_rows: usize,
        /// Source checksum.
        source_sum: String,
        /// Target rows.
        target_rows: usize,
        /// Target checksum.
        target_sum: String,
    },
}

impl From<sea_orm::DbErr> for CopyError {
    fn from(error: sea_orm::DbErr) -> Self {
        CopyError::Store(StoreError::Database(error))
    }
}

/// Every row of every table, read in id order.
struct Rows {
    flag_sets: Vec<flag_set::Model>,
    flags: Vec<flag::Model>,
    segments: Vec<segment::Model>,
    audit_events: Vec<audit_event::Model>,
    api_tokens: Vec<api_token::Model>,
    rollouts: Vec<rollout::Model>,
    alert_cursors: Vec<alert_cursor::Model>,
    experiments: Vec<experiment::Model>,
    experiment_results: Vec<experiment_result::Model>,
    exposures: Vec<exposure::Model>,
    exposure_batches: Vec<exposure_batch::Model>,
    events: Vec<event::Model>,
    event_batches: Vec<event_batch::Model>,
    evaluation_counts: Vec<evaluation_count::Model>,
    evaluation_counts_hourly: Vec<evaluation_count_hourly::Model>,
    flag_usage: Vec<flag_usage::Model>,
    count_batches: Vec<count_batch::Model>,
}

impl Rows {
    async fn read<C: ConnectionTrait>(db: &C) -> Result<Rows, sea_orm::DbErr> {
        Ok(Rows {
            flag_sets: flag_set::Entity::find()
                .order_by_asc(flag_set::Column::Id)
                .all(db)
                .await?,
            flags: flag::Entity::find()
                .order_by_asc(flag::Column::Id)
                .all(db)
                .await?,
            segments: segment::Entity::find()
                .order_by_asc(segment::Column::Id)
                .all(db)
                .await?,
            audit_events: audit_event::Entity::find()
                .order_by_asc(audit_event::Column::Id)
                .all(db)
                .await?,
            api_tokens: api_token::Entity::find()
                .order_by_asc(api_token::Column::Id)
                .all(db)
                .await?,
            rollouts: rollout::Entity::find()
                .order_by_asc(rollout::Column::Id)
                .all(db)
                .await?,
            alert_cursors: alert_cursor::Entity::find()
                .order_by_asc(alert_cursor::Column::Id)
                .all(db)
                .await?,
            experiments: experiment::Entity::find()
                .order_by_asc(experiment::Column::Id)
                .all(db)
                .await?,
            experiment_results: experiment_result::Entity::find()
                .order_by_asc(experiment_result::Column::Id)
                .all(db)
                .await?,
            exposures: exposure::Entity::find()
                .order_by_asc(exposure::Column::Id)
                .all(db)
                .await?,
            exposure_batches: exposure_batch::Entity::find()
                .order_by_asc(exposure_batch::Column::Id)
                .all(db)
                .await?,
            events: event::Entity::find()
                .order_by_asc(event::Column::Id)
                .all(db)
                .await?,
            event_batches: event_batch::Entity::find()
                .order_by_asc(event_batch::Column::Id)
                .all(db)
                .await?,
            evaluation_counts: evaluation_count::Entity::find()
                .order_by_asc(evaluation_count::Column::Id)
                .all(db)
                .await?,
            evaluation_counts_hourly: evaluation_count_hourly::Entity::find()
                .order_by_asc(evaluation_count_hourly::Column::Id)
                .all(db)
                .await?,
            flag_usage: flag_usage::Entity::find()
                .order_by_asc(flag_usage::Column::Id)
                .all(db)
                .await?,
            count_batches: count_batch::Entity::find()
                .order_by_asc(count_batch::Column::Id)
                .all(db)
                .await?,
        })
    }

    /// Count and checksum of each table.
    fn summary(&self) -> Vec<TableCopy> {
        let table = |table: &'static str, rows: Vec<Value>| TableCopy {
            table,
            rows: rows.len(),
            checksum: checksum(&rows),
        };
        vec![
            table(
                "flag_sets",
                self.flag_sets
                    .iter()
                    .map(|r| {
                        json!([
                            r.id,
                            r.key,
                            r.name,
                            r.metadata,
                            r.fractional,
                            r.version,
                            r.published_version,
                            r.archived,
                            r.tracked,
                            ts(r.created_at),
                            ts(r.updated_at)
                        ])
                    })
                    .collect(),
            ),
            table(
                "flags",
                self.flags
                    .iter()
                    .map(|r| {
                        json!([
                            r.id,
                            r.flag_set_id,
                            r.key,
                            r.definition,
                            r.version,
                            r.client_visible,
                            r.locked,
                            r.archived,
                            ts(r.created_at),
                            ts(r.updated_at)
                        ])
                    })
                    .collect(),
            ),
            table(
                "segments",
                self.segments
                    .iter()
                    .map(|r| {
                        json!([
                            r.id,
                            r.flag_set_id,
                            r.key,
                            r.definition,
                            r.version,
                            ts(r.created_at),
                            ts(r.updated_at)
                        ])
                    })
                    .collect(),
            ),
            table(
                "audit_events",
                self.audit_events
                    .iter()
                    .map(|r| {
                        json!([
                            r.id,
                            r.flag_set_id,
                            r.subject_kind,
                            r.subject_key,
                            r.action,
                            r.actor,
                            r.request_id,
                            r.version,
                            r.before,
                            r.after,
                            r.diff,
                            r.out_of_band,
                            ts(r.created_at)
                        ])
                    })
                    .collect(),
            ),
            table(
                "api_tokens",
                self.api_tokens
                    .iter()
                    .map(|r| {
                        json!([
                            r.id,
                            r.name,
                            r.kind,
                            r.role,
                            r.flag_set_id,
                            r.token_hash,
                            r.prefix,
                            ts(r.created_at),
                            r.revoked_at.map(ts)
                        ])
                    })
                    .collect(),
            ),
            table(
                "rollouts",
                self.rollouts
                    .iter()
                    .map(|r| {
                        json!([
                            r.id,
                            r.flag_set_id,
                            r.flag_key,
                            r.steps,
                            r.next_step,
                            r.status,
                            r.last_error,
                            r.created_by,
                            ts(r.created_at),
                            ts(r.updated_at)
                        ])
                    })
                    .collect(),
            ),
            table(
                "alert_cursors",
                self.alert_cursors
                    .iter()
                    .map(|r| json!([r.id, r.consumer, r.last_event_id, ts(r.updated_at)]))
                    .collect(),
            ),
            table(
                "experiments",
                self.experiments
                    .iter()
                    .map(|r| {
                        json!([
                            r.id,
                            r.flag_set_id,
                            r.key,
                            r.flag_key,
                            r.control,
                            r.weights,
                            r.metrics,
                            r.window_seconds,
                            r.status,
                            r.started_at.map(ts),
                            r.stopped_at.map(ts),
                            r.version,
                            r.created_by,
                            ts(r.created_at),
                            ts(r.updated_at),
                            r.alpha,
                            r.sequential_tuning
                        ])
                    })
                    .collect(),
            ),
            table(
                "experiment_results",
                self.experiment_results
                    .iter()
                    .map(|r| {
                        json!([
                            r.id,
                            r.experiment_id,
                            ts(r.computed_at),
                            r.users,
                            r.srm_mismatch,
                            r.report
                        ])
                    })
                    .collect(),
            ),
            table(
                "exposures",
                self.exposures
                    .iter()
                    .map(|r| {
                        json!([
                            r.id,
                            r.flag_set,
                            r.experiment,
                            r.flag_key,
                            r.variant,
                            r.targeting_key,
                            r.flag_set_version,
                            r.surface,
                            r.exposed_at_us,
                            r.batch_id
                        ])
                    })
                    .collect(),
            ),
            table(
                "exposure_batches",
                self.exposure_batches
                    .iter()
                    .map(|r| json!([r.id, r.batch_id, r.rows, ts(r.written_at)]))
                    .collect(),
            ),
            table(
                "events",
                self.events
                    .iter()
                    .map(|r| {
                        json!([
                            r.id,
                            r.flag_set,
                            r.name,
                            r.targeting_key,
                            r.value,
                            r.attributes,
                            r.occurred_at_us,
                            r.received_at_us,
                            r.batch_id
                        ])
                    })
                    .collect(),
            ),
            table(
                "event_batches",
                self.event_batches
                    .iter()
                    .map(|r| json!([r.id, r.batch_id, r.rows, ts(r.written_at)]))
                    .collect(),
            ),
            table(
                "evaluation_counts",
                self.evaluation_counts
                    .iter()
                    .map(|r| {
                        json!([
                            r.id, r.flag_set, r.flag_key, r.variant, r.reason, r.minute, r.count
                        ])
                    })
                    .collect(),
            ),
            table(
                "evaluation_counts_hourly",
                self.evaluation_counts_hourly
                    .iter()
                    .map(|r| {
                        json!([
                            r.id, r.flag_set, r.flag_key, r.variant, r.reason, r.hour, r.count
                        ])
                    })
                    .collect(),
            ),
            table(
                "flag_usage",
                self.flag_usage
                    .iter()
                    .map(|r| {
                        json!([
                            r.id,
                            r.flag_set,
                            r.flag_key,
                            r.variant,
                            r.first_minute,
                            r.last_minute
                        ])
                    })
                    .collect(),
            ),
            table(
                "count_batches",
                self.count_batches
                    .iter()
                    .map(|r| json!([r.id, r.batch_id, r.rows, ts(r.written_at)]))
                    .collect(),
            ),
        ]
    }
}

/// Inserts `rows` as they are, ids included, [`ROWS_PER_STATEMENT`] to a
/// statement: tables of reported data (events, counts) can hold millions.
async fn insert_all<A>(
    txn: &DatabaseTransaction,
    rows: &[<A::Entity as EntityTrait>::Model],
) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + Clone,
{
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let models = chunk
            .iter()
            .cloned()
            .map(|row| row.into_active_model().reset_all());
        <A::Entity as EntityTrait>::insert_many(models)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// A time at the precision both databases keep (microseconds).
fn ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{}.{:06}", t.unix_timestamp(), t.microsecond())
}

fn checksum(rows: &[Value]) -> String {
    let mut hasher = Sha256::new();
    for row in rows {
        hasher.update(row.to_string().as_bytes());
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// Copies everything in this store into `target` (migrated, and empty),
    /// in one transaction that commits only if every table's count and
    /// checksum match.
    pub async fn copy_to(&self, target: &Store) -> Result<Vec<TableCopy>, CopyError> {
        target.migrate().await?;
        let source = Rows::read(&self.db).await?;
        let expected = source.summary();
        let txn = target.db.begin().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            // The copy is Ensign's own write, not an out-of-band edit.
            txn.execute_unprepared("SELECT set_config('ensign.in_band', 'on', true)")
                .await?;
        }
        let existing = Rows::read(&txn).await?.summary();
        if let Some(full) = existing.iter().find(|t| t.rows > 0) {
            return Err(CopyError::TargetNotEmpty {
                table: full.table,
                rows: full.rows,
            });
        }
        insert_all::<flag_set::ActiveModel>(&txn, &source.flag_sets).await?;
        insert_all::<flag::ActiveModel>(&txn, &source.flags).await?;
        insert_all::<segment::ActiveModel>(&txn, &source.segments).await?;
        insert_all::<audit_event::ActiveModel>(&txn, &source.audit_events).await?;
        insert_all::<api_token::ActiveModel>(&txn, &source.api_tokens).await?;
        insert_all::<rollout::ActiveModel>(&txn, &source.rollouts).await?;
        insert_all::<alert_cursor::ActiveModel>(&txn, &source.alert_cursors).await?;
        insert_all::<experiment::ActiveModel>(&txn, &source.experiments).await?;
        insert_all::<experiment_result::ActiveModel>(&txn, &source.experiment_results).await?;
        insert_all::<exposure::ActiveModel>(&txn, &source.exposures).await?;
        insert_all::<exposure_batch::ActiveModel>(&txn, &source.exposure_batches).await?;
        insert_all::<event::ActiveModel>(&txn, &source.events).await?;
        insert_all::<event_batch::ActiveModel>(&txn, &source.event_batches).await?;
        insert_all::<evaluation_count::ActiveModel>(&txn, &source.evaluation_counts).await?;
        insert_all::<evaluation_count_hourly::ActiveModel>(&txn, &source.evaluation_counts_hourly)
            .await?;
        insert_all::<flag_usage::ActiveModel>(&txn, &source.flag_usage).await?;
        insert_all::<count_batch::ActiveModel>(&txn, &source.count_batches).await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            // Ids were copied as they were; move each sequence past them.
            for table in TABLES {
                txn.execute_unprepared(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ))
                .await?;
            }
        }
        let copied = Rows::read(&txn).await?.summary();
        for (want, got) in expected.iter().zip(&copied) {
            if want != got {
                return Err(CopyError::Mismatch {
                    table: want.table,
                    source_rows: want.rows,
                    source_sum: want.checksum.clone(),
                    target_rows: got.rows,
                    target_sum: got.checksum.clone(),
                });
            }
        }
        txn.commit().await?;
        Ok(expected)
    }

    /// Count and checksum of every table, as `copy_to` verifies them.
    pub async fn table_summary(&self) -> Result<Vec<TableCopy>, StoreError> {
        Ok(Rows::read(&self.db).await?.summary())
    }
}
