//! How client connections are served (`[respondingTimeouts]`): hyper's
//! settings and the HTTP/1 lane's header timeout, compiled once per config.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioTimer;
use hyper_util::server::conn::auto;

use crate::config::model::{EntryLimits, RespondingTimeouts};
use crate::http1::policy::{HeadLimits, MAX_HEAD, MAX_HEADERS, MAX_URI};
use crate::http1::server::LaneSettings;
use crate::http2::{StreamExecutor, StreamLimits};

pub type HttpServer = auto::Builder<StreamExecutor>;

/// How client connections are served: hyper's settings (read and idle
/// timeouts) and the write timeout. Each accepted connection holds its entry
/// point's (one Arc: what 10,000 idle connections share), so that a reload
/// applies to new connections while open ones keep their settings.
pub struct Responding {
    pub http: Arc<HttpServer>,
    pub write_timeout: Option<Duration>,
    /// The HTTP/1 lane's: the header timeout (hyper's `header_read_timeout`
    /// too), how long a head may take from its first bytes, its sizes.
    pub lane: LaneSettings,
    /// How long a response may wait on a client that takes nothing.
    pub stall_limit: Duration,
    /// How long a client may take to complete its TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// What one client may hold (connections, body rate).
    pub limits: EntryLimits,
}

impl Responding {
    pub fn new(timeouts: &RespondingTimeouts, limits: &EntryLimits) -> Arc<Responding> {
        Arc::new(Responding {
            http: Arc::new(http_server(timeouts, limits)),
            write_timeout: timeouts.write,
            lane: LaneSettings {
                header_timeout: header_timeout(timeouts),
                head_timeout: head_timeout(timeouts, limits),
                limits: head_limits(limits),
            },
            stall_limit: stall_limit(timeouts),
            tls_handshake_timeout: tls_handshake_timeout(timeouts),
            limits: *limits,
        })
    }
}

/// How long a client may take to send a request head, idle keep-alive time
/// included: without readTimeout, the keep-alive idle timeout bounds how
/// long a client may sit on a connection without sending a request.
pub fn header_timeout(timeouts: &RespondingTimeouts) -> Duration {
    timeouts.read.unwrap_or(timeouts.idle)
}

/// The entry point's head limits, the HTTP/1 policy's where it sets none.
pub fn head_limits(limits: &EntryLimits) -> HeadLimits {
    HeadLimits {
        max_head: limits.max_header_bytes.unwrap_or(MAX_HEAD),
        max_uri: limits.max_uri_bytes.unwrap_or(MAX_URI),
        max_headers: limits.max_headers.unwrap_or(MAX_HEADERS),
    }
}

/// How long a request head may take once it has begun: `readTimeout`,
/// else the entry point's `limits.headerTimeout` (30 s by default; nginx's
/// `client_header_timeout` is 60 s, and a real client sends its head in one
/// packet); never more than the header timeout.
pub fn head_timeout(timeouts: &RespondingTimeouts, limits: &EntryLimits) -> Duration {
    timeouts
        .read
        .unwrap_or(limits.header_timeout)
        .min(header_timeout(timeouts))
}

/// Without `readTimeout`, a TLS client gets this long for its handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `readTimeout` bounds the TLS handshake too, as Go's `ReadTimeout` does
/// in Traefik (it counts from the accept); else [`TLS_HANDSHAKE_TIMEOUT`].
pub fn tls_handshake_timeout(timeouts: &RespondingTimeouts) -> Duration {
    timeouts.read.unwrap_or(TLS_HANDSHAKE_TIMEOUT)
}

/// How long a response may make no progress because its client takes
/// nothing (a zero HTTP/2 window, or a client that stopped reading): the
/// keep-alive idle limit, which bounds every other wait without progress.
pub fn stall_limit(timeouts: &RespondingTimeouts) -> Duration {
    timeouts.idle
}

/// hyper's connection settings for one config; its executor bounds each
/// HTTP/2 stream (`http2::stream`).
pub fn http_server(timeouts: &RespondingTimeouts, limits: &EntryLimits) -> HttpServer {
    let streams = StreamExecutor::new(StreamLimits {
        write_timeout: timeouts.write,
        stall: stall_limit(timeouts),
    });
    let mut builder = auto::Builder::new(streams);
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout(timeouts))
        // The head limits of the HTTP/1 policy: beyond them, 431.
        .max_buf_size(head_limits(limits).max_head)
        .max_headers(head_limits(limits).max_headers)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        // The head limit of HTTP/1, as h2's header-list limit: a list over
        // it gets 431 on its stream (h2 ends the connection only past
        // twice the limit, where h2's default of 16 KB made a 40 KB list,
        // which HTTP/1 accepts, kill the connection).
        .max_header_list_size(head_limits(limits).max_head as u32)
        .keep_alive_interval(Some(Duration::from_secs(60)));
    builder
}
