//! Experiment results: each analysis of an experiment, kept with its time
//! so that results form a history; and the α and sequential tuning an
//! experiment is analysed with.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, boolean, double, json_binary, timestamp_with_time_zone,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Experiments::Table)
                    .add_column(double(Experiments::Alpha).default(0.05))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Experiments::Table)
                    .add_column(double(Experiments::SequentialTuning).default(5000.0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExperimentResults::Table)
                    .col(big_pk_auto(ExperimentResults::Id))
                    .col(big_integer(ExperimentResults::ExperimentId))
                    .col(timestamp_with_time_zone(ExperimentResults::ComputedAt))
                    // The analysed users, and whether the split mismatched
                    // its weights: what lists and alerts read without the
                    // report.
                    .col(big_integer(ExperimentResults::Users))
                    .col(boolean(ExperimentResults::SrmMismatch))
                    // The report (analytics/report.schema.json).
                    .col(json_binary(ExperimentResults::Report))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ExperimentResults::Table, ExperimentResults::ExperimentId)
                            .to(Experiments::Table, Experiments::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("experiment_results_history")
                    .table(ExperimentResults::Table)
                    .col(ExperimentResults::ExperimentId)
                    .col(ExperimentResults::ComputedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ExperimentResults::Table).to_owned())
            .await?;
        for column in [Experiments::SequentialTuning, Experiments::Alpha] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Experiments::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Experiments {
    Table,
    Id,
    Alpha,
    SequentialTuning,
}

#[derive(DeriveIden)]
enum ExperimentResults {
    Table,
    Id,
    ExperimentId,
    ComputedAt,
    Users,
    SrmMismatch,
    Report,
}
