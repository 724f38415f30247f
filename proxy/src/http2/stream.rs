//! hyper hands each HTTP/2 stream's future to the connection's executor;
//! `StreamExecutor` bounds its life and runs it in the connection's task
//! (`local`). A stream is given up (its future dropped: h2 resets it with
//! CANCEL, and the backend connection or request behind it is released)
//! when
//! - `writeTimeout` has passed since its request arrived (Traefik counts
//!   it from the request's headers; `listen::write_deadline` does the same
//!   for HTTP/1), or
//! - its response has made no progress for the stall limit because the
//!   client took nothing more (`StallClock`: a zero window, or a client
//!   that stopped reading). A backend with nothing to send is not a stall:
//!   an MJPEG stream idle between frames lives on.
//!
//! Other streams of the connection are untouched.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tokio::time::{Instant, Sleep};

use super::local;
use super::stall::StallClock;

tokio::task_local! {
    /// The stall clock of the stream being polled.
    static CLOCK: Arc<StallClock>;
}

/// The stall clock of the HTTP/2 stream this code runs in, for its
/// response body to keep (`ProxyBody::watched`); None outside one.
pub fn stall_clock() -> Option<Arc<StallClock>> {
    CLOCK.try_with(Arc::clone).ok()
}

/// How long a stream may live: see the module doc.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    pub write_timeout: Option<Duration>,
    pub stall: Duration,
}

/// hyper's executor for a connection's streams: each a watched future.
#[derive(Debug, Clone, Copy)]
pub struct StreamExecutor {
    limits: StreamLimits,
}

impl StreamExecutor {
    pub fn new(limits: StreamLimits) -> StreamExecutor {
        StreamExecutor { limits }
    }
}

impl<F> hyper::rt::Executor<F> for StreamExecutor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        let clock = StallClock::new();
        let now = Instant::now();
        local::run(Box::pin(Watched {
            inner: CLOCK.scope(clock.clone(), fut),
            clock,
            write_deadline: self.limits.write_timeout.map(|d| now + d),
            stall: self.limits.stall,
            timer: tokio::time::sleep_until(now),
            armed_for: None,
        }));
    }
}

pin_project! {
    /// A stream: ends (dropping hyper's stream) at its first limit.
    struct Watched<F> {
        #[pin]
        inner: TaskLocalFuture<Arc<StallClock>, F>,
        clock: Arc<StallClock>,
        write_deadline: Option<Instant>,
        stall: Duration,
        #[pin]
        timer: Sleep,
        armed_for: Option<Instant>,
    }
}

impl<F: Future<Output = ()>> Future for Watched<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if this.inner.poll(cx).is_ready() {
            return Poll::Ready(());
        }
        let stall_at = this.clock.owed_since().map(|t| t + *this.stall);
        let at = match (*this.write_deadline, stall_at) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(at) => at,
                None => return Poll::Pending,
            },
        };
        if *this.armed_for != Some(at) {
            this.timer.as_mut().reset(at);
            *this.armed_for = Some(at);
        }
        if this.timer.poll(cx).is_ready() {
            let why = if Some(at) == *this.write_deadline {
                "writeTimeout reached"
            } else {
                "the client took nothing for the stall limit"
            };
            tracing::debug!(why, "HTTP/2 stream given up");
            return Poll::Ready(());
        }
        Poll::Pending
    }
}
