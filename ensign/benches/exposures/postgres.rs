//! A PostgreSQL server of the run's own, started on the core the bench
//! chooses, so that the inserts it does for a node land on a known core
//! rather than on the load generator's (the machine's shared server is
//! not the bench's to move). It has the server defaults `initdb` gives,
//! fsync and synchronous commit included, and is stopped and deleted when
//! dropped.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

/// A running server, stopped when dropped.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    core: usize,
    /// The run is root's, whom `initdb` refuses, so the server runs as
    /// `postgres`.
    as_postgres: bool,
}

impl Postgres {
    /// Creates a cluster under `dir` and starts it pinned to `core`.
    pub fn start(dir: &Path, core: usize) -> anyhow::Result<Postgres> {
        let bin = bin_dir()?;
        let as_postgres = std::fs::metadata("/proc/self")?.uid() == 0;
        let root = dir.join("postgres");
        std::fs::create_dir_all(&root)?;
        if as_postgres {
            run(Command::new("chown").arg("postgres").arg(&root))?;
        }
        let data = root.join("data");
        let server = Postgres {
            port: free_port()?,
            data,
            bin,
            core,
            as_postgres,
        };
        server.run_tool(
            "initdb",
            &[
                "-D".as_ref(),
                server.data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
            None,
        )?;
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            server.port,
            root.display()
        );
        server.run_tool(
            "pg_ctl",
            &[
                "start".as_ref(),
                "-w".as_ref(),
                "-D".as_ref(),
                server.data.as_os_str(),
                "-l".as_ref(),
                root.join("log").as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
            ],
            Some(core),
        )?;
        Ok(server)
    }

    /// The URL of database `postgres` on this server.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The core its processes run on.
    pub fn core(&self) -> usize {
        self.core
    }

    /// Moves its processes, and those it starts later, to `cores` (a
    /// `taskset` list).
    pub fn pin_to(&self, cores: &str) -> anyhow::Result<()> {
        for pid in self.processes()? {
            run(Command::new("taskset").args(["-a", "-p", "-c", cores, &pid]))?;
        }
        Ok(())
    }

    /// Stops every process of the server until [`Postgres::resume`]: what
    /// is sent to it waits, unread.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.signal("-STOP")
    }

    /// Resumes a paused server.
    pub fn resume(&self) -> anyhow::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> anyhow::Result<()> {
        run(Command::new("kill").arg(signal).args(self.processes()?))
    }

    /// The postmaster's pid and its children's.
    fn processes(&self) -> anyhow::Result<Vec<String>> {
        let pid_file = std::fs::read_to_string(self.data.join("postmaster.pid"))?;
        let postmaster = pid_file
            .lines()
            .next()
            .context("empty postmaster.pid")?
            .trim();
        let mut pids = vec![postmaster.to_owned()];
        for entry in std::fs::read_dir("/proc")?.filter_map(Result::ok) {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // The parent's pid is the second field after the command's
            // closing parenthesis.
            let parent = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1));
            if parent == Some(postmaster) {
                pids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(pids)
    }

    /// Runs one of the server's programs, as `postgres` when the run is
    /// root's, pinned to `core` when one is given (the server's processes
    /// inherit it).
    fn run_tool(
        &self,
        tool: &str,
        args: &[&std::ffi::OsStr],
        core: Option<usize>,
    ) -> anyhow::Result<()> {
        let mut line: Vec<std::ffi::OsString> = Vec::new();
        if let Some(core) = core {
            line.extend(["taskset".into(), "-c".into(), core.to_string().into()]);
        }
        if self.as_postgres {
            line.extend([
                "runuser".into(),
                "-u".into(),
                "postgres".into(),
                "--".into(),
            ]);
        }
        line.push(self.bin.join(tool).into());
        line.extend(args.iter().map(|&a| a.to_owned()));
        run(Command::new(&line[0]).args(&line[1..]))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let stopped = self.run_tool(
            "pg_ctl",
            &[
                "stop".as_ref(),
                "-D".as_ref(),
                self.data.as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
            ],
            None,
        );
        if let Err(error) = stopped {
            eprintln!("the bench's PostgreSQL server did not stop: {error:#}");
        }
    }
}

/// Where PostgreSQL's programs are: `pg_config --bindir`, else wherever
/// `initdb` is on the path.
fn bin_dir() -> anyhow::Result<PathBuf> {
    let from_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if let Some(dir) = from_config.filter(|dir| dir.join("initdb").exists()) {
        return Ok(dir);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
        .context(
            "the exposure bench starts a PostgreSQL server of its own and needs the server's \
             programs (initdb, pg_ctl): install PostgreSQL's server package",
        )
}

/// A port nothing listens on now.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {:?}", command.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} failed ({}): {}{}",
            command.get_program(),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
