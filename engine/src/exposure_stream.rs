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

use std::borrow::Cow;

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

/// One exposure in a stream entry's batch. Its text borrows what it is
/// written from, and is read borrowing the entry's text where no escape
/// must be undone, so neither side copies each field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamExposure<'a> {
    /// The experiment's key.
    #[serde(borrow)]
    pub experiment: Cow<'a, str>,
    /// The flag set's id.
    #[serde(borrow)]
    pub flag_set: Cow<'a, str>,
    /// The flag's key.
    #[serde(borrow)]
    pub flag: Cow<'a, str>,
    /// The variant served.
    #[serde(borrow)]
    pub variant: Cow<'a, str>,
    /// The user's targeting key.
    #[serde(borrow)]
    pub targeting_key: Cow<'a, str>,
    /// The flag set's content version, in hex.
    #[serde(borrow)]
    pub flag_set_version: Cow<'a, str>,
    /// Where it was answered (`ofrep_single`, ...).
    #[serde(borrow)]
    pub surface: Cow<'a, str>,
    /// When, in microseconds since the Unix epoch.
    pub at: i64,
}

impl StreamExposure<'_> {
    /// The same exposure, owning its text.
    pub fn into_owned(self) -> StreamExposure<'static> {
        StreamExposure {
            experiment: self.experiment.into_owned().into(),
            flag_set: self.flag_set.into_owned().into(),
            flag: self.flag.into_owned().into(),
            variant: self.variant.into_owned().into(),
            targeting_key: self.targeting_key.into_owned().into(),
            flag_set_version: self.flag_set_version.into_owned().into(),
            surface: self.surface.into_owned().into(),
            at: self.at,
        }
    }
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
        assert_eq!(read, std::slice::from_ref(&exposure));
        // Read without copying the text it came in.
        assert!(matches!(read[0].targeting_key, Cow::Borrowed("user-1")));
        assert_eq!(read[0].clone().into_owned(), exposure);
        assert_eq!(stream_key("ensign"), "ensign:exposures");
    }
}
