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

/// Fails loudly when `UPDATE_EXPECT` is set on CI, where a snapshot test
/// would otherwise rewrite its expectation instead of failing. Every test
/// that asserts an `expect-test` snapshot calls it first.
#[cfg(test)]
#[track_caller]
pub(crate) fn refuse_update_expect_under_ci() {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    assert!(
        !(set("CI") && set("UPDATE_EXPECT")),
        "UPDATE_EXPECT is refused under CI: snapshots are refreshed by a person, and reviewed"
    );
}
