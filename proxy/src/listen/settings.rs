//! A client connection's settings, read from the snapshot when it was
//! accepted: a reload applies to new connections while open ones keep theirs.

use std::sync::Arc;
use std::time::Duration;

use super::idle::Activity;
use super::write_deadline::WriteDeadline;
use crate::config::model::EntryLimits;
use crate::http1::server::LaneSettings;
use crate::request::ClientConn;
use crate::snapshot::admission::Admission;
use crate::snapshot::responding::HttpServer;
use crate::trust::Trust;

/// A client connection's settings, fixed when it was accepted: a reload
/// applies to new connections while open ones keep theirs.
pub struct Connection {
    /// What its requests share.
    pub client: Arc<ClientConn>,
    /// HTTP/1's per-connection write deadline (`writeTimeout`; HTTP/2's
    /// streams have theirs in `http2::stream`).
    pub write_deadline: Option<Arc<WriteDeadline>>,
    /// How long a write may stay blocked on a client that reads nothing
    /// (`listen::write_deadline`).
    pub stall_limit: Duration,
    /// The HTTP/1 lane's timeouts and head limits: how long a client may
    /// take to send a request head, idle keep-alive time included
    /// (`readTimeout`, else `idleTimeout`; also the idle limit of what
    /// hyper serves), and from the head's first bytes.
    pub lane: LaneSettings,
    /// How long the TLS handshake may take (`readTimeout`, else 10 s).
    pub tls_handshake_timeout: Duration,
    /// hyper's settings for what the lane hands over.
    pub http: Arc<HttpServer>,
    /// Requests in progress, for the idle limit of what hyper serves.
    pub activity: Activity,
    /// Some when the connection may start with a PROXY protocol header
    /// (`proxy_protocol`): the `forwardedHeaders` trust to judge the client
    /// it names by.
    pub proxy_header: Option<Trust>,
    /// Its entry point's open connections (`admission`), and the limits.
    pub admission: Arc<Admission>,
    pub limits: EntryLimits,
}
