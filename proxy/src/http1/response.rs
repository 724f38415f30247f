//! The response head, both ways: a backend's head parsed from the
//! connection's read buffer (`parse`), with how its body is delimited, and
//! the head tollgate writes to an HTTP/1 client (`encode_head`).
//!
//! A parsed head's headers become `http` types (values share the buffer's
//! memory, as in hyper) for whoever reads them, or stay the backend's own
//! lines (`RawHead`) for a response that goes straight to an HTTP/1 client
//! (`Form::PassThrough`).

use std::mem::MaybeUninit;

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};

use super::date;
use super::framing::{self, Framing};
use super::hop;
use super::policy::{MAX_HEAD, MAX_HEADERS};
use super::spans::Spans;

#[derive(Debug)]
pub struct Head {
    pub status: StatusCode,
    pub version: Version,
    /// The headers as a map, or empty when they are kept as raw lines.
    pub headers: HeaderMap,
    /// The header lines to forward as they came (see `RawHead`).
    pub raw: Option<Box<RawHead>>,
    pub framing: Framing,
    /// May the connection carry another request after this body?
    pub keep_alive: bool,
}

/// What the caller wants of the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// A `HeaderMap`: for plugins, hyper's server, anything that reads them.
    Map,
    /// Raw lines when possible (`Head::raw`), a map otherwise: for a
    /// response that goes straight to an HTTP/1 client.
    PassThrough,
}

/// A response's header lines kept as the backend sent them, less the
/// hop-by-hop ones, for an HTTP/1 client that gets them unchanged: no map
/// is built, no name is hashed, no value is counted. They are written out
/// as byte runs of the head (nginx and HAProxy forward header lines the
/// same way). Header case and order are the backend's.
#[derive(Debug)]
pub struct RawHead {
    head: Bytes,
    runs: [(u32, u32); MAX_RUNS],
    len: u8,
    /// A `Date` line is among them.
    pub has_date: bool,
    /// The `Content-Length` they carry, if any.
    pub content_length: Option<u64>,
    /// The backend's length lines were repeated (`5, 5`): dropped from the
    /// runs, to be written once as `content_length`.
    pub rewrite_length: bool,
}

/// Dropped lines split the kept ones into runs; a head that needs more
/// runs than this (many hop-by-hop lines interleaved) becomes a map.
const MAX_RUNS: usize = 4;

impl RawHead {
    /// The kept lines, in order, in a few slices; each line ends in CRLF.
    pub fn runs(&self) -> impl Iterator<Item = &[u8]> {
        self.runs[..self.len as usize]
            .iter()
            .map(|&(s, e)| &self.head[s as usize..e as usize])
    }
}

/// What the framing and connection headers say, gathered in one pass.
#[derive(Default)]
struct Facts {
    transfer_encoding: bool,
    /// The last coding of the last `Transfer-Encoding` is `chunked`.
    chunked: bool,
    content_length: Option<u64>,
    /// More than one length value came (equal ones: else `bad_length`).
    repeated_length: bool,
    bad_length: Option<&'static str>,
    close: bool,
    keep_alive: bool,
    /// `Connection` names other headers as hop-by-hop.
    lists_headers: bool,
    has_date: bool,
}

/// What a header name is to the proxy.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    ContentLength,
    TransferEncoding,
    Connection,
    Date,
    /// Never forwarded (RFC 9110 section 7.6.1).
    HopByHop,
    Other,
}

fn role(name: &[u8]) -> Role {
    let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    match name.len() {
        4 if is("date") => Role::Date,
        14 if is("content-length") => Role::ContentLength,
        17 if is("transfer-encoding") => Role::TransferEncoding,
        10 if is("connection") => Role::Connection,
        // The list `hop::strip_hop_by_hop` removes from maps.
        _ if hop::is_hop_by_hop(name) => Role::HopByHop,
        _ => Role::Other,
    }
}

