//! Starting and stopping a whole server: sources, then the listeners, each
//! logging the address it bound, all sharing one state.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::task::JoinSet;

use engine::{CompileOptions, Format};

use crate::grpc;
use crate::server::admission::Admission;
use crate::server::listen::{self, ConnectionLimits, GrpcListener, ListenError, Tls};
use crate::server::ofrep::{self, OfrepConfig};
use crate::server::sources::{self, Loader, SourceKind, SourceSpec};
use crate::server::{Flags, Recorders, management};

/// Everything a server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address every listener binds.
    pub bind: IpAddr,
    /// flagd evaluation gRPC port.
    pub port: u16,
    /// flagd sync gRPC port.
    pub sync_port: u16,
    /// OFREP port.
    pub ofrep_port: u16,
    /// Management port (health, readiness, metrics).
    pub management_port: u16,
    /// Unix socket for the evaluation gRPC service (instead of `port`).
    pub socket_path: Option<PathBuf>,
    /// Unix socket for the sync gRPC service (instead of `sync_port`).
    pub sync_socket_path: Option<PathBuf>,
    /// Certificate and key (PEM) for TLS on every listener.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Where flags come from, in precedence order.
    pub sources: Vec<SourceSpec>,
    /// Merged into every evaluation context.
    pub static_context: Map<String, Value>,
    /// Compilation settings (the server-wide `fractional` version).
    pub compile: CompileOptions,
    /// OFREP settings.
    pub ofrep: OfrepConfig,
    /// Timeouts and caps of every listener's connections.
    pub connections: ConnectionLimits,
    /// What evaluations and applications report to (exposures, tracking
    /// events, evaluation counts). A writer attached to each before the
    /// server starts records from the first request served.
    pub recorders: Recorders,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 8013,
            sync_port: 8015,
            ofrep_port: 8016,
            management_port: 8014,
            socket_path: None,
            sync_socket_path: None,
            tls: None,
            sources: Vec::new(),
            static_context: Map::new(),
            compile: CompileOptions::default(),
            ofrep: OfrepConfig::default(),
            connections: ConnectionLimits::default(),
            recorders: Recorders::default(),
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listener could not be set up.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// No sources were configured.
    #[error("no flag sources configured")]
    NoSources,
    /// `socket_path` or `sync_socket_path` on a platform without unix
    /// sockets.
    #[error("unix sockets are not available on this platform")]
    NoUnixSockets,
    /// `socket_path` and `sync_socket_path` name the same file: the second
    /// bind would take the first service's socket away.
    #[error("the evaluation and sync services cannot share the unix socket {path}")]
    SharedSocket {
        /// The socket path given twice.
        path: PathBuf,
    },
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    flags: Arc<Flags>,
    /// Where OFREP listens.
    pub ofrep_addr: SocketAddr,
    /// Where the management endpoints listen.
    pub management_addr: SocketAddr,
    /// Where flagd's evaluation gRPC listens (`None` on a unix socket).
    pub evaluation_addr: Option<SocketAddr>,
    /// Where flagd's sync gRPC listens (`None` on a unix socket).
    pub sync_addr: Option<SocketAddr>,
    tasks: JoinSet<()>,
}

