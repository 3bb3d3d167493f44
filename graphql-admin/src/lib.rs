//! Ensign's admin side: the store (PostgreSQL or the embedded SQLite file)
//! with its audit trail, which the GraphQL admin API and the publisher to
//! the evaluation nodes build on.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod alerts;
pub mod api;
pub mod publisher;
pub mod rollout;
pub mod scheduler;
pub mod store;

pub use store::{Actor, AuditRecord, FlagRecord, FlagSetRecord, Store, StoreError};
