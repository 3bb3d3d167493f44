//! Listeners: TCP or unix sockets, optionally with TLS (rustls), serving
//! warp routes or gRPC services through hyper-util until shutdown begins,
//! then letting in-flight requests finish.
//!
//! Every listener, HTTP and gRPC alike, applies the same
//! [`ConnectionLimits`] through one accept loop: a cap on open connections
//! (a connection over it is accepted and closed at once, so the client
//! learns at once instead of waiting in the kernel's backlog, and no task
//! is spawned for it), a TLS-handshake timeout, HTTP/1.1's header-read
//! timeout and a request-body timeout, an idle timeout (no request in flight: an open SSE, WebSocket
//! or gRPC stream is a request in flight), and a cap on open long-lived
//! streams, over which a new stream is refused (`503`, or gRPC's
//! `RESOURCE_EXHAUSTED`) while ordinary requests go on.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tower_service::Service as _;
use warp::Reply as _;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::server::ofrep::hot::{Answer, Hot};

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
}

impl Tls {
    /// Reads a PEM certificate chain and private key. HTTP/2 and HTTP/1.1
    /// are offered by ALPN.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, ListenError> {
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
    /// A unix socket (flagd's `--socket-path` or `--sync-socket-path`).
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
}

/// Serves gRPC `routes` until `shutdown` resolves, then lets open calls
/// finish (streams end themselves on the same signal). A call to one of
/// `streaming` (paths of server-streaming methods) takes one of the
/// listener's stream places for as long as it is open.
pub async fn serve_grpc(
    name: &'static str,
    listener: GrpcListener,
    tls: Option<Tls>,
    routes: tonic::service::Routes,
    streaming: &'static [&'static str],
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let respond = move |mut request: http::Request<Timed>, connection: &Connection| {
        request
            .extensions_mut()
            .insert(tonic::transport::server::TcpConnectInfo {
                local_addr: connection.local,
                remote_addr: connection.peer,
            });
        let place = if streaming.contains(&request.uri().path()) {
            match connection.streams.take() {
                Some(place) => Some(place),
                None => {
                    let refused =
                        tonic::Status::resource_exhausted("too many open streams on this listener")
                            .into_http::<tonic::body::Body>();
                    return futures::future::Either::Left(std::future::ready(
                        refused.map(|body| Holding::new(body, None)),
                    ));
                }
            }
        } else {
            None
        };
        let mut routes = routes.clone();
        futures::future::Either::Right(async move {
            let response = match routes.call(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            response.map(|body| Holding::new(body, place))
        })
    };
    let accepting = match listener {
        GrpcListener::Tcp(listener) => Accepting::Tcp(listener),
        #[cfg(unix)]
        GrpcListener::Unix(listener) => Accepting::Unix(listener),
    };
    serve(name, accepting, tls, respond, limits, shutdown).await;
}

/// Binds a unix socket, replacing a stale socket file left by an earlier
/// run; any other kind of file at `path` is left alone (binding fails).
#[cfg(unix)]
pub fn bind_unix(path: &Path) -> Result<tokio::net::UnixListener, ListenError> {
    use std::os::unix::fs::FileTypeExt as _;
    if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
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
/// to [`DRAIN_TIMEOUT`] for open requests to finish. Server-Sent Events
/// responses and WebSocket upgrades take one of the listener's stream
/// places for as long as they are open.
pub async fn serve_http(
    name: &'static str,
    listener: TcpListener,
    tls: Option<Tls>,
    service: impl Into<HttpService>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let service = service.into();
    let respond = move |request: http::Request<Timed>, connection: &Connection| {
        let service = service.clone();
        let peer = connection
            .peer
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let streams = connection.streams.clone();
        let upgraded = Arc::clone(&connection.upgraded);
        async move {
            let response = service.call(request, peer).await;
            let long_lived = response.status() == http::StatusCode::SWITCHING_PROTOCOLS
                || response
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
            if !long_lived {
                return response.map(|body| Holding::new(body, None));
            }
            let Some(place) = streams.take() else {
                let refused = warp::reply::with_status(
                    "too many open streams on this listener",
                    http::StatusCode::SERVICE_UNAVAILABLE,
                )
                .into_response();
                return refused.map(|body| Holding::new(body, None));
            };
            if response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
                // The upgraded connection outlives this response: its
                // socket keeps the place until it closes.
                if let Ok(mut slot) = upgraded.lock() {
                    *slot = Some(place);
                }
                response.map(|body| Holding::new(body, None))
            } else {
                response.map(|body| Holding::new(body, Some(place)))
            }
        }
    };
    serve(
        name,
        Accepting::Tcp(listener),
        tls,
        respond,
        limits,
        shutdown,
    )
    .await;
}

