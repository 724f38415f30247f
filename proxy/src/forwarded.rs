//! What a request and a response look like after crossing the proxy:
//! hop-by-hop headers dropped (RFC 9110 §7.6.1), `X-Forwarded-*` and
//! `X-Real-Ip` set as Traefik 1.7 (oxy's forwarder) sets them, and the
//! `Host` header chosen by `passHostHeader`.
//!
//! Client-supplied `X-Forwarded-*` headers are only kept when the client is
//! trusted (`[entryPoints.X.forwardedHeaders] insecure` or `trustedIPs`);
//! otherwise they are overwritten, so a client cannot forge its address.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
pub static X_FORWARDED_SERVER: HeaderName = HeaderName::from_static("x-forwarded-server");
pub static X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
pub static X_REPLACED_PATH: HeaderName = HeaderName::from_static("x-replaced-path");
pub static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Hop-by-hop headers that are never forwarded (besides those named in `Connection`).
static HOP_BY_HOP: [&HeaderName; 9] = [
    &header::CONNECTION,
    &KEEP_ALIVE,
    &PROXY_CONNECTION,
    &header::PROXY_AUTHENTICATE,
    &header::PROXY_AUTHORIZATION,
    &header::TE,
    &header::TRAILER,
    &header::TRANSFER_ENCODING,
    &header::UPGRADE,
];

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

/// Is this an HTTP/1.1 upgrade request (`Connection: upgrade` + `Upgrade: x`)?
pub fn is_upgrade_request(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE) && connection_has(headers, "upgrade")
}

fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Remove hop-by-hop headers. With `upgrade`, the `Connection: upgrade` and
/// `Upgrade` pair survives (it is what asks the next hop to switch protocols).
pub fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    // One pass over the names finds which are present (most messages carry
    // only `Connection`, or none), instead of hashing all nine to remove them.
    let mut present = 0u16;
    for name in headers.keys() {
        if let Some(i) = HOP_BY_HOP.iter().position(|h| *h == name) {
            present |= 1 << i;
        }
    }
    if present == 0 {
        return;
    }
    let upgrade_value = if upgrade {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    };
    // Headers the sender declared hop-by-hop in `Connection` (RFC 9110
    // section 7.6.1). The usual tokens (`keep-alive` on every HTTP/1.1
    // response from nginx) name nothing to remove, so the list stays
    // empty and unallocated.
    let mut listed: Vec<HeaderName> = Vec::new();
    let connection = present & 1 != 0; // HOP_BY_HOP[0]
    for value in connection
        .then(|| headers.get_all(header::CONNECTION))
        .into_iter()
        .flatten()
    {
        let Ok(list) = value.to_str() else { continue };
        for token in list.split(',').map(str::trim) {
            let standard = token.is_empty()
                || token.eq_ignore_ascii_case("keep-alive")
                || token.eq_ignore_ascii_case("close")
                || token.eq_ignore_ascii_case("upgrade");
            if !standard {
                if let Ok(name) = HeaderName::try_from(token) {
                    listed.push(name);
                }
            }
        }
    }
    for name in listed {
        headers.remove(name);
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(*name);
        }
    }
    if let Some(up) = upgrade_value {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, up);
    }
}

