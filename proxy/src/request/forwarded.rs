//! The headers a request gains on its way upstream: `X-Forwarded-*` and
//! `X-Real-Ip` set as Traefik 1.7 (oxy's forwarder) sets them. (Hop-by-hop
//! headers are dropped by `http1::hop`; the `Host` header is chosen in
//! `request::forward`.)
//!
//! Client-supplied `X-Forwarded-*` headers are only kept when the client is
//! trusted (`[entryPoints.X.forwardedHeaders] insecure` or `trustedIPs`);
//! otherwise they are overwritten, so a client cannot forge its address.

use std::net::IpAddr;

use bytes::{BufMut, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::http1::request::ExtraHeaders;

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
pub static X_FORWARDED_SERVER: HeaderName = HeaderName::from_static("x-forwarded-server");
pub static X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
pub static X_REPLACED_PATH: HeaderName = HeaderName::from_static("x-replaced-path");
pub static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
/// Facts about the client connection, computed once per connection so that
/// each request only clones prepared header values.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: IpAddr,
    pub ip_header: HeaderValue,
    /// Whether this client's own `X-Forwarded-*` headers are believed.
    pub trusted: bool,
    pub tls: bool,
    /// The client's source port (plugins see `ip:port`).
    pub port: u16,
}

impl ClientInfo {
    pub fn new(ip: IpAddr, trusted: bool, tls: bool) -> Self {
        // An IP address always renders as a valid header value.
        let ip_header = HeaderValue::from_str(&canonical_ip(ip).to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        ClientInfo {
            ip: canonical_ip(ip),
            ip_header,
            trusted,
            tls,
            port: 0,
        }
    }

    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    pub fn socket_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.ip, self.port)
    }
}

/// `::ffff:1.2.3.4` (IPv4 on a dual-stack socket) is reported as `1.2.3.4`.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The `X-Forwarded-*`, `X-Real-Ip` (and, after a modifier,
/// `X-Forwarded-Prefix` / `X-Replaced-Path`) headers of one request on its
/// way upstream. They are decided once ([`Forwarded::new`], which also
/// removes from the request what they replace), then either written
/// straight into an HTTP/1 request head ([`Forwarded::write`]: no map
/// insert, no name hashed, nothing allocated) or inserted into the
/// request's map for hyper's paths (h2c, upgrades: [`Forwarded::insert_into`]).
pub struct Forwarded<'a> {
    /// `X-Forwarded-For`: the client's address, or a trusted chain with it
    /// appended.
    xff: Value<'a>,
    /// Each `None` is a header a trusted client already set, kept as it is.
    real_ip: Option<&'a [u8]>,
    proto: Option<&'static [u8]>,
    host: Option<&'a [u8]>,
    port: Option<&'a [u8]>,
    server: &'a [u8],
    prefix: Option<&'a str>,
    replaced_path: Option<&'a str>,
}

enum Value<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl Value<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Value::Borrowed(b) => b,
            Value::Owned(v) => v,
        }
    }
}

/// The headers `Forwarded` sets, in the order it writes them (the first six
/// are the ones a client may not forge).
static FORWARDED: [&HeaderName; 8] = [
    &X_FORWARDED_FOR,
    &X_REAL_IP,
    &X_FORWARDED_PROTO,
    &X_FORWARDED_HOST,
    &X_FORWARDED_PORT,
    &X_FORWARDED_SERVER,
    &X_FORWARDED_PREFIX,
    &X_REPLACED_PATH,
];

/// `FORWARDED`'s names as the start of a head line, in the same order.
static LINE_STARTS: [&str; 8] = [
    "x-forwarded-for: ",
    "x-real-ip: ",
    "x-forwarded-proto: ",
    "x-forwarded-host: ",
    "x-forwarded-port: ",
    "x-forwarded-server: ",
    "x-forwarded-prefix: ",
    "x-replaced-path: ",
];
const LINE_START_MAX: usize = 20;

