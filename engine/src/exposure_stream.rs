//! The Redis exposure stream's format: how evaluation nodes without a
//! store hand exposures to the nodes that have one.
//!
//! ```text
//! {prefix}:exposures    STREAM, one entry per batch: id = the batch id,
//!                       format = FORMAT, batch = a JSON array of StreamExposure
//! ```
//!
//! Producers `XADD` with no `MAXLEN`: Redis trims unread entries without a
//! trace, so instead a producer that finds the stream [`STREAM_BOUND`]
//! entries long keeps its batches (and, once its own buffer is full, drops
//! and counts). Every node with a store reads the stream in the consumer
//! group [`GROUP`], writes each batch with its id in one transaction
//! (so a batch delivered twice is written once), then `XACK`s and `XDEL`s
//! it, and claims entries a crashed consumer left pending
//! (`XAUTOCLAIM` after [`CLAIM_IDLE_MS`]).

use serde::{Deserialize, Serialize};

/// The entry format this build writes and reads.
pub const FORMAT: u32 = 1;

/// The consumer group of the nodes that write exposures to their store.
pub const GROUP: &str = "ensign-exposure-writers";

/// The stream's bound in entries (batches): a producer that finds it this
/// long does not add to it.
pub const STREAM_BOUND: u64 = 10_000;

/// How long an entry stays pending with one consumer before another may
/// claim it.
pub const CLAIM_IDLE_MS: u64 = 30_000;

/// The stream's key under `prefix`.
pub fn stream_key(prefix: &str) -> String {
    format!("{prefix}:exposures")
}

/// One exposure in a stream entry's batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamExposure {
    /// The experiment's key.
    pub experiment: String,
    /// The flag set's id.
    pub flag_set: String,
    /// The flag's key.
    pub flag: String,
    /// The variant served.
    pub variant: String,
    /// The user's targeting key.
    pub targeting_key: String,
    /// The flag set's content version, in hex.
    pub flag_set_version: String,
    /// Where it was answered (`ofrep_single`, ...).
    pub surface: String,
    /// When, in microseconds since the Unix epoch.
    pub at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposures_read_back_as_written() {
        let exposure = StreamExposure {
            experiment: "checkout-test".into(),
            flag_set: "production".into(),
            flag: "checkout".into(),
            variant: "treatment".into(),
            targeting_key: "user-1".into(),
            flag_set_version: "00000000000000ff".into(),
            surface: "grpc".into(),
            at: 1_800_000_000_000_000,
        };
        let text = serde_json::to_string(&[&exposure]).unwrap();
        assert_eq!(
            text,
            r#"[{"experiment":"checkout-test","flagSet":"production","flag":"checkout","variant":"treatment","targetingKey":"user-1","flagSetVersion":"00000000000000ff","surface":"grpc","at":1800000000000000}]"#
        );
        let read: Vec<StreamExposure> = serde_json::from_str(&text).unwrap();
        assert_eq!(read, [exposure]);
        assert_eq!(stream_key("ensign"), "ensign:exposures");
    }
}
