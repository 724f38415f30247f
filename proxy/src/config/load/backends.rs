//! `[backends.NAME]` of the main file and of the `[file]` provider's files:
//! `[servers.NAME]` (`url`, `weight`), `[loadBalancer]`, `[maxConn]`,
//! `[responseForwarding]` and `[healthCheck]`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;
use std::time::Duration;

use crate::config::model::{
    Backend, Extractor, HealthCheck, LoadBalancerMethod, MaxConn, Scheme, Server,
};
use crate::config::tree::{Node, Tree};

use super::context::Globals;
use super::targets;
use super::unsupported::{warn_unsupported, BACKEND_UNSUPPORTED, LOAD_BALANCER_UNSUPPORTED};
use super::values::{duration, host_without_zone, positive_duration, u32_value, zero_is_none};

/// Backends of the main file and of every `[file]` provider file; see
/// [`read_all_frontends`](super::frontends::read_all_frontends) for duplicates.
pub(super) fn read_all_backends(
    root: &Node<'_>,
    dynamic: &[Tree],
    globals: &Globals,
) -> (BTreeMap<String, Backend>, BTreeSet<String>) {
    let (mut all, mut names) = read_backends(root, globals);
    for tree in dynamic {
        let (backends, more) = read_backends(&tree.root(), globals);
        names.extend(more);
        for (name, b) in backends {
            match all.get(&name) {
                Some(first) => tree.error(
                    b.location.clone(),
                    format!("backend \"{name}\" is also defined at {}", first.location),
                ),
                None => {
                    all.insert(name, b);
                }
            }
        }
    }
    (all, names)
}

fn read_backends(
    root: &Node<'_>,
    globals: &Globals,
) -> (BTreeMap<String, Backend>, BTreeSet<String>) {
    let children = root
        .section("backends")
        .map(|n| n.children())
        .unwrap_or_default();
    let names = children.iter().map(|n| n.name().to_owned()).collect();
    let backends = children
        .iter()
        .filter_map(|n| read_backend(n, globals))
        .map(|b| (b.name.clone(), b))
        .collect();
    (backends, names)
}

fn read_backend(node: &Node<'_>, globals: &Globals) -> Option<Backend> {
    if !node.expect_table() {
        return None;
    }
    let servers = read_servers(node, globals);
    let load_balancer = node
        .section("loadBalancer")
        .and_then(|n| read_load_balancer(&n))
        .unwrap_or_default();
    let max_conn = node.section("maxConn").and_then(|n| read_max_conn(&n));
    let flush_interval = node
        .section("responseForwarding")
        .and_then(|n| n.get("flushInterval"))
        .and_then(|n| duration(&n));
    let health_check = node
        .section("healthCheck")
        .and_then(|n| read_health_check(&n, globals));
    let max_request_body = node.section("buffering").and_then(|n| read_buffering(&n));
    let allowed = targets::read_allow_list(node);
    let resolvers = targets::read_resolvers(node);
    let max_targets = targets::read_max_targets(node);
    warn_unsupported(node, BACKEND_UNSUPPORTED);
    let servers = servers?;
    let templated = servers.iter().filter(|s| !s.vars.is_empty()).count();
    let tunnel = servers.iter().any(|s| s.scheme == Scheme::Tunnel);
    targets::check_backend(node, templated, servers.len(), allowed.as_ref(), tunnel);
    if templated > 0 && health_check.is_some() {
        node.warn(
            "healthCheck is not run on templated servers (their targets are chosen per request)",
        );
    }
    Some(Backend {
        name: node.name().to_owned(),
        servers,
        load_balancer,
        max_conn,
        flush_interval,
        health_check,
        max_request_body,
        allowed,
        resolvers,
        max_targets,
        location: node.location(),
    })
}

/// `[buffering]`: `maxRequestBodyBytes` (0: no limit, as in 1.7). tollgate
/// streams bodies both ways, so the keys about buffering itself are
/// accepted with a warning.
fn read_buffering(node: &Node<'_>) -> Option<u64> {
    for key in [
        "memRequestBodyBytes",
        "maxResponseBodyBytes",
        "memResponseBodyBytes",
        "retryExpression",
    ] {
        if let Some(n) = node.get(key) {
            n.read_subtree();
            n.warn(format!(
                "{key}: not yet supported, ignored (bodies are streamed)"
            ));
        }
    }
    node.get("maxRequestBodyBytes")
        .and_then(|n| zero_is_none(&n))
}