/// Whether `TE: trailers` was present (gRPC over h2c needs it kept).
pub fn wants_trailers(headers: &HeaderMap) -> bool {
    headers
        .get(header::TE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"))
}

/// Set `X-Forwarded-*` and `X-Real-Ip` on a request about to go upstream.
/// `host` is the client's Host (header or HTTP/2 authority).
pub fn set_forwarded_headers(
    headers: &mut HeaderMap,
    client: &ClientInfo,
    host: Option<&HeaderValue>,
    server_name: &HeaderValue,
) {
    let trusted = client.trusted;

    // X-Forwarded-For: append to a trusted chain, else start a new one.
    match headers.get(&X_FORWARDED_FOR) {
        Some(prev) if trusted => {
            let mut v = Vec::with_capacity(prev.len() + 2 + client.ip_header.len());
            v.extend_from_slice(prev.as_bytes());
            v.extend_from_slice(b", ");
            v.extend_from_slice(client.ip_header.as_bytes());
            if let Ok(v) = HeaderValue::from_bytes(&v) {
                headers.insert(&X_FORWARDED_FOR, v);
            }
        }
        _ => {
            headers.insert(&X_FORWARDED_FOR, client.ip_header.clone());
        }
    }

    set_unless_trusted(headers, &X_REAL_IP, trusted, || client.ip_header.clone());
    set_unless_trusted(headers, &X_FORWARDED_PROTO, trusted, || {
        HeaderValue::from_static(if client.tls { "https" } else { "http" })
    });
    if let Some(host) = host {
        set_unless_trusted(headers, &X_FORWARDED_HOST, trusted, || host.clone());
    }
    set_unless_trusted(headers, &X_FORWARDED_PORT, trusted, || {
        forwarded_port(host, client.tls)
    });
    headers.insert(&X_FORWARDED_SERVER, server_name.clone());
}

fn set_unless_trusted(
    headers: &mut HeaderMap,
    name: &'static HeaderName,
    trusted: bool,
    value: impl FnOnce() -> HeaderValue,
) {
    if trusted && headers.contains_key(name) {
        return;
    }
    headers.insert(name, value());
}

/// The port the client addressed: from its Host header, else the scheme's default.
fn forwarded_port(host: Option<&HeaderValue>, tls: bool) -> HeaderValue {
    let explicit = host
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .filter(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        .map(|(_, port)| port);
    match explicit {
        Some(p) => HeaderValue::from_str(p).unwrap_or_else(|_| HeaderValue::from_static("80")),
        None if tls => HeaderValue::from_static("443"),
        None => HeaderValue::from_static("80"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(trusted: bool) -> ClientInfo {
        ClientInfo::new("10.1.2.3".parse().unwrap(), trusted, false)
    }

    #[test]
    fn hop_by_hop_and_connection_listed_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn upgrade_pair_survives_when_upgrading() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(is_upgrade_request(&h));
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h[header::CONNECTION], "upgrade");
        assert_eq!(h[header::UPGRADE], "websocket");
    }

    #[test]
    fn untrusted_client_cannot_forge_forwarded_headers() {
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_FOR, HeaderValue::from_static("6.6.6.6"));
        h.insert(&X_REAL_IP, HeaderValue::from_static("6.6.6.6"));
        h.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        let host = HeaderValue::from_static("example.com:8080");
        set_forwarded_headers(
            &mut h,
            &client(false),
            Some(&host),
            &HeaderValue::from_static("gw"),
        );
        assert_eq!(h[&X_FORWARDED_FOR], "10.1.2.3");
        assert_eq!(h[&X_REAL_IP], "10.1.2.3");
        assert_eq!(h[&X_FORWARDED_PROTO], "http");
        assert_eq!(h[&X_FORWARDED_HOST], "example.com:8080");
        assert_eq!(h[&X_FORWARDED_PORT], "8080");
        assert_eq!(h[&X_FORWARDED_SERVER], "gw");
    }

    #[test]
    fn trusted_client_chain_is_extended() {
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_FOR, HeaderValue::from_static("1.1.1.1"));
        h.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        set_forwarded_headers(&mut h, &client(true), None, &HeaderValue::from_static("gw"));
        assert_eq!(h[&X_FORWARDED_FOR], "1.1.1.1, 10.1.2.3");
        assert_eq!(h[&X_FORWARDED_PROTO], "https");
        assert_eq!(h[&X_FORWARDED_PORT], "80");
    }

    #[test]
    fn ipv4_mapped_addresses_are_shown_as_ipv4() {
        let c = ClientInfo::new("::ffff:127.0.0.1".parse().unwrap(), false, false);
        assert_eq!(c.ip_header, "127.0.0.1");
    }
}
