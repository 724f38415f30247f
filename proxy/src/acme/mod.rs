//! ACME (RFC 8555) certificates, as Traefik 1.7's `[acme]` section.
//!
//! - `storage`: the JSON storage file (account + certificates, mode 0600).
//! - `issue`: one order with instant-acme (HTTP-01 or TLS-ALPN-01), CSR by rcgen.
//! - here: `AcmeState`, shared by the whole process (it lives in
//!   `runtime::Shared`, so it survives reloads): the issued certificates,
//!   which every TLS entrypoint's `SniResolver` consults after its configured
//!   ones, the HTTP-01 tokens answered by `server.rs` before redirects and
//!   plugins, and the TLS-ALPN-01 certificates answered in the handshake;
//!   and the manager task.
//!
//! The manager starts with the first config that has `[acme]` (the Reloader
//! calls `AcmeState::apply` after every applied config). For every wanted
//! certificate (`[[acme.domains]]`, and with `onHostRule` each frontend's
//! `Host:` names) it uses the stored certificate while more than
//! `renewBefore` (30 days) remains, and orders a new one otherwise. Orders
//! run concurrently; an issued certificate is stored and installed at once.
//! Failures are logged and retried with exponential backoff (5 s up to
//! 1 hour); certificates already installed keep being served meanwhile.
//!
//! `storage` may also be a Traefik 1.7 `acme.json` (`traefik.rs`): its
//! certificates are served and renewed like tollgate's own. Its account is
//! not reused (instant-acme needs its own credentials, Traefik's key is
//! RSA), so a new account is registered at the first order, and the file is
//! rewritten in tollgate's format then, the certificates kept.

pub mod issue;
pub mod storage;
pub mod traefik;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::sign::CertifiedKey;
use tokio::sync::watch;

use crate::config::model::AcmeConfig;
use crate::config::Config;
use crate::tls::store::{CertInfo, CertStore};
use storage::Storage;

/// What the manager should obtain.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub config: AcmeConfig,
    /// One certificate per entry, the first name its main domain.
    pub certificates: Vec<Vec<String>>,
}

impl Plan {
    pub fn from_config(config: &Config) -> Option<Plan> {
        let acme = config.acme.clone()?;
        let mut certificates: Vec<Vec<String>> = Vec::new();
        let mut push = |names: Vec<String>| {
            let names: Vec<String> = names
                .into_iter()
                .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
                .filter(|n| !n.is_empty())
                .collect();
            if !names.is_empty() && !certificates.contains(&names) {
                certificates.push(names);
            }
        };
        for d in &acme.domains {
            push(d.clone());
        }
        if acme.on_host_rule {
            for f in config.frontends.values() {
                let rules: Vec<String> = f.routes.iter().map(|r| r.rule.clone()).collect();
                let hosts = crate::router::rule_hosts(&rules);
                // Names an explicit [[acme.domains]] already covers are left out.
                let hosts: Vec<String> = hosts
                    .into_iter()
                    .filter(|h| !acme.domains.iter().flatten().any(|d| d == h))
                    .collect();
                push(hosts);
            }
        }
        Some(Plan {
            config: acme,
            certificates,
        })
    }
}

pub struct AcmeState {
    /// Certificates obtained by ACME (or loaded from storage).
    pub certs: ArcSwap<CertStore>,
    /// HTTP-01: token → key authorization.
    http_tokens: ArcSwap<HashMap<String, String>>,
    /// TLS-ALPN-01: domain → challenge certificate.
    alpn: ArcSwap<HashMap<String, Arc<CertifiedKey>>>,
    plan: watch::Sender<Option<Arc<Plan>>>,
    started: Mutex<bool>,
    /// The Traefik storage file last announced in the log (once, not at
    /// every check).
    traefik_noted: Mutex<Option<std::path::PathBuf>>,
}

impl std::fmt::Debug for AcmeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeState").finish_non_exhaustive()
    }
}

impl Default for AcmeState {
    fn default() -> Self {
        AcmeState {
            certs: ArcSwap::from_pointee(CertStore::default()),
            http_tokens: ArcSwap::from_pointee(HashMap::new()),
            alpn: ArcSwap::from_pointee(HashMap::new()),
            plan: watch::channel(None).0,
            started: Mutex::new(false),
            traefik_noted: Mutex::new(None),
        }
    }
}

