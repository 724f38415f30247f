//! One write for the responses of every stream that finished together.
//!
//! When a stream hands h2 a response, h2 wakes the connection's task to
//! write it. While each stream ran in a task of its own (before `local`),
//! tokio ran a task woken by the running one next (its LIFO slot), so the
//! connection wrote each response, or two, as soon as its stream had made
//! it: with 500 streams in flight on 50 connections, 0.45 TLS writes per
//! request, where HAProxy, which writes after handling every ready event,
//! made 0.1. Each write is a TLS record, a system call and a loopback
//! delivery. With the streams in the connection's task (`local`), deferring
//! still lets the backend answers of one pass all arrive before the write:
//! without it, 1.096 of the CPU per request (RESULTS.md).
//!
//! `Coalesced` runs a connection's future with its wake-ups deferred until
//! the worker has run every task that is ready (tokio's `yield_now`
//! mechanism: deferred tasks are woken when the worker next looks for I/O),
//! so the streams whose backends answered in the same pass all hand over
//! their responses before the connection writes them at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;
use pin_project_lite::pin_project;

pin_project! {
    /// A future whose wake-ups are deferred to the end of the worker's
    /// pass over its ready tasks.
    pub struct Coalesced<F> {
        #[pin]
        inner: F,
        waker: Arc<DeferredWake>,
    }
}

impl<F: Future> Coalesced<F> {
    pub fn new(inner: F) -> Coalesced<F> {
        Coalesced {
            inner,
            waker: Arc::new(DeferredWake {
                task: AtomicWaker::new(),
            }),
        }
    }
}

impl<F: Future> Future for Coalesced<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.waker.task.register(cx.waker());
        let waker = Waker::from(this.waker.clone());
        this.inner.poll(&mut Context::from_waker(&waker))
    }
}

/// The waker the connection's future sees: it passes the wake-up on to the
/// task's own waker, deferred.
struct DeferredWake {
    task: AtomicWaker,
}

impl Wake for DeferredWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Taken: until the task runs again, further wake-ups have nothing
        // to do (the task is already due).
        if let Some(task) = self.task.take() {
            defer(&task);
        }
    }
}

/// Wake `task` once the worker has run its other ready tasks. Off a
/// runtime's worker thread, tokio wakes it at once.
fn defer(task: &Waker) {
    let mut yielding = std::pin::pin!(tokio::task::yield_now());
    // The first poll of `yield_now` hands the waker to the worker's
    // deferred list and returns Pending; nothing else.
    let _ = yielding.as_mut().poll(&mut Context::from_waker(task));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// What a task waiting on three others, which each wake it, has seen
    /// done each time it ran: `coalesce` runs it as `Coalesced`.
    async fn runs_of_waiter(coalesce: bool) -> Vec<usize> {
        let done = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = tokio::sync::watch::channel(0usize);
        let waiter = {
            let done = done.clone();
            async move {
                let mut runs = Vec::new();
                while rx.changed().await.is_ok() {
                    runs.push(done.load(Ordering::SeqCst));
                    if runs.last() == Some(&3) {
                        break;
                    }
                }
                runs
            }
        };
        let waiter = if coalesce {
            tokio::spawn(futures_util::FutureExt::boxed(Coalesced::new(waiter)))
        } else {
            tokio::spawn(futures_util::FutureExt::boxed(waiter))
        };
        // The three are spawned by a task on the worker, so all three are
        // queued before any runs, as streams whose backends answered in the
        // same pass are.
        let tx = Arc::new(tx);
        tokio::spawn(async move {
            for _ in 0..3 {
                let (tx, done) = (tx.clone(), done.clone());
                tokio::spawn(async move {
                    done.fetch_add(1, Ordering::SeqCst);
                    tx.send_modify(|n| *n += 1);
                });
            }
        });
        waiter.await.expect("waiting task")
    }

    /// Wake-ups from tasks of the same pass reach a coalesced task once,
    /// after all of them; a plain task runs right after the first (the
    /// worker's LIFO slot), which is what made a write per response.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn woken_once_after_the_ready_tasks() {
        assert_eq!(runs_of_waiter(true).await, vec![3]);
        assert_eq!(runs_of_waiter(false).await.first(), Some(&1));
    }
}
