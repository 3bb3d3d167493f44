//! Integration tests of the store against real databases: each test in a
//! PostgreSQL schema or SQLite file of its own, from `test-support`.

/// Migrations, transactional writes, audit, concurrency, store copy.
mod store;

/// Listing flags: every order paged through thousands of flags, the state
/// and tag filters, counts and tags.
mod flags;

/// Restoring archived flags: as they were, audited, or refused.
mod restore;

/// Dry runs of flag writes: the findings a write would be refused for.
mod check;

/// Experiments: lifecycle, the published tracking mark, audit, refusals.
mod experiments;

/// Exposure batches: once per id, whole or not at all, earliest kept.
mod exposures;

/// Tracking events: kept as sent, once per batch id, whole or refused.
mod events;

/// Evaluation counts: summed once per batch id, usage over the last day
/// and month, stale flags, pruning.
mod usage;

/// Guarded rollouts: monotone ramps, tracking, steps held for the guard,
/// stops audited with their figures.
mod guarded;

/// Times compare as times on both backends, not as SQLite's text.
mod times;
