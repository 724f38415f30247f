//! `[entryPoints.NAME]`: address, `[forwardedHeaders]`, `[proxyProtocol]`,
//! `[tls]` and `[redirect]` (read by `entry_point_tls`), `[auth.basic]`.
//! Traefik 1.7's default applies: `http` on `:80` when none is defined.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

use crate::config::diagnostic::Location;
use crate::config::model::{
    EncodedCharacters, EntryPoint, EntryPointHttp, TrustedSources, UnderscoreHeaders,
};
use crate::config::tree::{Node, Tree};

use super::context::{unknown_name, Names};
use super::unsupported::{warn_unsupported, ENTRY_POINT_UNSUPPORTED};
use super::values::host_without_zone;

pub(super) fn read_entry_points(
    root: &Node<'_>,
    path: &Path,
) -> (BTreeMap<String, EntryPoint>, BTreeSet<String>) {
    let children = root
        .section("entryPoints")
        .map(|n| n.children())
        .unwrap_or_default();
    if children.is_empty() {
        return default_entry_points(root);
    }
    let names = children.iter().map(|n| n.name().to_owned()).collect();
    let entry_points = children
        .iter()
        .filter_map(|n| read_entry_point(n, path))
        .map(|e| (e.name.clone(), e))
        .collect();
    (entry_points, names)
}

/// Without any entry point, Traefik 1.7 listens on `:80` as `http`.
fn default_entry_points(root: &Node<'_>) -> (BTreeMap<String, EntryPoint>, BTreeSet<String>) {
    let name = "http".to_owned();
    let entry_point = EntryPoint::implicit(&name, ":80");
    let mut location = root.missing_location("entryPoints");
    location.line = 0;
    root.tree().warn(
        location,
        "no entry points defined: listening on \":80\" as entry point \"http\", like Traefik 1.7",
    );
    let names = BTreeSet::from([name.clone()]);
    (BTreeMap::from([(name, entry_point)]), names)
}

fn read_entry_point(node: &Node<'_>, config_path: &Path) -> Option<EntryPoint> {
    if !node.expect_table() {
        return None;
    }
    let tls = node
        .get("tls")
        .and_then(|n| super::entry_point_tls::read_tls(&n, config_path));
    let redirect = node
        .get("redirect")
        .and_then(|n| super::entry_point_tls::read_redirect(&n));
    let auth = super::middleware::read_basic_auth(node, config_path);
    warn_unsupported(node, ENTRY_POINT_UNSUPPORTED);
    let http = node.section("http");
    let entry_point = read_shared(node, http.as_ref(), false)?;
    Some(EntryPoint {
        tls,
        redirect,
        auth,
        ..entry_point
    })
}

/// What Traefik 1.7 and 2/3 write alike on an entry point:
/// `forwardedHeaders`, `proxyProtocol`, the screening of `http` (the
/// caller's node: 2/3 read more of it), limits,
/// `transport.respondingTimeouts`, and `address`, read last so that the
/// others count as read when it is wrong. TLS, redirect and auth are left
/// to the caller; `transport` as for `read_address`.
pub(super) fn read_shared(
    node: &Node<'_>,
    http: Option<&Node<'_>>,
    transport: bool,
) -> Option<EntryPoint> {
    let forwarded_headers = node
        .section("forwardedHeaders")
        .map(|n| read_trusted_sources(&n))
        .unwrap_or_default();
    let proxy_protocol = node
        .section("proxyProtocol")
        .map(|n| read_trusted_sources(&n));
    let http = http.map(read_http).unwrap_or_default();
    let limits = super::entry_limits::read_limits(node);
    let responding_timeouts = super::entry_limits::read_entry_responding(node);
    let (address, location) = read_address(node, transport)?;
    Some(EntryPoint {
        name: node.name().to_owned(),
        address,
        forwarded_headers,
        proxy_protocol,
        tls: None,
        redirect: None,
        http,
        limits,
        responding_timeouts,
        auth: None,
        location,
    })
}

/// `address`, checked, and where it is written. With `transport` (Traefik
/// 2/3), a `/tcp` suffix is taken off and `/udp` refused.
fn read_address(node: &Node<'_>, transport: bool) -> Option<(String, Location)> {
    let Some(address) = node.get("address") else {
        node.tree().error(
            node.missing_location("address"),
            "missing: every entry point needs an address such as \":80\"",
        );
        return None;
    };
    let mut text = address.str()?;
    if transport {
        if let Some((rest, proto)) = text.rsplit_once('/') {
            if proto.eq_ignore_ascii_case("udp") {
                address.error("UDP entry points are not supported: tollgate proxies HTTP");
                return None;
            }
            if proto.eq_ignore_ascii_case("tcp") {
                text = rest;
            }
        }
    }
    if let Err(why) = check_address(text) {
        address.error(why);
        return None;
    }
    Some((text.to_owned(), address.location()))
}

