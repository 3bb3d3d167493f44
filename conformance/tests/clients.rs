//! Drives the real `ensign serve` with the JavaScript OpenFeature providers
//! from npm (`conformance/js`): OFREP, flagd RPC and flagd in-process, each
//! against its own server and its own copy of the flag file, since the
//! change tests edit it (`cargo test -p conformance --test clients`).
//!
//! The `ensign` binary belongs to another package, so cargo gives this test
//! no `CARGO_BIN_EXE_ensign`, and a binary found next to the test executable
//! may predate the sources under test (`cargo test -p conformance` does not
//! rebuild it). The test therefore asks the cargo that built it to build
//! `ensign` (a no-op when it is fresh) and takes the path from cargo's own
//! artifact message, which follows `CARGO_TARGET_DIR` and every other
//! target-directory setting. That build is the one `cargo run -p ensign`
//! makes, so it is shared with `just run`; under `cargo test --workspace`
//! its dependencies are compiled once more, for `ensign`'s own feature set.
//! `ENSIGN_BIN` names a prebuilt binary instead (not under `CI`).
//!
//! Without Node.js or npm the test prints one SKIPPED line and passes, unless
//! `ENSIGN_REQUIRE_SERVICES=1`, when it fails.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};

/// Node.js, npm, the `ensign` binary and the pinned packages.
mod node;

use conformance::pins::{self, Counted, Pin};

use node::{ensign_binary, install_packages, js_dir, node_toolchain};

/// The client modes `clients.test.mjs` knows, in the order they are reported.
const MODES: [&str; 3] = ["ofrep", "flagd-rpc", "flagd-in-process"];

/// Longest a server may take to listen and load its flags.
const SERVER_START: Duration = Duration::from_secs(30);

