//! What the HTTP/1 codec accepts, refuses and normalizes: one policy for
//! client requests (on both the lane and hyper's path) and backend
//! responses, each rule applied in one place, named here.
//!
//! # Client requests
//!
//! Refused, and the connection closed after the answer:
//!
//! | what | status | where |
//! |---|---|---|
//! | malformed request line or header line, bare CR, obs-fold | 400 | `httparse` (lane), hyper |
//! | head larger than [`HeadLimits::max_head`] | 431 | `request::parse` (lane); hyper's `max_buf_size` |
//! | request target longer than [`HeadLimits::max_uri`] | 414 | [`RequestFacts::check`] |
//! | more than [`HeadLimits::max_headers`] header lines | 431 | `request::parse` (lane); hyper's `max_headers` |
//! | HTTP/1.1 without `Host`, or more than one `Host` line | 400 | [`RequestFacts::check`] |
//! | authority-form target (`host:port`) without CONNECT; `*` without OPTIONS | 400 | [`RequestFacts::check`] |
//! | a `Content-Length` line that is not one decimal number (`5, 5` included), or two lines that differ | 400 | [`RequestFacts::check`] |
//! | both `Content-Length` and `Transfer-Encoding` | 400 (on a connection hyper serves, hyper drops the length unseen: the request is read chunked and the connection closed after it) | [`RequestFacts::check`], `listen::service` |
//! | `Transfer-Encoding` whose final coding is not `chunked` | 400 | [`RequestFacts::check`] |
//! | other codings before `chunked` (`gzip, chunked`) | 501 | [`RequestFacts::check`] |
//! | `Transfer-Encoding` on HTTP/1.0 | 400 | [`RequestFacts::check`] |
//!
//! Normalized: equal repeated `Content-Length` lines become one line
//! (`RequestFacts::settle_length`, as hyper does); an absolute-form
//! target's authority replaces `Host`
//! (RFC 9112 section 3.2.2), so routing and the backend see one host
//! (`request::settle_host`). Optional whitespace around a value or a
//! coding is whitespace (`Transfer-Encoding:\tchunked` is chunked).
//!
//! What the backend may receive: a request line in origin form, exactly one
//! `Host`, the client's headers less the hop-by-hop ones (`hop`), and
//! `Connection` can never remove `Host`, the framing headers or the
//! `X-Forwarded-*` headers tollgate writes (`hop::names_a_header`). A body
//! is re-framed by tollgate: its own `Content-Length` or chunked coding,
//! never the client's `Transfer-Encoding`.
//!
//! # Backend responses
//!
//! Refused with 502 (before any byte reaches the client; or, when the body
//! goes wrong midway, the client's connection is closed without a final
//! chunk, so a cut body is never taken for a whole one):
//!
//! | what | where |
//! |---|---|
//! | malformed status line or header line | `response::parse` (httparse) |
//! | head larger than [`MAX_HEAD`] | `response::parse` |
//! | `Content-Length` values that differ, or are not numbers | `response::parse` |
//! | a chunk-size line that is not `1*HEXDIG [chunk-ext]` | `chunked` |
//! | a body shorter than its `Content-Length` | `client::RawBody` |
//!
//! Normalized: repeated equal `Content-Length` values become one line; a
//! length beside a transfer coding is dropped (RFC 9112 section 6.3); a
//! `HEAD` answer keeps the backend's headers and gets no invented length.
//! A connection that answered `101 Switching Protocols` is never reused,
//! whether or not the switch was asked for (RFC 9110 section 7.8).

use http::header::{HeaderMap, HeaderValue};
use http::{Method, StatusCode, Uri, Version};

use super::framing;
use super::hop;

/// Most header fields accepted in one message (hyper's limit too).
pub const MAX_HEADERS: usize = 100;
/// Largest message head accepted (request line or status line plus headers).
pub const MAX_HEAD: usize = 64 * 1024;
/// Longest request target accepted (nginx's `large_client_header_buffers`
/// default): longer ones get 414.
pub const MAX_URI: usize = 8 * 1024;

/// The limits a request head is held to: an entry point's
/// (`[entryPoints.X.http] maxHeaderBytes`, `[limits] maxURIBytes,
/// maxHeaders`), the constants above by default. A head may be smaller
/// than the constants say, or larger ([`MAX_HEADERS`] bounds the count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    pub max_head: usize,
    pub max_uri: usize,
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_head: MAX_HEAD,
            max_uri: MAX_URI,
            max_headers: MAX_HEADERS,
        }
    }
}

/// A head over its limits: 431.
pub const HEAD_TOO_LARGE: Refusal = Refusal {
    status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    why: "request head too large",
};

