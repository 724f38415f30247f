//! Lingering close for client connections, as nginx's `lingering_close`.
//!
//! Closing a TCP socket that still has unread input makes the kernel send a
//! reset instead of a FIN, and a reset can reach the client before it has
//! read the response already sent: the client then reports "connection
//! reset" or "broken pipe" and never sees the answer. That happens whenever
//! a response ends a connection before the request was read in full: a
//! backend that refuses an upload at once (413, 401), a 400 with bytes
//! behind it. So, when a connection is shut down, [`Lingering`] first sends
//! its FIN (the client sees the end of the response), then reads and
//! discards what the client still sends until it closes too, or for at
//! most [`LINGERING_TIME`] in all and [`LINGERING_TIMEOUT`] of silence.
//! Only then is the socket closed.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The longest a closing connection keeps reading (nginx's `lingering_time`).
pub const LINGERING_TIME: Duration = Duration::from_secs(30);
/// The longest a closing connection waits for more input (nginx's
/// `lingering_timeout`).
pub const LINGERING_TIMEOUT: Duration = Duration::from_secs(5);

/// A client connection whose `shutdown` lingers (see the module comment).
/// Reads and writes pass straight through.
pub struct Lingering<I> {
    io: I,
    state: State,
    total: Duration,
    silence: Duration,
}

enum State {
    Open,
    /// FIN sent; discarding input until EOF or a timer.
    Draining {
        until: Instant,
        silence: Pin<Box<Sleep>>,
    },
    Closed,
}

impl<I> Lingering<I> {
    pub fn new(io: I) -> Lingering<I> {
        Lingering::with_limits(io, LINGERING_TIME, LINGERING_TIMEOUT)
    }

    /// Linger at most `total`, and `silence` without input.
    pub fn with_limits(io: I, total: Duration, silence: Duration) -> Lingering<I> {
        Lingering {
            io,
            state: State::Open,
            total,
            silence,
        }
    }

    pub fn get_ref(&self) -> &I {
        &self.io
    }

    /// Whether it is neither closing nor closed.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open)
    }

    /// The stream, for an open one (`is_open`) that leaves its task.
    pub fn into_inner(self) -> I {
        self.io
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Lingering<I> {
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<I> {
    #[inline]
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    #[inline]
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    #[inline]
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Open => {
                    ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
                    let now = Instant::now();
                    this.state = State::Draining {
                        until: now + this.total,
                        silence: Box::pin(tokio::time::sleep_until(now + this.silence)),
                    };
                }
                State::Draining { until, silence } => {
                    let mut scratch = [0u8; 4096];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut this.io).poll_read(cx, &mut buf) {
                        // Data: discard it and wait again, within the total.
                        Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                            let next = (Instant::now() + this.silence).min(*until);
                            silence.as_mut().reset(next);
                            continue;
                        }
                        // EOF or an error: the client has closed.
                        Poll::Ready(_) => this.state = State::Closed,
                        Poll::Pending => {
                            ready!(silence.as_mut().poll(cx));
                            this.state = State::Closed;
                        }
                    }
                }
                State::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// The scenario of the module comment: the server answers and closes
    /// without reading the request; the client, still sending, must get
    /// the answer rather than a reset.
    #[tokio::test]
    async fn answer_survives_unread_input() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut io = Lingering::new(stream);
            // Wait until some of the upload has arrived, unread.
            io.get_ref().readable().await.unwrap();
            io.write_all(b"refused").await.unwrap();
            io.shutdown().await.unwrap();
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        let upload = vec![b'x'; 4 << 20];
        // The upload completes: the server keeps reading while it lingers.
        client.write_all(&upload).await.unwrap();
        client.shutdown().await.unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"refused");
        server.await.unwrap();
    }

    /// A client that neither sends nor closes is let go after the silence
    /// timeout.
    #[tokio::test]
    async fn silent_client_is_let_go() {
        let silence = Duration::from_millis(200);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let mut io = Lingering::with_limits(stream, LINGERING_TIME, silence);
        let started = Instant::now();
        io.shutdown().await.unwrap();
        let took = started.elapsed();
        assert!(took >= silence && took < LINGERING_TIMEOUT, "{took:?}");
    }
}
