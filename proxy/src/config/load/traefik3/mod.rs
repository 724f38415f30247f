//! Traefik 2 and 3's configuration, in TOML or YAML, read into the same
//! model as 1.7's: everything downstream (compiling, reloads, `check`,
//! error messages) is shared, and so is every section both dialects write
//! alike (`accessLog`, `ping`, `metrics.prometheus`, and tollgate's own
//! `plugins`).
//!
//! The static part is read from the main file: `entryPoints`,
//! `providers.file`, `certificatesResolvers`, `serversTransport`, `log`,
//! `accessLog`, `api`, `ping`, `metrics`, `experimental.localPlugins`. The dynamic part (`http`
//! and `tls`) from the main file too (one file is enough for tollgate) and
//! from the files of `providers.file`. How each part maps: a router is a
//! frontend (`routers`), a service a backend (`services`), a middleware
//! what a frontend runs (`middlewares`), TLS a property of entry points
//! (`tls`).

mod entry_points;
mod middlewares;
mod routers;
mod services;
mod tls;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::config::model::{Api, Config, EtcdProvider, FileProvider, LogConfig};
use crate::config::tree::{Node, Tree};

use super::status::{
    internal_entry_point, read_metrics, read_ping, EntryPoints as StatusEntryPoints,
};
use super::values::optional_path;

pub(super) fn read_config(tree: &Tree, dynamic: &[Tree], path: &Path) -> Config {
    let root = tree.root();
    let files: Vec<&Tree> = std::iter::once(tree).chain(dynamic).collect();
    let mut eps = entry_points::read(&root);
    let user_entry_points: Vec<String> = eps.names.iter().cloned().collect();
    let (ping, api, metrics) = {
        let mut status = StatusEntryPoints {
            all: &mut eps.all,
            names: &mut eps.names,
        };
        let ping = read_ping(&root, &mut status);
        let api = read_api(&root, &mut status);
        let metrics = read_metrics(&root, &mut status);
        (ping, api, metrics)
    };
    let local = middlewares::local_plugins(&root, path);
    let mut plugins = super::middleware::read_all_plugins(&root, dynamic, path);
    let services = services::read_all(&files);
    let (middlewares, plugin_middlewares) = middlewares::read_all(&files, &local);
    let plugin_names: BTreeSet<String> = plugins.keys().cloned().collect();
    for (name, plugin) in plugin_middlewares {
        plugins.entry(name).or_insert(plugin);
    }
    let refs = routers::Refs {
        entry_points: &eps,
        default_entry_points: &user_entry_points,
        services: &services,
        middlewares: &middlewares,
        plugins: &plugin_names,
    };
    let (frontends, tls_uses) = routers::read_all(&files, &refs);
    let tls_section = tls::read_all(&files);
    let acme = tls::apply(&root, path, &mut eps, &tls_uses, &tls_section);
    let grace_timeout = eps
        .defaults
        .values()
        .filter_map(|d| d.grace)
        .max()
        .unwrap_or(Duration::from_secs(10));
    let (file, etcd) = read_providers(&root, path);
    // `serversTransport` holds what 1.7 wrote at the top level, by the
    // same names (`rootCAs`, `insecureSkipVerify`, `maxIdleConnsPerHost`,
    // `forwardingTimeouts`).
    let transport = root.section("serversTransport");
    let backend_tls = transport
        .as_ref()
        .map(|t| super::globals::read_backend_tls(t, path))
        .unwrap_or_default();
    let forwarding_timeouts = transport
        .as_ref()
        .map(super::globals::read_forwarding_timeouts)
        .unwrap_or_default();
    let backends = services
        .into_iter()
        .map(|(name, s)| (name, s.backend))
        .collect();
    // tollgate's device tunnels, in the static file as in 1.7's.
    let tunnels = super::tunnels::read_tunnels(&root, &eps.all, path);
    super::tunnels::check_tunnel_backends(tree, &backends, tunnels.as_ref());
    super::tunnels::check_tunnel_cluster(tree, tunnels.as_ref(), etcd.is_some());
    Config {
        source: path.to_path_buf(),
        default_entry_points: user_entry_points,
        entry_points: eps.all,
        frontends,
        backends,
        log: read_log(&root),
        access_log: super::access_log::read_access_log(&root),
        responding_timeouts: Default::default(),
        forwarding_timeouts,
        grace_timeout,
        backend_tls,
        ping,
        api,
        metrics,
        plugins,
        acme,
        tunnels,
        file,
        etcd,
        dynamic_files: Vec::new(),
        dialects: Vec::new(),
        source_digest: 0,
        warnings: Vec::new(),
    }
}

