//! Copying bytes both ways between two connections (an upgraded client and
//! its backend, `upgrade`) without holding a buffer while both are quiet.
//!
//! `tokio::io::copy_bidirectional` keeps an 8 KiB buffer per direction for
//! the connection's whole life: 16 KiB for every open WebSocket, most of
//! which sit idle between messages (a dashboard's updates, a camera's
//! controls). Here each read goes into an array on the stack, only while it
//! is polled, and is written on at once; only bytes the other side cannot
//! take yet are kept on the heap, until it does. The end is the same as
//! tokio's: a side's end of stream shuts the other side's writing, and the
//! relay ends when both directions have.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most read at once (a TLS record's worth of plaintext).
const CHUNK: usize = 16 * 1024;

/// One direction: from a reader to a writer.
#[derive(Default)]
struct Direction {
    /// Bytes read but not yet taken by the writer, from `start` on; empty
    /// (no allocation) whenever the writer keeps up.
    pending: Vec<u8>,
    start: usize,
    /// The reader reached its end of stream.
    read_done: bool,
    /// ... and the writer was shut down after it: this direction is over.
    done: bool,
    copied: u64,
}

impl Direction {
    /// Ready when the direction is over (or failed).
    fn poll<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut reader: Pin<&mut R>,
        mut writer: Pin<&mut W>,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        loop {
            while self.start < self.pending.len() {
                let n = ready!(writer.as_mut().poll_write(cx, &self.pending[self.start..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.start += n;
            }
            if !self.pending.is_empty() {
                // Taken in full: free it.
                self.pending = Vec::new();
                self.start = 0;
            }
            if self.read_done {
                ready!(writer.as_mut().poll_shutdown(cx))?;
                self.done = true;
                return Poll::Ready(Ok(()));
            }
            let mut probe = [const { MaybeUninit::<u8>::uninit() }; CHUNK];
            let mut read = ReadBuf::uninit(&mut probe);
            if reader.as_mut().poll_read(cx, &mut read)?.is_pending() {
                // Nothing more for now: push out what the writer buffers
                // (as tokio's copy does) before waiting.
                ready!(writer.as_mut().poll_flush(cx))?;
                return Poll::Pending;
            }
            let got = read.filled();
            if got.is_empty() {
                self.read_done = true;
                continue;
            }
            self.copied += got.len() as u64;
            let mut written = 0;
            while written < got.len() {
                match writer.as_mut().poll_write(cx, &got[written..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => written += n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        // The writer is full: keep the rest until it drains.
                        self.pending = got[written..].to_vec();
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}

/// Copy `a` to `b` and `b` to `a` until both reached their end of stream;
/// returns the bytes copied each way (a to b, b to a).
pub async fn relay<A, B>(a: &mut A, b: &mut B) -> io::Result<(u64, u64)>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let mut a_to_b = Direction::default();
    let mut b_to_a = Direction::default();
    poll_fn(|cx| {
        if !a_to_b.done {
            if let Poll::Ready(Err(e)) = a_to_b.poll(cx, Pin::new(&mut *a), Pin::new(&mut *b)) {
                return Poll::Ready(Err(e));
            }
        }
        if !b_to_a.done {
            if let Poll::Ready(Err(e)) = b_to_a.poll(cx, Pin::new(&mut *b), Pin::new(&mut *a)) {
                return Poll::Ready(Err(e));
            }
        }
        if a_to_b.done && b_to_a.done {
            Poll::Ready(Ok((a_to_b.copied, b_to_a.copied)))
        } else {
            Poll::Pending
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Both ways at once through pipes much smaller than what is sent, so
    /// that writes stall and the held-back bytes path runs: every byte
    /// arrives in order, each end of stream reaches the other side.
    #[tokio::test]
    async fn copies_both_ways_through_stalling_writers_and_passes_the_ends_on() {
        let (client, mut proxy_a) = tokio::io::duplex(1000);
        let (mut proxy_b, backend) = tokio::io::duplex(3000);
        let relay = tokio::spawn(async move { relay(&mut proxy_a, &mut proxy_b).await });

        let up: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let down: Vec<u8> = (0..2_000_000u32).map(|i| (i % 241) as u8).collect();
        let (mut client_r, mut client_w) = tokio::io::split(client);
        let (mut backend_r, mut backend_w) = tokio::io::split(backend);
        let send_up = {
            let up = up.clone();
            tokio::spawn(async move {
                client_w.write_all(&up).await.unwrap();
                client_w.shutdown().await.unwrap();
            })
        };
        let send_down = {
            let down = down.clone();
            tokio::spawn(async move {
                backend_w.write_all(&down).await.unwrap();
                backend_w.shutdown().await.unwrap();
            })
        };
        let mut got_up = Vec::new();
        let mut got_down = Vec::new();
        let (a, b) = tokio::join!(
            backend_r.read_to_end(&mut got_up),
            client_r.read_to_end(&mut got_down)
        );
        a.unwrap();
        b.unwrap();
        send_up.await.unwrap();
        send_down.await.unwrap();
        assert!(got_up == up, "client to backend: {} bytes", got_up.len());
        assert!(
            got_down == down,
            "backend to client: {} bytes",
            got_down.len()
        );
        let copied = relay.await.unwrap().unwrap();
        assert_eq!(copied, (up.len() as u64, down.len() as u64));
    }

    /// A side that fails ends the relay with its error.
    #[tokio::test]
    async fn a_broken_side_ends_the_relay() {
        let (client, mut proxy_a) = tokio::io::duplex(64);
        let (mut proxy_b, backend) = tokio::io::duplex(64);
        drop(backend);
        let mut client = client;
        client.write_all(b"hello").await.unwrap();
        let result = relay(&mut proxy_a, &mut proxy_b).await;
        assert!(result.is_err(), "{result:?}");
    }
}
