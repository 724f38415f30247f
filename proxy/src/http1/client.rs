//! The client side of the codec: HTTP/1.1 exchanges on backend connections
//! driven directly from the request's task (see `crate::http1`): the request
//! head is written with one `write`, the response head parsed with
//! `httparse`, and the response body read from the socket by the body itself
//! (`RawBody`) as the client side asks for it. No connection task, no
//! channel, no wakeup between tasks.
//!
//! Used for every HTTP/1 request but upgrades (WebSocket), which hyper's
//! client connection handles (`upstream::pool`) since the socket then
//! changes hands. Where a finished connection goes is the caller's
//! (`ConnHome`): this file knows no pool.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::Response;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::chunked::{self, Step};
use super::framing::Framing;
use super::response::{self, Form, RawHead};

/// Where a backend connection goes when its response body has been read to
/// its end and it can carry another exchange (the server's pool).
pub trait ConnHome: Send + Sync {
    fn checkin(&self, conn: RawConn);
}

/// Read buffer of a backend connection, and how much more each read asks for.
const READ_CHUNK: usize = 16 * 1024;

/// A backend socket, with or without TLS, or another byte stream (a
/// stream through a device's tunnel, `tunnel::registry`).
pub enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Stream(Box<dyn ByteStream>),
}

/// What `Io::Stream` holds.
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}

/// A keep-alive HTTP/1 connection to a backend and what was read past the
/// last message on it.
pub struct RawConn {
    io: Io,
    buf: BytesMut,
}

/// Why an exchange failed, and whether the request may be sent again.
#[derive(Debug)]
pub struct ExchangeError {
    pub error: io::Error,
    /// The request head reached the socket.
    pub written: bool,
    /// Nothing came back from the backend: on a reused connection, this is
    /// the backend having closed it as we wrote.
    pub nothing_received: bool,
}

impl RawConn {
    pub fn new(io: Io) -> Self {
        RawConn {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK),
        }
    }

    /// The socket, for a protocol that takes it over (an upgrade via hyper).
    /// Only for idle connections, whose buffer is empty.
    pub fn into_io(self) -> Io {
        self.io
    }

    /// Did the backend close this idle connection (or send something it
    /// should not have)? Checked without blocking before reusing it: with
    /// edge-triggered readiness, a closed socket is usually known already and
    /// a live one costs no system call.
    pub fn is_stale(&mut self) -> bool {
        let mut probe = [0u8; 1];
        match &mut self.io {
            // `try_read` looks at tokio's readiness first: for a live idle
            // connection no system call, and (unlike a poll) no lock taken
            // to register a waker.
            Io::Plain(tcp) => !matches!(
                tcp.try_read(&mut probe),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock
            ),
            Io::Tls(_) | Io::Stream(_) => {
                let mut cx = Context::from_waker(Waker::noop());
                let mut probe = ReadBuf::new(&mut probe);
                !matches!(
                    Pin::new(&mut self.io).poll_read(&mut cx, &mut probe),
                    Poll::Pending
                )
            }
        }
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.buf)
    }

    /// Write `head`, then `body`, while watching for the response head: a
    /// backend may answer (413, 401...) before it has read the whole body,
    /// and must not be left blocked on a body nobody reads. 1xx answers are
    /// skipped. Also returns whether the whole request was written (if not,
    /// the connection cannot carry another request).
    async fn exchange<B>(
        &mut self,
        req: &Outgoing<'_>,
        body: &mut B,
        sent: &mut bool,
    ) -> Result<(response::Head, bool), ExchangeError>
    where
        B: Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let Outgoing {
            head,
            framing,
            head_request,
            form,
        } = *req;
        let mut head_left = head;
        let mut out = BytesMut::new();
        let mut body_done = !framing.has_body();
        let mut flushed = false;
        let mut received = false;
        let fail = |error, written, nothing_received| ExchangeError {
            error,
            written,
            nothing_received,
        };
        std::future::poll_fn(|cx| {
            // Send as much of the request as the socket takes.
            loop {
                let pending: &[u8] = if !head_left.is_empty() {
                    head_left
                } else {
                    &out
                };
                if !pending.is_empty() {
                    match Pin::new(&mut self.io).poll_write(cx, pending) {
                        Poll::Ready(Ok(0)) => {
                            let e =
                                io::Error::new(io::ErrorKind::WriteZero, "backend stopped reading");
                            return Poll::Ready(Err(fail(e, head_left.is_empty(), !received)));
                        }
                        Poll::Ready(Ok(n)) if !head_left.is_empty() => head_left = &head_left[n..],
                        Poll::Ready(Ok(n)) => out.advance(n),
                        Poll::Ready(Err(e)) => {
                            return Poll::Ready(Err(fail(e, head_left.is_empty(), !received)))
                        }
                        Poll::Pending => break,
                    }
                    continue;
                }
                if body_done {
                    // What TLS buffered goes out now; a no-op on plain TCP.
                    if !flushed {
                        match Pin::new(&mut self.io).poll_flush(cx) {
                            Poll::Ready(Ok(())) => {
                                flushed = true;
                                *sent = true;
                            }
                            Poll::Ready(Err(e)) => {
                                return Poll::Ready(Err(fail(e, true, !received)))
                            }
                            Poll::Pending => {}
                        }
                    }
                    break;
                }
                match Pin::new(&mut *body).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        // Trailers are not forwarded on HTTP/1.
                        let Ok(data) = frame.into_data() else {
                            continue;
                        };
                        if data.is_empty() {
                            continue;
                        }
                        if framing == Framing::Chunked {
                            chunked::put_size_line(&mut out, data.len());
                            out.put_slice(&data);
                            out.put_slice(b"\r\n");
                        } else {
                            out.put_slice(&data);
                        }
                    }
                    Poll::Ready(None) => {
                        body_done = true;
                        if framing == Framing::Chunked {
                            out.put_slice(chunked::LAST_CHUNK);
                        }
                    }
                    Poll::Ready(Some(Err(e))) => {
                        let e = io::Error::other(format!("reading the request body: {e}"));
                        return Poll::Ready(Err(fail(e, true, false)));
                    }
                    Poll::Pending => break,
                }
            }
            // Read the answer as it comes, even before the request is sent.
            loop {
                match response::parse(&mut self.buf, head_request, form) {
                    Ok(Some(h)) if h.status.is_informational() && h.status != 101 => continue,
                    Ok(Some(h)) => {
                        let complete = body_done && out.is_empty() && head_left.is_empty();
                        return Poll::Ready(Ok((h, complete)));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let e = io::Error::new(io::ErrorKind::InvalidData, e);
                        return Poll::Ready(Err(fail(e, true, false)));
                    }
                }
                match ready!(self.poll_fill(cx)) {
                    Ok(0) => {
                        let e = io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "backend closed the connection before answering",
                        );
                        return Poll::Ready(Err(fail(e, head_left.is_empty(), !received)));
                    }
                    Ok(_) => received = true,
                    Err(e) => return Poll::Ready(Err(fail(e, head_left.is_empty(), !received))),
                }
            }
        })
        .await
    }
}

