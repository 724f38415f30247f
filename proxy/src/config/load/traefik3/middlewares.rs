//! `http.middlewares`, as what a 1.7 frontend has: `basicAuth` as its basic
//! auth; `headers` and `redirectScheme` as its headers (the built-in
//! headers plugin; `redirectScheme` is its SSL redirect); `stripPrefix`,
//! `stripPrefixRegex`, `addPrefix`, `replacePath`, `replacePathRegex` as
//! its path modifiers; `plugin` as a wasm plugin; `chain` as the
//! middlewares it lists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config::diagnostic::Location;
use crate::config::model::{BasicAuth, PathModifier, PluginConfig};
use crate::config::tree::{Node, Tree};

use super::super::middleware::{read_basic_keys, warn_without_users};

/// One middleware, read.
#[derive(Debug, Clone)]
pub(super) enum Middleware {
    BasicAuth(BasicAuth),
    /// Keys for the headers plugin (1.7's names, which Traefik 3 kept).
    Headers(Map<String, Value>),
    Path(PathModifier),
    /// A wasm plugin (`config.plugins`' key).
    Plugin(String),
    Chain(Vec<(String, Location)>),
}

/// Headers keys the headers plugin knows, lower-case.
const HEADERS_KEYS: &[&str] = &[
    "customrequestheaders",
    "customresponseheaders",
    "allowedhosts",
    "hostsproxyheaders",
    "sslredirect",
    "ssltemporaryredirect",
    "sslhost",
    "sslforcehost",
    "sslproxyheaders",
    "stsseconds",
    "stsincludesubdomains",
    "stspreload",
    "forcestsheader",
    "framedeny",
    "customframeoptionsvalue",
    "contenttypenosniff",
    "browserxssfilter",
    "custombrowserxssvalue",
    "contentsecuritypolicy",
    "publickey",
    "referrerpolicy",
    "isdevelopment",
];

/// `experimental.localPlugins.NAME.moduleName`: Traefik's local plugin
/// folders, `plugins-local/src/<moduleName>` next to the main file.
pub(super) fn local_plugins(root: &Node<'_>, main: &Path) -> BTreeMap<String, (PathBuf, Location)> {
    let base = main.parent().unwrap_or(Path::new(""));
    let mut found = BTreeMap::new();
    let Some(section) = root.section("experimental") else {
        return found;
    };
    for kind in [
        "plugins",
        "http3",
        "fastProxy",
        "otlpLogs",
        "kubernetesGateway",
    ] {
        if let Some(n) = section.get(kind) {
            n.read_subtree();
            n.warn(format!("experimental.{kind}: not supported, ignored"));
        }
    }
    let Some(local) = section.section("localPlugins") else {
        return found;
    };
    for plugin in local.children() {
        let Some(module) = plugin.get("moduleName") else {
            plugin.tree().error(
                plugin.missing_location("moduleName"),
                "missing: the plugin's module, its folder under plugins-local/src/",
            );
            continue;
        };
        if let Some(module_name) = module.str() {
            let dir = base.join("plugins-local/src").join(module_name);
            found.insert(plugin.name().to_owned(), (dir, module.location()));
        }
        if let Some(n) = plugin.get("settings") {
            n.read_subtree();
        }
    }
    found
}

/// Every file's middlewares by name, and the plugins they load (one per
/// `plugin` middleware, named after it).
pub(super) fn read_all(
    files: &[&Tree],
    local: &BTreeMap<String, (PathBuf, Location)>,
) -> (
    BTreeMap<String, (Middleware, Location)>,
    BTreeMap<String, PluginConfig>,
) {
    let mut all: BTreeMap<String, (Middleware, Location)> = BTreeMap::new();
    let mut plugins = BTreeMap::new();
    for tree in files {
        let Some(section) = tree
            .root()
            .section("http")
            .and_then(|h| h.section("middlewares"))
        else {
            continue;
        };
        for node in section.children() {
            let Some(m) = read_middleware(&node, local, &mut plugins) else {
                continue;
            };
            let name = node.name().to_owned();
            match all.get(&name) {
                Some((_, first)) => tree.error(
                    node.key_location(),
                    format!("middleware \"{name}\" is also defined at {first}"),
                ),
                None => {
                    all.insert(name, (m, node.key_location()));
                }
            }
        }
    }
    (all, plugins)
}

