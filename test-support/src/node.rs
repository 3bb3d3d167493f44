//! Node.js for the tests that run JavaScript (the OpenFeature clients of
//! the conformance tests, the dashboard's browser tests): finding a recent
//! enough Node.js with npm, and installing a folder's pinned packages once
//! per lock file.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, ensure};

/// The oldest Node.js the pinned packages support (`@openfeature/server-sdk`,
/// `lru-cache`, `@cucumber/cucumber` 12 and `@playwright/test` declare
/// `node >= 20`).
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