impl Facts {
    /// The length lines must be rewritten as one (equal repeated values).
    fn rewrite_length(&self) -> bool {
        self.repeated_length && !self.transfer_encoding && self.bad_length.is_none()
    }

    fn note(&mut self, role: Role, value: &[u8]) {
        match role {
            Role::TransferEncoding => {
                self.transfer_encoding = true;
                // Chunked must be the last coding; anything else is read to
                // the end.
                self.chunked = value
                    .rsplit(|&b| b == b',')
                    .next()
                    .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            }
            Role::ContentLength => {
                for part in value.split(|&b| b == b',') {
                    self.repeated_length |= self.content_length.is_some();
                    match framing::parse_length(part) {
                        None => self.bad_length = Some("invalid Content-Length in response"),
                        Some(n) if self.content_length.is_some_and(|l| l != n) => {
                            self.bad_length = Some("conflicting Content-Length values in response")
                        }
                        Some(n) => self.content_length = Some(n),
                    }
                }
            }
            Role::Connection => {
                for token in hop::tokens(value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        self.close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        self.keep_alive = true;
                    } else if hop::names_a_header(token) {
                        self.lists_headers = true;
                    }
                }
            }
            Role::Date => self.has_date = true,
            Role::HopByHop | Role::Other => {}
        }
    }

    /// How the body is delimited (RFC 9112 section 6.3).
    fn framing(&self, status: StatusCode, head_request: bool) -> Result<Framing, String> {
        if head_request || framing::bodiless(status) {
            return Ok(Framing::Empty);
        }
        if self.transfer_encoding {
            return Ok(if self.chunked {
                Framing::Chunked
            } else {
                Framing::Close
            });
        }
        if let Some(e) = self.bad_length {
            return Err(e.into());
        }
        Ok(match self.content_length {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::Close,
        })
    }

    fn keeps_alive(&self, version: Version) -> bool {
        match version {
            Version::HTTP_10 => self.keep_alive && !self.close,
            _ => !self.close,
        }
    }
}