/// How long each connection may take, and how many a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client may take to send a request's headers (HTTP/1.1;
    /// this also bounds how long an HTTP/1.1 connection waits for its next
    /// request).
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body, from when its
    /// headers arrived.
    pub body_read_timeout: Duration,
    /// How long a client may take to complete the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// How long a connection may stay open with no request in flight (an
    /// open SSE, WebSocket or gRPC stream is in flight).
    pub idle_timeout: Duration,
    /// Open connections per listener; one more is closed as soon as it is
    /// accepted.
    pub max_connections: usize,
    /// Open long-lived streams (SSE, WebSocket, gRPC server streams) per
    /// listener; one more is refused.
    pub max_streams: usize,
}

impl Default for ConnectionLimits {
    /// Five listeners at their cap stay under the usual limit of 1024 open
    /// files.
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 200,
            max_streams: 100,
        }
    }
}

/// What a listener's respond function knows of the connection a request
/// came on.
struct Connection {
    peer: Option<SocketAddr>,
    local: Option<SocketAddr>,
    streams: Streams,
    /// Where a WebSocket upgrade leaves its stream place, held by the
    /// socket.
    upgraded: Arc<Mutex<Option<OwnedSemaphorePermit>>>,
}

/// A listener's places for long-lived streams.
#[derive(Debug, Clone)]
struct Streams(Arc<Semaphore>);

impl Streams {
    fn take(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.0).try_acquire_owned().ok()
    }
}

/// Where a listener accepts connections.
enum Accepting {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
}

/// A socket, whatever carries it.
trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// An accepted socket with its peer's and its own address (none on a unix
/// socket).
type Accepted = (Box<dyn Io>, Option<SocketAddr>, Option<SocketAddr>);

impl Accepting {
    async fn accept(&self) -> std::io::Result<Accepted> {
        match self {
            Accepting::Tcp(listener) => {
                let (stream, peer) = listener.accept().await?;
                // Small responses leave at once: with Nagle's algorithm a
                // reply written in several frames waited for the client's
                // acknowledgement of the first.
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr().ok();
                Ok((Box::new(stream), Some(peer), local))
            }
            #[cfg(unix)]
            Accepting::Unix(listener) => {
                let (stream, _) = listener.accept().await?;
                Ok((Box::new(stream), None, None))
            }
        }
    }
}

/// The accept loop every listener runs: `respond` answers each request.
async fn serve<R, F, B>(
    name: &'static str,
    accepting: Accepting,
    tls: Option<Tls>,
    respond: R,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) where
    R: Fn(http::Request<Timed>, &Connection) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = http::Response<Holding<B>>> + Send + 'static,
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let acceptor = tls.map(|tls| TlsAcceptor::from(tls.config()));
    let capacity = limits
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let places = Arc::new(Semaphore::new(capacity));
    let streams = Streams(Arc::new(Semaphore::new(
        limits.max_streams.min(Semaphore::MAX_PERMITS),
    )));
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer, local) = tokio::select! {
            accepted = accepting.accept() => match accepted {
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
        let Ok(place) = Arc::clone(&places).try_acquire_owned() else {
            // Closed at once, without a task: the client sees the
            // connection end and may go elsewhere.
            tracing::debug!(
                listener = name,
                ?peer,
                "Connection closed: the listener is at its connection cap."
            );
            drop(io);
            continue;
        };
        let connection = Connection {
            peer,
            local,
            streams: streams.clone(),
            upgraded: Arc::new(Mutex::new(None)),
        };
        let acceptor = acceptor.clone();
        let respond = respond.clone();
        let stopping = stopping.clone();
        tokio::spawn(async move {
            if let Err(error) =
                serve_connection(io, place, acceptor, connection, respond, limits, stopping).await
            {
                tracing::debug!(listener = name, ?peer, %error, "Connection ended with an error.");
            }
        });
    }
    drop(accepting);
    tracing::info!(listener = name, "Listener stopped accepting; draining.");
    let _ = stop.send(true);
    let everyone = u32::try_from(capacity).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_TIMEOUT, places.acquire_many(everyone))
        .await
        .is_err()
    {
        tracing::warn!(
            listener = name,
            "Requests still open after the drain timeout."
        );
    }
}

