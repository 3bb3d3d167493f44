//! `just bench-propagation`: how long a committed admin change takes to be
//! served by evaluation nodes.
//!
//! Starts one admin node (PostgreSQL store, publishing to Redis) and two
//! evaluation nodes (Redis source only), flips one flag's default variant
//! through the admin API `CHANGES` times, and for each change measures the
//! time from sending the mutation (so the commit itself is included) until
//! both nodes serve the new value over OFREP. Each node is asked once the
//! mutation is answered and again whenever its OFREP change stream (SSE)
//! announces a new snapshot, or after `RECHECK` without one, so that the
//! bench neither loads the nodes with polling nor adds a polling interval
//! to what it measures. The baseline, measured in the same run, is the
//! delivery time of a bare Redis PUBLISH to a subscriber: the transport's
//! share.
//!
//! Where each change spends its time comes from the nodes' own timing
//! events (`engine::publication::TIMING_TARGET`, at debug level, enabled
//! only here), whose wall-clock stamps the bench reads from their logs:
//! commit (mutation sent until the commit reaches the publisher's wake-up),
//! publisher wake-up, document read and compile, the Lua script,
//! announcement (until the node receives it), node fetch, node compile,
//! swap, and first OFREP answer (until the answer with the new value
//! arrives). The stages are those of the node that served last.
//!
//! Needs PostgreSQL and Redis, found as the tests find them
//! (`ENSIGN_TEST_DATABASE_URL`, `ENSIGN_TEST_REDIS_URL`, by default on their
//! usual local ports; each run uses a database and key prefix of its own). The binary is `ENSIGN_BIN`, or the
//! release build (`cargo build --release -p ensign`, which the just recipe
//! runs first).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use engine::publication::{TIMING_TARGET, timestamp_micros};

use crate::services::{postgres, redis_url};

#[path = "support/services.rs"]
mod services;

/// Changes measured.
const CHANGES: usize = 200;
/// Bare publish/subscribe round trips measured for the baseline.
const BASELINE: usize = 200;
/// Gives up on a change after this long.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Asks a node again after this long without a change event.
const RECHECK: Duration = Duration::from_millis(20);
fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let binary = services::binary()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(binary))
}

async fn run(binary: PathBuf) -> anyhow::Result<()> {
    services::with_scratch("ensign_propagation", |unique| async move {
        measure(&binary, &unique).await
    })
    .await
}

