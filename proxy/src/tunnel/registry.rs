//! The live tunnels, by device name, for the whole process (they outlive
//! config reloads). A `tunnel://NAME` backend opens a stream on one of
//! NAME's tunnels (round robin when several agents share the name); a
//! reload that removes a device, or changes its token, cuts its tunnels.
//!
//! A stream is an HTTP/2 CONNECT on the tunnel, tollgate being the HTTP/2
//! client: the agent answers it by connecting to its `--forward` address,
//! and the stream then carries that TCP connection's bytes both ways. The
//! upstream code speaks HTTP/1.1 over it exactly as over a socket
//! (keep-alive pools, WebSocket upgrades and all); the agent, as the HTTP/2
//! server, can open nothing toward tollgate.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Empty;
use hyper::client::conn::http2::SendRequest;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// One agent's live tunnel.
pub struct Live {
    pub id: u64,
    pub device: String,
    pub remote: SocketAddr,
    pub since: SystemTime,
    /// The token hash it was admitted with: a reload that changes the
    /// device's hash cuts it.
    pub token_hash: String,
    sender: SendRequest<Empty<Bytes>>,
    /// Notified to end the tunnel (revocation).
    pub cut: Notify,
    pub streams: AtomicU64,
    pub open_streams: AtomicU64,
    pub bytes_to_device: AtomicU64,
    pub bytes_from_device: AtomicU64,
}

/// What the API and the log say of one tunnel.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TunnelStatus {
    pub device: String,
    pub remote: String,
    pub connected_secs: u64,
    pub streams: u64,
    pub open_streams: u64,
    pub bytes_to_device: u64,
    pub bytes_from_device: u64,
}

impl Live {
    pub fn status(&self) -> TunnelStatus {
        TunnelStatus {
            device: self.device.clone(),
            remote: self.remote.to_string(),
            connected_secs: self.since.elapsed().map_or(0, |d| d.as_secs()),
            streams: self.streams.load(Ordering::Relaxed),
            open_streams: self.open_streams.load(Ordering::Relaxed),
            bytes_to_device: self.bytes_to_device.load(Ordering::Relaxed),
            bytes_from_device: self.bytes_from_device.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Debug for Tunnels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.status()).finish()
    }
}

#[derive(Default)]
pub struct Tunnels {
    devices: Mutex<HashMap<String, Vec<Arc<Live>>>>,
    next_id: AtomicU64,
    /// Round robin over a device's tunnels.
    turn: AtomicUsize,
    /// Told when a device gains or loses its last tunnel (`peers`
    /// publishes which devices this instance holds).
    pub changed: Notify,
    /// In a cluster, the other instances: a device without a tunnel here
    /// is reached through the one that holds it (`peers`).
    pub elsewhere: Mutex<Option<Arc<dyn Elsewhere>>>,
}

/// Where a device without a tunnel here may still be reached.
pub trait Elsewhere: Send + Sync + std::any::Any {
    /// A stream to `device` through another instance; None when no other
    /// instance holds it.
    fn open<'a>(
        &'a self,
        device: &'a str,
        timeout: Duration,
    ) -> futures_util::future::BoxFuture<'a, Option<Result<TokioIo<Upgraded>, String>>>;
}

impl Tunnels {
    /// Registers a tunnel that has just been admitted.
    pub fn add(
        &self,
        device: &str,
        remote: SocketAddr,
        token_hash: &str,
        sender: SendRequest<Empty<Bytes>>,
    ) -> Arc<Live> {
        let live = Arc::new(Live {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            device: device.to_owned(),
            remote,
            since: SystemTime::now(),
            token_hash: token_hash.to_owned(),
            sender,
            cut: Notify::new(),
            streams: AtomicU64::new(0),
            open_streams: AtomicU64::new(0),
            bytes_to_device: AtomicU64::new(0),
            bytes_from_device: AtomicU64::new(0),
        });
        self.lock()
            .entry(device.to_owned())
            .or_default()
            .push(live.clone());
        self.changed.notify_waiters();
        live
    }

    /// The devices with at least one tunnel here.
    pub fn devices(&self) -> std::collections::BTreeSet<String> {
        self.lock().keys().cloned().collect()
    }

    pub fn remove(&self, live: &Live) {
        let mut devices = self.lock();
        if let Some(list) = devices.get_mut(&live.device) {
            list.retain(|l| l.id != live.id);
            if list.is_empty() {
                devices.remove(&live.device);
                self.changed.notify_waiters();
            }
        }
    }

