//! Matching one request against one compiled matcher.

use std::borrow::Cow;
use std::net::IpAddr;

use http::header::HeaderName;
use http::{HeaderMap, Method, Uri};
use regex::Regex;

use crate::trust::Cidr;

use super::path::hex_value;
use super::template::Pattern;
use super::types::Vars;

/// The parts of a request that rules look at, prepared once per request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Request<'a> {
    pub method: &'a Method,
    /// The normalized path (see `path::normalize`).
    pub path: &'a str,
    /// The host without port or trailing dot (not lower-cased), if any.
    pub host: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// The connection's peer (Traefik 3's `ClientIP` ignores
    /// `X-Forwarded-For`, and so does this).
    pub client: IpAddr,
}

impl<'a> Request<'a> {
    /// `path` is the normalized `uri.path()`.
    pub(super) fn new(
        method: &'a Method,
        path: &'a str,
        uri: &'a Uri,
        headers: &'a HeaderMap,
        client: IpAddr,
    ) -> Self {
        let host = request_host(uri, headers).map(|h| h.strip_suffix('.').unwrap_or(h));
        Request {
            method,
            path,
            host,
            headers,
            query: uri.query(),
            client,
        }
    }
}

/// One matcher of a frontend: true when any of its alternatives matches.
#[derive(Debug, Clone)]
pub(super) enum Condition {
    /// `Host` and `HostRegexp`.
    Host(Box<[Pattern]>),
    /// `Path*` matchers (including the strip modifiers, which match too).
    Path(Box<[Pattern]>),
    Method(Box<[Method]>),
    /// Every (name, value) pair must be present; an empty value only asks for
    /// the header to exist (gorilla mux).
    Headers(Box<[(HeaderName, Box<[u8]>)]>),
    /// Every name must have a value matching its (unanchored, as mux) regex.
    HeadersRegexp(Box<[(HeaderName, Regex)]>),
    /// Every key's first value must match; None = any value, key present.
    Query(Box<[(Box<str>, Option<Pattern>)]>),
    /// The client is in one of these networks (Traefik 2/3 `ClientIP`).
    ClientIp(Box<[Cidr]>),
    /// Traefik 2/3 `&&` below an `||` or `!` (a top-level `&&` is the
    /// frontend's own list of conditions).
    All(Box<[Condition]>),
    /// Traefik 2/3 `||`.
    Any(Box<[Condition]>),
    /// Traefik 2/3 `!`.
    Not(Box<Condition>),
}

impl Condition {
    pub(super) fn matches(&self, req: &Request<'_>) -> bool {
        match self {
            Condition::Host(alts) => {
                let host = req.host.unwrap_or("");
                alts.iter().any(|p| p.is_match(host))
            }
            Condition::Path(alts) => alts.iter().any(|p| p.is_match(req.path)),
            Condition::Method(methods) => methods.contains(req.method),
            Condition::Headers(pairs) => pairs.iter().all(|(name, want)| {
                let mut values = req.headers.get_all(name).iter().peekable();
                values.peek().is_some()
                    && (want.is_empty() || values.any(|v| v.as_bytes() == &**want))
            }),
            Condition::HeadersRegexp(pairs) => pairs.iter().all(|(name, re)| {
                req.headers
                    .get_all(name)
                    .iter()
                    .any(|v| std::str::from_utf8(v.as_bytes()).is_ok_and(|v| re.is_match(v)))
            }),
            Condition::Query(pairs) => pairs.iter().all(|(key, want)| {
                first_query_value(req.query, key).is_some_and(|v| match want {
                    None => true,
                    Some(p) => p.is_match(&v),
                })
            }),
            Condition::ClientIp(nets) => nets.iter().any(|n| n.contains(req.client)),
            Condition::All(all) => all.iter().all(|c| c.matches(req)),
            Condition::Any(any) => any.iter().any(|c| c.matches(req)),
            Condition::Not(c) => !c.matches(req),
        }
    }

    /// Appends the variables of the first alternative that matches (`Host`,
    /// `Path*` and `Query` templates: the ones with variables).
    pub(super) fn capture(&self, req: &Request<'_>, out: &mut Vars) {
        match self {
            Condition::Host(alts) => {
                let host = req.host.unwrap_or("");
                alts.iter().any(|p| p.capture(host, out));
            }
            Condition::Path(alts) => {
                alts.iter().any(|p| p.capture(req.path, out));
            }
            Condition::Query(pairs) => {
                for (key, want) in pairs.iter() {
                    if let (Some(p), Some(v)) = (want, first_query_value(req.query, key)) {
                        p.capture(&v, out);
                    }
                }
            }
            _ => {}
        }
    }

    /// A rough cost rank, cheapest first, so that a frontend's conditions
    /// fail fast (all must hold, so their order does not change the result).
    pub(super) fn cost(&self) -> u8 {
        let plain = |alts: &[Pattern]| alts.iter().all(Pattern::is_plain);
        match self {
            Condition::Method(_) => 0,
            Condition::Host(alts) if plain(alts) => 1,
            Condition::Path(alts) if plain(alts) => 2,
            Condition::Headers(_) => 3,
            Condition::Host(_) | Condition::Path(_) => 4,
            Condition::ClientIp(_) => 1,
            Condition::HeadersRegexp(_) => 5,
            Condition::Query(_) => 6,
            Condition::All(_) | Condition::Any(_) | Condition::Not(_) => 7,
        }
    }
}

/// A header name of a matcher's value, or why it is not one.
pub(super) fn header_name(matcher: &str, name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{matcher}: invalid header name {name:?}"))
}

/// The decoded first value of `key` in a raw query string, as Go's
/// `URL.Query()[key][0]`, which gorilla mux matches.
fn first_query_value<'q>(query: Option<&'q str>, key: &str) -> Option<Cow<'q, str>> {
    query?
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(k, _)| decode_query_component(k) == key)
        .map(|(_, v)| decode_query_component(v))
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a
/// byte; malformed escapes are kept as they are.
fn decode_query_component(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1).copied().and_then(hex_value);
                let lo = bytes.get(i + 2).copied().and_then(hex_value);
                if let (Some(hi), Some(lo)) = (hex, lo) {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The host a request is for, without port: the URI's authority (HTTP/2
/// `:authority`, or an absolute-form request target, which RFC 9112 says wins
/// over `Host`), else the `Host` header. IPv6 literals keep their brackets.
pub fn request_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    if let Some(host) = uri.host() {
        return Some(host);
    }
    let value = headers.get(http::header::HOST)?.to_str().ok()?.trim();
    let host = if value.starts_with('[') {
        // `[::1]:8080` -> `[::1]`
        value.find(']').map_or(value, |end| &value[..=end])
    } else {
        match value.split_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => value,
        }
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values() {
        let q = Some("a=1&b=x+y%21&a=2&flag&%6B=k&bad=%zz");
        assert_eq!(first_query_value(q, "a").as_deref(), Some("1"));
        assert_eq!(first_query_value(q, "b").as_deref(), Some("x y!"));
        assert_eq!(first_query_value(q, "flag").as_deref(), Some(""));
        assert_eq!(first_query_value(q, "k").as_deref(), Some("k"));
        assert_eq!(first_query_value(q, "bad").as_deref(), Some("%zz"));
        assert_eq!(first_query_value(q, "c"), None);
        assert_eq!(first_query_value(None, "a"), None);
        assert_eq!(decode_query_component("%ff%"), "\u{fffd}%");
    }
}
