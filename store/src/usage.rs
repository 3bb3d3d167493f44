//! Evaluation counts: how many evaluations of each flag ended in each
//! outcome (variant and reason), per minute, sent by the evaluation nodes
//! in batches, and what they tell about each flag: when it was last
//! evaluated, how often, which variants it serves, and whether it is
//! stale.
//!
//! A batch adds its counts, in one transaction with its id (so a batch
//! delivered twice adds once), to three tables: the minute's row of
//! `evaluation_counts` (kept for [`MINUTE_RETENTION`]), the hour's row of
//! `evaluation_counts_hourly` (kept for [`HOURLY_RETENTION`]), and the
//! outcome's row of `flag_usage`, which keeps for good the first and the
//! latest minute each flag served each variant in.
//!
//! Every time is a parameter (`now`), never the clock, except the time a
//! batch was written, which only records when.
//!
//! # Staleness
//!
//! A counted minute lies in the window of the last `unused_for` when any
//! part of it does: a minute starting at `m` (Unix seconds) is in it when
//! `m + 60 > cutoff`, `cutoff` being `now - unused_for`. A count says that
//! evaluations happened somewhere in its minute, so an outcome counted in
//! a minute that reaches into the window may have been served in the
//! window, and a flag is called stale only when its counts prove it.
//! [`Store::stale_flags`] reports a flag, not archived, as
//! - [`Staleness::NotEvaluated`] when it was created at or before the
//!   cutoff and no minute it was counted in lies in the window (it may
//!   never have been counted at all);
//! - [`Staleness::OneVariant`] when the minute of its first count lies
//!   wholly before the window (so the whole window was observed), and
//!   exactly one outcome (a variant, or none) has been counted in a minute
//!   of the window. It serves that outcome `since` the end of the latest
//!   minute any other outcome was counted in, or, when it never served
//!   another, since the start of its first counted minute.

use std::collections::{BTreeMap, HashMap};

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IsolationLevel, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use time::{Duration, OffsetDateTime};

use super::batches::{BatchWrite, check_batch_id, check_field, row_count};
use super::entity::{
    count_batch, evaluation_count, evaluation_count_hourly, flag, flag_set, flag_usage,
};
use super::{Store, StoreError};

/// How long minute counts are kept: a day, for the last 24 hours' counts,
/// and an hour more for nodes that report late.
pub const MINUTE_RETENTION: Duration = Duration::hours(25);

/// How long hourly counts are kept: a month, for the last 30 days'
/// counts, and a day more.
pub const HOURLY_RETENTION: Duration = Duration::days(31);

/// The evaluations of one flag that ended in one outcome in one minute,
/// as a node counted them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    /// The flag set's key.
    pub flag_set: String,
    /// The flag's key.
    pub flag: String,
    /// The variant served; empty when none was (an error, a disabled
    /// flag).
    pub variant: String,
    /// Why (`TARGETING_MATCH`, `DEFAULT`, `ERROR`, ...).
    pub reason: String,
    /// The Unix seconds of the minute's start: a multiple of 60.
    pub minute: i64,
    /// How many evaluations; at least one.
    pub count: u64,
}

/// What the counts say about one flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagUsage {
    /// The flag's key.
    pub flag: String,
    /// The start of the latest minute it was counted in; `None` when it
    /// never was.
    pub last_evaluated: Option<OffsetDateTime>,
    /// The start of the first minute it was counted in; `None` when it
    /// never was.
    pub first_evaluated: Option<OffsetDateTime>,
    /// Its evaluations counted in the minutes that start in the last 24
    /// hours.
    pub evaluations_24h: u64,
    /// Its evaluations counted in the hours that start in the last 30 days.
    pub evaluations_30d: u64,
    /// Each outcome it was ever counted with, by variant (none first).
    pub variants: Vec<VariantUsage>,
}

/// What the counts say about one outcome of a flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantUsage {
    /// The variant served; `None` when evaluations served none.
    pub variant: Option<String>,
    /// Its evaluations counted in the minutes that start in the last 24
    /// hours.
    pub evaluations_24h: u64,
    /// The start of the latest minute it was counted in.
    pub last_served: OffsetDateTime,
}

/// Why a flag is stale (see the module's rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staleness {
    /// Not evaluated in the window.
    NotEvaluated {
        /// The start of the latest minute it was counted in; `None` when it
        /// never was.
        last_evaluated: Option<OffsetDateTime>,
    },
    /// Evaluated in the window, always to one outcome.
    OneVariant {
        /// The outcome's variant; `None` when evaluations served none.
        variant: Option<String>,
        /// Since when it has served only that outcome.
        since: OffsetDateTime,
    },
}

