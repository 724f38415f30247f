//! The `[etcd]` provider at run time: fetch the keys under the prefix,
//! follow them with etcd's watch API, and reload with each new set (the
//! same all-or-nothing reload as a file change; a bad key is refused with
//! its name and the running config stays).
//!
//! etcd down or partitioned away is not a reason to stop serving: the
//! instance keeps its last applied config (and certificates), says once
//! that etcd is unreachable, retries, and on the way back fetches the whole
//! prefix again, so a change made meanwhile arrives. A member that lost its
//! quorum refuses to answer (`require_leader`), so a partitioned instance
//! never reads a stale minority's keys as new.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, GetOptions, Identity, TlsOptions};
use etcd_client::{WatchOptions, WatchResponse};
use tokio::task::JoinHandle;

use crate::config::model::EtcdProvider;
use crate::config::KvKeys;

use super::Reloader;

/// How long a fetch may take before etcd counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// HTTP/2 pings on the gRPC connection: a peer that vanished without a
/// FIN (a partition, a pulled cable) is noticed within about this long.
const KEEPALIVE: Duration = Duration::from_secs(2);
/// Changes are written key by key: after an event, wait this long for the
/// rest of a burst, so one edit of several keys is one reload.
const SETTLE: Duration = Duration::from_millis(100);
/// Retry delays while etcd is unreachable: doubling, capped.
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// How the store is named in config messages (`etcd: /traefik/...: ...`).
const LABEL: &str = "etcd";

/// Follows the `[etcd]` section of whatever config is applied: starts when
/// one appears, restarts when its settings change, stops when it goes.
pub fn spawn(reloader: Arc<Reloader>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut applied = reloader.subscribe();
        loop {
            let settings = reloader.current_config().etcd.clone();
            match settings {
                None => {
                    if reloader.kv().is_some() {
                        reloader.set_kv(None);
                        let _ = reloader.reload("etcd section removed").await;
                    }
                }
                Some(settings) => {
                    let mut follower = Follower::new(reloader.clone(), settings.clone());
                    tokio::select! {
                        _ = follower.run() => {}
                        _ = settings_change(&mut applied, &reloader, &settings) => {}
                    }
                    continue;
                }
            }
            if applied.changed().await.is_err() {
                return;
            }
        }
    })
}

/// Resolves when an applied config's `[etcd]` differs from `settings`.
async fn settings_change(
    applied: &mut tokio::sync::watch::Receiver<Arc<crate::config::Config>>,
    reloader: &Reloader,
    settings: &EtcdProvider,
) {
    loop {
        if applied.changed().await.is_err() {
            return std::future::pending().await;
        }
        if reloader.current_config().etcd.as_ref() != Some(settings) {
            return;
        }
    }
}

/// The keys at start, before anything listens, so that the first config
/// served already has them. `None` when etcd does not answer in time: the
/// instance starts with its file alone and catches up when it does.
pub async fn initial_keys(settings: &EtcdProvider) -> Option<KvKeys> {
    let fetched = async {
        let mut client = connect(settings).await?;
        fetch(&mut client, settings).await
    };
    match tokio::time::timeout(REQUEST_TIMEOUT * 2, fetched).await {
        Ok(Ok((keys, _))) => Some(keys),
        Ok(Err(e)) => {
            tracing::error!(endpoints = ?settings.endpoints, "etcd unreachable at start, serving the file's configuration until it answers: {e}");
            None
        }
        Err(_) => {
            tracing::error!(endpoints = ?settings.endpoints, "etcd unreachable at start (no answer), serving the file's configuration until it answers");
            None
        }
    }
}

struct Follower {
    reloader: Arc<Reloader>,
    settings: EtcdProvider,
    /// Set while etcd is unreachable, so that an outage is logged once.
    down_since: Option<tokio::time::Instant>,
}

impl Follower {
    fn new(reloader: Arc<Reloader>, settings: EtcdProvider) -> Follower {
        Follower {
            reloader,
            settings,
            down_since: None,
        }
    }