impl AcmeState {
    /// The key authorization for an HTTP-01 token, while its order runs,
    /// on the `[acme.httpChallenge]` entrypoint only.
    pub fn http01(&self, entrypoint: &str, token: &str) -> Option<String> {
        let key_auth = self.http_tokens.load().get(token).cloned()?;
        let plan = self.plan.borrow();
        let on_challenge_ep = plan
            .as_ref()
            .and_then(|p| p.config.http_challenge.as_deref())
            == Some(entrypoint);
        on_challenge_ep.then_some(key_auth)
    }

    /// The TLS-ALPN-01 certificate for `name`, while its order runs.
    pub fn tls_alpn01(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        self.alpn.load().get(name).cloned()
    }

    fn put_token(&self, token: &str, key_auth: &str) {
        self.http_tokens.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.insert(token.to_string(), key_auth.to_string());
            m
        });
    }

    fn drop_token(&self, token: &str) {
        self.http_tokens.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.remove(token);
            m
        });
    }

    fn put_alpn(&self, name: &str, cert: Arc<CertifiedKey>) {
        self.alpn.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.insert(name.to_string(), cert.clone());
            m
        });
    }

    fn drop_alpn(&self, name: &str) {
        self.alpn.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.remove(name);
            m
        });
    }

    /// Take the `[acme]` part of an applied config: start the manager on
    /// first use, tell it when what it must obtain changes. Needs a tokio
    /// runtime.
    pub fn apply(self: &Arc<Self>, config: &Config) {
        let plan = Plan::from_config(config).map(Arc::new);
        let changed = self.plan.send_if_modified(|current| {
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
            let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
            if !*started {
                *started = true;
                let state = self.clone();
                let rx = self.plan.subscribe();
                tokio::spawn(async move { manager(state, rx).await });
            }
        }
    }

    fn note_traefik(&self, path: &std::path::Path, origin: storage::TraefikOrigin, certs: usize) {
        let mut noted = self.traefik_noted.lock().unwrap_or_else(|p| p.into_inner());
        if noted.as_deref() == Some(path) {
            return;
        }
        *noted = Some(path.to_path_buf());
        let account = if origin.had_account {
            "its account is not reused (tollgate needs its own ACME credentials): a new one is registered at the first order"
        } else {
            "an account is registered at the first order"
        };
        tracing::info!(
            storage = %path.display(),
            certificates = certs,
            "acme: the storage file is a Traefik acme.json: its certificates are served and renewed; {account}, and the file is then rewritten in tollgate's format, certificates kept"
        );
    }

    /// Install the stored certificates (valid ones) as the served set.
    /// `path` names the storage file in the warnings for the others.
    fn install(&self, storage: &Storage, path: &std::path::Path) {
        let mut store = CertStore::default();
        for cert in &storage.certificates {
            match issue::load_stored(cert) {
                Ok((key, info)) => store.add(key, &info.names),
                Err(e) => tracing::warn!(storage = %path.display(), "acme: {e}"),
            }
        }
        self.certs.store(Arc::new(store));
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
    if config.http_challenge.is_none() && !config.tls_challenge {
        return Err(format!(
            "certificates needed for {due:?}, but neither [acme.httpChallenge] nor [acme.tlsChallenge] is configured"
        ));
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
            (names, issue::issue(state, config, account, names).await)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_has_domains_and_frontend_hosts_once() {
        let config = crate::config::load_str(
            std::path::Path::new("/t.toml"),
            r#"
[entryPoints.https]
address = ":443"
  [entryPoints.https.tls]
[acme]
storage = "a.json"
entryPoint = "https"
onHostRule = true
[acme.httpChallenge]
entryPoint = "https"
[[acme.domains]]
main = "a.test"
sans = ["b.test"]
[frontends.f1]
backend = "b"
  [frontends.f1.routes.r]
  rule = "Host:c.test,D.test;PathPrefix:/x"
[frontends.f2]
backend = "b"
  [frontends.f2.routes.r]
  rule = "Host:a.test"
[frontends.f3]
backend = "b"
  [frontends.f3.routes.r]
  rule = "PathPrefix:/"
[backends.b.servers.s]
url = "http://127.0.0.1:1"
"#,
        )
        .unwrap();
        let plan = Plan::from_config(&config).unwrap();
        assert_eq!(
            plan.certificates,
            [
                vec!["a.test".to_string(), "b.test".to_string()],
                vec!["c.test".to_string(), "d.test".to_string()],
            ]
        );
    }
}
