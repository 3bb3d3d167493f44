//! Workers that each keep one request in flight (raw HTTP/1.1 over a
//! keep-alive connection, or any other call a benchmark supplies, such as a
//! flagd gRPC call on a shared HTTP/2 connection), driven either closed loop (each worker sends again as
//! soon as its answer arrives: peak throughput) or open loop (requests
//! scheduled at a fixed rate, latency counted from the scheduled send time so
//! a stalled server is not hidden by the generator waiting for it).

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// What one load phase measured.
#[derive(Debug)]
pub struct Outcome {
    /// Latencies of successful requests, in nanoseconds.
    pub latency: Histogram<u64>,
    /// Failed requests (transport errors and answers other than 2xx).
    pub errors: u64,
    /// The first failure, to show what went wrong.
    pub first_error: Option<String>,
    /// Wall time of the phase.
    pub elapsed: Duration,
    /// Open loop: how late each request left after its scheduled time, in
    /// nanoseconds (all workers busy, or the generator itself behind).
    pub send_lag: Histogram<u64>,
    /// Scheduled requests never sent because the server fell too far behind
    /// (open loop only).
    pub dropped: u64,
}

impl Outcome {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        self.latency.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// A latency quantile in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1e6
    }

    /// A send-lag quantile in milliseconds.
    pub fn lag_ms(&self, q: f64) -> f64 {
        self.send_lag.value_at_quantile(q) as f64 / 1e6
    }
}

/// One request kept in flight at a time.
pub enum Worker {
    /// Raw HTTP/1.1 on its own keep-alive connection.
    Http1(Http1),
    /// Any other call.
    Call(Box<dyn Call>),
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Worker::Http1(w) => w.fmt(f),
            Worker::Call(_) => f.write_str("Call"),
        }
    }
}

/// A request a benchmark makes its own way (a gRPC call, say).
pub trait Call: Send {
    /// Sends the next request and waits for its whole answer; an answer
    /// that is not a success is an error.
    fn call(&mut self) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + '_>>;
}

impl Worker {
    /// Sends the next request and waits for its whole answer.
    async fn call(&mut self) -> anyhow::Result<()> {
        match self {
            Worker::Http1(w) => w.call().await.map(drop),
            Worker::Call(w) => w.call().await,
        }
    }
}

/// What an HTTP/1.1 worker sends.
#[derive(Debug, Clone)]
pub enum Requests {
    /// Pre-rendered requests, in turn.
    Cycle(Arc<[Vec<u8>]>),
    /// One request whose placeholder is replaced, on each send, by the next
    /// number of a counter the workers share, zero-padded to the
    /// placeholder's width: a targeting key no request has used before.
    Fresh(FreshKeys),
}

/// A request template with a counter in place of its placeholder.
#[derive(Debug, Clone)]
pub struct FreshKeys {
    template: Vec<u8>,
    digits: Range<usize>,
    next: Arc<AtomicU64>,
}

impl FreshKeys {
    /// `request` with `placeholder` (its first occurrence) replaced by the
    /// numbers `counter` hands out.
    pub fn new(
        request: Vec<u8>,
        placeholder: &[u8],
        counter: Arc<AtomicU64>,
    ) -> anyhow::Result<FreshKeys> {
        let start = request
            .windows(placeholder.len())
            .position(|w| w == placeholder)
            .context("the request holds no placeholder")?;
        Ok(FreshKeys {
            template: request,
            digits: start..start + placeholder.len(),
            next: counter,
        })
    }

