//! Runs flagd-testbed's provider-level gherkin suite (`gherkin/*.feature`)
//! through the JavaScript flagd provider from npm against the real
//! `ensign serve` (`cargo test -p conformance --test provider_suite`).
//!
//! The step definitions are cucumber-js's, in `conformance/js/testbed`: its
//! launchpad starts, restarts and stops `ensign` per scenario, each on
//! ephemeral ports in its own scratch directory, and edits the flag files
//! for change events, as flagd-testbed's launchpad does for flagd. This test
//! runs one cucumber-js profile per provider mode, all three at once:
//!
//! - `rpc`: `@openfeature/flagd-provider` against flagd's evaluation gRPC;
//! - `in-process`: the same provider syncing over flagd's sync gRPC and
//!   evaluating with `@openfeature/flagd-core`;
//! - `file`: the in-process provider reading the launchpad's flag file
//!   offline, with no server (the testbed's `@file` scenarios).
//!
//! Every scenario a mode does not run is skipped with the reason that
//! `testbed/support/skips.mjs` names; the test prints the counts per mode and
//! the reasons, and fails on any failed scenario.
//!
//! Like `tests/clients.rs`, whose way of finding the binary and installing
//! the packages this test shares (the same install lock and stamp, so that
//! the two never reinstall under each other), it asks the cargo that built
//! it to build `ensign` and takes the path from cargo's artifact message;
//! `ENSIGN_BIN` names a prebuilt binary instead. Without Node.js or npm it
//! prints one SKIPPED line and passes, unless `ENSIGN_REQUIRE_SERVICES=1`.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail, ensure};
use serde_json::Value;

/// The cucumber-js profiles of `testbed/cucumber.mjs`, in report order.
const MODES: [&str; 3] = ["rpc", "in-process", "file"];

/// cucumber-js workers per mode; the three modes run at once, and most of a
/// worker's time goes to waiting out the lost-connection scenarios.
const WORKERS_PER_MODE: u32 = 2;

/// The oldest Node.js the pinned packages support (`@cucumber/cucumber` 12
/// and `@openfeature/server-sdk` declare `node >= 20`).
const MIN_NODE_MAJOR: u32 = 20;

/// Longest one mode's cucumber-js run may take before it is killed.
const MODE_RUN: Duration = Duration::from_secs(300);

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("provider_suite: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every mode; `Ok(false)` when a scenario failed.
fn run() -> anyhow::Result<bool> {
    if let Err(missing) = node_toolchain() {
        if require_services() {
            bail!(
                "{missing}, and ENSIGN_REQUIRE_SERVICES=1 requires the JavaScript provider suite"
            );
        }
        println!(
            "SKIPPED: flagd-testbed provider suite through the JavaScript flagd provider ({missing})"
        );
        return Ok(true);
    }
    let js = js_dir();
    let binary = ensign_binary()?;
    let _install = install_packages(&js)?;
    let conformance = conformance::conformance_dir();
    ensure!(
        conformance.join("flagd-testbed/gherkin").is_dir(),
        "no flagd-testbed gherkin suite under {} (set ENSIGN_CONFORMANCE_DIR)",
        conformance.display()
    );

    let scratch =
        std::env::temp_dir().join(format!("ensign-provider-suite-{}", std::process::id()));
    let outcomes: Vec<anyhow::Result<Report>> = std::thread::scope(|scope| {
        let runs: Vec<_> = MODES
            .iter()
            .map(|mode| {
                let dir = scratch.join(mode);
                let (binary, js, conformance) = (&binary, &js, &conformance);
                scope.spawn(move || run_mode(mode, binary, js, conformance, &dir))
            })
            .collect();
        runs.into_iter()
            .map(|run| {
                run.join()
                    .unwrap_or_else(|_| Err(anyhow!("the runner thread panicked")))
            })
            .collect()
    });
    let _ = fs::remove_dir_all(&scratch);

    let mut ok = true;
    let mut total = Counts::default();
    let mut reasons: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    let mut lines = Vec::new();
    for (mode, outcome) in MODES.iter().zip(outcomes) {
        match outcome {
            Ok(report) => {
                lines.push(format!("  {mode:<10} {}", report.counts));
                total.add(&report.counts);
                for (reason, count) in &report.skips {
                    *reasons
                        .entry(reason.clone())
                        .or_default()
                        .entry(mode)
                        .or_default() += count;
                }
                for (reason, count) in &report.bugs {
                    let reason = format!("known server bug: {reason}");
                    *reasons.entry(reason).or_default().entry(mode).or_default() += count;
                }
                if !report.passed() {
                    ok = false;
                    eprintln!("---- {mode}: failures");
                    eprintln!("{}", report.failures.trim_end());
                    eprintln!("---- {mode}: cucumber-js output");
                    eprintln!("{}", report.output.trim_end());
                }
            }
            Err(e) => {
                ok = false;
                lines.push(format!("  {mode:<10} did not run"));
                eprintln!("---- {mode}: error: {e:#}");
            }
        }
    }
    println!("provider_suite: flagd-testbed gherkin/*.feature through @openfeature/flagd-provider");
    for line in lines {
        println!("{line}");
    }
    println!("provider_suite: skipped scenarios by reason");
    println!("  {:>5} {:>10} {:>5}  reason", MODES[0], MODES[1], MODES[2]);
    for (reason, counts) in &reasons {
        let [rpc, in_process, file] = MODES.map(|mode| counts.get(mode).copied().unwrap_or(0));
        println!("  {rpc:>5} {in_process:>10} {file:>5}  {reason}");
    }
    println!("provider_suite: {total}");
    Ok(ok)
}

/// Scenario counts of one run.
#[derive(Debug, Default)]
struct Counts {
    passed: usize,
    failed: usize,
    skipped: usize,
    known_bugs: usize,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.known_bugs += other.known_bugs;
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )?;
        if self.known_bugs > 0 {
            write!(f, ", {} known server bugs", self.known_bugs)?;
        }
        Ok(())
    }
}

