//! Exposures: which user was first seen in which arm of which experiment,
//! written in batches by evaluation nodes (through their store, or a Redis
//! stream that nodes with a store consume).
//!
//! One row per (flag set, experiment, targeting key, variant): a batch
//! that holds a row already stored keeps the earlier exposure, since the
//! earliest exposure is the one the analysis reads, and a user seen in
//! two variants keeps a row for each. `exposure_batches` holds the id of
//! every batch written, in the same transaction as its rows, so a batch
//! delivered twice is written once.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, integer, string, string_uniq, timestamp_with_time_zone,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Exposures::Table)
                    .col(big_pk_auto(Exposures::Id))
                    .col(string(Exposures::FlagSet))
                    .col(string(Exposures::Experiment))
                    .col(string(Exposures::FlagKey))
                    .col(string(Exposures::Variant))
                    .col(string(Exposures::TargetingKey))
                    // The content version of the flag set the node served
                    // (its ETag), empty when unknown (an import).
                    .col(string(Exposures::FlagSetVersion))
                    // ofrep_single, ofrep_bulk, grpc, in_process or import.
                    .col(string(Exposures::Surface))
                    // Microseconds since the Unix epoch: exact, and compared
                    // as numbers on both databases (SQLite keeps times as
                    // text that does not sort as the times do).
                    .col(big_integer(Exposures::ExposedAtUs))
                    .col(string(Exposures::BatchId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("exposures_arm")
                    .table(Exposures::Table)
                    .col(Exposures::FlagSet)
                    .col(Exposures::Experiment)
                    .col(Exposures::TargetingKey)
                    .col(Exposures::Variant)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExposureBatches::Table)
                    .col(big_pk_auto(ExposureBatches::Id))
                    .col(string_uniq(ExposureBatches::BatchId))
                    .col(integer(ExposureBatches::Rows))
                    .col(timestamp_with_time_zone(ExposureBatches::WrittenAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ExposureBatches::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Exposures::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Exposures {
    Table,
    Id,
    FlagSet,
    Experiment,
    FlagKey,
    Variant,
    TargetingKey,
    FlagSetVersion,
    Surface,
    ExposedAtUs,
    BatchId,
}

#[derive(DeriveIden)]
enum ExposureBatches {
    Table,
    Id,
    BatchId,
    Rows,
    WrittenAt,
}
