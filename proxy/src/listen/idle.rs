//! How long a connection hyper serves may sit with no request in progress.
//!
//! hyper bounds an HTTP/1 connection's wait for its next head itself
//! (`header_read_timeout`), but nothing bounds an HTTP/2 connection's: a
//! client that never sends its preface, or one that keeps an idle
//! connection open by answering PINGs, would hold it (and a file
//! descriptor) forever. So every connection served by hyper counts its
//! requests in progress; when none has been for the connection's header
//! timeout (`readTimeout`, else `idleTimeout`, as the HTTP/1 lane), it is
//! shut down gracefully (HTTP/2: GOAWAY), and dropped if the client does
//! not let it end within [`CLOSE_GRACE`].

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use tokio::time::Instant;

/// How long an idle connection told to shut down may take to end by itself
/// (HTTP/2's GOAWAY and PING round trip takes milliseconds with a client
/// that answers; one that does not is not waited for).
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What `Activity` counts time from: one instant for all connections (16
/// bytes less in each of them; see `parking` on what an idle one costs).
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn millis() -> u64 {
    EPOCH.elapsed().as_millis() as u64
}

/// Requests in progress on one connection, and since when there were none.
#[derive(Debug)]
pub struct Activity {
    active: AtomicUsize,
    /// Milliseconds after `EPOCH` when the last request ended (at first,
    /// when the connection was accepted).
    quiet_since: AtomicU64,
}

impl Activity {
    pub fn new() -> Activity {
        Activity {
            active: AtomicUsize::new(0),
            quiet_since: AtomicU64::new(millis()),
        }
    }

    /// A request started (`service::Busy` pairs it with `leave`).
    pub fn enter(&self) {
        self.active.fetch_add(1, Ordering::AcqRel);
    }

    /// A request's answer head is out.
    pub fn leave(&self) {
        self.quiet_since.store(millis(), Ordering::Release);
        self.active.fetch_sub(1, Ordering::AcqRel);
    }

    /// How long no request has been in progress; None while one is.
    pub fn idle_for(&self) -> Option<Duration> {
        if self.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = self.quiet_since.load(Ordering::Acquire);
        Some(Duration::from_millis(millis().saturating_sub(since)))
    }
}

impl Default for Activity {
    fn default() -> Self {
        Activity::new()
    }
}
