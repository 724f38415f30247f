//! `Config → Snapshot`: the only reader of `config::model` on the running side.
//!
//! Everything a request needs is resolved here, once: rules compiled into a
//! router per entrypoint, frontends pointing straight at their backend's
//! balancer, server URLs parsed, header values prepared. A config that does not
//! compile is refused with every error located in its file.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use http::uri::Authority;

use regex::Regex;

use super::plugins::{self, Loader};
use super::redirect::{RedirectRule, Target};
use super::responding::Responding;
use super::routes::{BackendRuntime, Endpoints, EntryRoutes, FrontendRuntime, Snapshot};
use super::shared::Shared;
use crate::access_log::AccessLogger;
use crate::config::model::{AllowList, Backend, Config, EntryPoint, Scheme, TrustedSources};
use crate::config::{ConfigError, Diagnostic};
use crate::metrics::Metrics;
use crate::router::{FrontendRules, Router};
use crate::tls::acceptor::{self, TlsServer};
use crate::trust::{Cidr, Trust};
use crate::upstream::allow::Fence;
use crate::upstream::balancer::{Balancer, UpstreamServer};
use crate::upstream::health::HealthCheckers;
use crate::upstream::limit::Limiter;
use crate::upstream::registry::Upstreams;
use crate::upstream::resolve::Resolver;
use crate::upstream::templated::TemplatedServer;
use crate::wasm::{Chain, Plugin};

/// A compiled config, and the health checks that go with it (owned by the
/// caller rather than the snapshot: a long stream that keeps an old snapshot
/// alive must not keep its checks running beside the new ones).
pub struct Compiled {
    pub snapshot: Snapshot,
    pub health_checkers: HealthCheckers,
}

/// Build a snapshot from `config`. `previous` lends its upstream connection
/// pools when the settings they were built with did not change. Spawns
/// health-check tasks, so it must run inside a tokio runtime; `check` uses
/// `validate` instead.
pub fn compile(
    config: &Arc<Config>,
    shared: &Shared,
    previous: Option<&Snapshot>,
) -> Result<Compiled, ConfigError> {
    let mut errors = Vec::new();
    let reusable = previous
        .map(|p| &p.upstreams)
        .filter(|u| u.built_from(&config.forwarding_timeouts, &config.backend_tls));
    let upstreams = match reusable {
        Some(u) => u.clone(),
        None => match Upstreams::new(&config.forwarding_timeouts, &config.backend_tls) {
            Ok(u) => Arc::new(u.with_tunnels(shared.tunnels.clone())),
            Err(why) => {
                return Err(ConfigError::one(Diagnostic::bare(format!(
                    "TLS settings for https backends: {why}"
                ))))
            }
        },
    };
    let metrics = match &config.metrics {
        Some(m) => Some(
            shared
                .metrics_for(&m.buckets)
                .map_err(|why| ConfigError::one(Diagnostic::bare(format!("metrics: {why}"))))?,
        ),
        None => None,
    };
    let backends = compile_backends(config, shared, &upstreams, metrics.as_deref(), &mut errors);
    let running: Vec<Arc<Plugin>> = previous
        .map(|p| p.plugins().cloned().collect())
        .unwrap_or_default();
    let chains = compile_chains(config, shared, &running, &mut errors);
    let mut entrypoints = Vec::new();
    for (name, ep) in &config.entry_points {
        let trust = compile_trust(ep, &mut errors);
        let Some(mut routes) = compile_entry(config, name, &backends, &chains, trust, &mut errors)
        else {
            continue;
        };
        routes.auth = compile_entry_auth(ep, shared, &running, &mut errors);
        routes.metrics = metrics.as_ref().map(|m| m.entry_point(name));
        routes.tls = compile_tls(config, shared, name, ep, &mut errors);
        routes.redirect = compile_redirect(config, ep, shared);
        routes.proxy_protocol = compile_proxy_protocol(ep, &mut errors);
        routes.tunnels = config
            .tunnels
            .as_ref()
            .is_some_and(|t| t.entry_point == *name);
        let timeouts = ep.responding_timeouts.as_ref();
        routes.responding =
            Responding::new(timeouts.unwrap_or(&config.responding_timeouts), &ep.limits);
        let slot = shared.slot(name);
        if entrypoints.len() <= slot {
            entrypoints.resize_with(slot + 1, || None);
        }
        entrypoints[slot] = Some(Arc::new(routes));
    }
    if !errors.is_empty() {
        return Err(ConfigError { errors });
    }

    let mut checkers = HealthCheckers::default();
    for (name, backend) in &config.backends {
        if let (Some(check), Some(rt)) = (&backend.health_check, backends.get(name.as_str())) {
            checkers.spawn(name, check, rt.balancer.servers(), &upstreams);
        }
    }
    let access_log = match &config.access_log {
        Some(log) => {
            Some(AccessLogger::start(log).map_err(|why| ConfigError::one(Diagnostic::bare(why)))?)
        }
        None => None,
    };
    Ok(Compiled {
        snapshot: Snapshot {
            entrypoints,
            upstreams,
            responding: Responding::new(&config.responding_timeouts, &Default::default()),
            access_log,
            metrics,
            api: config.api.is_some(),
            config: config.clone(),
        },
        health_checkers: checkers,
    })
}