impl<'a> Forwarded<'a> {
    /// Decide the headers as Traefik 1.7 (oxy's forwarder) does, and remove
    /// from `headers` the ones they replace. `host` is the client's Host
    /// (header or HTTP/2 authority); `prefix` and `replaced_path` come from
    /// the route's modifiers.
    pub fn new(
        headers: &mut HeaderMap,
        client: &'a ClientInfo,
        host: Option<&'a HeaderValue>,
        server_name: &'a HeaderValue,
        prefix: Option<&'a str>,
        replaced_path: Option<&'a str>,
    ) -> Self {
        let trusted = client.trusted;
        // One pass over the names finds which of ours the client sent
        // (usually none), instead of hashing all eight.
        let mut present = 0u8;
        for name in headers.keys() {
            if let Some(i) = FORWARDED.iter().position(|h| *h == name) {
                present |= 1 << i;
            }
        }
        let has = |i: usize| present & (1 << i) != 0;
        let ip = client.ip_header.as_bytes();
        // A trusted client's chain is extended; anyone else's is replaced.
        let xff = match headers.get(&X_FORWARDED_FOR) {
            Some(prev) if trusted => {
                let mut v = Vec::with_capacity(prev.len() + 2 + ip.len());
                v.extend_from_slice(prev.as_bytes());
                v.extend_from_slice(b", ");
                v.extend_from_slice(ip);
                Value::Owned(v)
            }
            _ => Value::Borrowed(ip),
        };
        // Set unless a trusted client already did.
        let keep = |i: usize| trusted && has(i);
        let fwd = Forwarded {
            xff,
            real_ip: (!keep(1)).then_some(ip),
            proto: (!keep(2)).then_some(if client.tls { b"https" } else { b"http" }),
            host: host.filter(|_| !keep(3)).map(HeaderValue::as_bytes),
            port: (!keep(4)).then(|| forwarded_port(host, client.tls)),
            server: server_name.as_bytes(),
            prefix: prefix.filter(|p| is_header_value(p)),
            replaced_path: replaced_path.filter(|p| is_header_value(p)),
        };
        // Remove what is about to be set: a header written twice would be
        // a list the backend reads as the client's first value.
        if present != 0 {
            let set = [
                true,
                fwd.real_ip.is_some(),
                fwd.proto.is_some(),
                fwd.host.is_some(),
                fwd.port.is_some(),
                true,
                fwd.prefix.is_some(),
                fwd.replaced_path.is_some(),
            ];
            for (i, name) in FORWARDED.iter().enumerate() {
                // An untrusted client's own values of the first six go even
                // when tollgate has none to put instead (no Host: no
                // X-Forwarded-Host), so none of them can be forged.
                if has(i) && (set[i] || (!trusted && i < 6)) {
                    headers.remove(*name);
                }
            }
        }
        fwd
    }

    /// The value of each of `FORWARDED`, if set.
    fn values(&self) -> [Option<&[u8]>; 8] {
        [
            Some(self.xff.bytes()),
            self.real_ip,
            self.proto,
            self.host,
            self.port,
            Some(self.server),
            self.prefix.map(str::as_bytes),
            self.replaced_path.map(str::as_bytes),
        ]
    }

    fn lines(&self) -> impl Iterator<Item = (&'static HeaderName, &[u8])> {
        FORWARDED
            .into_iter()
            .zip(self.values())
            .filter_map(|(name, value)| Some((name, value?)))
    }
}

impl ExtraHeaders for Forwarded<'_> {
    fn write(&self, out: &mut BytesMut) {
        // Room for all of them at once: each `put_slice` then only copies.
        let len = self
            .lines()
            .map(|(_, v)| LINE_START_MAX + v.len() + 2)
            .sum();
        out.reserve(len);
        for (i, value) in self.values().into_iter().enumerate() {
            if let Some(value) = value {
                out.put_slice(LINE_STARTS[i].as_bytes());
                out.put_slice(value);
                out.put_slice(b"\r\n");
            }
        }
    }

    fn insert_into(&self, headers: &mut HeaderMap) {
        for (name, value) in self.lines() {
            // Every value is a valid header value: an IP address, a Host
            // header, a port taken from it, the checked paths.
            if let Ok(v) = HeaderValue::from_bytes(value) {
                headers.insert(name, v);
            }
        }
    }
}

/// What `HeaderValue::from_str` accepts: visible ASCII, space and tab.
fn is_header_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

