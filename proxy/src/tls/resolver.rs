//! Picks the server certificate for each handshake from the current
//! `CertStore`. The store sits behind an `ArcSwap`, so a reload or an ACME
//! issuance replaces it while listeners keep running; a handshake in progress
//! keeps the certificate it already chose.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::store::CertStore;

/// ALPN protocol of ACME TLS-ALPN-01 validation (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

#[derive(Debug)]
pub struct SniResolver {
    store: ArcSwap<CertStore>,
    /// No default certificate for unknown names: the handshake fails.
    strict: bool,
    /// TLS-ALPN-01 challenge certificates by domain (filled by ACME).
    challenges: ArcSwap<HashMap<String, Arc<CertifiedKey>>>,
    /// Process-wide ACME certificates and TLS-ALPN-01 challenges, consulted
    /// after the configured certificates.
    acme: std::sync::OnceLock<Arc<crate::acme::AcmeState>>,
}

impl SniResolver {
    pub fn new(store: CertStore, strict: bool) -> Self {
        SniResolver {
            store: ArcSwap::from_pointee(store),
            strict,
            challenges: ArcSwap::from_pointee(HashMap::new()),
            acme: std::sync::OnceLock::new(),
        }
    }

    /// Replace the certificate set; new handshakes use it at once.
    pub fn replace(&self, store: CertStore) {
        self.store.store(Arc::new(store));
    }

    pub fn current(&self) -> Arc<CertStore> {
        self.store.load_full()
    }

    /// Serve ACME certificates (and TLS-ALPN-01 challenges) from `acme`.
    pub fn set_acme(&self, acme: Arc<crate::acme::AcmeState>) {
        let _ = self.acme.set(acme);
    }

    pub fn set_challenges(&self, challenges: HashMap<String, Arc<CertifiedKey>>) {
        self.challenges.store(Arc::new(challenges));
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name();
        let is_acme = hello
            .alpn()
            .is_some_and(|mut protos| protos.any(|p| p == ACME_TLS_ALPN));
        if is_acme {
            // A validation handshake gets the challenge certificate or nothing.
            let sni = sni?;
            if let Some(k) = self.challenges.load().get(sni) {
                return Some(k.clone());
            }
            return self.acme.get().and_then(|a| a.tls_alpn01(sni));
        }
        let store = self.store.load();
        if let Some(k) = sni.and_then(|name| store.lookup(name)) {
            return Some(k.clone());
        }
        let acme = self.acme.get().map(|a| a.certs.load());
        if let (Some(acme), Some(name)) = (&acme, sni) {
            if let Some(k) = acme.lookup(name) {
                return Some(k.clone());
            }
        }
        // As Traefik 1.7: with sniStrict, no name (no SNI) is no certificate.
        if self.strict {
            tracing::debug!(
                sni = sni.unwrap_or(""),
                "no certificate for this name (sniStrict)"
            );
            return None;
        }
        store
            .default_key()
            .or_else(|| acme.as_ref().and_then(|a| a.default_key()))
            .cloned()
    }
}
