//! `http.routers`, each as a 1.7 frontend: `rule` (Traefik 2/3 syntax),
//! `entryPoints`, `service`, `middlewares` (after its entry points'),
//! `priority` (the rule's length when 0 or absent, as in Traefik 2/3) and
//! `tls`, kept for `tls::apply`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::config::diagnostic::Location;
use crate::config::model::{BasicAuth, Frontend, Route, RuleSyntax};
use crate::config::tree::{Node, Tree};

use super::super::context::unknown_name;
use super::entry_points::{read_router_tls, EntryPoints, RouterTls};
use super::middlewares::Middleware;
use super::provider_name;
use super::services::Service;

/// What the routers refer to.
pub(super) struct Refs<'a> {
    pub entry_points: &'a EntryPoints,
    /// Entry points a router without `entryPoints` is on.
    pub default_entry_points: &'a [String],
    pub services: &'a BTreeMap<String, Service>,
    pub middlewares: &'a BTreeMap<String, (Middleware, Location)>,
    /// `plugins.NAME` (tollgate's own wasm plugins), usable as middlewares.
    pub plugins: &'a BTreeSet<String>,
}

/// A router's TLS, for `tls::apply`: which entry points it is on.
pub(super) struct TlsUse {
    pub entry_points: Vec<String>,
    pub tls: RouterTls,
}

/// The routers as frontends, and each TLS router's name and TLS.
pub(super) fn read_all(
    files: &[&Tree],
    refs: &Refs<'_>,
) -> (BTreeMap<String, Frontend>, Vec<(String, TlsUse)>) {
    let mut frontends: BTreeMap<String, Frontend> = BTreeMap::new();
    let mut tls = Vec::new();
    for tree in files {
        let Some(section) = tree
            .root()
            .section("http")
            .and_then(|h| h.section("routers"))
        else {
            continue;
        };
        for node in section.children() {
            let Some((frontend, router_tls)) = read_router(&node, refs) else {
                continue;
            };
            if let Some(first) = frontends.get(&frontend.name) {
                tree.error(
                    node.key_location(),
                    format!(
                        "router \"{}\" is also defined at {}",
                        frontend.name, first.location
                    ),
                );
                continue;
            }
            let on = refs.on(&frontend.entry_points).to_vec();
            match router_tls {
                // The router's own TLS: on every entry point it is on.
                Some(t) => tls.push((
                    frontend.name.clone(),
                    TlsUse {
                        entry_points: on,
                        tls: t,
                    },
                )),
                // An entry point's `http.tls`: on that entry point only.
                None => {
                    for ep in on {
                        let Some(t) = refs
                            .entry_points
                            .defaults
                            .get(&ep)
                            .and_then(|d| d.tls.clone())
                        else {
                            continue;
                        };
                        tls.push((
                            frontend.name.clone(),
                            TlsUse {
                                entry_points: vec![ep],
                                tls: t,
                            },
                        ));
                    }
                }
            }
            frontends.insert(frontend.name.clone(), frontend);
        }
    }
    (frontends, tls)
}

impl Refs<'_> {
    /// The entry points a router is on: those it lists, else the defaults.
    fn on<'a>(&'a self, listed: &'a [String]) -> &'a [String] {
        if listed.is_empty() {
            self.default_entry_points
        } else {
            listed
        }
    }
}

