//! The access log (`[accessLog]`): one line per request, in Traefik 1.7's
//! common log format or as JSON with its field names (`format`), kept or
//! not by `[filters]`.
//!
//! Nothing is written on the request path: a request's [`Entry`] goes to a
//! bounded queue that a thread of its own formats and writes (`writer`).
//! When the writer falls behind (a slow disk), entries are counted as
//! dropped, never waited for. `SIGUSR1` reopens the file (logrotate).
//!
//! - `entry`: what is recorded of a request.
//! - `format`: the two line formats.
//! - `writer`: the thread, the file, reopening.

mod entry;
mod format;
mod writer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use entry::{Entry, RequestSeen};
pub use format::rfc3339;

use crate::config::model::AccessLog;

/// Entries waiting for the writer; beyond, they are dropped.
pub const QUEUE: usize = 16 * 1024;

/// A running access log.
pub struct AccessLogger {
    config: Arc<AccessLog>,
    queue: std::sync::mpsc::SyncSender<writer::Message>,
    /// Requests seen, for the common format's request count.
    requests: AtomicU64,
    dropped: Arc<AtomicU64>,
}

impl AccessLogger {
    /// Open the log (creating its folder) and start its writer.
    pub fn start(config: &AccessLog) -> Result<Arc<AccessLogger>, String> {
        let config = Arc::new(config.clone());
        let dropped = Arc::new(AtomicU64::new(0));
        let queue = writer::start(config.clone())?;
        Ok(Arc::new(AccessLogger {
            config,
            queue,
            requests: AtomicU64::new(0),
            dropped,
        }))
    }

    /// What a request must capture before it is served (headers for JSON).
    pub fn wants_headers(&self) -> bool {
        self.config.format == crate::config::model::LogFormat::Json
            && (self.config.fields.headers_default != crate::config::model::FieldMode::Drop
                || !self.config.fields.header_names.is_empty())
    }

    /// Record one request, if the filters keep it.
    pub fn log(&self, mut entry: Entry) {
        entry.count = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.keeps(&entry) {
            return;
        }
        if self
            .queue
            .try_send(writer::Message::Entry(Box::new(entry)))
            .is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reopen the file (after logrotate moved it).
    pub fn reopen(&self) {
        let _ = self.queue.try_send(writer::Message::Reopen);
    }

    /// Entries dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Traefik's filters: any that matches keeps the entry; none set keeps all.
    fn keeps(&self, entry: &Entry) -> bool {
        let c = &self.config;
        if c.status_codes.is_empty() && !c.retry_attempts && c.min_duration.is_none() {
            return true;
        }
        let status = entry.status;
        c.status_codes
            .iter()
            .any(|(a, b)| (*a..=*b).contains(&status))
            || (c.retry_attempts && entry.retries > 0)
            || c.min_duration.is_some_and(|min| entry.duration > min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{AccessLogFields, LogFormat};
    use std::time::Duration;

    fn logger(
        status_codes: Vec<(u16, u16)>,
        queue: usize,
    ) -> (AccessLogger, std::sync::mpsc::Receiver<writer::Message>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(queue);
        let config = AccessLog {
            file_path: None,
            format: LogFormat::Common,
            status_codes,
            retry_attempts: false,
            min_duration: Some(Duration::from_secs(1)),
            fields: AccessLogFields::default(),
        };
        let logger = AccessLogger {
            config: Arc::new(config),
            queue: tx,
            requests: AtomicU64::new(0),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        (logger, rx)
    }

    fn entry(status: u16, duration: Duration) -> Entry {
        Entry {
            seen: RequestSeen::of(&http::Request::new(()), false),
            client: "192.0.2.1:5000".parse().unwrap(),
            user: None,
            status,
            size: 0,
            duration,
            frontend: None,
            backend: None,
            backend_url: None,
            retries: 0,
            count: 0,
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_and_never_waits() {
        let (logger, _unread) = logger(Vec::new(), 2);
        for _ in 0..5 {
            logger.log(entry(500, Duration::from_secs(2)));
        }
        assert_eq!(logger.dropped(), 3);
    }

    #[test]
    fn any_filter_that_matches_keeps_the_entry() {
        let (logger, rx) = logger(vec![(500, 599)], 16);
        logger.log(entry(200, Duration::ZERO));
        logger.log(entry(502, Duration::ZERO));
        logger.log(entry(200, Duration::from_secs(2)));
        let kept: Vec<u16> = rx
            .try_iter()
            .filter_map(|m| match m {
                writer::Message::Entry(e) => Some(e.status),
                writer::Message::Reopen => None,
            })
            .collect();
        assert_eq!(kept, [502, 200], "the 5xx and the slow one");
    }
}
