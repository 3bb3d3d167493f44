//! Runs the flagd-testbed evaluator suite, and the provider-level targeting
//! suite, against real Ensign servers through real clients
//! (`cargo test -p conformance --test wire`):
//!
//! - `ofrep`: raw OFREP requests, every field of every response checked;
//! - `grpc-v1` and `grpc-v2`: raw calls to flagd's evaluation gRPC, versions
//!   1 and 2, on Ensign's own protos, every field of every response checked
//!   and statuses read as `@openfeature/flagd-provider` reads them;
//! - `flagd-rpc`: the `open-feature-flagd` provider against flagd's
//!   evaluation gRPC;
//! - `flagd-in-process`: the same crate syncing flags over flagd's sync gRPC
//!   and evaluating them with its own engine;
//! - `ofrep-provider`: the `open-feature-ofrep` provider, values only.
//!
//! Each mode gets its own servers: one per suite and fractional bucketing
//! version, each serving the suite's merged flag files; a
//! scenario goes to the server its `@fractional-vN` tags ask for (flagd's
//! default, v2, when untagged). What a mode does not run, and the examples
//! that fail because of a known server bug, are listed with their reasons in
//! `wire/exclusions.rs` and printed. Any other failure fails the run.

mod exclusions;
mod grpc;
mod modes;
mod ofrep;
mod outcome;
mod sdk;
mod servers;
mod world;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::Context as _;
use cucumber::event::ScenarioFinished;
use cucumber::gherkin::{Feature, Scenario};
use cucumber::writer::{self, Stats as _};
use cucumber::{World as _, WriterExt as _};
use futures::FutureExt as _;
use futures::future;

use conformance::features::{FeatureFiles, display_path};
use conformance::pins::{self, Counted, Pin};

use crate::modes::{MODES, Mode, find};
use crate::servers::Servers;
use crate::world::{Run, WireWorld, set_current};

/// Scenarios per mode that pass and that are skipped (listed in
/// `exclusions.rs`, with their reasons). A run that differs fails: changing
/// a count is a reviewed edit (see `conformance::pins`).
const EXPECTED: &[Pin] = &[
    Pin {
        mode: "ofrep",
        passed: 385,
        skipped: 0,
    },
    Pin {
        mode: "grpc-v1",
        passed: 380,
        skipped: 5,
    },
    Pin {
        mode: "grpc-v2",
        passed: 385,
        skipped: 0,
    },
    Pin {
        mode: "flagd-rpc",
        passed: 267,
        skipped: 118,
    },
    Pin {
        mode: "flagd-in-process",
        passed: 198,
        skipped: 187,
    },
    Pin {
        mode: "ofrep-provider",
        passed: 279,
        skipped: 106,
    },
    Pin {
        mode: "ensign-in-process",
        passed: 385,
        skipped: 0,
    },
    Pin {
        mode: "ensign-remote",
        passed: 385,
        skipped: 0,
    },
];

