//! Typed views of the request and response a plugin handles. They hold no
//! data: every read and write goes to the host, so what a plugin sees is
//! always what the next handler (or the client) will get.

use crate::abi::{BodyKind, Features, HeaderKind};
use crate::host::Host;

/// The request being handled. Writable in `on_request`; read-only in
/// `on_response` (the host rejects changes once the request has gone on).
///
/// A cheap handle (`Copy`): every method asks the host, so reads see earlier
/// writes. Values read as text are lossy UTF-8.
///
/// ```
/// use tollgate_plugin_sdk::testing::{Harness, TestRequest};
/// use tollgate_plugin_sdk::{Flow, NoConfig, Plugin, Request, Response};
///
/// /// Serves `/v1/...` from the upstream's `/...`, telling it who asked.
/// struct StripV1;
///
/// impl Plugin for StripV1 {
///     type Config = NoConfig;
///     const WANTS_RESPONSE: bool = false;
///     fn new(_: NoConfig) -> Result<Self, String> {
///         Ok(StripV1)
///     }
///     fn on_request(&mut self, req: Request<'_>, _: Response<'_>) -> Flow {
///         if let Some(rest) = req.path().strip_prefix("/v1") {
///             let uri = match req.query() {
///                 Some(q) => format!("{rest}?{q}"),
///                 None => rest.to_string(),
///             };
///             req.set_uri(&uri); // "" (from "/v1") means "/"
///         }
///         req.headers().set("x-client-addr", req.source_addr());
///         Flow::Continue
///     }
/// }
///
/// let mut h = Harness::<StripV1>::new("").unwrap();
/// let fwd = h.request(TestRequest::get("/v1/items?id=7")).forwarded();
/// assert_eq!(fwd.request.uri, "/items?id=7");
/// assert_eq!(fwd.request.header("x-client-addr"), Some("192.0.2.1:40000"));
/// ```
#[derive(Clone, Copy)]
pub struct Request<'h> {
    host: &'h dyn Host,
}

/// The response: the one the plugin writes in `on_request` when it answers
/// itself, or the upstream's in `on_response`.
///
/// In `on_response` the status and headers can be changed; reading or
/// rewriting the body needs [`Features::BUFFER_RESPONSE`].
///
/// ```
/// use tollgate_plugin_sdk::testing::{Harness, TestRequest, TestResponse};
/// use tollgate_plugin_sdk::{Flow, NoConfig, Plugin, Request, Response};
///
/// /// Keeps caches from storing server errors.
/// struct NoStoreErrors;
///
/// impl Plugin for NoStoreErrors {
///     type Config = NoConfig;
///     fn new(_: NoConfig) -> Result<Self, String> {
///         Ok(NoStoreErrors)
///     }
///     fn on_request(&mut self, _: Request<'_>, _: Response<'_>) -> Flow {
///         Flow::Continue
///     }
///     fn on_response(&mut self, _: Request<'_>, resp: Response<'_>, _: u32, is_error: bool) {
///         if !is_error && resp.status() >= 500 {
///             resp.headers().set("cache-control", "no-store");
///         }
///     }
/// }
///
/// let mut h = Harness::<NoStoreErrors>::new("").unwrap();
/// let (_, resp) = h.round_trip(TestRequest::get("/"), TestResponse::new(503));
/// assert_eq!(resp.header("cache-control"), Some("no-store"));
/// ```
#[derive(Clone, Copy)]
pub struct Response<'h> {
    host: &'h dyn Host,
}