/// Too many header lines: 431.
pub const TOO_MANY_HEADERS: Refusal = Refusal {
    status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    why: "too many header lines",
};

/// The refusal of a request with both `Content-Length` and
/// `Transfer-Encoding` (nginx refuses it too; RFC 9112 section 6.1 allows
/// it).
pub const BOTH_FRAMINGS: &str = "both Content-Length and Transfer-Encoding";

/// Why a request is refused before it is routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub why: &'static str,
}

const fn bad(why: &'static str) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        why,
    }
}

/// What a request's header lines say, for the rules above and for the
/// lane's choices, gathered in one pass (the parser's own): one dispatch on
/// the name's length per line, most lines match nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct RequestFacts {
    hosts: u8,
    /// The `Content-Length`, when every value given is this one.
    length: Option<u64>,
    /// More than one (equal) length line: written once upstream.
    repeated_length: bool,
    /// A value that is not a number, or two that differ.
    bad_length: bool,
    /// Any `Content-Length` line at all.
    length_line: bool,
    /// A `Content-Length` other than 0.
    pub has_length: bool,
    pub transfer_encoding: bool,
    codings: u8,
    /// The final coding (of the last `Transfer-Encoding` line) is chunked.
    last_chunked: bool,
    /// A `Transfer-Encoding` value with bytes no coding has (obs-text,
    /// controls): hyper cannot read it either.
    bad_coding: bool,
    pub upgrade: bool,
    pub expect: bool,
    /// `Connection: close`.
    pub close: bool,
}

impl RequestFacts {
    /// Take in one header line.
    #[inline]
    pub fn note(&mut self, name: &[u8], value: &[u8]) {
        let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
        match name.len() {
            4 if is("host") => self.hosts = self.hosts.saturating_add(1),
            6 if is("expect") => self.expect = true,
            7 if is("upgrade") => self.upgrade = true,
            10 if is("connection") => self.close |= hop::has_token(value, "close"),
            14 if is("content-length") => {
                self.length_line = true;
                // One number per line (a list is refused, as hyper does);
                // equal repeated lines are one length.
                match (framing::parse_length(value), self.length) {
                    (Some(n), None) => self.length = Some(n),
                    (Some(n), Some(m)) if n == m => self.repeated_length = true,
                    _ => self.bad_length = true,
                }
                self.has_length = self.length.is_some_and(|n| n > 0);
            }
            17 if is("transfer-encoding") => {
                self.transfer_encoding = true;
                self.last_chunked = false;
                self.bad_coding |= value.iter().any(|&b| b >= 0x80 || (b < 0x20 && b != b'\t'));
                for coding in hop::tokens(value) {
                    self.codings = self.codings.saturating_add(1);
                    self.last_chunked = coding.eq_ignore_ascii_case(b"chunked");
                }
            }
            _ => {}
        }
    }

    /// The request rules of the table above that hold for any parser:
    /// applied by the lane to every head httparse accepts (those it hands
    /// to hyper too, whose parser would drop a `Content-Length` beside a
    /// `Transfer-Encoding` unseen), and to what hyper parsed on a
    /// connection it serves ([`check_request`]).
    pub fn check(
        &self,
        method: &Method,
        uri: &Uri,
        version: Version,
        limits: &HeadLimits,
    ) -> Result<(), Refusal> {
        let target = uri.path_and_query().map_or(0, |pq| pq.as_str().len())
            + uri.authority().map_or(0, |a| a.as_str().len());
        if target > limits.max_uri {
            return Err(Refusal {
                status: StatusCode::URI_TOO_LONG,
                why: "request target too long",
            });
        }
        // Target forms (RFC 9112 section 3.2).
        if uri.scheme().is_none() && uri.authority().is_some() && *method != Method::CONNECT {
            return Err(bad("authority-form target without CONNECT"));
        }
        if uri.path() == "*" && *method != Method::OPTIONS {
            return Err(bad("asterisk-form target without OPTIONS"));
        }
        if self.hosts > 1 {
            return Err(bad("more than one Host header"));
        }
        if self.hosts == 0 && version == Version::HTTP_11 {
            return Err(bad("HTTP/1.1 request without Host"));
        }
        // First: a length beside a coding, valid or not, is the smuggler's
        // signature; hyper may drop it unseen (see `listen::service`).
        if self.transfer_encoding && self.length_line {
            return Err(bad(BOTH_FRAMINGS));
        }
        if self.bad_length {
            return Err(bad("invalid or conflicting Content-Length"));
        }
        if self.transfer_encoding {
            if self.bad_coding {
                return Err(bad("malformed Transfer-Encoding"));
            }
            if version == Version::HTTP_10 {
                return Err(bad("Transfer-Encoding on HTTP/1.0"));
            }
            // Without chunked last the body has no knowable end (RFC 9112
            // section 6.3: 400); other codings before it are not
            // implemented (section 6.1: 501).
            if !self.last_chunked {
                return Err(bad("final transfer coding is not chunked"));
            }
            if self.codings != 1 {
                return Err(Refusal {
                    status: StatusCode::NOT_IMPLEMENTED,
                    why: "transfer coding other than chunked",
                });
            }
        }
        Ok(())
    }
}

