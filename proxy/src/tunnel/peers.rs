//! Device tunnels across a cluster (`[tunnels.cluster]` with `[etcd]`): a
//! device dials whichever instance DNS or the load balancer gives it, and
//! a request for it may arrive at any other.
//!
//! - Each instance publishes the devices it holds a tunnel for, at
//!   `PREFIX/tunnels/DEVICE/ADVERTISE` with a lease of its own: an instance
//!   that dies (or is cut off from etcd) drops out within `LEASE_TTL`.
//! - Each follows that folder (a watch), so it knows which instance to ask.
//! - A request for a device held elsewhere goes over one HTTP/2 link per
//!   peer, opened to the peer's tunnel entry point: TLS checked against
//!   `ca`, then `TOLLGATE-PEER/1 <token>` (`hello`), then one CONNECT
//!   stream per connection to the device. The peer (`listen::peer`) opens
//!   the stream on its own tunnel only, so no request travels twice.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use etcd_client::{Client, PutOptions};
use http_body_util::Empty;
use hyper::client::conn::http2::SendRequest;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::task::JoinHandle;

use super::hello;
use super::registry::{connect_stream, Elsewhere, Tunnels};
use crate::cluster::etcd::{connect, get_prefix, lease, next_change, watch_prefix, Outage};
use crate::config::model::{EtcdProvider, TunnelCluster};
use crate::config::Config;

/// The lease of this instance's entries: how long a dead instance still
/// looks like it holds its devices.
const LEASE_TTL: i64 = 10;
const RETRY_MAX: Duration = Duration::from_secs(5);
/// Pings on a peer link; an unanswered one ends it (and the next request
/// opens a new one).
const PING: Duration = Duration::from_secs(10);

/// What `apply` compares to know whether to start again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    cluster: TunnelCluster,
    etcd: EtcdProvider,
}

/// The other instances, as seen from this one.
pub struct Peers {
    settings: Settings,
    tls: Arc<rustls::ClientConfig>,
    /// Device → the instances (their advertised addresses) holding it,
    /// this one left out.
    directory: std::sync::Mutex<HashMap<String, Vec<String>>>,
    /// One HTTP/2 link per peer, opened on first use.
    links: tokio::sync::Mutex<HashMap<String, SendRequest<Empty<Bytes>>>>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Peers {
    fn drop(&mut self) {
        for task in self
            .tasks
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }
}

/// Takes an applied config's `[tunnels.cluster]`: starts following the
/// other instances, starts again when the settings change, stops when the
/// section goes.
pub fn apply(tunnels: &Arc<Tunnels>, config: &Config) {
    let wanted = config
        .tunnels
        .as_ref()
        .and_then(|t| t.cluster.clone())
        .zip(config.etcd.clone())
        .map(|(cluster, etcd)| Settings { cluster, etcd });
    let mut current = tunnels.elsewhere.lock().unwrap_or_else(|p| p.into_inner());
    let running = current
        .as_ref()
        .and_then(|p| (p.as_ref() as &dyn std::any::Any).downcast_ref::<Peers>())
        .map(|p| &p.settings);
    if running == wanted.as_ref() {
        return;
    }
    *current = None;
    let Some(settings) = wanted else { return };
    let tls = match client_tls(&settings.cluster) {
        Ok(tls) => tls,
        Err(e) => {
            tracing::error!(
                "tunnels cluster: {e}; devices held by other instances are not reachable from here"
            );
            return;
        }
    };
    let peers = Arc::new(Peers {
        settings,
        tls,
        directory: Default::default(),
        links: Default::default(),
        tasks: Default::default(),
    });
    let publisher = tokio::spawn(publish(Arc::downgrade(tunnels), peers.settings.clone()));
    let follower = tokio::spawn(follow(Arc::downgrade(&peers)));
    peers
        .tasks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend([publisher, follower]);
    *current = Some(peers);
}

fn client_tls(cluster: &TunnelCluster) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    match &cluster.ca {
        Some(ca) => {
            for cert in crate::tls::pem::load_certs(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", ca.describe()))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = Vec::new();
    Ok(Arc::new(config))
}

impl Elsewhere for Peers {
    fn open<'a>(
        &'a self,
        device: &'a str,
        timeout: Duration,
    ) -> futures_util::future::BoxFuture<'a, Option<Result<TokioIo<Upgraded>, String>>> {
        Box::pin(self.open_through(device, timeout))
    }
}

impl Peers {
    /// A stream to `device` through an instance that holds it; None when
    /// no other instance does.
    async fn open_through(
        &self,
        device: &str,
        timeout: Duration,
    ) -> Option<Result<TokioIo<Upgraded>, String>> {
        let holders = self
            .directory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(device)
            .cloned()?;
        let mut last = String::new();
        for peer in holders {
            match tokio::time::timeout(timeout, self.connect_through(&peer, device)).await {
                Ok(Ok(io)) => return Some(Ok(io)),
                Ok(Err(e)) => last = e,
                Err(_) => {
                    last = format!("device {device}: no stream through {peer} within {timeout:?}")
                }
            }
        }
        Some(Err(last))
    }

