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

use etcd_client::Client;
use tokio::task::JoinHandle;

use crate::cluster::etcd::{self as store, connect, next_change, watch_prefix, Outage};
use crate::config::model::EtcdProvider;
use crate::config::KvKeys;

use super::Reloader;

/// Changes are written key by key: after an event, wait this long for the
/// rest of a burst, so one edit of several keys is one reload.
const SETTLE: Duration = Duration::from_millis(100);
/// The longest wait between attempts while etcd is unreachable.
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
            reloader.shared().etcd.reset(
                settings
                    .as_ref()
                    .map(|s| (&s.endpoints[..], s.prefix.as_str())),
            );
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
    match tokio::time::timeout(store::REQUEST_TIMEOUT * 2, fetched).await {
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
    /// While etcd is unreachable: logged once, retried with backoff.
    outage: Outage,
}

impl Follower {
    fn new(reloader: Arc<Reloader>, settings: EtcdProvider) -> Follower {
        Follower {
            reloader,
            settings,
            outage: Outage::new(RETRY_MAX),
        }
    }

    async fn run(&mut self) {
        loop {
            let error = self.session().await;
            self.reloader.shared().etcd.lost(&error);
            if self.outage.failed() {
                tracing::warn!(endpoints = ?self.settings.endpoints, "etcd unreachable, still serving the last configuration: {error}");
            } else {
                tracing::debug!("etcd still unreachable: {error}");
            }
            self.outage.wait().await;
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
        let mut stream = match watch_prefix(&mut client, &watch_key(&self.settings), revision).await
        {
            Ok(s) => s,
            Err(e) => return e,
        };
        loop {
            if let Err(e) = next_change(&mut stream).await {
                return e;
            }
            // Let the rest of a burst arrive, then read the prefix whole:
            // one reload per edit, and never half an edit's keys.
            let settle = tokio::time::sleep(SETTLE);
            tokio::pin!(settle);
            loop {
                tokio::select! {
                    _ = &mut settle => break,
                    more = next_change(&mut stream) => if let Err(e) = more { return e },
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
        self.reloader.shared().etcd.read(keys.pairs.len(), revision);
        if let Some(down_for) = self.outage.reached() {
            tracing::info!(
                ?down_for,
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

/// The keys watched and fetched: `PREFIX/` and below (not `PREFIXother`).
fn watch_key(settings: &EtcdProvider) -> String {
    format!("{}/", settings.prefix)
}

/// The keys of the configuration: under the prefix, or, when the prefix
/// has an `alias` key, under the prefix it names (Traefik 1.7's atomic
/// switch: write a whole new configuration elsewhere, then point `alias`
/// at it). As in 1.7, only the prefix is watched, so changes under an
/// alias's target are seen when `alias` itself changes.
async fn fetch(client: &mut Client, settings: &EtcdProvider) -> Result<(KvKeys, i64), String> {
    let (pairs, revision) = store::get_prefix(client, &watch_key(settings)).await?;
    let alias = format!("{}/alias", settings.prefix);
    let target = pairs
        .iter()
        .find(|(k, _)| *k == alias.as_bytes())
        .map(|(_, v)| {
            String::from_utf8_lossy(v)
                .trim()
                .trim_end_matches('/')
                .to_owned()
        });
    let (prefix, pairs) = match target {
        Some(target) if !target.is_empty() => {
            let (pairs, _) = store::get_prefix(client, &format!("{target}/")).await?;
            (target, pairs)
        }
        _ => (settings.prefix.clone(), pairs),
    };
    Ok((
        KvKeys {
            label: LABEL.to_owned(),
            prefix,
            provider: settings.prefix.clone(),
            pairs,
        },
        revision,
    ))
}