fn read_middleware(
    node: &Node<'_>,
    local: &BTreeMap<String, (PathBuf, Location)>,
    plugins: &mut BTreeMap<String, PluginConfig>,
) -> Option<Middleware> {
    if !node.expect_table() {
        return None;
    }
    let kinds = node.children();
    let [kind] = kinds.as_slice() else {
        node.error("a middleware has exactly one kind, e.g. basicAuth: {users: [...]}");
        return None;
    };
    let base = node
        .tree()
        .file()
        .parent()
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let path_of = |n: &Node<'_>, key: &'static str| -> Option<String> {
        match n.get(key) {
            Some(v) => v.str().map(str::to_owned),
            None => {
                n.tree()
                    .error(n.missing_location(key), format!("missing: {key}"));
                None
            }
        }
    };
    let list_of = |n: &Node<'_>, key: &'static str| -> Option<Vec<String>> {
        match n.get(key) {
            Some(v) => v.str_list(),
            None => {
                n.tree()
                    .error(n.missing_location(key), format!("missing: {key}"));
                None
            }
        }
    };
    let name = kind.name();
    Some(match name.to_ascii_lowercase().as_str() {
        "basicauth" => Middleware::BasicAuth(read_basic_auth(kind, &base)),
        "headers" => Middleware::Headers(read_headers(kind)),
        "redirectscheme" => Middleware::Headers(read_redirect_scheme(kind)?),
        "stripprefix" => {
            let prefixes = list_of(kind, "prefixes")?;
            if let Some(n) = kind.get("forceSlash") {
                let _ = n.bool();
            }
            Middleware::Path(PathModifier::StripPrefix(prefixes))
        }
        "stripprefixregex" => {
            Middleware::Path(PathModifier::StripPrefixRegex(list_of(kind, "regex")?))
        }
        "addprefix" => Middleware::Path(PathModifier::AddPrefix(path_of(kind, "prefix")?)),
        "replacepath" => Middleware::Path(PathModifier::ReplacePath(path_of(kind, "path")?)),
        "replacepathregex" => {
            let regex = path_of(kind, "regex");
            let replacement = path_of(kind, "replacement");
            Middleware::Path(PathModifier::ReplacePathRegex {
                regex: regex?,
                replacement: replacement?,
            })
        }
        "chain" => Middleware::Chain(
            kind.get("middlewares")
                .and_then(|n| n.str_list_located())
                .unwrap_or_default(),
        ),
        "plugin" => {
            let plugin = read_plugin(node, kind, local)?;
            let key = plugin.name.clone();
            plugins.insert(key.clone(), plugin);
            Middleware::Plugin(key)
        }
        _ => {
            kind.read_subtree();
            kind.error(format!(
                "middleware kind \"{name}\" is not supported yet (supported: basicAuth, headers, \
                 redirectScheme, stripPrefix, stripPrefixRegex, addPrefix, replacePath, \
                 replacePathRegex, chain, plugin)"
            ));
            return None;
        }
    })
}

/// `users`, `usersFile`, `realm`, `removeHeader`, `headerField`.
fn read_basic_auth(node: &Node<'_>, base: &Path) -> BasicAuth {
    let mut auth = BasicAuth {
        location: Some(node.location()),
        ..BasicAuth::default()
    };
    read_basic_keys(node, base, &mut auth);
    auth.header_field = node
        .get("headerField")
        .and_then(|n| n.str().map(str::to_owned));
    warn_without_users(node, &auth);
    auth
}

/// The table for the headers plugin; keys it does not know are reported
/// (a few of Traefik 3's are not supported yet).
fn read_headers(node: &Node<'_>) -> Map<String, Value> {
    let mut out = Map::new();
    for child in node.children() {
        let key = child.name().to_ascii_lowercase();
        if HEADERS_KEYS.contains(&key.as_str()) {
            out.insert(child.name().to_owned(), child.to_json());
        } else {
            child.read_subtree();
            child.warn(format!(
                "headers.{}: not supported yet, ignored",
                child.name()
            ));
        }
    }
    out
}

/// `scheme` (https), `port`, `permanent` (false, as in Traefik 2/3): the
/// headers plugin's SSL redirect.
fn read_redirect_scheme(node: &Node<'_>) -> Option<Map<String, Value>> {
    let scheme = node
        .get("scheme")
        .and_then(|n| n.str().map(str::to_ascii_lowercase));
    if scheme.as_deref() != Some("https") {
        node.error("redirectScheme: only scheme: https is supported");
        return None;
    }
    let permanent = node
        .get("permanent")
        .and_then(|n| n.bool())
        .unwrap_or(false);
    let port = match node.get("port") {
        None => 0,
        Some(n) => {
            let text = match n.raw_value().map(|v| &v.data) {
                Some(crate::config::tree::Data::Integer(i)) => i.to_string(),
                _ => n.str().unwrap_or_default().to_owned(),
            };
            match text.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => {
                    n.error(format!("port {text:?}: expected a number from 1 to 65535"));
                    return None;
                }
            }
        }
    };
    let mut out = Map::new();
    out.insert("sslRedirect".into(), true.into());
    out.insert("sslTemporaryRedirect".into(), (!permanent).into());
    out.insert("sslPort".into(), port.into());
    Some(out)
}

/// `plugin: {NAME: {options}}`, NAME a local plugin of
/// `experimental.localPlugins`; the options reach it as JSON, as in Traefik.
fn read_plugin(
    middleware: &Node<'_>,
    kind: &Node<'_>,
    local: &BTreeMap<String, (PathBuf, Location)>,
) -> Option<PluginConfig> {
    let entries = kind.children();
    let [plugin] = entries.as_slice() else {
        kind.error("plugin: name one plugin, e.g. plugin: {my-plugin: {option: value}}");
        return None;
    };
    let Some((dir, _)) = local.get(plugin.name()) else {
        let known = local.keys().cloned().collect();
        plugin.error(super::super::context::unknown_name(
            "local plugin (experimental.localPlugins)",
            plugin.name(),
            &known,
        ));
        plugin.read_subtree();
        return None;
    };
    let path = match super::super::traefik_plugin::wasm_in(dir) {
        Ok(path) => path,
        Err(why) => {
            plugin.error(why);
            plugin.read_subtree();
            return None;
        }
    };
    let mut config_keys = Vec::new();
    for child in plugin.children() {
        config_keys.push(child.key_location());
    }
    let config = match plugin.to_json() {
        Value::Null => Value::Object(Map::new()),
        other => other,
    };
    Some(PluginConfig {
        name: middleware.name().to_owned(),
        path,
        config,
        timeout: None,
        memory: None,
        location: middleware.location(),
        config_keys,
    })
}
