//! What the tests that drive Ensign through JavaScript clients share:
//! building the `ensign` binary and the packages' directory; finding
//! Node.js and npm and installing the pinned packages once per lock file
//! come from `test_support::node`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context as _, ensure};
use serde_json::Value;

pub use test_support::node::{install_packages, node_toolchain};

/// The JavaScript packages' directory, `conformance/js`.
pub fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `ENSIGN_BIN`, or the `ensign` binary as cargo builds it for this
/// workspace. Under `CI` the binary is always cargo's, so that CI tests the
/// code it checked out and not a binary someone left in its environment.
pub fn ensign_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("ENSIGN_BIN")
        && !under_ci()
    {
        return Ok(PathBuf::from(path));
    }
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--package", "ensign", "--bin", "ensign"])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    // Cargo describes this test's own package to it in the environment; a
    // build script that watches one of those variables (ring's watches
    // CARGO_MANIFEST_DIR) would otherwise rebuild on every run, and again
    // in the next ordinary `cargo build`.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_") || CARGO_TEST_VARS.contains(&name.as_ref()) {
            cargo.env_remove(name.as_ref());
        }
    }
    let output = cargo.output().context("running cargo build -p ensign")?;
    ensure!(output.status.success(), "cargo build -p ensign failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "ensign")
        .filter(|m| {
            m["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"))
        })
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo reported no ensign executable")
}

/// Whether the `CI` variable is set (non-empty).
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Removes every `ENSIGN_*` variable of the caller's environment from
/// `command`, so that a developer's or CI's settings (ports, a database
/// URL, a config file) never steer the `ensign` a test starts; the test
/// then sets what it needs.
pub fn clear_ensign_env(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ENSIGN_") {
            command.env_remove(name);
        }
    }
    command
}

/// What cargo sets, besides `CARGO_PKG_*`, for the test executable it runs.
const CARGO_TEST_VARS: [&str; 7] = [
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
];
