//! What the tests that drive Ensign through JavaScript clients share:
//! finding Node.js and npm, building the `ensign` binary, and installing the
//! pinned packages once per lock file.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, ensure};
use serde_json::Value;

/// The oldest Node.js the pinned packages support (`@openfeature/server-sdk`,
/// `lru-cache` and `@cucumber/cucumber` 12 declare `node >= 20`).
pub const MIN_NODE_MAJOR: u32 = 20;

/// `Err` names what is missing: Node.js, a recent enough one, or npm.
pub fn node_toolchain() -> Result<(), String> {
    let version = tool_version("node").ok_or("Node.js not found")?;
    let major = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    if major.is_none_or(|m| m < MIN_NODE_MAJOR) {
        return Err(format!("Node.js {version} is older than {MIN_NODE_MAJOR}"));
    }
    tool_version("npm").ok_or("npm not found")?;
    Ok(())
}

fn tool_version(program: &str) -> Option<String> {
    let output = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

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

/// Holds the install lock for as long as the JavaScript side runs, shared,
/// so that a concurrent test run in the same checkout never reinstalls under
/// it.
#[derive(Debug)]
pub struct Installed(#[allow(dead_code, reason = "held for its lock")] File);

/// Runs `npm ci` when `node_modules` does not match `package-lock.json`;
/// `who` names the test in the message.
///
/// The lock file is copied into `node_modules` after a successful install;
/// a differing or missing copy means a fresh install is needed.
pub fn install_packages(js: &Path, who: &str) -> anyhow::Result<Installed> {
    let lock_path = js.join(".install.lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    lock.lock().context("locking the npm install")?;

    let wanted = fs::read(js.join("package-lock.json")).context("reading package-lock.json")?;
    let stamp = js.join("node_modules").join(".ensign-package-lock.json");
    if fs::read(&stamp).ok().as_deref() != Some(wanted.as_slice()) {
        eprintln!("{who}: installing the JavaScript packages (npm ci)");
        let output = Command::new("npm")
            .args(["ci", "--prefer-offline", "--no-audit", "--no-fund"])
            .current_dir(js)
            .stdin(Stdio::null())
            .output()
            .context("running npm ci")?;
        ensure!(
            output.status.success(),
            "npm ci failed in {}:\n{}{}",
            js.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        fs::write(&stamp, &wanted).context("recording the installed lock file")?;
    }

    lock.unlock().context("unlocking the npm install")?;
    lock.lock_shared().context("sharing the npm install")?;
    Ok(Installed(lock))
}
