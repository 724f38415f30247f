//! The etcd client every clustered part shares: how to connect (TLS,
//! credentials, timeouts that notice a vanished member) and the requests
//! they all make, a lease kept alive, and how a failed session is retried.
//! `reload::etcd` follows the configuration's keys with it;
//! `acme::cluster` keeps the ACME account and certificates, its lock and
//! its challenges in etcd; `tunnel::peers` which instance holds which
//! device.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use etcd_client::{
    Certificate, Client, ConnectOptions, GetOptions, Identity, TlsOptions, WatchOptions,
    WatchStream,
};

use crate::backoff::Backoff;
use crate::config::model::EtcdProvider;

/// How long a request may take before etcd counts as unreachable.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// HTTP/2 pings on the gRPC connection: a peer that vanished without a
/// FIN (a partition, a pulled cable) is noticed within about this long.
const KEEPALIVE: Duration = Duration::from_secs(2);

/// A client for `settings`' members. Lazy: an etcd that is down is
/// noticed at the first request, within `REQUEST_TIMEOUT`.
pub async fn connect(settings: &EtcdProvider) -> Result<Client, String> {
    let mut options = ConnectOptions::new()
        .with_connect_timeout(REQUEST_TIMEOUT)
        .with_timeout(REQUEST_TIMEOUT)
        .with_keep_alive(KEEPALIVE, KEEPALIVE)
        .with_keep_alive_while_idle(true)
        .with_require_leader(true);
    if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
        options = options.with_user(user.clone(), password.clone());
    }
    let mut endpoints = settings.endpoints.clone();
    if let Some(tls) = &settings.tls {
        let mut config = TlsOptions::new();
        config = match &tls.ca {
            Some(ca) => config.ca_certificate(Certificate::from_pem(crate::tls::pem::read(ca)?)),
            None => config.ca_certificates(system_roots()),
        };
        if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
            config = config.identity(Identity::from_pem(
                crate::tls::pem::read(cert)?,
                crate::tls::pem::read(key)?,
            ));
        }
        options = options.with_tls(config);
        // TLS options need https URLs; 1.7 wrote bare host:port.
        for e in &mut endpoints {
            if !e.starts_with("https://") {
                let bare = e.strip_prefix("http://").unwrap_or(e);
                *e = format!("https://{bare}");
            }
        }
    }
    Client::connect(&endpoints, Some(options))
        .await
        .map_err(|e| format!("connect: {e}"))
}

/// The system's trust store, for `[etcd.tls]` without `ca` (as Traefik).
fn system_roots() -> Vec<Certificate> {
    use base64::Engine;
    let found = rustls_native_certs::load_native_certs();
    found
        .certs
        .iter()
        .map(|der| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
            let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
            for line in b64.as_bytes().chunks(64) {
                pem.push_str(std::str::from_utf8(line).unwrap_or_default());
                pem.push('\n');
            }
            pem.push_str("-----END CERTIFICATE-----\n");
            Certificate::from_pem(pem)
        })
        .collect()
}

/// Every key under `prefix` (which should end in `/`) and its value, in
/// key order, with the store's revision they were read at.
pub async fn get_prefix(
    client: &mut Client,
    prefix: &str,
) -> Result<(Vec<(Vec<u8>, Vec<u8>)>, i64), String> {
    let response = client
        .get(prefix, Some(GetOptions::new().with_prefix()))
        .await
        .map_err(|e| format!("read {prefix}: {e}"))?;
    let revision = response.header().map_or(0, |h| h.revision());
    let pairs = response
        .kvs()
        .iter()
        .map(|kv| (kv.key().to_vec(), kv.value().to_vec()))
        .collect();
    Ok((pairs, revision))
}

/// A watch of `prefix` and every key below it, from the revision after
/// `revision` (the one a `get_prefix` read at), so no change in between is
/// missed. Progress notifications keep an idle watch's connection checked.
pub async fn watch_prefix(
    client: &mut Client,
    prefix: &str,
    revision: i64,
) -> Result<WatchStream, String> {
    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(revision + 1)
        .with_progress_notify();
    client
        .watch(prefix, Some(options))
        .await
        .map_err(|e| format!("watch {prefix}: {e}"))
}

/// Waits for the next change on `stream` (its created and progress
/// messages skipped); an error says why the watch ended (cancelled,
/// history compacted, connection lost), and the caller then reads the
/// prefix whole again.
pub async fn next_change(stream: &mut WatchStream) -> Result<(), String> {
    loop {
        let message = match stream.message().await {
            Ok(Some(m)) => m,
            Ok(None) => return Err("the watch stream ended".to_owned()),
            Err(e) => return Err(format!("watch: {e}")),
        };
        if message.canceled() {
            return Err(if message.compact_revision() > 0 {
                format!(
                    "watch cancelled: history compacted at {}",
                    message.compact_revision()
                )
            } else {
                format!("watch cancelled: {}", message.cancel_reason())
            });
        }
        if !message.events().is_empty() {
            return Ok(());
        }
    }
}

/// A lease, renewed by a task of its own at a third of its time to live
/// until the `Lease` is dropped (etcd then lets it expire) or revoked.
pub struct Lease {
    pub id: i64,
    /// Ends when etcd stops renewing the lease.
    renewal: JoinHandle<()>,
}

/// Grants a lease of `ttl` seconds and keeps it alive.
pub async fn lease(client: &mut Client, ttl: i64) -> Result<Lease, String> {
    let id = client
        .lease_grant(ttl, None)
        .await
        .map_err(|e| format!("etcd lease: {e}"))?
        .id();
    let (mut keeper, mut replies) = client
        .lease_keep_alive(id)
        .await
        .map_err(|e| format!("etcd lease: {e}"))?;
    let renewal = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs((ttl / 3).max(1) as u64));
        loop {
            every.tick().await;
            let renewed = keeper.keep_alive().await.is_ok()
                && matches!(replies.message().await, Ok(Some(r)) if r.ttl() > 0);
            if !renewed {
                return;
            }
        }
    });
    Ok(Lease { id, renewal })
}

impl Lease {
    /// Resolves when etcd no longer renews the lease (it expired, or etcd
    /// is gone); await it once.
    pub async fn lost(&mut self) {
        let _ = (&mut self.renewal).await;
    }

    /// Ends the lease now (its keys go with it).
    pub async fn revoke(self, client: &mut Client) {
        let _ = client.lease_revoke(self.id).await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

/// Retrying a session with etcd that failed: delays doubling from
/// `RETRY_FIRST` up to a cap (`Backoff`), and which failure begins an
/// outage (said once) and which session ends it.
pub struct Outage {
    backoff: Backoff,
    since: Option<Instant>,
}

const RETRY_FIRST: Duration = Duration::from_millis(200);

impl Outage {
    pub fn new(max: Duration) -> Outage {
        Outage {
            backoff: Backoff::new(RETRY_FIRST, max),
            since: None,
        }
    }

    /// A session ended: true when this begins an outage (log it then).
    pub fn failed(&mut self) -> bool {
        let begins = self.since.is_none();
        if begins {
            self.since = Some(Instant::now());
            self.backoff.reset();
        }
        begins
    }

    /// Waits before the next attempt, longer each time.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.backoff.next_wait()).await;
    }

    /// etcd answered: how long it had been unreachable, if it had been.
    pub fn reached(&mut self) -> Option<Duration> {
        self.since.take().map(|since| since.elapsed())
    }
}
