//! Challenge answers while an order runs: HTTP-01 key authorizations by
//! token, TLS-ALPN-01 certificates by domain. Written by `issue`, read by
//! `AcmeState` for the request path and the TLS handshake.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use futures_util::future::BoxFuture;
use rustls::sign::CertifiedKey;

/// Publishes an order's answers for the other instances of a cluster
/// (`cluster::Held`), before the CA is told to validate.
pub trait Publish: Sync {
    fn http01<'a>(&'a self, token: &'a str, key_auth: &'a str)
        -> BoxFuture<'a, Result<(), String>>;
    fn tls_alpn01<'a>(
        &'a self,
        name: &'a str,
        digest: &'a [u8],
    ) -> BoxFuture<'a, Result<(), String>>;
}

#[derive(Default)]
pub struct Challenges {
    /// HTTP-01: token → key authorization.
    http_tokens: ArcSwap<HashMap<String, String>>,
    /// TLS-ALPN-01: domain → challenge certificate.
    alpn: ArcSwap<HashMap<String, Arc<CertifiedKey>>>,
}

impl Challenges {
    pub fn token(&self, token: &str) -> Option<String> {
        self.http_tokens.load().get(token).cloned()
    }

    pub fn alpn(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        self.alpn.load().get(name).cloned()
    }

    pub fn put_token(&self, token: &str, key_auth: &str) {
        self.http_tokens.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.insert(token.to_string(), key_auth.to_string());
            m
        });
    }

    pub fn drop_token(&self, token: &str) {
        self.http_tokens.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.remove(token);
            m
        });
    }

    pub fn put_alpn(&self, name: &str, cert: Arc<CertifiedKey>) {
        self.alpn.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.insert(name.to_string(), cert.clone());
            m
        });
    }

    pub fn drop_alpn(&self, name: &str) {
        self.alpn.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.remove(name);
            m
        });
    }
}
