//! End-to-end tests of the `ensign` binary, one test binary for the crate.

/// `ensign eval`: single, explained and batch evaluation, exit codes.
mod eval;
/// `ensign serve`: the real binary on ephemeral ports, SIGTERM.
mod serve;
/// `ensign migrate` and `ensign token create` on a SQLite store.
mod store;
/// `ensign validate` against flagd's schema test files and bad input.
mod validate;

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the built `ensign` binary from the workspace root.
pub fn ensign(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ensign"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("ensign runs")
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The upstream conformance material (`ENSIGN_CONFORMANCE_DIR`, or
/// `../shared/conformance` beside the workspace).
pub fn conformance_dir() -> PathBuf {
    match std::env::var_os("ENSIGN_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("../shared/conformance"),
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
