//! `just bench-server`: the evaluation server under load against a bare warp
//! handler measured the same way in the same run.
//!
//! The server under test runs pinned to core 0 and this load generator to
//! core 1. Each scenario is measured at peak (closed loop) and at half of
//! that peak (open loop), with the server's CPU share read from `/proc`, so
//! throughput is also reported per server core. A soak at the end samples
//! the server's resident memory under sustained single-flag load.
//!
//! Arguments, as `key=value`: `soak=SECONDS` (default 20), `duration=SECONDS`
//! per measured phase (default 10), `connections=N` HTTP/1.1 connections
//! (default 64), `only=NAME[,NAME…]` to run some scenarios (the bare
//! baseline always runs, as the ratios need it).

mod fixture;
mod grpc;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use loadgen::{Argument, Http1, Outcome, Server, Worker, load, process};

/// The core the servers run on.
const SERVER_CORE: usize = 0;
/// The core this load generator runs on.
const LOADGEN_CORE: usize = 1;
/// Closed-loop run before each measurement (connections, caches, allocator).
const WARMUP: Duration = Duration::from_secs(2);
/// gRPC: HTTP/2 connections, and calls in flight on each.
const GRPC_CONNECTIONS: usize = 4;
const GRPC_STREAMS: usize = 32;

/// The acceptance bars, reported and not enforced.
const BAR_SINGLE: f64 = 0.70;
const BAR_BULK: f64 = 0.25;
const BAR_HALF_P99_MS: f64 = 2.0;

fn main() -> anyhow::Result<()> {
    let settings = Settings::parse(std::env::args().skip(1))?;
    process::pin_self(LOADGEN_CORE)?;
    let (cores, model) = process::machine();
    let release = release_dir()?;
    let ensign = release.join("ensign");
    let bare = release.join("examples").join("bare");
    for binary in [&ensign, &bare] {
        if !binary.exists() {
            bail!(
                "{} is missing: build it in release mode first (`just bench-server` does)",
                binary.display()
            );
        }
    }
    println!(
        "Ensign server benchmark: {cores} cores ({model}); servers on core {SERVER_CORE}, \
         load generator on core {}.",
        process::allowed_cores()
    );
    println!(
        "Peak: closed loop, {} HTTP/1.1 connections ({GRPC_CONNECTIONS} HTTP/2 connections x \
         {GRPC_STREAMS} calls for gRPC), {} s after {} s warm-up. Half load: open loop at half \
         the peak rate, {} s, latency from the scheduled send time.",
        settings.connections,
        settings.duration.as_secs(),
        WARMUP.as_secs(),
        settings.duration.as_secs(),
    );
    println!();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(&settings, &ensign, &bare))
}

/// Command-line settings.
#[derive(Debug)]
struct Settings {
    soak: Duration,
    duration: Duration,
    connections: usize,
    only: Option<Vec<String>>,
}

impl Settings {
    fn wants(&self, scenario: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|o| o == scenario))
    }

    fn parse(args: impl Iterator<Item = String>) -> anyhow::Result<Settings> {
        let mut settings = Settings {
            soak: Duration::from_secs(20),
            duration: Duration::from_secs(10),
            connections: 64,
            only: None,
        };
        for (key, value) in loadgen::arguments(args, &["only"])? {
            match (key.as_str(), value) {
                ("only", Argument::Text(only)) => {
                    settings.only = Some(only.split(',').map(str::to_owned).collect());
                }
                ("soak", Argument::Number(n)) => settings.soak = Duration::from_secs(n),
                ("duration", Argument::Number(n)) => {
                    settings.duration = Duration::from_secs(n.max(1));
                }
                ("connections", Argument::Number(n)) => {
                    settings.connections = usize::try_from(n)?.max(1);
                }
                _ => bail!("unknown setting {key:?} (soak, duration, connections, only)"),
            }
        }
        Ok(settings)
    }
}

/// Where cargo put the release binaries: this benchmark lives in
/// `release/deps/`.
fn release_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("locating the target directory")
}

/// One scenario's measurements.
#[derive(Debug)]
struct Row {
    name: &'static str,
    peak: Outcome,
    peak_cpu: Usage,
    half: Outcome,
    half_cpu: Usage,
}

impl Row {
    fn rps_per_core(&self) -> f64 {
        self.peak.rps() / self.peak_cpu.server.max(f64::EPSILON)
    }
}

