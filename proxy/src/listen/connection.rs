//! One client connection: its PROXY protocol header where the entry point
//! reads one (`proxy_protocol`), its TLS handshake on TLS entrypoints, then the
//! HTTP/1.1 fast lane (`http1::server`), which hands the connection to
//! hyper (HTTP/1.1 with upgrades and bodies, or HTTP/2, detected from the
//! first bytes) for what it does not handle; TLS connections that chose h2
//! by ALPN go to hyper at once. Every connection holds a `Drain` receiver,
//! so that a stop lets in-flight requests finish, and closes lingering
//! (`linger`), so that an answer sent before the request was read in full
//! reaches the client.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::BytesMut;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::idle::CLOSE_GRACE;
use super::linger::Lingering;
use super::parking::Lot;
use super::proxy_protocol;
use super::service;
use super::settings::Connection;
use super::write_deadline::DeadlineIo;
use crate::http1;
use crate::http1::rewind::Rewind;
use crate::http1::server::Ended;
use crate::http2::budget::PREFACE_HEAD as H2_PREFACE_HEAD;
use crate::http2::{Budgeted, Coalesced, Local};
use crate::request::forwarded::ClientInfo;
use crate::request::{self, ClientConn, Writer};
use crate::shutdown::stop_requested;
use crate::snapshot::admission::Admitted;
use crate::trust::Trust;

/// Serve an accepted connection until it ends. `proxy_header`: Some when
/// it may start with a PROXY protocol header (`proxy_protocol`), with the
/// `forwardedHeaders` trust to judge the client it names by.
// A connection's future (TLS state, the lane's loop) is large, but it is
// spawned once per connection and never moved per request.
#[allow(clippy::large_futures)]
pub async fn serve(
    mut stream: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut conn: Connection,
    proxy_header: Option<Trust>,
    watcher: watch::Receiver<bool>,
    mut peer: SocketAddr,
) {
    // Bytes read past a PROXY header are the client's: read again first.
    let mut read_past = BytesMut::new();
    if let Some(trust) = proxy_header {
        match proxy_protocol::read_header(&mut stream, conn.responding.tls_handshake_timeout).await
        {
            Ok((client, rest)) => {
                read_past = rest;
                if let Some(client) = client {
                    peer = client;
                    let ip = client.ip();
                    conn.client = Arc::new(ClientConn {
                        shared: conn.client.shared.clone(),
                        slot: conn.client.slot,
                        client: ClientInfo::new(ip, trust.trusts(ip), tls.is_some())
                            .with_port(client.port()),
                    });
                }
            }
            Err(e) => {
                tracing::debug!(balancer = %peer, error = %e, "PROXY header refused");
                return;
            }
        }
    }
    let Some(admitted) = conn.admission.admit(peer.ip(), &conn.responding.limits) else {
        tracing::debug!(client = %peer, "connection over the entry point's limits closed");
        return;
    };
    let conn = Arc::new(conn);
    let stream = plain(stream, read_past, &conn);
    // Boxed, here and for the lane below: an async fn that awaits another
    // in place keeps room for it twice (rustc#62958), and every byte of a
    // connection's task is held for as long as the client stays connected.
    Box::pin(serve_tls_or_plain(
        stream, tls, conn, watcher, peer, admitted,
    ))
    .await
}

/// A plain client connection's stream: bytes read past a PROXY header
/// first, writes under the write deadlines, a lingering close.
type Plain = Lingering<DeadlineIo<Rewind<TcpStream>>>;

fn plain(stream: TcpStream, read_past: BytesMut, conn: &Connection) -> Plain {
    let stream = Rewind::new(stream, read_past);
    let stream = DeadlineIo::new(
        stream,
        conn.write_deadline.clone(),
        conn.responding.stall_limit,
    );
    Lingering::new(stream)
}

/// A stream that can wait in the parking lot while idle (`parking`): the
/// plain one, whose wrappers hold nothing between requests. TLS keeps its
/// session in the stream, so its connections wait in their task.
trait Parkable: Sized {
    fn into_socket(self) -> Result<TcpStream, Self>;
}

impl Parkable for Plain {
    fn into_socket(self) -> Result<TcpStream, Self> {
        // Never so when the lane parks: it has read everything, closed nothing.
        if !self.is_open() || self.get_ref().get_ref().has_unread() {
            return Err(self);
        }
        Ok(self.into_inner().into_inner().into_inner())
    }
}

impl<S> Parkable for tokio_rustls::server::TlsStream<S> {
    fn into_socket(self) -> Result<TcpStream, Self> {
        Err(self)
    }
}