/// One request as an exchange sends it: its encoded head
/// (`request::encode_head`), how its body is framed, and what the caller
/// wants of the answer's head.
#[derive(Clone, Copy)]
pub struct Outgoing<'a> {
    pub head: &'a [u8],
    pub framing: Framing,
    /// A HEAD request: no body follows the answer's head.
    pub head_request: bool,
    pub form: Form,
}

/// Send an encoded request (`request::encode_head`, then `body`) on `conn`
/// and turn the answer into a response whose body reads the rest from the
/// connection and then hands it to `home`. With `Form::PassThrough` the
/// response's header lines may stay raw, in the body (`RawBody::take_head`),
/// and its `HeaderMap` empty.
pub async fn send<B>(
    conn: RawConn,
    req: &Outgoing<'_>,
    body: &mut B,
    home: Arc<dyn ConnHome>,
) -> Result<Response<RawBody>, ExchangeError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut exchange = InFlight {
        conn: Some(conn),
        sent: false,
        home: &home,
        head_request: req.head_request,
    };
    let InFlight { conn, sent, .. } = &mut exchange;
    let result = conn
        .as_mut()
        .expect("set above")
        .exchange(req, body, sent)
        .await;
    let conn = exchange.conn.take().expect("set above");
    drop(exchange);
    let (h, request_complete) = result?;
    let head_request = req.head_request;
    let keep_alive = h.keep_alive && request_complete;
    let mut body = RawBody::new(conn, h.framing, keep_alive, home, h.raw);
    // A HEAD answer's headers describe the GET's body: its own emptiness
    // is no length to announce.
    body.length_unknown = head_request;
    let mut resp = Response::new(body);
    *resp.status_mut() = h.status;
    *resp.version_mut() = h.version;
    *resp.headers_mut() = h.headers;
    Ok(resp)
}

/// A backend's response body read straight from its connection. Read to its
/// end, it returns the connection to its home. Dropped before (the client
/// went away), the rest is read and thrown away in the background when it
/// is small ([`DRAIN_MAX`] within [`DRAIN_TIME`]), so the connection can
/// still go home; otherwise it is closed (the rest of the body would leak
/// into the next answer).
pub struct RawBody {
    conn: Option<RawConn>,
    /// A body being drained is not drained again when dropped.
    draining: bool,
    state: State,
    keep_alive: bool,
    home: Arc<dyn ConnHome>,
    /// The response's header lines, when they were kept raw.
    head: Option<Box<RawHead>>,
    /// No length can be derived from it (the answer to a HEAD).
    length_unknown: bool,
}

enum State {
    Length(u64),
    Chunked(chunked::Decoder),
    Close,
    Done,
}