/// Counts and messages of the mode being run.
static TALLY: Mutex<Tally> = Mutex::new(Tally::new());

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("conformance: error: starting a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("conformance: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every mode; `Ok(false)` when one had an unexpected result.
async fn run() -> anyhow::Result<bool> {
    let dir = conformance::conformance_dir();
    let mut summaries = Vec::new();
    let mut counted = Vec::new();
    let mut ok = true;
    for mode in MODES {
        let servers = Servers::start(&dir, mode.omitted_flags())
            .await
            .with_context(|| format!("starting the {} mode's servers", mode.name()))?;
        let tally = run_mode(mode, &servers, &dir)
            .await
            .with_context(|| format!("running the {} mode", mode.name()))?;
        set_current(None);
        servers.shutdown().await;
        ok &= tally.ok();
        summaries.push(tally.summary(mode));
        counted.push(Counted {
            mode: mode.name().to_owned(),
            passed: tally.passed,
            skipped: tally.skipped.values().sum(),
        });
    }
    println!();
    for line in summaries {
        println!("{line}");
    }
    if let Err(mismatch) = pins::check("wire", EXPECTED, &counted) {
        println!("{mismatch}");
        ok = false;
    }
    Ok(ok)
}

/// Runs both suites through one mode's clients.
async fn run_mode(mode: Mode, servers: &Servers, dir: &Path) -> anyhow::Result<Tally> {
    let mut clients = Vec::new();
    for entry in &servers.entries {
        let client = mode.connect(entry).await.with_context(|| {
            format!(
                "connecting to the {} server, fractional {}",
                entry.suite,
                entry.version.as_str()
            )
        })?;
        clients.push((entry.suite, entry.version, client));
    }
    set_current(Some(Arc::new(Run {
        mode,
        suites: servers
            .suites
            .iter()
            .map(|s| (s.name, s.features.clone()))
            .collect(),
        clients,
    })));
    *lock(&TALLY) = Tally::new();

    let (skip_dir, after_dir) = (dir.to_owned(), dir.to_owned());
    let writer = WireWorld::cucumber::<PathBuf>()
        .with_parser(FeatureFiles)
        // Failures are reported by `record`, one line each, so the scenario
        // by scenario output of every mode does not bury them.
        .with_writer(
            writer::Basic::new(
                io::sink(),
                writer::Coloring::Never,
                writer::Verbosity::Default,
            )
            .summarized(),
        )
        .before(|feature, rule, scenario, world| {
            world.prepare(feature, rule, scenario);
            future::ready(()).boxed_local()
        })
        .after(move |feature, _, scenario, finished, world| {
            record(
                mode,
                &after_dir,
                feature,
                scenario,
                finished,
                world.as_deref(),
            );
            future::ready(()).boxed_local()
        })
        .fail_on_skipped()
        .with_cli(conformance::cli::options())
        .filter_run(
            servers.feature_files(),
            move |feature, _, scenario| match find(mode.exclusions(), feature, scenario) {
                Some(exclusion) => {
                    let line = format!(
                        "SKIPPED [{}] {}: {}",
                        mode.name(),
                        label(&skip_dir, feature, scenario),
                        exclusion.reason
                    );
                    println!("{line}");
                    *lock(&TALLY).skipped.entry(exclusion.reason).or_default() += 1;
                    false
                }
                None => true,
            },
        )
        .await;

    let mut tally = std::mem::replace(&mut *lock(&TALLY), Tally::new());
    tally.failed += writer.parsing_errors();
    Ok(tally)
}

/// Counts a finished scenario and prints it when it did not simply pass.
fn record(
    mode: Mode,
    dir: &Path,
    feature: &Feature,
    scenario: &Scenario,
    finished: &ScenarioFinished,
    world: Option<&WireWorld>,
) {
    let label = label(dir, feature, scenario);
    let name = mode.name();
    let known = find(mode.known_failures(), feature, scenario);
    let mut tally = lock(&TALLY);
    tally.unchecked += world.map_or(0, |w| w.unchecked);
    match (finished, known) {
        (ScenarioFinished::StepPassed, None) => tally.passed += 1,
        (ScenarioFinished::StepPassed, Some(bug)) => {
            tally.failed += 1;
            println!(
                "UNEXPECTED PASS [{name}] {label}: listed as a server bug ({}); remove it from the list",
                bug.reason
            );
        }
        (_, Some(bug)) => {
            *tally.known.entry(bug.reason).or_default() += 1;
            println!("KNOWN SERVER BUG [{name}] {label}: {}", bug.reason);
        }
        (ScenarioFinished::StepFailed(_, _, error), None) => {
            tally.failed += 1;
            println!("FAILED [{name}] {label}: {error}");
        }
        (ScenarioFinished::StepSkipped, None) => {
            tally.failed += 1;
            println!("FAILED [{name}] {label}: a step matches no step definition");
        }
        (ScenarioFinished::BeforeHookFailed(_), None) => {
            tally.failed += 1;
            println!("FAILED [{name}] {label}: the before hook failed");
        }
    }
}

/// `file:line "scenario" [example row]`.
fn label(dir: &Path, feature: &Feature, scenario: &Scenario) -> String {
    let row = scenario
        .examples
        .first()
        .and_then(|e| e.table.as_ref())
        .and_then(|t| t.rows.get(1))
        .map(|cells| format!(" [{}]", cells.join(" | ")))
        .unwrap_or_default();
    format!(
        "{}:{} \"{}\"{row}",
        display_path(feature.path.as_deref(), dir),
        scenario.position.line,
        scenario.name
    )
}

/// One mode's results.
#[derive(Debug)]
struct Tally {
    passed: usize,
    failed: usize,
    /// Skipped scenarios by reason.
    skipped: BTreeMap<&'static str, usize>,
    /// Known server bugs by reason.
    known: BTreeMap<&'static str, usize>,
    /// Detail steps the mode cannot check.
    unchecked: usize,
}

impl Tally {
    const fn new() -> Tally {
        Tally {
            passed: 0,
            failed: 0,
            skipped: BTreeMap::new(),
            known: BTreeMap::new(),
            unchecked: 0,
        }
    }

    fn ok(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }

    fn summary(&self, mode: Mode) -> String {
        let count = |map: &BTreeMap<&str, usize>| map.values().sum::<usize>();
        let reasons = |map: &BTreeMap<&str, usize>| {
            map.iter()
                .map(|(reason, n)| format!("{n}× {reason}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut line = format!(
            "conformance[{}]: {} passed, {} failed, {} skipped",
            mode.name(),
            self.passed,
            self.failed,
            count(&self.skipped)
        );
        if !self.skipped.is_empty() {
            line.push_str(&format!(" (reasons: {})", reasons(&self.skipped)));
        }
        if !self.known.is_empty() {
            line.push_str(&format!(
                ", {} known server bugs ({})",
                count(&self.known),
                reasons(&self.known)
            ));
        }
        if self.unchecked > 0 {
            line.push_str(&format!(
                ", {} detail steps not checked (the client reports values only)",
                self.unchecked
            ));
        }
        line
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