async fn serve_tls_or_plain(
    stream: Plain,
    tls: Option<Arc<rustls::ServerConfig>>,
    conn: Arc<Connection>,
    watcher: watch::Receiver<bool>,
    peer: SocketAddr,
    admitted: Admitted,
) {
    // Both boxed: a task's futures are as large as their largest state for
    // as long as the connection is open, so each kind of connection holds
    // only its own (a plain one not the TLS session's, a TLS one not room
    // for a plain one's lane).
    match tls {
        None => Box::pin(serve_http(stream, conn, watcher, peer, admitted)).await,
        Some(config) => Box::pin(serve_tls(stream, config, conn, watcher, peer, admitted)).await,
    }
}

async fn serve_tls(
    stream: Plain,
    config: Arc<rustls::ServerConfig>,
    conn: Arc<Connection>,
    watcher: watch::Receiver<bool>,
    peer: SocketAddr,
    admitted: Admitted,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    // Every await here is of a box made in a block or statement of its
    // own, so that this future stays small for the connection's life: the
    // handshake's state is freed once it is done, and what comes after is
    // held in a box of its own size (a match's scrutinee, and a value
    // bound to a name, keep their room in the future to the end of their
    // scope, even once moved: rustc#62958).
    let next: Pin<Box<dyn Future<Output = ()> + Send>> = {
        let accepted = Box::pin(tokio::time::timeout(
            conn.responding.tls_handshake_timeout,
            acceptor.accept(stream),
        ))
        .await;
        match accepted {
            Ok(Ok(tls)) if tls.get_ref().1.alpn_protocol() == Some(b"h2") => {
                // Its streams' responses written together (`http2::coalesce`).
                Box::pin(Coalesced::new(serve_hyper(tls, conn, watcher, peer)))
            }
            Ok(Ok(tls)) => Box::pin(serve_http(tls, conn, watcher, peer, admitted)),
            Ok(Err(e)) => {
                return tracing::debug!(client = %peer, error = %e, "TLS handshake failed")
            }
            Err(_) => return tracing::debug!(client = %peer, "TLS handshake timed out"),
        }
    };
    next.await
}

/// The HTTP/1.1 fast lane first; hyper for the rest of the connection if
/// a request needs it. An idle connection leaves the lane's (large) future
/// for `park`'s small one until its next bytes (see `http1::server`'s
/// `PARK_AFTER`), a plain one for the parking lot's (`parking`).
/// A function returning an async block, not an async fn: an async fn's
/// arguments are moved into bindings of its own and kept twice (see
/// `serve_tls`); the block uses what it captured in place, so a TLS
/// connection waiting in `park` holds its session once.
#[allow(clippy::manual_async_fn)] // the async block is the point, above
fn serve_http<I>(
    mut io: I,
    conn: Arc<Connection>,
    mut watcher: watch::Receiver<bool>,
    peer: SocketAddr,
    admitted: Admitted,
) -> impl Future<Output = ()> + Send
where
    I: AsyncRead + AsyncWrite + Parkable + Unpin + Send + 'static,
{
    async move {
        let mut buf = BytesMut::new();
        let hyper = loop {
            // Made anew for each lane run and passed by value: called through a
            // reference, its 5 KiB future would be copied once more per request
            // (callgrind: +700 instructions of memcpy).
            let handler = |req| {
                // The response must be written within writeTimeout of now.
                if let Some(deadline) = &conn.write_deadline {
                    deadline.arm();
                }
                // Not boxed (see `http1` on boxing): moving this future (5 KiB)
                // into a fresh box for every request cost 6% more instructions
                // per request (callgrind); idle connections park instead.
                request::respond(req, conn.client.clone(), Writer::Lane)
            };
            // Boxed where it is made, and its end matched in the same
            // statement as it is awaited in.
            let lane = Box::pin(http1::server::serve(
                io,
                buf,
                &conn.responding.lane,
                peer.ip(),
                &mut watcher,
                handler,
            ));
            let deadline;
            io = match lane.await {
                Ended::Closed => return,
                Ended::ToHyper(rest) => break to_hyper(rest, conn, watcher, peer),
                Ended::Parked(parked, at) => {
                    deadline = at;
                    match &conn.lot {
                        Some(lot) => match parked.into_socket() {
                            Ok(socket) => {
                                return to_lot(
                                    lot.clone(),
                                    socket,
                                    deadline,
                                    conn,
                                    watcher,
                                    admitted,
                                );
                            }
                            Err(parked) => parked,
                        },
                        None => parked,
                    }
                }
            };
            match http1::server::park(&mut io, deadline, &mut watcher).await {
                Some(first) => buf = first,
                None => return,
            }
        };
        hyper.await
    }
}

