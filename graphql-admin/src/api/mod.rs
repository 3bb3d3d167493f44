//! The GraphQL admin API: its schema and its warp routes.

pub mod alerts;
pub mod rollouts;
pub mod routes;
pub mod schema;
pub mod segments;

pub use routes::{routes, routes_with};
pub use schema::{
    Admin, AdminSchema, Caller, Commit, ReadOnlySet, ReadOnlySets, schema, schema_with, sdl,
};
