//! Listeners: one accept loop per entrypoint. Each connection (after a TLS
//! handshake on TLS entrypoints) starts in the HTTP/1.1 fast lane
//! (`http1::server`), which hands it to hyper (HTTP/1.1 with upgrades and
//! bodies, or HTTP/2, detected from the first bytes) for what it does not
//! handle; TLS connections that chose h2 by ALPN go to hyper at once. Every
//! connection holds a `Drain` receiver, so that a stop lets in-flight
//! requests finish, and closes lingering (`linger`), so that an answer sent
//! before the request was read in full reaches the client.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::model::RespondingTimeouts;
use crate::forwarded::ClientInfo;
use crate::linger::Lingering;
use crate::runtime::{Shared, Slot};
use crate::server::{self, Connection};
use crate::write_timeout::{DeadlineIo, WriteDeadline};

pub type HttpServer = auto::Builder<TokioExecutor>;

/// Every accepted connection holds a receiver of this channel; shutdown
/// flips it to `true` (connections finish their request in flight, then
/// close) and waits until every receiver is gone.
pub struct Drain(watch::Sender<bool>);

impl Drain {
    pub fn new() -> Arc<Drain> {
        Arc::new(Drain(watch::Sender::new(false)))
    }

    /// The signal for one new connection; None once shutdown has begun.
    fn watcher(&self) -> Option<watch::Receiver<bool>> {
        let rx = self.0.subscribe();
        let stopping = *rx.borrow();
        (!stopping).then_some(rx)
    }

    /// Ask every connection to finish and wait until they have.
    pub async fn shutdown(&self) {
        self.0.send_replace(true);
        self.0.closed().await;
    }
}

/// How long a client may take to send a request head, idle keep-alive time
/// included: without readTimeout, the keep-alive idle timeout bounds how
/// long a client may sit on a connection without sending a request.
pub fn header_timeout(timeouts: &RespondingTimeouts) -> Duration {
    timeouts.read.unwrap_or(timeouts.idle)
}

/// hyper's connection settings for one config (see `runtime::Responding`).
pub fn http_server(timeouts: &RespondingTimeouts) -> HttpServer {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout(timeouts))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(250)
        .keep_alive_interval(Some(Duration::from_secs(60)));
    builder
}

/// Bind an entrypoint address as Traefik writes it: `:80` (every interface,
/// IPv6 and IPv4), `IP:port`, `[v6]:port` or `host:port`.
pub async fn bind(address: &str) -> io::Result<TcpListener> {
    if let Some(port) = address.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad port in {address:?}"),
            )
        })?;
        // Linux makes [::] dual-stack; fall back to IPv4 where IPv6 is off.
        return match TcpListener::bind(SocketAddr::from(([0u16; 8], port))).await {
            Ok(l) => Ok(l),
            Err(_) => TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))).await,
        };
    }
    TcpListener::bind(address).await
}

/// A running accept loop.
pub struct Listener {
    pub name: String,
    pub local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Listener {
    pub fn start(
        name: String,
        listener: TcpListener,
        slot: Slot,
        shared: Arc<Shared>,
        drain: Arc<Drain>,
    ) -> io::Result<Listener> {
        let local_addr = listener.local_addr()?;
        shared.set_bound_port(slot, local_addr.port());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, slot, shared, drain, stopped));
        Ok(Listener {
            name,
            local_addr,
            stop,
            task,
        })
    }

    /// Stop accepting; the socket is closed when this returns. Connections
    /// already accepted keep running (they belong to the graceful watcher).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    slot: Slot,
    shared: Arc<Shared>,
    drain: Arc<Drain>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        // Settings are read once per connection from the current snapshot.
        let snapshot = shared.snapshot();
        let entry = snapshot.entry(slot);
        let trusted = entry.is_some_and(|e| e.trust.trusts(peer.ip()));
        let tls = entry.and_then(|e| e.tls.as_ref()).map(|t| t.config.clone());
        let responding = snapshot.responding.clone();
        drop(snapshot);
        let write_deadline = responding.write_timeout.map(WriteDeadline::new);
        let conn = Arc::new(Connection {
            shared: shared.clone(),
            slot,
            client: ClientInfo::new(peer.ip(), trusted, tls.is_some()).with_port(peer.port()),
            write_timeout: responding.write_timeout,
            write_deadline: write_deadline.clone(),
            header_timeout: responding.header_timeout,
        });
        let http = responding.http;
        let Some(watcher) = drain.watcher() else {
            return; // shutting down
        };
        // The handshake runs in the connection's own task: a slow or hostile
        // client never holds up the accept loop or other connections.
        tokio::spawn(async move {
            match write_deadline {
                None => {
                    let stream = Lingering::new(stream);
                    serve_tls_or_plain(stream, tls, conn, &http, watcher, peer).await
                }
                Some(deadline) => {
                    let stream = Lingering::new(DeadlineIo::new(stream, deadline));
                    serve_tls_or_plain(stream, tls, conn, &http, watcher, peer).await
                }
            }
        });
    }
}

async fn serve_tls_or_plain<S>(
    stream: S,
    tls: Option<Arc<rustls::ServerConfig>>,
    conn: Arc<Connection>,
    http: &HttpServer,
    watcher: watch::Receiver<bool>,
    peer: SocketAddr,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    match tls {
        None => serve(stream, conn, http, watcher, peer).await,
        Some(config) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) if tls_stream.get_ref().1.alpn_protocol() == Some(b"h2") => {
                    serve_hyper(tls_stream, conn, http, watcher, peer).await
                }
                Ok(Ok(tls_stream)) => serve(tls_stream, conn, http, watcher, peer).await,
                Ok(Err(e)) => {
                    tracing::debug!(client = %peer, error = %e, "TLS handshake failed")
                }
                Err(_) => tracing::debug!(client = %peer, "TLS handshake timed out"),
            }
        }
    }
}

/// A client gets this long to complete its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP/1.1 fast lane first; hyper for the rest of the connection if
/// a request needs it.
async fn serve<I>(
    io: I,
    conn: Arc<Connection>,
    http: &HttpServer,
    mut watcher: watch::Receiver<bool>,
    peer: SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if let Some(rest) = crate::http1::server::serve(io, &conn, &mut watcher).await {
        serve_hyper(rest, conn, http, watcher, peer).await;
    }
}

async fn serve_hyper<I>(
    io: I,
    conn: Arc<Connection>,
    http: &HttpServer,
    mut watcher: watch::Receiver<bool>,
    peer: SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| server::handle(req, conn.clone()));
    let serving = http.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(serving);
    let result = tokio::select! {
        result = serving.as_mut() => result,
        () = crate::http1::server::stop_requested(&mut watcher) => {
            serving.as_mut().graceful_shutdown();
            serving.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(client = %peer, error = %e, "connection ended with an error");
    }
}