    async fn connect_through(&self, peer: &str, device: &str) -> Result<TokioIo<Upgraded>, String> {
        let mut sender = self.link(peer).await?;
        if sender.ready().await.is_err() {
            // The link ended (peer restarted, network): one new attempt.
            self.links.lock().await.remove(peer);
            sender = self.link(peer).await?;
            sender
                .ready()
                .await
                .map_err(|e| format!("device {device}: link to {peer}: {e}"))?;
        }
        let upgraded = connect_stream(&mut sender, device, &format!("instance {peer}")).await?;
        Ok(TokioIo::new(upgraded))
    }

    /// The link to `peer`, opened if there is none.
    async fn link(&self, peer: &str) -> Result<SendRequest<Empty<Bytes>>, String> {
        let mut links = self.links.lock().await;
        if let Some(sender) = links.get(peer).filter(|s| !s.is_closed()) {
            return Ok(sender.clone());
        }
        let sender = open_link(peer, &self.settings.cluster, self.tls.clone()).await?;
        links.insert(peer.to_owned(), sender.clone());
        Ok(sender)
    }
}

async fn open_link(
    peer: &str,
    cluster: &TunnelCluster,
    tls: Arc<rustls::ClientConfig>,
) -> Result<SendRequest<Empty<Bytes>>, String> {
    let tcp = tokio::net::TcpStream::connect(peer)
        .await
        .map_err(|e| format!("instance {peer}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let host = cluster.server_name.clone().unwrap_or_else(|| {
        peer.rsplit_once(':')
            .map_or(peer, |(h, _)| h)
            .trim_matches(['[', ']'])
            .to_owned()
    });
    let name = rustls::pki_types::ServerName::try_from(host.clone())
        .map_err(|e| format!("instance {peer}: server name {host:?}: {e}"))?;
    let mut stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("instance {peer}: TLS: {e}"))?;
    hello::write_line(&mut stream, &hello::format_peer_hello(&cluster.token))
        .await
        .map_err(|e| format!("instance {peer}: {e}"))?;
    let answer = hello::read_line(&mut stream)
        .await
        .map_err(|e| format!("instance {peer}: {e}"))?;
    if answer != "OK" {
        return Err(format!("instance {peer} refused this one: {answer}"));
    }
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(PING)
        .keep_alive_timeout(PING)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("instance {peer}: HTTP/2: {e}"))?;
    let peer = peer.to_owned();
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(%peer, error = %e, "tunnels cluster: link ended");
        }
    });
    Ok(sender)
}

/// The folder of `settings`' devices: `PREFIX/tunnels/`.
fn folder(etcd: &EtcdProvider) -> String {
    format!("{}/tunnels/", etcd.prefix)
}

