//! A connection whose first bytes were already read: they are read again
//! first. Lets the HTTP/1 fast lane hand a connection to hyper mid-stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub struct Rewind<I> {
    prefix: BytesMut,
    io: I,
}

impl<I> Rewind<I> {
    pub fn new(io: I, prefix: BytesMut) -> Self {
        Rewind { prefix, io }
    }

    /// Whether bytes read earlier are still to be read again.
    pub fn has_unread(&self) -> bool {
        !self.prefix.is_empty()
    }

    /// The bytes still to be read again.
    pub fn unread(&self) -> &[u8] {
        &self.prefix
    }

    /// The stream, once nothing is left to read again (`has_unread`).
    pub fn into_inner(self) -> I {
        debug_assert!(self.prefix.is_empty());
        self.io
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Rewind<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            if this.prefix.is_empty() {
                // Free the buffer they were read into (the lane's, 8 KiB):
                // an emptied one stayed allocated for as long as hyper
                // served the connection (an h2c connection, a WebSocket).
                this.prefix = BytesMut::new();
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Rewind<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn prefix_is_read_before_the_rest() {
        let rest: &[u8] = b" world";
        let mut io = Rewind::new(rest, BytesMut::from("hello"));
        let mut all = String::new();
        io.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "hello world");
    }

    /// Once read again, the prefix's buffer is freed, not kept for the
    /// connection's life.
    #[tokio::test]
    async fn an_emptied_prefix_holds_no_buffer() {
        let rest: &[u8] = b" world";
        let mut prefix = BytesMut::with_capacity(8192);
        prefix.extend_from_slice(b"hello");
        let mut io = Rewind::new(rest, prefix);
        let mut first = [0u8; 3];
        io.read_exact(&mut first).await.unwrap();
        assert!(io.prefix.capacity() > 0, "freed while bytes were left");
        let mut next = [0u8; 2];
        io.read_exact(&mut next).await.unwrap();
        assert_eq!(&next, b"lo");
        assert_eq!(io.prefix.capacity(), 0);
    }
}
