//! An HTTP/2 connection's streams run inside the connection's own task.
//!
//! hyper hands each new stream's future to the connection's executor
//! (`stream::StreamExecutor`), which tokio-spawned it: a task per request,
//! scheduled on its own each time its backend answered, and a wake-up of
//! the connection's task each time it handed h2 its response. `Local` polls
//! the connection and, next to it, the streams the connection made while
//! it was being polled (`run` finds them through a thread-local inbox that
//! is set only during that poll), as nginx and HAProxy serve a
//! connection's streams in its own event handling: one task to schedule
//! per connection, and the responses its streams made are written by the
//! same pass that made them.
//!
//! A connection's streams share a worker thread, as they share the
//! client's socket; other connections spread over the workers as before.
//! A stream's limits (`stream`) are unchanged: each is its own future.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::{FuturesUnordered, StreamExt};
use pin_project_lite::pin_project;

/// A stream's future, as the executor made it.
pub type Stream = Pin<Box<dyn Future<Output = ()> + Send>>;

thread_local! {
    /// The streams made by the connection `Local` is polling on this
    /// thread; `None` outside such a poll.
    static INBOX: RefCell<Option<Vec<Stream>>> = const { RefCell::new(None) };
}

/// Run a new stream: in the connection's task when a `Local` is polling
/// it, else in a task of its own.
pub fn run(stream: Stream) {
    let stream = INBOX.with_borrow_mut(|inbox| match inbox {
        Some(streams) => {
            streams.push(stream);
            None
        }
        None => Some(stream),
    });
    if let Some(stream) = stream {
        tokio::spawn(stream);
    }
}

pin_project! {
    /// A connection's future with its streams: ready once the connection
    /// has ended and its last stream has.
    pub struct Local<F: Future> {
        #[pin]
        conn: F,
        ended: Option<F::Output>,
        streams: FuturesUnordered<Stream>,
        // The inbox's buffer, kept between polls.
        spare: Vec<Stream>,
    }
}

impl<F: Future> Local<F> {
    pub fn new(conn: F) -> Local<F> {
        Local {
            conn,
            ended: None,
            streams: FuturesUnordered::new(),
            spare: Vec::new(),
        }
    }

    /// The connection's own future (for `graceful_shutdown`).
    pub fn conn(self: Pin<&mut Self>) -> Pin<&mut F> {
        self.project().conn
    }
}

impl<F: Future> Future for Local<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        // The streams first: the responses they make are then written by
        // the connection's poll below, in one write.
        drive(this.streams, cx);
        if this.ended.is_none() {
            let guard = Inbox::open(std::mem::take(this.spare));
            let polled = this.conn.as_mut().poll(cx);
            let mut made = guard.close();
            this.streams.extend(made.drain(..));
            *this.spare = made;
            if let Poll::Ready(output) = polled {
                *this.ended = Some(output);
            }
            // The new streams' first poll: their requests go out now.
            drive(this.streams, cx);
        }
        if this.streams.is_empty() {
            if let Some(output) = this.ended.take() {
                return Poll::Ready(output);
            }
        }
        Poll::Pending
    }
}

/// Poll the streams until none is ready (each registers its wake-up).
fn drive(streams: &mut FuturesUnordered<Stream>, cx: &mut Context<'_>) {
    while let Poll::Ready(Some(())) = streams.poll_next_unpin(cx) {}
}

/// The inbox, open while a connection is polled; closed again when
/// dropped, so that a panic inside the poll cannot leave it open for the
/// thread's next connection.
struct Inbox;

impl Inbox {
    fn open(buffer: Vec<Stream>) -> Inbox {
        let before = INBOX.replace(Some(buffer));
        debug_assert!(before.is_none(), "connections' polls do not nest");
        Inbox
    }

    /// The streams made since `open`.
    fn close(self) -> Vec<Stream> {
        INBOX.take().unwrap_or_default()
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        if let Some(streams) = INBOX.take() {
            // Only after a panic: the streams made are run on their own.
            streams.into_iter().for_each(|s| drop(tokio::spawn(s)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Streams made during the connection's poll run in its task, and
    /// the connection's output waits for the last of them.
    #[tokio::test]
    async fn streams_made_by_the_connection_run_in_its_task() {
        let done = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (end, ended) = tokio::sync::oneshot::channel::<()>();
        let d = done.clone();
        let conn = async move {
            let mut released = Some(released);
            for _ in 0..3 {
                let d = d.clone();
                let released = released.take();
                run(Box::pin(async move {
                    if let Some(released) = released {
                        // This one outlives the connection's future.
                        let _ = released.await;
                    }
                    d.fetch_add(1, Ordering::SeqCst);
                }));
            }
            let _ = ended.await;
            "ended"
        };
        let local = tokio::spawn(Local::new(conn));
        while done.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        let metrics = tokio::runtime::Handle::current().metrics();
        // The waiting stream has no task of its own: the connection's is
        // the only one.
        assert_eq!(metrics.num_alive_tasks(), 1);
        end.send(()).unwrap();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!local.is_finished(), "ended before its last stream");
        release.send(()).unwrap();
        assert_eq!(local.await.unwrap(), "ended");
        assert_eq!(done.load(Ordering::SeqCst), 3);
    }

    /// Outside a connection's poll, a stream gets a task of its own.
    #[tokio::test]
    async fn a_stream_made_elsewhere_is_spawned() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        run(Box::pin(async move {
            tx.send(()).unwrap();
        }));
        rx.await.unwrap();
    }
}
