//! End-to-end tests of the `ensign` binary, one test binary for the crate.

/// Experiment analysis: `ensign analytics run` over files, and a node's
/// periodic analysis read through GraphQL.
mod analysis;
/// The crate graph: what each crate must not depend on.
mod crates;
/// The embedded dashboard: its headers, and `dashboard/e2e`'s Playwright
/// scenarios in headless Chromium against the real binary.
mod dashboard;
/// `ensign eval`: single, explained and batch evaluation, exit codes.
mod eval;
/// `ensign events import|export`: tracking events as CSV, on SQLite and
/// PostgreSQL, a bad row refusing the whole file.
mod event_files;
/// Tracking events and evaluation counts end to end: stored by the real
/// binary, scoped to their key's flag set, flushed on SIGTERM, handed on
/// through Redis.
mod events;
/// Exposures end to end: recorded by the real binary, written to its store,
/// flushed on SIGTERM.
mod exposures;
/// Guarded rollouts: a regression pauses the rollout and the audit says
/// why; without one it runs to the end.
mod guarded;
/// `ensign serve`: the real binary on ephemeral ports, SIGTERM.
mod serve;
/// `ensign migrate` and `ensign token create` on a SQLite store.
mod store;
/// The source tree as a reader meets it: every file says what it is for.
mod tidy;
/// `ensign validate` against flagd's schema test files and bad input.
mod validate;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The built `ensign` binary as a command, with every `ENSIGN_*` variable
/// of the caller's environment removed: a developer's or CI's settings
/// (ports, a database URL, a config file) never steer what a test starts,
/// which sets what it needs itself.
pub fn ensign_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ensign"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ENSIGN_") {
            command.env_remove(name);
        }
    }
    command
}

/// Runs the built `ensign` binary from the workspace root.
pub fn ensign(args: &[&str]) -> Output {
    ensign_command()
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

/// The PostgreSQL server of the tests: `ENSIGN_TEST_DATABASE_URL`, by
/// default the local server's `test` database, as for every crate's tests.
pub fn test_database_url() -> reqwest::Url {
    reqwest::Url::parse(&test_support::postgres_url()).expect("ENSIGN_TEST_DATABASE_URL is a URL")
}

/// The Redis server of the tests: `ENSIGN_TEST_REDIS_URL`, by default the
/// local server, as for every crate's tests.
pub fn test_redis_url() -> reqwest::Url {
    reqwest::Url::parse(&test_support::redis_url()).expect("ENSIGN_TEST_REDIS_URL is a URL")
}

/// `host:port` of a service URL, `default_port` when it names none.
pub fn host_port(url: &reqwest::Url, default_port: u16) -> String {
    let host = url.host_str().unwrap_or("127.0.0.1");
    format!("{host}:{}", url.port().unwrap_or(default_port))
}

/// The test server's URL naming database `name` instead.
pub fn database_named(name: &str) -> reqwest::Url {
    let mut url = test_database_url();
    url.set_path(&format!("/{name}"));
    url
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
