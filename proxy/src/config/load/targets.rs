//! Templated backends (a tollgate extension): a server URL that names the
//! variables of its frontend's rule (`http://{device}.cams.internal:8080`),
//! and the allow-list without which such a URL is refused:
//!
//! ```toml
//! [backends.cams]
//!   allowedHosts = ["*.cams.internal"]     # the substituted host name
//!   allowedNetworks = ["10.20.0.0/16"]     # every address it resolves to
//!   resolvers = ["10.20.0.53:53"]          # optional: else the system's
//!   maxTargets = 4096                      # targets (and pools) kept at once
//!   [backends.cams.servers.s]
//!     url = "http://{device}.cams.internal:8080"
//! ```
//!
//! Why an allow-list is required: a variable comes from the request, so a
//! template without one would let any client choose where tollgate
//! connects (an open proxy, or a way into the server's own loopback
//! services).

use std::net::SocketAddr;

use std::collections::BTreeMap;

use crate::config::model::{AllowList, Backend, Frontend, DEFAULT_MAX_TARGETS};
use crate::config::tree::{Node, Tree};

use super::values::{address_list, name_server};
use crate::trust::Cidr;

/// The variable names of a templated server URL, in order, and the URL
/// with each variable replaced by a sample value (for the plain URL
/// checks); None for a URL without `{`.
pub(super) fn url_template(url: &str) -> Result<Option<(Vec<String>, String)>, String> {
    if !url.contains(['{', '}']) {
        return Ok(None);
    }
    let authority_end = url
        .split_once("://")
        .map(|(scheme, rest)| scheme.len() + 3 + rest.find(['/', '?', '#']).unwrap_or(rest.len()))
        .unwrap_or(url.len());
    if url[..url.find("://").unwrap_or(0)].contains(['{', '}'])
        || url[authority_end..].contains(['{', '}'])
    {
        return Err("variables may only stand for the host or the port".to_owned());
    }
    let mut vars = Vec::new();
    let mut sample = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err("unbalanced braces".to_owned());
        }
        sample.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or("unbalanced braces")?;
        let name = &after[..close];
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(format!(
                "\"{{{name}}}\" is not a variable: write {{name}} with the name of a variable of the frontend's rule (its pattern belongs in the rule)"
            ));
        }
        vars.push(name.to_owned());
        // A value that is a valid host label and a valid port.
        sample.push('1');
        rest = &after[close + 1..];
    }
    sample.push_str(rest);
    Ok(Some((vars, sample)))
}

/// `allowedNetworks` and `allowedHosts`; None when neither is written.
pub(super) fn read_allow_list(backend: &Node<'_>) -> Option<AllowList> {
    let networks = backend.get("allowedNetworks");
    let hosts = backend.get("allowedHosts");
    if networks.is_none() && hosts.is_none() {
        return None;
    }
    let mut allowed = AllowList::default();
    let listed = networks
        .and_then(|n| n.str_list_located())
        .unwrap_or_default();
    for (text, location) in listed {
        match Cidr::parse(&text) {
            Ok(_) => allowed.networks.push(text),
            Err(why) => backend.tree().error(location, why),
        }
    }
    let listed = hosts.and_then(|n| n.str_list_located()).unwrap_or_default();
    for (text, location) in listed {
        match check_host_pattern(&text) {
            Ok(pattern) => allowed.hosts.push(pattern),
            Err(why) => backend.tree().error(location, why),
        }
    }
    Some(allowed)
}

/// `cam1.internal` or `*.cams.internal`, lower-cased.
fn check_host_pattern(text: &str) -> Result<String, String> {
    let name = text.strip_prefix("*.").unwrap_or(text);
    let valid = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid {
        return Err(format!(
            "allowedHosts: {text:?} is not a host name or a \"*.\" pattern such as \"*.cams.internal\""
        ));
    }
    Ok(text.to_ascii_lowercase())
}

/// `resolvers = ["10.0.0.53", "[fd00::53]:5353"]` (port 53 by default).
pub(super) fn read_resolvers(backend: &Node<'_>) -> Vec<SocketAddr> {
    let Some(node) = backend.get("resolvers") else {
        return Vec::new();
    };
    address_list(&node, |text| {
        name_server(text).ok_or_else(|| {
            format!(
                "resolvers: {text:?} is not an address such as \"10.0.0.53\" or \"127.0.0.1:5353\""
            )
        })
    })
}