/// Longest one mode's JavaScript run may take before it is killed.
const CLIENT_RUN: Duration = Duration::from_secs(180);

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("clients: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every mode; `Ok(false)` when a JavaScript test failed.
fn run() -> anyhow::Result<bool> {
    if let Err(missing) = node_toolchain() {
        if test_support::services_required() {
            bail!("{missing}, and ENSIGN_REQUIRE_SERVICES=1 requires the JavaScript clients");
        }
        println!("SKIPPED: JavaScript OpenFeature clients against ensign serve ({missing})");
        return Ok(true);
    }
    let js = js_dir();
    let binary = ensign_binary()?;
    let _install = install_packages(&js, "clients")?;

    let scratch = std::env::temp_dir().join(format!("ensign-js-clients-{}", std::process::id()));
    let outcomes: Vec<anyhow::Result<Outcome>> = std::thread::scope(|scope| {
        let runs: Vec<_> = MODES
            .iter()
            .map(|mode| {
                let dir = scratch.join(mode);
                let (binary, js) = (&binary, &js);
                scope.spawn(move || run_mode(mode, binary, js, &dir))
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

    let mut summary = Vec::new();
    let mut counted = Vec::new();
    let mut ok = true;
    for (mode, outcome) in MODES.iter().zip(outcomes) {
        match outcome {
            Ok(outcome) => {
                summary.push(format!("{mode} {}", outcome.counts));
                counted.push(Counted {
                    mode: (*mode).to_owned(),
                    passed: outcome.counts.pass as usize,
                    skipped: (outcome.counts.skipped + outcome.counts.todo) as usize,
                });
                if !outcome.passed() {
                    ok = false;
                    eprintln!("---- {mode}: JavaScript output");
                    eprintln!("{}", outcome.output.trim_end());
                    eprintln!("---- {mode}: server log");
                    eprintln!("{}", outcome.server_log.trim_end());
                }
            }
            Err(e) => {
                ok = false;
                summary.push(format!("{mode} did not run"));
                eprintln!("---- {mode}: error: {e:#}");
            }
        }
    }
    println!("clients: {}", summary.join("; "));
    if let Err(mismatch) = pins::check("clients", EXPECTED, &counted) {
        println!("{mismatch}");
        ok = false;
    }
    Ok(ok)
}

/// Tests per client mode that pass and that are skipped or known to fail
/// (`todo`). A run that differs fails: changing a count is a reviewed edit
/// (see `conformance::pins`).
const EXPECTED: &[Pin] = &[
    Pin {
        mode: "ofrep",
        passed: 8,
        skipped: 1,
    },
    Pin {
        mode: "flagd-rpc",
        passed: 9,
        skipped: 0,
    },
    Pin {
        mode: "flagd-in-process",
        passed: 9,
        skipped: 0,
    },
];

/// What one mode's run reported.
struct Outcome {
    counts: Counts,
    exit_ok: bool,
    /// The spec reporter's human-readable output and node's stderr.
    output: String,
    server_log: String,
}

impl Outcome {
    fn passed(&self) -> bool {
        let c = &self.counts;
        self.exit_ok && c.pass > 0 && c.fail == 0 && c.cancelled == 0
    }
}

/// The summary counts of node's TAP reporter (`# pass 9` and so on).
#[derive(Debug, Default)]
struct Counts {
    pass: u32,
    fail: u32,
    cancelled: u32,
    skipped: u32,
    todo: u32,
}

impl Counts {
    fn from_tap(tap: &str) -> Counts {
        let mut counts = Counts::default();
        for line in tap.lines() {
            let mut words = line.split_whitespace();
            let (Some("#"), Some(name), Some(n), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                continue;
            };
            let Ok(n) = n.parse() else { continue };
            match name {
                "pass" => counts.pass = n,
                "fail" => counts.fail = n,
                "cancelled" => counts.cancelled = n,
                "skipped" => counts.skipped = n,
                "todo" => counts.todo = n,
                _ => {}
            }
        }
        counts
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} passed", self.pass)?;
        for (n, what) in [
            (self.fail, "failed"),
            (self.cancelled, "cancelled"),
            (self.skipped, "skipped"),
            (self.todo, "known failures"),
        ] {
            if n > 0 {
                write!(f, ", {n} {what}")?;
            }
        }
        Ok(())
    }
}

/// One mode: a server on a scratch copy of the flags, then the JavaScript run.
fn run_mode(mode: &str, binary: &Path, js: &Path, dir: &Path) -> anyhow::Result<Outcome> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let flags = dir.join("flags.json");
    fs::copy(js.join("flags.json"), &flags).context("copying the flag fixture")?;
    let server = Server::start(binary, &flags)?;

    let (tap, spec) = (dir.join("tap.txt"), dir.join("spec.txt"));
    let mut node = Command::new("node");
    node::clear_ensign_env(&mut node)
        .args(["--test", "--test-timeout=60000"])
        .args(["--test-reporter=tap", "--test-reporter-destination"])
        .arg(&tap)
        .args(["--test-reporter=spec", "--test-reporter-destination"])
        .arg(&spec)
        .arg("clients.test.mjs")
        .current_dir(js)
        .env("ENSIGN_JS_CLIENT", mode)
        .env("ENSIGN_JS_OFREP_URL", format!("http://{}", server.ofrep))
        .env("ENSIGN_JS_EVALUATION", server.evaluation.to_string())
        .env("ENSIGN_JS_SYNC", server.sync.to_string())
        .env("ENSIGN_JS_FLAG_FILE", &flags)
        .stdin(Stdio::null());
    // The flagd provider reads FLAGD_* settings from the environment; the
    // test's own options must be the only ones in effect.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FLAGD_") {
            node.env_remove(name);
        }
    }
    let (exit_ok, stdio) = run_with_deadline(node, dir, CLIENT_RUN)?;

    let read = |path: &Path| fs::read_to_string(path).unwrap_or_default();
    let counts = Counts::from_tap(&read(&tap));
    Ok(Outcome {
        counts,
        exit_ok,
        output: format!("{}{stdio}", read(&spec)),
        server_log: server.log(),
    })
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
            bail!("node ran longer than {deadline:?}; its output:\n{output}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok((ok, fs::read_to_string(&path).unwrap_or_default()))
}

/// A running `ensign serve` on ephemeral ports, killed on drop.
struct Server {
    child: Child,
    ofrep: SocketAddr,
    evaluation: SocketAddr,
    sync: SocketAddr,
    log: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn start(binary: &Path, flags: &Path) -> anyhow::Result<Server> {
        let mut command = Command::new(binary);
        let mut child = node::clear_ensign_env(&mut command)
            .args([
                "serve",
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--sync-port",
                "0",
            ])
            .args(["--ofrep-port", "0", "--management-port", "0", "--uri"])
            .arg(format!("file:{}", flags.display()))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stderr = child.stderr.take().context("the server's stderr")?;
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });

        let mut seen = Vec::new();
        let mut addrs: [Option<SocketAddr>; 4] = [None; 4];
        let names = ["ofrep", "evaluation", "sync", "management"];
        let until = Instant::now() + SERVER_START;
        while addrs.iter().any(Option::is_none) {
            let left = until.saturating_duration_since(Instant::now());
            let Ok(line) = log.recv_timeout(left) else {
                let _ = child.kill();
                bail!(
                    "the server did not log its four listeners within {SERVER_START:?}:\n{}",
                    seen.join("\n")
                );
            };
            if line.contains("Listener started.") {
                for (name, addr) in names.iter().zip(addrs.iter_mut()) {
                    if line.contains(&format!("listener=\"{name}\"")) {
                        *addr = line
                            .split_whitespace()
                            .find_map(|w| w.strip_prefix("addr="))
                            .and_then(|a| a.parse().ok());
                    }
                }
            }
            seen.push(line);
        }
        let [Some(ofrep), Some(evaluation), Some(sync), Some(management)] = addrs else {
            unreachable!("the loop ends once every address is known");
        };
        let server = Server {
            child,
            ofrep,
            evaluation,
            sync,
            log,
            seen,
        };
        server.wait_ready(management)?;
        Ok(server)
    }

    /// Polls `/readyz` until it answers 200: every source has loaded.
    fn wait_ready(&self, management: SocketAddr) -> anyhow::Result<()> {
        let until = Instant::now() + SERVER_START;
        while Instant::now() < until {
            if http_status(management, "/readyz").is_ok_and(|status| status == 200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        bail!("the server was not ready within {SERVER_START:?}")
    }

    /// Everything the server logged so far.
    fn log(mut self) -> String {
        self.seen.extend(self.log.try_iter());
        self.seen.join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of a plain HTTP/1.0 GET.
fn http_status(addr: SocketAddr, path: &str) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .context("an HTTP status line")?;
    Ok(status.parse()?)
}