/// The port the client addressed: from its Host header, else the scheme's default.
fn forwarded_port(host: Option<&HeaderValue>, tls: bool) -> &[u8] {
    let explicit = host
        .map(HeaderValue::as_bytes)
        .and_then(|h| h.iter().rposition(|&b| b == b':').map(|i| &h[i + 1..]))
        .filter(|port| !port.is_empty() && port.iter().all(u8::is_ascii_digit));
    match explicit {
        Some(p) => p,
        None if tls => b"443",
        None => b"80",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(trusted: bool) -> ClientInfo {
        ClientInfo::new("10.1.2.3".parse().unwrap(), trusted, false)
    }

    /// The request `h` as the backend sees it: written as head lines, and
    /// inserted into the map (both forms must agree).
    fn forward(
        h: &mut HeaderMap,
        client: &ClientInfo,
        host: Option<&HeaderValue>,
        rewrite: (Option<&str>, Option<&str>),
    ) -> String {
        let server = HeaderValue::from_static("gw");
        let mut map = h.clone();
        let fwd = Forwarded::new(h, client, host, &server, rewrite.0, rewrite.1);
        let mut out = BytesMut::new();
        for (name, value) in h.iter() {
            out.put_slice(format!("{name}: ").as_bytes());
            out.put_slice(value.as_bytes());
            out.put_slice(b"\r\n");
        }
        fwd.write(&mut out);
        let fwd = Forwarded::new(&mut map, client, host, &server, rewrite.0, rewrite.1);
        fwd.insert_into(&mut map);
        let text = String::from_utf8(out.to_vec()).unwrap();
        for (name, value) in &map {
            let line = format!("{name}: {}\r\n", value.to_str().unwrap());
            assert!(text.contains(&line), "{line:?} not in {text:?}");
        }
        assert_eq!(text.lines().count(), map.len(), "{text:?} vs {map:?}");
        text
    }

    #[test]
    fn line_starts_name_the_headers_in_order() {
        for (name, start) in FORWARDED.iter().zip(LINE_STARTS) {
            assert_eq!(format!("{name}: "), start);
            assert!(start.len() <= LINE_START_MAX);
        }
    }

    #[test]
    fn untrusted_client_cannot_forge_forwarded_headers() {
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_FOR, HeaderValue::from_static("6.6.6.6"));
        h.append(&X_FORWARDED_FOR, HeaderValue::from_static("7.7.7.7"));
        h.insert(&X_REAL_IP, HeaderValue::from_static("6.6.6.6"));
        h.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        h.insert(&X_FORWARDED_SERVER, HeaderValue::from_static("fake"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        let host = HeaderValue::from_static("example.com:8080");
        let text = forward(&mut h, &client(false), Some(&host), (None, None));
        assert_eq!(
            text,
            "x-kept: 1\r\n\
             x-forwarded-for: 10.1.2.3\r\n\
             x-real-ip: 10.1.2.3\r\n\
             x-forwarded-proto: http\r\n\
             x-forwarded-host: example.com:8080\r\n\
             x-forwarded-port: 8080\r\n\
             x-forwarded-server: gw\r\n"
        );
    }

    #[test]
    fn without_a_host_an_untrusted_forwarded_host_still_goes() {
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_HOST, HeaderValue::from_static("evil.example"));
        h.insert(&X_FORWARDED_PORT, HeaderValue::from_static("1"));
        let text = forward(&mut h, &client(false), None, (None, None));
        assert!(!text.contains("evil.example"), "{text}");
        assert!(text.contains("x-forwarded-port: 80\r\n"), "{text}");
        // A trusted client's is kept.
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_HOST, HeaderValue::from_static("front.example"));
        let text = forward(&mut h, &client(true), None, (None, None));
        assert!(
            text.contains("x-forwarded-host: front.example\r\n"),
            "{text}"
        );
    }

    #[test]
    fn trusted_client_chain_is_extended() {
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_FOR, HeaderValue::from_static("1.1.1.1"));
        h.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        let text = forward(&mut h, &client(true), None, (None, None));
        assert_eq!(
            text,
            "x-forwarded-proto: https\r\n\
             x-forwarded-for: 1.1.1.1, 10.1.2.3\r\n\
             x-real-ip: 10.1.2.3\r\n\
             x-forwarded-port: 80\r\n\
             x-forwarded-server: gw\r\n"
        );
    }

    #[test]
    fn modifiers_replace_the_clients_prefix_and_path_headers() {
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_PREFIX, HeaderValue::from_static("/forged"));
        let host = HeaderValue::from_static("[::1]");
        let tls = ClientInfo::new("::1".parse().unwrap(), false, true);
        let text = forward(&mut h, &tls, Some(&host), (Some("/zumi01"), Some("/a/b")));
        assert!(!text.contains("/forged"), "{text}");
        assert!(text.contains("x-forwarded-prefix: /zumi01\r\n"), "{text}");
        assert!(text.contains("x-replaced-path: /a/b\r\n"), "{text}");
        assert!(text.contains("x-forwarded-port: 443\r\n"), "{text}");
        assert!(text.contains("x-forwarded-proto: https\r\n"), "{text}");

        // Without a modifier, the client's own header is not ours to drop.
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_PREFIX, HeaderValue::from_static("/app"));
        let text = forward(&mut h, &client(false), None, (None, Some("bad\u{1}")));
        assert!(text.contains("x-forwarded-prefix: /app\r\n"), "{text}");
        assert!(!text.contains("x-replaced-path"), "{text}");
    }

    #[test]
    fn ipv4_mapped_addresses_are_shown_as_ipv4() {
        let c = ClientInfo::new("::ffff:127.0.0.1".parse().unwrap(), false, false);
        assert_eq!(c.ip_header, "127.0.0.1");
    }
}
