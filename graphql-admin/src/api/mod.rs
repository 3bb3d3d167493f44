//! The GraphQL admin API: its schema and its warp routes.

pub mod alerts;
pub mod cost;
pub mod history;
pub mod nesting;
pub mod rollouts;
pub mod routes;
pub mod schema;
pub mod segments;
pub mod sockets;
pub mod validation;

pub use cost::MAX_FIRST;
pub use routes::{MAX_BODY_BYTES, routes, routes_over, routes_with, routes_with_sockets};
pub use schema::{
    Admin, AdminSchema, Caller, CommitObject, ReadOnlySet, ReadOnlySets, detached, schema,
    schema_with, sdl,
};
pub use sockets::Sockets;
