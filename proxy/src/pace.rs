//! A request body's minimum rate (`[entryPoints.X.limits] minBodyRate`):
//! a client that sends its body a few bytes at a time (slow POST, as
//! `slowhttptest -B` does) would hold a connection, a task and a backend
//! connection for hours. Only the time tollgate spends waiting on the
//! client counts: while the backend is slow to read, nothing is asked of
//! the client. After a grace of such waiting (the time a request head may
//! take, `headerTimeout`), the body must have averaged the rate; once it falls below, the body ends in an error (the backend
//! sees an incomplete request, never a complete wrong one) and the client
//! gets 408 (`Pace::too_slow`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use std::future::Future;

use bytes::Bytes;
use http_body::{Body, Frame};
use hyper::body::Incoming;
use std::pin::Pin;
use tokio::time::{Instant, Sleep};

/// Whether a request's body was cut for being too slow.
#[derive(Debug, Default)]
pub struct Pace {
    too_slow: AtomicBool,
}

impl Pace {
    pub fn too_slow(&self) -> bool {
        self.too_slow.load(Ordering::Relaxed)
    }
}

/// What a paced body's frames may fail with: the client's I/O error, or
/// [`BodyTooSlow`] (the same boxed error `body::ProxyBody` relays).
pub type PaceError = Box<dyn std::error::Error + Send + Sync>;

/// The body ended below its minimum rate.
#[derive(Debug)]
pub struct BodyTooSlow;

impl std::fmt::Display for BodyTooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the client sent its request body below minBodyRate")
    }
}

impl std::error::Error for BodyTooSlow {}

/// A client's request body held to a minimum rate.
pub struct Paced {
    body: Incoming,
    /// Bytes per second.
    rate: u32,
    /// Waiting allowed before the rate counts.
    grace: Duration,
    bytes: u64,
    /// Time spent waiting on the client so far (not counting now).
    waited: Duration,
    pending_since: Option<Instant>,
    timer: Pin<Box<Sleep>>,
    armed_for: Option<Instant>,
    pace: Arc<Pace>,
}

impl Paced {
    pub fn new(body: Incoming, rate: u32, grace: Duration, pace: Arc<Pace>) -> Paced {
        Paced {
            body,
            rate: rate.max(1),
            grace,
            bytes: 0,
            waited: Duration::ZERO,
            pending_since: None,
            timer: Box::pin(tokio::time::sleep(grace)),
            armed_for: None,
            pace,
        }
    }

    /// The total waiting time `bytes` bytes allow.
    fn allowed(&self) -> Duration {
        self.grace.max(Duration::from_secs_f64(
            self.bytes as f64 / f64::from(self.rate),
        ))
    }

    pub fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    pub fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }

    pub fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, PaceError>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(since) = self.pending_since.take() {
                    self.waited += since.elapsed();
                }
                self.bytes += frame.data_ref().map_or(0, |d| d.len() as u64);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other.map(|r| r.map_err(Into::into))),
            Poll::Pending => {
                let now = Instant::now();
                let since = *self.pending_since.get_or_insert(now);
                let at = since + self.allowed().saturating_sub(self.waited);
                if now < at {
                    if self.armed_for != Some(at) {
                        self.timer.as_mut().reset(at);
                        self.armed_for = Some(at);
                    }
                    if self.timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
                self.pace.too_slow.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(Box::new(BodyTooSlow))))
            }
        }
    }
}
