//! Hop-by-hop headers (RFC 9110 section 7.6.1): the fields that describe one
//! connection and are never forwarded, and the one parser of `Connection`
//! tokens, for maps (`strip_hop_by_hop`) and for header lines kept as bytes
//! (`http1::response`).

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

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

/// Does a comma-separated header value (e.g. `Connection`) contain `token`,
/// compared case-insensitively?
pub fn has_token(value: &[u8], token: &str) -> bool {
    tokens(value).any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
}

/// The trimmed, non-empty tokens of a comma-separated header value.
pub fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// Is this an HTTP/1.1 upgrade request (`Connection: upgrade` + `Upgrade: x`)?
pub fn is_upgrade_request(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE) && connection_has(headers, "upgrade")
}

fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .any(|v| has_token(v.as_bytes(), token))
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
        for token in tokens(value.as_bytes()) {
            if names_a_header(token) {
                if let Ok(name) = HeaderName::from_bytes(token) {
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

/// Whether `name` is one of the hop-by-hop headers every proxy drops
/// (`Connection` included), in any case: for header lines forwarded as
/// bytes (`http1::response`), the same list `strip_hop_by_hop` removes.
pub fn is_hop_by_hop(name: &[u8]) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h.as_str().as_bytes()))
}

/// Whether a `Connection` token (trimmed) names another header to drop:
/// anything but the connection options `keep-alive`, `close`, `upgrade`,
/// and never a header the proxy relies on or writes itself (RFC 9110
/// section 7.6.1): `Connection: host` must not strip the Host a backend
/// routes by, nor `Connection: content-length` the framing.
pub fn names_a_header(token: &[u8]) -> bool {
    !(token.is_empty()
        || token.eq_ignore_ascii_case(b"keep-alive")
        || token.eq_ignore_ascii_case(b"close")
        || token.eq_ignore_ascii_case(b"upgrade")
        || PROTECTED
            .iter()
            .any(|p| token.eq_ignore_ascii_case(p.as_bytes())))
}

/// Headers no `Connection` list may remove.
const PROTECTED: [&str; 11] = [
    "host",
    "content-length",
    "transfer-encoding",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-server",
    "x-forwarded-prefix",
    "x-replaced-path",
    "x-real-ip",
];

/// Whether `TE: trailers` was present (gRPC over h2c needs it kept).
pub fn wants_trailers(headers: &HeaderMap) -> bool {
    headers
        .get(header::TE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_case_insensitively() {
        assert!(has_token(b"keep-alive, Close", "close"));
        assert!(has_token(b"close", "close"));
        assert!(!has_token(b"closed", "close"));
        assert!(!has_token(b"", "close"));
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
}