async fn measure(binary: &std::path::Path, unique: &str) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(unique);
    std::fs::create_dir_all(&dir)?;
    let database = postgres(unique);
    let admin = Node::start(
        binary,
        &dir.join("admin"),
        &[
            "--database-url",
            &database,
            "--redis-url",
            &redis_url(),
            "--redis-prefix",
            unique,
        ],
    )?;
    let token = admin
        .token
        .clone()
        .context("the admin node printed no token")?;
    let uri = format!("{}?prefix={unique}", redis_url());
    let nodes = [
        Node::start(binary, &dir.join("node-1"), &["--uri", &uri])?,
        Node::start(binary, &dir.join("node-2"), &["--uri", &uri])?,
    ];
    let client = reqwest::Client::new();
    for node in &nodes {
        node.wait_ready(&client).await?;
        node.follow_changes(&client).await?;
    }

    let baseline = pubsub_baseline(unique).await?;
    let mut propagation = Histogram::<u64>::new(3)?;
    let mut samples = Vec::with_capacity(CHANGES);
    let admin_url = format!("http://{}/graphql", admin.admin.context("no admin API")?);
    // Each change raises the flag set's version by one; the timing events
    // name the version.
    let sets: Value = client
        .post(&admin_url)
        .bearer_auth(&token)
        .json(&json!({"query": "{ flagSets { key version } }"}))
        .send()
        .await?
        .json()
        .await?;
    let first_version = sets["data"]["flagSets"]
        .as_array()
        .and_then(|sets| sets.iter().find(|set| set["key"] == "default"))
        .and_then(|set| set["version"].as_u64())
        .with_context(|| format!("no version of flag set default: {sets}"))?
        + 1;
    for change in 0..CHANGES {
        let variant = if change % 2 == 0 { "off" } else { "on" };
        let expected = json!(variant == "on");
        let start = Instant::now();
        let sent = timestamp_micros();
        let response: Value = client
            .post(&admin_url)
            .bearer_auth(&token)
            .json(&json!({"query": format!(
                r#"mutation {{ updateFlag(flagSet: "default", key: "payments-kill-switch",
                   expectedVersion: {}, flag: {{definition: {{state: "ENABLED",
                   variants: {{on: true, off: false}}, defaultVariant: "{variant}"}}}}) {{ version }} }}"#,
                change + 1
            )}))
            .send()
            .await?
            .json()
            .await?;
        let answered = timestamp_micros();
        if response["data"]["updateFlag"]["version"].is_null() {
            bail!("the mutation failed: {response}");
        }
        // Both nodes are asked at once, so that one's answer does not wait
        // for the other's.
        let served = futures::future::try_join_all(
            nodes
                .iter()
                .map(|node| node.served(&client, &expected, start, change)),
        )
        .await?;
        propagation.record(start.elapsed().as_micros() as u64)?;
        samples.push(Sample {
            version: first_version + change as u64,
            sent,
            answered,
            served,
        });
    }
    // Let the last log lines arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stages = Stages::read(&samples, &admin, &nodes)?;

    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!("propagation over {CHANGES} changes (commit to served by both nodes), ms:");
    println!("| measure | p50 | p99 | max | p50 / baseline p50 |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, h: &Histogram<u64>| {
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.1} |",
            ms(h, 0.5),
            ms(h, 0.99),
            h.max() as f64 / 1000.0,
            ms(h, 0.5) / ms(&baseline, 0.5).max(0.001)
        );
    };
    row("Redis PUBLISH → subscriber (baseline)", &baseline);
    row("admin mutation → both nodes serve it", &propagation);
    println!();
    println!(
        "stages of {} changes (the node that served last), ms:",
        stages.timed
    );
    println!("| stage | p50 | p99 | max | p50 / baseline p50 |");
    println!("|---|---|---|---|---|");
    for (name, histogram) in STAGES.iter().zip(&stages.histograms) {
        row(name, histogram);
    }
    row("(mutation sent → answered)", &stages.answered);
    if stages.timed < CHANGES {
        println!(
            "{} changes lack a stamp (a node loaded them on reconciliation rather than on their announcement) and are not staged",
            CHANGES - stages.timed
        );
    }
    let (p50, p99) = (ms(&propagation, 0.5), ms(&propagation, 0.99));
    println!(
        "bar: p50 under 5 ms and p99 under 20 ms: {}",
        if p50 < 5.0 && p99 < 20.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    drop(nodes);
    drop(admin);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Delivery time of a bare PUBLISH to a subscriber on the same Redis.
async fn pubsub_baseline(unique: &str) -> anyhow::Result<Histogram<u64>> {
    let client = redis::Client::open(redis_url())?;
    let mut subscriber = client.get_async_pubsub().await?;
    let channel = format!("{unique}:baseline");
    subscriber.subscribe(&channel).await?;
    let mut publisher = client.get_multiplexed_async_connection().await?;
    let mut messages = subscriber.on_message();
    let mut histogram = Histogram::<u64>::new(3)?;
    for i in 0..BASELINE {
        let start = Instant::now();
        redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(i)
            .query_async::<i64>(&mut publisher)
            .await?;
        tokio::time::timeout(TIMEOUT, messages.next())
            .await?
            .context("the subscription ended")?;
        histogram.record(start.elapsed().as_micros() as u64)?;
    }
    Ok(histogram)
}

/// One change as the bench saw it, in [`timestamp_micros`].
struct Sample {
    /// The flag set's version it made.
    version: u64,
    /// The mutation was sent.
    sent: u64,
    /// Its answer arrived.
    answered: u64,
    /// Each node's first answer with the new value arrived.
    served: Vec<u64>,
}

/// The stages, in order; each ends where the next begins.
const STAGES: [&str; 9] = [
    "commit (sent → committed)",
    "publisher wake-up",
    "document read + compile",
    "Lua script",
    "announcement (→ node)",
    "node fetch",
    "node compile",
    "swap",
    "first OFREP answer",
];

/// Per-stage histograms over the changes, in microseconds.
struct Stages {
    histograms: Vec<Histogram<u64>>,
    answered: Histogram<u64>,
    /// Changes whose every stamp was found.
    timed: usize,
}

/// A node's timing stamps of one announced version.
#[derive(Default)]
struct NodeStamps {
    announced: Option<u64>,
    fetched: Option<u64>,
    compiled: Option<u64>,
    swapped: Option<u64>,
}

impl Stages {
    /// Matches the nodes' timing events to the changes: the first commit
    /// after each change's mutation (changes are made one at a time), and
    /// the publication and each node's load of the version it made.
    fn read(samples: &[Sample], admin: &Node, nodes: &[Node]) -> anyhow::Result<Stages> {
        let admin_lines = admin.timings();
        let commits: Vec<u64> = admin_lines
            .iter()
            .filter(|line| line.contains("Commit received."))
            .filter_map(|line| field(line, "committed_us"))
            .collect();
        // (version, woke, read, written)
        let publications: Vec<[u64; 4]> = admin_lines
            .iter()
            .filter(|line| line.contains("Publication written."))
            .filter_map(|line| {
                Some([
                    field(line, "version")?,
                    field(line, "woke_us")?,
                    field(line, "read_us")?,
                    field(line, "written_us")?,
                ])
            })
            .collect();
        let loads: Vec<HashMap<u64, NodeStamps>> = nodes
            .iter()
            .map(|node| {
                let mut loads: HashMap<u64, NodeStamps> = HashMap::new();
                for line in node.timings() {
                    let Some(version) = line
                        .split_once("announcement{")
                        .and_then(|(_, span)| field(span, "version"))
                    else {
                        continue;
                    };
                    let stamps = loads.entry(version).or_default();
                    stamps.announced = stamps.announced.or(field(&line, "announced_us"));
                    stamps.fetched = stamps.fetched.or(field(&line, "fetched_us"));
                    stamps.compiled = stamps.compiled.or(field(&line, "compiled_us"));
                    stamps.swapped = stamps.swapped.or(field(&line, "swapped_us"));
                }
                loads
            })
            .collect();

        let mut stages = Stages {
            histograms: (0..STAGES.len())
                .map(|_| Histogram::new(3))
                .collect::<Result<_, _>>()?,
            answered: Histogram::new(3)?,
            timed: 0,
        };
        for (i, sample) in samples.iter().enumerate() {
            stages
                .answered
                .record(sample.answered.saturating_sub(sample.sent))?;
            let until = samples.get(i + 1).map_or(u64::MAX, |next| next.sent);
            let within = |at: u64| (sample.sent..until).contains(&at);
            let Some(&committed) = commits.iter().find(|&&at| within(at)) else {
                continue;
            };
            let version = sample.version;
            let Some(&[_, woke, read, written]) = publications.iter().find(|p| p[0] == version)
            else {
                continue;
            };
            // The node that served last.
            let Some((node, &served)) = sample
                .served
                .iter()
                .enumerate()
                .max_by_key(|&(_, served)| *served)
            else {
                continue;
            };
            let Some(NodeStamps {
                announced: Some(announced),
                fetched: Some(fetched),
                compiled: Some(compiled),
                swapped: Some(swapped),
            }) = loads[node].get(&version)
            else {
                continue;
            };
            let stamps = [
                sample.sent,
                committed,
                woke,
                read,
                written,
                *announced,
                *fetched,
                *compiled,
                *swapped,
                served,
            ];
            for (histogram, pair) in stages.histograms.iter_mut().zip(stamps.windows(2)) {
                // A pass that woke for another reason may have started
                // before the commit reached it.
                histogram.record(pair[1].saturating_sub(pair[0]))?;
            }
            stages.timed += 1;
        }
        Ok(stages)
    }
}

/// The number after ` name=` (or `{name=`) in a log line.
fn field(line: &str, name: &str) -> Option<u64> {
    line.match_indices(name).find_map(|(at, _)| {
        let before = line[..at].chars().next_back()?;
        let rest = line[at + name.len()..].strip_prefix('=')?;
        if before != ' ' && before != '{' {
            return None;
        }
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest[..digits].parse().ok()
    })
}

/// One `ensign serve` process on ephemeral ports.
struct Node {
    child: Child,
    ofrep: SocketAddr,
    management: SocketAddr,
    admin: Option<SocketAddr>,
    token: Option<String>,
    /// Its timing events' log lines.
    timings: Arc<Mutex<Vec<String>>>,
    /// Signalled on each event of its OFREP change stream.
    changed: Arc<tokio::sync::Notify>,
}

impl Node {
    fn start(
        binary: &std::path::Path,
        dir: &std::path::Path,
        extra: &[&str],
    ) -> anyhow::Result<Node> {
        std::fs::create_dir_all(dir)?;
        let mut command = Command::new(binary);
        // The caller's ENSIGN_* settings must not steer the nodes.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ENSIGN_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .args([
                "serve",
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--sync-port",
                "0",
            ])
            .args([
                "--ofrep-port",
                "0",
                "--management-port",
                "0",
                "--admin-port",
                "0",
            ])
            .args(extra)
            .env(
                "ENSIGN_LOG",
                format!("warn,ensign=info,provider::server::run=info,{TIMING_TARGET}=debug"),
            )
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stderr = child.stderr.take().context("stderr")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let with_store = !extra.contains(&"--uri");
        let (mut ofrep, mut management, mut admin, mut token) = (None, None, None, None);
        while ofrep.is_none() || management.is_none() || (with_store && admin.is_none()) {
            let line = lines.recv_timeout(Duration::from_secs(30))?;
            let addr = || {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .and_then(|a| a.parse::<SocketAddr>().ok())
            };
            if line.contains("listener=\"ofrep\"") {
                ofrep = addr();
            } else if line.contains("listener=\"management\"") {
                management = addr();
            } else if line.contains("listener=\"admin\"") {
                admin = addr();
            } else if let Some(secret) = line.strip_prefix("Admin token (shown only now): ") {
                token = Some(secret.trim().to_owned());
            }
        }
        // Keep draining the log so the node never blocks on a full pipe,
        // and keep the timing events.
        let timings = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&timings);
        let marker = format!(" {TIMING_TARGET}: ");
        std::thread::spawn(move || {
            while let Ok(line) = lines.recv() {
                if line.contains(&marker) {
                    kept.lock().unwrap().push(line);
                }
            }
        });
        Ok(Node {
            child,
            ofrep: ofrep.context("OFREP address")?,
            management: management.context("management address")?,
            admin,
            token,
            timings,
            changed: Arc::new(tokio::sync::Notify::new()),
        })
    }

    async fn wait_ready(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        for _ in 0..400 {
            let ready = client
                .get(format!("http://{}/readyz", self.management))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("a node never became ready")
    }

    /// Follows the node's OFREP change stream, signalling `changed` on
    /// each event.
    async fn follow_changes(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        let mut events = client
            .get(format!("http://{}/ofrep/v1/events", self.ofrep))
            .send()
            .await?
            .error_for_status()?
            .bytes_stream();
        let changed = Arc::clone(&self.changed);
        tokio::spawn(async move {
            while let Some(Ok(chunk)) = events.next().await {
                if chunk.windows(5).any(|w| w == b"data:") {
                    changed.notify_one();
                }
            }
        });
        Ok(())
    }

    /// Asks the node until it serves `expected`: now, then on each change
    /// event (or after [`RECHECK`]). Returns when the answer came, as a
    /// [`timestamp_micros`].
    async fn served(
        &self,
        client: &reqwest::Client,
        expected: &Value,
        start: Instant,
        change: usize,
    ) -> anyhow::Result<u64> {
        loop {
            let served = self.evaluate(client, "payments-kill-switch").await?;
            if served["value"] == *expected {
                return Ok(timestamp_micros());
            }
            if start.elapsed() > TIMEOUT {
                bail!("change {change} not served after {TIMEOUT:?}: {served}");
            }
            let _ = tokio::time::timeout(RECHECK, self.changed.notified()).await;
        }
    }

    /// The timing events logged so far.
    fn timings(&self) -> Vec<String> {
        self.timings.lock().unwrap().clone()
    }

    async fn evaluate(&self, client: &reqwest::Client, key: &str) -> anyhow::Result<Value> {
        Ok(client
            .post(format!(
                "http://{}/ofrep/v1/evaluate/flags/{key}",
                self.ofrep
            ))
            .json(&json!({"context": {}}))
            .send()
            .await?
            .json()
            .await?)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