/// What one mode's run reported (`testbed/report.mjs`).
#[derive(Debug)]
struct Report {
    counts: Counts,
    exit_ok: bool,
    /// Skipped scenarios per reason.
    skips: BTreeMap<String, usize>,
    /// Scenarios that failed as a listed server bug says, per bug.
    bugs: BTreeMap<String, usize>,
    /// Each failed scenario, as cucumber-js describes it.
    failures: String,
    /// cucumber-js's own output and node's stderr.
    output: String,
}

impl Report {
    fn passed(&self) -> bool {
        self.exit_ok && self.counts.passed > 0 && self.counts.failed == 0
    }

    fn parse(json: &str, exit_ok: bool, output: String) -> anyhow::Result<Report> {
        let report: Value = serde_json::from_str(json).context("parsing the cucumber-js report")?;
        let count = |name: &str| -> anyhow::Result<usize> {
            let n = report[name]
                .as_u64()
                .with_context(|| format!("the report's {name}"))?;
            Ok(usize::try_from(n)?)
        };
        let groups = |name: &str| -> BTreeMap<String, usize> {
            report[name]
                .as_object()
                .map(|groups| {
                    groups
                        .iter()
                        .map(|(reason, names)| {
                            (reason.clone(), names.as_array().map_or(0, Vec::len))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let failures = report["failures"]
            .as_array()
            .map(|failures| {
                failures
                    .iter()
                    .filter_map(|failure| failure["details"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        Ok(Report {
            counts: Counts {
                passed: count("passed")?,
                failed: count("failed")?,
                skipped: count("skipped")?,
                known_bugs: count("knownBugs")?,
            },
            exit_ok,
            skips: groups("skips"),
            bugs: groups("bugs"),
            failures,
            output,
        })
    }
}

/// One mode: cucumber-js with the mode's profile, its scratch files in `dir`.
fn run_mode(
    mode: &str,
    binary: &Path,
    js: &Path,
    conformance: &Path,
    dir: &Path,
) -> anyhow::Result<Report> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let report = dir.join("report.json");
    let mut node = Command::new("node");
    node.arg(js.join("node_modules/@cucumber/cucumber/bin/cucumber.js"))
        .args(["--config", "testbed/cucumber.mjs", "--profile", mode])
        .current_dir(js)
        .env("ENSIGN_BIN", binary)
        .env("ENSIGN_CONFORMANCE_DIR", conformance)
        .env("ENSIGN_TESTBED_SCRATCH", dir)
        .env("ENSIGN_TESTBED_REPORT", &report)
        .env("ENSIGN_TESTBED_PARALLEL", WORKERS_PER_MODE.to_string())
        .stdin(Stdio::null());
    // The scenarios set FLAGD_* variables themselves, and config.feature
    // checks what the provider makes of them: none may leak in.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FLAGD_") {
            node.env_remove(name);
        }
    }
    let (exit_ok, output) = run_with_deadline(node, dir, MODE_RUN)?;
    let json = fs::read_to_string(&report)
        .with_context(|| format!("cucumber-js wrote no report; its output:\n{output}"))?;
    Report::parse(&json, exit_ok, output)
}

/// Runs `command` with its output in a file under `dir`, killing it after
/// `deadline`; returns whether it succeeded, and its output.
fn run_with_deadline(
    mut command: Command,
    dir: &Path,
    deadline: Duration,
) -> anyhow::Result<(bool, String)> {
    let path = dir.join("node-output.txt");
    let out = File::create(&path).context("creating the node output file")?;
    let err = out.try_clone().context("sharing the node output file")?;
    let mut child = command
        .stdout(out)
        .stderr(err)
        .spawn()
        .context("starting node")?;
    let start = Instant::now();
    let ok = loop {
        if let Some(status) = child.try_wait().context("waiting for node")? {
            break status.success();
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let output = fs::read_to_string(&path).unwrap_or_default();
            bail!("cucumber-js ran longer than {deadline:?}; its output:\n{output}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Ok((ok, fs::read_to_string(&path).unwrap_or_default()))
}

/// `Err` names what is missing: Node.js, a recent enough one, or npm.
fn node_toolchain() -> Result<(), String> {
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

fn require_services() -> bool {
    std::env::var_os("ENSIGN_REQUIRE_SERVICES").is_some_and(|v| v == "1")
}

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `ENSIGN_BIN`, or the `ensign` binary as cargo builds it for this workspace
/// (see `tests/clients.rs` for why it is built this way).
fn ensign_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("ENSIGN_BIN") {
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
    // build script that watches one of those variables would otherwise
    // rebuild on every run.
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

/// Holds the install lock for as long as the suite runs, shared, so that a
/// concurrent run of this test or of `tests/clients.rs` never reinstalls
/// under it.
#[derive(Debug)]
struct Installed(#[allow(dead_code, reason = "held for its lock")] File);

/// Runs `npm ci` when `node_modules` does not match `package-lock.json`, by
/// the same lock file and stamp as `tests/clients.rs`.
fn install_packages(js: &Path) -> anyhow::Result<Installed> {
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
        eprintln!("provider_suite: installing the JavaScript packages (npm ci)");
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
