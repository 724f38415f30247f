//! Opening a new connection to a backend server: TCP (with `dialTimeout`),
//! then TLS for `https://` servers, then the HTTP handshake. The connection
//! itself runs in its own task; what comes back is the sending half.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http::uri::Authority;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::allow::{Fence, Refused};
use super::error::UpstreamError;
use crate::body::ProxyBody;
use crate::http1::client::Io;
use crate::tunnel::Tunnels;

/// TCP keepalive probes on idle upstream connections, so that a tunnel that
/// died silently (the device lost power) is noticed and not reused forever.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// Where and how to connect: fixed per server, built once per config.
#[derive(Debug, Clone)]
pub struct Target {
    pub authority: Authority,
    pub host: Arc<str>,
    pub port: u16,
    /// `Some` for `https://` servers.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub dial_timeout: Duration,
    /// A templated target's allow-list: only the addresses it admits are
    /// dialed (`allow`). None for servers written in the config.
    pub fence: Option<Arc<Fence>>,
    /// `tunnel://NAME` servers: streams through NAME's tunnel (`host` is
    /// the device name), never a socket of our own.
    pub tunnels: Option<Arc<Tunnels>>,
}

impl Target {
    pub fn new(
        authority: Authority,
        default_port: u16,
        tls: Option<Arc<rustls::ClientConfig>>,
        dial_timeout: Duration,
    ) -> Self {
        let host = authority.host();
        // `[::1]` in a URL is `::1` to the resolver and to TLS.
        let host: Arc<str> = host.trim_start_matches('[').trim_end_matches(']').into();
        let port = authority.port_u16().unwrap_or(default_port);
        Target {
            authority,
            host,
            port,
            tls,
            dial_timeout,
            fence: None,
            tunnels: None,
        }
    }
}

/// Connect (and TLS handshake) for an exchange driven by `http1::client`.
pub async fn raw(target: &Target) -> Result<Io, UpstreamError> {
    if let Some(tunnels) = &target.tunnels {
        let stream = tunnels
            .open(&target.host, target.dial_timeout)
            .await
            .map_err(UpstreamError::Tunnel)?;
        return Ok(Io::Stream(Box::new(stream)));
    }
    let tcp = dial(target).await?;
    match &target.tls {
        None => Ok(Io::Plain(tcp)),
        Some(tls) => {
            let stream = tls_handshake(tls, target, tcp).await?;
            Ok(Io::Tls(Box::new(stream)))
        }
    }
}

/// Connect and handshake HTTP/2 with prior knowledge (`h2c://` servers).
pub async fn http2(target: &Target) -> Result<http2::SendRequest<ProxyBody>, UpstreamError> {
    let tcp = dial(target).await?;
    let (sender, conn) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(TokioIo::new(tcp))
        .await
        .map_err(UpstreamError::Handshake)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "upstream h2c connection ended");
        }
    });
    Ok(sender)
}

/// HTTP/1.1 through hyper on an open connection (upgrades only).
pub async fn handshake1(io: Io) -> Result<http1::SendRequest<ProxyBody>, UpstreamError> {
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(UpstreamError::Handshake)?;
    tokio::spawn(async move {
        // `with_upgrades`: a 101 answer hands the socket to the WebSocket splice.
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "upstream connection ended");
        }
    });
    Ok(sender)
}

/// TCP connect to the first address that answers, within `dialTimeout` in all.
async fn dial(target: &Target) -> Result<TcpStream, UpstreamError> {
    let attempt = async {
        if let Some(fence) = &target.fence {
            let addrs = fence
                .addresses(&target.host, target.port)
                .await
                .map_err(|refused| match refused {
                    Refused::Lookup(e) => UpstreamError::Connect(e),
                    Refused::Outside(why) => UpstreamError::Refused(why),
                })?;
            return connect_first(addrs).await.map_err(UpstreamError::Connect);
        }
        // Backends are usually loopback IPs (SSH tunnels): skip the resolver.
        let stream = match target.host.parse::<IpAddr>() {
            Ok(ip) => TcpStream::connect(SocketAddr::new(ip, target.port)).await,
            Err(_) => connect_any(&target.host, target.port).await,
        };
        stream.map_err(UpstreamError::Connect)
    };
    let stream = tokio::time::timeout(target.dial_timeout, attempt)
        .await
        .map_err(|_| UpstreamError::ConnectTimeout)??;
    // Small requests and responses must not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE);
    let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
    Ok(stream)
}

async fn connect_any(host: &str, port: u16) -> io::Result<TcpStream> {
    connect_first(tokio::net::lookup_host((host, port)).await?).await
}

/// The first of `addrs` that accepts.
async fn connect_first(addrs: impl IntoIterator<Item = SocketAddr>) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")))
}

async fn tls_handshake(
    tls: &Arc<rustls::ClientConfig>,
    target: &Target,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, UpstreamError> {
    let name = ServerName::try_from(target.host.to_string())
        .map_err(|e| UpstreamError::Tls(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
    let connector = TlsConnector::from(tls.clone());
    tokio::time::timeout(target.dial_timeout, connector.connect(name, tcp))
        .await
        .map_err(|_| UpstreamError::ConnectTimeout)?
        .map_err(UpstreamError::Tls)
}
