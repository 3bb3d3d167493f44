//! The Redis streams through which evaluation nodes without a store hand
//! records to the nodes that have one: exposures, tracking events and
//! evaluation counts, each in a stream of its own under the publisher's
//! prefix, one entry per batch (`id` = the batch id, `format`, `batch` =
//! the batch as JSON).
//!
//! Producers `XADD` with no `MAXLEN`: Redis trims unread entries without a
//! trace, so instead a producer that finds a stream [`STREAM_BOUND`]
//! entries long keeps its batches (and, once its own buffer is full, drops
//! and counts). Every node with a store reads each stream in the stream's
//! consumer group, writes each batch with its id in one transaction (so a
//! batch delivered twice is written once), then `XACK`s and `XDEL`s it,
//! and claims entries a crashed consumer left pending (`XAUTOCLAIM` after
//! [`CLAIM_IDLE_MS`]).

pub mod counts;
pub mod events;
pub mod exposures;

/// The longest text field (a key, a name, a variant, a flag set id) a
/// record of any stream may carry, in bytes: what the store takes.
pub const MAX_FIELD_BYTES: usize = 1024;

/// A stream's bound in entries (batches): a producer that finds it this
/// long does not add to it.
pub const STREAM_BOUND: u64 = 10_000;

/// How long an entry stays pending with one consumer before another may
/// claim it.
pub const CLAIM_IDLE_MS: u64 = 30_000;
