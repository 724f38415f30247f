//! The request head, both ways: a client's head parsed from the
//! connection's buffer for the HTTP/1 lane (`parse`), and the head tollgate
//! writes to a backend (`encode_head`).

use std::mem::MaybeUninit;

use bytes::{BufMut, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode, Uri, Version};

use super::framing::Framing;
use super::policy::{
    HeadLimits, Refusal, RequestFacts, HEAD_TOO_LARGE, MAX_HEADERS, TOO_MANY_HEADERS,
};
use super::response::put_header;
use super::spans::Spans;
use crate::body::ProxyBody;

/// Headers a caller adds to an upstream request after the request's own
/// (`request::forwarded::Forwarded`): written straight into an HTTP/1 head,
/// with no map insert, or inserted into the map for hyper's paths.
pub trait ExtraHeaders: Sync {
    /// Append them to an HTTP/1 head as `name: value` lines.
    fn write(&self, out: &mut BytesMut);
    /// Insert them into `headers` (for a request that hyper encodes).
    fn insert_into(&self, headers: &mut HeaderMap);
}

// Unboxed on purpose: returned once per request and taken apart at once; a
// box would be an allocation per request.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    Request(Request<ProxyBody>, bool),
    Partial,
    ToHyper,
    /// Against the policy (`policy::check_request`); the head is consumed.
    Refused(Refusal),
}

/// Parse the request head at the front of `buf`, held to `limits`. A
/// request the lane takes is consumed (with whether the client asked to
/// close); anything else leaves `buf` untouched.
pub fn parse(buf: &mut BytesMut, limits: &HeadLimits) -> Parsed {
    let mut spans = Spans::new();
    let (len, method, path, count, facts) = {
        // Uninitialised: zeroing 100 slots costs more than parsing a head.
        let mut raw = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut []);
        let len = match req.parse_with_uninit_headers(buf, &mut raw) {
            Ok(httparse::Status::Complete(len)) if len > limits.max_head => {
                return Parsed::Refused(HEAD_TOO_LARGE)
            }
            Ok(httparse::Status::Complete(_)) if req.headers.len() > limits.max_headers => {
                return Parsed::Refused(TOO_MANY_HEADERS)
            }
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() <= limits.max_head => {
                return Parsed::Partial
            }
            // Too large, malformed, HTTP/2's preface: hyper knows the answers.
            _ => return Parsed::ToHyper,
        };
        let base = buf.as_ptr() as usize;
        let mut facts = RequestFacts::default();
        for h in req.headers.iter() {
            facts.note(h.name.as_bytes(), h.value);
            spans.push(buf.as_ptr(), h.name.as_bytes(), h.value);
        }
        // Bodies, upgrades, `Expect` and HTTP/1.0 are hyper's to serve.
        if req.version != Some(1)
            || facts.has_length
            || facts.transfer_encoding
            || facts.upgrade
            || facts.expect
        {
            return refused_before_hyper(&req, &facts, limits)
                .map_or(Parsed::ToHyper, Parsed::Refused);
        }
        let method = match Method::from_bytes(req.method.unwrap_or("").as_bytes()) {
            Ok(m) if m != Method::CONNECT => m,
            _ => return Parsed::ToHyper,
        };
        let target = req.path.unwrap_or("");
        let p = target.as_ptr() as usize - base;
        (len, method, (p, p + target.len()), req.headers.len(), facts)
    };
    let head = buf.split_to(len).freeze();
    let Ok(uri) = Uri::from_maybe_shared(head.slice(path.0..path.1)) else {
        return Parsed::Refused(Refusal {
            status: StatusCode::BAD_REQUEST,
            why: "invalid request target",
        });
    };
    // X-Forwarded-* are written straight into the upstream head
    // (`forwarded::Forwarded`), not added here; a little room for a Host
    // header or a plugin's additions.
    let mut headers = HeaderMap::with_capacity(count + 2);
    for span in spans.iter() {
        let (ns, ne) = span.name;
        let (vs, ve) = span.value;
        let Ok(name) = HeaderName::from_bytes(&head[ns as usize..ne as usize]) else {
            return Parsed::Refused(Refusal {
                status: StatusCode::BAD_REQUEST,
                why: "invalid header name",
            });
        };
        // SAFETY: httparse accepts in a value exactly the bytes HeaderValue
        // does (HTAB, SP, visible ASCII, obs-text), as hyper relies on too.
        let value = unsafe {
            HeaderValue::from_maybe_shared_unchecked(head.slice(vs as usize..ve as usize))
        };
        headers.append(name, value);
    }
    if let Err(refusal) = facts.check(&method, &uri, Version::HTTP_11, limits) {
        return Parsed::Refused(refusal);
    }
    facts.settle_length(&mut headers);
    let mut req = Request::new(ProxyBody::empty());
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_11;
    *req.headers_mut() = headers;
    Parsed::Request(req, facts.close)
}

