//! Listeners: TCP, optionally with TLS (rustls), serving warp routes through
//! hyper-util until shutdown begins, then letting in-flight requests finish.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tower_service::Service as _;
use warp::filters::BoxedFilter;

use crate::server::ofrep::hot::{Answer, Hot};
use warp::reply::Response;

/// How long in-flight requests may take to finish once shutdown begins.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The peer's address, put into each request's extensions (per-address
/// rate limits read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Why a listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The unix socket could not be bound.
    #[error("binding unix socket {path}: {source}")]
    BindUnix {
        /// The socket path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate or key could not be read.
    #[error("reading {path}: {source}")]
    TlsFile {
        /// The file.
        path: String,
        /// Why.
        source: tokio_rustls::rustls::pki_types::pem::Error,
    },
    /// rustls refused the certificate and key.
    #[error("the TLS certificate and key do not form a usable identity: {0}")]
    TlsConfig(#[from] tokio_rustls::rustls::Error),
}

/// TLS settings shared by every listener.
#[derive(Debug, Clone)]
pub struct Tls {
    config: Arc<ServerConfig>,
    /// The PEM files' bytes, for tonic's own TLS setup.
    cert_pem: Arc<[u8]>,
    key_pem: Arc<[u8]>,
}

impl Tls {
    /// Reads a PEM certificate chain and private key. HTTP/2 and HTTP/1.1
    /// are offered by ALPN.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, ListenError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| ListenError::TlsFile {
                path: path.display().to_string(),
                source: tokio_rustls::rustls::pki_types::pem::Error::Io(e),
            })
        };
        let (cert_pem, key_pem) = (read(cert)?, read(key)?);
        let certs = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|source| ListenError::TlsFile {
                path: cert.display().to_string(),
                source,
            })?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|source| ListenError::TlsFile {
            path: key.display().to_string(),
            source,
        })?;
        let mut config = ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
        })
    }

    /// The rustls configuration.
    pub fn config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config)
    }
}

/// Where a gRPC listener accepts connections.
#[derive(Debug)]
pub enum GrpcListener {
    /// A TCP port.
    Tcp(TcpListener),
    /// A unix socket (flagd's `--socket-path`).
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
}

/// Serves gRPC `routes` until `shutdown` resolves; tonic then lets open
/// calls finish (streams end themselves on the same signal).
pub async fn serve_grpc(
    name: &'static str,
    listener: GrpcListener,
    tls: Option<Tls>,
    routes: tonic::service::Routes,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        let identity = tonic::transport::Identity::from_pem(&*tls.cert_pem, &*tls.key_pem);
        builder = match builder
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
        {
            Ok(builder) => builder,
            Err(error) => {
                tracing::error!(listener = name, %error, "TLS setup failed; listener not started.");
                return;
            }
        };
    }
    let router = builder.add_routes(routes);
    let result = match listener {
        GrpcListener::Tcp(listener) => {
            router
                .serve_with_incoming_shutdown(
                    // Small responses leave at once: with Nagle's algorithm
                    // a reply written in several frames waited for the
                    // client's acknowledgement of the first.
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                    shutdown,
                )
                .await
        }
        #[cfg(unix)]
        GrpcListener::Unix(listener) => {
            router
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::UnixListenerStream::new(listener),
                    shutdown,
                )
                .await
        }
    };
    match result {
        Ok(()) => tracing::info!(listener = name, "Listener stopped."),
        Err(error) => tracing::error!(listener = name, %error, "Listener failed."),
    }
}

/// Binds a unix socket, replacing a stale socket file left by an earlier
/// run.
#[cfg(unix)]
pub fn bind_unix(path: &Path) -> Result<tokio::net::UnixListener, ListenError> {
    let _ = std::fs::remove_file(path);
    tokio::net::UnixListener::bind(path).map_err(|source| ListenError::BindUnix {
        path: path.display().to_string(),
        source,
    })
}

/// Binds a TCP listener; port 0 picks a free port.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ListenError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError::Bind { addr, source })
}

/// What an HTTP listener serves: warp routes, and possibly the OFREP hot
/// path, which is offered each request first.
#[derive(Clone)]
pub struct HttpService {
    routes: BoxedFilter<(Response,)>,
    hot: Option<Hot>,
}

impl HttpService {
    /// Routes with a hot path in front of them.
    pub fn new(routes: BoxedFilter<(Response,)>, hot: Option<Hot>) -> Self {
        HttpService { routes, hot }
    }

    /// Answers one request from `peer`, as a listener does.
    pub async fn call<B>(&self, mut request: http::Request<B>, peer: SocketAddr) -> Response
    where
        B: hyper::body::Body + Send + Sync + 'static,
        B::Data: Send,
        B::Error: std::fmt::Display + Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if let Some(hot) = &self.hot {
            match hot.answer(request, peer) {
                Answer::Taken(answer) => return answer.await,
                Answer::Declined(declined) => request = declined,
            }
        }
        request.extensions_mut().insert(PeerAddr(peer));
        match warp::service(self.routes.clone()).call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

impl std::fmt::Debug for HttpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpService")
            .field("hot", &self.hot.is_some())
            .finish_non_exhaustive()
    }
}

impl From<BoxedFilter<(Response,)>> for HttpService {
    fn from(routes: BoxedFilter<(Response,)>) -> Self {
        HttpService { routes, hot: None }
    }
}

/// Serves `service` on `listener` until `shutdown` resolves, then waits up
/// to [`DRAIN_TIMEOUT`] for open requests to finish.
pub async fn serve_http(
    name: &'static str,
    listener: TcpListener,
    tls: Option<Tls>,
    service: impl Into<HttpService>,
    shutdown: impl Future<Output = ()>,
) {
    let service = service.into();
    let acceptor = tls.map(|tls| TlsAcceptor::from(tls.config()));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(listener = name, %error, "Accepting a connection failed.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = service.clone();
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            if let Err(error) = connection(stream, peer, acceptor, service, watcher).await {
                tracing::debug!(listener = name, %peer, %error, "Connection ended with an error.");
            }
        });
    }
    drop(listener);
    tracing::info!(listener = name, "Listener stopped accepting; draining.");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            listener = name,
            "Requests still open after the drain timeout."
        );
    }
}

/// Serves one connection.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    service: HttpService,
    watcher: hyper_util::server::graceful::Watcher,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let service = service.clone();
        async move { Ok::<_, std::convert::Infallible>(service.call(request, peer).await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    match acceptor {
        Some(acceptor) => {
            let stream = acceptor.accept(stream).await?;
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            watcher.watch(connection.into_owned()).await
        }
        None => {
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            watcher.watch(connection.into_owned()).await
        }
    }
}
