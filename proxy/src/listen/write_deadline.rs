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
//! applies per stream instead: a response not started in time resets its
//! stream, and a body still streaming at the deadline is ended with an error
//! (see `ProxyBody::with_deadline`). Other streams are untouched.

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
    /// A client connection whose writes obey a `WriteDeadline`.
    pub struct DeadlineIo<I> {
        #[pin]
        io: I,
        deadline: Arc<WriteDeadline>,
        // Boxed: only connections of configs with a writeTimeout pay for it.
        sleep: Pin<Box<Sleep>>,
        // The `at` the sleep is set for.
        armed_for: u64,
    }
}

impl<I> DeadlineIo<I> {
    pub fn new(io: I, deadline: Arc<WriteDeadline>) -> Self {
        DeadlineIo {
            io,
            deadline,
            sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
            armed_for: 0,
        }
    }
}

impl<I: AsyncWrite> DeadlineIo<I> {
    /// Fail once the deadline has passed; otherwise make sure this task is
    /// woken at the deadline, so a write blocked on a client that does not
    /// read is retried (and then fails) instead of waiting forever.
    fn check(self: Pin<&mut Self>, cx: &mut Context<'_>) -> io::Result<()> {
        let this = self.project();
        let Some((at, when)) = this.deadline.deadline() else {
            return Ok(());
        };
        if *this.armed_for != at {
            this.sleep.as_mut().reset(when);
            *this.armed_for = at;
        }
        match this.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(io::ErrorKind::TimedOut, WriteTimedOut)),
            Poll::Pending => Ok(()),
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
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.as_mut().check(cx)?;
        self.project().io.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.as_mut().check(cx)?;
        self.project().io.poll_write_vectored(cx, bufs)
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