/// Serves one connection: the TLS handshake within its timeout, then HTTP
/// until the connection ends, is idle too long, or the listener stops.
async fn serve_connection<R, F, B>(
    io: Box<dyn Io>,
    place: OwnedSemaphorePermit,
    acceptor: Option<TlsAcceptor>,
    connection: Connection,
    respond: R,
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    R: Fn(http::Request<Timed>, &Connection) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = http::Response<Holding<B>>> + Send + 'static,
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let io: Box<dyn Io> = match acceptor {
        Some(acceptor) => {
            match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(io)).await {
                Ok(stream) => Box::new(stream?),
                Err(_) => return Err("the TLS handshake timed out".into()),
            }
        }
        None => io,
    };
    let io = Held {
        _place: place,
        io,
        upgraded: Arc::clone(&connection.upgraded),
    };
    let (activity, quiet) = watch::channel(0usize);
    let activity = Arc::new(activity);
    let connection = Arc::new(connection);
    let body_read_timeout = limits.body_read_timeout;
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let in_flight = InFlight::begin(&activity);
        let request = request.map(|body| Timed::new(body, body_read_timeout));
        let answer = respond(request, &connection);
        async move {
            let response = answer.await;
            Ok::<_, Infallible>(response.map(|body| Holding::new(body, Some(in_flight))))
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let served = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    let mut served = std::pin::pin!(served);
    let mut idle = std::pin::pin!(idle(quiet, limits.idle_timeout));
    // Once closing, how long the client has to let the connection end (an
    // HTTP/2 client must acknowledge the GOAWAY's ping) before it is cut.
    let grace = tokio::time::sleep(Duration::MAX);
    let mut grace = std::pin::pin!(grace);
    let mut closing = false;
    loop {
        tokio::select! {
            result = served.as_mut() => return result,
            () = &mut idle, if !closing => {
                served.as_mut().graceful_shutdown();
                grace.as_mut().reset(tokio::time::Instant::now() + limits.idle_timeout);
                closing = true;
            }
            _ = stopping.wait_for(|stop| *stop), if !closing => {
                served.as_mut().graceful_shutdown();
                grace.as_mut().reset(tokio::time::Instant::now() + DRAIN_TIMEOUT);
                closing = true;
            }
            () = &mut grace, if closing => {
                return Err("the connection did not close in time".into());
            }
        }
    }
}

/// Resolves once no request has been in flight for `timeout`.
async fn idle(mut in_flight: watch::Receiver<usize>, timeout: Duration) {
    loop {
        let busy = *in_flight.borrow_and_update() > 0;
        let changed = if busy {
            in_flight.changed().await
        } else {
            tokio::select! {
                () = tokio::time::sleep(timeout) => return,
                changed = in_flight.changed() => changed,
            }
        };
        if changed.is_err() {
            // The connection is gone; nothing left to time.
            return std::future::pending().await;
        }
    }
}

/// One request in flight on a connection, until its response is sent.
struct InFlight(Arc<watch::Sender<usize>>);

impl InFlight {
    fn begin(activity: &Arc<watch::Sender<usize>>) -> InFlight {
        activity.send_modify(|n| *n += 1);
        InFlight(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A response body holding something (a stream place, the in-flight
/// mark) until it is sent or dropped.
#[derive(Debug)]
struct Holding<B, T = OwnedSemaphorePermit> {
    body: B,
    _held: Option<T>,
}

impl<B, T> Holding<B, T> {
    fn new(body: B, held: Option<T>) -> Self {
        Holding { body, _held: held }
    }
}

impl<B: Body + Unpin, T: Unpin> Body for Holding<B, T> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that must arrive whole within a time from when the
/// request's headers did (a slow body is a request in flight, which the
/// idle timeout does not end). The timer is set only once the body keeps
/// a reader waiting, so a body that came with its headers costs none.
struct Timed {
    body: Incoming,
    started: tokio::time::Instant,
    limit: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Timed {
    fn new(body: Incoming, limit: Duration) -> Timed {
        Timed {
            body,
            started: tokio::time::Instant::now(),
            limit,
            deadline: None,
        }
    }
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    /// The connection failed.
    #[error(transparent)]
    Read(#[from] hyper::Error),
    /// The body did not arrive in time.
    #[error("the request body did not arrive within {} s", .0.as_secs())]
    TooSlow(Duration),
}

impl Body for Timed {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(BodyError::Read)));
        }
        let (started, limit) = (this.started, this.limit);
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(started + limit)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyError::TooSlow(limit)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's socket, holding its place under the listener's cap, and
/// after a WebSocket upgrade its stream place, for as long as it is open.
struct Held {
    // The place is given back before the socket closes (fields drop in
    // order), so a client that saw the close finds it free.
    _place: OwnedSemaphorePermit,
    io: Box<dyn Io>,
    upgraded: Arc<Mutex<Option<OwnedSemaphorePermit>>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.upgraded.lock() {
            slot.take();
        }
    }
}

impl AsyncRead for Held {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.io).poll_shutdown(cx)
    }
}