/// Keeps this instance's entries equal to its devices, under its lease.
async fn publish(tunnels: Weak<Tunnels>, settings: Settings) {
    let mut outage = Outage::new(RETRY_MAX);
    loop {
        let error = publish_once(&tunnels, &settings, &mut outage).await;
        if outage.failed() {
            tracing::warn!(
                "tunnels cluster: cannot publish this instance's devices in etcd: {error}"
            );
        }
        outage.wait().await;
    }
}

async fn publish_once(tunnels: &Weak<Tunnels>, settings: &Settings, outage: &mut Outage) -> String {
    let mut client = match connect(&settings.etcd).await {
        Ok(c) => c,
        Err(e) => return e,
    };
    let mut lease = match lease(&mut client, LEASE_TTL).await {
        Ok(l) => l,
        Err(e) => return e,
    };
    outage.reached();
    let folder = folder(&settings.etcd);
    let me = &settings.cluster.advertise;
    let mut published: BTreeSet<String> = BTreeSet::new();
    loop {
        let Some(tunnels) = tunnels.upgrade() else {
            return "stopped".to_owned();
        };
        // Registered before reading the devices, so no change is missed.
        let changed = tunnels.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let devices = tunnels.devices();
        for device in devices.difference(&published) {
            let key = format!("{folder}{device}/{me}");
            let put = client.put(
                key,
                me.as_str(),
                Some(PutOptions::new().with_lease(lease.id)),
            );
            if let Err(e) = put.await {
                lease.revoke(&mut client).await;
                return format!("{device}: {e}");
            }
        }
        for device in published.difference(&devices) {
            if let Err(e) = client.delete(format!("{folder}{device}/{me}"), None).await {
                lease.revoke(&mut client).await;
                return format!("{device}: {e}");
            }
        }
        published = devices;
        tokio::select! {
            () = &mut changed => {}
            () = lease.lost() => return "the lease was lost".to_owned(),
        }
    }
}

/// Mirrors `PREFIX/tunnels/` into `directory`.
async fn follow(peers: Weak<Peers>) {
    let mut outage = Outage::new(RETRY_MAX);
    loop {
        let Some(settings) = peers.upgrade().map(|p| p.settings.clone()) else {
            return;
        };
        let error = follow_once(&peers, &settings, &mut outage).await;
        if outage.failed() {
            tracing::warn!(
                "tunnels cluster: cannot follow the other instances' devices in etcd: {error}"
            );
        }
        outage.wait().await;
    }
}

async fn follow_once(peers: &Weak<Peers>, settings: &Settings, outage: &mut Outage) -> String {
    let mut client = match connect(&settings.etcd).await {
        Ok(c) => c,
        Err(e) => return e,
    };
    let folder = folder(&settings.etcd);
    let revision = match sync(peers, settings, &mut client, &folder).await {
        Ok(r) => r,
        Err(e) => return e,
    };
    outage.reached();
    let mut stream = match watch_prefix(&mut client, &folder, revision).await {
        Ok(s) => s,
        Err(e) => return e,
    };
    loop {
        if let Err(e) = next_change(&mut stream).await {
            return e;
        }
        if let Err(e) = sync(peers, settings, &mut client, &folder).await {
            return e;
        }
    }
}

async fn sync(
    peers: &Weak<Peers>,
    settings: &Settings,
    client: &mut Client,
    folder: &str,
) -> Result<i64, String> {
    let (pairs, revision) = get_prefix(client, folder).await?;
    let me = &settings.cluster.advertise;
    let mut directory: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in pairs {
        let (Ok(key), Ok(holder)) = (String::from_utf8(key), String::from_utf8(value)) else {
            continue;
        };
        let Some((device, _)) = key.strip_prefix(folder).and_then(|r| r.split_once('/')) else {
            continue;
        };
        if holder != *me && crate::config::model::valid_device_name(device) {
            directory.entry(device.to_owned()).or_default().push(holder);
        }
    }
    let Some(peers) = peers.upgrade() else {
        return Err("stopped".to_owned());
    };
    *peers.directory.lock().unwrap_or_else(|p| p.into_inner()) = directory;
    Ok(revision)
}
