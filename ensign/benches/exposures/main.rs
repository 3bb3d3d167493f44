//! `just bench-exposures`: what recording exposures costs an evaluation
//! node, and whether every exposure reaches the store in time; and how
//! many tracking events a node takes and its store commits.
//!
//! OFREP single evaluations over fresh targeting keys (no key is asked
//! twice in a run) of an exposure-tracked flag, against the same load on an
//! untracked flag with the same definition, measured in the same run. The
//! node under test runs pinned to core 0 and this load generator to core 1;
//! each process's CPU is read from `/proc`, so throughput is reported per
//! server core. Two paths, each with nodes of its own:
//!
//! - **store**: an admin node that writes its exposures to PostgreSQL
//!   itself;
//! - **stream**: an evaluation node fed by Redis, whose exposures travel
//!   through a Redis stream to the admin node's consumer, which writes them.
//!
//! On each path: the peak (closed loop) on the untracked flag and on the
//! tracked one, each as answers per second per core of the node under
//! test, in 50 short rounds of one phase of each (in ABBA order), since
//! the machine's speed drifts within seconds by more than the difference
//! measured; their ratio over all rounds is the throughput bar, and the
//! spread of the rounds' ratios is shown. A phase's node CPU is counted
//! until the node has written every exposure the phase recorded. A phase
//! during which other work took more than 0.15 cores (processes outside
//! the run, or the hypervisor's steal) is measured again, up to three
//! times. During the peaks the generator polls its sockets rather than
//! sleeping until an answer arrives: a node pays, in its own CPU, for
//! waking a client asleep on this machine (on a VM, an interrupt through
//! the hypervisor), which it pays for no client on another machine, and
//! pays it the more often the slower it is.
//!
//! The run starts a PostgreSQL server of its own, on a third core when the
//! machine has one and else on the generator's. During the peaks nothing
//! the node does not do itself runs beside it: on the store path the
//! server is paused while each phase's load runs and resumed after it, so
//! the node records, batches, encodes and sends all its exposures (its
//! CPU counted until they are committed) while the inserts wait for the
//! load to end; on the stream path the peaks run before any consumer
//! starts, and a consumer started after them catches up. For the open
//! loops PostgreSQL runs, unpaused, on any core.
//!
//! Then, on freshly started nodes, an open loop of fresh keys at `rate` per
//! second on the untracked flag and then on the tracked one (the CPU at
//! equal load, shown but not the bar: a node at this load spends most of
//! its CPU waking up), after which the bench waits for the writer to drain
//! and reads, from the nodes' `/metrics`, what was recorded, dropped and
//! written and the p99 of the delay from evaluation to commit (the
//! writer's histogram), and counts the rows the store gained.
//!
//! Then, on the same nodes, tracking events (see `events.rs`): an open
//! loop of one event per request at the same rate, against the untracked
//! evaluations' open loop, with the delay from receipt to commit, and a
//! closed loop of batched requests for the events per second a node
//! accepts and its store commits.
//!
//! Before the paths: the store's exposure write alone (the call the writer
//! makes, in its batch size) against plain inserts of the same rows in the
//! same statements, and the deduplication cache's bytes per million users.
//!
//! Arguments, as `key=value`: `duration=SECONDS` of each flag's peak, all
//! rounds together (default 20), `open=SECONDS` for the open loop (default
//! 10), `rate=N` per second (default 20000), `connections=N` (default 64),
//! `only=store|stream`, `client=polling|sleeping` (how the generator waits
//! for answers during the peaks; default polling).
//!
//! Needs Redis, found as the tests find it (`ENSIGN_TEST_REDIS_URL`), with
//! a key prefix of the run's own, and PostgreSQL's server programs
//! (`initdb`, `pg_ctl`; run as `postgres` when the bench runs as root). The
//! binary is `ENSIGN_BIN`, or the release build (`cargo build --release -p
//! ensign`, which the just recipe runs first).

mod dedupe;
mod events;
mod postgres;
#[path = "../support/services.rs"]
mod services;
mod writer;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use loadgen::{Argument, FreshKeys, Http1, Outcome, Requests, Server, Worker, load, process};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::postgres::Postgres;
use crate::services::redis_url;

/// The core the node under test runs on.
const SERVER_CORE: usize = 0;
/// The core this load generator runs on.
const LOADGEN_CORE: usize = 1;

/// The core the run's PostgreSQL server runs on: a third core when the
/// machine has one, else the generator's, which is idle when the server
/// inserts what a peak's phase recorded (it is paused during the load).
fn postgres_core(cores: usize) -> usize {
    if cores > 2 { 2 } else { LOADGEN_CORE }
}

/// Closed-loop run before each measurement.
const WARMUP: Duration = Duration::from_secs(2);
/// How long a node's exposure writer waits for a batch to fill (its
/// default, which the nodes run with), and a little more.
const LINGER: Duration = Duration::from_millis(250);
/// How long the writer may take to drain after the open loop.
const DRAIN: Duration = Duration::from_secs(60);

/// CPU (in cores) that processes outside the run, or the hypervisor's
/// steal, may take during a phase before it is measured again.
const DISTURBED: f64 = 0.15;