fn read_router(node: &Node<'_>, refs: &Refs<'_>) -> Option<(Frontend, Option<RouterTls>)> {
    if !node.expect_table() {
        return None;
    }
    let rule = match node.get("rule") {
        Some(n) => n.str().map(|r| Route {
            name: "rule".to_owned(),
            rule: r.to_owned(),
            location: n.location(),
        }),
        None => {
            node.tree().error(
                node.missing_location("rule"),
                "missing: every router needs a rule, e.g. rule: \"Host(`example.com`)\"",
            );
            None
        }
    };
    if let Some(n) = node.get("ruleSyntax") {
        // Both versions' matchers are taken whatever it says.
        if let Some(s) = n.str() {
            if !matches!(s, "v2" | "v3") {
                n.error(format!("ruleSyntax {s:?}: use v2 or v3"));
            }
        }
    }
    let entry_points = match node.get("entryPoints") {
        Some(n) => {
            let list = n.str_list_located().unwrap_or_default();
            for (name, location) in &list {
                if !refs.entry_points.names.contains(name) {
                    let message = unknown_name("entry point", name, &refs.entry_points.names);
                    node.tree().error(location.clone(), message);
                }
            }
            list.into_iter().map(|(name, _)| name).collect()
        }
        None => Vec::new(),
    };
    let service = read_service_ref(node, refs);
    let priority = node.get("priority").and_then(|n| n.integer()).unwrap_or(0);
    let tls = node.get("tls").and_then(|n| read_router_tls(&n));
    if let Some(n) = node.get("observability") {
        n.read_subtree();
    }
    let mut names: Vec<(String, Location)> = Vec::new();
    // An entry point's middlewares run first, as in Traefik 2/3; a router
    // on several entry points takes those of the first that has any.
    if let Some(d) = refs
        .on(&entry_points)
        .iter()
        .filter_map(|ep| refs.entry_points.defaults.get(ep))
        .find(|d| !d.middlewares.is_empty())
    {
        names.extend(d.middlewares.iter().cloned());
    }
    if let Some(n) = node.get("middlewares") {
        names.extend(n.str_list_located().unwrap_or_default());
    }
    let applied = apply_middlewares(node, &names, refs);
    let (service, pass_host_header) = service?;
    Some((
        Frontend {
            name: node.name().to_owned(),
            backend: service,
            entry_points,
            pass_host_header,
            priority,
            routes: vec![rule?],
            rule_syntax: RuleSyntax::Traefik3,
            path_modifiers: applied.path_modifiers,
            middlewares: applied.plugins,
            basic_auth: applied.basic_auth,
            headers: (!applied.headers.is_empty()).then_some(Value::Object(applied.headers)),
            location: node.key_location(),
        },
        tls,
    ))
}

/// `service`, without a `@file` provider suffix; and its `passHostHeader`.
fn read_service_ref(node: &Node<'_>, refs: &Refs<'_>) -> Option<(String, bool)> {
    let Some(n) = node.get("service") else {
        node.tree().error(
            node.missing_location("service"),
            "missing: every router needs a service",
        );
        return None;
    };
    let written = n.str()?;
    let name = provider_name(&n, written)?;
    match refs.services.get(name) {
        Some(s) => Some((name.to_owned(), s.pass_host_header)),
        None => {
            let known = refs.services.keys().cloned().collect();
            n.error(unknown_name("service", name, &known));
            None
        }
    }
}

/// What a router's middlewares add up to.
#[derive(Default)]
struct Applied {
    basic_auth: Option<BasicAuth>,
    headers: Map<String, Value>,
    path_modifiers: Vec<crate::config::model::PathModifier>,
    plugins: Vec<(String, Location)>,
}

fn apply_middlewares(router: &Node<'_>, names: &[(String, Location)], refs: &Refs<'_>) -> Applied {
    let mut applied = Applied::default();
    let mut stack = Vec::new();
    for (name, location) in names {
        apply(router, name, location, refs, &mut stack, &mut applied);
    }
    applied
}

fn apply(
    router: &Node<'_>,
    written: &str,
    location: &Location,
    refs: &Refs<'_>,
    stack: &mut Vec<String>,
    out: &mut Applied,
) {
    let tree = router.tree();
    let name = written.strip_suffix("@file").unwrap_or(written);
    if name.contains('@') {
        tree.error(
            location.clone(),
            format!("\"{written}\": only middlewares of the file provider (@file) exist here"),
        );
        return;
    }
    let Some((middleware, _)) = refs.middlewares.get(name) else {
        if refs.plugins.contains(name) {
            out.plugins.push((name.to_owned(), location.clone()));
            return;
        }
        let mut known: BTreeSet<String> = refs.middlewares.keys().cloned().collect();
        known.extend(refs.plugins.iter().cloned());
        tree.error(location.clone(), unknown_name("middleware", name, &known));
        return;
    };
    match middleware {
        Middleware::BasicAuth(auth) => {
            if out.basic_auth.is_some() {
                tree.error(
                    location.clone(),
                    "a second basicAuth on this router: one is used per router",
                );
            }
            out.basic_auth = Some(auth.clone());
        }
        Middleware::Headers(h) => {
            for (k, v) in h {
                out.headers.insert(k.clone(), v.clone());
            }
        }
        Middleware::Path(p) => out.path_modifiers.push(p.clone()),
        Middleware::Plugin(plugin) => out.plugins.push((plugin.clone(), location.clone())),
        Middleware::Chain(list) => {
            if stack.iter().any(|s| s == name) || stack.len() > 32 {
                tree.error(
                    location.clone(),
                    format!(
                        "chain \"{name}\" includes itself ({} → {name})",
                        stack.join(" → ")
                    ),
                );
                return;
            }
            stack.push(name.to_owned());
            for (inner, inner_location) in list {
                apply(router, inner, inner_location, refs, stack, out);
            }
            stack.pop();
        }
    }
}
