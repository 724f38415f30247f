//! The server side of a device tunnel (`tunnel`): on the `[tunnels]` entry
//! point, TLS, then the agent's hello checked against the device's token
//! hash, then HTTP/2 over the same connection with tollgate as the client,
//! registered as the device's tunnel until it ends or is revoked.
//!
//! Containment: the agent is the HTTP/2 server, so it can open no stream
//! toward tollgate (a client does not accept pushes); a malformed frame
//! ends its own tunnel only; each tunnel's streams are bounded by HTTP/2's
//! flow control and by the limits below, so one device cannot hold up
//! another.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::shutdown::stop_requested;
use crate::snapshot::Shared;
use crate::tunnel::{hello, token};

/// Ping period and how long a ping may go unanswered: a tunnel whose agent
/// vanished (power cut, NAT timeout) is dropped within 40 s.
const PING: Duration = Duration::from_secs(20);
/// Time for the hello, after the TLS handshake.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response head an agent's device may send back (per stream).
const MAX_HEADER_LIST: u32 = 64 * 1024;

pub async fn serve(
    stream: TcpStream,
    tls: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
    peer: SocketAddr,
    handshake_timeout: Duration,
    mut watcher: watch::Receiver<bool>,
) {
    // A second handle on the socket, to cut it: the HTTP/2 connection's
    // task outlives this function while streams (a WebSocket) hold it, and
    // only the socket's end stops them.
    let Some((stream, killer)) = with_killer(stream) else {
        return;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let mut stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return tracing::debug!(agent = %peer, error = %e, "tunnel TLS handshake failed")
        }
        Err(_) => return tracing::debug!(agent = %peer, "tunnel TLS handshake timed out"),
    };
    let line = match tokio::time::timeout(HELLO_TIMEOUT, hello::read_line(&mut stream)).await {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => return tracing::warn!(agent = %peer, error = %e, "tunnel refused: bad hello"),
        Err(_) => return tracing::warn!(agent = %peer, "tunnel refused: no hello in time"),
    };
    if let Some(token) = hello::peer_token(&line) {
        return super::peer::serve(stream, shared, peer, token, watcher).await;
    }
    let hello = match hello::parse_hello(&line) {
        Ok(h) => h,
        Err(why) => {
            let _ = hello::write_line(&mut stream, "DENIED bad hello\n").await;
            return tracing::warn!(agent = %peer, why, "tunnel refused");
        }
    };
    let device = hello.device.clone();
    let hash = shared
        .snapshot()
        .config
        .tunnels
        .as_ref()
        .and_then(|t| t.devices.get(&device).cloned());
    let admitted = match &hash {
        Some(hash) => token::verify(hello.token, hash.clone()).await,
        None => false,
    };
    let Some(hash) = hash.filter(|_| admitted) else {
        // One answer for an unknown device and a wrong token: which names
        // exist is not given away.
        let _ = hello::write_line(&mut stream, "DENIED unknown device or wrong token\n").await;
        return tracing::warn!(agent = %peer, %device, "tunnel refused: unknown device or wrong token");
    };
    if hello::write_line(&mut stream, "OK\n").await.is_err() {
        return;
    }
    let handshake = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(PING)
        .keep_alive_timeout(PING)
        .keep_alive_while_idle(true)
        .max_header_list_size(MAX_HEADER_LIST)
        .max_concurrent_reset_streams(64)
        .handshake(TokioIo::new(stream));
    let (sender, connection) = match tokio::time::timeout(HELLO_TIMEOUT, handshake).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => {
            return tracing::warn!(agent = %peer, %device, error = %e, "tunnel HTTP/2 handshake failed")
        }
        Err(_) => {
            return tracing::warn!(agent = %peer, %device, "tunnel HTTP/2 handshake timed out")
        }
    };
    let live = shared.tunnels.add(&device, peer, &hash, sender);
    let started = Instant::now();
    tracing::info!(%device, agent = %peer, "tunnel up");
    tokio::pin!(connection);
    let ended = tokio::select! {
        result = connection.as_mut() => match result {
            Ok(()) => "closed by the agent".to_owned(),
            Err(e) => format!("link failed: {e}"),
        },
        () = live.cut.notified() => "revoked by a reload (device removed or token changed)".to_owned(),
        () = stop_requested(&mut watcher) => "tollgate stopping".to_owned(),
    };
    shared.tunnels.remove(&live);
    // Ends every stream of the tunnel now, whoever still holds one.
    let _ = killer.shutdown(std::net::Shutdown::Both);
    let status = live.status();
    tracing::info!(
        %device,
        agent = %peer,
        why = %ended,
        up_secs = started.elapsed().as_secs(),
        streams = status.streams,
        bytes_to_device = status.bytes_to_device,
        bytes_from_device = status.bytes_from_device,
        "tunnel down"
    );
}

/// The stream, and a duplicate of its socket that can shut it down.
fn with_killer(stream: TcpStream) -> Option<(TcpStream, std::net::TcpStream)> {
    let std = stream.into_std().ok()?;
    let killer = std.try_clone().ok()?;
    let stream = TcpStream::from_std(std).ok()?;
    Some((stream, killer))
}
