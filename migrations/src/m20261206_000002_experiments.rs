//! Experiments: an A/B test on a flag's `fractional` split, with its
//! control variant, expected weights, metrics, attribution window and
//! lifecycle (draft, running, stopped); and each flag set's `tracked`
//! flags, the running experiments by flag key, which the published
//! document carries as flag metadata so that evaluation nodes know which
//! flags to record exposures of without a database.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, json_binary, json_binary_null, string, timestamp_with_time_zone,
    timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Experiments::Table)
                    .col(big_pk_auto(Experiments::Id))
                    .col(big_integer(Experiments::FlagSetId))
                    .col(string(Experiments::Key))
                    .col(string(Experiments::FlagKey))
                    .col(string(Experiments::Control))
                    // [{"variant", "weight"}], or null: the flag's
                    // `fractional` weights, fixed when it starts.
                    .col(json_binary_null(Experiments::Weights))
                    // [{"name", "event", "kind": "conversion" | "sum"}].
                    .col(json_binary(Experiments::Metrics))
                    .col(big_integer(Experiments::WindowSeconds))
                    // draft, running or stopped.
                    .col(string(Experiments::Status))
                    .col(timestamp_with_time_zone_null(Experiments::StartedAt))
                    .col(timestamp_with_time_zone_null(Experiments::StoppedAt))
                    .col(big_integer(Experiments::Version))
                    .col(string(Experiments::CreatedBy))
                    .col(timestamp_with_time_zone(Experiments::CreatedAt))
                    .col(timestamp_with_time_zone(Experiments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Experiments::Table, Experiments::FlagSetId)
                            .to(FlagSets::Table, FlagSets::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("experiments_key")
                    .table(Experiments::Table)
                    .col(Experiments::FlagSetId)
                    .col(Experiments::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // {flagKey: experimentKey} for every running experiment of the set.
        manager
            .alter_table(
                Table::alter()
                    .table(FlagSets::Table)
                    .add_column(json_binary(FlagSets::Tracked).default(Expr::cust("'{}'")))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(FlagSets::Table)
                    .drop_column(FlagSets::Tracked)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Experiments::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Experiments {
    Table,
    Id,
    FlagSetId,
    Key,
    FlagKey,
    Control,
    Weights,
    Metrics,
    WindowSeconds,
    Status,
    StartedAt,
    StoppedAt,
    Version,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum FlagSets {
    Table,
    Id,
    Tracked,
}
