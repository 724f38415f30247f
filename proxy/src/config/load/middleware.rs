//! Reading tollgate's middleware settings: `[plugins.NAME]`, a frontend's
//! `middlewares = [...]`, and the Traefik 1.7 settings served by built-in
//! plugins (`basicAuth`, `[frontends.X.auth.basic]`, `[frontends.X.headers]`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::diagnostic::Location;
use crate::config::model::{BasicAuth, PluginConfig};
use crate::config::tree::{Format, Node, Tree};

use super::context::unknown_name;
use super::values::positive_duration;

/// `[plugins.NAME] path, timeout, memory, [config]`.
pub(super) fn read_plugins(root: &Node<'_>, config_path: &Path) -> BTreeMap<String, PluginConfig> {
    let base = config_path.parent().unwrap_or(Path::new(""));
    let Some(section) = root.section("plugins") else {
        return BTreeMap::new();
    };
    section
        .children()
        .iter()
        .filter_map(|node| read_plugin(node, base))
        .map(|p| (p.name.clone(), p))
        .collect()
}

/// `[plugins.NAME]` of the main file, then of a key-value store's document
/// (`/traefik/plugins/NAME/path`, ...), where tollgate's own section is
/// kept beside 1.7's frontends. Relative paths are the main file's. A name
/// defined in both is an error naming both places.
pub(super) fn read_all_plugins(
    root: &Node<'_>,
    dynamic: &[Tree],
    config_path: &Path,
) -> BTreeMap<String, PluginConfig> {
    let mut all = read_plugins(root, config_path);
    for tree in dynamic.iter().filter(|t| t.format() == Format::Kv) {
        for (name, p) in read_plugins(&tree.root(), config_path) {
            match all.get(&name) {
                Some(first) => tree.error(
                    p.location.clone(),
                    format!("plugin \"{name}\" is also defined at {}", first.location),
                ),
                None => {
                    all.insert(name, p);
                }
            }
        }
    }
    all
}

fn read_plugin(node: &Node<'_>, base: &Path) -> Option<PluginConfig> {
    if !node.expect_table() {
        return None;
    }
    let path = match (node.get("path"), node.get("traefikPlugin")) {
        (Some(path), None) => base.join(path.str()?),
        (None, Some(dir)) => super::traefik_plugin::wasm_of(&dir, base)?,
        (Some(_), Some(dir)) => {
            dir.error(
                "give `path` (a .wasm file) or `traefikPlugin` (a Traefik plugin folder), not both",
            );
            return None;
        }
        (None, None) => {
            node.tree().error(
                node.missing_location("path"),
                "missing: a plugin needs `path`, the .wasm file to run (or `traefikPlugin`, a \
                 Traefik plugin folder)",
            );
            return None;
        }
    };
    // A table goes to the guest as JSON, a string as its bytes.
    let mut config_keys = Vec::new();
    let config = match node.get("config") {
        None => serde_json::json!({}),
        Some(n) => match n.to_json() {
            v @ serde_json::Value::Object(_) => {
                config_locations(&n, &mut config_keys);
                v
            }
            v @ serde_json::Value::String(_) => v,
            _ => {
                n.error(format!(
                    "expected a table (given to the plugin as JSON) or a string (given as it is), \
                     found {}",
                    n.type_description()
                ));
                serde_json::json!({})
            }
        },
    };
    let timeout = node.get("timeout").and_then(|n| positive_duration(&n));
    let memory = node.get("memory").and_then(|n| read_size(&n));
    Some(PluginConfig {
        name: node.name().to_owned(),
        path,
        config,
        timeout,
        memory,
        location: node.location(),
        config_keys,
    })
}

/// The place of every key under a plugin's `config` table.
fn config_locations(table: &Node<'_>, out: &mut Vec<crate::config::Location>) {
    for child in table.children() {
        out.push(child.key_location());
        config_locations(&child, out);
    }
}

/// A size: bytes as an integer, or a string such as `"8MiB"`, `"512KB"`.
fn read_size(node: &Node<'_>) -> Option<usize> {
    if let Some(v) = node.raw_value() {
        if let Some(i) = v.as_integer() {
            return usize::try_from(i).ok().filter(|n| *n > 0).or_else(|| {
                node.error("must be a positive number of bytes");
                None
            });
        }
    }
    let text = node.str()?;
    match parse_size(text) {
        Some(n) => Some(n),
        None => {
            node.error(format!(
                "invalid size {text:?} (write bytes, or a number with KiB, MiB, GiB, KB, MB, GB)"
            ));
            None
        }
    }
}

fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num.parse().ok()?;
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "ki" => 1 << 10,
        "mib" | "mi" => 1 << 20,
        "gib" | "gi" => 1 << 30,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(scale).filter(|n| *n > 0)
}

