//! The processes under test: started pinned to one core with `taskset`,
//! their listener addresses read from the log lines they print, and their
//! CPU time and resident memory read from `/proc`.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A server process, killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    addrs: HashMap<String, SocketAddr>,
    startup: Vec<String>,
}

impl Server {
    /// Starts `program` with `args` on `core` and waits until every listener
    /// in `listeners` has logged its address.
    pub fn start(
        core: usize,
        program: &Path,
        args: &[&str],
        listeners: &[&str],
    ) -> anyhow::Result<Server> {
        let mut command = Command::new(program);
        command.args(args);
        Server::spawn(Some(core), &command, listeners)
    }

    /// Starts `command` (its program, arguments, environment and working
    /// directory), on `core` when one is given, and waits until every
    /// listener in `listeners` has logged its address.
    pub fn spawn(
        core: Option<usize>,
        command: &Command,
        listeners: &[&str],
    ) -> anyhow::Result<Server> {
        let program = command.get_program().to_owned();
        let mut pinned = match core {
            Some(core) => {
                let mut pinned = Command::new("taskset");
                pinned.arg("-c").arg(core.to_string()).arg(&program);
                pinned
            }
            None => Command::new(&program),
        };
        pinned.args(command.get_args());
        for (name, value) in command.get_envs() {
            match value {
                Some(value) => pinned.env(name, value),
                None => pinned.env_remove(name),
            };
        }
        if let Some(dir) = command.get_current_dir() {
            pinned.current_dir(dir);
        }
        let name = Path::new(&program).display().to_string();
        let mut child = pinned
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let stderr = child.stderr.take().context("capturing stderr")?;
        let (lines, received) = mpsc::channel();
        // Keeps reading after start-up so the server never blocks on a full
        // pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut server = Server {
            child,
            addrs: HashMap::new(),
            startup: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while listeners.iter().any(|l| !server.addrs.contains_key(*l)) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match received.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => bail!("{name} did not start its listeners {listeners:?}"),
            };
            if let Some((listener, addr)) = listener_line(&line) {
                server.addrs.insert(listener, addr);
            } else if line.contains("ERROR") {
                eprintln!("{line}");
            }
            server.startup.push(line);
        }
        Ok(server)
    }

    /// The lines the server logged until its listeners started.
    pub fn startup_log(&self) -> &[String] {
        &self.startup
    }

    /// The address the named listener is bound to.
    pub fn addr(&self, listener: &str) -> SocketAddr {
        self.addrs[listener]
    }

    /// The process id (taskset executes the program in its own place).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User plus system CPU time used so far.
    pub fn cpu(&self) -> anyhow::Result<Duration> {
        cpu_time(&format!("/proc/{}/stat", self.pid()))
    }

    /// Resident memory, in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("reading VmRSS")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User plus system CPU time used so far by every process whose command
/// name is `command` (a server's worker processes, say), or zero when none
/// runs or `/proc` cannot be listed.
pub fn command_cpu(command: &str) -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|entry| {
            std::fs::read_to_string(entry.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end() == command)
        })
        .filter_map(|entry| cpu_time(&entry.path().join("stat").to_string_lossy()).ok())
        .sum()
}

/// Runs this program again pinned to `core` (when the machine has that
/// core and this process is not pinned to it yet) and exits with its
/// status; returns when this process is the pinned one, or cannot be.
pub fn pin_self(core: usize) -> anyhow::Result<()> {
    let (cores, _) = machine();
    if cores <= core || allowed_cores() == core.to_string() {
        return Ok(());
    }
    let status = Command::new("taskset")
        .arg("-c")
        .arg(core.to_string())
        .arg(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .status()
        .context("running the load generator under taskset")?;
    std::process::exit(status.code().unwrap_or(1));
}

/// This process's own user plus system CPU time.
pub fn own_cpu() -> anyhow::Result<Duration> {
    cpu_time("/proc/self/stat")
}

/// CPU time every process on the machine used so far (all cores' busy
/// time), to tell how much other work ran during a measurement.
pub fn machine_cpu() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    // user nice system idle iowait irq softirq steal: busy is all but idle
    // and iowait (guest time is already inside user).
    let busy: u64 = ticks.iter().take(8).sum::<u64>()
        - ticks.get(3).copied().unwrap_or_default()
        - ticks.get(4).copied().unwrap_or_default();
    Ok(Duration::from_secs_f64(busy as f64 / clock_ticks()))
}

/// Reads `utime + stime` from a `/proc/…/stat` file.
fn cpu_time(path: &str) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    // The command name may hold spaces; fields are counted after its ")".
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("parsing stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, so 11 and 12
    // after the state field that follows ")".
    let ticks: u64 = fields
        .get(11..13)
        .context("short stat line")?
        .iter()
        .map(|f| f.parse::<u64>())
        .sum::<Result<u64, _>>()?;
    Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks()))
}

/// Clock ticks per second of `/proc` times.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Parses `… Listener started. listener="ofrep" addr=127.0.0.1:PORT …`.
fn listener_line(line: &str) -> Option<(String, SocketAddr)> {
    if !line.contains("Listener started.") {
        return None;
    }
    let name = line.split("listener=").nth(1)?.split_whitespace().next()?;
    let addr = line.split(" addr=").nth(1)?.split_whitespace().next()?;
    Some((name.trim_matches('"').to_owned(), addr.parse().ok()?))
}

/// The cores this process may run on, as `/proc/self/status` lists them.
pub fn allowed_cores() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default()
}

/// The machine's processor count and model, from `/proc/cpuinfo`.
pub fn machine() -> (usize, String) {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let count = info.lines().filter(|l| l.starts_with("processor")).count();
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    (count, model)
}
