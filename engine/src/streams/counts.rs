//! The evaluation count stream's format.
//!
//! ```text
//! {prefix}:evaluation-counts    STREAM, one entry per batch: id = the
//!                               batch id, format = FORMAT, batch = a
//!                               CountBatch as JSON
//! ```

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The entry format this build writes and reads.
pub const FORMAT: u32 = 1;

/// The consumer group of the nodes that write counts to their store.
pub const GROUP: &str = "ensign-count-writers";

/// The stream's key under `prefix`.
pub fn stream_key(prefix: &str) -> String {
    format!("{prefix}:evaluation-counts")
}

/// What a stream entry's `batch` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountBatch<'a> {
    /// The counts.
    #[serde(borrow)]
    pub counts: Vec<StreamCount<'a>>,
}

/// How often one node evaluated a flag of a flag set with one outcome
/// (variant and reason) within one minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamCount<'a> {
    /// The flag set's id.
    #[serde(borrow)]
    pub flag_set: Cow<'a, str>,
    /// The flag's key.
    #[serde(borrow)]
    pub flag: Cow<'a, str>,
    /// The variant served; empty when none was (an error, or a rule that
    /// named none).
    #[serde(borrow)]
    pub variant: Cow<'a, str>,
    /// The resolution's reason (`TARGETING_MATCH`, ...).
    #[serde(borrow)]
    pub reason: Cow<'a, str>,
    /// The minute's start, in seconds since the Unix epoch (a multiple of
    /// 60).
    pub minute: i64,
    /// Evaluations.
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_back_as_written() {
        let written = CountBatch {
            counts: vec![StreamCount {
                flag_set: "production".into(),
                flag: "checkout".into(),
                variant: "treatment".into(),
                reason: "TARGETING_MATCH".into(),
                minute: 1_800_000_020 - 20,
                count: 41,
            }],
        };
        let text = serde_json::to_string(&written).unwrap();
        assert_eq!(
            text,
            r#"{"counts":[{"flagSet":"production","flag":"checkout","variant":"treatment","reason":"TARGETING_MATCH","minute":1800000000,"count":41}]}"#
        );
        let read: CountBatch = serde_json::from_str(&text).unwrap();
        assert_eq!(read, written);
        assert_eq!(stream_key("ensign"), "ensign:evaluation-counts");
    }
}