/// CPU used during a phase, in cores: by the server, by this load
/// generator, and by every other process on the machine.
#[derive(Debug, Clone, Copy)]
struct Usage {
    server: f64,
    loadgen: f64,
    other: f64,
}

impl Usage {
    /// Runs `phase`, measuring the CPU it took.
    async fn of<T>(server: &Server, phase: impl Future<Output = T>) -> anyhow::Result<(T, Usage)> {
        let started = Instant::now();
        let before = (server.cpu()?, process::own_cpu()?, process::machine_cpu()?);
        let result = phase.await;
        let after = (server.cpu()?, process::own_cpu()?, process::machine_cpu()?);
        let wall = started.elapsed().as_secs_f64();
        let server = (after.0 - before.0).as_secs_f64() / wall;
        let loadgen = (after.1 - before.1).as_secs_f64() / wall;
        let other = ((after.2 - before.2).as_secs_f64() / wall - server - loadgen).max(0.0);
        Ok((
            result,
            Usage {
                server,
                loadgen,
                other,
            },
        ))
    }
}

async fn run(settings: &Settings, ensign: &Path, bare: &Path) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("ensign-bench-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let flag_file = dir.join("flags.json");
    std::fs::write(&flag_file, fixture::flag_file())?;
    let result = scenarios(settings, ensign, bare, &flag_file).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn scenarios(
    settings: &Settings,
    ensign: &Path,
    bare: &Path,
    flag_file: &Path,
) -> anyhow::Result<()> {
    let single_path = format!("/ofrep/v1/evaluate/flags/{}", fixture::SINGLE_FLAG);
    let bulk_path = "/ofrep/v1/evaluate/flags";
    let mut rows = Vec::new();

    {
        let server = Server::start(SERVER_CORE, bare, &[], &["bare"])?;
        let addr = server.addr("bare");
        let workers = http1_workers(addr, &single_path, settings.connections, "bare").await?;
        rows.push(measure("bare", &server, workers, settings).await?);
    }

    let uri = format!("file:{}", flag_file.display());
    let args = [
        "serve",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--sync-port",
        "0",
        "--ofrep-port",
        "0",
        "--management-port",
        "0",
        "--uri",
        &uri,
    ];
    let server = Server::start(SERVER_CORE, ensign, &args, &["evaluation", "ofrep"])?;
    let ofrep = server.addr("ofrep");
    if settings.wants("ofrep-single") {
        let workers =
            http1_workers(ofrep, &single_path, settings.connections, "ofrep-single").await?;
        rows.push(measure("ofrep-single", &server, workers, settings).await?);
    }
    if settings.wants("ofrep-bulk-50") {
        let workers =
            http1_workers(ofrep, bulk_path, settings.connections, "ofrep-bulk-50").await?;
        rows.push(measure("ofrep-bulk-50", &server, workers, settings).await?);
    }
    if settings.wants("grpc-resolve-boolean") {
        let requests: Arc<[_]> = (0..fixture::CONTEXTS)
            .map(fixture::resolve_boolean)
            .collect();
        let workers = grpc::workers(
            server.addr("evaluation"),
            requests,
            GRPC_CONNECTIONS,
            GRPC_STREAMS,
        )
        .await?;
        rows.push(measure("grpc-resolve-boolean", &server, workers, settings).await?);
    }

    println!();
    print_table(&rows);
    let soak = if settings.soak.is_zero() {
        None
    } else {
        let workers = http1_workers(ofrep, &single_path, settings.connections, "soak").await?;
        Some(soak(&server, workers, settings.soak).await?)
    };
    println!();
    print_bars(&rows, soak.as_ref());
    Ok(())
}

/// HTTP/1.1 workers posting each context of the pool to `path` in turn,
/// after one request whose answer is shown.
async fn http1_workers(
    addr: std::net::SocketAddr,
    path: &str,
    connections: usize,
    name: &str,
) -> anyhow::Result<Vec<Worker>> {
    let host = addr.to_string();
    let requests: Arc<[Vec<u8>]> = (0..fixture::CONTEXTS)
        .map(|i| loadgen::http_post(&host, path, &fixture::ofrep_body(i)))
        .collect();
    let mut probe = Http1::new(addr, Arc::clone(&requests), 0);
    let body = probe
        .call()
        .await
        .with_context(|| format!("{name}: the first request failed"))?;
    let text = String::from_utf8_lossy(body);
    let shown: String = text.chars().take(160).collect();
    println!(
        "{name}: request {} bytes, answer body {} bytes: {shown}{}",
        requests[0].len(),
        body.len(),
        if text.len() > shown.len() { "…" } else { "" }
    );
    Ok((0..connections)
        .map(|c| Worker::Http1(Http1::new(addr, Arc::clone(&requests), c * 37)))
        .collect())
}

/// Peak (closed loop) then half of peak (open loop) for one scenario.
async fn measure(
    name: &'static str,
    server: &Server,
    workers: Vec<Worker>,
    settings: &Settings,
) -> anyhow::Result<Row> {
    let (workers, _) = load::closed(workers, WARMUP).await;
    let ((workers, peak), peak_cpu) =
        Usage::of(server, load::closed(workers, settings.duration)).await?;
    report_errors(name, "peak", &peak);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let ((_, half), half_cpu) = Usage::of(
        server,
        load::open(workers, peak.rps() / 2.0, settings.duration),
    )
    .await?;
    report_errors(name, "half load", &half);
    Ok(Row {
        name,
        peak,
        peak_cpu,
        half,
        half_cpu,
    })
}

fn report_errors(name: &str, phase: &str, outcome: &Outcome) {
    if outcome.errors > 0 || outcome.dropped > 0 {
        println!(
            "{name} {phase}: {} failed, {} never sent; first failure: {}",
            outcome.errors,
            outcome.dropped,
            outcome.first_error.as_deref().unwrap_or("none")
        );
    }
}

fn print_table(rows: &[Row]) {
    let busiest = rows
        .iter()
        .flat_map(|r| [r.peak_cpu.other, r.half_cpu.other])
        .reduce(f64::max)
        .filter(|c| *c > 0.1);
    if let Some(busy) = busiest {
        println!(
            "WARNING other processes used up to {busy:.2} cores during the runs: \
             throughput and latency are understated; rerun on an idle machine."
        );
        println!();
    }
    let bare = rows
        .iter()
        .find(|r| r.name == "bare")
        .map_or(1.0, Row::rps_per_core);
    println!(
        "{:<21} {:>7} {:>5} {:>8} {:>6} {:>6} {:>6} | {:>7} {:>5} {:>6} {:>6} {:>6} | {:>9} {:>9}",
        "", "peak", "", "", "", "", "", "half", "", "", "", "", "gen cpu", "other cpu"
    );
    println!(
        "{:<21} {:>7} {:>5} {:>8} {:>6} {:>6} {:>6} | {:>7} {:>5} {:>6} {:>6} {:>6} | {:>9} {:>9}",
        "scenario",
        "rps",
        "cpu",
        "rps/core",
        "x bare",
        "p50ms",
        "p99ms",
        "rps",
        "cpu",
        "p50ms",
        "p99ms",
        "lag99",
        "peak/half",
        "peak/half",
    );
    for row in rows {
        println!(
            "{:<21} {:>7.0} {:>5.2} {:>8.0} {:>6.2} {:>6.2} {:>6.2} | {:>7.0} {:>5.2} {:>6.3} {:>6.3} {:>6.3} | {:>4.2}/{:<4.2} {:>4.2}/{:<4.2}",
            row.name,
            row.peak.rps(),
            row.peak_cpu.server,
            row.rps_per_core(),
            row.rps_per_core() / bare,
            row.peak.quantile_ms(0.5),
            row.peak.quantile_ms(0.99),
            row.half.rps(),
            row.half_cpu.server,
            row.half.quantile_ms(0.5),
            row.half.quantile_ms(0.99),
            row.half.lag_ms(0.99),
            row.peak_cpu.loadgen,
            row.half_cpu.loadgen,
            row.peak_cpu.other,
            row.half_cpu.other,
        );
    }
    println!(
        "(lag99: p99 of how late half-load requests left after their scheduled time; \
         it is part of the latency.)"
    );
    println!();
    for row in rows {
        println!(
            "SERVER scenario={} rps={:.0} cpu={:.3} rps_per_core={:.0} ratio_to_bare={:.3} \
             p50_ms={:.3} p99_ms={:.3} half_load_rps={:.0} half_load_cpu={:.3} \
             half_load_p50_ms={:.3} half_load_p99_ms={:.3} half_load_send_lag_p99_ms={:.3} \
             loadgen_cpu={:.3}/{:.3} other_cpu={:.3}/{:.3} errors={}",
            row.name,
            row.peak.rps(),
            row.peak_cpu.server,
            row.rps_per_core(),
            row.rps_per_core() / bare,
            row.peak.quantile_ms(0.5),
            row.peak.quantile_ms(0.99),
            row.half.rps(),
            row.half_cpu.server,
            row.half.quantile_ms(0.5),
            row.half.quantile_ms(0.99),
            row.half.lag_ms(0.99),
            row.peak_cpu.loadgen,
            row.half_cpu.loadgen,
            row.peak_cpu.other,
            row.half_cpu.other,
            row.peak.errors + row.half.errors + row.half.dropped,
        );
    }
}

/// What the soak saw.
#[derive(Debug)]
struct Soak {
    duration: Duration,
    rss_kib: Vec<u64>,
    load: Outcome,
}

/// Single-flag load for `duration` at peak, sampling the server's RSS.
async fn soak(server: &Server, workers: Vec<Worker>, duration: Duration) -> anyhow::Result<Soak> {
    let every = if duration >= Duration::from_secs(60) {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(2)
    };
    println!();
    println!(
        "Soak: single-flag evaluation, closed loop, for {} s; RSS sampled every {} s.",
        duration.as_secs(),
        every.as_secs()
    );
    let load = tokio::spawn(load::closed(workers, duration));
    let mut rss_kib = vec![server.rss_kib()?];
    let end = Instant::now() + duration;
    while Instant::now() + every <= end {
        tokio::time::sleep(every).await;
        rss_kib.push(server.rss_kib()?);
    }
    let (_, load) = load.await?;
    rss_kib.push(server.rss_kib()?);
    let mib: Vec<String> = rss_kib
        .iter()
        .map(|k| format!("{:.1}", *k as f64 / 1024.0))
        .collect();
    println!("SOAK rss_mib={}", mib.join(","));
    report_errors("soak", "load", &load);
    Ok(Soak {
        duration,
        rss_kib,
        load,
    })
}

fn print_bars(rows: &[Row], soak: Option<&Soak>) {
    let find = |name: &str| rows.iter().find(|r| r.name == name);
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let (Some(bare), Some(single), Some(bulk)) =
        (find("bare"), find("ofrep-single"), find("ofrep-bulk-50"))
    else {
        return;
    };
    let single_ratio = single.rps_per_core() / bare.rps_per_core();
    let bulk_ratio = bulk.rps_per_core() / bare.rps_per_core();
    println!(
        "BAR ofrep-single rps_per_core_vs_bare={single_ratio:.3} bar>={BAR_SINGLE} {}",
        verdict(single_ratio >= BAR_SINGLE)
    );
    println!(
        "BAR ofrep-bulk-50 rps_per_core_vs_bare={bulk_ratio:.3} bar>={BAR_BULK} {}",
        verdict(bulk_ratio >= BAR_BULK)
    );
    for row in rows.iter().filter(|r| r.name != "bare") {
        let p99 = row.half.quantile_ms(0.99);
        println!(
            "BAR half-load-p99 scenario={} p99_ms={p99:.3} bar<{BAR_HALF_P99_MS} {}",
            row.name,
            verdict(p99 < BAR_HALF_P99_MS)
        );
    }
    if let Some(soak) = soak {
        let first = soak.rss_kib.first().copied().unwrap_or_default();
        let last = soak.rss_kib.last().copied().unwrap_or_default();
        let max = soak.rss_kib.iter().copied().max().unwrap_or_default();
        // Flat: the end within 5% (at least 2 MiB) of the start.
        let allowance = (first / 20).max(2048);
        println!(
            "BAR soak seconds={} requests={} rps={:.0} p99_ms={:.3} rss_first_mib={:.1} \
             rss_last_mib={:.1} rss_max_mib={:.1} growth_mib={:.1} bar=flat {}",
            soak.duration.as_secs(),
            soak.load.latency.len(),
            soak.load.rps(),
            soak.load.quantile_ms(0.99),
            first as f64 / 1024.0,
            last as f64 / 1024.0,
            max as f64 / 1024.0,
            (last as f64 - first as f64) / 1024.0,
            verdict(last <= first + allowance)
        );
    }
}
