//! `[tunnels]` (a tollgate extension): devices that dial in with
//! `tollgate agent` instead of an SSH tunnel.
//!
//! ```toml
//! [entryPoints.tunnels]
//! address = ":4443"
//!   [entryPoints.tunnels.tls]
//!     [[entryPoints.tunnels.tls.certificates]]
//!     certFile = "tunnels.crt"
//!     keyFile = "tunnels.key"
//! [tunnels]
//! entryPoint = "tunnels"
//!   [tunnels.devices.zumi01]
//!   tokenHash = "$2b$10$..."   # tollgate tunnel-token zumi01
//! [backends.zumi01.servers.s]
//! url = "tunnel://zumi01"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::model::{
    valid_device_name, Backend, EntryPoint, PemSource, Scheme, TunnelCluster, TunnelsConfig,
};
use crate::config::tree::{Node, Tree};

use super::entry_points::tls_entry_point;

/// A bcrypt hash (`$2a$`, `$2b$`, `$2y$`, 60 characters).
fn valid_hash(hash: &str) -> bool {
    hash.len() == 60 && ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

pub(super) fn read_tunnels(
    root: &Node<'_>,
    entry_points: &BTreeMap<String, EntryPoint>,
    config_path: &Path,
) -> Option<TunnelsConfig> {
    let section = root.section("tunnels")?;
    let entry_point = tls_entry_point(&section, entry_points, "the TLS entry point agents dial")?;
    let mut devices = BTreeMap::new();
    for device in section
        .section("devices")
        .map(|n| n.children())
        .unwrap_or_default()
    {
        let name = device.name();
        if !valid_device_name(name) {
            device.error(format!(
                "device name {name:?}: lower-case letters, digits, - and _ (at most 63)"
            ));
            continue;
        }
        let Some(hash) = device.get("tokenHash") else {
            device.tree().error(
                device.missing_location("tokenHash"),
                "missing: the bcrypt hash of the device's token (tollgate tunnel-token NAME prints both)",
            );
            continue;
        };
        let Some(text) = hash.str() else { continue };
        if !valid_hash(text) {
            hash.error("not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)");
            continue;
        }
        devices.insert(name.to_owned(), text.to_owned());
    }
    Some(TunnelsConfig {
        entry_point,
        devices,
        cluster: section
            .section("cluster")
            .and_then(|n| read_cluster(&n, config_path)),
        location: section.location(),
    })
}

/// `[tunnels.cluster]`: `advertise`, `token`, `ca`, `serverName`. Needs
/// `[etcd]` (checked by `check_tunnel_cluster`).
fn read_cluster(node: &Node<'_>, config_path: &Path) -> Option<TunnelCluster> {
    let advertise = match node.get("advertise") {
        Some(n) => {
            let text = n.str()?;
            let ok = text.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !ok {
                n.error(format!("advertise {text:?}: expected host:port (where the other instances reach this one's tunnel entry point)"));
                return None;
            }
            text.to_owned()
        }
        None => {
            node.tree().error(
                node.missing_location("advertise"),
                "missing: host:port where the other instances reach this one's tunnel entry point",
            );
            return None;
        }
    };
    let token = match node.get("token") {
        Some(n) => {
            let text = n.str()?;
            if text.len() < 32 || !text.bytes().all(|b| b.is_ascii_graphic()) {
                n.error("the cluster token must be at least 32 printable characters (tollgate tunnel-token cluster prints one)");
                return None;
            }
            text.to_owned()
        }
        None => {
            node.tree().error(
                node.missing_location("token"),
                "missing: the token the instances share (tollgate tunnel-token cluster prints one)",
            );
            return None;
        }
    };
    let base = config_path.parent().unwrap_or(Path::new(""));
    Some(TunnelCluster {
        advertise,
        token,
        ca: node
            .get("ca")
            .and_then(|n| n.str().map(|s| PemSource::from_config(s, base))),
        server_name: node
            .get("serverName")
            .and_then(|n| n.str().map(str::to_owned)),
    })
}

/// `[tunnels.cluster]` finds the other instances in etcd.
pub(super) fn check_tunnel_cluster(tree: &Tree, tunnels: Option<&TunnelsConfig>, etcd: bool) {
    if let Some(t) = tunnels.filter(|t| t.cluster.is_some() && !etcd) {
        tree.error(
            t.location.clone(),
            "[tunnels.cluster] needs [etcd]: the instances find each other's devices there",
        );
    }
}

/// Every `tunnel://NAME` server names a device of `[tunnels]`.
pub(super) fn check_tunnel_backends(
    tree: &Tree,
    backends: &BTreeMap<String, Backend>,
    tunnels: Option<&TunnelsConfig>,
) {
    for server in backends.values().flat_map(|b| &b.servers) {
        if server.scheme != Scheme::Tunnel || !server.vars.is_empty() {
            continue;
        }
        let device = server.authority.as_str();
        match tunnels {
            None => tree.error(
                server.location.clone(),
                format!("tunnel://{device}: there is no [tunnels] section"),
            ),
            Some(t) if !t.devices.contains_key(device) => tree.error(
                server.location.clone(),
                format!("tunnel://{device}: no [tunnels.devices.{device}]"),
            ),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load::tests::{errors, loaded};

    const HASH: &str = "$2b$10$abcdefghijklmnopqrstuu5rJ3B2pb4WlTf2ftwbv.J5bH1xVzS3u";

    fn config(tunnels: &str, url: &str) -> String {
        format!(
            r#"
[entryPoints.web]
address = ":8080"
[entryPoints.tunnels]
address = ":4443"
  [entryPoints.tunnels.tls]
    [[entryPoints.tunnels.tls.certificates]]
    certFile = "c.crt"
    keyFile = "c.key"
{tunnels}
[frontends.f]
backend = "b"
  [frontends.f.routes.r]
  rule = "PathPrefix:/"
[backends.b.servers.s]
url = "{url}"
"#
        )
    }

    #[test]
    fn devices_and_tunnel_backends() {
        let text = config(
            &format!("[tunnels]\nentryPoint = \"tunnels\"\n  [tunnels.devices.zumi01]\n  tokenHash = \"{HASH}\"\n"),
            "tunnel://zumi01",
        );
        let config = loaded(&text);
        let t = config.tunnels.as_ref().unwrap();
        assert_eq!(t.entry_point, "tunnels");
        assert_eq!(t.devices["zumi01"], HASH);
        let server = &config.backends["b"].servers[0];
        assert_eq!(server.scheme, crate::config::model::Scheme::Tunnel);
        assert_eq!(server.authority, "zumi01");
    }

    #[test]
    fn a_cluster_needs_etcd_an_address_and_a_long_token() {
        let good = format!(
            "[tunnels]\nentryPoint = \"tunnels\"\n  [tunnels.devices.zumi01]\n  tokenHash = \"{HASH}\"\n  [tunnels.cluster]\n  advertise = \"10.0.0.1:4443\"\n  token = \"{}\"\n  ca = \"ca.pem\"\n[etcd]\n",
            "t".repeat(32)
        );
        let loaded = loaded(&config(&good, "tunnel://zumi01"));
        let cluster = loaded.tunnels.unwrap().cluster.unwrap();
        assert_eq!(cluster.advertise, "10.0.0.1:4443");
        assert!(cluster.ca.is_some() && cluster.server_name.is_none());
        for (from, to, want) in [
            ("[etcd]\n", "", "[tunnels.cluster] needs [etcd]"),
            ("10.0.0.1:4443", "10.0.0.1", "expected host:port"),
            (
                &"t".repeat(32)[..],
                "short",
                "at least 32 printable characters",
            ),
        ] {
            let errs = errors(&config(&good.replace(from, to), "tunnel://zumi01"));
            assert!(errs.iter().any(|e| e.contains(want)), "{want}: {errs:?}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        let tunnels = format!("[tunnels]\nentryPoint = \"tunnels\"\n  [tunnels.devices.zumi01]\n  tokenHash = \"{HASH}\"\n");
        for (tunnels, url, want) in [
            (
                tunnels.clone(),
                "tunnel://zumi02",
                "no [tunnels.devices.zumi02]",
            ),
            (
                String::new(),
                "tunnel://zumi01",
                "there is no [tunnels] section",
            ),
            (
                tunnels.replace("\"tunnels\"", "\"web\""),
                "tunnel://zumi01",
                "has no [entryPoints.web.tls]",
            ),
            (
                tunnels.replace(HASH, "plain-token"),
                "http://127.0.0.1:1",
                "not a bcrypt hash",
            ),
            (
                tunnels.replace("zumi01]", "Zumi01]"),
                "http://127.0.0.1:1",
                "device name \"Zumi01\"",
            ),
            (tunnels.clone(), "tunnel://zumi01:8080", "port"),
            (tunnels.clone(), "tunnel://Zumi01", "device name"),
        ] {
            let errs = errors(&config(&tunnels, url));
            assert!(errs.iter().any(|e| e.contains(want)), "{want}: {errs:?}");
        }
    }
}
