//! Challenge answers while an order runs: HTTP-01 key authorizations by
//! token, TLS-ALPN-01 certificates by domain. Written by `issue`, read by
//! `AcmeState` for the request path and the TLS handshake.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::sign::CertifiedKey;

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