/// The rest of a connection the lane hands over, served by hyper. Boxed:
/// only connections that need hyper carry its state, and the lane's loop
/// holds no room for it. HTTP/2 with prior knowledge (h2c) has its
/// streams' responses written together (`http2::coalesce`).
fn to_hyper<I>(
    rest: Rewind<I>,
    conn: Arc<Connection>,
    watcher: watch::Receiver<bool>,
    peer: SocketAddr,
) -> Pin<Box<dyn Future<Output = ()> + Send>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if rest.unread().starts_with(H2_PREFACE_HEAD) {
        Box::pin(Coalesced::new(serve_hyper(rest, conn, watcher, peer)))
    } else {
        Box::pin(serve_hyper(rest, conn, watcher, peer))
    }
}

/// Hand an idle plain connection to its entry point's parking lot, with
/// what it needs to go on in a new task (`resume`).
/// Not the peer address (32 bytes in each parked connection): the
/// client's is in `conn`.
fn to_lot(
    lot: Lot,
    socket: TcpStream,
    deadline: tokio::time::Instant,
    conn: Arc<Connection>,
    watcher: watch::Receiver<bool>,
    admitted: Admitted,
) {
    // Out of tokio's reactor (the lot has an epoll set of its own).
    let Ok(socket) = socket.into_std() else {
        return;
    };
    let resume = move |socket| {
        tokio::spawn(resume(socket, conn, watcher, admitted));
    };
    lot.park(socket, deadline, Box::new(resume));
}

/// A parked connection's new task: back in tokio's reactor, the lane again.
/// Declared boxed and Send: a task that spawns its own kind needs its type
/// spelled out (an `async fn` here would be a cycle of opaque types).
fn resume(
    socket: std::net::TcpStream,
    conn: Arc<Connection>,
    watcher: watch::Receiver<bool>,
    admitted: Admitted,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    let peer = SocketAddr::new(conn.client.client.ip, conn.client.client.port);
    Box::pin(async move {
        let Ok(socket) = TcpStream::from_std(socket) else {
            return;
        };
        let stream = plain(socket, BytesMut::new(), &conn);
        serve_http(stream, conn, watcher, peer, admitted).await
    })
}

/// As `serve_http`, a function returning an async block: the connection
/// (stream, TLS session, hyper's state) is in one box, made here, and the
/// block holds only that box and what it waits with.
fn serve_hyper<I>(
    io: I,
    conn: Arc<Connection>,
    mut watcher: watch::Receiver<bool>,
    peer: SocketAddr,
) -> impl Future<Output = ()> + Send
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limit = conn.responding.lane.header_timeout;
    let idle = conn.clone();
    // Boxed once, where it is made: hyper moves a stream's future into the
    // stream, the executor, a task-local scope and the task (`http2::stream`),
    // and each move copied all of its 5 KiB.
    let service = service_fn(move |req| Box::pin(service::handle(req, conn.clone())));
    // HTTP/2's control frames are budgeted (`http2::budget`).
    let io = TokioIo::new(Budgeted::new(io));
    // Owning its copy of the builder (as the clone made here before did).
    let serving = idle
        .responding
        .http
        .serve_connection_with_upgrades(io, service)
        .into_owned();
    // HTTP/2 streams run in the connection's task (`http2::local`).
    let mut serving = Box::pin(Local::new(serving));
    async move {
        let result = loop {
            // Until the idle limit could be reached (`idle`).
            let wait = idle
                .activity
                .idle_for()
                .map_or(limit, |d| limit.saturating_sub(d));
            tokio::select! {
                result = serving.as_mut() => break result,
                () = stop_requested(&mut watcher) => {
                    serving.as_mut().conn().graceful_shutdown();
                    break serving.await;
                }
                () = tokio::time::sleep(wait) => {
                    if idle.activity.idle_for().is_some_and(|d| d >= limit) {
                        tracing::debug!(client = %peer, ?limit, "idle connection closed");
                        serving.as_mut().conn().graceful_shutdown();
                        // A client that does not let it end loses it.
                        match tokio::time::timeout(CLOSE_GRACE, serving.as_mut()).await {
                            Ok(result) => break result,
                            Err(_) => return,
                        }
                    }
                }
            }
        };
        if let Err(e) = result {
            tracing::debug!(client = %peer, error = %e, "connection ended with an error");
        }
    }
}