impl RequestFacts {
    /// Equal repeated length lines become one, as RFC 9110 section 8.6
    /// allows and hyper does: the backend gets exactly one.
    pub fn settle_length(&self, headers: &mut HeaderMap) {
        if let Some(n) = self.length.filter(|_| self.repeated_length) {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
        }
    }
}

/// [`RequestFacts::check`] and [`RequestFacts::settle_length`] for a head
/// hyper parsed.
pub fn check_request(
    method: &Method,
    uri: &Uri,
    version: Version,
    headers: &mut HeaderMap,
    limits: &HeadLimits,
) -> Result<(), Refusal> {
    let mut facts = RequestFacts::default();
    for (name, value) in headers.iter() {
        facts.note(name.as_str().as_bytes(), value.as_bytes());
    }
    facts.check(method, uri, version, limits)?;
    facts.settle_length(headers);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        method: &str,
        target: &str,
        version: Version,
        fields: &[(&str, &str)],
    ) -> Result<(), u16> {
        let mut headers = HeaderMap::new();
        for (k, v) in fields {
            headers.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
            );
        }
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let uri: Uri = target.parse().unwrap();
        check_request(&method, &uri, version, &mut headers, &HeadLimits::default())
            .map_err(|r| r.status.as_u16())
    }

    const V11: Version = Version::HTTP_11;

    #[test]
    fn hosts_and_targets() {
        assert_eq!(check("GET", "/", V11, &[("host", "a")]), Ok(()));
        assert_eq!(check("GET", "/", V11, &[]), Err(400));
        assert_eq!(check("GET", "/", Version::HTTP_10, &[]), Ok(()));
        assert_eq!(
            check("GET", "/", V11, &[("host", "a"), ("host", "a")]),
            Err(400)
        );
        assert_eq!(check("GET", "a.local:80", V11, &[("host", "a")]), Err(400));
        assert_eq!(
            check("CONNECT", "a.local:443", V11, &[("host", "a")]),
            Ok(())
        );
        assert_eq!(check("GET", "http://a/x", V11, &[("host", "b")]), Ok(()));
        assert_eq!(check("GET", "*", V11, &[("host", "a")]), Err(400));
        assert_eq!(check("OPTIONS", "*", V11, &[("host", "a")]), Ok(()));
    }

    #[test]
    fn long_targets_get_414() {
        let h = [("host", "a")];
        let at_limit = format!("/{}", "a".repeat(MAX_URI - 1));
        assert_eq!(check("GET", &at_limit, V11, &h), Ok(()));
        let over = format!("/?q={}", "a".repeat(MAX_URI));
        assert_eq!(check("GET", &over, V11, &h), Err(414));
    }

    #[test]
    fn framing_headers() {
        let h = ("host", "a");
        assert_eq!(
            check("POST", "/", V11, &[h, ("content-length", "5")]),
            Ok(())
        );
        for bad in ["5, 6", "5, 5", "+5", "-1", "", "5 5", "0x5", "5,"] {
            assert_eq!(
                check("POST", "/", V11, &[h, ("content-length", bad)]),
                Err(400),
                "{bad:?}"
            );
        }
        let two = [h, ("content-length", "0"), ("content-length", "0")];
        assert_eq!(check("GET", "/", V11, &two), Ok(()));
        let differ = [h, ("content-length", "0"), ("content-length", "1")];
        assert_eq!(check("GET", "/", V11, &differ), Err(400));
        let te = |v| check("POST", "/", V11, &[h, ("transfer-encoding", v)]);
        assert_eq!(te("chunked"), Ok(()));
        assert_eq!(te("\tChunked "), Ok(()));
        assert_eq!(te("identity, chunked"), Err(501));
        assert_eq!(te("chunked, chunked"), Err(501));
        assert_eq!(te("gzip"), Err(400));
        assert_eq!(te("chunked, gzip"), Err(400));
        assert_eq!(te("gzip, chunked"), Err(501));
        assert_eq!(te("g\u{e9}zip, chunked"), Err(400));
        let both = [h, ("content-length", "3"), ("transfer-encoding", "chunked")];
        assert_eq!(check("POST", "/", V11, &both), Err(400));
        let old = [("transfer-encoding", "chunked")];
        assert_eq!(check("POST", "/", Version::HTTP_10, &old), Err(400));
    }
}