/// The backend's servers in name order; `None` when one of them is bad.
fn read_servers(backend: &Node<'_>, globals: &Globals) -> Option<Vec<Server>> {
    let children = backend
        .section("servers")
        .map(|n| n.children())
        .unwrap_or_default();
    if children.is_empty() {
        // Allowed by 1.7: the backend answers 503 until it has servers.
        backend.warn("backend has no servers: requests routed to it get 503 Service Unavailable");
    }
    let parsed: Vec<Option<Server>> = children.iter().map(|n| read_server(n, globals)).collect();
    let mut servers: Vec<Server> = parsed.into_iter().collect::<Option<_>>()?;
    servers.sort_by(|a, b| a.name.cmp(&b.name));
    Some(servers)
}

pub(super) fn read_server(node: &Node<'_>, globals: &Globals) -> Option<Server> {
    if !node.expect_table() {
        return None;
    }
    let weight = node
        .get("weight")
        .and_then(|n| read_weight(&n, globals))
        .unwrap_or(1);
    let Some(url_node) = node.get("url") else {
        node.tree().error(
            node.missing_location("url"),
            "missing: every server needs a url such as \"http://127.0.0.1:8080\"",
        );
        return None;
    };
    let url = url_node.str()?;
    let (vars, checked) = match targets::url_template(url) {
        Ok(Some((vars, sample))) => (vars, sample),
        Ok(None) => (Vec::new(), url.to_owned()),
        Err(why) => {
            url_node.error(format!("invalid server URL \"{url}\": {why}"));
            return None;
        }
    };
    let parsed = match parse_server_url(&checked) {
        Ok(parsed) => parsed,
        Err(why) => {
            url_node.error(format!("invalid server URL \"{url}\": {why}"));
            return None;
        }
    };
    if let Some(ignored) = &parsed.ignored {
        url_node.warn(format!(
            "\"{ignored}\" in the server URL is ignored, as in Traefik 1.7 \
             (to add a path prefix, use an AddPrefix rule on the frontend)"
        ));
    }
    // A template's authority is its text: its port is only known per request.
    let authority = match vars.is_empty() {
        true => parsed.authority,
        false => template_authority(url),
    };
    Some(Server {
        name: node.name().to_owned(),
        scheme: parsed.scheme,
        authority,
        url: url.to_owned(),
        weight,
        vars,
        location: url_node.location(),
    })
}

fn read_weight(node: &Node<'_>, globals: &Globals) -> Option<u32> {
    let value = node.integer()?;
    let Ok(weight) = u32::try_from(value) else {
        let why = if value < 0 {
            "must not be negative"
        } else {
            "is too large"
        };
        node.error(format!("weight {value} {why}"));
        return None;
    };
    if weight == 0 && !globals.allow_min_weight_zero {
        node.warn("weight 0 counts as 1, as in Traefik 1.7; set allowMinWeightZero = true to take the server out of rotation");
        return Some(1);
    }
    Some(weight)
}

/// A backend URL, split the way Traefik 1.7 uses it.
#[derive(Debug, PartialEq, Eq)]
struct ServerUrl {
    scheme: Scheme,
    /// `host:port`, with the scheme's default port filled in.
    authority: String,
    /// Path, query or fragment, which 1.7 ignores.
    ignored: Option<String>,
}

fn parse_server_url(url: &str) -> Result<ServerUrl, String> {
    let Some((scheme_text, rest)) = url.split_once("://") else {
        return Err("expected scheme://host[:port], e.g. \"http://127.0.0.1:8080\"".to_owned());
    };
    let scheme = parse_scheme(scheme_text)?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err("user names and passwords in server URLs are not supported".to_owned());
    }
    if scheme == Scheme::Tunnel {
        // The agent decides where its device's service is: no port here.
        if !crate::config::model::valid_device_name(authority) {
            return Err(format!(
                "tunnel://{authority}: expected a device name (lower-case letters, digits, - and _), no port"
            ));
        }
        let ignored = (!tail.is_empty() && tail != "/").then(|| tail.to_owned());
        return Ok(ServerUrl {
            scheme,
            authority: authority.to_owned(),
            ignored,
        });
    }
    let (host, port) = split_url_authority(authority)?;
    let port = match port {
        Some(port) => parse_url_port(port)?,
        None => default_port(scheme),
    };
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let ignored = (!tail.is_empty() && tail != "/").then(|| tail.to_owned());
    Ok(ServerUrl {
        scheme,
        authority,
        ignored,
    })
}

