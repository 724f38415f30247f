//! Spare connection buffers, per worker thread.
//!
//! A client connection between requests holds no buffer (`server::PROBE`):
//! it gives its read and write buffers back here and takes them again when
//! the next request comes. Allocating and freeing them for every request
//! instead cost about 190 more instructions per request (callgrind: mimalloc
//! retires the emptied page and takes its slow path). At most `KEEP` are
//! kept per thread, so 10,000 idle connections hold at most `KEEP` x 8 KiB
//! here, not 10,000 buffers.

use std::cell::RefCell;

use bytes::BytesMut;

/// Capacity of a fresh buffer.
pub const SIZE: usize = 8 * 1024;
/// Spare buffers kept per thread; more than the requests one thread serves
/// at once under load.
const KEEP: usize = 256;

thread_local! {
    static SPARE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for `SIZE` bytes.
pub fn take() -> BytesMut {
    SPARE
        .with(|s| s.borrow_mut().pop())
        .unwrap_or_else(|| BytesMut::with_capacity(SIZE))
}

/// Keep `buf` for another connection; its content is dropped. Buffers
/// grown far past `SIZE` (a large head or body) are freed instead, as are
/// those whose memory is still shared with a request's bytes.
pub fn give(mut buf: BytesMut) {
    buf.clear();
    if !(SIZE..=4 * SIZE).contains(&buf.capacity()) {
        return;
    }
    SPARE.with(|s| {
        let mut spare = s.borrow_mut();
        if spare.len() < KEEP {
            spare.push(buf);
        }
    });
}
