//! tollgate's own HTTP/1.1 codec, for the hot path.
//!
//! hyper is a complete HTTP implementation, and tollgate still hands it
//! everything unusual (HTTP/2, upgrades, request bodies, malformed input).
//! But for the common proxied exchange — a bodiless request in, a response
//! streamed back — hyper's generic machinery (a dispatcher per connection,
//! a channel and a task per upstream connection, a channel per body) cost
//! about as much CPU as the kernel's TCP work. Like Pingora and nginx, the
//! hot path here reads and writes the sockets directly from the request's
//! own task, parsing with `httparse`.
//!
//! - `server`: the fast lane for client connections (hands the rest to hyper).
//! - `response`: parsing a backend's response head and deciding its framing.
//! - `chunked`: the incremental chunked-body decoder.
//! - `rewind`, `date`: replaying read bytes; the cached `Date` header.

pub mod chunked;
mod date;
pub mod response;
pub mod rewind;
pub mod server;

/// Most header fields accepted in one message (hyper's limit too).
pub const MAX_HEADERS: usize = 100;
/// Largest message head accepted (request line or status line plus headers).
pub const MAX_HEAD: usize = 64 * 1024;

/// Where each header's name and value lie in a head buffer: recorded while
/// httparse borrows the buffer, used once the head is frozen into `Bytes`
/// (header values then share its memory). Inline for the usual dozen
/// headers, since zeroing room for `MAX_HEADERS` costs more than parsing a
/// head; a rare larger head spills to the heap.
pub struct Spans {
    inline: [Span; INLINE_SPANS],
    len: usize,
    spill: Vec<Span>,
}

const INLINE_SPANS: usize = 24;

/// Byte ranges `(start, end)` of one header's name and value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span {
    pub name: (u32, u32),
    pub value: (u32, u32),
}

impl Spans {
    pub fn new() -> Self {
        Spans {
            inline: [Span::default(); INLINE_SPANS],
            len: 0,
            spill: Vec::new(),
        }
    }

    /// Record `name` and `value`, which lie in the buffer starting at `base`.
    pub fn push(&mut self, base: *const u8, name: &[u8], value: &[u8]) {
        let start = |s: &[u8]| (s.as_ptr() as usize - base as usize) as u32;
        let (n, v) = (start(name), start(value));
        let span = Span {
            name: (n, n + name.len() as u32),
            value: (v, v + value.len() as u32),
        };
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = span,
            None => self.spill.push(span),
        }
        self.len += 1;
    }

    pub fn iter(&self) -> impl Iterator<Item = &Span> {
        self.inline[..self.len.min(INLINE_SPANS)]
            .iter()
            .chain(self.spill.iter())
    }
}

impl Default for Spans {
    fn default() -> Self {
        Self::new()
    }
}

/// Does a comma-separated header value (e.g. `Connection`) contain `token`,
/// compared case-insensitively?
pub fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_found_case_insensitively() {
        assert!(super::has_token(b"keep-alive, Close", "close"));
        assert!(super::has_token(b"close", "close"));
        assert!(!super::has_token(b"closed", "close"));
        assert!(!super::has_token(b"", "close"));
    }
}