/// Parse the response head at the front of `buf`, consuming it. `Ok(None)`:
/// not complete yet, read more. `head_request`: the request was HEAD, so no
/// body follows whatever the headers say.
pub fn parse(buf: &mut BytesMut, head_request: bool, form: Form) -> Result<Option<Head>, String> {
    // Where each name and value lies in the head, to slice it once frozen:
    // only for headers that become a map.
    let mut spans = None;
    let mut facts = Facts::default();
    // Kept header lines as runs of the head (for `Form::PassThrough`).
    let mut runs = Runs::default();
    let mut roles = [Role::Other; MAX_HEADERS];
    let (len, code, version, count) = {
        // Uninitialised: zeroing 100 slots costs more than parsing a head.
        let mut raw = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default()
            .parse_response_with_uninit_headers(&mut resp, buf, &mut raw);
        let len = match parsed {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
                return Err(format!("response head larger than {MAX_HEAD} bytes"))
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(format!("invalid response head: {e}")),
        };
        let base = buf.as_ptr() as usize;
        let headers = &*resp.headers;
        for (i, h) in headers.iter().enumerate() {
            roles[i] = role(h.name.as_bytes());
            facts.note(roles[i], h.value);
        }
        if form == Form::PassThrough && !facts.lists_headers {
            // A line runs from its name to the next line's name (httparse
            // refuses folded lines); the last one ends before the blank line.
            let end_of_head = len - if buf[len - 2] == b'\r' { 2 } else { 1 };
            for (i, h) in headers.iter().enumerate() {
                let dropped = match roles[i] {
                    Role::HopByHop | Role::Connection | Role::TransferEncoding => true,
                    // A length beside a transfer coding is wrong, and not ours
                    // to forward (RFC 9112 section 6.3); a repeated one is
                    // written once.
                    Role::ContentLength => facts.transfer_encoding || facts.rewrite_length(),
                    _ => false,
                };
                if dropped {
                    continue;
                }
                let start = h.name.as_ptr() as usize - base;
                let end = headers
                    .get(i + 1)
                    .map_or(end_of_head, |next| next.name.as_ptr() as usize - base);
                runs.add(start as u32, end as u32, &buf[..end]);
            }
        } else {
            runs.unusable = true;
        }
        if runs.unusable {
            let mut all = Spans::new();
            for h in headers {
                all.push(buf.as_ptr(), h.name.as_bytes(), h.value);
            }
            spans = Some(all);
        }
        let version = match resp.version {
            Some(0) => Version::HTTP_10,
            _ => Version::HTTP_11,
        };
        (len, resp.code.unwrap_or(0), version, headers.len())
    };
    let head = buf.split_to(len).freeze();
    let status = StatusCode::from_u16(code).map_err(|_| format!("invalid status code {code}"))?;
    let framing = facts.framing(status, head_request)?;
    // After a 101 the connection is no longer HTTP, asked for or not.
    let keep_alive = framing != Framing::Close
        && status != StatusCode::SWITCHING_PROTOCOLS
        && facts.keeps_alive(version);
    let mut headers = HeaderMap::new();
    let raw = match spans {
        None => Some(Box::new(RawHead {
            head,
            runs: runs.runs,
            len: runs.len as u8,
            has_date: facts.has_date,
            content_length: facts.content_length.filter(|_| !facts.transfer_encoding),
            rewrite_length: facts.rewrite_length(),
        })),
        Some(spans) => {
            headers.reserve(count);
            for (i, span) in spans.iter().enumerate() {
                // A length beside a transfer coding is not forwarded.
                if roles[i] == Role::ContentLength && facts.transfer_encoding {
                    continue;
                }
                let (ns, ne) = span.name;
                let (vs, ve) = span.value;
                let name = HeaderName::from_bytes(&head[ns as usize..ne as usize])
                    .map_err(|_| "invalid header name in response".to_string())?;
                // SAFETY: httparse accepts in a value exactly the bytes
                // HeaderValue does (HTAB, SP, visible ASCII, obs-text), as
                // hyper relies on too.
                let value = unsafe {
                    HeaderValue::from_maybe_shared_unchecked(head.slice(vs as usize..ve as usize))
                };
                headers.append(name, value);
            }
            if let Some(n) = facts.content_length.filter(|_| facts.rewrite_length()) {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            }
            None
        }
    };
    Ok(Some(Head {
        status,
        version,
        headers,
        raw,
        framing,
        keep_alive,
    }))
}

/// The byte runs of the kept lines, merged when adjacent.
#[derive(Default)]
struct Runs {
    runs: [(u32, u32); MAX_RUNS],
    len: usize,
    /// Not wanted, too many runs, or a line not ended by CRLF (which a
    /// sender must not pass on): the headers become a map instead.
    unusable: bool,
}

impl Runs {
    /// Add the line `start..end`; `head` is the head up to `end`.
    fn add(&mut self, start: u32, end: u32, head: &[u8]) {
        if !head.ends_with(b"\r\n") {
            self.unusable = true;
        }
        match self.len.checked_sub(1).map(|i| &mut self.runs[i]) {
            Some(last) if last.1 == start => last.1 = end,
            _ if self.len == MAX_RUNS => self.unusable = true,
            _ => {
                self.runs[self.len] = (start, end);
                self.len += 1;
            }
        }
    }
}

