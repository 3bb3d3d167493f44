//! Tracking events and evaluation counts, written in batches by evaluation
//! nodes, each batch in one transaction with its id so that a batch
//! delivered twice is written once.
//!
//! `events` keeps every tracking event (a purchase, a sign-up) as sent:
//! rows are never merged, since a purchase made twice is two purchases;
//! only `event_batches` keeps a batch from being written twice.
//!
//! `evaluation_counts` holds how many evaluations of each flag ended in
//! each outcome (variant and reason) per minute, and
//! `evaluation_counts_hourly` the same per hour: a batch adds its counts to
//! both. Minutes are kept for a day or so and hours for a month (the store
//! prunes them), while `flag_usage` keeps, for good, the first and latest
//! minute each flag served each variant in, which is what finding stale
//! flags needs. `count_batches` holds the ids of the count batches.
//!
//! Times are numbers, as in `exposures`: event times in microseconds since
//! the Unix epoch, minutes and hours as the Unix seconds of their start.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, double_null, integer, string, string_uniq, text,
    timestamp_with_time_zone,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(big_pk_auto(Events::Id))
                    .col(string(Events::FlagSet))
                    .col(string(Events::Name))
                    .col(string(Events::TargetingKey))
                    .col(double_null(Events::Value))
                    // The text of a JSON object holding the event's other
                    // fields, empty when it has none.
                    .col(text(Events::Attributes))
                    // Microseconds since the Unix epoch.
                    .col(big_integer(Events::OccurredAtUs))
                    .col(big_integer(Events::ReceivedAtUs))
                    .col(string(Events::BatchId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("events_occurred")
                    .table(Events::Table)
                    .col(Events::FlagSet)
                    .col(Events::OccurredAtUs)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("events_name")
                    .table(Events::Table)
                    .col(Events::FlagSet)
                    .col(Events::Name)
                    .to_owned(),
            )
            .await?;
        create_batches(manager, BatchTable::EventBatches).await?;

        for (table, period, unique) in [
            (
                CountTable::EvaluationCounts,
                CountTable::Minute,
                "evaluation_counts_outcome",
            ),
            (
                CountTable::EvaluationCountsHourly,
                CountTable::Hour,
                "evaluation_counts_hourly_outcome",
            ),
        ] {
            manager
                .create_table(
                    Table::create()
                        .table(table)
                        .col(big_pk_auto(CountTable::Id))
                        .col(string(CountTable::FlagSet))
                        .col(string(CountTable::FlagKey))
                        // Empty when no variant was served (an error, or a
                        // disabled flag).
                        .col(string(CountTable::Variant))
                        .col(string(CountTable::Reason))
                        // The Unix seconds of the period's start.
                        .col(big_integer(period))
                        .col(big_integer(CountTable::Count))
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(unique)
                        .table(table)
                        .col(CountTable::FlagSet)
                        .col(CountTable::FlagKey)
                        .col(CountTable::Variant)
                        .col(CountTable::Reason)
                        .col(period)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(FlagUsage::Table)
                    .col(big_pk_auto(FlagUsage::Id))
                    .col(string(FlagUsage::FlagSet))
                    .col(string(FlagUsage::FlagKey))
                    // Empty when no variant was served.
                    .col(string(FlagUsage::Variant))
                    // The Unix seconds of the first and of the latest
                    // minute this outcome was counted in.
                    .col(big_integer(FlagUsage::FirstMinute))
                    .col(big_integer(FlagUsage::LastMinute))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("flag_usage_outcome")
                    .table(FlagUsage::Table)
                    .col(FlagUsage::FlagSet)
                    .col(FlagUsage::FlagKey)
                    .col(FlagUsage::Variant)
                    .unique()
                    .to_owned(),
            )
            .await?;
        create_batches(manager, BatchTable::CountBatches).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            BatchTable::CountBatches.into_iden(),
            FlagUsage::Table.into_iden(),
            CountTable::EvaluationCountsHourly.into_iden(),
            CountTable::EvaluationCounts.into_iden(),
            BatchTable::EventBatches.into_iden(),
            Events::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// A table of written batch ids, shaped as `exposure_batches`.
async fn create_batches(manager: &SchemaManager<'_>, table: BatchTable) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(table)
                .col(big_pk_auto(BatchTable::Id))
                .col(string_uniq(BatchTable::BatchId))
                .col(integer(BatchTable::Rows))
                .col(timestamp_with_time_zone(BatchTable::WrittenAt))
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    FlagSet,
    Name,
    TargetingKey,
    Value,
    Attributes,
    OccurredAtUs,
    ReceivedAtUs,
    BatchId,
}

#[derive(DeriveIden, Clone, Copy)]
enum CountTable {
    EvaluationCounts,
    EvaluationCountsHourly,
    Id,
    FlagSet,
    FlagKey,
    Variant,
    Reason,
    Minute,
    Hour,
    Count,
}

#[derive(DeriveIden)]
enum FlagUsage {
    Table,
    Id,
    FlagSet,
    FlagKey,
    Variant,
    FirstMinute,
    LastMinute,
}

#[derive(DeriveIden, Clone, Copy)]
enum BatchTable {
    EventBatches,
    CountBatches,
    Id,
    BatchId,
    Rows,
    WrittenAt,
}