/// The policy's verdict on a head the lane hands to hyper, whose parser
/// would hide some of what it checks (a `Content-Length` beside a
/// `Transfer-Encoding` is dropped unseen). What cannot be read here is
/// left to hyper.
fn refused_before_hyper(
    req: &httparse::Request<'_, '_>,
    facts: &RequestFacts,
    limits: &HeadLimits,
) -> Option<Refusal> {
    let method = Method::from_bytes(req.method?.as_bytes()).ok()?;
    let uri = Uri::try_from(req.path?).ok()?;
    let version = match req.version? {
        0 => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    facts.check(&method, &uri, version, limits).err()
}

/// An absolute-form target's authority (or HTTP/2's `:authority`) replaces
/// a `Host` header that differs (RFC 9112 section 3.2.2): routing and the
/// backend then see the same host. (Without a `Host` header both already
/// take the authority.)
pub fn settle_host<B>(req: &mut Request<B>) {
    // Origin-form targets (the lane's usual) have no authority: no lookup.
    let Some(authority) = req.uri().authority() else {
        return;
    };
    let host = match req.headers().get(header::HOST) {
        Some(host) if host.as_bytes() != authority.as_str().as_bytes() => {
            HeaderValue::from_str(authority.as_str()).ok()
        }
        _ => None,
    };
    if let Some(host) = host {
        req.headers_mut().insert(header::HOST, host);
    }
}

/// The request line and headers of a request as HTTP/1.1, origin-form
/// target, then the lines of `extra` (the `X-Forwarded-*` headers). A
/// chunked body gets its `Transfer-Encoding` line here, and no
/// `Content-Length` goes with it.
pub fn encode_head(
    parts: &http::request::Parts,
    framing: Framing,
    extra: Option<&dyn ExtraHeaders>,
    out: &mut BytesMut,
) {
    let pq = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    out.reserve(256 + pq.len() + parts.headers.len() * 32);
    out.put_slice(parts.method.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(pq.as_bytes());
    out.put_slice(b" HTTP/1.1\r\n");
    let chunked = framing == Framing::Chunked;
    for (name, value) in &parts.headers {
        if chunked && name == header::CONTENT_LENGTH {
            continue;
        }
        put_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if let Some(extra) = extra {
        extra.write(out);
    }
    if chunked {
        out.put_slice(b"transfer-encoding: chunked\r\n");
    }
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::policy::MAX_HEAD;

    fn parse_text(text: &str) -> Parsed {
        parse(&mut BytesMut::from(text), &HeadLimits::default())
    }

    #[test]
    fn bodiless_requests_stay_in_the_lane() {
        let mut buf = BytesMut::from("GET /cam?x=1 HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Length: 0\r\n\r\nGET /next");
        let Parsed::Request(req, close) = parse(&mut buf, &HeadLimits::default()) else {
            panic!("not taken");
        };
        assert_eq!(req.uri(), "/cam?x=1");
        assert_eq!(req.headers()["host"], "d");
        assert!(close);
        assert_eq!(&buf[..], b"GET /next", "pipelined bytes stay");
        assert!(matches!(
            parse_text("GET / HTTP/1.1\r\nHost: d\r\n"),
            Parsed::Partial
        ));
    }

    #[test]
    fn equal_repeated_lengths_become_one() {
        let text = "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\ncontent-length: 0\r\n\r\n";
        let Parsed::Request(req, _) = parse(&mut BytesMut::from(text), &HeadLimits::default())
        else {
            panic!("not taken");
        };
        let lengths: Vec<_> = req
            .headers()
            .get_all(header::CONTENT_LENGTH)
            .iter()
            .collect();
        assert_eq!(lengths, ["0"]);
    }

    #[test]
    fn heads_against_the_policy_are_refused() {
        for (text, status) in [
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n\r\n", 400),
            ("GET a.local:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 1\r\n\r\n",
                400,
            ),
            ("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            // Refused before the hand-over too: hyper would not see it all.
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 0\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            ("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400),
        ] {
            let mut buf = BytesMut::from(text);
            match parse(&mut buf, &HeadLimits::default()) {
                Parsed::Refused(r) => assert_eq!(r.status, status, "{text:?}"),
                Parsed::ToHyper => {} // httparse refused it first: hyper answers
                _ => panic!("taken: {text:?}"),
            }
        }
        let big = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD)
        );
        let Parsed::Refused(r) = parse(&mut BytesMut::from(big.as_str()), &HeadLimits::default())
        else {
            panic!("a complete head over the limit was taken");
        };
        assert_eq!(r.status, 431);
    }

    #[test]
    fn an_absolute_target_settles_the_host() {
        let mut req = Request::builder()
            .uri("http://public.local:8080/x")
            .header(header::HOST, "admin.local")
            .body(())
            .unwrap();
        settle_host(&mut req);
        let hosts: Vec<_> = req.headers().get_all(header::HOST).iter().collect();
        assert_eq!(hosts, ["public.local:8080"]);
        let mut req = Request::builder()
            .uri("/x")
            .header(header::HOST, "a")
            .body(())
            .unwrap();
        settle_host(&mut req);
        assert_eq!(req.headers()[header::HOST], "a");
    }

    #[test]
    fn everything_else_goes_to_hyper_untouched() {
        for text in [
            "POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\n\r\nhello",
            "POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /ws HTTP/1.1\r\nHost: d\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "PUT / HTTP/1.1\r\nHost: d\r\nExpect: 100-continue\r\n\r\n",
            "CONNECT d:443 HTTP/1.1\r\nHost: d\r\n\r\n",
            "GET / HTTP/1.0\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        ] {
            let mut buf = BytesMut::from(text);
            assert!(
                matches!(parse(&mut buf, &HeadLimits::default()), Parsed::ToHyper),
                "{text}"
            );
            assert_eq!(&buf[..], text.as_bytes());
        }
    }

    #[test]
    fn an_entry_points_head_limits_hold() {
        let limits = HeadLimits {
            max_head: 100,
            max_uri: 10,
            max_headers: 2,
        };
        let refused = |text: &str| match parse(&mut BytesMut::from(text), &limits) {
            Parsed::Refused(r) => r.status.as_u16(),
            _ => 0,
        };
        assert_eq!(refused("GET /0123456789a HTTP/1.1\r\nHost: a\r\n\r\n"), 414);
        assert_eq!(
            refused("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n"),
            431
        );
        let big = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nA: {}\r\n\r\n",
            "x".repeat(100)
        );
        assert_eq!(refused(&big), 431);
        let ok = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n";
        assert!(matches!(
            parse(&mut BytesMut::from(ok), &limits),
            Parsed::Request(..)
        ));
    }
}
