//! Integration tests of the admin side against real databases (each test
//! in a PostgreSQL schema or SQLite file of its own, from `test-support`).

/// The GraphQL admin API through its routes.
mod api;

/// The admin API over real sockets: WebSocket sessions end with their
/// token, socket messages obey the body limit and the nesting bound, and a
/// panicking handler ends only its own request.
mod sockets;

/// A GraphQL client over the routes, with a token of each role.
mod client;

/// What a query may cost: weighted lists, capped pages, paged and batched
/// histories.
mod cost;

/// What the API refuses before writing: request ids, read-only flag sets,
/// segments with `$ref`, invisible keys.
mod guards;

/// PostgreSQL outages through a proxy the test cuts.
mod outage;

/// The Redis publisher: payloads, order, outages, documents held back.
mod publisher;

/// Scheduled rollouts: validation, due steps as audited commits, idempotence,
/// cancellation, one scheduler at a time with takeover.
mod rollouts;

/// Guarded rollouts: scheduled and read through the API, and on PostgreSQL
/// each step once and never both a step and a stop under racing runners.
mod guarded_rollouts;

/// The exposure stream's consumer: once per batch, claims after a crash,
/// entries that can never be written, a database outage.
mod exposures;

/// Experiments: the editor runs them, the viewer reads them, starting and
/// stopping are announced, refusals carry their codes.
mod experiments;

/// Alerts: signed webhooks per flag change, alerts for unusual ones
/// (out-of-band, kill switch, locked), retries, persisted cursors, and the
/// alerts query.
mod alerts;

/// The flags list: orders, cursors, filters, counts and tags.
mod flag_list;

/// Restoring archived flags.
mod restore;

/// Flag sets compared, and flags promoted from one to another.
mod promotion;

/// Dry runs of flag writes (`validateFlag`).
mod diagnostics;

/// The caller's own token: its role and what the role may change.
mod viewer;