/// `maxTargets` (at least 1).
pub(super) fn read_max_targets(backend: &Node<'_>) -> usize {
    let Some(node) = backend.get("maxTargets") else {
        return DEFAULT_MAX_TARGETS;
    };
    match node.integer() {
        Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
        Some(n) => {
            node.error(format!("maxTargets {n}: must be at least 1"));
            DEFAULT_MAX_TARGETS
        }
        None => DEFAULT_MAX_TARGETS,
    }
}

/// A backend's templating, checked as a whole: templated URLs need an
/// allow-list and stand alone; an allow-list without one is a mistake.
pub(super) fn check_backend(
    backend: &Node<'_>,
    templated: usize,
    servers: usize,
    allowed: Option<&AllowList>,
    tunnel: bool,
) {
    match (templated, allowed) {
        (0, None) => {}
        // `tunnel://{device}` reaches only devices of [tunnels] (only they
        // can have a tunnel): no network is ever dialed.
        (_, None) if tunnel && servers == 1 => {}
        (0, Some(_)) => backend.warn(
            "allowedNetworks / allowedHosts only apply to templated server URLs \
             (\"http://{device}.cams.internal\"); this backend has none",
        ),
        (_, None) => backend.error(
            "a templated server URL needs allowedNetworks or allowedHosts: \
             without them any client could choose where tollgate connects",
        ),
        (_, Some(list)) if list.networks.is_empty() && list.hosts.is_empty() => backend
            .error("allowedNetworks and allowedHosts are both empty: nothing could be reached"),
        (_, Some(_)) if servers > 1 => backend.error(
            "a backend with a templated server URL has that one server \
             (its targets are chosen per request, not balanced)",
        ),
        _ => {}
    }
}

/// A templated URL's variables should come from its frontends' rules: a
/// variable no rule defines is a warning (each request would get 403),
/// unless the frontend has plugins, which may set it (`set_route_var`).
pub(super) fn check_frontend_vars(
    tree: &Tree,
    frontends: &BTreeMap<String, Frontend>,
    backends: &BTreeMap<String, Backend>,
) {
    for f in frontends.values() {
        let Some(backend) = backends.get(&f.backend) else {
            continue;
        };
        if !f.middlewares.is_empty() {
            continue;
        }
        let defined: Vec<String> = f.routes.iter().flat_map(|r| rule_vars(&r.rule)).collect();
        for server in &backend.servers {
            for var in server.vars.iter().filter(|v| !defined.contains(v)) {
                tree.warn(
                    f.location.clone(),
                    format!(
                        "backend {:?}'s URL uses {{{var}}}, which no rule of frontend {:?} defines \
                         (write it as {{{var}:pattern}} in a HostRegexp or Path rule): its requests get 403",
                        backend.name, f.name
                    ),
                );
            }
        }
    }
}

