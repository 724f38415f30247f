//! Listeners: one accept loop per entrypoint, binding and stopping it. Each
//! accepted connection gets its settings from the current snapshot and is
//! served in a task of its own (`connection`).

use std::cell::OnceCell;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::connection;
use super::idle::Activity;
use super::parking::Lot;
use super::settings::Connection;
use super::write_deadline::WriteDeadline;
use crate::request::forwarded::ClientInfo;
use crate::request::ClientConn;
use crate::shutdown::Drain;
use crate::snapshot::{Shared, Slot};

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
        return match listen(SocketAddr::from(([0u16; 8], port))) {
            Ok(l) => Ok(l),
            Err(_) => listen(SocketAddr::from(([0, 0, 0, 0], port))),
        };
    }
    let mut last = None;
    for addr in tokio::net::lookup_host(address).await? {
        match listen(addr) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{address:?} has no address"),
        )
    }))
}

/// Connections the kernel queues for an entrypoint before they are
/// accepted (the OS caps it at `net.core.somaxconn`). The usual 128 made a
/// burst of 2,000 connects wait seconds for their SYN to be answered again.
pub const BACKLOG: u32 = 4096;

/// A listening socket on `addr` with [`BACKLOG`].
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As std and tokio do: a restart can bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
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
    let admission = shared.admission(slot);
    // Started with the first plain connection: TLS connections never park
    // (`parking`), so an entry point that only ever serves TLS keeps no
    // lot, no epoll set and no task for one.
    let lot: OnceCell<Option<Lot>> = OnceCell::new();
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
        // A PROXY header is read only from the sources the entry point
        // trusts for it; the real client is then judged by `trust`.
        let proxy_header = entry
            .filter(|e| {
                e.proxy_protocol
                    .as_ref()
                    .is_some_and(|p| p.trusts(peer.ip()))
            })
            .map(|e| e.trust.clone());
        let tls = entry.and_then(|e| e.tls.as_ref()).map(|t| t.config.clone());
        if let (Some(tls), true) = (&tls, entry.is_some_and(|e| e.tunnels)) {
            // An agent's tunnel, not an HTTP client.
            let handshake = entry
                .map_or(&snapshot.responding, |e| &e.responding)
                .tls_handshake_timeout;
            let (tls, shared) = (tls.clone(), shared.clone());
            drop(snapshot);
            let Some(watcher) = drain.watcher() else {
                return; // shutting down
            };
            tokio::spawn(super::tunnel::serve(
                stream, tls, shared, peer, handshake, watcher,
            ));
            continue;
        }
        let responding = entry
            .map_or(&snapshot.responding, |e| &e.responding)
            .clone();
        drop(snapshot);
        let Some(watcher) = drain.watcher() else {
            return; // shutting down
        };
        let conn = Connection {
            client: Arc::new(ClientConn {
                shared: shared.clone(),
                slot,
                client: ClientInfo::new(peer.ip(), trusted, tls.is_some()).with_port(peer.port()),
            }),
            write_deadline: responding.write_timeout.map(WriteDeadline::new),
            responding,
            activity: Activity::new(),
            admission: admission.clone(),
            lot: if tls.is_some() {
                None
            } else {
                lot.get_or_init(|| drain.watcher().and_then(Lot::start))
                    .clone()
            },
        };
        // The handshake runs in the connection's own task: a slow or hostile
        // client never holds up the accept loop or other connections.
        tokio::spawn(connection::serve(
            stream,
            tls,
            conn,
            proxy_header,
            watcher,
            peer,
        ));
    }
}
