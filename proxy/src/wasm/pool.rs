//! Warm instances of one plugin. An instance is taken for one request (from
//! `handle_request` to `handle_response`) and given back afterwards, so its
//! guest state (caches, counters) carries over to later requests. When all
//! are busy a new one is started; at most `max_idle` are kept when idle, the
//! others are dropped and their pool slot freed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tokio::sync::Notify;

use super::instance::Guest;

pub(crate) struct Pool {
    // Boxed instances: each one moves in and out on every request, and a
    // pointer moves cheaper than a `Guest`.
    #[allow(clippy::vec_box)]
    idle: Mutex<Vec<Box<Guest>>>,
    max_idle: usize,
    /// Wakes a request waiting for an instance (see `Plugin::checkout`).
    returned: Notify,
    /// Requests in `returned()`: `give` notifies only when there are some,
    /// which keeps an atomic read-modify-write off every request.
    waiting: AtomicUsize,
}

/// Counts a request in `Pool::waiting` for as long as it waits (a waiter
/// may be cancelled).
struct Waiting<'p>(&'p AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pool {
    pub(crate) fn new(max_idle: usize) -> Self {
        Pool {
            idle: Mutex::new(Vec::with_capacity(max_idle.min(64))),
            max_idle,
            returned: Notify::new(),
            waiting: AtomicUsize::new(0),
        }
    }

    #[allow(clippy::vec_box)]
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Box<Guest>>> {
        // Only pushes and pops happen under the lock: a poisoned one is
        // still a consistent Vec.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used idle instance (warmest caches).
    pub(crate) fn take(&self) -> Option<Box<Guest>> {
        self.lock().pop()
    }

    /// Give back an instance that finished a request cleanly.
    pub(crate) fn give(&self, guest: Box<Guest>) {
        let surplus = {
            let mut idle = self.lock();
            if idle.len() < self.max_idle {
                idle.push(guest);
                None
            } else {
                Some(guest)
            }
        };
        // Dropped outside the lock: freeing a store takes a moment.
        drop(surplus);
        // Pairs with `returned`: a waiter counted itself before its last
        // look into the pool, so either it saw this instance there or this
        // sees it counted.
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.returned.notify_one();
        }
    }

    /// An idle instance, waiting for one to be given back if there is none.
    /// `None` after a wake-up that another request beat this one to.
    pub(crate) async fn returned(&self) -> Option<Box<Guest>> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _counted = Waiting(&self.waiting);
        if let Some(guest) = self.take() {
            return Some(guest);
        }
        self.returned.notified().await;
        self.take()
    }

    pub(crate) fn idle(&self) -> usize {
        self.lock().len()
    }
}