    /// Writes the next number into `template`'s placeholder.
    fn fill(&mut self) {
        let mut n = self.next.fetch_add(1, Ordering::Relaxed);
        for byte in self.template[self.digits.clone()].iter_mut().rev() {
            *byte = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
}

/// A worker sending HTTP/1.1 requests.
#[derive(Debug)]
pub struct Http1 {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    requests: Requests,
    next: usize,
}

impl Http1 {
    /// A worker for `addr`, starting at request `first` of `requests`.
    pub fn new(addr: SocketAddr, requests: Arc<[Vec<u8>]>, first: usize) -> Http1 {
        Http1::sending(addr, Requests::Cycle(requests), first)
    }

    /// A worker for `addr` sending `requests`, starting at the `first`
    /// when they cycle.
    pub fn sending(addr: SocketAddr, requests: Requests, first: usize) -> Http1 {
        Http1 {
            addr,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
            requests,
            next: first,
        }
    }

    /// Sends the next request; returns its answer's body. A failed
    /// connection is replaced on the next call.
    pub async fn call(&mut self) -> anyhow::Result<&[u8]> {
        let request: &[u8] = match &mut self.requests {
            Requests::Cycle(requests) => {
                let index = self.next % requests.len();
                self.next = self.next.wrapping_add(1);
                &requests[index]
            }
            Requests::Fresh(fresh) => {
                fresh.fill();
                &fresh.template
            }
        };
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let Some(stream) = self.stream.as_mut() else {
            unreachable!("connected above")
        };
        match exchange(stream, &mut self.buf, request).await {
            Ok((200..=299, body)) => Ok(&self.buf[body..]),
            Ok((status, body)) => bail!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&self.buf[body..])
            ),
            Err(error) => {
                self.stream = None;
                Err(error)
            }
        }
    }
}

/// Writes `request` and reads one whole answer into `buf`; returns its
/// status and where its body starts.
async fn exchange(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    request: &[u8],
) -> anyhow::Result<(u16, usize)> {
    stream.write_all(request).await?;
    buf.clear();
    let (body, total) = loop {
        read_more(stream, buf).await?;
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let length = content_length(&buf[..end])?;
            break (end + 4, end + 4 + length);
        }
    };
    while buf.len() < total {
        read_more(stream, buf).await?;
    }
    if buf.len() > total {
        bail!("bytes after the answer, which no request asked for");
    }
    let status = buf
        .get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .context("no status line")?;
    Ok((status, body))
}

/// Appends what the socket has to `buf`; a closed connection is an error.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<()> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(16 * 1024);
    }
    if stream.read_buf(buf).await? == 0 {
        bail!("the server closed the connection");
    }
    Ok(())
}

/// The `Content-Length` of a response head (the server under test never
/// chunks fixed bodies).
fn content_length(head: &[u8]) -> anyhow::Result<usize> {
    let head = std::str::from_utf8(head)?;
    head.split("\r\n")
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .context("an answer without Content-Length")
}

/// Runs every worker closed loop for `duration`.
pub async fn closed(workers: Vec<Worker>, duration: Duration) -> (Vec<Worker>, Outcome) {
    let start = Instant::now();
    let end = start + duration;
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut worker| {
            tokio::spawn(async move {
                let mut tally = Tally::new();
                while Instant::now() < end {
                    let sent = Instant::now();
                    let result = worker.call().await;
                    tally.add(sent, result).await;
                }
                (worker, tally)
            })
        })
        .collect();
    gather(tasks, start, 0).await
}

/// [`closed`], with this generator polling its sockets instead of sleeping
/// until an answer arrives. A server that writes an answer to a client
/// asleep on its socket pays, in its own CPU, for waking it (on a VM an
/// interprocessor interrupt, a trip through the hypervisor), which a
/// server pays for no client on another machine; and it pays the more
/// often the slower it is, since the client then waits more, so the cost
/// magnifies whatever else slows it. Polling takes all of the generator's
/// core, which must be its own.
pub async fn closed_polling(workers: Vec<Worker>, duration: Duration) -> (Vec<Worker>, Outcome) {
    let end = Instant::now() + duration;
    // A task that always yields keeps the runtime from parking: it polls
    // its sockets without a timeout instead.
    let poller = tokio::spawn(async move {
        while Instant::now() < end {
            tokio::task::yield_now().await;
        }
    });
    let measured = closed(workers, duration).await;
    // It ends by itself at `end`, and cannot panic.
    let _ = poller.await;
    measured
}

