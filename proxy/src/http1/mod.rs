//! tollgate's own HTTP/1.1 codec, for the hot path: every HTTP/1 rule lives
//! here, once. It knows nothing of routing, plugins or backends' pools.
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
//! - `policy`: what the codec accepts (limits), and where each rule lives.
//! - `request`, `response`: each message head, parsed and encoded.
//! - `framing`: how a body is delimited; `chunked`: the chunked coding.
//! - `hop`: hop-by-hop headers and `Connection` tokens.
//! - `server`: the fast lane for client connections (hands the rest to hyper).
//! - `client`: exchanges on backend connections.
//! - `spans`, `rewind`, `date`: header positions in a head buffer, replaying
//!   read bytes, the cached `Date` header.
//!
//! # Sizes, copies and boxing on the request path
//!
//! This is the one statement of a rationale that comments elsewhere point
//! to ("see `http1` on boxing"). A request's future is moved whole as hyper
//! and combinators hand it on (into a dispatcher slot, into `select!`), and
//! a move copies every byte of it: the future's size is paid on every
//! request, whether its rare branches run or not. So rare paths (plugins,
//! connecting a new backend connection, h2c, upgrades) are boxed, which
//! keeps the common future small; hot values are pinned in place and
//! polled by reference rather than moved into wrappers; heads are borrowed
//! down the layers, not moved. The other way round, a value built and taken
//! apart on every request (a parsed head, a per-request enum) is not boxed:
//! that would be an allocation per request. `request_future_stays_small`
//! (in `listen::service`) guards the size. An idle keep-alive connection
//! does not hold that future: after `server::PARK_AFTER` it leaves the lane
//! for `server::park`, a few words, and the lane's future (allocated when
//! it starts) is freed until the next request.

pub mod chunked;
pub mod client;
mod date;
pub mod framing;
pub mod hop;
pub mod policy;
pub mod request;
pub mod response;
pub mod rewind;
pub mod server;
pub mod spans;
mod spare;
