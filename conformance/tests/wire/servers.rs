//! Real Ensign servers on ephemeral ports: one per suite and fractional
//! bucketing version, each serving the suite's merged flag document.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use conformance::suites::SUITES;
use engine::{CompileOptions, FractionalVersion};
use provider::server::sources::{SourceKind, SourceSpec};
use provider::server::{Server, ServerConfig};

/// Every bucketing scheme the testbed's tags name.
pub const VERSIONS: [FractionalVersion; 3] = [
    FractionalVersion::V1,
    FractionalVersion::V2,
    FractionalVersion::V3,
];

/// Longest a server may take to shut down once its clients are done.
const SHUTDOWN: Duration = Duration::from_secs(5);

/// Longest a server may take to load its flags.
const READY: Duration = Duration::from_secs(30);

/// A suite's feature files.
#[derive(Debug)]
pub struct Suite {
    pub name: &'static str,
    pub features: Vec<PathBuf>,
}

/// One running server.
#[derive(Debug)]
pub struct Entry {
    pub suite: &'static str,
    pub version: FractionalVersion,
    pub server: Server,
}

/// Every suite's files and servers.
#[derive(Debug)]
pub struct Servers {
    pub suites: Vec<Suite>,
    pub entries: Vec<Entry>,
}

impl Servers {
    /// Starts a server per suite and version and waits until each is ready.
    /// The flags named in `omit` are left out of every flag document.
    pub async fn start(dir: &Path, omit: &[&str]) -> anyhow::Result<Servers> {
        let mut suites = Vec::new();
        let mut entries = Vec::new();
        for spec in &SUITES {
            let features = spec
                .feature_paths(dir)
                .with_context(|| format!("loading the {} suite", spec.name))?;
            let mut document = spec
                .flag_document(dir)
                .with_context(|| format!("loading the {} suite", spec.name))?;
            if let Some(flags) = document.get_mut("flags").and_then(|f| f.as_object_mut()) {
                flags.retain(|key, _| !omit.contains(&key.as_str()));
            }
            let text = serde_json::to_string(&document)?;
            for version in VERSIONS {
                let config = ServerConfig {
                    bind: [127, 0, 0, 1].into(),
                    port: 0,
                    sync_port: 0,
                    ofrep_port: 0,
                    management_port: 0,
                    sources: vec![SourceSpec {
                        name: format!("{}.flags.json", spec.name),
                        kind: SourceKind::Text { text: text.clone() },
                    }],
                    compile: CompileOptions {
                        fractional: version,
                        ..CompileOptions::default()
                    },
                    ..ServerConfig::default()
                };
                let server = Server::start(config).await.with_context(|| {
                    format!(
                        "starting the {} server, fractional {}",
                        spec.name,
                        version.as_str()
                    )
                })?;
                wait_ready(&server).await?;
                entries.push(Entry {
                    suite: spec.name,
                    version,
                    server,
                });
            }
            suites.push(Suite {
                name: spec.name,
                features,
            });
        }
        Ok(Servers { suites, entries })
    }

    /// Stops every server. In-process providers keep their sync streams
    /// open, so each server gets a bounded time to drain.
    pub async fn shutdown(self) {
        for entry in self.entries {
            let _ = tokio::time::timeout(SHUTDOWN, entry.server.shutdown()).await;
        }
    }

    /// Every feature file, suite by suite.
    pub fn feature_files(&self) -> Vec<PathBuf> {
        self.suites
            .iter()
            .flat_map(|s| s.features.iter().cloned())
            .collect()
    }
}

/// Polls `/readyz` until the server has loaded its flags.
async fn wait_ready(server: &Server) -> anyhow::Result<()> {
    let url = format!("http://{}/readyz", server.management_addr);
    let started = Instant::now();
    loop {
        if let Ok(response) = reqwest::get(&url).await
            && response.status().is_success()
        {
            return Ok(());
        }
        if started.elapsed() > READY {
            bail!("{url} did not answer 200 within {READY:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