/// `middlewares = ["a", "b"]`, each name checked against `[plugins]`.
pub(super) fn read_middlewares(
    frontend: &Node<'_>,
    plugins: &BTreeSet<String>,
) -> Vec<(String, Location)> {
    let Some(node) = frontend.get("middlewares") else {
        return Vec::new();
    };
    let list = node.str_list_located().unwrap_or_default();
    for (name, location) in &list {
        if !plugins.contains(name) {
            let message = unknown_name("plugin", name, plugins);
            frontend.tree().error(location.clone(), message);
        }
    }
    list
}

/// `basicAuth = [...]` (1.7's older form) or `[frontends.X.auth.basic]`.
pub(super) fn read_basic_auth(frontend: &Node<'_>, config_path: &Path) -> Option<BasicAuth> {
    let base = config_path.parent().unwrap_or(Path::new(""));
    let flat = frontend.get("basicAuth");
    let mut auth = flat.as_ref().and_then(|n| {
        Some(BasicAuth {
            users: n.str_list()?,
            location: Some(n.location()),
            ..BasicAuth::default()
        })
    });
    if let Some(section) = frontend.section("auth") {
        if let Some(basic) = section.section("basic") {
            let mut a = auth.take().unwrap_or_default();
            read_basic_keys(&basic, base, &mut a);
            a.location.get_or_insert_with(|| basic.location());
            auth = Some(a);
        }
        if let Some(field) = section.get("headerField") {
            if let (Some(a), Some(f)) = (auth.as_mut(), field.str()) {
                a.header_field = Some(f.to_owned());
            }
        }
        for other in ["digest", "forward"] {
            if let Some(n) = section.get(other) {
                n.read_subtree();
                n.warn(format!(
                    "{other} authentication: not yet supported, ignored"
                ));
            }
        }
    }
    if let Some(a) = &auth {
        warn_without_users(frontend, a);
    }
    auth
}

/// `users` (added to those already there), `usersFile` (relative to the
/// config's folder), `realm`, `removeHeader`: 1.7's `[auth.basic]` and
/// 2/3's `basicAuth` middleware write them alike.
pub(super) fn read_basic_keys(node: &Node<'_>, base: &Path, auth: &mut BasicAuth) {
    if let Some(users) = node.get("users").and_then(|n| n.str_list()) {
        auth.users.extend(users);
    }
    auth.users_file = node
        .get("usersFile")
        .and_then(|n| n.str().map(|s| base.join(s)));
    auth.realm = node.get("realm").and_then(|n| n.str().map(str::to_owned));
    auth.remove_header = node
        .get("removeHeader")
        .and_then(|n| n.bool())
        .unwrap_or(false);
}

/// Basic auth that nobody can pass is allowed, but said.
pub(super) fn warn_without_users(node: &Node<'_>, auth: &BasicAuth) {
    if let (true, Some(location)) = (
        auth.users.is_empty() && auth.users_file.is_none(),
        auth.location.clone(),
    ) {
        node.tree().warn(
            location,
            "basic authentication without users: every request gets 401",
        );
    }
}

/// `[frontends.X.headers]`: the whole table, for the headers plugin.
pub(super) fn read_headers(frontend: &Node<'_>) -> Option<serde_json::Value> {
    frontend.section("headers").map(|n| n.to_json())
}

#[cfg(test)]
mod tests {
    use super::parse_size;
    use crate::config::load::tests::{errors, loaded, MINIMAL};

    #[test]
    fn plugin_config_is_a_table_or_raw_bytes() {
        let with =
            |config: &str| format!("{MINIMAL}[plugins.p]\npath = \"p.wasm\"\nconfig = {config}\n");
        let table = loaded(&with("{ header = \"X-Key\" }"));
        assert_eq!(table.plugins["p"].guest_bytes(), br#"{"header":"X-Key"}"#);
        let raw = loaded(&with("\"allow 10.0.0.0/8\\ndeny all\""));
        assert_eq!(
            raw.plugins["p"].guest_bytes(),
            b"allow 10.0.0.0/8\ndeny all"
        );
        let none = loaded(&format!("{MINIMAL}[plugins.p]\npath = \"p.wasm\"\n"));
        assert_eq!(none.plugins["p"].guest_bytes(), b"{}");
        assert_eq!(
            errors(&with("42")),
            ["t.toml:12:10: plugins.p.config: expected a table (given to the plugin as JSON) or a \
              string (given as it is), found an integer"]
        );
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("8MiB"), Some(8 << 20));
        assert_eq!(parse_size("512 KiB"), Some(512 << 10));
        assert_eq!(parse_size("2MB"), Some(2_000_000));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("8 parsecs"), None);
    }
}
