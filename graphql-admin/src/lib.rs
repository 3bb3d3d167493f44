//! Ensign's admin side over the store: the GraphQL admin API, the publisher
//! to the evaluation nodes (through Redis), the rollout scheduler and the
//! alerter.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod alerts;
pub mod api;
pub mod consumer;
pub mod publisher;
pub mod scheduler;