    /// Cuts every tunnel `keep(device, token_hash)` refuses (a reload
    /// removed the device or changed its token).
    pub fn retain(&self, keep: impl Fn(&str, &str) -> bool) {
        for live in self.lock().values().flatten() {
            if !keep(&live.device, &live.token_hash) {
                // notify_one keeps the permit if the tunnel's task is not
                // waiting yet.
                live.cut.notify_one();
            }
        }
    }

    pub fn status(&self) -> Vec<TunnelStatus> {
        let mut list: Vec<TunnelStatus> =
            self.lock().values().flatten().map(|l| l.status()).collect();
        list.sort_by(|a, b| a.device.cmp(&b.device).then(a.remote.cmp(&b.remote)));
        list
    }

    /// A stream to `device`'s service, through one of its tunnels here or,
    /// in a cluster, through the instance that holds one, within `timeout`.
    pub async fn open(&self, device: &str, timeout: Duration) -> Result<TunnelStream, String> {
        let local = self.open_local(device, timeout).await;
        let peers = self
            .elsewhere
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match (local, peers) {
            (Err(NoTunnel(why)), Some(peers)) => match peers.open(device, timeout).await {
                Some(stream) => stream.map(|io| TunnelStream { io, live: None }),
                None => Err(why),
            },
            (local, _) => local.map_err(|NoTunnel(why)| why),
        }
    }

    /// A stream through one of `device`'s tunnels here, never another
    /// instance's (what a peer asks for: no request travels twice).
    pub async fn open_local(
        &self,
        device: &str,
        timeout: Duration,
    ) -> Result<TunnelStream, NoTunnel> {
        let live = {
            let devices = self.lock();
            let list = devices
                .get(device)
                .filter(|l| !l.is_empty())
                .ok_or_else(|| {
                    NoTunnel(format!(
                        "device {device} has no live tunnel (its agent is not connected)"
                    ))
                })?;
            list[self.turn.fetch_add(1, Ordering::Relaxed) % list.len()].clone()
        };
        let attempt = async {
            let mut sender = live.sender.clone();
            sender
                .ready()
                .await
                .map_err(|e| format!("device {device}: tunnel closed: {e}"))?;
            connect_stream(&mut sender, device, "its agent").await
        };
        let upgraded = tokio::time::timeout(timeout, attempt)
            .await
            .map_err(|_| format!("device {device}: no stream within {timeout:?}"))
            .and_then(|r| r)
            .map_err(NoTunnel)?;
        live.streams.fetch_add(1, Ordering::Relaxed);
        live.open_streams.fetch_add(1, Ordering::Relaxed);
        Ok(TunnelStream {
            io: TokioIo::new(upgraded),
            live: Some(live),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Arc<Live>>>> {
        self.devices.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One CONNECT stream to `device` on an HTTP/2 link (a device's tunnel,
/// or another instance's link in a cluster); `via` names the far end in
/// errors ("its agent", "instance 10.0.0.2:4443").
pub async fn connect_stream(
    sender: &mut SendRequest<Empty<Bytes>>,
    device: &str,
    via: &str,
) -> Result<Upgraded, String> {
    let req = Request::builder()
        .method(Method::CONNECT)
        .uri(format!("{device}:1"))
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let mut resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("device {device}: through {via}: {e}"))?;
    if resp.status() != StatusCode::OK {
        return Err(format!(
            "device {device}: {via} could not reach it ({})",
            resp.status()
        ));
    }
    hyper::upgrade::on(&mut resp)
        .await
        .map_err(|e| format!("device {device}: stream through {via}: {e}"))
}

/// Why a device could not be reached through a tunnel here.
#[derive(Debug)]
pub struct NoTunnel(pub String);

/// One stream to a device's service: a byte stream, counted on its tunnel
/// when the tunnel is here (a stream through another instance is counted
/// there).
pub struct TunnelStream {
    io: TokioIo<Upgraded>,
    live: Option<Arc<Live>>,
}

impl Drop for TunnelStream {
    fn drop(&mut self) {
        if let Some(live) = &self.live {
            live.open_streams.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl AsyncRead for TunnelStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        if let Some(live) = &self.live {
            live.bytes_from_device.fetch_add(read, Ordering::Relaxed);
        }
        poll
    }
}

impl AsyncWrite for TunnelStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        if let (Poll::Ready(Ok(n)), Some(live)) = (&poll, &self.live) {
            live.bytes_to_device.fetch_add(*n as u64, Ordering::Relaxed);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