/// The headers (or trailers) of one message, from [`Request::headers`],
/// [`Response::headers`] and the `trailers` methods.
///
/// Names are case-insensitive. A name may have several values (one per
/// header line, in order): [`get`](Headers::get) reads the first,
/// [`get_all`](Headers::get_all) all of them; the host's NUL-terminated
/// encoding is already taken care of. Request headers change only in
/// `on_request`.
///
/// ```
/// use tollgate_plugin_sdk::testing::{Harness, TestRequest};
/// use tollgate_plugin_sdk::{Flow, NoConfig, Plugin, Request, Response};
///
/// struct Hops;
///
/// impl Plugin for Hops {
///     type Config = NoConfig;
///     fn new(_: NoConfig) -> Result<Self, String> {
///         Ok(Hops)
///     }
///     fn on_request(&mut self, req: Request<'_>, _: Response<'_>) -> Flow {
///         let headers = req.headers();
///         headers.remove("x-internal"); // every value, if any
///         let hops = headers.get_all("x-forwarded-for").len();
///         headers.set("x-hops", hops.to_string());
///         headers.add("via", "1.1 tollgate");
///         Flow::Continue
///     }
/// }
///
/// let mut h = Harness::<Hops>::new("").unwrap();
/// let req = TestRequest::get("/")
///     .with_header("X-Internal", "1")
///     .with_header("x-forwarded-for", "192.0.2.7")
///     .with_header("x-forwarded-for", "198.51.100.3, 203.0.113.9");
/// let fwd = h.request(req).forwarded();
/// // Two header lines: two values, however many commas they hold.
/// assert_eq!(fwd.request.header("x-hops"), Some("2"));
/// assert_eq!(fwd.request.header("x-internal"), None);
/// ```
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
    /// A view of the request `host` is handling. The SDK builds it for
    /// [`Plugin::on_request`](crate::Plugin::on_request) and
    /// [`Plugin::on_response`](crate::Plugin::on_response); plugin code
    /// rarely needs this.
    pub fn new(host: &'h dyn Host) -> Self {
        Request { host }
    }

    /// The method, e.g. `GET`.
    pub fn method(&self) -> String {
        self.host.method()
    }

    /// Change the method the upstream receives. Only in `on_request`; an
    /// empty or invalid method fails the request.
    pub fn set_method(&self, method: &str) {
        self.host.set_method(method)
    }

    /// Path and query as received, still percent-encoded, e.g.
    /// `/a%20b?x=1`. Never empty: at least `/`.
    pub fn uri(&self) -> String {
        self.host.uri()
    }

    /// Replace the path and query the upstream receives (percent-encoded,
    /// e.g. `/v2/items?id=1`); an empty `uri` means `/`. tollgate keeps the
    /// request's scheme and authority. Only in `on_request`.
    pub fn set_uri(&self, uri: &str) {
        self.host.set_uri(uri)
    }

    /// The path part of [`Self::uri`], still percent-encoded.
    pub fn path(&self) -> String {
        let uri = self.uri();
        match uri.split_once('?') {
            Some((path, _)) => path.to_string(),
            None => uri,
        }
    }

    /// The query part of [`Self::uri`], without `?`: `None` when the URI has
    /// no `?`, `Some("")` when it ends with one.
    pub fn query(&self) -> Option<String> {
        self.uri().split_once('?').map(|(_, q)| q.to_string())
    }

    /// The HTTP version the client used: `HTTP/1.1`, `HTTP/2.0`, ...
    pub fn protocol_version(&self) -> String {
        self.host.protocol_version()
    }

    /// The client's address as `ip:port` (`[v6]:port` for IPv6): the peer
    /// of tollgate's connection, not a `Forwarded` header.
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

    /// A route variable of this request: `{device}` of the frontend's rule
    /// (`PathPrefixStrip:/cam/{device}`), or what a plugin before this one
    /// set. Only for frontends whose backend URL is templated
    /// (`http://{device}.cams.internal`); None otherwise. tollgate-only: a
    /// plugin calling this imports `tollgate.get_route_var`.
    pub fn route_var(&self, name: &str) -> Option<String> {
        #[cfg(target_arch = "wasm32")]
        {
            crate::ffi::route_var(name)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.host.route_var(name)
        }
    }

    /// Choose the request's target: sets route variable `name`, which the
    /// backend's templated URL uses (e.g. the device a user owns, from a
    /// token's claim). The backend's allow-list still applies: a value
    /// outside it gets 403. Only in `on_request`; `name` is letters,
    /// digits, `_` and `-`, and name and value at most 253 bytes (else the
    /// request fails). tollgate-only: imports `tollgate.set_route_var`.
    pub fn set_route_var(&self, name: &str, value: &str) {
        #[cfg(target_arch = "wasm32")]
        {
            crate::ffi::set_route_var(name, value)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.host.set_route_var(name, value)
        }
    }

    /// The `Host` header (HTTP/2's `:authority` is presented as `host`);
    /// `None` if the request has none.
    pub fn host(&self) -> Option<String> {
        self.headers().get("host")
    }

    /// The request headers: writable in `on_request`, read-only in
    /// `on_response`.
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

    /// The request body: readable and writable in `on_request` only. See
    /// [`Body`] for what reading it does to what the upstream receives.
    pub fn body(&self) -> Body<'h> {
        Body {
            host: self.host,
            kind: BodyKind::Request,
        }
    }

    /// Ask for features for this request only (e.g. buffering the body of
    /// the uploads a plugin inspects, and no others). Call it in
    /// `on_request`; returns every feature now enabled, so check it with
    /// [`Features::contains`].
    pub fn enable_features(&self, features: Features) -> Features {
        self.host.enable_features(features)
    }
}