/// A stale flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleFlag {
    /// The flag's key.
    pub flag: String,
    /// Why it is stale.
    pub staleness: Staleness,
}

impl Store {
    /// Adds batch `batch_id` of counts in one transaction with its id: all
    /// of it, or nothing. A batch id written before adds nothing
    /// ([`BatchWrite::AlreadyWritten`]). Each row is added to its minute's
    /// and its hour's count and widens its outcome's first and latest
    /// minute; rows of one batch with the same flag, outcome and minute are
    /// summed first. A row with an empty or oversized field, a minute that
    /// is not a multiple of 60, or a count of 0 or past `i64::MAX` refuses
    /// the batch (`INVALID_INPUT`, naming the row by its index). The rows
    /// written are the minute rows added to or inserted.
    pub async fn write_evaluation_counts(
        &self,
        batch_id: &str,
        rows: &[CountRow],
    ) -> Result<BatchWrite, StoreError> {
        check_batch_id(COUNTS, batch_id)?;
        let totals = Totals::of(rows)?;
        let txn = self.db.begin().await?;
        let claimed = count_batch::Entity::insert(count_batch::ActiveModel {
            batch_id: Set(batch_id.to_owned()),
            rows: Set(row_count(rows.len())),
            written_at: Set(OffsetDateTime::now_utc()),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::column(count_batch::Column::BatchId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if claimed == 0 {
            return Ok(BatchWrite::AlreadyWritten);
        }
        let written = totals.write(&txn).await?;
        txn.commit().await?;
        Ok(BatchWrite::Written { rows: written })
    }

    /// What the counts say about each flag of flag set `flag_set` that is
    /// not archived, by key, as of `now`; a flag never counted has no
    /// times, no variants and zero counts. Counts of flags that no longer
    /// exist are left out. The last 24 hours are the minutes that start at
    /// or after `now - 24h` and at or before `now`; the last 30 days are
    /// the hours that start at or after `now - 30d` and at or before `now`.
    pub async fn flag_usage(
        &self,
        flag_set: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<FlagUsage>, StoreError> {
        let now_s = now.unix_timestamp();
        let txn = self.read_snapshot().await?;
        let flags = live_flags(&txn, flag_set).await?;
        let outcomes = outcomes(&txn, flag_set).await?;
        let day: Vec<(String, String, i64)> = evaluation_count::Entity::find()
            .select_only()
            .column(evaluation_count::Column::FlagKey)
            .column(evaluation_count::Column::Variant)
            .column_as(Expr::cust(SUM_OF_COUNTS), "total")
            .filter(evaluation_count::Column::FlagSet.eq(flag_set))
            .filter(evaluation_count::Column::Minute.gte(now_s - DAY))
            .filter(evaluation_count::Column::Minute.lte(now_s))
            .group_by(evaluation_count::Column::FlagKey)
            .group_by(evaluation_count::Column::Variant)
            .into_tuple()
            .all(&txn)
            .await?;
        let month: Vec<(String, i64)> = evaluation_count_hourly::Entity::find()
            .select_only()
            .column(evaluation_count_hourly::Column::FlagKey)
            .column_as(Expr::cust(SUM_OF_COUNTS), "total")
            .filter(evaluation_count_hourly::Column::FlagSet.eq(flag_set))
            .filter(evaluation_count_hourly::Column::Hour.gte(now_s - 30 * DAY))
            .filter(evaluation_count_hourly::Column::Hour.lte(now_s))
            .group_by(evaluation_count_hourly::Column::FlagKey)
            .into_tuple()
            .all(&txn)
            .await?;
        txn.commit().await?;

        let mut day_of_flag: HashMap<&str, u64> = HashMap::new();
        let mut day_of_outcome: HashMap<(&str, &str), u64> = HashMap::new();
        for (flag, variant, total) in &day {
            let total = unsigned(*total);
            *day_of_flag.entry(flag).or_default() += total;
            day_of_outcome.insert((flag, variant), total);
        }
        let month_of_flag: HashMap<&str, u64> = month
            .iter()
            .map(|(flag, total)| (flag.as_str(), unsigned(*total)))
            .collect();
        Ok(flags
            .into_iter()
            .map(|(key, _)| {
                let served = outcomes.get(key.as_str()).map(Vec::as_slice).unwrap_or(&[]);
                let variants = served
                    .iter()
                    .map(|o| VariantUsage {
                        variant: variant_name(&o.variant),
                        evaluations_24h: day_of_outcome
                            .get(&(key.as_str(), o.variant.as_str()))
                            .copied()
                            .unwrap_or(0),
                        last_served: minute_time(o.last_minute),
                    })
                    .collect();
                FlagUsage {
                    last_evaluated: served.iter().map(|o| o.last_minute).max().map(minute_time),
                    first_evaluated: served.iter().map(|o| o.first_minute).min().map(minute_time),
                    evaluations_24h: day_of_flag.get(key.as_str()).copied().unwrap_or(0),
                    evaluations_30d: month_of_flag.get(key.as_str()).copied().unwrap_or(0),
                    variants,
                    flag: key,
                }
            })
            .collect())
    }

    /// The stale flags of flag set `flag_set` as of `now`, by key: those
    /// not evaluated in the last `unused_for`, and those that served only
    /// one outcome in it (the module's documentation gives the rules).
    /// A negative `unused_for`, or one reaching before any time, is refused
    /// (`INVALID_INPUT`).
    pub async fn stale_flags(
        &self,
        flag_set: &str,
        unused_for: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<StaleFlag>, StoreError> {
        let cutoff = match now.checked_sub(unused_for) {
            Some(cutoff) if !unused_for.is_negative() => cutoff,
            _ => {
                return Err(StoreError::InvalidInput {
                    what: "unused period",
                    reason: format!("{unused_for} is negative or reaches before any time"),
                });
            }
        };
        let cutoff_s = cutoff.unix_timestamp();
        let in_window = |minute: i64| minute + 60 > cutoff_s;
        let txn = self.read_snapshot().await?;
        let flags = live_flags(&txn, flag_set).await?;
        let outcomes = outcomes(&txn, flag_set).await?;
        txn.commit().await?;

        let mut stale = Vec::new();
        for (key, created_at) in flags {
            let served = outcomes.get(key.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            let recent: Vec<&flag_usage::Model> =
                served.iter().filter(|o| in_window(o.last_minute)).collect();
            let staleness = match (
                recent.as_slice(),
                served.iter().map(|o| o.first_minute).min(),
            ) {
                ([], _) if created_at <= cutoff => Staleness::NotEvaluated {
                    last_evaluated: served.iter().map(|o| o.last_minute).max().map(minute_time),
                },
                ([only], Some(first)) if !in_window(first) => Staleness::OneVariant {
                    variant: variant_name(&only.variant),
                    since: served
                        .iter()
                        .filter(|o| o.variant != only.variant)
                        .map(|o| o.last_minute + 60)
                        .max()
                        .map_or_else(|| minute_time(first), minute_time),
                },
                _ => continue,
            };
            stale.push(StaleFlag {
                flag: key,
                staleness,
            });
        }
        Ok(stale)
    }

    /// Deletes the minute counts of minutes that start more than
    /// [`MINUTE_RETENTION`] before `now`, and the hourly counts of hours
    /// that start more than [`HOURLY_RETENTION`] before it; `flag_usage` is
    /// kept. Answers how many rows were deleted.
    pub async fn prune_evaluation_counts(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let now_s = now.unix_timestamp();
        let minutes = evaluation_count::Entity::delete_many()
            .filter(evaluation_count::Column::Minute.lt(now_s - MINUTE_RETENTION.whole_seconds()))
            .exec(&self.db)
            .await?
            .rows_affected;
        let hours = evaluation_count_hourly::Entity::delete_many()
            .filter(
                evaluation_count_hourly::Column::Hour.lt(now_s - HOURLY_RETENTION.whole_seconds()),
            )
            .exec(&self.db)
            .await?
            .rows_affected;
        Ok(minutes + hours)
    }

    /// A transaction whose reads see one state of the database (on
    /// PostgreSQL; SQLite's single connection sees one anyway).
    pub(crate) async fn read_snapshot(&self) -> Result<sea_orm::DatabaseTransaction, StoreError> {
        let isolation = match self.db.get_database_backend() {
            DbBackend::Postgres => Some(IsolationLevel::RepeatableRead),
            _ => None,
        };
        Ok(self.db.begin_with_config(isolation, None).await?)
    }
}

/// What refusals of counts name.
const COUNTS: &str = "evaluation counts";

/// Rows per `INSERT`.
const ROWS_PER_STATEMENT: usize = 1_000;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// The sum of the grouped rows' counts, as a 64-bit integer on both
/// databases (PostgreSQL sums `bigint`s into a `numeric`).
const SUM_OF_COUNTS: &str = "CAST(SUM(count) AS BIGINT)";

/// The key a batch sums its rows under: flag set, flag, variant, reason
/// and period (minute or hour).
type CountKey<'a> = (&'a str, &'a str, &'a str, &'a str, i64);

/// A batch's rows summed per minute and per hour, and each outcome's first
/// and latest minute, each in key order: concurrent batches then touch
/// shared rows in one order, so that they wait for each other instead of
/// deadlocking, and no statement touches a row twice (PostgreSQL refuses
/// that).
struct Totals<'a> {
    minutes: BTreeMap<CountKey<'a>, i64>,
    hours: BTreeMap<CountKey<'a>, i64>,
    outcomes: BTreeMap<(&'a str, &'a str, &'a str), (i64, i64)>,
}

impl<'a> Totals<'a> {
    /// Checks each row, naming the first refused by its index, and sums
    /// them.
    fn of(rows: &'a [CountRow]) -> Result<Totals<'a>, StoreError> {
        let invalid = |reason: String| StoreError::InvalidInput {
            what: COUNTS,
            reason,
        };
        let mut totals = Totals {
            minutes: BTreeMap::new(),
            hours: BTreeMap::new(),
            outcomes: BTreeMap::new(),
        };
        for (i, row) in rows.iter().enumerate() {
            for (field, value, may_be_empty) in [
                ("flag set", &row.flag_set, false),
                ("flag", &row.flag, false),
                ("variant", &row.variant, true),
                ("reason", &row.reason, false),
            ] {
                check_field(COUNTS, "count", i, field, value, may_be_empty)?;
            }
            if row.minute.rem_euclid(60) != 0
                || OffsetDateTime::from_unix_timestamp(row.minute).is_err()
            {
                return Err(invalid(format!(
                    "count {i}: its minute {} is not the start of a minute (a multiple of 60 \
                     Unix seconds)",
                    row.minute
                )));
            }
            let count = match i64::try_from(row.count) {
                Ok(count) if count > 0 => count,
                _ => {
                    return Err(invalid(format!(
                        "count {i}: its count {} is not 1 to {}",
                        row.count,
                        i64::MAX
                    )));
                }
            };
            let hour = row.minute.div_euclid(3_600) * 3_600;
            for (sums, period) in [(&mut totals.minutes, row.minute), (&mut totals.hours, hour)] {
                let sum = sums
                    .entry((&row.flag_set, &row.flag, &row.variant, &row.reason, period))
                    .or_insert(0);
                *sum = sum.checked_add(count).ok_or_else(|| {
                    invalid(format!(
                        "count {i}: the batch's counts of its flag, outcome and period add up \
                         past {}",
                        i64::MAX
                    ))
                })?;
            }
            let span = totals
                .outcomes
                .entry((&row.flag_set, &row.flag, &row.variant))
                .or_insert((row.minute, row.minute));
            span.0 = span.0.min(row.minute);
            span.1 = span.1.max(row.minute);
        }
        Ok(totals)
    }

    /// Adds the sums to the minute and hour rows and widens the outcomes'
    /// spans; answers the minute rows added to or inserted.
    async fn write(&self, txn: &impl ConnectionTrait) -> Result<u64, StoreError> {
        let (least, greatest) = match txn.get_database_backend() {
            DbBackend::Postgres => ("LEAST", "GREATEST"),
            _ => ("MIN", "MAX"),
        };
        let mut written = 0;
        let minutes: Vec<_> = self.minutes.iter().collect();
        for chunk in minutes.chunks(ROWS_PER_STATEMENT) {
            let models = chunk
                .iter()
                .map(|&(&(set, flag, variant, reason, minute), &count)| {
                    evaluation_count::ActiveModel {
                        flag_set: Set(set.to_owned()),
                        flag_key: Set(flag.to_owned()),
                        variant: Set(variant.to_owned()),
                        reason: Set(reason.to_owned()),
                        minute: Set(minute),
                        count: Set(count),
                        ..Default::default()
                    }
                });
            written += evaluation_count::Entity::insert_many(models)
                .on_conflict(
                    OnConflict::columns([
                        evaluation_count::Column::FlagSet,
                        evaluation_count::Column::FlagKey,
                        evaluation_count::Column::Variant,
                        evaluation_count::Column::Reason,
                        evaluation_count::Column::Minute,
                    ])
                    .value(
                        evaluation_count::Column::Count,
                        Expr::cust("evaluation_counts.count + excluded.count"),
                    )
                    .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
        }
        let hours: Vec<_> = self.hours.iter().collect();
        for chunk in hours.chunks(ROWS_PER_STATEMENT) {
            let models = chunk
                .iter()
                .map(|&(&(set, flag, variant, reason, hour), &count)| {
                    evaluation_count_hourly::ActiveModel {
                        flag_set: Set(set.to_owned()),
                        flag_key: Set(flag.to_owned()),
                        variant: Set(variant.to_owned()),
                        reason: Set(reason.to_owned()),
                        hour: Set(hour),
                        count: Set(count),
                        ..Default::default()
                    }
                });
            evaluation_count_hourly::Entity::insert_many(models)
                .on_conflict(
                    OnConflict::columns([
                        evaluation_count_hourly::Column::FlagSet,
                        evaluation_count_hourly::Column::FlagKey,
                        evaluation_count_hourly::Column::Variant,
                        evaluation_count_hourly::Column::Reason,
                        evaluation_count_hourly::Column::Hour,
                    ])
                    .value(
                        evaluation_count_hourly::Column::Count,
                        Expr::cust("evaluation_counts_hourly.count + excluded.count"),
                    )
                    .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
        }
        let outcomes: Vec<_> = self.outcomes.iter().collect();
        for chunk in outcomes.chunks(ROWS_PER_STATEMENT) {
            let models = chunk
                .iter()
                .map(
                    |&(&(set, flag, variant), &(first, last))| flag_usage::ActiveModel {
                        flag_set: Set(set.to_owned()),
                        flag_key: Set(flag.to_owned()),
                        variant: Set(variant.to_owned()),
                        first_minute: Set(first),
                        last_minute: Set(last),
                        ..Default::default()
                    },
                );
            flag_usage::Entity::insert_many(models)
                .on_conflict(
                    OnConflict::columns([
                        flag_usage::Column::FlagSet,
                        flag_usage::Column::FlagKey,
                        flag_usage::Column::Variant,
                    ])
                    .value(
                        flag_usage::Column::FirstMinute,
                        Expr::cust(format!(
                            "{least}(flag_usage.first_minute, excluded.first_minute)"
                        )),
                    )
                    .value(
                        flag_usage::Column::LastMinute,
                        Expr::cust(format!(
                            "{greatest}(flag_usage.last_minute, excluded.last_minute)"
                        )),
                    )
                    .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
        }
        Ok(written)
    }
}

/// The key and creation time of each flag of flag set `key` that is not
/// archived, by key.
async fn live_flags(
    txn: &impl ConnectionTrait,
    key: &str,
) -> Result<Vec<(String, OffsetDateTime)>, StoreError> {
    let set = flag_set::Entity::find()
        .filter(flag_set::Column::Key.eq(key))
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::FlagSetNotFound {
            key: key.to_owned(),
        })?;
    Ok(flag::Entity::find()
        .select_only()
        .column(flag::Column::Key)
        .column(flag::Column::CreatedAt)
        .filter(flag::Column::FlagSetId.eq(set.id))
        .filter(flag::Column::Archived.eq(false))
        .order_by_asc(flag::Column::Key)
        .into_tuple()
        .all(txn)
        .await?)
}

/// The outcomes each flag of flag set `flag_set` was counted with, by flag
/// key, each flag's by variant (none first).
async fn outcomes(
    txn: &impl ConnectionTrait,
    flag_set: &str,
) -> Result<HashMap<String, Vec<flag_usage::Model>>, StoreError> {
    let rows = flag_usage::Entity::find()
        .filter(flag_usage::Column::FlagSet.eq(flag_set))
        .order_by_asc(flag_usage::Column::FlagKey)
        .order_by_asc(flag_usage::Column::Variant)
        .all(txn)
        .await?;
    let mut by_flag: HashMap<String, Vec<flag_usage::Model>> = HashMap::new();
    for row in rows {
        by_flag.entry(row.flag_key.clone()).or_default().push(row);
    }
    Ok(by_flag)
}

/// A stored variant as the API names it: `None` for the empty one.
fn variant_name(variant: &str) -> Option<String> {
    (!variant.is_empty()).then(|| variant.to_owned())
}

/// The minute (or any time) `seconds` Unix seconds (checked when counts
/// are written; the epoch for one no `OffsetDateTime` holds).
fn minute_time(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A sum of counts, which are positive.
fn unsigned(total: i64) -> u64 {
    u64::try_from(total).unwrap_or(0)
}