/// `[entryPoints.X.http]`: `underscoreHeadersStrategy` and
/// `[encodedCharacters]`, as Traefik 3 spells them.
fn read_http(node: &Node<'_>) -> EntryPointHttp {
    let flag = |n: &Node<'_>, key| n.get(key).and_then(|v| v.bool()).unwrap_or(false);
    let encoded = node
        .section("encodedCharacters")
        .map(|n| EncodedCharacters {
            slash: flag(&n, "allowEncodedSlash"),
            back_slash: flag(&n, "allowEncodedBackSlash"),
            null_character: flag(&n, "allowEncodedNullCharacter"),
            semicolon: flag(&n, "allowEncodedSemicolon"),
            percent: flag(&n, "allowEncodedPercent"),
            question_mark: flag(&n, "allowEncodedQuestionMark"),
            hash: flag(&n, "allowEncodedHash"),
        })
        .unwrap_or_default();
    let underscore_headers = match node.get("underscoreHeadersStrategy") {
        None => UnderscoreHeaders::default(),
        Some(v) => match v.str().map(str::to_ascii_lowercase).as_deref() {
            Some("keep") => UnderscoreHeaders::Keep,
            Some("delete") => UnderscoreHeaders::Delete,
            Some("reject") => UnderscoreHeaders::Reject,
            Some(other) => {
                v.error(format!(
                    "\"{other}\" is not a strategy: use \"keep\", \"delete\" or \"reject\""
                ));
                UnderscoreHeaders::default()
            }
            None => UnderscoreHeaders::default(),
        },
    };
    EntryPointHttp {
        encoded,
        underscore_headers,
    }
}

/// A redirect must name an entry point that exists.
pub(super) fn check_redirect_targets(
    tree: &Tree,
    entry_points: &BTreeMap<String, EntryPoint>,
    names: &Names,
) {
    for ep in entry_points.values() {
        let Some(redirect) = &ep.redirect else {
            continue;
        };
        if let Some(target) = &redirect.entry_point {
            if !names.entry_points.contains(target) {
                let mut location = redirect.location.clone();
                location.key = format!("{}.entryPoint", location.key);
                tree.error(
                    location,
                    unknown_name("entry point", target, &names.entry_points),
                );
            }
        }
    }
}

/// `insecure` and `trustedIPs` (`forwardedHeaders`, `proxyProtocol`).
fn read_trusted_sources(node: &Node<'_>) -> TrustedSources {
    let insecure = node.get("insecure").and_then(|n| n.bool()).unwrap_or(false);
    let mut trusted_ips = Vec::new();
    let list = node.get("trustedIPs").and_then(|n| n.str_list_located());
    for (text, location) in list.unwrap_or_default() {
        match check_ip_or_cidr(&text) {
            Ok(()) => trusted_ips.push(text),
            Err(why) => node.tree().error(location, why),
        }
    }
    TrustedSources {
        insecure,
        trusted_ips,
    }
}

/// `1.2.3.4`, `10.0.0.0/8`, `::1`, `fd00::/8`.
fn check_ip_or_cidr(text: &str) -> Result<(), String> {
    let (ip, prefix) = match text.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (text, None),
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return Err(format!("\"{text}\" is not an IP address or a CIDR range"));
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix.map(|p| p.parse::<u8>()) {
        None => Ok(()),
        Some(Ok(bits)) if bits <= max => Ok(()),
        Some(_) => Err(format!(
            "\"{text}\": the prefix length must be a number from 0 to {max}"
        )),
    }
}

/// Checks an entry point address the way Go's `net.SplitHostPort` does
/// (1.7 hands it to `net.Listen`): `host:port`, `:port`, `[v6]:port`.
fn check_address(address: &str) -> Result<(), String> {
    let (_, port) = split_host_port(address)?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err()
    {
        return Err(format!(
            "invalid port \"{port}\" in address \"{address}\": expected a number from 0 to 65535"
        ));
    }
    Ok(())
}