impl<'h> Response<'h> {
    /// A view of the response `host` is handling. The SDK builds it for
    /// [`Plugin::on_request`](crate::Plugin::on_request) and
    /// [`Plugin::on_response`](crate::Plugin::on_response); plugin code
    /// rarely needs this.
    pub fn new(host: &'h dyn Host) -> Self {
        Response { host }
    }

    /// The status code: the upstream's in `on_response`; in `on_request`,
    /// 200 until the plugin sets one.
    pub fn status(&self) -> u16 {
        self.host.status_code()
    }

    /// Set the status code (100 to 999; anything else fails the request).
    pub fn set_status(&self, status: u16) {
        self.host.set_status_code(status)
    }

    /// The response headers, writable in both phases.
    pub fn headers(&self) -> Headers<'h> {
        Headers {
            host: self.host,
            kind: HeaderKind::Response,
        }
    }

    /// Response trailers: needs [`Features::TRAILERS`]. Changing the
    /// upstream's in `on_response` also needs its body buffered
    /// ([`Features::BUFFER_RESPONSE`]) or rewritten by the plugin.
    pub fn trailers(&self) -> Headers<'h> {
        Headers {
            host: self.host,
            kind: HeaderKind::ResponseTrailers,
        }
    }

    /// The response body: the plugin's own in `on_request`; the upstream's
    /// in `on_response`, readable there only with
    /// [`Features::BUFFER_RESPONSE`].
    pub fn body(&self) -> Body<'h> {
        Body {
            host: self.host,
            kind: BodyKind::Response,
        }
    }

    /// Answer the request from the plugin: status, content type and body.
    /// Return [`crate::Flow::Respond`] from `on_request` afterwards. An empty
    /// `content_type` sets no `content-type` header; other headers can be set
    /// with [`Response::headers`] before or after. The body is written with
    /// [`Body::write`], so it follows anything this handler already wrote.
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

    /// The first value of `name` (case-insensitive), as raw bytes; `None` if
    /// there is none, `Some` of an empty `Vec` for an empty value. Allocates
    /// a new `Vec` per call: see [`Headers::get_into`] for a hot path.
    pub fn get_bytes(&self, name: &str) -> Option<Vec<u8>> {
        self.host.header_value(self.kind, name)
    }

    /// The first value of `name` into `buf`, replacing what it held; false
    /// (and `buf` empty) if there is none. For the request path of a busy
    /// plugin: with a buffer kept in the plugin, nothing is allocated.
    pub fn get_into(&self, name: &str, buf: &mut Vec<u8>) -> bool {
        self.host.header_value_into(self.kind, name, buf)
    }

    /// Every value of `name` (case-insensitive), in order, as text (lossy
    /// UTF-8); empty if there is none. One item per header line: a value
    /// holding commas is not split.
    pub fn get_all(&self, name: &str) -> Vec<String> {
        self.host
            .header_values(self.kind, name)
            .into_iter()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .collect()
    }

    /// Whether `name` has at least one value (an empty value counts).
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

    /// Remove every value of `name`; nothing happens if there is none.
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

    /// Read up to `buf.len()` bytes: (bytes read, end of body). Reads go on
    /// from where the last one stopped; an empty `buf` reads nothing and
    /// returns `(0, false)`.
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
