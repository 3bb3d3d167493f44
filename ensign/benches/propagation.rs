//! `just bench-propagation`: how long a committed admin change takes to be
//! served by evaluation nodes.
//!
//! Starts one admin node (PostgreSQL store, publishing to Redis) and two
//! evaluation nodes (Redis source only), flips one flag's default variant
//! through the admin API `CHANGES` times, and for each change measures the
//! time from sending the mutation (so the commit itself is included) until
//! both nodes serve the new value over OFREP, polled every
//! millisecond. The baseline, measured in the same run, is the delivery
//! time of a bare Redis PUBLISH to a subscriber: the transport's share.
//!
//! Needs PostgreSQL and Redis, found as the tests find them
//! (`ENSIGN_TEST_DATABASE_URL`, `ENSIGN_TEST_REDIS_URL`, by default on their
//! usual local ports; each run uses a database and key prefix of its own). The binary is `ENSIGN_BIN`, or the
//! release build (`cargo build --release -p ensign`, which the just recipe
//! runs first).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use hdrhistogram::Histogram;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

/// Changes measured.
const CHANGES: usize = 200;
/// Bare publish/subscribe round trips measured for the baseline.
const BASELINE: usize = 200;
/// Gives up on a change after this long.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The PostgreSQL server: `ENSIGN_TEST_DATABASE_URL`, as for the tests.
fn postgres(database: &str) -> String {
    let url = std::env::var_os("ENSIGN_TEST_DATABASE_URL")
        .and_then(|url| url.into_string().ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    match reqwest::Url::parse(&url) {
        Ok(mut url) => {
            url.set_path(&format!("/{database}"));
            url.to_string()
        }
        Err(_) => url,
    }
}

/// The Redis server: `ENSIGN_TEST_REDIS_URL`, as for the tests.
fn redis_url() -> String {
    std::env::var_os("ENSIGN_TEST_REDIS_URL")
        .and_then(|url| url.into_string().ok())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let binary = binary()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(binary))
}

fn binary() -> anyhow::Result<PathBuf> {
    // Under CI, always the binary built from the checkout.
    let under_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    if let Some(path) = std::env::var_os("ENSIGN_BIN")
        && !under_ci
    {
        return Ok(PathBuf::from(path));
    }
    let release = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), PathBuf::from))
        .join("release/ensign");
    if release.exists() {
        Ok(release)
    } else {
        bail!(
            "no release binary at {}: run `cargo build --release -p ensign` or set ENSIGN_BIN",
            release.display()
        )
    }
}

async fn run(binary: PathBuf) -> anyhow::Result<()> {
    let unique = format!("ensign_propagation_{}", std::process::id());
    let postgres = store::Store::connect(&postgres("test"))
        .await
        .context("PostgreSQL (ENSIGN_TEST_DATABASE_URL) is needed")?;
    postgres
        .connection()
        .execute_unprepared(&format!("CREATE DATABASE {unique}"))
        .await?;
    let result = measure(&binary, &unique).await;
    let _ = postgres
        .connection()
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {unique} WITH (FORCE)"))
        .await;
    result
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
    }

    let baseline = pubsub_baseline(unique).await?;
    let mut propagation = Histogram::<u64>::new(3)?;
    let admin_url = format!("http://{}/graphql", admin.admin.context("no admin API")?);
    for change in 0..CHANGES {
        let variant = if change % 2 == 0 { "off" } else { "on" };
        let expected = json!(variant == "on");
        let start = Instant::now();
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
        if response["data"]["updateFlag"]["version"].is_null() {
            bail!("the mutation failed: {response}");
        }
        for node in &nodes {
            loop {
                let served = node.evaluate(&client, "payments-kill-switch").await?;
                if served["value"] == expected {
                    break;
                }
                if start.elapsed() > TIMEOUT {
                    bail!("change {change} not served after {TIMEOUT:?}: {served}");
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        propagation.record(start.elapsed().as_micros() as u64)?;
    }

    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!("propagation over {CHANGES} changes (commit to served by both nodes), ms:");
    println!("| measure | p50 | p99 | max | p50 / baseline p50 |");
    println!("|---|---|---|---|---|");
    println!(
        "| Redis PUBLISH → subscriber (baseline) | {:.2} | {:.2} | {:.2} | 1.0 |",
        ms(&baseline, 0.5),
        ms(&baseline, 0.99),
        baseline.max() as f64 / 1000.0
    );
    println!(
        "| admin mutation → both nodes serve it | {:.2} | {:.2} | {:.2} | {:.1} |",
        ms(&propagation, 0.5),
        ms(&propagation, 0.99),
        propagation.max() as f64 / 1000.0,
        ms(&propagation, 0.5) / ms(&baseline, 0.5).max(0.001)
    );
    let p99 = ms(&propagation, 0.99);
    println!(
        "bar: p99 under 100 ms: {}",
        if p99 < 100.0 { "met" } else { "NOT met" }
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

/// One `ensign serve` process on ephemeral ports.
struct Node {
    child: Child,
    ofrep: SocketAddr,
    management: SocketAddr,
    admin: Option<SocketAddr>,
    token: Option<String>,
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
            .env("ENSIGN_LOG", "warn,ensign=info,provider::server::run=info")
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
        // Keep draining the log so the node never blocks on a full pipe.
        std::thread::spawn(move || while lines.recv().is_ok() {});
        Ok(Node {
            child,
            ofrep: ofrep.context("OFREP address")?,
            management: management.context("management address")?,
            admin,
            token,
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