/// Everything `compile` checks, without starting anything (for `tollgate check`).
pub fn validate(config: &Config) -> Result<(), ConfigError> {
    let shared = Shared::new(http::HeaderValue::from_static("check"));
    let mut errors = Vec::new();
    let upstreams =
        Upstreams::new(&config.forwarding_timeouts, &config.backend_tls).map_err(|why| {
            ConfigError::one(Diagnostic::bare(format!(
                "TLS settings for https backends: {why}"
            )))
        })?;
    let upstreams = Arc::new(upstreams);
    let backends = compile_backends(config, &shared, &upstreams, None, &mut errors);
    let chains = compile_chains(config, &shared, &[], &mut errors);
    for (name, ep) in &config.entry_points {
        let trust = compile_trust(ep, &mut errors);
        compile_entry(config, name, &backends, &chains, trust, &mut errors);
        compile_tls(config, &shared, name, ep, &mut errors);
        compile_proxy_protocol(ep, &mut errors);
        compile_entry_auth(ep, &shared, &[], &mut errors);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigError { errors })
    }
}

/// Middleware chains by frontend name (the plugin host starts only when a
/// config uses a plugin).
fn compile_chains(
    config: &Config,
    shared: &Shared,
    running: &[Arc<Plugin>],
    errors: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Chain> {
    let wanted = config
        .frontends
        .values()
        .any(|f| !f.middlewares.is_empty() || f.basic_auth.is_some() || f.headers.is_some());
    if !wanted {
        return BTreeMap::new();
    }
    match loader(shared, running, errors) {
        Some(loader) => plugins::build_chains(config, &loader, errors),
        None => BTreeMap::new(),
    }
}

/// The plugin loader, the WebAssembly runtime started on first use; None
/// (reported) when the runtime cannot start.
fn loader<'r>(
    shared: &Shared,
    running: &'r [Arc<Plugin>],
    errors: &mut Vec<Diagnostic>,
) -> Option<Loader<'r>> {
    match shared.plugin_host() {
        Ok(host) => Some(Loader::new(host, running)),
        Err(e) => {
            errors.push(Diagnostic::bare(format!(
                "cannot start the WebAssembly runtime: {e}"
            )));
            None
        }
    }
}

fn compile_backends<'c>(
    config: &'c Config,
    shared: &Shared,
    upstreams: &Arc<Upstreams>,
    metrics: Option<&Metrics>,
    errors: &mut Vec<Diagnostic>,
) -> BTreeMap<&'c str, Arc<BackendRuntime>> {
    config
        .backends
        .iter()
        .map(|(name, b)| {
            (
                name.as_str(),
                Arc::new(compile_backend(b, shared, upstreams, metrics, errors)),
            )
        })
        .collect()
}

