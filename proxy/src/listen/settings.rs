//! A client connection's settings, read from the snapshot when it was
//! accepted: a reload applies to new connections while open ones keep theirs.

use std::sync::Arc;

use super::idle::Activity;
use super::parking::Lot;
use super::write_deadline::WriteDeadline;
use crate::request::ClientConn;
use crate::snapshot::admission::Admission;
use crate::snapshot::responding::Responding;

/// A client connection's settings, fixed when it was accepted: a reload
/// applies to new connections while open ones keep theirs.
pub struct Connection {
    /// What its requests share.
    pub client: Arc<ClientConn>,
    /// HTTP/1's per-connection write deadline (`writeTimeout`; HTTP/2's
    /// streams have theirs in `http2::stream`).
    pub write_deadline: Option<Arc<WriteDeadline>>,
    /// Its entry point's settings: the lane's timeouts and head limits
    /// (the header timeout, idle keep-alive time included, is also the idle
    /// limit of what hyper serves), the stall limit of blocked writes, the
    /// TLS handshake's time, hyper's settings, the per-client limits.
    pub responding: Arc<Responding>,
    /// Requests in progress, for the idle limit of what hyper serves.
    pub activity: Activity,
    /// Its entry point's open connections (`admission`).
    pub admission: Arc<Admission>,
    /// Where its entry point's idle plain connections wait (`parking`).
    pub lot: Option<Lot>,
}
