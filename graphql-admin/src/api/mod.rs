//! The GraphQL admin API: its schema and its warp routes.

pub mod alerts;
pub mod rollouts;
pub mod routes;
pub mod schema;
pub mod segments;

pub use routes::routes;
pub use schema::{Admin, AdminSchema, Caller, Commit, schema, sdl};
