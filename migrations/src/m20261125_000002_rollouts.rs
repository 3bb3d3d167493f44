//! Scheduled progressive rollouts: a flag's `fractional` weights changed
//! step by step at given times, executed by the admin node's scheduler.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, integer, json_binary, string, text_null, timestamp_with_time_zone,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Rollouts::Table)
                    .col(big_pk_auto(Rollouts::Id))
                    .col(big_integer(Rollouts::FlagSetId))
                    .col(string(Rollouts::FlagKey))
                    // A list of {"at": RFC 3339 UTC time, "weights":
                    // [{"variant", "weight"}]}, times strictly increasing.
                    .col(json_binary(Rollouts::Steps))
                    // The index of the first step not applied yet.
                    .col(integer(Rollouts::NextStep).default(0))
                    // scheduled, running, done, cancelled or failed.
                    .col(string(Rollouts::Status))
                    .col(text_null(Rollouts::LastError))
                    .col(string(Rollouts::CreatedBy))
                    .col(timestamp_with_time_zone(Rollouts::CreatedAt))
                    .col(timestamp_with_time_zone(Rollouts::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Rollouts::Table, Rollouts::FlagSetId)
                            .to(FlagSets::Table, FlagSets::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rollouts_flag")
                    .table(Rollouts::Table)
                    .col(Rollouts::FlagSetId)
                    .col(Rollouts::FlagKey)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rollouts_status")
                    .table(Rollouts::Table)
                    .col(Rollouts::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Rollouts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Rollouts {
    Table,
    Id,
    FlagSetId,
    FlagKey,
    Steps,
    NextStep,
    Status,
    LastError,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum FlagSets {
    Table,
    Id,
}
