//! What the phases of a request share: the connection it came on, the
//! snapshot it is served with (loaded once, so a reload mid-request cannot
//! mix two configs), and who writes its response.

use std::sync::Arc;

use super::forwarded::ClientInfo;
use crate::http1::response::Form;
use crate::snapshot::{FrontendRuntime, Shared, Slot, Snapshot};
use crate::upstream::balancer::UpstreamServer;

/// What every request of one client connection shares, fixed when the
/// connection was accepted.
pub struct ClientConn {
    pub shared: Arc<Shared>,
    /// The entrypoint it was accepted on.
    pub slot: Slot,
    pub client: ClientInfo,
}

/// Who writes the response to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// The HTTP/1 lane (`http1::server`): it can write a backend's header
    /// lines as they came, without a map.
    Lane,
    /// hyper (HTTP/2, HTTP/1 with bodies or upgrades): it needs a `HeaderMap`.
    Hyper,
}

/// One request on its way through the phases.
pub struct RequestCtx<'a> {
    pub conn: &'a ClientConn,
    pub snapshot: &'a Snapshot,
    pub writer: Writer,
    /// A plugin will read the response (its headers must become a map).
    pub plugins_read_response: bool,
    /// Where it was routed, once it was (for the access log).
    pub frontend: Option<&'a FrontendRuntime>,
    pub server: Option<&'a UpstreamServer>,
    /// The target of a templated backend, made for this request
    /// (`upstream::templated`); `server` stays None then.
    pub templated: Option<Arc<UpstreamServer>>,
}

impl<'a> RequestCtx<'a> {
    pub fn new(conn: &'a ClientConn, snapshot: &'a Snapshot, writer: Writer) -> Self {
        RequestCtx {
            conn,
            snapshot,
            writer,
            plugins_read_response: false,
            frontend: None,
            server: None,
            templated: None,
        }
    }

    /// The server it was sent to, once it was.
    pub fn server(&self) -> Option<&UpstreamServer> {
        self.server.or(self.templated.as_deref())
    }

    /// How the backend's response head is to be kept: as raw lines only
    /// when it goes straight to the lane and no plugin reads it.
    pub fn response_form(&self) -> Form {
        if self.writer == Writer::Lane && !self.plugins_read_response {
            Form::PassThrough
        } else {
            Form::Map
        }
    }
}
