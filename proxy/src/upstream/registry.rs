//! `Upstreams` holds what every backend connection shares: the forwarding
//! timeouts, the TLS settings for `https://` servers and the per-server
//! connection pools (`pool.rs`). A server of the running config keeps an
//! `Arc` to its pool, so the request path goes straight to it; the registry
//! here only hands out pools when a config is compiled, so that a reload
//! finds the pools, and their open keep-alive connections, of the servers it
//! keeps. A pool no snapshot uses any more is dropped with its connections.
//!
//! Why not hyper-util's pooling client: it hashes a (scheme, authority) key
//! under one global lock and spawns a task per HTTP/1 request to wait for
//! the connection to become idle again; a proxy knows its servers in advance
//! and when a response body ends, so it needs neither.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use http::uri::Authority;

use super::allow::Fence;
use super::connect;
use super::pool::{Protocol, ServerPool};
use crate::config::model::{BackendTls, ForwardingTimeouts, Scheme};
use crate::tunnel::Tunnels;

#[derive(Debug)]
pub struct Upstreams {
    timeouts: ForwardingTimeouts,
    tls: BackendTls,
    /// For `https://` servers: system roots plus `rootCAs`, or no checks.
    tls_client: Arc<rustls::ClientConfig>,
    pools: Mutex<HashMap<(Scheme, Authority), Weak<ServerPool>>>,
    /// Where `tunnel://` servers' streams come from.
    tunnels: Arc<Tunnels>,
}

impl Upstreams {
    pub fn new(timeouts: &ForwardingTimeouts, tls: &BackendTls) -> Result<Self, String> {
        let mut config = crate::tls::client::client_config(tls)?;
        // Our pools speak HTTP/1.1 over TLS; say so, or an h2-only server
        // would pick a protocol we then do not speak.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Upstreams {
            timeouts: timeouts.clone(),
            tls: tls.clone(),
            tls_client: Arc::new(config),
            pools: Mutex::new(HashMap::new()),
            tunnels: Arc::default(),
        })
    }

    /// The live tunnels `tunnel://` servers use (the process's).
    pub fn with_tunnels(mut self, tunnels: Arc<Tunnels>) -> Self {
        self.tunnels = tunnels;
        self
    }

    /// Were these built from exactly these settings? Then a reload keeps
    /// them, and with them every pooled connection.
    pub fn built_from(&self, timeouts: &ForwardingTimeouts, tls: &BackendTls) -> bool {
        self.timeouts == *timeouts && self.tls == *tls
    }

    pub fn timeouts(&self) -> &ForwardingTimeouts {
        &self.timeouts
    }

    /// The pool of connections to `scheme://authority`, shared by every
    /// backend (and health check) that names that server.
    pub fn pool(&self, scheme: Scheme, authority: &Authority) -> Arc<ServerPool> {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        let key = (scheme, authority.clone());
        if let Some(pool) = pools.get(&key).and_then(Weak::upgrade) {
            return pool;
        }
        // Servers that left the config: forget their entries.
        pools.retain(|_, weak| weak.strong_count() > 0);
        let pool = self.new_pool(scheme, authority, None);
        pools.insert(key, Arc::downgrade(&pool));
        pool
    }

    /// A pool of its own for a templated backend's target, which dials
    /// only what `fence` allows (`templated` keeps it; no other backend
    /// shares it).
    pub fn fenced_pool(
        &self,
        scheme: Scheme,
        authority: &Authority,
        fence: Arc<Fence>,
    ) -> Arc<ServerPool> {
        self.new_pool(scheme, authority, Some(fence))
    }

    fn new_pool(
        &self,
        scheme: Scheme,
        authority: &Authority,
        fence: Option<Arc<Fence>>,
    ) -> Arc<ServerPool> {
        let (default_port, tls, protocol) = match scheme {
            Scheme::Http => (80, None, Protocol::Http1),
            Scheme::Https => (443, Some(self.tls_client.clone()), Protocol::Http1),
            Scheme::H2c => (80, None, Protocol::H2c),
            Scheme::Tunnel => (80, None, Protocol::Http1),
        };
        let mut target =
            connect::Target::new(authority.clone(), default_port, tls, self.timeouts.dial);
        target.fence = fence;
        if scheme == Scheme::Tunnel {
            target.tunnels = Some(self.tunnels.clone());
        }
        ServerPool::new(
            target,
            protocol,
            self.timeouts.idle_conn,
            self.timeouts.max_idle_per_host,
        )
    }
}
