//! A backend's response head: parsed from the connection's read buffer into
//! `http` types (header values share the buffer's memory, as in hyper), and
//! how its body is delimited (RFC 9112 section 6.3).

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};

use super::{has_token, Spans, MAX_HEAD, MAX_HEADERS};

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
    pub headers: HeaderMap,
    pub framing: Framing,
    /// May the connection carry another request after this body?
    pub keep_alive: bool,
}

/// Parse the response head at the front of `buf`, consuming it. `Ok(None)`:
/// not complete yet, read more. `head_request`: the request was HEAD, so no
/// body follows whatever the headers say.
pub fn parse(buf: &mut BytesMut, head_request: bool) -> Result<Option<Head>, String> {
    // Where each name and value lies in the head, to slice it once frozen.
    let mut spans = Spans::new();
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
        for h in resp.headers.iter() {
            spans.push(buf.as_ptr(), h.name.as_bytes(), h.value);
        }
        let version = match resp.version {
            Some(0) => Version::HTTP_10,
            _ => Version::HTTP_11,
        };
        (len, resp.code.unwrap_or(0), version, resp.headers.len())
    };
    let head = buf.split_to(len).freeze();
    let status = StatusCode::from_u16(code).map_err(|_| format!("invalid status code {code}"))?;
    let mut headers = HeaderMap::with_capacity(count);
    for span in spans.iter() {
        let (ns, ne) = span.name;
        let (vs, ve) = span.value;
        let name = HeaderName::from_bytes(&head[ns as usize..ne as usize])
            .map_err(|_| "invalid header name in response".to_string())?;
        // SAFETY: httparse accepts in a value exactly the bytes HeaderValue
        // does (HTAB, SP, visible ASCII, obs-text), as hyper relies on too.
        let value = unsafe {
            HeaderValue::from_maybe_shared_unchecked(head.slice(vs as usize..ve as usize))
        };
        headers.append(name, value);
    }
    let framing = framing(status, &headers, head_request)?;
    let keep_alive = framing != Framing::Close && keeps_alive(version, &headers);
    Ok(Some(Head {
        status,
        version,
        headers,
        framing,
        keep_alive,
    }))
}

fn framing(status: StatusCode, headers: &HeaderMap, head_request: bool) -> Result<Framing, String> {
    if head_request
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    let mut codings = headers.get_all(header::TRANSFER_ENCODING).iter().peekable();
    if codings.peek().is_some() {
        // Chunked must be the last coding; anything else is read to the end.
        let last = codings.last().map(|v| v.as_bytes()).unwrap_or_default();
        let chunked = last
            .rsplit(|&b| b == b',')
            .next()
            .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        return Ok(if chunked {
            Framing::Chunked
        } else {
            Framing::Close
        });
    }
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value.as_bytes().split(|&b| b == b',') {
            let n = std::str::from_utf8(part.trim_ascii())
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or("invalid Content-Length in response")?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length values in response".into());
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
        None => Framing::Close,
    })
}

fn keeps_alive(version: Version, headers: &HeaderMap) -> bool {
    let mut close = false;
    let mut keep_alive = false;
    for v in headers.get_all(header::CONNECTION) {
        close |= has_token(v.as_bytes(), "close");
        keep_alive |= has_token(v.as_bytes(), "keep-alive");
    }
    match version {
        Version::HTTP_10 => keep_alive && !close,
        _ => !close,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Option<Head>, String> {
        parse(&mut BytesMut::from(text), false)
    }

    #[test]
    fn parses_status_headers_and_length() {
        let mut buf =
            BytesMut::from("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello");
        let h = parse(&mut buf, false).unwrap().unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.framing, Framing::Length(5));
        assert!(h.keep_alive);
        assert_eq!(h.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(&buf[..], b"hello", "the body stays in the buffer");
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
