//! Graceful stop: every accepted connection holds a receiver of one watch
//! channel; a stop flips it from `false` to `true` once (connections finish
//! the request in flight, then close) and waits until every receiver is gone.

use std::sync::Arc;

use tokio::sync::watch;

pub struct Drain(watch::Sender<bool>);

impl Drain {
    pub fn new() -> Arc<Drain> {
        Arc::new(Drain(watch::Sender::new(false)))
    }

    /// The signal for one new connection; None once shutdown has begun.
    pub fn watcher(&self) -> Option<watch::Receiver<bool>> {
        let rx = self.0.subscribe();
        let stopping = *rx.borrow();
        (!stopping).then_some(rx)
    }

    /// Ask every connection to finish and wait until they have.
    pub async fn shutdown(&self) {
        self.0.send_replace(true);
        self.0.closed().await;
    }
}

/// Whether shutdown has been asked for. The channel changes once, so a
/// version check (an atomic load) answers; the value is read only after a
/// change.
pub fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    shutdown.has_changed().unwrap_or(false) && *shutdown.borrow()
}

/// Resolves once shutdown has been asked for (never if the sender is gone
/// without asking).
pub async fn stop_requested(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}
