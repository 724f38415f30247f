//! The manager task: started with the first config that has `[acme]`
//! (`apply`, called by the reloader after every applied config), it keeps
//! every wanted certificate valid: the stored one while more than
//! `renewBefore` remains, a new order otherwise; failures retried with
//! exponential backoff while installed certificates keep being served.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::cluster::{self, Cluster, Held};
use super::issue;
use super::plan::Plan;
use super::state::AcmeState;
use super::storage::Storage;
use crate::backoff::Backoff;
use crate::config::Config;
use crate::tls::store::CertInfo;

/// Take the `[acme]` part of an applied config: start the manager on
/// first use, tell it when what it must obtain changes. Needs a tokio
/// runtime.
pub fn apply(state: &Arc<AcmeState>, config: &Config) {
    let plan = Plan::from_config(config).map(Arc::new);
    let changed = state.plan.send_if_modified(|current| {
        let same = match (current.as_deref(), plan.as_deref()) {
            (Some(a), Some(b)) => a == b,
            (None, None) => true,
            _ => false,
        };
        if !same {
            *current = plan.clone();
        }
        !same
    });
    if changed && plan.is_some() {
        let mut started = state.started.lock().unwrap_or_else(|p| p.into_inner());
        if !*started {
            *started = true;
            let state = state.clone();
            let rx = state.plan.subscribe();
            tokio::spawn(async move { manager(state, rx).await });
        }
    }
}

const MIN_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How often to look for certificates to renew when all is well.
const CHECK_EVERY: Duration = Duration::from_secs(3600);

async fn manager(state: Arc<AcmeState>, mut rx: watch::Receiver<Option<Arc<Plan>>>) {
    let mut backoff = Backoff::new(MIN_BACKOFF, MAX_BACKOFF);
    // In a cluster: the task installing what other instances store.
    let mut follower: Option<(Cluster, tokio::task::JoinHandle<()>)> = None;
    loop {
        let plan = rx.borrow_and_update().clone();
        let wanted = plan.as_ref().and_then(|p| p.cluster.clone());
        if follower.as_ref().map(|(c, _)| c) != wanted.as_ref() {
            if let Some((_, task)) = follower.take() {
                task.abort();
            }
            follower = wanted.map(|c| (c.clone(), cluster::follow(state.clone(), c)));
        }
        let wait = match plan {
            None => None,
            // Boxed: an order's future is large and this is no hot path.
            Some(plan) => match Box::pin(run_once(&state, &plan)).await {
                Ok(Outcome::Busy) => {
                    tracing::info!("acme: another instance holds the ordering lock; its certificates are installed as it stores them");
                    Some(MIN_BACKOFF)
                }
                Ok(Outcome::Done) => {
                    backoff.reset();
                    Some(
                        CHECK_EVERY
                            .min(plan.config.renew_before / 2)
                            .max(MIN_BACKOFF),
                    )
                }
                Err(e) => {
                    let wait = backoff.next_wait();
                    tracing::error!(
                        retry_in_secs = wait.as_secs(),
                        "acme: {e}; certificates already installed keep being served"
                    );
                    Some(wait)
                }
            },
        };
        let changed = async {
            match wait {
                Some(d) => tokio::select! {
                    r = rx.changed() => r.is_ok(),
                    _ = tokio::time::sleep(d) => true,
                },
                None => rx.changed().await.is_ok(),
            }
        };
        if !changed.await {
            return;
        }
    }
}

/// What a check ended with, when it did not fail.
enum Outcome {
    Done,
    /// In a cluster, another instance is ordering: check again soon.
    Busy,
}

/// Where the account and certificates are kept: the storage file, or an
/// etcd key shared by the instances of a cluster.
enum Store<'p> {
    File(&'p Path),
    Etcd(&'p Cluster),
}

impl Store<'_> {
    fn label(&self) -> &Path {
        match self {
            Store::File(path) => path,
            Store::Etcd(c) => Path::new(&c.key),
        }
    }

    async fn load(&self) -> Result<Storage, String> {
        match self {
            Store::File(path) => {
                let path = path.to_path_buf();
                tokio::task::spawn_blocking(move || Storage::load(&path))
                    .await
                    .map_err(|e| e.to_string())?
            }
            Store::Etcd(c) => c.load().await,
        }
    }

    async fn save(&self, storage: &Storage) -> Result<(), String> {
        match self {
            Store::File(path) => save(storage, path).await,
            Store::Etcd(c) => c.save(storage).await,
        }
    }
}

