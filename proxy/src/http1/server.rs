//! The HTTP/1.1 fast lane for client connections.
//!
//! A connection starts here. Each request head is parsed with `httparse`
//! straight from the connection's buffer, goes through the same pipeline as
//! every other request (`server::respond`: routing, plugins, forwarding) and
//! its response is written back from this same task: head and body in one
//! write when the body is already there, each part as it comes when it
//! streams (an MJPEG camera).
//!
//! Whatever the lane does not handle goes to hyper, which then serves the
//! rest of the connection (`Rewind` replays what was read): request bodies
//! (`Content-Length` > 0, `Transfer-Encoding`), `Upgrade` (WebSocket, h2c),
//! `Expect`, `CONNECT`, HTTP/1.0, HTTP/2's preface, and malformed or
//! oversized heads (hyper answers those with 400 or 431). The lane is an
//! optimisation, never a second set of rules: both paths share `respond`.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::task::Poll;

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use http_body_util::BodyExt as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::response::{Form, RawHead};
use super::rewind::Rewind;
use super::{date, has_token, Spans, MAX_HEAD, MAX_HEADERS};
use crate::body::ProxyBody;
use crate::server::{self, Connection};

/// Initial capacity of a connection's read and write buffers.
const BUF: usize = 8 * 1024;
/// A body frame at least this large is written from where it is rather than
/// copied behind the head.
const COPY_LIMIT: usize = 16 * 1024;

/// Serve requests on `io` until the client leaves, a timeout or shutdown
/// ends the connection (None), or a request needs hyper: then the
/// connection is returned with the bytes already read put back in front.
pub async fn serve<I>(
    mut io: I,
    conn: &Arc<Connection>,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Rewind<I>>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(BUF);
    let mut out = BytesMut::with_capacity(BUF);
    // One timer for the connection's life, re-armed only when it fires
    // early: resetting it for every request costs more than the check.
    let mut waiting_since = tokio::time::Instant::now();
    let idle = tokio::time::sleep_until(waiting_since + conn.header_timeout);
    tokio::pin!(idle);
    // Shutdown: registered once for the connection, not once per request.
    // Polled once here, `stop` makes the shutdown signal wake this task;
    // from then on a version check (`stopping`) tells whether shutdown was
    // asked, without polling `stop` again (each poll takes the channel's
    // lock, on every request).
    let mut stop_rx = shutdown.clone();
    let stop = stop_requested(&mut stop_rx);
    tokio::pin!(stop);
    if std::future::poll_fn(|cx| Poll::Ready(Future::poll(stop.as_mut(), cx)))
        .await
        .is_ready()
    {
        return None;
    }
    loop {
        // A request head, or a reason to stop.
        waiting_since = tokio::time::Instant::now();
        let (req, client_close) = loop {
            if !buf.is_empty() {
                match parse_request(&mut buf) {
                    Parsed::Request(req, close) => break (req, close),
                    Parsed::Partial => {}
                    Parsed::ToHyper => return Some(Rewind::new(io, buf)),
                    Parsed::Bad(why) => {
                        tracing::debug!(client = %conn.client.ip, why, "bad request");
                        if io.write_all(BAD_REQUEST).await.is_ok() {
                            // Lingers: the rest of the bad input must not
                            // turn into a reset that loses the 400.
                            let _ = io.shutdown().await;
                        }
                        return None;
                    }
                }
            }
            if buf.capacity() - buf.len() < 1024 {
                buf.reserve(BUF);
            }
            let read = tokio::select! {
                biased;
                read = io.read_buf(&mut buf) => read,
                // Shutdown closes a connection between requests, not in
                // the middle of one.
                () = std::future::poll_fn(|_| {
                    if stopping(shutdown) { Poll::Ready(()) } else { Poll::Pending }
                }), if buf.is_empty() => return None,
                // readTimeout, else idleTimeout (as hyper's header timeout).
                () = &mut idle => {
                    let deadline = waiting_since + conn.header_timeout;
                    if tokio::time::Instant::now() >= deadline {
                        return None;
                    }
                    idle.as_mut().reset(deadline);
                    continue;
                }
            };
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        };

        if let Some(deadline) = &conn.write_deadline {
            deadline.arm();
        }
        let head_request = req.method() == Method::HEAD;
        // A client that leaves while the backend thinks: drop the request,
        // which cancels the upstream exchange.
        // Pinned here and selected by reference: the future is large, and
        // select! would otherwise move it.
        let respond = server::respond(req, conn.clone(), Form::PassThrough);
        tokio::pin!(respond);
        let resp = tokio::select! {
            biased;
            resp = &mut respond => resp,
            () = client_gone(&mut io, &mut buf) => return None,
        };
        let close = client_close || stopping(shutdown);
        match write_response(&mut io, &mut out, resp, head_request, close).await {
            Ok(true) if !close => {}
            Ok(_) => {
                let _ = io.shutdown().await;
                return None;
            }
            Err(e) => {
                tracing::debug!(client = %conn.client.ip, error = %e, "response not delivered");
                return None;
            }
        }
    }
}

