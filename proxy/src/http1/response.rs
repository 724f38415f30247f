//! A backend's response head: parsed from the connection's read buffer, and
//! how its body is delimited (RFC 9112 section 6.3). Its headers become
//! `http` types (values share the buffer's memory, as in hyper) for whoever
//! reads them, or stay the backend's own lines (`RawHead`) for a response
//! that goes straight to an HTTP/1 client (`Form::PassThrough`).

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};

use super::{Spans, MAX_HEAD, MAX_HEADERS};
use crate::forwarded;

/// How the body after a response head ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: HEAD, 1xx, 204, 304.
    Empty,
    Length(u64),
    Chunked,
    /// Read until the backend closes the connection.
    Close,
}

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
        // The list `forwarded::strip_hop_by_hop` removes from maps.
        _ if forwarded::is_hop_by_hop(name) => Role::HopByHop,
        _ => Role::Other,
    }
}

impl Facts {
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
                    let n = std::str::from_utf8(part.trim_ascii())
                        .ok()
                        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|s| s.parse::<u64>().ok());
                    match n {
                        None => self.bad_length = Some("invalid Content-Length in response"),
                        Some(n) if self.content_length.is_some_and(|l| l != n) => {
                            self.bad_length = Some("conflicting Content-Length values in response")
                        }
                        Some(n) => self.content_length = Some(n),
                    }
                }
            }
            Role::Connection => {
                for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if token.eq_ignore_ascii_case(b"close") {
                        self.close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        self.keep_alive = true;
                    } else if forwarded::names_a_header(token) {
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
        if head_request
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
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
                    // to forward (RFC 9112 section 6.3).
                    Role::ContentLength => facts.transfer_encoding,
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
    let keep_alive = framing != Framing::Close && facts.keeps_alive(version);
    let mut headers = HeaderMap::new();
    let raw = match spans {
        None => Some(Box::new(RawHead {
            head,
            runs: runs.runs,
            len: runs.len as u8,
            has_date: facts.has_date,
            content_length: facts.content_length.filter(|_| !facts.transfer_encoding),
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
    fn bad_heads_are_errors() {
        assert!(head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").is_err());
        assert!(head("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").is_err());
        assert!(head("HTTP/1.1 999999 OK\r\n\r\n").is_err());
        assert!(head("garbage\r\n\r\n").is_err());
        let big = format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(MAX_HEAD + 1));
        assert!(head(&big).is_err());
    }
}