/// The certificates of `plan` that `storage` lacks or that expire within
/// `renewBefore`.
fn due(plan: &Plan, storage: &Storage) -> Vec<Vec<String>> {
    let renew_before = plan.config.renew_before.as_secs() as i64;
    plan.certificates
        .iter()
        .filter(|names| {
            let current = storage.certificates.iter().find_map(|c| {
                let info: CertInfo = issue::load_stored(c).ok()?.1;
                names
                    .iter()
                    .all(|n| info.names.iter().any(|m| m == n))
                    .then_some(info)
            });
            match current {
                None => true,
                Some(info) => info.remaining_secs() < renew_before,
            }
        })
        .cloned()
        .collect()
}

/// Load storage, install it, order what is missing or expiring (in a
/// cluster, under the ordering lock, after reading storage again).
async fn run_once(state: &Arc<AcmeState>, plan: &Plan) -> Result<Outcome, String> {
    let config = &plan.config;
    let store = match &plan.cluster {
        Some(c) => Store::Etcd(c),
        None => Store::File(&config.storage),
    };
    let path = store.label().to_path_buf();
    let mut storage = store.load().await?;
    state.install(&storage, &path);
    if let Some(origin) = storage.from_traefik {
        state.note_traefik(&path, origin, storage.certificates.len());
    }

    let mut due = due(plan, &storage);
    if due.is_empty() {
        tracing::debug!(storage = %path.display(), "acme: every certificate is current");
        return Ok(Outcome::Done);
    }
    if config.http_challenge.is_none() && !config.tls_challenge && config.dns_challenge.is_none() {
        return Err(format!(
            "certificates needed for {due:?}, but none of [acme.httpChallenge], [acme.tlsChallenge], [acme.dnsChallenge] is configured"
        ));
    }
    if config.dns_challenge.is_none() {
        if let Some(wild) = due.iter().flatten().find(|n| n.starts_with("*.")) {
            return Err(format!(
                "{wild}: a wildcard name can only be validated with [acme.dnsChallenge]"
            ));
        }
    }
    let held = match &plan.cluster {
        None => None,
        Some(cluster) => match cluster.lock().await? {
            None => return Ok(Outcome::Busy),
            Some(held) => Some(held),
        },
    };
    let result = order(state, plan, &store, &mut storage, &mut due, held.as_ref()).await;
    if let Some(held) = held {
        held.release().await;
    }
    result.map(|()| Outcome::Done)
}

/// With the lock held (in a cluster): read storage again, since another
/// instance may have stored what was due meanwhile; then order.
async fn order(
    state: &Arc<AcmeState>,
    plan: &Plan,
    store: &Store<'_>,
    storage: &mut Storage,
    due: &mut Vec<Vec<String>>,
    held: Option<&Held>,
) -> Result<(), String> {
    let config = &plan.config;
    let path = store.label().to_path_buf();
    let renew_before = config.renew_before.as_secs() as i64;
    if held.is_some() {
        *storage = store.load().await?;
        state.install(storage, &path);
        *due = self::due(plan, storage);
        if due.is_empty() {
            return Ok(());
        }
    }
    let board = held.map(|h| h as &dyn super::challenges::Publish);
    let (account, created) = issue::account(config, storage.account.as_ref()).await?;
    if let Some(created) = created {
        storage.account = Some(created);
        store.save(storage).await?;
        tracing::info!(ca = %config.ca_server, "acme: account created");
    }
    let orders = due.iter().map(|names| {
        let account = &account;
        async move {
            if config.acme_logging {
                tracing::info!(domains = ?names, "acme: ordering a certificate");
            }
            (
                names,
                issue::issue(&state.challenges, board, config, account, names).await,
            )
        }
    });
    let results = futures_util::future::join_all(orders).await;
    let mut errors = Vec::new();
    let mut obtained = Vec::new();
    for (names, result) in results {
        match result {
            Ok(cert) => {
                let lifetime = issue::load_stored(&cert).map(|(_, i)| i.remaining_secs());
                if lifetime.is_ok_and(|secs| secs < renew_before) {
                    tracing::warn!(
                        domains = ?names,
                        "acme: renewBefore is longer than the certificate's lifetime: it will be renewed again at the next check"
                    );
                }
                storage.upsert(cert);
                obtained.push(names);
            }
            Err(e) => errors.push(format!("{names:?}: {e}")),
        }
    }
    // Installed first, then saved: a storage write failure must not keep a
    // fresh certificate from being served.
    state.install(storage, &path);
    let saved = store.save(storage).await;
    for names in obtained {
        tracing::info!(domains = ?names, "acme: certificate obtained");
    }
    saved?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "could not obtain certificates: {}",
            errors.join("; ")
        ))
    }
}

async fn save(storage: &Storage, path: &std::path::Path) -> Result<(), String> {
    let storage = storage.clone();
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || storage.save(&path))
        .await
        .map_err(|e| e.to_string())?
}