/// How many times a disturbed phase is measured.
const ATTEMPTS: usize = 3;

/// Rounds of the untracked and the tracked peak, one phase of each: the
/// machine's speed can halve from one second to the next, so phases are
/// short and many.
const ROUNDS: usize = 50;

/// The experiment's key.
const EXPERIMENT: &str = "bench-exposures";
/// The targeting key's counter digits stand here in the request template.
const PLACEHOLDER: &str = "################";

/// The acceptance bars, reported and not enforced.
const BAR_TRACKED_RATIO: f64 = 0.90;
const BAR_DELAY_P99: Duration = Duration::from_secs(2);
const BAR_WRITER_ROWS: f64 = 50_000.0;

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let settings = Settings::parse(std::env::args().skip(1))?;
    process::pin_self(LOADGEN_CORE)?;
    let binary = services::binary()?;
    let (cores, model) = process::machine();
    println!(
        "Ensign exposure benchmark: {cores} cores ({model}); node under test on core \
         {SERVER_CORE}, load generator on core {}.",
        process::allowed_cores()
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(&settings, &binary))
}

/// Command-line settings.
#[derive(Debug)]
struct Settings {
    duration: Duration,
    open: Duration,
    rate: f64,
    connections: usize,
    only: Option<String>,
    client: Client,
}

/// How the generator waits for answers during the peaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// Polling its sockets: the node under test never pays for waking it,
    /// as it never pays for a client on another machine.
    Polling,
    /// Asleep until an answer arrives, to show what waking it costs.
    Sleeping,
}

impl Settings {
    fn parse(args: impl Iterator<Item = String>) -> anyhow::Result<Settings> {
        let mut settings = Settings {
            duration: Duration::from_secs(20),
            open: Duration::from_secs(10),
            rate: 20_000.0,
            connections: 64,
            only: None,
            client: Client::Polling,
        };
        for (key, value) in loadgen::arguments(args, &["only", "client"])? {
            match (key.as_str(), value) {
                ("only", Argument::Text(only)) => settings.only = Some(only),
                ("client", Argument::Text(client)) => {
                    settings.client = match client.as_str() {
                        "polling" => Client::Polling,
                        "sleeping" => Client::Sleeping,
                        _ => bail!("client is polling or sleeping, not {client:?}"),
                    };
                }
                ("duration", Argument::Number(n)) => {
                    settings.duration = Duration::from_secs(n.max(1));
                }
                ("open", Argument::Number(n)) => settings.open = Duration::from_secs(n.max(1)),
                ("rate", Argument::Number(n)) => settings.rate = n.max(1) as f64,
                ("connections", Argument::Number(n)) => {
                    settings.connections = usize::try_from(n)?.max(1);
                }
                _ => bail!(
                    "unknown setting {key:?} (duration, open, rate, connections, only, client)"
                ),
            }
        }
        Ok(settings)
    }

    fn wants(&self, route: Route) -> bool {
        self.only.as_deref().is_none_or(|only| only == route.name())
    }
}

/// The two routes by which exposures reach the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// The admin node writes its own.
    Store,
    /// An evaluation node sends them through Redis to the admin node.
    Stream,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Store => "store",
            Route::Stream => "stream",
        }
    }
}

async fn run(settings: &Settings, binary: &Path) -> anyhow::Result<()> {
    services::with_prefix("ensign_bench_exposures", |unique| async move {
        let dir = std::env::temp_dir().join(&unique);
        std::fs::create_dir_all(&dir)?;
        let result = bench(settings, binary, &unique, &dir).await;
        let _ = std::fs::remove_dir_all(&dir);
        result
    })
    .await
}

async fn bench(settings: &Settings, binary: &Path, unique: &str, dir: &Path) -> anyhow::Result<()> {
    let (cores, _) = process::machine();
    let postgres = Postgres::start(dir, postgres_core(cores))?;
    println!(
        "PostgreSQL: a server of this run's own on core {}{}.",
        postgres.core(),
        if postgres.core() == LOADGEN_CORE {
            " (with the generator: this machine has no third core; during the peaks it is \
             paused while the load runs)"
        } else {
            ""
        }
    );
    let database = postgres.url();
    let store = store::Store::connect(&database).await?;
    store.migrate().await?;

    println!();
    let writer = writer::measure(&store).await?;
    println!();
    let dedupe = dedupe::measure();
    println!();

    let cluster = Cluster {
        binary,
        database: &database,
        prefix: unique,
        dir,
    };
    let counter = Arc::new(AtomicU64::new(0));
    let mut reports = Vec::new();
    for path in [Route::Store, Route::Stream] {
        if settings.wants(path) {
            reports
                .push(measure_path(settings, &cluster, &store, &postgres, path, &counter).await?);
        }
    }

    println!();
    print_bars(&writer, &dedupe, &reports, postgres.core());
    Ok(())
}

/// Where the nodes of a run start from.
struct Cluster<'a> {
    binary: &'a Path,
    database: &'a str,
    prefix: &'a str,
    dir: &'a Path,
}

/// The nodes of one path: the one under test (pinned, answering OFREP),
/// and on the stream path the admin node that consumes the stream.
struct Nodes {
    tested: Server,
    admin: Option<Server>,
}