/// Whether shutdown has been asked for. The channel changes once, from
/// `false` to `true` (`entrypoint::Drain`), so a version check (an atomic
/// load) answers; the value is read only after a change.
fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    shutdown.has_changed().unwrap_or(false) && *shutdown.borrow()
}

/// Resolves once shutdown has been asked for (never if the sender is gone
/// without asking).
pub async fn stop_requested(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

// Unboxed on purpose: returned once per request and taken apart at once; a
// box would be an allocation per request.
#[allow(clippy::large_enum_variant)]
enum Parsed {
    Request(Request<ProxyBody>, bool),
    Partial,
    ToHyper,
    Bad(&'static str),
}

/// Parse the request head at the front of `buf`. A request the lane takes
/// is consumed (with whether the client asked to close); anything else
/// leaves `buf` untouched.
fn parse_request(buf: &mut BytesMut) -> Parsed {
    let mut spans = Spans::new();
    let (len, method, path, count, close) = {
        // Uninitialised: zeroing 100 slots costs more than parsing a head.
        let mut raw = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut []);
        let len = match req.parse_with_uninit_headers(buf, &mut raw) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => return Parsed::Partial,
            // Too large, malformed, HTTP/2's preface: hyper knows the answers.
            _ => return Parsed::ToHyper,
        };
        if req.version != Some(1) {
            return Parsed::ToHyper;
        }
        let base = buf.as_ptr() as usize;
        let mut close = false;
        for h in req.headers.iter() {
            let name = h.name;
            let bodyless_length =
                || name.eq_ignore_ascii_case("content-length") && h.value.trim_ascii() == b"0";
            if name.eq_ignore_ascii_case("transfer-encoding")
                || name.eq_ignore_ascii_case("upgrade")
                || name.eq_ignore_ascii_case("expect")
                || (name.eq_ignore_ascii_case("content-length") && !bodyless_length())
            {
                return Parsed::ToHyper;
            }
            if name.eq_ignore_ascii_case("connection") && has_token(h.value, "close") {
                close = true;
            }
            spans.push(buf.as_ptr(), name.as_bytes(), h.value);
        }
        let method = match Method::from_bytes(req.method.unwrap_or("").as_bytes()) {
            Ok(m) if m != Method::CONNECT => m,
            _ => return Parsed::ToHyper,
        };
        let target = req.path.unwrap_or("");
        let p = target.as_ptr() as usize - base;
        (len, method, (p, p + target.len()), req.headers.len(), close)
    };
    let head = buf.split_to(len).freeze();
    let Ok(uri) = Uri::from_maybe_shared(head.slice(path.0..path.1)) else {
        return Parsed::Bad("invalid request target");
    };
    // X-Forwarded-* are written straight into the upstream head
    // (`forwarded::Forwarded`), not added here; a little room for a Host
    // header or a plugin's additions.
    let mut headers = HeaderMap::with_capacity(count + 2);
    for span in spans.iter() {
        let (ns, ne) = span.name;
        let (vs, ve) = span.value;
        let Ok(name) = HeaderName::from_bytes(&head[ns as usize..ne as usize]) else {
            return Parsed::Bad("invalid header name");
        };
        // SAFETY: httparse accepts in a value exactly the bytes HeaderValue
        // does (HTAB, SP, visible ASCII, obs-text), as hyper relies on too.
        let value = unsafe {
            HeaderValue::from_maybe_shared_unchecked(head.slice(vs as usize..ve as usize))
        };
        headers.append(name, value);
    }
    let mut req = Request::new(ProxyBody::empty());
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_11;
    *req.headers_mut() = headers;
    Parsed::Request(req, close)
}

