//! `/health`'s numbers (Traefik 1.7's shape): requests and response time
//! since start, counts by status code, the last second's counts, and the
//! most recent error responses.
//!
//! Counting is atomic adds; a recent error takes a lock only if nobody
//! holds it (`try_lock`): under a flood of errors some are not listed, and
//! no request ever waits for the list.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Status codes counted one by one: 100 to 599.
const FIRST_CODE: u16 = 100;
const CODES: usize = 500;

/// An error response, as `/health` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecentError {
    pub status_code: u16,
    pub status: String,
    pub method: String,
    pub host: String,
    pub path: String,
    /// RFC 3339.
    pub time: String,
}

/// Counts since the process started.
pub struct RequestStats {
    started: SystemTime,
    total: AtomicU64,
    total_nanos: AtomicU64,
    by_code: Box<[AtomicU64]>,
    /// How many recent errors to keep (`[api.statistics] recentErrors`).
    keep_errors: AtomicUsize,
    recent: Mutex<VecDeque<RecentError>>,
    /// Counts by code at the last two ticks (`tick`), for the last second.
    ticks: Mutex<[Vec<u64>; 2]>,
}

impl Default for RequestStats {
    fn default() -> Self {
        RequestStats {
            started: SystemTime::now(),
            total: AtomicU64::new(0),
            total_nanos: AtomicU64::new(0),
            by_code: (0..CODES).map(|_| AtomicU64::new(0)).collect(),
            keep_errors: AtomicUsize::new(10),
            recent: Mutex::new(VecDeque::new()),
            ticks: Mutex::new([vec![0; CODES], vec![0; CODES]]),
        }
    }
}

impl RequestStats {
    pub fn set_recent_errors(&self, keep: usize) {
        self.keep_errors.store(keep, Ordering::Relaxed);
    }

    /// Count one answered request. `error` makes its description, called
    /// only for a status of 400 or more.
    pub fn record(&self, status: u16, elapsed: Duration, error: impl FnOnce() -> RecentError) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.total_nanos.fetch_add(nanos, Ordering::Relaxed);
        if let Some(cell) = status
            .checked_sub(FIRST_CODE)
            .and_then(|i| self.by_code.get(usize::from(i)))
        {
            cell.fetch_add(1, Ordering::Relaxed);
        }
        if status < 400 {
            return;
        }
        let keep = self.keep_errors.load(Ordering::Relaxed);
        if keep == 0 {
            return;
        }
        if let Ok(mut recent) = self.recent.try_lock() {
            recent.push_front(error());
            recent.truncate(keep);
        }
    }

    /// Called once a second: what the counts were, so that `snapshot` can
    /// tell the last second's.
    pub fn tick(&self) {
        let now: Vec<u64> = self.codes();
        let mut ticks = self.ticks.lock().unwrap_or_else(|p| p.into_inner());
        ticks.swap(0, 1);
        ticks[1] = now;
    }

    fn codes(&self) -> Vec<u64> {
        self.by_code
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    /// The numbers as `/health` shows them.
    pub fn snapshot(&self) -> StatsSnapshot {
        let (last_second, total_by_code) = {
            let ticks = self.ticks.lock().unwrap_or_else(|p| p.into_inner());
            let diff: Vec<u64> = ticks[1]
                .iter()
                .zip(&ticks[0])
                .map(|(b, a)| b.saturating_sub(*a))
                .collect();
            (by_code(&diff), by_code(&self.codes()))
        };
        let recent = self
            .recent
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default();
        StatsSnapshot {
            started: self.started,
            total: self.total.load(Ordering::Relaxed),
            total_time: Duration::from_nanos(self.total_nanos.load(Ordering::Relaxed)),
            total_by_code,
            last_second,
            recent,
        }
    }
}

fn by_code(counts: &[u64]) -> Vec<(u16, u64)> {
    counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| (FIRST_CODE + i as u16, *n))
        .collect()
}

/// `RequestStats` at one moment.
pub struct StatsSnapshot {
    pub started: SystemTime,
    pub total: u64,
    pub total_time: Duration,
    pub total_by_code: Vec<(u16, u64)>,
    /// Counts by code between the last two ticks.
    pub last_second: Vec<(u16, u64)>,
    pub recent: Vec<RecentError>,
}

impl StatsSnapshot {
    /// Requests answered in the last second.
    pub fn last_second_total(&self) -> u64 {
        self.last_second.iter().map(|(_, n)| n).sum()
    }

    /// Average response time, in seconds (0 before any request).
    pub fn average_secs(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.total_time.as_secs_f64() / self.total as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: u16) -> RecentError {
        RecentError {
            status_code: code,
            status: String::new(),
            method: "GET".into(),
            host: "h".into(),
            path: format!("/{code}"),
            time: String::new(),
        }
    }

    #[test]
    fn counts_codes_seconds_and_recent_errors() {
        let stats = RequestStats::default();
        stats.set_recent_errors(2);
        let ms = Duration::from_millis(10);
        stats.record(200, ms, || unreachable!("a 200 is not an error"));
        stats.tick();
        stats.record(200, ms, || unreachable!());
        stats.record(404, ms, || error(404));
        stats.record(502, ms, || error(502));
        stats.record(503, ms, || error(503));
        stats.record(700, ms, || error(700));
        stats.tick();
        let s = stats.snapshot();
        assert_eq!(s.total, 6);
        assert_eq!(s.total_time, Duration::from_millis(60));
        assert_eq!(s.total_by_code, [(200, 2), (404, 1), (502, 1), (503, 1)]);
        assert_eq!(s.last_second, [(200, 1), (404, 1), (502, 1), (503, 1)]);
        // 700 is counted in all, not by code (100 to 599 are).
        let paths: Vec<&str> = s.recent.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/700", "/503"], "newest first, two kept");
    }
}