impl Nodes {
    /// The node whose writer commits: the admin node on the stream path,
    /// else the node under test.
    fn committing(&self) -> &Server {
        self.admin.as_ref().unwrap_or(&self.tested)
    }
}

impl Cluster<'_> {
    /// Starts `path`'s nodes and, on the first start, creates the flags and
    /// starts the experiment; returns once the node under test serves the
    /// tracked flag with the experiment's mark.
    async fn start(&self, path: Route, first: bool) -> anyhow::Result<Nodes> {
        let nodes = match path {
            Route::Store => Nodes {
                tested: self.admin(Some(SERVER_CORE))?,
                admin: None,
            },
            Route::Stream => {
                let admin = self.admin(None)?;
                let uri = format!("{}?prefix={}", redis_url(), self.prefix);
                Nodes {
                    tested: self.node(Some(SERVER_CORE), "evaluation", &["--uri", &uri])?,
                    admin: Some(admin),
                }
            }
        };
        if first {
            let admin = nodes.committing();
            let token = admin
                .startup_log()
                .iter()
                .find_map(|l| l.strip_prefix("Admin token (shown only now): "))
                .map(|t| t.trim().to_owned())
                .context("the admin node printed no token")?;
            setup(admin.addr("admin"), &token).await?;
        }
        wait_for_mark(nodes.tested.addr("ofrep")).await?;
        Ok(nodes)
    }

    /// An admin node: the store, publishing to Redis and consuming the
    /// exposure stream.
    fn admin(&self, core: Option<usize>) -> anyhow::Result<Server> {
        let redis = redis_url();
        let args = [
            "--database-url",
            self.database,
            "--redis-url",
            &redis,
            "--redis-prefix",
            self.prefix,
        ];
        self.node(core, "admin", &args)
    }

    fn node(&self, core: Option<usize>, name: &str, args: &[&str]) -> anyhow::Result<Server> {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir)?;
        let mut command = Command::new(self.binary);
        // The caller's ENSIGN_* settings must not steer the nodes.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ENSIGN_") {
                command.env_remove(name);
            }
        }
        command
            .args(["serve", "--bind", "127.0.0.1", "--port", "0"])
            .args(["--sync-port", "0", "--ofrep-port", "0"])
            .args(["--management-port", "0", "--admin-port", "0"])
            .args(args)
            .env("ENSIGN_LOG", "warn,ensign=info,provider::server::run=info")
            .current_dir(&dir);
        let with_store = args.contains(&"--database-url");
        let listeners: &[&str] = if with_store {
            &["ofrep", "management", "admin"]
        } else {
            &["ofrep", "management"]
        };
        Server::spawn(core, &command, listeners)
    }
}