/// Sends `rate` requests per second for `duration` over the workers, each
/// request going to an idle worker at its scheduled time (or, when all are
/// busy, to the first one to become idle, the wait counting as latency).
pub async fn open(workers: Vec<Worker>, rate: f64, duration: Duration) -> (Vec<Worker>, Outcome) {
    let (idle_tx, mut idle_rx) = mpsc::unbounded_channel::<usize>();
    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    for (index, mut worker) in workers.into_iter().enumerate() {
        let (tx, mut rx) = mpsc::channel::<Instant>(1);
        senders.push(tx);
        let idle_tx = idle_tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::new();
            while let Some(scheduled) = rx.recv().await {
                tally
                    .send_lag
                    .saturating_record(scheduled.elapsed().as_nanos() as u64);
                let result = worker.call().await;
                tally.add(scheduled, result).await;
                let _ = idle_tx.send(index);
            }
            (worker, tally)
        }));
    }
    drop(idle_tx);

    let start = Instant::now() + Duration::from_millis(1);
    let total = (rate * duration.as_secs_f64()) as u64;
    let at = |n: u64| start + Duration::from_nanos((n as f64 * 1e9 / rate) as u64);
    let give_up = start + duration + Duration::from_secs(10);
    let mut idle: Vec<usize> = (0..senders.len()).rev().collect();
    let mut due = VecDeque::new();
    let mut issued = 0;
    let mut dropped = 0;
    loop {
        while let Ok(index) = idle_rx.try_recv() {
            idle.push(index);
        }
        let now = Instant::now();
        while issued < total && at(issued) <= now {
            due.push_back(at(issued));
            issued += 1;
        }
        while !due.is_empty() {
            let Some(index) = idle.pop() else { break };
            if let Some(scheduled) = due.pop_front() {
                let _ = senders[index].try_send(scheduled);
            }
        }
        if issued == total && due.is_empty() {
            break;
        }
        if now > give_up {
            dropped = (total - issued) + due.len() as u64;
            break;
        }
        // Tokio's timer has millisecond resolution: sleep only while the
        // next send is far off, then spin (yielding to the connections) so
        // sends leave on time.
        let next = at(issued);
        if due.is_empty() && next > now + Duration::from_millis(2) {
            tokio::time::sleep_until((next - Duration::from_millis(1)).into()).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    drop(senders);
    let (workers, mut outcome) = gather(tasks, start, dropped).await;
    // The rate is what was offered over the scheduled span, not the drain.
    outcome.elapsed = duration;
    (workers, outcome)
}

/// Successes and failures of one worker.
struct Tally {
    latency: Histogram<u64>,
    send_lag: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: new_histogram(),
            send_lag: new_histogram(),
            errors: 0,
            first_error: None,
        }
    }

    async fn add(&mut self, since: Instant, result: anyhow::Result<()>) {
        match result {
            Ok(()) => self
                .latency
                .saturating_record(since.elapsed().as_nanos() as u64),
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| format!("{error:#}"));
                // A refused connection fails at once: do not spin on it.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Waits for the workers' tasks and merges what they counted.
async fn gather(
    tasks: Vec<tokio::task::JoinHandle<(Worker, Tally)>>,
    start: Instant,
    dropped: u64,
) -> (Vec<Worker>, Outcome) {
    let mut workers = Vec::new();
    let mut outcome = Outcome {
        latency: new_histogram(),
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        send_lag: new_histogram(),
        dropped,
    };
    for task in tasks {
        // Worker tasks do not panic; a panic here is a bug in this file.
        let (worker, tally) = task.await.expect("load worker panicked");
        workers.push(worker);
        let _ = outcome.latency.add(&tally.latency);
        let _ = outcome.send_lag.add(&tally.send_lag);
        outcome.errors += tally.errors;
        if outcome.first_error.is_none() {
            outcome.first_error = tally.first_error;
        }
    }
    outcome.elapsed = start.elapsed();
    (workers, outcome)
}

/// Latencies from 1 µs to a minute, three significant digits, in ns.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1_000, 60_000_000_000, 3).expect("valid histogram bounds")
}
