//! Guarded rollouts: a rollout may name a guard (a metric, which way is
//! better, a tolerated regression, a minimum sample per step and an
//! action), and keeps what the guard needs: the variant it rolls out, the
//! weights it started from, when its current step began, and the guard's
//! latest check.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{json_binary_null, timestamp_with_time_zone_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            // {"metric": {"event", "kind", "windowSeconds"}, "direction",
            // "tolerance", "minUsers", "action", "variant"}; null when the
            // rollout is unguarded.
            json_binary_null(Rollouts::Guard),
            // The flag's weights just before the first step, as
            // [{"variant", "weight"}]: what `restore` writes back.
            json_binary_null(Rollouts::InitialWeights),
            // When the last applied step was applied.
            timestamp_with_time_zone_null(Rollouts::StepStartedAt),
            // The guard's latest check of the current step, with its
            // figures.
            json_binary_null(Rollouts::GuardCheck),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Rollouts::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Rollouts::GuardCheck,
            Rollouts::StepStartedAt,
            Rollouts::InitialWeights,
            Rollouts::Guard,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Rollouts::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Rollouts {
    Table,
    Guard,
    InitialWeights,
    StepStartedAt,
    GuardCheck,
}
