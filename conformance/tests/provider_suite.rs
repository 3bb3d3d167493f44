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
//! `ENSIGN_BIN` names a prebuilt binary instead (not under `CI`). Without Node.js or npm it
//! prints one SKIPPED line and passes, unless `ENSIGN_REQUIRE_SERVICES=1`.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail, ensure};
use serde_json::Value;

/// Node.js, npm, the `ensign` binary and the pinned packages.
mod node;

use conformance::pins::{self, Counted, Pin};

use node::{ensign_binary, install_packages, js_dir, node_toolchain};

/// The cucumber-js profiles of `testbed/cucumber.mjs`, in report order.
const MODES: [&str; 3] = ["rpc", "in-process", "file"];

/// Scenarios per mode that pass and that are skipped (with the reasons of
/// `testbed/support/skips.mjs`). A run that differs fails: changing a count
/// is a reviewed edit (see `conformance::pins`).
const EXPECTED: &[Pin] = &[
    Pin {
        mode: "rpc",
        passed: 358,
        skipped: 58,
    },
    Pin {
        mode: "in-process",
        passed: 215,
        skipped: 201,
    },
    Pin {
        mode: "file",
        passed: 144,
        skipped: 272,
    },
];

/// cucumber-js workers per mode; the three modes run at once, and most of a
/// worker's time goes to waiting out the lost-connection scenarios.
const WORKERS_PER_MODE: u32 = 2;

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
        if test_support::services_required() {
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
    let _install = install_packages(&js, "provider_suite")?;
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
    let mut counted = Vec::new();
    let mut total = Counts::default();
    let mut reasons: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    let mut lines = Vec::new();
    for (mode, outcome) in MODES.iter().zip(outcomes) {
        match outcome {
            Ok(report) => {
                lines.push(format!("  {mode:<10} {}", report.counts));
                counted.push(Counted {
                    mode: (*mode).to_owned(),
                    passed: report.counts.passed,
                    skipped: report.counts.skipped,
                });
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
    if let Err(mismatch) = pins::check("provider_suite", EXPECTED, &counted) {
        println!("{mismatch}");
        ok = false;
    }
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
    // The launchpad passes its environment to every `ensign` it starts.
    node::clear_ensign_env(&mut node)
        .arg(js.join("node_modules/@cucumber/cucumber/bin/cucumber.js"))
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