/// Creates flags `tracked` and `untracked` (the same 50/50 split) in flag
/// set `default`, and starts the experiment on `tracked`.
async fn setup(admin: std::net::SocketAddr, token: &str) -> anyhow::Result<()> {
    let definition = json!({
        "state": "ENABLED",
        "variants": {"control": "A", "treatment": "B"},
        "defaultVariant": "control",
        "targeting": {"fractional": [["control", 50], ["treatment", 50]]},
    });
    let client = reqwest::Client::new();
    let answer: Value = client
        .post(format!("http://{admin}/graphql"))
        .bearer_auth(token)
        .json(&json!({
            "query": "mutation($definition: JSON!, $experiment: String!) {
                tracked: createFlag(flagSet: \"default\", key: \"tracked\", flag: {definition: $definition}) { version }
                untracked: createFlag(flagSet: \"default\", key: \"untracked\", flag: {definition: $definition}) { version }
                createExperiment(flagSet: \"default\", key: $experiment, settings: {
                    flag: \"tracked\", control: \"control\",
                    metrics: [{name: \"purchases\", event: \"purchase\", kind: CONVERSION}]}) { key }
                startExperiment(flagSet: \"default\", key: $experiment) { status }
            }",
            "variables": {"definition": definition, "experiment": EXPERIMENT},
        }))
        .send()
        .await?
        .json()
        .await?;
    if answer["data"]["startExperiment"]["status"] != "RUNNING" {
        bail!("setting up the experiment failed: {answer}");
    }
    Ok(())
}

/// Waits until `ofrep` serves `tracked` with the experiment's mark.
async fn wait_for_mark(ofrep: std::net::SocketAddr) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let mut served = Value::Null;
    for _ in 0..400 {
        if let Ok(response) = client
            .post(format!("http://{ofrep}/ofrep/v1/evaluate/flags/tracked"))
            // No targeting key: not an exposure, so the figures hold only
            // the load's.
            .json(&json!({"context": {}}))
            .send()
            .await
        {
            served = response.json().await.unwrap_or_default();
            if served["metadata"]["ensign.experiment"] == EXPERIMENT {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("the node never served the experiment's mark: {served}")
}

/// CPU used during a phase, in cores.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    /// The node under test.
    server: f64,
    /// The admin node (stream path).
    admin: f64,
    /// PostgreSQL's processes.
    postgres: f64,
    /// Redis.
    redis: f64,
    /// This load generator.
    loadgen: f64,
    /// Every other process on the machine.
    other: f64,
}

/// CPU times at one moment.
struct Stamp {
    at: Instant,
    server: Duration,
    admin: Duration,
    postgres: Duration,
    redis: Duration,
    own: Duration,
    machine: Duration,
}

impl Stamp {
    fn now(nodes: &Nodes) -> anyhow::Result<Stamp> {
        Ok(Stamp {
            at: Instant::now(),
            server: nodes.tested.cpu()?,
            admin: nodes
                .admin
                .as_ref()
                .map_or(Ok(Duration::ZERO), Server::cpu)?,
            postgres: process::command_cpu("postgres"),
            redis: process::command_cpu("redis-server"),
            own: process::own_cpu()?,
            machine: process::machine_cpu()?,
        })
    }

    /// The CPU each process took from this stamp to `after`, in cores over
    /// that time.
    fn until(&self, after: &Stamp) -> Usage {
        self.loaded_until(after, after.at - self.at)
    }

    /// [`Stamp::until`], but the node under test's CPU over `loaded`, the
    /// time the load lasted, so that CPU it spends after the load on the
    /// load's behalf (writing its exposures) counts towards its answers.
    fn loaded_until(&self, after: &Stamp, loaded: Duration) -> Usage {
        let wall = (after.at - self.at).as_secs_f64();
        let cores = |a: Duration, b: Duration| a.saturating_sub(b).as_secs_f64() / wall;
        let usage = Usage {
            server: after.server.saturating_sub(self.server).as_secs_f64()
                / loaded.as_secs_f64().min(wall),
            admin: cores(after.admin, self.admin),
            postgres: cores(after.postgres, self.postgres),
            redis: cores(after.redis, self.redis),
            loadgen: cores(after.own, self.own),
            other: 0.0,
        };
        Usage {
            other: (cores(after.machine, self.machine)
                - usage.server
                - usage.admin
                - usage.postgres
                - usage.redis
                - usage.loadgen)
                .max(0.0),
            ..usage
        }
    }
}

/// One path's figures.
struct PathReport {
    path: Route,
    peaks: Peaks,
    tracked_metrics: Metrics,
    /// The open loop on the untracked flag.
    untracked_open: (Outcome, Usage),
    open: OpenReport,
    /// Tracking events on the same nodes.
    events: events::Report,
}

impl PathReport {
    /// The same at the open loop's rate.
    fn equal_load_ratio(&self) -> f64 {
        self.open.per_core() / per_core(&self.untracked_open)
    }
}

impl OpenReport {
    fn per_core(&self) -> f64 {
        self.outcome.rps() / self.usage.server.max(f64::EPSILON)
    }
}

/// Answers per second per core of the node under test.
fn per_core((outcome, usage): &(Outcome, Usage)) -> f64 {
    outcome.rps() / usage.server.max(f64::EPSILON)
}

/// What the open loop and the drain after it showed.
struct OpenReport {
    outcome: Outcome,
    usage: Usage,
    /// The node under test's counters.
    tested: Metrics,
    /// The committing node's delay histogram (the same node on the store
    /// path).
    committed: Metrics,
    /// Rows the store gained.
    rows: u64,
    /// From the end of the load until the last row was committed.
    drained_in: Duration,
}

async fn measure_path(
    settings: &Settings,
    cluster: &Cluster<'_>,
    store: &store::Store,
    postgres: &Postgres,
    path: Route,
    counter: &Arc<AtomicU64>,
) -> anyhow::Result<PathReport> {
    let name = path.name();
    println!(
        "Path {name}: {}.",
        match path {
            Route::Store =>
                "an admin node, pinned, answers OFREP and writes its exposures to PostgreSQL",
            Route::Stream =>
                "an evaluation node, pinned, fed by Redis, sends its exposures through a Redis stream to an admin node (not pinned) that writes them",
        }
    );
    let first = path == Route::Store || !settings.wants(Route::Store);
    postgres.pin_to(&postgres.core().to_string())?;
    let mut nodes = cluster.start(path, first).await?;
    // On the stream path the peaks run with no consumer: the evaluation
    // node does all its share of the work (recording, batching, adding to
    // the stream) while PostgreSQL, which shares this machine's cores with
    // the node and the generator, writes nothing. A consumer started after
    // them catches up.
    drop(nodes.admin.take());
    let peaks = peaks(settings, &nodes, postgres, path, counter).await?;
    report_phase(name, "untracked peak", &peaks.untracked);
    report_phase(name, "tracked peak", &peaks.tracked);
    println!(
        "  {name} peak ratio over {ROUNDS} rounds ({} client): {:.3}; per round min {:.3}, \
         quartiles {:.3} {:.3} {:.3}, max {:.3}",
        match settings.client {
            Client::Polling => "polling",
            Client::Sleeping => "sleeping",
        },
        peaks.ratio(),
        peaks.ratio_quantile(0.0),
        peaks.ratio_quantile(0.25),
        peaks.ratio_quantile(0.5),
        peaks.ratio_quantile(0.75),
        peaks.ratio_quantile(1.0),
    );
    // What the peak recorded is written before these nodes stop, so that
    // none of it reaches the next nodes' figures.
    if path == Route::Stream {
        nodes.admin = Some(cluster.admin(None)?);
    }
    let (tracked_metrics, _, peak_drain) = drain(&nodes, Instant::now()).await?;
    println!(
        "  {name} tracked peak: {} exposures recorded, {} dropped; all committed {:.2} s after \
         the load ended",
        tracked_metrics.recorded,
        tracked_metrics.dropped,
        peak_drain.as_secs_f64()
    );
    drop(nodes);

    // The open loop on fresh nodes, so the delay histogram holds only it,
    // with PostgreSQL free to run on any core: at this load the node needs
    // more of its core than PostgreSQL would leave it.
    let (cores, _) = process::machine();
    postgres.pin_to(&format!("0-{}", cores.saturating_sub(1)))?;
    let nodes = cluster.start(path, false).await?;
    let ofrep = nodes.tested.addr("ofrep");
    let rows_before = exposure_rows(store).await?;
    // The same open loop on the untracked flag, which records nothing:
    // the CPU an evaluation costs at this load without exposures. Its
    // first second warms the node up.
    let workers = fresh_workers(settings, ofrep, "untracked", counter)?;
    let (workers, _) = load::closed(workers, Duration::from_secs(1)).await;
    let before = Stamp::now(&nodes)?;
    let (_, outcome) = load::open(workers, settings.rate, settings.open).await;
    let untracked_open = (outcome, before.until(&Stamp::now(&nodes)?));
    report_phase(name, "untracked open loop", &untracked_open);
    let workers = fresh_workers(settings, ofrep, "tracked", counter)?;
    let before = Stamp::now(&nodes)?;
    let (_, outcome) = load::open(workers, settings.rate, settings.open).await;
    let usage = before.until(&Stamp::now(&nodes)?);
    let load_ended = Instant::now();
    let open = (outcome, usage);
    report_phase(name, "tracked open loop", &open);
    let (tested, committed, drained_in) = drain(&nodes, load_ended).await?;
    let rows = exposure_rows(store).await? - rows_before;
    let events = events::measure(settings, &nodes, store, name, counter).await?;
    drop(nodes);
    let (outcome, usage) = open;
    Ok(PathReport {
        path,
        peaks,
        tracked_metrics,
        untracked_open,
        events,
        open: OpenReport {
            outcome,
            usage,
            tested,
            committed,
            rows,
            drained_in,
        },
    })
}

/// Waits (up to [`DRAIN`] after `since`) until the committing node has
/// committed as many exposures as the node under test recorded; answers
/// both nodes' figures then and how long after `since` that was.
async fn drain(nodes: &Nodes, since: Instant) -> anyhow::Result<(Metrics, Metrics, Duration)> {
    loop {
        let tested = Metrics::read(&nodes.tested).await?;
        let committed = Metrics::read(nodes.committing()).await?;
        if committed.delay_count >= tested.recorded || since.elapsed() > DRAIN {
            return Ok((tested, committed, since.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `node` has written (to its store, or to the exposure
/// stream) every exposure it recorded: first for its writer's linger, then
/// checking every 50 ms, since each look at its metrics takes CPU of its
/// own (about a third of a millisecond).
async fn written(node: &Server) -> anyhow::Result<()> {
    let since = Instant::now();
    tokio::time::sleep(LINGER).await;
    loop {
        let metrics = Metrics::read(node).await?;
        if metrics.written + metrics.dropped >= metrics.recorded {
            return Ok(());
        }
        if since.elapsed() > DRAIN {
            bail!(
                "{} of {} exposures unwritten after {DRAIN:?}",
                metrics.recorded - metrics.written - metrics.dropped,
                metrics.recorded
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The closed-loop peaks on both flags, in [`ROUNDS`] rounds.
struct Peaks {
    /// All untracked rounds together.
    untracked: (Outcome, Usage),
    /// All tracked rounds together.
    tracked: (Outcome, Usage),
    /// Each round's tracked against untracked answers per second per
    /// server core.
    ratios: Vec<f64>,
}

impl Peaks {
    /// The bar's figure: tracked against untracked answers per second per
    /// server core, over all rounds.
    fn ratio(&self) -> f64 {
        per_core(&self.tracked) / per_core(&self.untracked)
    }

    /// The rounds' ratios at quantile `q`, to show how far they spread.
    fn ratio_quantile(&self, q: f64) -> f64 {
        let mut sorted = self.ratios.clone();
        sorted.sort_by(f64::total_cmp);
        let last = sorted.len().saturating_sub(1);
        sorted
            .get(((last as f64) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    }
}

/// The closed-loop peaks on the untracked and the tracked flag after a
/// warm-up of each, in [`ROUNDS`] rounds of one phase each, alternating,
/// so that both see the machine as it is at the time: its speed drifts
/// within seconds by more than the difference measured.
async fn peaks(
    settings: &Settings,
    nodes: &Nodes,
    postgres: &Postgres,
    path: Route,
    counter: &Arc<AtomicU64>,
) -> anyhow::Result<Peaks> {
    let ofrep = nodes.tested.addr("ofrep");
    let phases = Phases {
        nodes,
        duration: settings.duration / ROUNDS as u32,
        polling: settings.client == Client::Polling,
        postgres: (path == Route::Store).then_some(postgres),
    };
    let (mut untracked_workers, _) = load::closed(
        fresh_workers(settings, ofrep, "untracked", counter)?,
        WARMUP,
    )
    .await;
    let (mut tracked_workers, _) =
        load::closed(fresh_workers(settings, ofrep, "tracked", counter)?, WARMUP).await;
    if path == Route::Store {
        drain(nodes, Instant::now()).await?;
    }
    let mut untracked: Option<(Outcome, Usage)> = None;
    let mut tracked: Option<(Outcome, Usage)> = None;
    let mut ratios = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        // ABBA order: a drift during the run weighs on both flags alike.
        let tracked_first = round % 2 == 1;
        let mut plain = None;
        let mut recording = None;
        for tracks in [tracked_first, !tracked_first] {
            if tracks {
                let (workers, measured) = phases.measure(tracked_workers, "tracked").await?;
                tracked_workers = workers;
                recording = Some(measured);
            } else {
                let (workers, measured) = phases.measure(untracked_workers, "untracked").await?;
                untracked_workers = workers;
                plain = Some(measured);
            }
        }
        let (plain, recording) = plain.zip(recording).context("a round lacks a phase")?;
        ratios.push(per_core(&recording) / per_core(&plain));
        untracked = Some(combine(untracked, plain));
        tracked = Some(combine(tracked, recording));
    }
    Ok(Peaks {
        untracked: untracked.context("no rounds")?,
        tracked: tracked.context("no rounds")?,
        ratios,
    })
}

/// How the peaks' phases run.
struct Phases<'a> {
    nodes: &'a Nodes,
    duration: Duration,
    /// Whether the generator polls for answers (see [`Client`]).
    polling: bool,
    /// On the store path, the PostgreSQL server, paused while the load
    /// runs and resumed after it: the node still does all of its share
    /// (recording, batching, encoding and sending each batch), counted
    /// until its writer has committed all of it, while the inserts run
    /// between phases, on no core the node or the generator needs then.
    postgres: Option<&'a Postgres>,
}

impl Phases<'_> {
    /// One closed-loop phase, with the CPU it took, counting the node's
    /// until it has written every exposure the phase recorded; measured
    /// again when disturbed (more than [`DISTURBED`] cores went elsewhere),
    /// up to [`ATTEMPTS`] times.
    async fn measure(
        &self,
        mut workers: Vec<Worker>,
        flag: &str,
    ) -> anyhow::Result<(Vec<Worker>, (Outcome, Usage))> {
        let mut attempt = 1;
        loop {
            if let Some(postgres) = self.postgres {
                postgres.pause()?;
            }
            let before = Stamp::now(self.nodes)?;
            let (returned, outcome) = if self.polling {
                load::closed_polling(workers, self.duration).await
            } else {
                load::closed(workers, self.duration).await
            };
            let loaded = before.at.elapsed();
            if let Some(postgres) = self.postgres {
                postgres.resume()?;
            }
            written(&self.nodes.tested).await?;
            let usage = before.loaded_until(&Stamp::now(self.nodes)?, loaded);
            if usage.other <= DISTURBED || attempt == ATTEMPTS {
                return Ok((returned, (outcome, usage)));
            }
            println!(
                "  ({flag} phase disturbed: {:.2} cores went to other processes or the \
                 hypervisor; measuring again)",
                usage.other
            );
            workers = returned;
            attempt += 1;
        }
    }
}

/// Two measurements as one: outcomes added, CPU averaged over their time.
fn combine(held: Option<(Outcome, Usage)>, (outcome, usage): (Outcome, Usage)) -> (Outcome, Usage) {
    let Some((mut total, total_usage)) = held else {
        return (outcome, usage);
    };
    let (a, b) = (total.elapsed.as_secs_f64(), outcome.elapsed.as_secs_f64());
    let mean = |x: f64, y: f64| (x * a + y * b) / (a + b);
    let _ = total.latency.add(&outcome.latency);
    let _ = total.send_lag.add(&outcome.send_lag);
    total.errors += outcome.errors;
    total.dropped += outcome.dropped;
    total.first_error = total.first_error.or(outcome.first_error);
    total.elapsed += outcome.elapsed;
    let usage = Usage {
        server: mean(total_usage.server, usage.server),
        admin: mean(total_usage.admin, usage.admin),
        postgres: mean(total_usage.postgres, usage.postgres),
        redis: mean(total_usage.redis, usage.redis),
        loadgen: mean(total_usage.loadgen, usage.loadgen),
        other: mean(total_usage.other, usage.other),
    };
    (total, usage)
}

/// HTTP/1.1 workers evaluating `flag` over OFREP, each request for a
/// targeting key no request of the run has used.
fn fresh_workers(
    settings: &Settings,
    ofrep: std::net::SocketAddr,
    flag: &str,
    counter: &Arc<AtomicU64>,
) -> anyhow::Result<Vec<Worker>> {
    let request = loadgen::http_post(
        &ofrep.to_string(),
        &format!("/ofrep/v1/evaluate/flags/{flag}"),
        &json!({"context": {"targetingKey": format!("user-{PLACEHOLDER}")}}).to_string(),
    );
    let fresh = FreshKeys::new(request, PLACEHOLDER.as_bytes(), Arc::clone(counter))?;
    Ok((0..settings.connections)
        .map(|_| Worker::Http1(Http1::sending(ofrep, Requests::Fresh(fresh.clone()), 0)))
        .collect())
}

/// The exposure rows the store holds.
async fn exposure_rows(store: &store::Store) -> anyhow::Result<u64> {
    let db = store.connection();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM exposures",
        ))
        .await?
        .context("no count")?;
    Ok(u64::try_from(row.try_get::<i64>("", "n")?)?)
}

fn report_phase(path: &str, phase: &str, (outcome, usage): &(Outcome, Usage)) {
    println!(
        "  {path} {phase}: {:.0} answers/s, p50 {:.3} ms, p99 {:.3} ms; cpu (cores) node {:.2}, \
         admin {:.2}, postgres {:.2}, redis {:.2}, generator {:.2}, other {:.2}{}",
        outcome.rps(),
        outcome.quantile_ms(0.5),
        outcome.quantile_ms(0.99),
        usage.server,
        usage.admin,
        usage.postgres,
        usage.redis,
        usage.loadgen,
        usage.other,
        if outcome.errors + outcome.dropped > 0 {
            format!(
                "; {} failed, {} never sent, first failure: {}",
                outcome.errors,
                outcome.dropped,
                outcome
                    .first_error
                    .as_deref()
                    .map_or("none".to_owned(), |error| error.chars().take(160).collect())
            )
        } else {
            String::new()
        }
    );
}

/// The exposure figures of a node's `/metrics`.
#[derive(Debug, Default)]
struct Metrics {
    recorded: u64,
    deduplicated: u64,
    dropped: u64,
    written: u64,
    write_failures: u64,
    not_exposures: u64,
    delay_p50: f64,
    delay_p99: f64,
    delay_count: u64,
    dedupe_bytes: u64,
}

impl Metrics {
    async fn read(node: &Server) -> anyhow::Result<Metrics> {
        let text = metrics_text(node).await?;
        let value = |name: &str| metric(&text, name);
        let count = |name: &str| value(name) as u64;
        Ok(Metrics {
            recorded: count("ensign_exposures_recorded_total"),
            deduplicated: count("ensign_exposures_deduplicated_total"),
            dropped: count("ensign_exposures_dropped_total"),
            written: count("ensign_exposures_written_total"),
            write_failures: count("ensign_exposure_write_failures_total"),
            not_exposures: count("ensign_tracked_evaluations_not_exposures_total"),
            delay_p50: value("ensign_exposure_commit_delay_seconds{quantile=\"0.5\"}"),
            delay_p99: value("ensign_exposure_commit_delay_seconds{quantile=\"0.99\"}"),
            delay_count: count("ensign_exposure_commit_delay_seconds_count"),
            dedupe_bytes: count("ensign_exposure_dedupe_bytes"),
        })
    }
}

/// A node's `/metrics` text.
async fn metrics_text(node: &Server) -> anyhow::Result<String> {
    // One client, whose connections are kept: the node under test answers
    // these while its CPU is counted.
    static CLIENT: std::sync::LazyLock<reqwest::Client> =
        std::sync::LazyLock::new(reqwest::Client::new);
    Ok(CLIENT
        .get(format!("http://{}/metrics", node.addr("management")))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?)
}

/// The value of series `name` in a `/metrics` text (NaN if it has none).
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            (series == name).then(|| value.parse().ok())?
        })
        .unwrap_or(f64::NAN)
}

/// How busy the node under test's core was: the node, and PostgreSQL when
/// it runs there.
fn core_busy(usage: &Usage, postgres_core: usize) -> f64 {
    usage.server
        + if postgres_core == SERVER_CORE {
            usage.postgres
        } else {
            0.0
        }
}

fn print_bars(
    writer: &writer::Report,
    dedupe: &dedupe::Report,
    reports: &[PathReport],
    postgres_core: usize,
) {
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!("Summary (answers per second per core of the node under test):");
    println!(
        "| path | untracked peak | tracked peak | ratio | untracked at {rate:.0}/s | tracked at \
         {rate:.0}/s | ratio | p99 ms | postgres cpu | recorded | dropped | rows committed | \
         commit delay p50 / p99 s | drained in s |",
        rate = reports.first().map_or(0.0, |r| r.open.outcome.rps())
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for report in reports {
        let open = &report.open;
        println!(
            "| {} | {:.0} | {:.0} | {:.3} | {:.0} | {:.0} | {:.3} | {:.3} | {:.2} | {} | {} | {} \
             | {:.3} / {:.3} | {:.2} |",
            report.path.name(),
            per_core(&report.peaks.untracked),
            per_core(&report.peaks.tracked),
            report.peaks.ratio(),
            per_core(&report.untracked_open),
            open.per_core(),
            report.equal_load_ratio(),
            open.outcome.quantile_ms(0.99),
            open.usage.postgres,
            open.tested.recorded,
            open.tested.dropped,
            open.rows,
            open.committed.delay_p50,
            open.committed.delay_p99,
            open.drained_in.as_secs_f64(),
        );
    }
    println!();
    for report in reports {
        let name = report.path.name();
        let ratio = report.peaks.ratio();
        println!(
            "BAR tracked-throughput path={name} peak_ratio={ratio:.3} (node cpu {:.2} untracked, \
             {:.2} tracked, postgres {:.2} on core {postgres_core}; {} recorded, {} dropped) \
             bar>={BAR_TRACKED_RATIO} {}{}",
            report.peaks.untracked.1.server,
            report.peaks.tracked.1.server,
            report.peaks.tracked.1.postgres,
            report.tracked_metrics.recorded,
            report.tracked_metrics.dropped,
            verdict(ratio >= BAR_TRACKED_RATIO),
            if core_busy(&report.peaks.tracked.1, postgres_core) < 0.95 {
                " (the node's core was not saturated: the load did not keep it busy)"
            } else {
                ""
            }
        );
        println!(
            "EQUAL-LOAD path={name} rate={:.0} node_cpu_untracked={:.3} node_cpu_tracked={:.3} \
             ratio={:.3} (a node at this load spends most of its CPU waking up, so this ratio \
             hides what an exposure costs; it is not the bar)",
            report.open.outcome.rps(),
            report.untracked_open.1.server,
            report.open.usage.server,
            report.equal_load_ratio()
        );
        let open = &report.open;
        let answered = open.outcome.latency.len();
        let all_kept = open.tested.dropped == 0
            && open.outcome.errors == 0
            && open.outcome.dropped == 0
            && open.tested.recorded == answered
            && open.rows == answered;
        println!(
            "BAR open-loop path={name} offered_per_s={:.0} answered={answered} failed={} \
             recorded={} deduplicated={} dropped={} written={} write_failures={} rows_committed={} \
             tracked_not_exposures={} bar=0_drops {}",
            open.outcome.rps(),
            open.outcome.errors + open.outcome.dropped,
            open.tested.recorded,
            open.tested.deduplicated,
            open.tested.dropped,
            open.tested.written,
            open.tested.write_failures + open.committed.write_failures,
            open.rows,
            open.tested.not_exposures,
            verdict(all_kept)
        );
        println!(
            "BAR commit-delay path={name} p99_s={:.3} bar<{} (over {} commits) {}",
            open.committed.delay_p99,
            BAR_DELAY_P99.as_secs(),
            open.committed.delay_count,
            verdict(open.committed.delay_p99 < BAR_DELAY_P99.as_secs_f64())
        );
    }
    for report in reports {
        let name = report.path.name();
        let events = &report.events;
        let (outcome, usage) = &events.open;
        println!(
            "EVENTS path={name} offered_per_s={:.0} accepted={} failed={} rows_committed={} \
             recorded={} written={} dropped={} receipt_to_commit_p50_s={:.3} p99_s={:.3} (over {}) \
             drained_in_s={:.2}; node cpu {:.3} cores against {:.3} for the untracked \
             evaluations at the same rate (ratio per request {:.3}); answer p50 {:.3} ms p99 \
             {:.3} ms",
            outcome.rps(),
            outcome.latency.len(),
            outcome.errors + outcome.dropped,
            events.open_rows,
            events.open_tested.recorded,
            events.open_tested.written,
            events.open_tested.dropped,
            events.open_metrics.delay_p50,
            events.open_metrics.delay_p99,
            events.open_metrics.delay_count,
            events.open_drained_in.as_secs_f64(),
            usage.server,
            report.untracked_open.1.server,
            per_core(&report.untracked_open) / per_core(&events.open),
            outcome.quantile_ms(0.5),
            outcome.quantile_ms(0.99),
        );
        let (outcome, usage) = &events.peak;
        println!(
            "EVENTS-SUSTAINED path={name} per_request={} committed_per_s={:.0} ({} rows, the \
             last committed {:.2} s after the first request) accepted_per_s={:.0} ({:.0} per \
             node core) refused_buffer_full={} (requests answered 503 BUFFER_FULL while the \
             buffer was full: a sender sends them again) answer_p99_ms={:.3}",
            events::PER_REQUEST,
            events.peak_committed_per_s(),
            events.peak_rows,
            events.peak_committed_in.as_secs_f64(),
            events.peak_accepted_per_s(),
            events.peak_accepted_per_s() / usage.server.max(f64::EPSILON),
            outcome.errors + outcome.dropped,
            outcome.quantile_ms(0.99),
        );
    }
    println!(
        "BAR writer-alone rows_per_s={:.0} bar>={BAR_WRITER_ROWS} (plain inserts {:.0} rows/s, \
         ratio {:.3}) {}",
        writer.rows_per_s,
        writer.baseline_rows_per_s,
        writer.rows_per_s / writer.baseline_rows_per_s.max(f64::EPSILON),
        verdict(writer.rows_per_s >= BAR_WRITER_ROWS)
    );
    println!(
        "MEMORY dedupe bytes_per_million_users={} (after 2 million: {}; the node under test \
         after its open loop: {})",
        dedupe.bytes_after_million,
        dedupe.bytes_after_two_million,
        reports
            .iter()
            .map(|r| format!("{}={}", r.path.name(), r.open.tested.dedupe_bytes))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
