//! `AcmeState`, shared by the whole process (it lives in `snapshot::Shared`,
//! so it survives reloads): the issued certificates, which every TLS
//! entrypoint's `SniResolver` consults after its configured ones, and the
//! challenge answers (HTTP-01 tokens answered by `request::early` before
//! redirects and plugins, TLS-ALPN-01 certificates answered in the
//! handshake).

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rustls::sign::CertifiedKey;
use tokio::sync::watch;

use super::challenges::Challenges;
use super::issue;
use super::plan::Plan;
use super::storage::{self, Storage};
use crate::tls::store::CertStore;

pub struct AcmeState {
    /// Certificates obtained by ACME (or loaded from storage).
    pub certs: ArcSwap<CertStore>,
    /// Answers to the challenges of running orders.
    pub challenges: Challenges,
    /// What the manager must obtain (`manager::apply` sets it).
    pub(super) plan: watch::Sender<Option<Arc<Plan>>>,
    pub(super) started: Mutex<bool>,
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
            challenges: Challenges::default(),
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
        let key_auth = self.challenges.token(token)?;
        let plan = self.plan.borrow();
        let on_challenge_ep = plan
            .as_ref()
            .and_then(|p| p.config.http_challenge.as_deref())
            == Some(entrypoint);
        on_challenge_ep.then_some(key_auth)
    }

    /// The TLS-ALPN-01 certificate for `name`, while its order runs.
    pub fn tls_alpn01(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        self.challenges.alpn(name)
    }

    pub(super) fn note_traefik(
        &self,
        path: &std::path::Path,
        origin: storage::TraefikOrigin,
        certs: usize,
    ) {
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
    pub(super) fn install(&self, storage: &Storage, path: &std::path::Path) {
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
