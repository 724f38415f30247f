//! Retrying what failed (a tunnel's link, a session with etcd, an ACME
//! order): each wait twice the one before, up to a cap, back to the first
//! after a success. One rule for all, so that a server that went away is
//! asked again quickly at first and then seldom, never in a tight loop.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            next: first,
        }
    }

    /// How long to wait before the next attempt; the wait after it doubles
    /// (up to the cap).
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        wait
    }

    /// It worked: the next failure is retried after the first wait again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_starts_over_after_a_reset() {
        let mut b = Backoff::new(Duration::from_secs(5), Duration::from_secs(3600));
        let waits: Vec<u64> = (0..12).map(|_| b.next_wait().as_secs()).collect();
        assert_eq!(
            waits,
            [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        b.reset();
        assert_eq!(b.next_wait(), Duration::from_secs(5));
        assert_eq!(b.next_wait(), Duration::from_secs(10));
    }

    #[test]
    fn a_first_wait_above_the_cap_stays_at_it_after_one_attempt() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(2));
        assert_eq!(b.next_wait(), Duration::from_secs(10));
        assert_eq!(b.next_wait(), Duration::from_secs(2));
    }
}
