//! The running configuration: an immutable `Snapshot` compiled from a
//! `config::Config`, published through an `ArcSwap` in `Shared`.
//!
//! Each request loads the snapshot once (`Shared::snapshot()`), and keeps that
//! `Arc` until it is done, so a reload in the middle of a request can never mix
//! two configs, and the old snapshot is freed when its last request finishes.
//! Nothing on the request path locks anything a reload holds.
//!
//! State that must outlive a snapshot (server health, entrypoint slots) sits in
//! `Shared` beside it.

pub mod compile;
pub mod middleware;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use http::HeaderValue;

use crate::balancer::Balancer;
use crate::config::model::RespondingTimeouts;
use crate::entrypoint::HttpServer;
use crate::health::HealthTable;
use crate::limit::Limiter;
use crate::redirect::RedirectRule;
use crate::router::Router;
use crate::tls::acceptor::TlsServer;
use crate::trust::Trust;
use crate::upstream::Upstreams;
use crate::wasm::{Chain, PluginHost};

/// Stable index of an entrypoint name, valid across reloads: listeners keep
/// their slot and find their routes with one index, not a string lookup.
pub type Slot = usize;

/// Process-wide state: the current snapshot and what survives reloads.
pub struct Shared {
    current: ArcSwap<Snapshot>,
    pub health: HealthTable,
    slots: Mutex<HashMap<String, Slot>>,
    /// Port each entrypoint's listener actually bound, by slot (0 = none):
    /// redirects point at it even when the config said port 0.
    bound_ports: ArcSwap<Vec<u16>>,
    /// `X-Forwarded-Server`: this machine's host name.
    pub server_name: HeaderValue,
    /// The WebAssembly runtime, started with the first config that uses a plugin.
    plugin_host: std::sync::OnceLock<Arc<PluginHost>>,
    /// ACME certificates and challenges (survive reloads).
    pub acme: Arc<crate::acme::AcmeState>,
}

impl Shared {
    pub fn new(server_name: HeaderValue) -> Arc<Shared> {
        Arc::new(Shared {
            current: ArcSwap::from_pointee(Snapshot::empty()),
            health: HealthTable::default(),
            slots: Mutex::default(),
            bound_ports: ArcSwap::from_pointee(Vec::new()),
            server_name,
            plugin_host: std::sync::OnceLock::new(),
            acme: Arc::default(),
        })
    }

    /// The process's plugin host, started on first use.
    pub fn plugin_host(&self) -> Result<Arc<PluginHost>, String> {
        if let Some(h) = self.plugin_host.get() {
            return Ok(h.clone());
        }
        let host = PluginHost::new().map_err(|e| e.to_string())?;
        Ok(self.plugin_host.get_or_init(|| host).clone())
    }

    /// The snapshot to serve one request with.
    #[inline]
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Make `next` the snapshot every new request sees.
    pub fn publish(&self, next: Snapshot) {
        self.current.store(Arc::new(next));
    }

    /// Record the port an entrypoint's listener is bound to.
    pub fn set_bound_port(&self, slot: Slot, port: u16) {
        self.bound_ports.rcu(|ports| {
            let mut ports = Vec::clone(ports);
            if ports.len() <= slot {
                ports.resize(slot + 1, 0);
            }
            ports[slot] = port;
            ports
        });
    }

    pub fn bound_port(&self, slot: Slot) -> Option<u16> {
        self.bound_ports
            .load()
            .get(slot)
            .copied()
            .filter(|p| *p != 0)
    }

    /// The slot for an entrypoint name, allocated on first use.
    pub fn slot(&self, name: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let next = slots.len();
        *slots.entry(name.to_string()).or_insert(next)
    }
}

/// One compiled configuration. Immutable once built.
pub struct Snapshot {
    /// Indexed by `Slot`; None for slots of entrypoints this config lacks.
    pub entrypoints: Vec<Option<Arc<EntryRoutes>>>,
    pub upstreams: Arc<Upstreams>,
    /// `[respondingTimeouts]`, for connections accepted under this config.
    pub responding: Responding,
}

/// How client connections are served: hyper's settings (read and idle
/// timeouts) and the write timeout. Read per accepted connection, so that a
/// reload applies to new connections while open ones keep their settings.
#[derive(Clone)]
pub struct Responding {
    pub http: Arc<HttpServer>,
    pub write_timeout: Option<std::time::Duration>,
    /// hyper's `header_read_timeout`, which the HTTP/1 fast lane applies too.
    pub header_timeout: std::time::Duration,
}

impl Responding {
    pub fn new(timeouts: &RespondingTimeouts) -> Responding {
        Responding {
            http: Arc::new(crate::entrypoint::http_server(timeouts)),
            write_timeout: timeouts.write,
            header_timeout: crate::entrypoint::header_timeout(timeouts),
        }
    }
}

impl Snapshot {
    pub fn empty() -> Snapshot {
        let upstreams = Upstreams::new(&Default::default(), &Default::default())
            .expect("default upstream TLS settings are valid");
        Snapshot {
            entrypoints: Vec::new(),
            upstreams: Arc::new(upstreams),
            responding: Responding::new(&RespondingTimeouts::default()),
        }
    }

    #[inline]
    pub fn entry(&self, slot: Slot) -> Option<&EntryRoutes> {
        self.entrypoints.get(slot).and_then(|e| e.as_deref())
    }
}

/// Everything one entrypoint needs to answer a request.
pub struct EntryRoutes {
    pub name: String,
    pub router: Router,
    /// Indexed by `RouteMatch::frontend`.
    pub frontends: Vec<Arc<FrontendRuntime>>,
    pub trust: Trust,
    /// Answer `GET /ping` with `OK` here (Traefik's `[ping]`).
    pub ping: bool,
    /// TLS settings for new connections; None for plain HTTP.
    pub tls: Option<TlsServer>,
    /// Redirect every request (e.g. to HTTPS) instead of routing.
    pub redirect: Option<RedirectRule>,
}

pub struct FrontendRuntime {
    pub name: String,
    pub backend: Arc<BackendRuntime>,
    pub pass_host_header: bool,
    /// WebAssembly middleware, run around the upstream call.
    pub chain: Option<Chain>,
}

pub struct BackendRuntime {
    pub name: String,
    pub balancer: Balancer,
    pub limiter: Option<Limiter>,
}
