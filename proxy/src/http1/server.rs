//! The HTTP/1.1 fast lane for client connections.
//!
//! A connection starts here. Each request head is parsed with `httparse`
//! straight from the connection's buffer (`request::parse`), handed to the
//! caller's handler (the request pipeline, the same as for every other
//! request) and its response is written back from this same task: head and
//! body in one write when the body is already there, each part as it comes
//! when it streams (an MJPEG camera).
//!
//! Whatever the lane does not handle goes to hyper, which then serves the
//! rest of the connection (`Rewind` replays what was read): request bodies
//! (`Content-Length` > 0, `Transfer-Encoding`), `Upgrade` (WebSocket, h2c),
//! `Expect`, `CONNECT`, HTTP/1.0, HTTP/2's preface, and malformed or
//! oversized heads (hyper answers those with 400 or 431). The lane is an
//! optimisation, never a second set of rules: both paths share the handler.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{ready, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::{Method, Request, Response};
use http_body::Body as _;
use http_body_util::BodyExt as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;

use super::chunked;
use super::framing::Framing;
use super::policy::HeadLimits;
use super::request::{self, Parsed};
use super::response;
use super::rewind::Rewind;
use super::spare;
use crate::body::ProxyBody;
use crate::error::ProxyError;
use crate::shutdown::{stop_requested, stopping};

/// A connection between requests holds no buffer on the heap, as nginx's
/// keep-alive connections do: 10,000 idle clients must not cost 10,000 read
/// buffers. When the next head is not there yet, the read buffer goes back
/// to the thread's spares (`spare`), and the wait reads into an array of
/// this size on the stack, only while it is polled (`read_more`); bytes
/// that come go into a spare buffer then. The write buffer is a spare for
/// the time of one response. Larger than most request heads, so one read
/// still takes a whole one.
const PROBE: usize = 2 * 1024;
/// A body frame at least this large is written from where it is rather than
/// copied behind the head.
const COPY_LIMIT: usize = 16 * 1024;
/// Idle this long between requests, with nothing read, a connection leaves
/// the lane (`Ended::Parked`): the lane's future is sized for a request in
/// flight (the pipeline's, about 5 KiB, not boxed: see `http1` on boxing),
/// and an idle keep-alive connection should not hold that. It waits in
/// `park` instead, a future of a few words, and comes back with its first
/// bytes. A busy connection never parks, and pays one timer wake-up a
/// second for the check.
pub const PARK_AFTER: Duration = Duration::from_secs(1);

/// How the lane let go of a connection.
pub enum Ended<I> {
    /// Closed: the client left, a limit or timeout ended it, or shutdown.
    Closed,
    /// A request needs hyper: the connection, read bytes put back in front.
    ToHyper(Rewind<I>),
    /// Idle past `PARK_AFTER` with nothing read: the connection, and when
    /// its keep-alive time runs out (`park` waits until then).
    Parked(I, tokio::time::Instant),
}

/// How the lane holds a connection's client to time and size.
#[derive(Debug, Clone, Copy)]
pub struct LaneSettings {
    /// How long a client may take to send a request head, idle keep-alive
    /// time included.
    pub header_timeout: Duration,
    /// How long a head may take from its first bytes (slowloris: a head
    /// sent a line at a time holds the connection no longer than this).
    pub head_timeout: Duration,
    /// The head's size limits.
    pub limits: HeadLimits,
}