/// The status line and headers of a response to an HTTP/1 client, with the
/// framing chosen as hyper chooses it: the response's own `Content-Length`,
/// else the body's known length (`exact_length`), else chunked. Returns how
/// the body is to be written. A backend's raw header lines (`raw`) go first,
/// as they are; then the map's headers, less the framing and connection
/// headers, which are this hop's own.
pub fn encode_head(
    out: &mut BytesMut,
    status: StatusCode,
    raw: Option<&RawHead>,
    headers: &HeaderMap,
    exact_length: Option<u64>,
    head_request: bool,
    close: bool,
) -> Framing {
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(status.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.put_slice(b"\r\n");
    let mut length = None;
    let mut has_date = false;
    if let Some(raw) = raw {
        for run in raw.runs() {
            out.put_slice(run);
        }
        length = raw.content_length;
        has_date = raw.has_date;
        if let Some(n) = length.filter(|_| raw.rewrite_length) {
            put_length(out, n);
        }
    }
    for (name, value) in headers {
        if name == header::TRANSFER_ENCODING || name == header::CONNECTION {
            continue;
        }
        if name == header::CONTENT_LENGTH {
            length = framing::parse_length(value.as_bytes());
        } else if name == header::DATE {
            has_date = true;
        }
        put_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if !has_date {
        out.put_slice(b"date: ");
        date::with_now(|d| out.put_slice(d));
        out.put_slice(b"\r\n");
    }
    let framing = if framing::bodiless(status) {
        Framing::Empty
    } else if let Some(n) = length {
        Framing::Length(n)
    } else if let Some(n) = exact_length {
        put_length(out, n);
        Framing::Length(n)
    } else if head_request {
        Framing::Empty
    } else {
        out.put_slice(b"transfer-encoding: chunked\r\n");
        Framing::Chunked
    };
    if close {
        out.put_slice(b"connection: close\r\n");
    }
    out.put_slice(b"\r\n");
    if head_request || !framing.has_body() {
        return Framing::Empty;
    }
    framing
}

/// One `name: value` header line.
pub fn put_header(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    out.put_slice(name);
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

/// A `content-length: N` line.
fn put_length(out: &mut BytesMut, n: u64) {
    put_header(out, b"content-length", itoa(n, &mut [0; 20]));
}

fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Option<Head>, String> {
        parse(&mut BytesMut::from(text), false, Form::Map)
    }

    #[test]
    fn parses_status_headers_and_length() {
        let mut buf =
            BytesMut::from("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello");
        let h = parse(&mut buf, false, Form::Map).unwrap().unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.framing, Framing::Length(5));
        assert!(h.keep_alive);
        assert_eq!(h.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(&buf[..], b"hello", "the body stays in the buffer");
    }

    fn pass_through(text: &str) -> Head {
        parse(&mut BytesMut::from(text), false, Form::PassThrough)
            .unwrap()
            .unwrap()
    }

    fn lines(h: &Head) -> String {
        let raw = h.raw.as_ref().expect("raw lines");
        raw.runs().map(|r| String::from_utf8_lossy(r)).collect()
    }

    #[test]
    fn pass_through_keeps_the_lines_less_hop_by_hop_ones() {
        let h = pass_through(
            "HTTP/1.1 200 OK\r\nServer: cam\r\nConnection: keep-alive\r\nX-A: 1\r\n\
             Keep-Alive: timeout=5\r\nContent-Length: 3\r\nDate: today\r\n\r\nabc",
        );
        assert!(h.headers.is_empty());
        assert_eq!(
            lines(&h),
            "Server: cam\r\nX-A: 1\r\nContent-Length: 3\r\nDate: today\r\n"
        );
        let raw = h.raw.as_ref().unwrap();
        assert_eq!(raw.runs().count(), 3, "adjacent lines are one run");
        assert!(raw.has_date);
        assert_eq!(raw.content_length, Some(3));
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(3), true));

        let h = pass_through("HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(lines(&h), "");
        let h = pass_through(
            "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nX: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        assert_eq!(lines(&h), "X: 1\r\n", "a length beside a coding is dropped");
        assert_eq!(h.raw.as_ref().unwrap().content_length, None);
    }

    #[test]
    fn heads_that_cannot_pass_through_become_maps() {
        for text in [
            // Bare LF: a sender must not pass it on.
            "HTTP/1.1 200 OK\nX-A: 1\nContent-Length: 0\n\n",
            // Connection names a header to drop.
            "HTTP/1.1 200 OK\r\nConnection: x-b\r\nX-B: 1\r\n\r\n",
            // Too many runs.
            "HTTP/1.1 200 OK\r\nA: 1\r\nTE: x\r\nB: 1\r\nTE: x\r\nC: 1\r\nTE: x\r\n\
             D: 1\r\nTE: x\r\nE: 1\r\n\r\n",
        ] {
            let h = pass_through(text);
            assert!(h.raw.is_none(), "{text:?}");
            assert!(!h.headers.is_empty(), "{text:?}");
        }
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.headers.get("content-length").is_none());
    }

    #[test]
    fn incomplete_heads_wait_for_more() {
        assert!(head("HTTP/1.1 200 OK\r\nContent-Le").unwrap().is_none());
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let f = |t: &str| head(t).unwrap().unwrap().framing;
        assert_eq!(
            f("HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n"),
            Framing::Empty
        );
        assert_eq!(f("HTTP/1.1 304 Not Modified\r\n\r\n"), Framing::Empty);
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n"),
            Framing::Chunked
        );
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Framing::Close
        );
        assert_eq!(f("HTTP/1.1 200 OK\r\n\r\n"), Framing::Close);
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            Framing::Empty
        );
        let h = parse(
            &mut BytesMut::from("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"),
            true,
            Form::Map,
        );
        assert_eq!(h.unwrap().unwrap().framing, Framing::Empty);
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        let k = |t: &str| head(t).unwrap().unwrap().keep_alive;
        assert!(!k(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n"
        ));
        assert!(!k("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n"));
        assert!(k(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n"
        ));
        assert!(
            !k("HTTP/1.1 200 OK\r\n\r\n"),
            "a body read to EOF ends the connection"
        );
    }

    #[test]
    fn framing_is_chosen_like_hyper() {
        let mut out = BytesMut::new();
        let mut h = HeaderMap::new();
        let f = encode_head(&mut out, StatusCode::OK, None, &h, Some(3), false, false);
        assert!(f == Framing::Length(3));
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("content-length: 3\r\n") && text.contains("date: "));

        out.clear();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("9"));
        let f = encode_head(&mut out, StatusCode::OK, None, &h, Some(0), true, true);
        assert!(f == Framing::Empty, "HEAD has no body");
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(text.contains("content-length: 9\r\n") && text.contains("connection: close\r\n"));
    }

    #[test]
    fn numbers_are_printed() {
        assert_eq!(itoa(0, &mut [0; 20]), b"0");
        assert_eq!(itoa(1234567890, &mut [0; 20]), b"1234567890");
        assert_eq!(
            itoa(u64::MAX, &mut [0; 20]),
            u64::MAX.to_string().as_bytes()
        );
    }

    #[test]
    fn repeated_equal_lengths_become_one() {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nX: 1\r\nContent-Length: 5\r\n\r\n";
        let h = head(text).unwrap().unwrap();
        assert_eq!(
            h.headers
                .get_all("content-length")
                .iter()
                .collect::<Vec<_>>(),
            ["5"]
        );
        assert_eq!(h.framing, Framing::Length(5));
        let h = pass_through(text);
        assert_eq!(lines(&h), "X: 1\r\n");
        let mut out = BytesMut::new();
        encode_head(
            &mut out,
            h.status,
            h.raw.as_deref(),
            &h.headers,
            None,
            false,
            false,
        );
        let out = String::from_utf8(out.to_vec()).unwrap();
        assert_eq!(out.matches("content-length").count(), 1, "{out}");
        assert!(out.contains("content-length: 5\r\n"), "{out}");
    }

    #[test]
    fn a_connection_that_switched_protocols_is_not_kept() {
        let h = head("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
        let h = h.unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Empty, false));
    }

    #[test]
    fn bad_heads_are_errors() {
        assert!(head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").is_err());
        assert!(head("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").is_err());
        assert!(head("HTTP/1.1 999999 OK\r\n\r\n").is_err());
        assert!(head("garbage\r\n\r\n").is_err());
        let big = format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(MAX_HEAD + 1));
        assert!(head(&big).is_err());
    }
}
