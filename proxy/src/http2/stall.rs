//! How long a response body has been waiting for its sender to take the
//! next frame. hyper polls an HTTP/2 response body only while the stream
//! has flow-control capacity, so a client that keeps its window at zero
//! (or stops reading its connection, which fills h2's send buffer) leaves
//! the body unpolled: a deadline checked in `poll_frame` never fires. The
//! body marks this clock instead, and the stream's watch (`stream`) checks
//! it from outside the body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::time::Instant;

#[derive(Debug)]
pub struct StallClock {
    base: Instant,
    /// Microseconds after `base`, plus one, since the body has been ready
    /// for its next poll; 0 while it waits on its own source (a backend
    /// that has nothing to send yet is not the client's stall).
    owed_since: AtomicU64,
}

impl StallClock {
    pub fn new() -> Arc<StallClock> {
        Arc::new(StallClock {
            base: Instant::now(),
            owed_since: AtomicU64::new(0),
        })
    }

    /// The body has a frame for its sender, or can produce one at once:
    /// from now on, waiting is the client's doing.
    pub fn owed(&self) {
        let at = self.base.elapsed().as_micros() as u64 + 1;
        self.owed_since.store(at, Ordering::Relaxed);
    }

    /// The body waits on its source (or has ended).
    pub fn waiting(&self) {
        self.owed_since.store(0, Ordering::Relaxed);
    }

    /// Since when the sender has owed the body a poll, if it does.
    pub fn owed_since(&self) -> Option<Instant> {
        match self.owed_since.load(Ordering::Relaxed) {
            0 => None,
            at => Some(self.base + std::time::Duration::from_micros(at - 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owed_then_waiting() {
        let clock = StallClock::new();
        assert!(clock.owed_since().is_none());
        let before = Instant::now();
        clock.owed();
        let since = clock.owed_since().expect("owed");
        assert!(since >= before - std::time::Duration::from_millis(1));
        assert!(since <= Instant::now());
        clock.waiting();
        assert!(clock.owed_since().is_none());
    }
}