/// The names of the `{name}` / `{name:pattern}` variables of a rule string.
fn rule_vars(rule: &str) -> Vec<String> {
    let mut vars = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, b) in rule.bytes().enumerate() {
        match b {
            b'{' => {
                if depth == 0 {
                    start = i + 1;
                }
                depth += 1;
            }
            b'}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    let inner = &rule[start..i];
                    let name = inner.split_once(':').map_or(inner, |(n, _)| n);
                    vars.push(name.to_owned());
                }
            }
            _ => {}
        }
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_templates() {
        assert_eq!(url_template("http://127.0.0.1:80").unwrap(), None);
        let (vars, sample) = url_template("http://{device}.cams.internal:8080")
            .unwrap()
            .unwrap();
        assert_eq!(vars, ["device"]);
        assert_eq!(sample, "http://1.cams.internal:8080");
        let (vars, sample) = url_template("h2c://10.0.{net}.{host}:{port}")
            .unwrap()
            .unwrap();
        assert_eq!(vars, ["net", "host", "port"]);
        assert_eq!(sample, "h2c://10.0.1.1:1");
        for bad in [
            "http://{device:[a-z]+}.cams",
            "http://{}.cams",
            "http://{dev.cams",
            "http://dev}.cams",
            "http://cams/{path}",
            "{s}://cams",
            "http://cams?x={y}",
            "http://{a b}.cams",
        ] {
            assert!(url_template(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn variables_of_rules() {
        assert_eq!(
            rule_vars("HostRegexp:{device:[a-z]{2,8}}.cams;PathPrefix:/{site}/"),
            ["device", "site"]
        );
        assert!(rule_vars("PathPrefix:/cam").is_empty());
    }

    #[test]
    fn host_patterns() {
        assert_eq!(
            check_host_pattern("*.Cams.Internal").unwrap(),
            "*.cams.internal"
        );
        assert_eq!(
            check_host_pattern("cam1.internal").unwrap(),
            "cam1.internal"
        );
        for bad in ["*", "*.", "a..b", "*.a*.b", "a/b", "", "a b", "**.a"] {
            assert!(check_host_pattern(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod file_tests {
    use crate::config::load::tests::{errors, loaded, warnings};

    const FLEET: &str = r#"
[entryPoints.web]
address = ":8080"
[frontends.cams]
backend = "cams"
[frontends.cams.routes.r]
rule = "PathPrefixStrip:/cam/{device:[a-z0-9-]+}"
[backends.cams]
allowedHosts = ["*.Cams.Internal"]
allowedNetworks = ["10.20.0.0/16", "fd00::/8"]
resolvers = ["127.0.0.1:5353", "10.20.0.53"]
maxTargets = 100
[backends.cams.servers.s]
url = "http://{device}.cams.internal:8080"
"#;

    #[test]
    fn a_templated_backend_loads_with_its_allow_list() {
        let config = loaded(FLEET);
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let b = &config.backends["cams"];
        assert_eq!(b.servers[0].vars, ["device"]);
        assert_eq!(b.servers[0].authority, "{device}.cams.internal:8080");
        let allowed = b.allowed.as_ref().unwrap();
        assert_eq!(allowed.hosts, ["*.cams.internal"]);
        assert_eq!(allowed.networks, ["10.20.0.0/16", "fd00::/8"]);
        assert_eq!(
            b.resolvers,
            [
                "127.0.0.1:5353".parse().unwrap(),
                "10.20.0.53:53".parse().unwrap()
            ]
        );
        assert_eq!(b.max_targets, 100);
    }

    #[test]
    fn templating_without_an_allow_list_is_refused() {
        let no_list = FLEET
            .replace("allowedHosts = [\"*.Cams.Internal\"]\n", "")
            .replace("allowedNetworks = [\"10.20.0.0/16\", \"fd00::/8\"]\n", "");
        let errs = errors(&no_list);
        assert!(
            errs[0].contains("needs allowedNetworks or allowedHosts"),
            "{errs:?}"
        );
        let empty = FLEET
            .replace("[\"*.Cams.Internal\"]", "[]")
            .replace("[\"10.20.0.0/16\", \"fd00::/8\"]", "[]");
        assert!(errors(&empty)[0].contains("both empty"));
        let two = format!("{FLEET}[backends.cams.servers.t]\nurl = \"http://10.20.0.1:80\"\n");
        assert!(errors(&two)[0].contains("has that one server"));
    }

    #[test]
    fn bad_allow_lists_and_templates_name_their_key() {
        for (from, to, want) in [
            ("10.20.0.0/16", "10.20.0.0/40", "allowedNetworks[0]"),
            ("*.Cams.Internal", "*.cams/x", "allowedHosts[0]"),
            ("127.0.0.1:5353", "dns.example", "resolvers[0]"),
            ("maxTargets = 100", "maxTargets = 0", "maxTargets"),
            ("{device}.cams", "{device:[a-z]+}.cams", "url"),
            ("8080\"", "8080/{device}\"", "url"),
        ] {
            let errs = errors(&FLEET.replace(from, to));
            assert!(errs.iter().any(|e| e.contains(want)), "{to}: {errs:?}");
        }
    }

    #[test]
    fn a_variable_no_rule_defines_is_a_warning_unless_a_plugin_may_set_it() {
        let config = loaded(&FLEET.replace("{device:[a-z0-9-]+}", "cams"));
        let warned = warnings(&config);
        assert!(
            warned
                .iter()
                .any(|w| w.contains("uses {device}, which no rule")),
            "{warned:?}"
        );
    }

    #[test]
    fn a_tunnel_template_needs_no_allow_list() {
        let text = FLEET
            .replace("allowedHosts = [\"*.Cams.Internal\"]\n", "")
            .replace("allowedNetworks = [\"10.20.0.0/16\", \"fd00::/8\"]\n", "")
            .replace("resolvers = [\"127.0.0.1:5353\", \"10.20.0.53\"]\n", "")
            .replace("http://{device}.cams.internal:8080", "tunnel://{device}");
        let config = loaded(&text);
        let server = &config.backends["cams"].servers[0];
        assert_eq!(server.scheme, crate::config::model::Scheme::Tunnel);
        assert_eq!(server.vars, ["device"]);
    }

    #[test]
    fn an_allow_list_without_a_template_is_a_warning() {
        let config = loaded(&FLEET.replace("{device}", "cam1"));
        let warned = warnings(&config);
        assert!(warned[0].contains("only apply to templated"), "{warned:?}");
    }
}
