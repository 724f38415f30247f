//! Time limits: `Deadline`, a future with an optional time limit in one
//! piece, and `WriteTimedOut`, the error of a passed `writeTimeout`.
//!
//! `match limit { Some(d) => timeout(d, fut).await, None => fut.await }`
//! stores `fut` twice in the enclosing async fn (once inside `Timeout`, once
//! bare; see `http1` on boxing for why sizes matter). This wrapper holds the
//! future once and only registers a timer when there is a limit (Traefik's
//! default has none).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;

pin_project! {
    pub struct Deadline<F> {
        #[pin]
        future: F,
        #[pin]
        sleep: Option<Sleep>,
    }
}

/// `writeTimeout` passed before a response was written (`listen::write_deadline`
/// for HTTP/1 connections, `http2::stream` for HTTP/2 streams). Logged
/// at debug level; the client just sees its connection or stream end.
#[derive(Debug, Clone, Copy)]
pub struct WriteTimedOut;

impl std::fmt::Display for WriteTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("writeTimeout reached before the response was written")
    }
}

impl std::error::Error for WriteTimedOut {}

/// The deadline passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

pub fn within<F: Future>(limit: Option<Duration>, future: F) -> Deadline<F> {
    Deadline {
        future,
        sleep: limit.map(tokio::time::sleep),
    }
}

impl<F: Future> Future for Deadline<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(Elapsed)),
            _ => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn no_limit_waits_for_the_future() {
        let slow = async {
            tokio::time::sleep(30 * MS).await;
            7
        };
        assert_eq!(within(None, slow).await, Ok(7));
    }

    #[tokio::test]
    async fn limit_cuts_a_slow_future() {
        let slow = tokio::time::sleep(Duration::from_secs(10));
        let started = std::time::Instant::now();
        assert_eq!(within(Some(20 * MS), slow).await, Err(Elapsed));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_fast_future_beats_the_limit() {
        assert_eq!(
            within(Some(Duration::from_secs(10)), async { 5 }).await,
            Ok(5)
        );
    }
}