/// Resolves when the client closes its side (or its connection fails).
/// Pipelined bytes that arrive meanwhile are kept for the next request.
async fn client_gone<I: AsyncRead + Unpin>(io: &mut I, buf: &mut BytesMut) {
    loop {
        if buf.len() >= MAX_HEAD {
            // Enough queued; stop reading until this response is out.
            return std::future::pending().await;
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(BUF);
        }
        match io.read_buf(buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// Write `resp`; true if the connection may carry another request.
async fn write_response<I>(
    io: &mut I,
    out: &mut BytesMut,
    resp: Response<ProxyBody>,
    head_request: bool,
    close: bool,
) -> io::Result<bool>
where
    I: AsyncWrite + Unpin,
{
    let (parts, mut body) = resp.into_parts();
    out.clear();
    let raw = body.take_raw_head();
    let framing = encode_head(
        out,
        parts.status,
        raw.as_deref(),
        &parts.headers,
        &body,
        head_request,
        close,
    );
    drop(raw);
    if framing == Framing::None {
        io.write_all(out).await?;
        io.flush().await?;
        return Ok(true);
    }
    let mut sent = 0u64;
    loop {
        // What the body has ready joins the head in one write; only when it
        // has nothing ready is the buffer written and the body awaited.
        let frame = match std::future::poll_fn(|cx| Poll::Ready(body.poll_frame_unpin(cx))).await {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                if !out.is_empty() {
                    io.write_all(out).await?;
                    io.flush().await?;
                    out.clear();
                }
                body.frame().await
            }
        };
        let data = match frame {
            None => break,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue, // trailers: not sent on HTTP/1
            },
            Some(Err(e)) => {
                // The client must not take a cut body for a whole one: the
                // connection closes without the final chunk.
                if !out.is_empty() {
                    let _ = io.write_all(out).await;
                }
                return Err(io::Error::other(e));
            }
        };
        if data.is_empty() {
            continue;
        }
        sent += data.len() as u64;
        if framing == Framing::Chunked {
            out.put_slice(format!("{:x}\r\n", data.len()).as_bytes());
        }
        put_data(io, out, data).await?;
        if framing == Framing::Chunked {
            out.put_slice(b"\r\n");
        }
    }
    if framing == Framing::Chunked {
        out.put_slice(b"0\r\n\r\n");
    }
    if !out.is_empty() {
        io.write_all(out).await?;
    }
    io.flush().await?;
    // A body shorter or longer than it announced leaves the client unable
    // to find the next response: close.
    Ok(match framing {
        Framing::Length(n) => sent == n,
        _ => true,
    })
}

async fn put_data<I: AsyncWrite + Unpin>(
    io: &mut I,
    out: &mut BytesMut,
    data: Bytes,
) -> io::Result<()> {
    if data.len() < COPY_LIMIT {
        out.put_slice(&data);
        return Ok(());
    }
    if !out.is_empty() {
        io.write_all(out).await?;
        out.clear();
    }
    io.write_all(&data).await
}

trait PollFrame {
    fn poll_frame_unpin(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, crate::body::BoxError>>>;
}

impl PollFrame for ProxyBody {
    fn poll_frame_unpin(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, crate::body::BoxError>>> {
        std::pin::Pin::new(self).poll_frame(cx)
    }
}

/// Status line and headers, with the framing chosen as hyper chooses it: the
/// response's own `Content-Length`, else the body's known length, else
/// chunked. Returns how the body is to be written. A backend's raw header
/// lines (`raw`) go first, as they are; then the map's headers.
fn encode_head(
    out: &mut BytesMut,
    status: StatusCode,
    raw: Option<&RawHead>,
    headers: &HeaderMap,
    body: &ProxyBody,
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
    }
    for (name, value) in headers {
        // Framing and connection management are this hop's own.
        if name == header::TRANSFER_ENCODING || name == header::CONNECTION {
            continue;
        }
        if name == header::CONTENT_LENGTH {
            length = std::str::from_utf8(value.as_bytes())
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
        } else if name == header::DATE {
            has_date = true;
        }
        out.put_slice(name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_slice(b"\r\n");
    }
    if !has_date {
        out.put_slice(b"date: ");
        date::with_now(|d| out.put_slice(d));
        out.put_slice(b"\r\n");
    }
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = if bodiless {
        Framing::None
    } else if let Some(n) = length {
        Framing::Length(n)
    } else if let Some(n) = body.size_hint().exact() {
        out.put_slice(b"content-length: ");
        out.put_slice(itoa(n, &mut [0; 20]));
        out.put_slice(b"\r\n");
        Framing::Length(n)
    } else if head_request {
        Framing::None
    } else {
        out.put_slice(b"transfer-encoding: chunked\r\n");
        Framing::Chunked
    };
    if close {
        out.put_slice(b"connection: close\r\n");
    }
    out.put_slice(b"\r\n");
    match framing {
        _ if head_request => Framing::None,
        Framing::Length(0) => Framing::None,
        f => f,
    }
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

    fn parse(text: &str) -> Parsed {
        parse_request(&mut BytesMut::from(text))
    }

    #[test]
    fn bodiless_requests_stay_in_the_lane() {
        let mut buf = BytesMut::from("GET /cam?x=1 HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Length: 0\r\n\r\nGET /next");
        let Parsed::Request(req, close) = parse_request(&mut buf) else {
            panic!("not taken");
        };
        assert_eq!(req.uri(), "/cam?x=1");
        assert_eq!(req.headers()["host"], "d");
        assert!(close);
        assert_eq!(&buf[..], b"GET /next", "pipelined bytes stay");
        assert!(matches!(
            parse("GET / HTTP/1.1\r\nHost: d\r\n"),
            Parsed::Partial
        ));
    }

    #[test]
    fn everything_else_goes_to_hyper_untouched() {
        for text in [
            "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "PUT / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "CONNECT d:443 HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.0\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        ] {
            let mut buf = BytesMut::from(text);
            assert!(matches!(parse_request(&mut buf), Parsed::ToHyper), "{text}");
            assert_eq!(&buf[..], text.as_bytes());
        }
    }

    #[test]
    fn framing_is_chosen_like_hyper() {
        let mut out = BytesMut::new();
        let mut h = HeaderMap::new();
        let f = encode_head(
            &mut out,
            StatusCode::OK,
            None,
            &h,
            &ProxyBody::full("abc"),
            false,
            false,
        );
        assert!(f == Framing::Length(3));
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("content-length: 3\r\n") && text.contains("date: "));

        out.clear();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("9"));
        let f = encode_head(
            &mut out,
            StatusCode::OK,
            None,
            &h,
            &ProxyBody::empty(),
            true,
            true,
        );
        assert!(f == Framing::None, "HEAD has no body");
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
}