fn split_host_port(address: &str) -> Result<(&str, &str), String> {
    if let Some(rest) = address.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(format!("missing ']' in address \"{address}\""));
        };
        if host_without_zone(host).parse::<Ipv6Addr>().is_err() {
            return Err(format!(
                "\"{host}\" in address \"{address}\" is not an IPv6 address"
            ));
        }
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, port)),
            None if after.is_empty() => Err(format!("missing port in address \"{address}\"")),
            None => Err(format!(
                "unexpected \"{after}\" after ']' in address \"{address}\""
            )),
        };
    }
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err(format!(
            "missing port in address \"{address}\" (write \"host:port\" or \":port\")"
        ));
    };
    if host.contains(':') {
        return Err(format!(
            "too many colons in address \"{address}\" (write IPv6 addresses in brackets, e.g. \"[::1]:8080\")"
        ));
    }
    if host.contains(['[', ']']) {
        return Err(format!("unexpected bracket in address \"{address}\""));
    }
    Ok((host, port))
}

/// A section's `entryPoint` that must name a TLS entry point (`[acme]`,
/// `[tunnels]`): the name, with an error at the key when it is missing,
/// unknown or not TLS. `what` says what the entry point is for.
pub(super) fn tls_entry_point(
    section: &Node<'_>,
    entry_points: &BTreeMap<String, EntryPoint>,
    what: &str,
) -> Option<String> {
    let Some(n) = section.get("entryPoint") else {
        section.error(format!("`entryPoint` ({what}) is required"));
        return None;
    };
    let name = n.str()?.to_owned();
    match entry_points.get(&name) {
        Some(ep) if ep.tls.is_some() => {}
        Some(_) => n.error(format!(
            "entrypoint {name:?} has no [entryPoints.{name}.tls]"
        )),
        None => n.error(format!("no entrypoint {name:?}")),
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::tests::{errors, loaded, warnings, MINIMAL};

    #[test]
    fn no_entry_points_means_http_on_port_80() {
        let config = loaded(&MINIMAL.replace("[entryPoints.web]\naddress = \":8080\"\n", ""));
        assert_eq!(config.entry_points["http"].address, ":80");
        assert_eq!(
            warnings(&config),
            ["t.toml: entryPoints: no entry points defined: listening on \":80\" as entry point \"http\", \
              like Traefik 1.7"]
        );
    }

    #[test]
    fn request_screening_takes_traefik_3_keys() {
        let config = loaded(&MINIMAL.replace(
            "address = \":8080\"\n",
            "address = \":8080\"\n[entryPoints.web.http]\nunderscoreHeadersStrategy = \"Reject\"\n\
             [entryPoints.web.http.encodedCharacters]\nallowEncodedSlash = true\nallowEncodedHash = true\n",
        ));
        let http = &config.entry_points["web"].http;
        assert_eq!(http.underscore_headers, UnderscoreHeaders::Reject);
        assert!(http.encoded.slash && http.encoded.hash && !http.encoded.percent);
        let defaults = &loaded(MINIMAL).entry_points["web"].http;
        assert_eq!(*defaults, EntryPointHttp::default());
        let err = errors(&MINIMAL.replace(
            "address = \":8080\"\n",
            "address = \":8080\"\n[entryPoints.web.http]\nunderscoreHeadersStrategy = \"drop\"\n",
        ));
        assert_eq!(
            err,
            ["t.toml:5:29: entryPoints.web.http.underscoreHeadersStrategy: \"drop\" is not a strategy: \
              use \"keep\", \"delete\" or \"reject\""]
        );
    }

    #[test]
    fn addresses() {
        for ok in [
            ":80",
            "0.0.0.0:443",
            "localhost:8080",
            "[::1]:8080",
            "[fe80::1%eth0]:80",
            ":0",
        ] {
            assert_eq!(check_address(ok), Ok(()), "{ok}");
        }
        let bad = [
            ("IP_OF_MY_SERVER", "missing port in address \"IP_OF_MY_SERVER\" (write \"host:port\" or \":port\")"),
            ("::1:80", "too many colons in address \"::1:80\" (write IPv6 addresses in brackets, e.g. \"[::1]:8080\")"),
            ("[::1]", "missing port in address \"[::1]\""),
            ("[::1:80", "missing ']' in address \"[::1:80\""),
            (":http", "invalid port \"http\" in address \":http\": expected a number from 0 to 65535"),
            (":65536", "invalid port \"65536\" in address \":65536\": expected a number from 0 to 65535"),
            ("host:", "invalid port \"\" in address \"host:\": expected a number from 0 to 65535"),
        ];
        for (address, want) in bad {
            assert_eq!(check_address(address), Err(want.to_owned()), "{address}");
        }
    }

    #[test]
    fn trusted_ips() {
        assert_eq!(check_ip_or_cidr("10.0.0.0/8"), Ok(()));
        assert_eq!(check_ip_or_cidr("::1"), Ok(()));
        assert!(check_ip_or_cidr("10.0.0.0/33").is_err());
        assert!(check_ip_or_cidr("example.com").is_err());
    }
}