/// Serve requests on `io` until the client leaves, a timeout or shutdown
/// ends the connection, a request needs hyper (the connection is returned
/// with the bytes already read put back in front), or it idles long enough
/// to park (see `Ended`). `buf`: bytes already read (from `park`), else
/// empty. `peer`: for log lines. `handler`: the response to one request.
pub async fn serve<I, H, F>(
    mut io: I,
    mut buf: BytesMut,
    settings: &LaneSettings,
    peer: IpAddr,
    shutdown: &mut watch::Receiver<bool>,
    mut handler: H,
) -> Ended<I>
where
    I: AsyncRead + AsyncWrite + Unpin,
    H: FnMut(Request<ProxyBody>) -> F,
    F: Future<Output = Response<ProxyBody>>,
{
    let LaneSettings {
        header_timeout,
        head_timeout,
        limits,
    } = *settings;
    // One timer for the connection's life, re-armed only when it fires
    // early: resetting it for every request costs more than the check. It
    // fires at the latest PARK_AFTER into a wait, to park an idle client.
    let mut waiting_since = tokio::time::Instant::now();
    let idle = tokio::time::sleep_until(waiting_since + header_timeout.min(PARK_AFTER));
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
        return Ended::Closed;
    }
    loop {
        // A request head, or a reason to stop.
        waiting_since = tokio::time::Instant::now();
        let mut deadline = waiting_since + header_timeout;
        // After a head that took several reads the timer is set further
        // out than parking wants (rare: one comparison otherwise).
        let wake = deadline.min(waiting_since + PARK_AFTER);
        if idle.deadline() > wake {
            idle.as_mut().reset(wake);
        }
        let mut head_begun = false;
        let (req, client_close) = loop {
            if !buf.is_empty() {
                match request::parse(&mut buf, &limits) {
                    Parsed::Request(req, close) => break (req, close),
                    Parsed::Partial if !head_begun => {
                        // Rare: a head that did not come in one read.
                        head_begun = true;
                        let by = tokio::time::Instant::now() + head_timeout;
                        if by < deadline {
                            deadline = by;
                            idle.as_mut().reset(deadline);
                        }
                    }
                    Parsed::Partial => {}
                    Parsed::ToHyper => return Ended::ToHyper(Rewind::new(io, buf)),
                    Parsed::Refused(refusal) => {
                        tracing::debug!(client = %peer, why = refusal.why, "request refused");
                        let resp = ProxyError::Refused(refusal).response();
                        let mut out = spare::take();
                        if write_response(&mut io, &mut out, resp, false, true)
                            .await
                            .is_ok()
                        {
                            // Lingers: the rest of the bad input must not
                            // turn into a reset that loses the 400.
                            let _ = io.shutdown().await;
                        }
                        return Ended::Closed;
                    }
                }
            }
            let read = tokio::select! {
                biased;
                read = read_more(&mut io, &mut buf) => read,
                // Shutdown closes a connection between requests, not in
                // the middle of one.
                () = std::future::poll_fn(|_| {
                    if stopping(shutdown) { Poll::Ready(()) } else { Poll::Pending }
                }), if buf.is_empty() => return Ended::Closed,
                // readTimeout, else idleTimeout (as hyper's header
                // timeout), and the head's own limit once it has begun;
                // before that, time to park an idle connection.
                () = &mut idle => {
                    let now = tokio::time::Instant::now();
                    if now >= deadline {
                        return Ended::Closed;
                    }
                    let park_at = waiting_since + PARK_AFTER;
                    if buf.is_empty() {
                        if now >= park_at {
                            return Ended::Parked(io, deadline);
                        }
                        idle.as_mut().reset(deadline.min(park_at));
                    } else {
                        idle.as_mut().reset(deadline);
                    }
                    continue;
                }
            };
            match read {
                Ok(0) | Err(_) => return Ended::Closed,
                Ok(_) => {}
            }
        };

        let head_request = req.method() == Method::HEAD;
        // A client that leaves while the backend thinks: drop the request,
        // which cancels the upstream exchange.
        // Pinned here and selected by reference: the future is large, and
        // select! would otherwise move it.
        let respond = handler(req);
        tokio::pin!(respond);
        let resp = tokio::select! {
            biased;
            resp = &mut respond => resp,
            () = client_gone(&mut io, &mut buf, limits.max_head) => return Ended::Closed,
        };
        let close = client_close || stopping(shutdown);
        let mut out = spare::take();
        let written = write_response(&mut io, &mut out, resp, head_request, close).await;
        spare::give(out);
        match written {
            Ok(true) if !close => {}
            Ok(_) => {
                let _ = io.shutdown().await;
                return Ended::Closed;
            }
            Err(e) => {
                tracing::debug!(client = %peer, error = %e, "response not delivered");
                return Ended::Closed;
            }
        }
    }
}

/// A parked connection's wait (`Ended::Parked`): its first bytes, read
/// into a spare buffer for the lane to go on with; None when the client
/// leaves, `deadline` (its keep-alive time) passes or shutdown is asked.
pub async fn park<I: AsyncRead + Unpin>(
    io: &mut I,
    deadline: tokio::time::Instant,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<BytesMut> {
    let mut buf = BytesMut::new();
    tokio::select! {
        biased;
        read = read_more(io, &mut buf) => match read {
            Ok(n) if n > 0 => Some(buf),
            _ => None,
        },
        () = stop_requested(shutdown) => None,
        () = tokio::time::sleep_until(deadline) => None,
    }
}

/// Resolves when the client closes its side (or its connection fails).
/// Pipelined bytes that arrive meanwhile are kept for the next request.
async fn client_gone<I: AsyncRead + Unpin>(io: &mut I, buf: &mut BytesMut, max_head: usize) {
    loop {
        if buf.len() >= max_head {
            // Enough queued; stop reading until this response is out.
            return std::future::pending().await;
        }
        // As between requests: a long response (a webcam's stream) holds no
        // read buffer while the client sends nothing.
        match read_more(io, buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Read more of a request head into `buf`. Waiting for a new head (or the
/// first pipelined bytes), an empty `buf` goes back to the spares until
/// bytes come (PROBE).
async fn read_more<I: AsyncRead + Unpin>(io: &mut I, buf: &mut BytesMut) -> io::Result<usize> {
    if !buf.is_empty() {
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(spare::SIZE);
        }
        return io.read_buf(buf).await;
    }
    std::future::poll_fn(|cx| {
        if buf.capacity() > 0 {
            // Back to back, the next head may be there already.
            let read = tokio_util::io::poll_read_buf(Pin::new(&mut *io), cx, buf);
            if read.is_pending() {
                spare::give(std::mem::take(buf));
            }
            return read;
        }
        let mut probe = [const { MaybeUninit::<u8>::uninit() }; PROBE];
        let mut read = ReadBuf::uninit(&mut probe);
        ready!(Pin::new(&mut *io).poll_read(cx, &mut read))?;
        let got = read.filled();
        if !got.is_empty() {
            *buf = spare::take();
            buf.extend_from_slice(got);
        }
        Poll::Ready(Ok(got.len()))
    })
    .await
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
    let framing = response::encode_head(
        out,
        parts.status,
        raw.as_deref(),
        &parts.headers,
        body.size_hint().exact(),
        head_request,
        close,
    );
    drop(raw);
    if framing == Framing::Empty {
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
            chunked::put_size_line(out, data.len());
        }
        put_data(io, out, data).await?;
        if framing == Framing::Chunked {
            out.put_slice(b"\r\n");
        }
    }
    if framing == Framing::Chunked {
        out.put_slice(chunked::LAST_CHUNK);
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
