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

/// Fails loudly when `UPDATE_EXPECT` is set on CI, where a snapshot test
/// would otherwise rewrite its expectation instead of failing. Every test
/// that asserts an `expect-test` snapshot calls it first.
#[cfg(test)]
#[track_caller]
pub(crate) fn refuse_update_expect_under_ci() {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    assert!(
        !(set("CI") && set("UPDATE_EXPECT")),
        "UPDATE_EXPECT is refused under CI: snapshots are refreshed by a person, and reviewed"
    );
}
