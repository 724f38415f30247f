//! A client connection's settings, read from the snapshot when it was
//! accepted: a reload applies to new connections while open ones keep theirs.

use std::sync::Arc;
use std::time::Duration;

use super::idle::Activity;
use super::write_deadline::WriteDeadline;
use crate::request::ClientConn;
use crate::snapshot::responding::HttpServer;

/// A client connection's settings, fixed when it was accepted: a reload
/// applies to new connections while open ones keep theirs.
pub struct Connection {
    /// What its requests share.
    pub client: Arc<ClientConn>,
    /// `respondingTimeouts.writeTimeout`.
    pub write_timeout: Option<Duration>,
    /// HTTP/1's per-connection write deadline (set with `write_timeout`).
    pub write_deadline: Option<Arc<WriteDeadline>>,
    /// How long an HTTP/1 client may take to send a request head, idle
    /// keep-alive time included (`readTimeout`, else `idleTimeout`).
    pub header_timeout: Duration,
    /// How long the TLS handshake may take (`readTimeout`, else 10 s).
    pub tls_handshake_timeout: Duration,
    /// hyper's settings for what the lane hands over.
    pub http: Arc<HttpServer>,
    /// Requests in progress, for the idle limit of what hyper serves.
    pub activity: Activity,
}