/// `log`: `level`, `filePath`, `format`.
fn read_log(root: &Node<'_>) -> LogConfig {
    let Some(section) = root.section("log") else {
        return LogConfig::default();
    };
    LogConfig {
        file_path: section.get("filePath").and_then(|n| optional_path(&n)),
        format: section
            .get("format")
            .and_then(|n| super::globals::read_log_format(&n))
            .unwrap_or_default(),
        level: section
            .get("level")
            .and_then(|n| super::globals::read_log_level(&n)),
    }
}

/// `api`: served on the `traefik` entry point (`:8080`) with `insecure`,
/// as Traefik does; `dashboard` (true). Without `insecure` Traefik serves
/// it only through a router to `api@internal`, which tollgate does not
/// have: it says so.
fn read_api(root: &Node<'_>, eps: &mut StatusEntryPoints<'_>) -> Option<Api> {
    let section = root.section("api")?;
    let dashboard = section
        .get("dashboard")
        .and_then(|n| n.bool())
        .unwrap_or(true);
    let _ = section.get("debug").and_then(|n| n.bool());
    let insecure = section
        .get("insecure")
        .and_then(|n| n.bool())
        .unwrap_or(false);
    if !insecure {
        section.warn(
            "the API is served only with insecure: true (on the traefik entry point, behind \
             its own basic auth if you add one); routers to api@internal are not supported",
        );
        return None;
    }
    Some(Api {
        entry_point: internal_entry_point(&section, eps),
        dashboard,
        recent_errors: 10,
    })
}

/// `providers.file` (`filename`, `directory`, `watch`, true by default)
/// and `providers.etcd`; other providers are reported.
fn read_providers(root: &Node<'_>, path: &Path) -> (Option<FileProvider>, Option<EtcdProvider>) {
    let Some(section) = root.section("providers") else {
        return (None, None);
    };
    let mut file = None;
    let mut etcd = None;
    for provider in section.children() {
        match provider.name() {
            "file" => {
                file = Some(FileProvider {
                    watch: provider.get("watch").and_then(|n| n.bool()).unwrap_or(true),
                    filename: provider.get("filename").and_then(|n| optional_path(&n)),
                    directory: provider.get("directory").and_then(|n| optional_path(&n)),
                });
                if let Some(n) = provider.get("debugLogGeneratedTemplate") {
                    let _ = n.bool();
                }
            }
            "etcd" => etcd = super::etcd::read_etcd_v3(&provider, path),
            "providersThrottleDuration" => {
                let _ = super::values::duration(&provider);
            }
            other => {
                provider.read_subtree();
                provider.warn(format!(
                    "the {other} provider is not supported: tollgate reads files \
                     (providers.file) and etcd (providers.etcd)"
                ));
            }
        }
    }
    (file, etcd)
}

/// A reference to another object, without the `@file` suffix; other
/// providers' objects do not exist here.
fn provider_name<'a>(node: &Node<'_>, written: &'a str) -> Option<&'a str> {
    match written.split_once('@') {
        None => Some(written),
        Some((name, "file")) => Some(name),
        Some((_, provider)) => {
            node.error(format!(
                "\"{written}\": objects of the {provider} provider do not exist in tollgate, \
                 only those of its files (@file)"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests;