fn compile_backend(
    b: &Backend,
    shared: &Shared,
    upstreams: &Arc<Upstreams>,
    metrics: Option<&Metrics>,
    errors: &mut Vec<Diagnostic>,
) -> BackendRuntime {
    let templated = compile_templated(b, upstreams, errors);
    let servers = b
        .servers
        .iter()
        .filter(|s| s.vars.is_empty())
        .filter_map(|s| match Authority::from_str(&s.authority) {
            Ok(authority) => {
                let pool = upstreams.pool(s.scheme, &authority);
                Some(Arc::new(UpstreamServer::new(
                    s.name.clone(),
                    s.url.clone(),
                    s.scheme,
                    authority,
                    s.weight,
                    shared.health.cell(&b.name, &s.url),
                    pool,
                )))
            }
            Err(e) => {
                errors.push(Diagnostic::at(
                    s.location.clone(),
                    format!("invalid server address {:?}: {e}", s.authority),
                ));
                None
            }
        })
        .collect();
    BackendRuntime {
        name: b.name.clone(),
        balancer: Balancer::new(b.load_balancer, servers),
        templated,
        limiter: b.max_conn.as_ref().map(Limiter::new),
        max_request_body: b.max_request_body,
        metrics: metrics.map(|m| m.backend(&b.name)),
    }
}

/// A backend's templated server (the loader allows one, with an allow-list).
fn compile_templated(
    b: &Backend,
    upstreams: &Arc<Upstreams>,
    errors: &mut Vec<Diagnostic>,
) -> Option<TemplatedServer> {
    let server = b.servers.iter().find(|s| !s.vars.is_empty())?;
    // `tunnel://{device}` needs no allow-list (the loader says why).
    let none = AllowList::default();
    let allowed = match (&b.allowed, server.scheme) {
        (Some(list), _) => list,
        (None, Scheme::Tunnel) => &none,
        (None, _) => return None,
    };
    let fence = match Fence::new(allowed, Resolver::new(&b.resolvers)) {
        Ok(fence) => fence,
        Err(why) => {
            errors.push(Diagnostic::at(b.location.clone(), why));
            return None;
        }
    };
    Some(TemplatedServer::new(
        server.name.clone(),
        server.scheme,
        &server.authority,
        Arc::new(fence),
        upstreams.clone(),
        b.max_targets,
    ))
}

/// `[entryPoints.X.auth.basic]`: the built-in basic-auth plugin.
fn compile_entry_auth(
    ep: &EntryPoint,
    shared: &Shared,
    running: &[Arc<Plugin>],
    errors: &mut Vec<Diagnostic>,
) -> Option<Chain> {
    let auth = ep.auth.as_ref()?;
    let loader = loader(shared, running, errors)?;
    let location = auth.location.clone().unwrap_or_else(|| ep.location.clone());
    match plugins::basic_auth(&format!("entryPoints.{}", ep.name), auth, &loader) {
        Ok(plugin) => Some(Chain::new(vec![plugin])),
        Err(e) => {
            errors.push(Diagnostic::at(
                location,
                format!("basic authentication: {e}"),
            ));
            None
        }
    }
}

fn compile_tls(
    config: &Config,
    shared: &Shared,
    name: &str,
    ep: &EntryPoint,
    errors: &mut Vec<Diagnostic>,
) -> Option<TlsServer> {
    let tls = ep.tls.as_ref()?;
    // ACME's entrypoint gets its certificates from ACME (crate::acme).
    let acme = config.acme.as_ref().filter(|a| a.entry_point == name);
    if tls.certificates.is_empty() && acme.is_none() {
        errors.push(Diagnostic::at(
            tls.location.clone(),
            format!("entrypoint {name:?}: TLS needs at least one [[entryPoints.{name}.tls.certificates]]"),
        ));
        return None;
    }
    match acceptor::build(name, tls, acme.is_some_and(|a| a.tls_challenge)) {
        Ok(server) => {
            server.resolver.set_acme(shared.acme.clone());
            Some(server)
        }
        Err(e) => {
            errors.extend(e.errors);
            None
        }
    }
}

fn compile_redirect(config: &Config, ep: &EntryPoint, shared: &Shared) -> Option<RedirectRule> {
    let r = ep.redirect.as_ref()?;
    let target = match (&r.regex, &r.replacement, &r.entry_point) {
        (Some(re), Some(replacement), _) => Target::Regex {
            // The loader already compiled it once to validate it.
            regex: Regex::new(re).ok()?,
            replacement: replacement.clone(),
        },
        (_, _, Some(name)) => {
            let target = config.entry_points.get(name)?;
            Target::EntryPoint {
                slot: shared.slot(name),
                https: target.tls.is_some(),
                configured_port: configured_port(&target.address),
            }
        }
        _ => return None,
    };
    Some(RedirectRule {
        target,
        permanent: r.permanent,
    })
}

