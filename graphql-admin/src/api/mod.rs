//! The GraphQL admin API: its schema, one module per subject, and its warp
//! routes.

pub mod alerts;
pub mod audit;
pub mod cost;
pub mod cursor;
pub mod diagnostics;
pub mod error;
pub mod evaluation;
pub mod experiments;
pub mod flag_sets;
pub mod flags;
pub mod history;
pub mod nesting;
pub mod promotion;
pub mod results;
pub mod rollouts;
pub mod routes;
pub mod schema;
pub mod segments;
pub mod sockets;
pub mod subscription;
pub mod tokens;
pub mod usage;
pub mod validation;
pub mod viewer;

pub use cost::MAX_FIRST;
pub use error::ApiError;
pub use routes::{MAX_BODY_BYTES, routes, routes_over, routes_with, routes_with_sockets};
pub use schema::{
    Admin, AdminSchema, Caller, ReadOnlySet, ReadOnlySets, detached, schema, schema_with, sdl,
};
pub use sockets::Sockets;
pub use subscription::CommitObject;
