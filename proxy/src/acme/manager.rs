//! The manager task: started with the first config that has `[acme]`
//! (`apply`, called by the reloader after every applied config), it keeps
//! every wanted certificate valid: the stored one while more than
//! `renewBefore` remains, a new order otherwise; failures retried with
//! exponential backoff while installed certificates keep being served.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::issue;
use super::plan::Plan;
use super::state::AcmeState;
use super::storage::Storage;
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
    let mut failures: u32 = 0;
    loop {
        let plan = rx.borrow_and_update().clone();
        let wait = match plan {
            None => None,
            Some(plan) => match run_once(&state, &plan).await {
                Ok(()) => {
                    failures = 0;
                    Some(
                        CHECK_EVERY
                            .min(plan.config.renew_before / 2)
                            .max(MIN_BACKOFF),
                    )
                }
                Err(e) => {
                    let backoff = MIN_BACKOFF
                        .saturating_mul(1 << failures.min(10))
                        .min(MAX_BACKOFF);
                    failures += 1;
                    tracing::error!(
                        retry_in_secs = backoff.as_secs(),
                        "acme: {e}; certificates already installed keep being served"
                    );
                    Some(backoff)
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

/// Load storage, install it, order what is missing or expiring.
async fn run_once(state: &Arc<AcmeState>, plan: &Plan) -> Result<(), String> {
    let config = &plan.config;
    let path = config.storage.clone();
    let mut storage = tokio::task::spawn_blocking({
        let path = path.clone();
        move || Storage::load(&path)
    })
    .await
    .map_err(|e| e.to_string())??;
    state.install(&storage, &path);
    if let Some(origin) = storage.from_traefik {
        state.note_traefik(&path, origin, storage.certificates.len());
    }

    let renew_before = config.renew_before.as_secs() as i64;
    let due: Vec<Vec<String>> = plan
        .certificates
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
        .collect();
    if due.is_empty() {
        tracing::debug!(storage = %path.display(), "acme: every certificate is current");
        return Ok(());
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
    let (account, created) = issue::account(config, storage.account.as_ref()).await?;
    if let Some(created) = created {
        storage.account = Some(created);
        save(&storage, &path).await?;
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
                issue::issue(&state.challenges, config, account, names).await,
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
    state.install(&storage, &path);
    let saved = save(&storage, &path).await;
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
