//! The tracking event figures of `just bench-exposures`: how many events
//! per second a node accepts and its store commits, against the same load
//! of evaluations, and the delay from receipt to commit.
//!
//! On each path's freshly started nodes, after the exposure open loops:
//!
//! - an open loop of `POST /ensign/v1/events` at the evaluations' rate,
//!   one event per request (an application that tracks as it goes), each
//!   for a user no request has named; its node CPU per request is set
//!   against the untracked evaluations' at the same rate, measured in the
//!   same run, and once the load ends the bench waits until the store has
//!   committed every accepted event and reads the receipt-to-commit delay
//!   (the committing node's `ensign_event_commit_delay_seconds`);
//! - a closed loop of requests of [`PER_REQUEST`] events each (a provider
//!   that batches), over every connection, whose events per second
//!   accepted and committed (the events over the time from the first
//!   request to the last commit) are the node's sustained capacity.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use loadgen::{FreshKeys, Http1, Outcome, Requests, Server, Worker, load};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::{DRAIN, Nodes, PLACEHOLDER, Settings, Stamp, Usage, report_phase};

/// Events per request in the closed loop.
pub const PER_REQUEST: usize = 100;

/// How long the closed loop runs.
const PEAK: Duration = Duration::from_secs(5);

/// One path's event figures.
pub struct Report {
    /// The open loop, one event per request.
    pub open: (Outcome, Usage),
    /// Events the store gained from it.
    pub open_rows: u64,
    /// The committing node's figures after it.
    pub open_metrics: Metrics,
    /// The node under test's figures after it.
    pub open_tested: Metrics,
    /// From the end of its load until its last event was committed.
    pub open_drained_in: Duration,
    /// The closed loop of batches.
    pub peak: (Outcome, Usage),
    /// Events the store gained from it.
    pub peak_rows: u64,
    /// From its first request until its last event was committed.
    pub peak_committed_in: Duration,
}

impl Report {
    /// Events accepted per second in the closed loop.
    pub fn peak_accepted_per_s(&self) -> f64 {
        self.peak.0.rps() * PER_REQUEST as f64
    }

    /// Events committed per second in the closed loop: its events over the
    /// time until the last of them was committed.
    pub fn peak_committed_per_s(&self) -> f64 {
        self.peak_rows as f64 / self.peak_committed_in.as_secs_f64().max(f64::EPSILON)
    }
}

/// Runs the event loads on `nodes`, after the evaluations' open loops.
pub async fn measure(
    settings: &Settings,
    nodes: &Nodes,
    store: &store::Store,
    name: &str,
    counter: &Arc<AtomicU64>,
) -> anyhow::Result<Report> {
    let ofrep = nodes.tested.addr("ofrep");
    let rows_before = event_rows(store).await?;
    let before = Stamp::now(nodes)?;
    let (_, outcome) = load::open(
        workers(settings, ofrep, 1, counter)?,
        settings.rate,
        settings.open,
    )
    .await;
    let open = (outcome, before.until(&Stamp::now(nodes)?));
    let load_ended = Instant::now();
    report_phase(name, "events open loop (1 per request)", &open);
    let (open_metrics, open_drained_in) = committed(nodes, load_ended).await?;
    let open_rows = event_rows(store).await? - rows_before;
    let open_tested = Metrics::read(&nodes.tested).await?;

    let rows_before = event_rows(store).await?;
    let started = Instant::now();
    let before = Stamp::now(nodes)?;
    let (_, outcome) = load::closed(workers(settings, ofrep, PER_REQUEST, counter)?, PEAK).await;
    let peak = (outcome, before.until(&Stamp::now(nodes)?));
    report_phase(
        name,
        &format!("events closed loop ({PER_REQUEST} per request; answers/s)"),
        &peak,
    );
    committed(nodes, Instant::now()).await?;
    let peak_committed_in = started.elapsed();
    let peak_rows = event_rows(store).await? - rows_before;
    Ok(Report {
        open,
        open_rows,
        open_metrics,
        open_tested,
        open_drained_in,
        peak,
        peak_rows,
        peak_committed_in,
    })
}

/// Waits (up to [`DRAIN`] after `since`) until the committing node has
/// committed every event the node under test accepted; answers its
/// figures then and how long after `since` that was.
async fn committed(nodes: &Nodes, since: Instant) -> anyhow::Result<(Metrics, Duration)> {
    loop {
        let accepted = Metrics::read(&nodes.tested).await?.recorded;
        let committed = Metrics::read(nodes.committing()).await?;
        if committed.delay_count >= accepted || since.elapsed() > DRAIN {
            return Ok((committed, since.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Workers posting `events` events per request, each request for a user no
/// request of the run has named.
fn workers(
    settings: &Settings,
    ofrep: std::net::SocketAddr,
    events: usize,
    counter: &Arc<AtomicU64>,
) -> anyhow::Result<Vec<Worker>> {
    let event = json!({"name": "purchase",
        "context": {"targetingKey": format!("user-{PLACEHOLDER}")},
        "details": {"value": 12.5, "currency": "EUR"}});
    let request = loadgen::http_post(
        &ofrep.to_string(),
        "/ensign/v1/events",
        &json!({ "events": vec![event; events] }).to_string(),
    );
    let fresh = FreshKeys::new(request, PLACEHOLDER.as_bytes(), Arc::clone(counter))?;
    Ok((0..settings.connections)
        .map(|_| Worker::Http1(Http1::sending(ofrep, Requests::Fresh(fresh.clone()), 0)))
        .collect())
}

/// The event rows the store holds.
async fn event_rows(store: &store::Store) -> anyhow::Result<u64> {
    let db = store.connection();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM events",
        ))
        .await?
        .context("no count")?;
    Ok(u64::try_from(row.try_get::<i64>("", "n")?)?)
}

/// The event figures of a node's `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub recorded: u64,
    pub dropped: u64,
    pub written: u64,
    pub delay_p50: f64,
    pub delay_p99: f64,
    pub delay_count: u64,
}

impl Metrics {
    async fn read(node: &Server) -> anyhow::Result<Metrics> {
        let text = crate::metrics_text(node).await?;
        let value = |name: &str| crate::metric(&text, name);
        let count = |name: &str| value(name) as u64;
        Ok(Metrics {
            recorded: count("ensign_events_recorded_total"),
            dropped: count("ensign_events_dropped_total"),
            written: count("ensign_events_written_total"),
            delay_p50: value("ensign_event_commit_delay_seconds{quantile=\"0.5\"}"),
            delay_p99: value("ensign_event_commit_delay_seconds{quantile=\"0.99\"}"),
            delay_count: count("ensign_event_commit_delay_seconds_count"),
        })
    }
}
