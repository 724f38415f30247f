//! `entryPoints`: `address`, `http.redirections.entryPoint`, `http.tls`,
//! `http.middlewares`, and what 1.7's entry points also have under the same
//! names (`forwardedHeaders`, `proxyProtocol`, `transport`, `http`'s
//! encoded characters and limits, tollgate's `limits`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::config::diagnostic::Location;
use crate::config::model::{EntryPoint, Redirect};
use crate::config::tree::Node;

use super::super::entry_points::read_shared;
use super::super::values::duration;

/// What an entry point says about its routers: TLS for all of them (with
/// which resolver and domains), and middlewares run before theirs.
#[derive(Debug, Default, Clone)]
pub(super) struct EntryDefaults {
    pub tls: Option<RouterTls>,
    pub middlewares: Vec<(String, Location)>,
    /// `transport.lifeCycle.graceTimeOut`.
    pub grace: Option<Duration>,
}

/// A router's (or entry point's) `tls`.
#[derive(Debug, Default, Clone)]
pub(super) struct RouterTls {
    pub cert_resolver: Option<(String, Location)>,
    pub domains: Vec<Vec<String>>,
    pub options: Option<(String, Location)>,
}

pub(super) struct EntryPoints {
    pub all: BTreeMap<String, EntryPoint>,
    pub names: BTreeSet<String>,
    pub defaults: BTreeMap<String, EntryDefaults>,
}

pub(super) fn read(root: &Node<'_>) -> EntryPoints {
    let children = root
        .section("entryPoints")
        .map(|n| n.children())
        .unwrap_or_default();
    let mut eps = EntryPoints {
        all: BTreeMap::new(),
        names: children.iter().map(|n| n.name().to_owned()).collect(),
        defaults: BTreeMap::new(),
    };
    if children.is_empty() {
        root.tree().error(
            root.missing_location("entryPoints"),
            "no entry points: Traefik 2/3 needs at least one, e.g. entryPoints.web.address = \":80\"",
        );
    }
    for node in &children {
        if let Some((ep, defaults)) = read_entry_point(node) {
            eps.defaults.insert(ep.name.clone(), defaults);
            eps.all.insert(ep.name.clone(), ep);
        }
    }
    resolve_redirects(root, &mut eps);
    eps
}

fn read_entry_point(node: &Node<'_>) -> Option<(EntryPoint, EntryDefaults)> {
    if !node.expect_table() {
        return None;
    }
    let http = node.section("http");
    let mut defaults = EntryDefaults::default();
    let mut redirect = None;
    if let Some(h) = &http {
        redirect = h
            .section("redirections")
            .and_then(|r| r.section("entryPoint"))
            .and_then(|n| read_redirection(&n));
        defaults.tls = h.get("tls").and_then(|n| read_router_tls(&n));
        if let Some(m) = h.get("middlewares") {
            defaults.middlewares = m.str_list_located().unwrap_or_default();
        }
    }
    if let Some(life) = node
        .section("transport")
        .and_then(|t| t.section("lifeCycle"))
    {
        defaults.grace = life.get("graceTimeOut").and_then(|n| duration(&n));
        if let Some(n) = life.get("requestAcceptGraceTimeout") {
            n.warn("not supported, ignored: tollgate stops accepting at once and drains");
        }
    }
    // TLS is set once the routers and `tls` are read (see `tls::apply`).
    let entry_point = read_shared(node, http.as_ref(), true)?;
    Some((
        EntryPoint {
            redirect,
            ..entry_point
        },
        defaults,
    ))
}

/// `http.redirections.entryPoint`: `to` (an entry point, or its `:port`),
/// `scheme` (https), `permanent` (true, as in Traefik 2/3).
fn read_redirection(node: &Node<'_>) -> Option<Redirect> {
    let Some(to) = node.get("to") else {
        node.tree().error(
            node.missing_location("to"),
            "missing: the entry point to redirect to, e.g. to: websecure",
        );
        return None;
    };
    let target = to.str()?.to_owned();
    if let Some(scheme) = node.get("scheme").and_then(|n| n.str().map(str::to_owned)) {
        if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
            node.error(format!("scheme {scheme:?}: use https or http"));
        }
    }
    let permanent = node.get("permanent").and_then(|n| n.bool()).unwrap_or(true);
    let _ = node.get("priority").and_then(|n| n.integer());
    Some(Redirect {
        entry_point: Some(target),
        regex: None,
        replacement: None,
        permanent,
        location: to.location(),
    })
}

/// `to` may name an entry point or give its port (`:443`); either way it
/// must be an entry point of the file, as tollgate redirects to its scheme
/// and port.
fn resolve_redirects(root: &Node<'_>, eps: &mut EntryPoints) {
    let by_port: BTreeMap<String, String> = eps
        .all
        .values()
        .filter_map(|e| {
            Some((
                format!(":{}", e.address.rsplit_once(':')?.1),
                e.name.clone(),
            ))
        })
        .collect();
    for ep in eps.all.values_mut() {
        let Some(redirect) = &mut ep.redirect else {
            continue;
        };
        let Some(target) = &mut redirect.entry_point else {
            continue;
        };
        if eps.names.contains(target.as_str()) {
            continue;
        }
        match by_port.get(target.as_str()) {
            Some(name) => *target = name.clone(),
            None => root.tree().error(
                redirect.location.clone(),
                super::super::context::unknown_name("entry point", target, &eps.names),
            ),
        }
    }
}

/// A `tls` table of a router or an entry point's `http`: `certResolver`,
/// `domains` (`main`, `sans`), `options`. `tls: {}` (or `tls: true` in
/// TOML's flat style) turns TLS on with the file's certificates.
pub(super) fn read_router_tls(node: &Node<'_>) -> Option<RouterTls> {
    if node.raw_value().and_then(|v| v.as_bool()) == Some(true) {
        return Some(RouterTls::default());
    }
    if !node.expect_table() {
        return None;
    }
    let cert_resolver = node
        .get("certResolver")
        .and_then(|n| Some((n.str()?.to_owned(), n.location())));
    let options = node
        .get("options")
        .and_then(|n| Some((n.str()?.to_owned(), n.location())));
    let domains = node
        .get("domains")
        .map(|list| super::super::acme::read_domains(&list))
        .unwrap_or_default();
    Some(RouterTls {
        cert_resolver,
        domains,
        options,
    })
}
