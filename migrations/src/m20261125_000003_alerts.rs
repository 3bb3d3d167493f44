//! The alert cursors: how far each alert consumer (a webhook target) has
//! read the audit trail, so a restart or another node resumes where the
//! last delivery left off. Rows have an id like every other table, so a
//! store copy moves them the same way.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_pk_auto, string_uniq, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AlertCursors::Table)
                    .col(big_pk_auto(AlertCursors::Id))
                    .col(string_uniq(AlertCursors::Consumer))
                    .col(big_integer(AlertCursors::LastEventId))
                    .col(timestamp_with_time_zone(AlertCursors::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AlertCursors::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AlertCursors {
    Table,
    Id,
    Consumer,
    LastEventId,
    UpdatedAt,
}