/// The port written in an address (`:443`, `1.2.3.4:443`, `[::1]:443`).
fn configured_port(address: &str) -> Option<u16> {
    address.rsplit_once(':')?.1.parse().ok().filter(|p| *p != 0)
}

fn compile_trust(ep: &EntryPoint, errors: &mut Vec<Diagnostic>) -> Trust {
    compile_sources(ep, &ep.forwarded_headers, "forwardedHeaders", errors)
}

/// `[entryPoints.X.proxyProtocol]`: who may send a PROXY header.
fn compile_proxy_protocol(ep: &EntryPoint, errors: &mut Vec<Diagnostic>) -> Option<Trust> {
    let sources = ep.proxy_protocol.as_ref()?;
    Some(compile_sources(ep, sources, "proxyProtocol", errors))
}

fn compile_sources(
    ep: &EntryPoint,
    sources: &TrustedSources,
    section: &str,
    errors: &mut Vec<Diagnostic>,
) -> Trust {
    let mut networks = Vec::new();
    for net in &sources.trusted_ips {
        match Cidr::parse(net) {
            Ok(n) => networks.push(n),
            Err(why) => {
                let mut loc = ep.location.clone();
                loc.key = format!("entryPoints.{}.{section}.trustedIPs", ep.name);
                errors.push(Diagnostic::at(loc, why));
            }
        }
    }
    Trust {
        everyone: sources.insecure,
        networks,
    }
}

/// The routes of entrypoint `ep`: frontends that list it, or, when they list
/// none, frontends of `defaultEntryPoints` (all entrypoints if that is empty).
fn compile_entry(
    config: &Config,
    ep: &str,
    backends: &BTreeMap<&str, Arc<BackendRuntime>>,
    chains: &BTreeMap<String, Chain>,
    trust: Trust,
    errors: &mut Vec<Diagnostic>,
) -> Option<EntryRoutes> {
    let mut rules = Vec::new();
    let mut frontends = Vec::new();
    let mut sources = Vec::new();
    for f in config.frontends.values() {
        if !config.entry_points_of(f).contains(&ep) {
            continue;
        }
        let Some(backend) = backends.get(f.backend.as_str()) else {
            // The loader reports unknown backends; nothing to route to here.
            continue;
        };
        rules.push(FrontendRules {
            wants_vars: backend.templated.is_some(),
            priority: f.priority,
            rules: f.routes.iter().map(|r| r.rule.clone()).collect(),
            syntax: f.rule_syntax,
            modifiers: f.path_modifiers.clone(),
        });
        frontends.push(Arc::new(FrontendRuntime {
            name: f.name.clone(),
            backend: backend.clone(),
            pass_host_header: f.pass_host_header,
            chain: chains.get(&f.name).cloned(),
        }));
        sources.push(f);
    }
    let router = match Router::compile(&rules) {
        Ok(r) => r,
        Err(rule_errors) => {
            for e in rule_errors {
                let f = sources[e.frontend];
                let loc = f
                    .routes
                    .get(e.rule)
                    .map(|r| r.location.clone())
                    .unwrap_or_else(|| f.location.clone());
                // Several entrypoints share a frontend: report each error once.
                let d = Diagnostic::at(loc, e.message);
                if !errors.contains(&d) {
                    errors.push(d);
                }
            }
            return None;
        }
    };
    Some(EntryRoutes {
        name: ep.to_string(),
        router,
        frontends,
        trust,
        endpoints: Endpoints::of(config, ep),
        auth: None,
        metrics: None,
        tls: None,
        proxy_protocol: None,
        tunnels: false,
        responding: Responding::new(&config.responding_timeouts, &Default::default()),
        redirect: None,
        http: config
            .entry_points
            .get(ep)
            .map(|e| e.http.clone())
            .unwrap_or_default(),
    })
}
