//! Typed views of the request and response a plugin handles. They hold no
//! data: every read and write goes to the host, so what a plugin sees is
//! always what the next handler (or the client) will get.

use crate::abi::{BodyKind, Features, HeaderKind};
use crate::host::Host;

/// The request being handled. Writable in `on_request`; read-only in
/// `on_response` (the host rejects changes once the request has gone on).
#[derive(Clone, Copy)]
pub struct Request<'h> {
    host: &'h dyn Host,
}

/// The response: the one the plugin writes in `on_request` when it answers
/// itself, or the upstream's in `on_response`.
#[derive(Clone, Copy)]
pub struct Response<'h> {
    host: &'h dyn Host,
}

/// The headers (or trailers) of one message.
#[derive(Clone, Copy)]
pub struct Headers<'h> {
    host: &'h dyn Host,
    kind: HeaderKind,
}

/// The body of one message. Reading the request body needs
/// [`Features::BUFFER_REQUEST`] if the upstream should still receive it;
/// reading the response body in `on_response` needs [`Features::BUFFER_RESPONSE`].
#[derive(Clone, Copy)]
pub struct Body<'h> {
    host: &'h dyn Host,
    kind: BodyKind,
}

impl<'h> Request<'h> {
    pub fn new(host: &'h dyn Host) -> Self {
        Request { host }
    }

    pub fn method(&self) -> String {
        self.host.method()
    }

    pub fn set_method(&self, method: &str) {
        self.host.set_method(method)
    }

    /// Path and query as received, still percent-encoded.
    pub fn uri(&self) -> String {
        self.host.uri()
    }

    pub fn set_uri(&self, uri: &str) {
        self.host.set_uri(uri)
    }

    /// The path part of [`Self::uri`].
    pub fn path(&self) -> String {
        let uri = self.uri();
        match uri.split_once('?') {
            Some((path, _)) => path.to_string(),
            None => uri,
        }
    }

    /// The query part of [`Self::uri`], without `?`.
    pub fn query(&self) -> Option<String> {
        self.uri().split_once('?').map(|(_, q)| q.to_string())
    }

    pub fn protocol_version(&self) -> String {
        self.host.protocol_version()
    }

    pub fn source_addr(&self) -> String {
        self.host.source_addr()
    }

    /// `http` or `https` as the client connected to tollgate. tollgate-only:
    /// a plugin calling this imports `tollgate.get_scheme`, which other
    /// http-wasm hosts do not provide.
    pub fn scheme(&self) -> String {
        #[cfg(target_arch = "wasm32")]
        {
            crate::ffi::scheme()
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.host.scheme()
        }
    }

    /// The `Host` header (HTTP/2's `:authority` is presented as `host`).
    pub fn host(&self) -> Option<String> {
        self.headers().get("host")
    }

    pub fn headers(&self) -> Headers<'h> {
        Headers {
            host: self.host,
            kind: HeaderKind::Request,
        }
    }

    /// Request trailers: needs [`Features::TRAILERS`], and are known only
    /// once the body has been read.
    pub fn trailers(&self) -> Headers<'h> {
        Headers {
            host: self.host,
            kind: HeaderKind::RequestTrailers,
        }
    }

    pub fn body(&self) -> Body<'h> {
        Body {
            host: self.host,
            kind: BodyKind::Request,
        }
    }

    /// Ask for features for this request only (e.g. buffering the body of
    /// the uploads a plugin inspects, and no others).
    pub fn enable_features(&self, features: Features) -> Features {
        self.host.enable_features(features)
    }
}

impl<'h> Response<'h> {
    pub fn new(host: &'h dyn Host) -> Self {
        Response { host }
    }

    pub fn status(&self) -> u16 {
        self.host.status_code()
    }

    pub fn set_status(&self, status: u16) {
        self.host.set_status_code(status)
    }

    pub fn headers(&self) -> Headers<'h> {
        Headers {
            host: self.host,
            kind: HeaderKind::Response,
        }
    }

    pub fn trailers(&self) -> Headers<'h> {
        Headers {
            host: self.host,
            kind: HeaderKind::ResponseTrailers,
        }
    }

    pub fn body(&self) -> Body<'h> {
        Body {
            host: self.host,
            kind: BodyKind::Response,
        }
    }

    /// Answer the request from the plugin: status, content type and body.
    /// Return [`crate::Flow::Respond`] from `on_request` afterwards.
    pub fn send(&self, status: u16, content_type: &str, body: &[u8]) {
        self.set_status(status);
        if !content_type.is_empty() {
            self.headers().set("content-type", content_type);
        }
        self.body().write(body);
    }
}

impl Headers<'_> {
    /// Every name present, lowercase.
    pub fn names(&self) -> Vec<String> {
        self.host.header_names(self.kind)
    }

    /// The first value of `name` (case-insensitive), as text (lossy UTF-8).
    pub fn get(&self, name: &str) -> Option<String> {
        self.get_bytes(name)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    pub fn get_bytes(&self, name: &str) -> Option<Vec<u8>> {
        self.host.header_value(self.kind, name)
    }

    /// The first value of `name` into `buf`, replacing what it held; false
    /// (and `buf` empty) if there is none. For the request path of a busy
    /// plugin: with a buffer kept in the plugin, nothing is allocated.
    pub fn get_into(&self, name: &str, buf: &mut Vec<u8>) -> bool {
        self.host.header_value_into(self.kind, name, buf)
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<String> {
        self.host
            .header_values(self.kind, name)
            .into_iter()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.host.header_value(self.kind, name).is_some()
    }

    /// Replace every value of `name` with `value`.
    pub fn set(&self, name: &str, value: impl AsRef<[u8]>) {
        self.host.set_header(self.kind, name, value.as_ref())
    }

    /// Add one more value for `name`.
    pub fn add(&self, name: &str, value: impl AsRef<[u8]>) {
        self.host.add_header(self.kind, name, value.as_ref())
    }

    pub fn remove(&self, name: &str) {
        self.host.remove_header(self.kind, name)
    }
}

impl Body<'_> {
    /// Read what is left of the body, to the end.
    pub fn read_all(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let (n, eof) = self.host.read_body(self.kind, &mut chunk);
            out.extend_from_slice(&chunk[..n]);
            if eof {
                return out;
            }
        }
    }

    /// Read up to `buf.len()` bytes: (bytes read, end of body).
    pub fn read(&self, buf: &mut [u8]) -> (usize, bool) {
        // The ABI traps on a zero-length read; an empty buffer reads nothing.
        if buf.is_empty() {
            return (0, false);
        }
        self.host.read_body(self.kind, buf)
    }

    /// Append to the body. The first write of a handler replaces the body.
    pub fn write(&self, data: &[u8]) {
        self.host.write_body(self.kind, data)
    }
}
