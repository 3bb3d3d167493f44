//! Webhook delivery state: each alert target's cursor also keeps the
//! target's origin (for display; never its path, which may hold a secret),
//! its last delivery, and while a delivery fails, since when, how many
//! attempts and the last error, so every admin node can show how delivery
//! stands.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, string_null, text_null, timestamp_with_time_zone_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            // The target's scheme, host and port.
            string_null(AlertCursors::Target),
            // When a delivery last succeeded.
            timestamp_with_time_zone_null(AlertCursors::DeliveredAt),
            // When the last attempt, good or bad, ended.
            timestamp_with_time_zone_null(AlertCursors::AttemptedAt),
            // While the current delivery fails: since its first failed
            // attempt, how many, and the last one's error.
            timestamp_with_time_zone_null(AlertCursors::FailingSince),
            integer(AlertCursors::FailedAttempts).default(0).take(),
            text_null(AlertCursors::LastError),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AlertCursors::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            AlertCursors::LastError,
            AlertCursors::FailedAttempts,
            AlertCursors::FailingSince,
            AlertCursors::AttemptedAt,
            AlertCursors::DeliveredAt,
            AlertCursors::Target,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AlertCursors::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AlertCursors {
    Table,
    Target,
    DeliveredAt,
    AttemptedAt,
    FailingSince,
    FailedAttempts,
    LastError,
}