impl Server {
    /// Starts sources and listeners. Returns once every listener is bound;
    /// sources load in the background (`/readyz` tells when they have).
    pub async fn start(config: ServerConfig) -> Result<Server, ServeError> {
        if config.sources.is_empty() {
            return Err(ServeError::NoSources);
        }
        if let (Some(path), Some(sync)) = (&config.socket_path, &config.sync_socket_path)
            && path == sync
        {
            return Err(ServeError::SharedSocket { path: path.clone() });
        }
        let flags = Flags::with_recorders(config.static_context.clone(), config.recorders.clone());
        let tls = match &config.tls {
            Some((cert, key)) => {
                crate::tls::ensure_crypto_provider();
                Some(Tls::from_pem_files(cert, key)?)
            }
            None => None,
        };
        let mut tasks = JoinSet::new();

        let ofrep_listener = listen::bind(SocketAddr::new(config.bind, config.ofrep_port)).await?;
        let management_listener =
            listen::bind(SocketAddr::new(config.bind, config.management_port)).await?;
        let ofrep_addr = local_addr(&ofrep_listener, config.ofrep_port, config.bind);
        let management_addr = local_addr(&management_listener, config.management_port, config.bind);
        let (sync_listener, sync_addr) = grpc_listener(
            config.bind,
            config.sync_port,
            config.sync_socket_path.as_deref(),
        )
        .await?;
        let (evaluation_listener, evaluation_addr) =
            grpc_listener(config.bind, config.port, config.socket_path.as_deref()).await?;

        let names = config
            .sources
            .iter()
            .map(|s| Arc::from(s.name.as_str()))
            .collect();
        let loader = Loader::new(Arc::clone(&flags), config.compile, names);
        for (index, spec) in config.sources.iter().enumerate() {
            let loader = Arc::clone(&loader);
            let shutdown = flags.shutdown_signal();
            match spec.kind.clone() {
                SourceKind::File { path } => {
                    tasks.spawn(sources::file::run(loader, index, path, shutdown));
                }
                SourceKind::Text { text } => {
                    tasks.spawn(async move {
                        let format = Format::from_path(loader.name(index));
                        let _ = loader.load(index, &text, format).await;
                    });
                }
                SourceKind::Http {
                    url,
                    bearer_token,
                    interval,
                } => {
                    tasks.spawn(sources::http::run(
                        loader,
                        index,
                        url,
                        bearer_token,
                        interval,
                        shutdown,
                    ));
                }
                SourceKind::Feed { feed } => {
                    tasks.spawn(sources::feed::run(loader, index, feed, shutdown));
                }
                SourceKind::Redis {
                    url,
                    prefix,
                    snapshot,
                    interval,
                } => {
                    tasks.spawn(sources::redis::run(
                        loader, index, url, prefix, snapshot, interval, shutdown,
                    ));
                }
                SourceKind::Grpc {
                    target,
                    tls,
                    selector,
                } => {
                    tasks.spawn(sources::grpc::run(
                        loader, index, target, tls, selector, shutdown,
                    ));
                }
            }
        }

        // One admission policy, and so one rate-limit bucket per key, for
        // every evaluation and sync surface.
        let admission = Admission::new(&config.ofrep.api_keys, config.ofrep.rate_limit);
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(listener = "ofrep", addr = %ofrep_addr, %scheme, "Listener started.");
        tasks.spawn(listen::serve_http(
            "ofrep",
            ofrep_listener,
            tls.clone(),
            {
                let (routes, hot) = ofrep::service_with(
                    Arc::clone(&flags),
                    config.ofrep.clone(),
                    admission.clone(),
                );
                listen::HttpService::new(routes, hot)
            },
            config.connections,
            flags.shutdown_signal(),
        ));
        announce_grpc("evaluation", evaluation_addr, &config.socket_path, scheme);
        tasks.spawn(listen::serve_grpc(
            "evaluation",
            evaluation_listener,
            // A unix socket is served without TLS: only this machine reaches
            // it, and flagd's providers connect to it in plain text.
            tls.clone().filter(|_| config.socket_path.is_none()),
            grpc::evaluation_routes(Arc::clone(&flags), admission.clone()),
            grpc::STREAMING_METHODS,
            config.connections,
            flags.shutdown_signal(),
        ));
        announce_grpc("sync", sync_addr, &config.sync_socket_path, scheme);
        tasks.spawn(listen::serve_grpc(
            "sync",
            sync_listener,
            tls.clone().filter(|_| config.sync_socket_path.is_none()),
            grpc::sync_routes(Arc::clone(&flags), admission),
            grpc::STREAMING_METHODS,
            config.connections,
            flags.shutdown_signal(),
        ));
        tracing::info!(listener = "management", addr = %management_addr, %scheme, "Listener started.");
        tasks.spawn(listen::serve_http(
            "management",
            management_listener,
            tls,
            management::routes(Arc::clone(&flags)),
            config.connections,
            flags.shutdown_signal(),
        ));
        Ok(Server {
            flags,
            ofrep_addr,
            management_addr,
            evaluation_addr,
            sync_addr,
            tasks,
        })
    }

    /// The shared state.
    pub fn flags(&self) -> &Arc<Flags> {
        &self.flags
    }

    /// Stops accepting, ends streams, lets open requests finish, and waits
    /// for every task.
    pub async fn shutdown(mut self) {
        self.flags.begin_shutdown();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// The address a listener actually bound (port 0 becomes a real port).
fn local_addr(listener: &tokio::net::TcpListener, port: u16, bind: IpAddr) -> SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::new(bind, port))
}

/// Binds a gRPC service's listener: the unix socket at `socket` when one is
/// given (flagd's `--socket-path` and `--sync-socket-path`), else TCP on
/// `port`, with the address it bound.
async fn grpc_listener(
    bind: IpAddr,
    port: u16,
    socket: Option<&std::path::Path>,
) -> Result<(GrpcListener, Option<SocketAddr>), ServeError> {
    match socket {
        #[cfg(unix)]
        Some(path) => Ok((GrpcListener::Unix(listen::bind_unix(path)?), None)),
        #[cfg(not(unix))]
        Some(_) => Err(ServeError::NoUnixSockets),
        None => {
            let listener = listen::bind(SocketAddr::new(bind, port)).await?;
            let addr = local_addr(&listener, port, bind);
            Ok((GrpcListener::Tcp(listener), Some(addr)))
        }
    }
}

/// Logs where a gRPC service listens.
fn announce_grpc(
    listener: &'static str,
    addr: Option<SocketAddr>,
    socket: &Option<PathBuf>,
    scheme: &str,
) {
    match (addr, socket) {
        (Some(addr), _) => tracing::info!(listener, %addr, %scheme, "Listener started."),
        (None, Some(path)) => {
            tracing::info!(listener, socket = %path.display(), "Listener started.");
        }
        (None, None) => {}
    }
}
