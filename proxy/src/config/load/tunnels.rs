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

use crate::config::model::{valid_device_name, Backend, EntryPoint, Scheme, TunnelsConfig};
use crate::config::tree::{Node, Tree};

use super::entry_points::tls_entry_point;

/// A bcrypt hash (`$2a$`, `$2b$`, `$2y$`, 60 characters).
fn valid_hash(hash: &str) -> bool {
    hash.len() == 60 && ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

pub(super) fn read_tunnels(
    root: &Node<'_>,
    entry_points: &BTreeMap<String, EntryPoint>,
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
        location: section.location(),
    })
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
