//! What the HTTP/1 codec accepts, in one place: the limits on a message head
//! here, and each rule's home named below.
//!
//! - Head size and header count: [`MAX_HEAD`], [`MAX_HEADERS`], for client
//!   requests (`request`) and backend responses (`response`) alike.
//! - Body framing (Content-Length, Transfer-Encoding, bodiless statuses):
//!   `framing`, one rule set for both directions.
//! - Hop-by-hop headers and `Connection` tokens: `hop`.
//! - Chunked bodies: `chunked`.

/// Most header fields accepted in one message (hyper's limit too).
pub const MAX_HEADERS: usize = 100;
/// Largest message head accepted (request line or status line plus headers).
pub const MAX_HEAD: usize = 64 * 1024;
