//! `[respondingTimeouts] writeTimeout`: how long tollgate may take to write
//! a response, counted from the moment the request's headers were read, as
//! Go's `http.Server.WriteTimeout` (and so Traefik 1.7) counts it.
//!
//! HTTP/1: the limit is a deadline on the client connection's writes
//! (`DeadlineIo`), re-armed by each request. A write attempted after it, or
//! a write still blocked on it because the client stopped reading, fails and
//! the connection closes: the client sees the response cut (or no response
//! at all when the backend had not answered yet), exactly as with Traefik.
//! This is also what frees a connection held by a client that never reads.
//!
//! HTTP/2 multiplexes many responses on one connection, so the limit
//! applies per stream instead (`http2::stream`).
//!
//! Every connection, with a writeTimeout or not, also has a stall limit
//! (`snapshot::responding::stall_limit`): a write blocked that long, because
//! the client reads nothing, fails and ends the connection (nginx's
//! `send_timeout`). Without it a client that stops reading (slow read)
//! would hold the connection, its buffers and the backend behind it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::deadline::WriteTimedOut;

/// The per-connection deadline, shared between the request handler (which
/// arms it) and the connection's socket (which enforces it).
#[derive(Debug)]
pub struct WriteDeadline {
    limit: Duration,
    base: Instant,
    /// Microseconds after `base`; 0 = not armed (no request yet).
    at: AtomicU64,
}

impl WriteDeadline {
    pub fn new(limit: Duration) -> Arc<WriteDeadline> {
        Arc::new(WriteDeadline {
            limit,
            base: Instant::now(),
            at: AtomicU64::new(0),
        })
    }

    /// A request's headers were read: its response must be written by now + limit.
    pub fn arm(&self) {
        let at = (self.base.elapsed() + self.limit).as_micros() as u64;
        self.at.store(at.max(1), Ordering::Relaxed);
    }

    fn deadline(&self) -> Option<(u64, Instant)> {
        match self.at.load(Ordering::Relaxed) {
            0 => None,
            at => Some((at, self.base + Duration::from_micros(at))),
        }
    }
}

pin_project! {
    /// A client connection whose writes obey a `WriteDeadline` (if the
    /// config has a writeTimeout) and the stall limit.
    pub struct DeadlineIo<I> {
        #[pin]
        io: I,
        deadline: Option<Arc<WriteDeadline>>,
        stall: Duration,
        // Since when writes have been blocked (the client reads nothing).
        stalled_since: Option<Instant>,
        // Boxed and made on first need: a connection whose writes never
        // block, and that has no writeTimeout, never pays for a timer.
        timer: Option<Pin<Box<Sleep>>>,
        // When the timer is set for.
        armed_for: Option<Instant>,
    }
}

impl<I> DeadlineIo<I> {
    pub fn new(io: I, deadline: Option<Arc<WriteDeadline>>, stall: Duration) -> Self {
        DeadlineIo {
            io,
            deadline,
            stall,
            stalled_since: None,
            timer: None,
            armed_for: None,
        }
    }

    pub fn get_ref(&self) -> &I {
        &self.io
    }

    /// The stream, between requests (no write waits: nothing to keep).
    pub fn into_inner(self) -> I {
        self.io
    }
}

impl<I: AsyncWrite> DeadlineIo<I> {
    /// One write (plain or vectored) under both limits: a write attempted
    /// past the deadline fails; a blocked write makes sure this task is
    /// woken at the first limit, so that it is retried then and fails
    /// instead of waiting forever on a client that does not read.
    fn write_within(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut I>, &mut Context<'_>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let deadline = this.deadline.as_ref().and_then(|d| d.deadline());
        let now = deadline.map(|_| Instant::now());
        if let (Some((_, at)), Some(now)) = (deadline, now) {
            if now >= at {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, WriteTimedOut)));
            }
        }
        match write(this.io, cx) {
            Poll::Ready(done) => {
                *this.stalled_since = None;
                Poll::Ready(done)
            }
            Poll::Pending => {
                let since = *this
                    .stalled_since
                    .get_or_insert_with(|| now.unwrap_or_else(Instant::now));
                let stall_at = since + *this.stall;
                let at = deadline.map_or(stall_at, |(_, d)| d.min(stall_at));
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                if *this.armed_for != Some(at) {
                    timer.as_mut().reset(at);
                    *this.armed_for = Some(at);
                }
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                if at == stall_at {
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client read nothing for the stall limit",
                    )))
                } else {
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, WriteTimedOut)))
                }
            }
        }
    }
}

impl<I: AsyncRead> AsyncRead for DeadlineIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().io.poll_read(cx, buf)
    }
}

impl<I: AsyncWrite> AsyncWrite for DeadlineIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_within(cx, |io, cx| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write_within(cx, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    // Not checked: hyper flushes idle keep-alive connections too, and an
    // idle connection whose last response was written in time must live on
    // (in Go the deadline only fails writes). Data always goes through the
    // two methods above.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}