/// The authority part of a (checked) URL, as written.
fn template_authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    rest[..end].to_owned()
}

fn parse_scheme(text: &str) -> Result<Scheme, String> {
    match text.to_ascii_lowercase().as_str() {
        "http" => Ok(Scheme::Http),
        "https" => Ok(Scheme::Https),
        "h2c" => Ok(Scheme::H2c),
        "tunnel" => Ok(Scheme::Tunnel),
        _ => Err(format!(
            "unsupported scheme \"{text}\": use http, https, h2c or tunnel"
        )),
    }
}

fn default_port(scheme: Scheme) -> u16 {
    match scheme {
        Scheme::Http | Scheme::H2c | Scheme::Tunnel => 80,
        Scheme::Https => 443,
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` → host (no brackets), port.
fn split_url_authority(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("missing ']' after the IPv6 address".to_owned());
        };
        if host_without_zone(host).parse::<Ipv6Addr>().is_err() {
            return Err(format!("\"{host}\" is not an IPv6 address"));
        }
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("unexpected \"{after}\" after ']'")),
            },
        };
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if port.is_some_and(|p| p.contains(':')) {
        return Err(
            "IPv6 addresses must be written in brackets, e.g. \"http://[::1]:8080\"".to_owned(),
        );
    }
    check_host(host)?;
    Ok((host, port))
}

fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("missing host".to_owned());
    }
    let valid = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !valid {
        return Err(format!("invalid host \"{host}\""));
    }
    Ok(())
}

fn parse_url_port(port: &str) -> Result<u16, String> {
    let number = port
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| port.parse::<u16>().ok())
        .flatten()
        .filter(|p| *p != 0);
    number.ok_or_else(|| format!("invalid port \"{port}\": expected a number from 1 to 65535"))
}

fn read_load_balancer(node: &Node<'_>) -> Option<LoadBalancerMethod> {
    warn_unsupported(node, LOAD_BALANCER_UNSUPPORTED);
    let method = node.get("method")?;
    let text = method.str()?;
    if text.eq_ignore_ascii_case("wrr") {
        Some(LoadBalancerMethod::Wrr)
    } else if text.eq_ignore_ascii_case("drr") {
        Some(LoadBalancerMethod::Drr)
    } else {
        method.error(format!(
            "unknown load-balancing method \"{text}\": use \"wrr\" or \"drr\""
        ));
        None
    }
}

fn read_max_conn(node: &Node<'_>) -> Option<MaxConn> {
    let extractor_node = node.get("extractorFunc");
    let Some(amount_node) = node.get("amount") else {
        node.warn("no amount: no connection limit, as in Traefik 1.7");
        return None;
    };
    let amount = u32_value(&amount_node);
    // 1.7 skips the whole section when amount is 0 (no limit).
    if amount == Some(0) {
        return None;
    }
    let extractor = match &extractor_node {
        Some(n) => read_extractor(n),
        None => {
            node.tree().error(
                node.missing_location("extractorFunc"),
                "missing: use client.ip, request.host or request.header.NAME",
            );
            None
        }
    };
    Some(MaxConn {
        amount: amount?,
        extractor: extractor?,
    })
}

fn read_extractor(node: &Node<'_>) -> Option<Extractor> {
    let text = node.str()?;
    match parse_extractor(text) {
        Ok(extractor) => Some(extractor),
        Err(why) => {
            node.error(why);
            None
        }
    }
}

fn parse_extractor(text: &str) -> Result<Extractor, String> {
    const HEADER: &str = "request.header.";
    if text.eq_ignore_ascii_case("client.ip") {
        return Ok(Extractor::ClientIp);
    }
    if text.eq_ignore_ascii_case("request.host") {
        return Ok(Extractor::RequestHost);
    }
    let prefix = text.get(..HEADER.len());
    if prefix.is_some_and(|p| p.eq_ignore_ascii_case(HEADER)) {
        let name = &text[HEADER.len()..];
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("\"{name}\" is not a valid header name"));
        }
        return Ok(Extractor::RequestHeader(name.to_owned()));
    }
    Err(format!(
        "unknown extractorFunc \"{text}\": use client.ip, request.host or request.header.NAME"
    ))
}

pub(super) fn read_health_check(node: &Node<'_>, globals: &Globals) -> Option<HealthCheck> {
    let path_node = node.get("path");
    let path = path_node.as_ref().and_then(read_health_path);
    let interval = node
        .get("interval")
        .and_then(|n| positive_duration(&n))
        .unwrap_or(globals.health_interval);
    let timeout_node = node.get("timeout");
    let timeout = timeout_node
        .as_ref()
        .and_then(positive_duration)
        .unwrap_or(Duration::from_secs(5));
    let port = node.get("port").and_then(|n| read_health_port(&n));
    let scheme = node.get("scheme").and_then(|n| read_health_scheme(&n));
    let hostname = node.get("hostname").and_then(|n| optional_string(&n));
    let headers = node
        .section("headers")
        .map(|n| read_headers(&n))
        .unwrap_or_default();
    if path_node.is_none() {
        node.warn("no path: health checking is off for this backend, as in Traefik 1.7");
    }
    if let (Some(t), true) = (&timeout_node, timeout >= interval) {
        t.warn("timeout is not shorter than the interval");
    }
    Some(HealthCheck {
        path: path?,
        interval,
        timeout,
        port,
        scheme,
        hostname,
        headers,
    })
}

fn read_health_path(node: &Node<'_>) -> Option<String> {
    let path = node.str()?;
    if !path.starts_with('/') {
        node.error(format!("path \"{path}\" must start with \"/\""));
        return None;
    }
    Some(path.to_owned())
}

/// 0 (1.7's default) means "the server's own port".
fn read_health_port(node: &Node<'_>) -> Option<u16> {
    let value = node.integer()?;
    match u16::try_from(value) {
        Ok(0) => None,
        Ok(port) => Some(port),
        Err(_) => {
            node.error(format!("port {value} is not a number from 1 to 65535"));
            None
        }
    }
}

fn read_health_scheme(node: &Node<'_>) -> Option<Scheme> {
    let text = node.str()?;
    if text.is_empty() {
        return None;
    }
    match parse_scheme(text) {
        Ok(Scheme::H2c) | Err(_) => {
            node.error(format!("unknown scheme \"{text}\": use http or https"));
            None
        }
        Ok(scheme) => Some(scheme),
    }
}

fn optional_string(node: &Node<'_>) -> Option<String> {
    node.str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// `[...headers]`: header name → value, both checked now rather than at
/// the first health check.
fn read_headers(node: &Node<'_>) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    for child in node.children() {
        let Some(value) = child.str() else { continue };
        let name = child.name();
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            child.tree().error(
                child.key_location(),
                format!("\"{name}\" is not a valid header name"),
            );
        } else if http::HeaderValue::from_str(value).is_err() {
            child.error("not a valid header value (control characters?)");
        } else {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::tests::{errors, loaded, warnings, MINIMAL};

    #[test]
    fn max_conn_amount_zero_or_missing_means_no_limit() {
        let config = loaded(&format!("{MINIMAL}[backends.b.maxConn]\namount = 0\n"));
        assert!(config.backends["b"].max_conn.is_none());
        assert!(config.warnings.is_empty());
        let err = errors(&format!("{MINIMAL}[backends.b.maxConn]\namount = 3\n"));
        assert_eq!(
            err,
            ["t.toml:10:1: backends.b.maxConn.extractorFunc: missing: use client.ip, request.host or \
              request.header.NAME"]
        );
    }

    #[test]
    fn health_check_defaults() {
        let text = format!("[healthcheck]\ninterval = \"45s\"\n{MINIMAL}[backends.b.healthCheck]\npath = \"/h\"\nport = 9001\nscheme = \"HTTPS\"\n");
        let config = loaded(&text);
        let hc = config.backends["b"]
            .health_check
            .clone()
            .expect("health check");
        assert_eq!(
            (hc.interval, hc.timeout),
            (Duration::from_secs(45), Duration::from_secs(5))
        );
        assert_eq!((hc.port, hc.scheme), (Some(9001), Some(Scheme::Https)));
        let text = format!("{MINIMAL}[backends.b.healthCheck]\ninterval = \"5s\"\n");
        let config = loaded(&text);
        assert!(config.backends["b"].health_check.is_none());
        assert_eq!(
            warnings(&config),
            ["t.toml:10:1: backends.b.healthCheck: no path: health checking is off for this backend, as in Traefik 1.7"]
        );
    }

    #[test]
    fn backend_without_servers_is_a_warning() {
        let config = loaded(&format!("{MINIMAL}[backends.empty]\n"));
        assert!(config.backends["empty"].servers.is_empty());
        assert_eq!(
            warnings(&config),
            ["t.toml:10:1: backends.empty: backend has no servers: requests routed to it get 503 Service Unavailable"]
        );
    }

    #[test]
    fn weight_zero_follows_allow_min_weight_zero() {
        let text = MINIMAL.replace("9000\"", "9000\"\nweight = 0");
        let config = loaded(&text);
        assert_eq!(config.backends["b"].servers[0].weight, 1);
        assert_eq!(config.warnings.len(), 1);
        let config = loaded(&format!("allowMinWeightZero = true\n{text}"));
        assert_eq!(config.backends["b"].servers[0].weight, 0);
        assert!(config.warnings.is_empty());
    }

    #[test]
    fn server_urls() {
        let ok = [
            (
                "http://127.0.0.1:8888",
                Scheme::Http,
                "127.0.0.1:8888",
                None,
            ),
            ("http://example.com", Scheme::Http, "example.com:80", None),
            (
                "HTTPS://example.com/",
                Scheme::Https,
                "example.com:443",
                None,
            ),
            ("h2c://grpc", Scheme::H2c, "grpc:80", None),
            ("http://[::1]:8080", Scheme::Http, "[::1]:8080", None),
            ("https://[fe80::1]", Scheme::Https, "[fe80::1]:443", None),
            (
                "http://host:81/base?x=1",
                Scheme::Http,
                "host:81",
                Some("/base?x=1"),
            ),
        ];
        for (url, scheme, authority, ignored) in ok {
            let want = ServerUrl {
                scheme,
                authority: authority.to_owned(),
                ignored: ignored.map(str::to_owned),
            };
            assert_eq!(parse_server_url(url), Ok(want), "{url}");
        }
        let bad = [
            (
                "127.0.0.1:8888",
                "expected scheme://host[:port], e.g. \"http://127.0.0.1:8080\"",
            ),
            (
                "ftp://host",
                "unsupported scheme \"ftp\": use http, https, h2c or tunnel",
            ),
            ("http://", "missing host"),
            ("http://:80", "missing host"),
            (
                "http://host:0",
                "invalid port \"0\": expected a number from 1 to 65535",
            ),
            (
                "http://host:70000",
                "invalid port \"70000\": expected a number from 1 to 65535",
            ),
            (
                "http://host:x",
                "invalid port \"x\": expected a number from 1 to 65535",
            ),
            (
                "http://::1:80",
                "IPv6 addresses must be written in brackets, e.g. \"http://[::1]:8080\"",
            ),
            ("http://[::1", "missing ']' after the IPv6 address"),
            ("http://[nope]:80", "\"nope\" is not an IPv6 address"),
            (
                "http://u:p@host",
                "user names and passwords in server URLs are not supported",
            ),
            ("http://ho st", "invalid host \"ho st\""),
        ];
        for (url, want) in bad {
            assert_eq!(parse_server_url(url), Err(want.to_owned()), "{url}");
        }
    }

    #[test]
    fn server_url_path_is_ignored_with_a_warning() {
        let config = loaded(&MINIMAL.replace("9000\"", "9000/app\""));
        assert_eq!(config.backends["b"].servers[0].authority, "127.0.0.1:9000");
        assert_eq!(
            warnings(&config),
            ["t.toml:9:7: backends.b.servers.s.url: \"/app\" in the server URL is ignored, as in Traefik 1.7 \
              (to add a path prefix, use an AddPrefix rule on the frontend)"]
        );
    }

    #[test]
    fn extractors() {
        assert_eq!(parse_extractor("client.ip"), Ok(Extractor::ClientIp));
        assert_eq!(parse_extractor("request.host"), Ok(Extractor::RequestHost));
        assert!(parse_extractor("request.header.").is_err());
    }
}
