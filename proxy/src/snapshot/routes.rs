//! One compiled configuration: what each entrypoint, frontend and backend
//! needs to answer a request. Immutable once built.

use std::sync::Arc;

use super::redirect::RedirectRule;
use super::responding::Responding;
use super::slot::Slot;
use crate::access_log::AccessLogger;
use crate::config::model::{Config, EntryPointHttp, RespondingTimeouts};
use crate::metrics::{Metrics, RequestSeries};
use crate::router::Router;
use crate::tls::acceptor::TlsServer;
use crate::trust::Trust;
use crate::upstream::balancer::Balancer;
use crate::upstream::limit::Limiter;
use crate::upstream::registry::Upstreams;
use crate::upstream::templated::TemplatedServer;
use crate::wasm::Chain;

pub struct Snapshot {
    /// Indexed by `Slot`; None for slots of entrypoints this config lacks.
    pub entrypoints: Vec<Option<Arc<EntryRoutes>>>,
    pub upstreams: Arc<Upstreams>,
    /// `[respondingTimeouts]`, for connections of an entry point this
    /// config lacks (each entry point has its own, `EntryRoutes`).
    pub responding: Arc<Responding>,
    /// `[accessLog]`, when the config has one.
    pub access_log: Option<Arc<AccessLogger>>,
    /// `[metrics.prometheus]`, when the config has it.
    pub metrics: Option<Arc<Metrics>>,
    /// `[api]`: requests are counted for `/health`.
    pub api: bool,
    /// The configuration this was compiled from (the API shows it).
    pub config: Arc<Config>,
}

impl Snapshot {
    /// Before the first config: its upstreams use the process's `tunnels`,
    /// so that the first config, which keeps them, does too.
    pub fn empty(tunnels: Arc<crate::tunnel::Tunnels>) -> Snapshot {
        let upstreams = Upstreams::new(&Default::default(), &Default::default())
            .expect("default upstream TLS settings are valid")
            .with_tunnels(tunnels);
        Snapshot {
            entrypoints: Vec::new(),
            upstreams: Arc::new(upstreams),
            responding: Responding::new(&RespondingTimeouts::default(), &Default::default()),
            access_log: None,
            metrics: None,
            api: false,
            config: Arc::default(),
        }
    }

    /// Whether anything watches requests go by (access log, metrics,
    /// `/health`): only then is a request timed.
    #[inline]
    pub fn observed(&self) -> bool {
        self.access_log.is_some() || self.metrics.is_some() || self.api
    }

    #[inline]
    pub fn entry(&self, slot: Slot) -> Option<&EntryRoutes> {
        self.entrypoints.get(slot).and_then(|e| e.as_deref())
    }

    /// Every loaded plugin, in frontend chains and entry point
    /// authentication (one shared by several appears once per user).
    pub fn plugins(&self) -> impl Iterator<Item = &Arc<crate::wasm::Plugin>> {
        self.entrypoints.iter().flatten().flat_map(|entry| {
            entry
                .frontends
                .iter()
                .filter_map(|f| f.chain.as_ref())
                .chain(entry.auth.as_ref())
                .flat_map(|chain| chain.plugins())
        })
    }
}

/// Everything one entrypoint needs to answer a request.
pub struct EntryRoutes {
    pub name: String,
    pub router: Router,
    /// Indexed by `RouteMatch::frontend`.
    pub frontends: Vec<Arc<FrontendRuntime>>,
    pub trust: Trust,
    /// Who may send a PROXY protocol header (`listen::proxy_protocol`);
    /// None: no source may.
    pub proxy_protocol: Option<Trust>,
    /// tollgate's own endpoints served here.
    pub endpoints: Endpoints,
    /// `[auth.basic]`: the built-in basic-auth plugin, for every request
    /// but `/ping` and ACME challenges.
    pub auth: Option<Chain>,
    /// `traefik_entrypoint_*` series, when metrics are on.
    pub metrics: Option<RequestSeries>,
    /// TLS settings for new connections; None for plain HTTP.
    pub tls: Option<TlsServer>,
    /// Redirect every request (e.g. to HTTPS) instead of routing.
    pub redirect: Option<RedirectRule>,
    /// What requests are screened for before routing.
    pub http: EntryPointHttp,
    /// The `[tunnels]` entry point: its connections are agents' tunnels
    /// (`listen::tunnel`), not HTTP clients.
    pub tunnels: bool,
    /// How its connections are served: its own timeouts
    /// (`transport.respondingTimeouts`, else the top-level ones) and limits.
    pub responding: Arc<Responding>,
}

/// tollgate's own endpoints on one entry point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// `GET /ping` answers `OK` (`[ping]`).
    pub ping: bool,
    /// `/api`, `/health` (`[api]`).
    pub api: bool,
    /// `/dashboard/` (`[api] dashboard`).
    pub dashboard: bool,
    /// `/metrics` (`[metrics.prometheus]`).
    pub metrics: bool,
}

impl Endpoints {
    /// What `config` serves on entry point `ep`.
    pub fn of(config: &Config, ep: &str) -> Endpoints {
        let api = config.api.as_ref().filter(|a| a.entry_point == ep);
        Endpoints {
            ping: config.ping.as_deref() == Some(ep),
            api: api.is_some(),
            dashboard: api.is_some_and(|a| a.dashboard),
            metrics: config.metrics.as_ref().is_some_and(|m| m.entry_point == ep),
        }
    }

    /// Those served, each as (name, paths).
    pub fn served(self) -> Vec<(&'static str, &'static str)> {
        [
            (self.ping, "ping", "/ping"),
            (self.api, "api", "/api, /health"),
            (self.dashboard, "dashboard", "/dashboard/"),
            (self.metrics, "metrics", "/metrics"),
        ]
        .into_iter()
        .filter_map(|(on, name, paths)| on.then_some((name, paths)))
        .collect()
    }
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
    /// A templated server: the target is chosen per request from the
    /// route's variables (the balancer has no servers then).
    pub templated: Option<TemplatedServer>,
    pub limiter: Option<Limiter>,
    /// `[buffering] maxRequestBodyBytes` (`request::limit::cap_body`).
    pub max_request_body: Option<u64>,
    /// `traefik_backend_*` series, when metrics are on.
    pub metrics: Option<RequestSeries>,
}
