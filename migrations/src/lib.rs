//! The store's schema, as SeaORM migrations that run on PostgreSQL and on
//! SQLite.
//!
//! Each migration is a module named after its date and purpose. A migration
//! that is released is never edited again: a change is a new migration.

use sea_orm_migration::prelude::*;

pub use sea_orm_migration::MigratorTrait;

mod m20261125_000001_initial;
mod m20261125_000002_rollouts;
mod m20261125_000003_alerts;
mod m20261206_000001_inline_segment_refs;
mod m20261206_000002_experiments;
mod m20261206_000003_exposures;
mod m20261207_000001_events_and_counts;
mod m20261208_000001_experiment_results;
mod m20261209_000001_rollout_guards;
mod m20261210_000001_webhook_delivery;

/// Applies Ensign's migrations in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_initial::Migration),
            Box::new(m20261125_000002_rollouts::Migration),
            Box::new(m20261125_000003_alerts::Migration),
            Box::new(m20261206_000001_inline_segment_refs::Migration),
            Box::new(m20261206_000002_experiments::Migration),
            Box::new(m20261206_000003_exposures::Migration),
            Box::new(m20261207_000001_events_and_counts::Migration),
            Box::new(m20261208_000001_experiment_results::Migration),
            Box::new(m20261209_000001_rollout_guards::Migration),
            Box::new(m20261210_000001_webhook_delivery::Migration),
        ]
    }
}
