//! `[frontends.NAME]` of the main file and of the `[file]` provider's files:
//! `backend`, `entryPoints`, `passHostHeader`, `priority` and
//! `[routes.NAME] rule`; its middleware settings are read by `middleware`.

use std::collections::BTreeMap;

use crate::config::model::{Frontend, Route, RuleSyntax};
use crate::config::tree::{Node, Tree};

use super::context::{check_entry_point_refs, unknown_name, Names};
use super::unsupported::{warn_unsupported, FRONTEND_UNSUPPORTED};
use super::values::non_negative;

/// Frontends of the main file and of every `[file]` provider file. A name
/// defined in two files is an error naming both places.
pub(super) fn read_all_frontends(
    root: &Node<'_>,
    dynamic: &[Tree],
    names: &Names,
) -> BTreeMap<String, Frontend> {
    let mut all = read_frontends(root, names);
    for tree in dynamic {
        for (name, f) in read_frontends(&tree.root(), names) {
            match all.get(&name) {
                Some(first) => tree.error(
                    f.location.clone(),
                    format!("frontend \"{name}\" is also defined at {}", first.location),
                ),
                None => {
                    all.insert(name, f);
                }
            }
        }
    }
    all
}

fn read_frontends(root: &Node<'_>, names: &Names) -> BTreeMap<String, Frontend> {
    let children = root
        .section("frontends")
        .map(|n| n.children())
        .unwrap_or_default();
    children
        .iter()
        .filter_map(|n| read_frontend(n, names))
        .map(|f| (f.name.clone(), f))
        .collect()
}

fn read_frontend(node: &Node<'_>, names: &Names) -> Option<Frontend> {
    if !node.expect_table() {
        return None;
    }
    // Read every key before giving up on a bad one, so that all the
    // frontend's problems are reported in one pass.
    let backend = read_backend_ref(node, names);
    let entry_points = node
        .get("entryPoints")
        .and_then(|n| n.str_list_located())
        .unwrap_or_default();
    check_entry_point_refs(node, &entry_points, names);
    let pass_host_header = node
        .get("passHostHeader")
        .and_then(|n| n.bool())
        .unwrap_or(true);
    let priority = node
        .get("priority")
        .and_then(|n| non_negative(&n))
        .unwrap_or(0);
    let routes = read_routes(node);
    let middlewares = super::middleware::read_middlewares(node, &names.plugins);
    let basic_auth = super::middleware::read_basic_auth(node, node.tree().file());
    let headers = super::middleware::read_headers(node);
    warn_unsupported(node, FRONTEND_UNSUPPORTED);
    Some(Frontend {
        name: node.name().to_owned(),
        backend: backend?,
        entry_points: entry_points.into_iter().map(|(name, _)| name).collect(),
        pass_host_header,
        priority,
        routes: routes?,
        rule_syntax: RuleSyntax::Traefik1,
        path_modifiers: Vec::new(),
        middlewares,
        basic_auth,
        headers,
        location: node.location(),
    })
}

fn read_backend_ref(frontend: &Node<'_>, names: &Names) -> Option<String> {
    let Some(node) = frontend.get("backend") else {
        frontend.tree().error(
            frontend.missing_location("backend"),
            "missing: every frontend needs a backend",
        );
        return None;
    };
    let name = node.str()?;
    if !names.backends.contains(name) {
        node.error(unknown_name("backend", name, &names.backends));
        return None;
    }
    Some(name.to_owned())
}

/// The frontend's routes in name order; `None` when one of them is bad.
fn read_routes(frontend: &Node<'_>) -> Option<Vec<Route>> {
    let children = frontend
        .section("routes")
        .map(|n| n.children())
        .unwrap_or_default();
    if children.is_empty() {
        frontend
            .warn("frontend has no routes: add [routes.NAME] with a rule such as \"PathPrefix:/\"");
    }
    let parsed: Vec<Option<Route>> = children.iter().map(read_route).collect();
    let mut routes: Vec<Route> = parsed.into_iter().collect::<Option<_>>()?;
    routes.sort_by(|a, b| a.name.cmp(&b.name));
    Some(routes)
}

fn read_route(node: &Node<'_>) -> Option<Route> {
    if !node.expect_table() {
        return None;
    }
    let Some(rule) = node.get("rule") else {
        node.tree().error(
            node.missing_location("rule"),
            "missing: every route needs a rule such as \"PathPrefix:/app\"",
        );
        return None;
    };
    let text = rule.str()?;
    if text.trim().is_empty() {
        rule.error("empty rule");
        return None;
    }
    Some(Route {
        name: node.name().to_owned(),
        rule: text.to_owned(),
        location: rule.location(),
    })
}
