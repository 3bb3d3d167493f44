//! Shared helpers of the conformance runners: where the upstream material is,
//! how its feature files are read, what its typed values and tags mean, and
//! what its context-building steps do.

pub mod cli;
pub mod features;
pub mod pins;
pub mod steps;
pub mod suites;
pub mod tags;
pub mod typed;

use std::path::PathBuf;

/// The conformance material directory: `ENSIGN_CONFORMANCE_DIR`, or
/// `../shared/conformance` beside the workspace root.
pub fn conformance_dir() -> PathBuf {
    match std::env::var_os("ENSIGN_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance"),
    }
}