impl RawBody {
    fn new(
        conn: RawConn,
        framing: Framing,
        keep_alive: bool,
        home: Arc<dyn ConnHome>,
        head: Option<Box<RawHead>>,
    ) -> Self {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(chunked::Decoder::default()),
            Framing::Close => State::Close,
        };
        let mut body = RawBody {
            conn: Some(conn),
            draining: false,
            state,
            keep_alive,
            home,
            head,
            length_unknown: false,
        };
        if matches!(body.state, State::Done) {
            body.finish();
        }
        body
    }

    /// The response's raw header lines, for whoever writes the head.
    pub fn take_head(&mut self) -> Option<Box<RawHead>> {
        self.head.take()
    }

    /// The body ended: the connection goes back to the pool if it can carry
    /// another exchange (nothing unexpected left in its buffer).
    fn finish(&mut self) {
        self.state = State::Done;
        if let Some(conn) = self.conn.take() {
            if self.keep_alive && conn.buf.is_empty() {
                self.home.checkin(conn);
            }
        }
    }

    /// What is left of an abandoned body, if it is worth draining.
    fn take_for_draining(&mut self) -> Option<RawBody> {
        let small = match &self.state {
            State::Length(left) => *left <= DRAIN_MAX as u64,
            State::Chunked(_) => true,
            State::Close | State::Done => false,
        };
        if self.draining || !self.keep_alive || !small {
            return None;
        }
        Some(RawBody {
            conn: Some(self.conn.take()?),
            draining: true,
            state: std::mem::replace(&mut self.state, State::Done),
            keep_alive: true,
            home: self.home.clone(),
            head: None,
            length_unknown: false,
        })
    }

    fn eof_error() -> io::Error {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "backend closed the connection in the middle of the body",
        )
    }
}

/// An exchange whose request is out: dropped before its answer came (the
/// client went away), it reads the answer in the background and drains it
/// like an abandoned body (`RawBody`), so that a client resetting requests
/// in flight does not cost a backend connection each.
struct InFlight<'a> {
    conn: Option<RawConn>,
    /// The whole request was written and flushed.
    sent: bool,
    home: &'a Arc<dyn ConnHome>,
    head_request: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let (Some(mut conn), true) = (self.conn.take(), self.sent) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (home, head_request) = (self.home.clone(), self.head_request);
        runtime.spawn(async move {
            let answer = std::future::poll_fn(|cx| loop {
                match response::parse(&mut conn.buf, head_request, Form::Map) {
                    Ok(Some(h)) if h.status.is_informational() => continue,
                    Ok(Some(h)) => return Poll::Ready(Some(h)),
                    Ok(None) => {}
                    Err(_) => return Poll::Ready(None),
                }
                match ready!(conn.poll_fill(cx)) {
                    Ok(0) | Err(_) => return Poll::Ready(None),
                    Ok(_) => {}
                }
            });
            if let Ok(Some(h)) = tokio::time::timeout(DRAIN_TIME, answer).await {
                // Dropped unread: drained, then home (see `Drop for RawBody`).
                drop(RawBody::new(conn, h.framing, h.keep_alive, home, None));
            }
        });
    }
}

/// The most of an abandoned body read to save its connection.
pub const DRAIN_MAX: usize = 64 * 1024;
/// How long an abandoned body may take to arrive to save its connection.
pub const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

impl Drop for RawBody {
    fn drop(&mut self) {
        let Some(mut rest) = self.take_for_draining() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let drain = async {
                let mut budget = DRAIN_MAX;
                while let Some(frame) =
                    std::future::poll_fn(|cx| Pin::new(&mut rest).poll_frame(cx)).await
                {
                    let Ok(frame) = frame else { return };
                    let len = frame.data_ref().map_or(0, Bytes::len);
                    budget = match budget.checked_sub(len) {
                        Some(left) => left,
                        None => return,
                    };
                }
            };
            // Read to its end, the body checks its connection in.
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
        });
    }
}

impl Body for RawBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match &mut this.state {
                State::Done => {
                    this.finish();
                    return Poll::Ready(None);
                }
                State::Length(left) => {
                    if !conn.buf.is_empty() {
                        let n = (*left).min(conn.buf.len() as u64);
                        let data = conn.buf.split_to(n as usize).freeze();
                        *left -= n;
                        if *left == 0 {
                            this.finish();
                        }
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                State::Chunked(decoder) => match decoder.step(&mut conn.buf) {
                    Ok(Step::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Ok(Step::Done) => {
                        this.finish();
                        return Poll::Ready(None);
                    }
                    Ok(Step::NeedMore) => {}
                    Err(e) => {
                        this.conn = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                State::Close => {
                    if !conn.buf.is_empty() {
                        let data = conn.buf.split().freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
            }
            let closed_ends_body = matches!(this.state, State::Close);
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if closed_ends_body => {
                    this.state = State::Done;
                    this.conn = None;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(Self::eof_error())));
                }
                Ok(_) => {}
                Err(e) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            State::Done => true,
            State::Length(0) => true,
            State::Chunked(d) => d.is_done(),
            _ => self.conn.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            _ if self.length_unknown => SizeHint::default(),
            State::Done => SizeHint::with_exact(0),
            State::Length(n) => SizeHint::with_exact(*n),
            _ => SizeHint::default(),
        }
    }
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Io::Stream(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Io::Stream(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Io::Stream(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Io::Stream(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