    async fn run(&mut self) {
        let mut delay = RETRY_FIRST;
        loop {
            let error = self.session().await;
            if self.down_since.is_none() {
                self.down_since = Some(tokio::time::Instant::now());
                delay = RETRY_FIRST;
                tracing::warn!(endpoints = ?self.settings.endpoints, "etcd unreachable, still serving the last configuration: {error}");
            } else {
                tracing::debug!("etcd still unreachable: {error}");
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RETRY_MAX);
        }
    }

    /// One connection's life: fetch, apply, then follow until it fails.
    /// Returns why it ended.
    async fn session(&mut self) -> String {
        let mut client = match connect(&self.settings).await {
            Ok(c) => c,
            Err(e) => return e,
        };
        let revision = match self.catch_up(&mut client).await {
            Ok(r) => r,
            Err(e) => return e,
        };
        if !self.settings.watch {
            // Read once; a reload of the file (which may change these
            // settings and restart this) is the next chance to read again.
            return std::future::pending().await;
        }
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(revision + 1)
            .with_progress_notify();
        let mut stream = match client.watch(watch_key(&self.settings), Some(options)).await {
            Ok(s) => s,
            Err(e) => return format!("watch: {e}"),
        };
        loop {
            let first = match stream.message().await {
                Ok(Some(m)) => m,
                Ok(None) => return "the watch stream ended".to_owned(),
                Err(e) => return format!("watch: {e}"),
            };
            if let Some(why) = cancelled(&first) {
                return why;
            }
            if first.events().is_empty() {
                continue; // created, or a progress notification
            }
            // Let the rest of a burst arrive, then read the prefix whole:
            // one reload per edit, and never half an edit's keys.
            let settle = tokio::time::sleep(SETTLE);
            tokio::pin!(settle);
            loop {
                tokio::select! {
                    _ = &mut settle => break,
                    more = stream.message() => match more {
                        Ok(Some(m)) => if let Some(why) = cancelled(&m) { return why },
                        Ok(None) => return "the watch stream ended".to_owned(),
                        Err(e) => return format!("watch: {e}"),
                    },
                }
            }
            if let Err(e) = self.catch_up(&mut client).await {
                return e;
            }
        }
    }

    /// Fetches the prefix and reloads if the keys differ from those of the
    /// running config. Returns the store's revision it read at.
    async fn catch_up(&mut self, client: &mut Client) -> Result<i64, String> {
        let (keys, revision) = fetch(client, &self.settings).await?;
        if let Some(since) = self.down_since.take() {
            tracing::info!(
                down_for = ?since.elapsed(),
                keys = keys.pairs.len(),
                "etcd reachable again, catching up"
            );
        }
        if self.reloader.kv().as_deref() != Some(&keys) {
            self.reloader.set_kv(Some(keys));
            // A refused config is logged and recorded by `reload`; the
            // running one stays, and the next change is read as usual.
            let _ = self.reloader.reload("etcd").await;
        }
        Ok(revision)
    }
}

fn cancelled(m: &WatchResponse) -> Option<String> {
    m.canceled().then(|| {
        if m.compact_revision() > 0 {
            format!(
                "watch cancelled: history compacted at {}",
                m.compact_revision()
            )
        } else {
            format!("watch cancelled: {}", m.cancel_reason())
        }
    })
}

/// The keys watched and fetched: `PREFIX/` and below (not `PREFIXother`).
fn watch_key(settings: &EtcdProvider) -> String {
    format!("{}/", settings.prefix)
}

async fn connect(settings: &EtcdProvider) -> Result<Client, String> {
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

async fn fetch(client: &mut Client, settings: &EtcdProvider) -> Result<(KvKeys, i64), String> {
    let response = client
        .get(watch_key(settings), Some(GetOptions::new().with_prefix()))
        .await
        .map_err(|e| format!("read {}/: {e}", settings.prefix))?;
    let revision = response.header().map_or(0, |h| h.revision());
    let pairs = response
        .kvs()
        .iter()
        .map(|kv| (kv.key().to_vec(), kv.value().to_vec()))
        .collect();
    Ok((
        KvKeys {
            label: LABEL.to_owned(),
            prefix: settings.prefix.clone(),
            pairs,
        },
        revision,
    ))
}
