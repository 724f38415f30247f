//! Run a plugin under plain `cargo test`, without wasm.
//!
//! [`Harness`] starts the plugin exactly as the module's `main` would (config
//! JSON → `Plugin::new` → features), then plays requests through it against
//! [`TestHost`], an in-memory host that follows tollgate's rules, including
//! the ones whose breach makes tollgate fail the request (writing request
//! headers after the request went on, reading a response body that was not
//! buffered, ...): those panic here, so a unit test catches them.
//!
//! ```
//! use tollgate_plugin_sdk::testing::{Harness, Outcome, TestRequest, TestResponse};
//! use tollgate_plugin_sdk::{Flow, NoConfig, Plugin, Request, Response};
//!
//! struct Tag;
//! impl Plugin for Tag {
//!     type Config = NoConfig;
//!     fn new(_: NoConfig) -> Result<Self, String> { Ok(Tag) }
//!     fn on_request(&mut self, req: Request<'_>, _: Response<'_>) -> Flow {
//!         req.headers().set("x-tag", "1");
//!         Flow::Continue
//!     }
//!     fn on_response(&mut self, _: Request<'_>, resp: Response<'_>, _: u32, _: bool) {
//!         resp.headers().set("x-seen", "yes");
//!     }
//! }
//!
//! let mut h = Harness::<Tag>::new("{}").unwrap();
//! let Outcome::Continue(fwd) = h.request(TestRequest::get("/")) else { panic!() };
//! assert_eq!(fwd.request.header("x-tag"), Some("1"));
//! let resp = h.response(fwd, TestResponse::new(200));
//! assert_eq!(resp.header("x-seen"), Some("yes"));
//! ```

use std::cell::RefCell;

use crate::abi::{BodyKind, Features, HeaderKind, LogLevel};
use crate::glue::{self, Handler};
use crate::host::Host;
use crate::Plugin;

/// Features tollgate supports: [`TestHost`] grants these and no others when
/// a plugin enables features, as tollgate does.
pub const HOST_FEATURES: Features = Features(1 | 2 | 4 | (1 << 31));

thread_local! {
    static LOGS: RefCell<Vec<(LogLevel, String)>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn record_log(level: LogLevel, message: &str) {
    LOGS.with(|logs| logs.borrow_mut().push((level, message.to_string())));
}

/// Take the messages logged on this thread so far (each test runs on its own
/// thread, so these are the test's own). Natively every level is enabled,
/// so `debug!` messages are recorded too.
///
/// ```
/// use tollgate_plugin_sdk::testing::take_logs;
/// use tollgate_plugin_sdk::LogLevel;
///
/// tollgate_plugin_sdk::warn!("key {} expired", 7);
/// assert_eq!(take_logs(), vec![(LogLevel::Warn, "key 7 expired".to_string())]);
/// assert!(take_logs().is_empty()); // taken
/// ```
pub fn take_logs() -> Vec<(LogLevel, String)> {
    LOGS.with(|logs| std::mem::take(&mut *logs.borrow_mut()))
}

/// Header fields: names compared without case, order kept. The headers and
/// trailers of [`TestRequest`] and [`TestResponse`]; one `(name, value)`
/// pair per header line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(
    /// The `(name, value)` pairs, in order, names as they were added.
    pub Vec<(String, Vec<u8>)>,
);

impl Fields {
    /// The first value of `name` as text; `None` if there is none or it is
    /// not valid UTF-8 (see [`Fields::get_bytes`]).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of `name` as bytes; `None` if there is none.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of `name`, in order, as bytes; empty if there is none.
    /// For headers a plugin adds rather than sets, or to check that it left
    /// exactly one:
    ///
    /// ```
    /// use tollgate_plugin_sdk::testing::TestResponse;
    ///
    /// let resp = TestResponse::new(200)
    ///     .with_header("Set-Cookie", "a=1")
    ///     .with_header("set-cookie", "b=2");
    /// assert_eq!(resp.headers.get_all("set-cookie"), vec![b"a=1".to_vec(), b"b=2".to_vec()]);
    /// assert!(resp.headers.get_all("x-missing").is_empty());
    /// ```
    pub fn get_all(&self, name: &str) -> Vec<Vec<u8>> {
        self.0
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every name present, once each, lowercase, in order of first
    /// appearance.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (n, _) in &self.0 {
            let lower = n.to_ascii_lowercase();
            if !names.contains(&lower) {
                names.push(lower);
            }
        }
        names
    }

    /// Remove every value of `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Replace every value of `name` with `value`, which goes last.
    pub fn set(&mut self, name: &str, value: &[u8]) {
        self.remove(name);
        self.add(name, value);
    }

    /// Add one more value for `name`, last.
    pub fn add(&mut self, name: &str, value: &[u8]) {
        self.0.push((name.to_string(), value.to_vec()));
    }
}

/// A request as the client sent it, or as the plugin passed it on.
///
/// Build one with [`TestRequest::get`], [`TestRequest::post`] or
/// [`TestRequest::new`] and the `with_*` methods; the fields are public for
/// anything else and for checking what the plugin forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRequest {
    /// The method, e.g. `GET` ([`Request::method`](crate::Request::method)).
    pub method: String,
    /// Path and query, percent-encoded ([`Request::uri`](crate::Request::uri));
    /// an empty one reads as `/`.
    pub uri: String,
    /// The protocol version ([`Request::protocol_version`](crate::Request::protocol_version)),
    /// `HTTP/1.1` by default.
    pub version: String,
    /// The client's `ip:port` ([`Request::source_addr`](crate::Request::source_addr)),
    /// `192.0.2.1:40000` by default.
    pub source_addr: String,
    /// `http` (the default) or `https` ([`Request::scheme`](crate::Request::scheme)).
    pub scheme: String,
    /// The headers; [`TestRequest::new`] sets `host: example.test`.
    pub headers: Fields,
    /// The body, empty by default.
    pub body: Vec<u8>,
    /// The trailers, empty by default.
    pub trailers: Fields,
    /// Route variables ([`Request::route_var`](crate::Request::route_var)),
    /// as the rule captured them; after the plugin ran, as it left them.
    pub route_vars: Vec<(String, String)>,
}

impl TestRequest {
    /// A `method` request for `uri` (path and query): HTTP/1.1 over `http`
    /// from `192.0.2.1:40000`, with only a `host: example.test` header and
    /// no body.
    pub fn new(method: &str, uri: &str) -> Self {
        TestRequest {
            method: method.to_string(),
            uri: uri.to_string(),
            version: "HTTP/1.1".to_string(),
            source_addr: "192.0.2.1:40000".to_string(),
            scheme: "http".to_string(),
            headers: Fields(vec![("host".to_string(), b"example.test".to_vec())]),
            body: Vec::new(),
            trailers: Fields::default(),
            route_vars: Vec::new(),
        }
    }

    /// A `GET` request for `uri`, as [`TestRequest::new`].
    pub fn get(uri: &str) -> Self {
        Self::new("GET", uri)
    }

    /// A `POST` request for `uri` with `body`, as [`TestRequest::new`] (no
    /// `content-type` or `content-length` header is added).
    pub fn post(uri: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::new("POST", uri).with_body(body)
    }

    /// Add a header (use `set_header` to replace one, e.g. `host`).
    pub fn with_header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers.add(name, value.as_ref());
        self
    }

    /// Replace every value of a header (e.g. the default `host`).
    pub fn set_header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers.set(name, value.as_ref());
        self
    }

    /// Replace the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Set the client's address, `ip:port` (`[v6]:port` for IPv6).
    pub fn source(mut self, addr: &str) -> Self {
        self.source_addr = addr.to_string();
        self
    }

    /// Give it a route variable, as a templated frontend's rule captures
    /// (`{device}`).
    pub fn with_route_var(mut self, name: &str, value: &str) -> Self {
        self.route_vars.push((name.to_string(), value.to_string()));
        self
    }

    /// The route variable `name`, if set.
    pub fn route_var(&self, name: &str) -> Option<&str> {
        self.route_vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Make it a request received over HTTPS: the scheme reads `https`.
    pub fn https(mut self) -> Self {
        self.scheme = "https".to_string();
        self
    }

    /// Shorthand for `headers.get`: the first value of `name`; `None` if
    /// there is none or it is not UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
}

/// A response: from the upstream, or as the plugin left it.
///
/// Build the upstream's with [`TestResponse::new`] and the `with_*` methods;
/// check the one [`Harness`] returns through its public fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResponse {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: Fields,
    /// The body.
    pub body: Vec<u8>,
    /// The trailers.
    pub trailers: Fields,
}

impl TestResponse {
    /// A response with `status` and no headers, body or trailers.
    pub fn new(status: u16) -> Self {
        TestResponse {
            status,
            headers: Fields::default(),
            body: Vec::new(),
            trailers: Fields::default(),
        }
    }

    /// Add a header value (earlier values of `name` are kept).
    pub fn with_header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers.add(name, value.as_ref());
        self
    }

    /// Replace the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Shorthand for `headers.get`: the first value of `name`; `None` if
    /// there is none or it is not UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The body as text, for assertions: lossy UTF-8 (invalid bytes become
    /// `U+FFFD`), so it never fails.
    ///
    /// ```
    /// use tollgate_plugin_sdk::testing::TestResponse;
    ///
    /// let resp = TestResponse::new(401).with_body("missing API key\n");
    /// assert_eq!(resp.body_text(), "missing API key\n");
    /// assert_eq!(TestResponse::new(200).with_body(vec![b'o', b'k', 0xff]).body_text(), "ok\u{fffd}");
    /// ```
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Request,
    Response,
}

#[derive(Debug)]
struct State {
    config: Vec<u8>,
    features: Features,
    phase: Phase,
    req: TestRequest,
    /// How far the plugin read the request body.
    req_read: usize,
    req_written: bool,
    resp: TestResponse,
    resp_read: usize,
    resp_written: bool,
    /// Whether the plugin set the status in the current phase.
    status_set: bool,
}

/// The in-memory host. Panics where tollgate would trap the instance (and
/// fail the request with a 500), naming the rule broken.
///
/// [`Harness`] creates one per request from a [`TestRequest`]; tests do not
/// build or use it directly.
pub struct TestHost {
    state: RefCell<State>,
}

impl TestHost {
    fn new(config: &[u8], features: Features, req: TestRequest) -> Self {
        TestHost {
            state: RefCell::new(State {
                config: config.to_vec(),
                features,
                phase: Phase::Request,
                req,
                req_read: 0,
                req_written: false,
                resp: TestResponse::new(200),
                resp_read: 0,
                resp_written: false,
                status_set: false,
            }),
        }
    }

    fn misuse(message: &str) -> ! {
        panic!("http-wasm ABI misuse (tollgate would fail the request with 500): {message}")
    }

    fn check_header_write(&self, kind: HeaderKind, name: &str) {
        if name.is_empty() {
            Self::misuse("empty header name");
        }
        let s = self.state.borrow();
        match kind {
            HeaderKind::Request | HeaderKind::RequestTrailers if s.phase == Phase::Response => {
                Self::misuse("changing the request after it was passed on")
            }
            HeaderKind::RequestTrailers | HeaderKind::ResponseTrailers
                if !s.features.contains(Features::TRAILERS) =>
            {
                Self::misuse("setting trailers without the trailers feature")
            }
            _ => {}
        }
    }

    fn fields_mut(s: &mut State, kind: HeaderKind) -> &mut Fields {
        match kind {
            HeaderKind::Request => &mut s.req.headers,
            HeaderKind::Response => &mut s.resp.headers,
            HeaderKind::RequestTrailers => &mut s.req.trailers,
            HeaderKind::ResponseTrailers => &mut s.resp.trailers,
        }
    }
}

impl Host for TestHost {
    fn config(&self) -> Vec<u8> {
        self.state.borrow().config.clone()
    }

    fn enable_features(&self, features: Features) -> Features {
        let mut s = self.state.borrow_mut();
        s.features = Features(s.features.0 | (features.0 & HOST_FEATURES.0));
        s.features
    }

    fn log_enabled(&self, _level: LogLevel) -> bool {
        true
    }

    fn log(&self, level: LogLevel, message: &str) {
        record_log(level, message)
    }

    fn method(&self) -> String {
        self.state.borrow().req.method.clone()
    }

    fn set_method(&self, method: &str) {
        if method.is_empty() {
            Self::misuse("empty method");
        }
        let mut s = self.state.borrow_mut();
        if s.phase == Phase::Response {
            Self::misuse("changing the method after the request was passed on");
        }
        s.req.method = method.to_string();
    }

    fn uri(&self) -> String {
        let uri = self.state.borrow().req.uri.clone();
        if uri.is_empty() {
            "/".to_string()
        } else {
            uri
        }
    }

    fn set_uri(&self, uri: &str) {
        let mut s = self.state.borrow_mut();
        if s.phase == Phase::Response {
            Self::misuse("changing the URI after the request was passed on");
        }
        s.req.uri = if uri.is_empty() { "/" } else { uri }.to_string();
    }

    fn protocol_version(&self) -> String {
        self.state.borrow().req.version.clone()
    }

    fn source_addr(&self) -> String {
        self.state.borrow().req.source_addr.clone()
    }

    fn scheme(&self) -> String {
        self.state.borrow().req.scheme.clone()
    }

    fn route_var(&self, name: &str) -> Option<String> {
        self.state.borrow().req.route_var(name).map(str::to_string)
    }

    fn set_route_var(&self, name: &str, value: &str) {
        let mut s = self.state.borrow_mut();
        if s.phase == Phase::Response {
            Self::misuse("setting a route variable after the request was passed on");
        }
        let valid_name = !name.is_empty()
            && name.len() <= 253
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if !valid_name || value.len() > 253 {
            Self::misuse("invalid route variable name or value over 253 bytes");
        }
        let vars = &mut s.req.route_vars;
        match vars.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value.to_string(),
            None => vars.push((name.to_string(), value.to_string())),
        }
    }

    fn header_names(&self, kind: HeaderKind) -> Vec<String> {
        let mut s = self.state.borrow_mut();
        Self::fields_mut(&mut s, kind).names()
    }

    fn header_values(&self, kind: HeaderKind, name: &str) -> Vec<Vec<u8>> {
        let mut s = self.state.borrow_mut();
        Self::fields_mut(&mut s, kind).get_all(name)
    }

    fn set_header(&self, kind: HeaderKind, name: &str, value: &[u8]) {
        self.check_header_write(kind, name);
        let mut s = self.state.borrow_mut();
        Self::fields_mut(&mut s, kind).set(name, value);
    }

    fn add_header(&self, kind: HeaderKind, name: &str, value: &[u8]) {
        self.check_header_write(kind, name);
        let mut s = self.state.borrow_mut();
        Self::fields_mut(&mut s, kind).add(name, value);
    }

    fn remove_header(&self, kind: HeaderKind, name: &str) {
        self.check_header_write(kind, name);
        let mut s = self.state.borrow_mut();
        Self::fields_mut(&mut s, kind).remove(name);
    }

    fn read_body(&self, kind: BodyKind, buf: &mut [u8]) -> (usize, bool) {
        if buf.is_empty() {
            Self::misuse("read_body with buf_limit 0");
        }
        let mut s = self.state.borrow_mut();
        let s = &mut *s;
        let (body, pos) = match kind {
            BodyKind::Request => {
                if s.phase == Phase::Response {
                    Self::misuse("reading the request body after it was passed on");
                }
                (&s.req.body, &mut s.req_read)
            }
            BodyKind::Response => {
                if s.phase == Phase::Response && !s.features.contains(Features::BUFFER_RESPONSE) {
                    Self::misuse("reading the response body without buffer_response");
                }
                (&s.resp.body, &mut s.resp_read)
            }
        };
        let n = buf.len().min(body.len() - *pos);
        buf[..n].copy_from_slice(&body[*pos..*pos + n]);
        *pos += n;
        (n, *pos == body.len())
    }

    fn write_body(&self, kind: BodyKind, data: &[u8]) {
        let mut s = self.state.borrow_mut();
        let s = &mut *s;
        let (body, written) = match kind {
            BodyKind::Request => {
                if s.phase == Phase::Response {
                    Self::misuse("writing the request body after it was passed on");
                }
                (&mut s.req.body, &mut s.req_written)
            }
            BodyKind::Response => (&mut s.resp.body, &mut s.resp_written),
        };
        if !*written {
            body.clear();
            *written = true;
        }
        body.extend_from_slice(data);
    }

    fn status_code(&self) -> u16 {
        self.state.borrow().resp.status
    }

    fn set_status_code(&self, status: u16) {
        if !(100..=999).contains(&status) {
            Self::misuse("status code out of range");
        }
        let mut s = self.state.borrow_mut();
        s.resp.status = status;
        s.status_set = true;
    }
}

/// What `on_request` did with a request.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // test-only values, moved a few times
pub enum Outcome {
    /// Passed on; hand the upstream's answer to [`Harness::response`].
    Continue(Forwarded),
    /// Answered by the plugin.
    Respond(TestResponse),
}

impl Outcome {
    /// The forwarded request; panics if the plugin answered instead.
    #[track_caller]
    pub fn forwarded(self) -> Forwarded {
        match self {
            Outcome::Continue(f) => f,
            Outcome::Respond(r) => panic!("expected the request to continue, got {r:?}"),
        }
    }

    /// The plugin's own response; panics if it let the request continue.
    #[track_caller]
    pub fn responded(self) -> TestResponse {
        match self {
            Outcome::Respond(r) => r,
            Outcome::Continue(f) => panic!("expected a response, request continued: {f:?}"),
        }
    }
}

/// A request on its way upstream, with what the plugin set up for its response.
///
/// Returned by [`Harness::request`] (inside [`Outcome::Continue`]) when the
/// plugin lets the request continue. Check [`request`](Forwarded::request),
/// then pass the whole value to [`Harness::response`] (or
/// [`Harness::upstream_error`]) to run `on_response`.
///
/// ```
/// use tollgate_plugin_sdk::testing::{Harness, TestRequest, TestResponse};
/// use tollgate_plugin_sdk::{Flow, NoConfig, Plugin, Request, Response};
///
/// struct Timed;
/// impl Plugin for Timed {
///     type Config = NoConfig;
///     fn new(_: NoConfig) -> Result<Self, String> { Ok(Timed) }
///     fn on_request(&mut self, req: Request<'_>, _: Response<'_>) -> Flow {
///         req.headers().set("x-request-id", "42");
///         Flow::ContinueWith(42)
///     }
///     fn on_response(&mut self, _: Request<'_>, resp: Response<'_>, ctx: u32, _: bool) {
///         resp.headers().set("x-request-id", ctx.to_string());
///     }
/// }
///
/// let mut h = Harness::<Timed>::new("").unwrap();
/// let fwd = h.request(TestRequest::get("/")).forwarded();
/// assert_eq!(fwd.request.header("x-request-id"), Some("42"));
/// assert_eq!(fwd.ctx, 42);
/// let resp = h.response(fwd, TestResponse::new(204));
/// assert_eq!(resp.header("x-request-id"), Some("42"));
/// ```
#[derive(Debug)]
pub struct Forwarded {
    /// The request as the upstream would receive it: headers, URI and
    /// method as the plugin left them; the body the plugin wrote, else the
    /// whole body with [`Features::BUFFER_REQUEST`], else what the plugin
    /// left unread.
    pub request: TestRequest,
    /// `ctx` from [`Flow::ContinueWith`](crate::Flow::ContinueWith); 0 for
    /// [`Flow::Continue`](crate::Flow::Continue).
    pub ctx: u32,
    state: State,
    /// A status the plugin set before passing the request on: it wins
    /// over the upstream's, as in tollgate.
    early_status: Option<u16>,
    /// Bytes the plugin wrote before passing the request on: they go out
    /// ahead of the upstream's body, as in tollgate.
    early_body: Vec<u8>,
}

/// A started plugin and the host it runs on: the way to unit-test a plugin
/// natively, with plain `cargo test`.
///
/// [`Harness::new`] (or [`Harness::from_json`]) starts it as tollgate would;
/// then each [`request`](Harness::request) runs `on_request` on a fresh
/// [`TestHost`], and [`response`](Harness::response) runs `on_response` with
/// the upstream's answer. [`round_trip`](Harness::round_trip) does both. The
/// same plugin value serves every request, so its state carries over as in
/// one tollgate instance.
///
/// ```
/// use tollgate_plugin_sdk::testing::{Harness, TestRequest};
/// use tollgate_plugin_sdk::{Flow, Plugin, Request, Response};
///
/// #[derive(serde::Deserialize)]
/// struct Config { max: u32 }
///
/// /// Lets `max` requests through, then answers 429.
/// struct Quota { max: u32, used: u32 }
///
/// impl Plugin for Quota {
///     type Config = Config;
///     const WANTS_RESPONSE: bool = false;
///     fn new(config: Config) -> Result<Self, String> {
///         Ok(Quota { max: config.max, used: 0 })
///     }
///     fn on_request(&mut self, _: Request<'_>, resp: Response<'_>) -> Flow {
///         if self.used == self.max {
///             resp.send(429, "text/plain", b"quota exceeded\n");
///             return Flow::Respond;
///         }
///         self.used += 1;
///         Flow::Continue
///     }
/// }
///
/// let mut h = Harness::<Quota>::from_json(serde_json::json!({"max": 1})).unwrap();
/// h.request(TestRequest::get("/")).forwarded();
/// assert_eq!(h.request(TestRequest::get("/")).responded().status, 429);
/// assert_eq!(h.plugin().used, 1);
/// assert!(Harness::<Quota>::new("{}").is_err()); // missing field `max`
/// ```
pub struct Harness<P: Plugin> {
    plugin: P,
    config: Vec<u8>,
    features: Features,
}

impl<P: Plugin> Harness<P> {
    /// Start the plugin with `config` JSON, as tollgate would: parse it
    /// (an empty or blank string reads as `{}`), call
    /// [`Plugin::new`], then enable [`Plugin::features`]. The `Err` is the
    /// message tollgate would report: an invalid config, `new`'s own error,
    /// or features tollgate does not support.
    pub fn new(config: &str) -> Result<Self, String> {
        let host = TestHost::new(config.as_bytes(), Features::NONE, TestRequest::get("/"));
        let plugin = glue::start::<P>(&host)?;
        let features = host.state.borrow().features;
        Ok(Harness {
            plugin,
            config: config.as_bytes().to_vec(),
            features,
        })
    }

    /// Start with a `serde_json::Value` (e.g. built with `serde_json::json!`).
    pub fn from_json(config: serde_json::Value) -> Result<Self, String> {
        Self::new(&config.to_string())
    }

    /// The plugin, to check its state between requests.
    pub fn plugin(&self) -> &P {
        &self.plugin
    }

    /// The plugin, to change its state between requests (e.g. expire a
    /// cache entry).
    pub fn plugin_mut(&mut self) -> &mut P {
        &mut self.plugin
    }

    /// Run `on_request` on `req`: [`Outcome::Continue`] with the request as
    /// forwarded, or [`Outcome::Respond`] with the plugin's own response.
    /// Breaking an ABI rule panics.
    pub fn request(&mut self, req: TestRequest) -> Outcome {
        let host = TestHost::new(&self.config, self.features, req);
        let ctx_next = self.plugin.handle_request(&host);
        let mut state = host.state.into_inner();
        if ctx_next as u32 == 0 {
            return Outcome::Respond(state.resp);
        }
        // What the upstream receives: the plugin's body, the whole body when
        // buffered, or what the plugin left unread.
        let mut request = state.req.clone();
        if !state.req_written && !state.features.contains(Features::BUFFER_REQUEST) {
            request.body = state.req.body[state.req_read..].to_vec();
        }
        let early_status = state.status_set.then_some(state.resp.status);
        let early_body = if state.resp_written {
            std::mem::take(&mut state.resp.body)
        } else {
            Vec::new()
        };
        state.resp_written = false;
        state.status_set = false;
        Outcome::Continue(Forwarded {
            request,
            ctx: (ctx_next >> 32) as u32,
            state,
            early_status,
            early_body,
        })
    }

    /// Run `on_response` with the upstream's response; returns what the
    /// client would get. With [`Plugin::WANTS_RESPONSE`] false, `on_response`
    /// is not called (as in tollgate).
    pub fn response(&mut self, forwarded: Forwarded, upstream: TestResponse) -> TestResponse {
        let mut state = forwarded.state;
        // Response headers the plugin set before passing the request on
        // override the upstream's.
        let mut resp = upstream;
        for name in state.resp.headers.names() {
            let values = state.resp.headers.get_all(&name);
            resp.headers.remove(&name);
            for v in values {
                resp.headers.add(&name, &v);
            }
        }
        // A status or bytes it wrote before passing on, as tollgate (and
        // the reference host) keep them.
        if let Some(status) = forwarded.early_status {
            resp.status = status;
        }
        if !forwarded.early_body.is_empty() {
            let mut body = forwarded.early_body;
            body.extend_from_slice(&resp.body);
            resp.body = body;
        }
        state.resp = resp;
        state.resp_read = 0;
        state.resp_written = false;
        state.phase = Phase::Response;
        let host = TestHost {
            state: RefCell::new(state),
        };
        // As tollgate: no call back for plugins that said they need none.
        if P::WANTS_RESPONSE {
            self.plugin.handle_response(&host, forwarded.ctx, false);
        }
        host.state.into_inner().resp
    }

    /// Run `on_response` as when the upstream failed (`is_error` true);
    /// there is no response to return.
    pub fn upstream_error(&mut self, forwarded: Forwarded) {
        let mut state = forwarded.state;
        state.phase = Phase::Response;
        let host = TestHost {
            state: RefCell::new(state),
        };
        self.plugin.handle_response(&host, forwarded.ctx, true);
    }

    /// `request` then, if it continued, `response` with `upstream`: returns
    /// the request as forwarded (`None` if the plugin answered itself, and
    /// then `upstream` is unused) and the response the client gets.
    ///
    /// ```
    /// use tollgate_plugin_sdk::testing::{Harness, TestRequest, TestResponse};
    /// use tollgate_plugin_sdk::{Flow, NoConfig, Plugin, Request, Response};
    ///
    /// struct ApiKey;
    /// impl Plugin for ApiKey {
    ///     type Config = NoConfig;
    ///     const WANTS_RESPONSE: bool = false;
    ///     fn new(_: NoConfig) -> Result<Self, String> { Ok(ApiKey) }
    ///     fn on_request(&mut self, req: Request<'_>, resp: Response<'_>) -> Flow {
    ///         if req.headers().get("x-api-key").as_deref() == Some("s3cret") {
    ///             return Flow::Continue;
    ///         }
    ///         resp.send(401, "text/plain", b"no\n");
    ///         Flow::Respond
    ///     }
    /// }
    ///
    /// let mut h = Harness::<ApiKey>::new("").unwrap();
    /// let (forwarded, resp) = h.round_trip(
    ///     TestRequest::get("/api").with_header("x-api-key", "s3cret"),
    ///     TestResponse::new(200).with_body("data"),
    /// );
    /// assert_eq!(forwarded.unwrap().uri, "/api");
    /// assert_eq!(resp.body_text(), "data");
    ///
    /// let (forwarded, resp) = h.round_trip(TestRequest::get("/api"), TestResponse::new(200));
    /// assert!(forwarded.is_none());
    /// assert_eq!(resp.status, 401);
    /// ```
    pub fn round_trip(
        &mut self,
        req: TestRequest,
        upstream: TestResponse,
    ) -> (Option<TestRequest>, TestResponse) {
        match self.request(req) {
            Outcome::Respond(resp) => (None, resp),
            Outcome::Continue(fwd) => {
                let forwarded = fwd.request.clone();
                (Some(forwarded), self.response(fwd, upstream))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Flow, NoConfig, Request, Response};

    #[derive(serde::Deserialize)]
    struct EchoConfig {
        greeting: String,
    }

    /// Answers `/hello` itself, counts requests, rewrites responses.
    struct Echo {
        greeting: String,
        seen: u32,
    }

    impl Plugin for Echo {
        type Config = EchoConfig;
        fn new(config: EchoConfig) -> Result<Self, String> {
            if config.greeting.is_empty() {
                return Err("greeting must not be empty".into());
            }
            Ok(Echo {
                greeting: config.greeting,
                seen: 0,
            })
        }
        fn features(&self) -> Features {
            Features::BUFFER_RESPONSE
        }
        fn on_request(&mut self, req: Request<'_>, resp: Response<'_>) -> Flow {
            self.seen += 1;
            if req.path() == "/hello" {
                resp.send(200, "text/plain", self.greeting.as_bytes());
                return Flow::Respond;
            }
            req.headers().set("x-seen", self.seen.to_string());
            Flow::ContinueWith(self.seen)
        }
        fn on_response(&mut self, _: Request<'_>, resp: Response<'_>, ctx: u32, _: bool) {
            let body = resp.body().read_all();
            resp.body().write(&body.to_ascii_uppercase());
            resp.headers().set("x-ctx", ctx.to_string());
        }
    }

    #[test]
    fn config_reaches_the_plugin_and_errors_are_reported() {
        let mut h = Harness::<Echo>::new(r#"{"greeting":"hi"}"#).unwrap();
        let resp = h.request(TestRequest::get("/hello")).responded();
        assert_eq!(resp.body_text(), "hi");
        assert_eq!(resp.header("content-type"), Some("text/plain"));

        let err = Harness::<Echo>::new(r#"{"greeting":""}"#).err().unwrap();
        assert!(err.contains("must not be empty"), "{err}");
        let err = Harness::<Echo>::new("{}").err().unwrap();
        assert!(err.contains("missing field `greeting`"), "{err}");
    }

    #[test]
    fn state_persists_and_ctx_reaches_on_response() {
        let mut h = Harness::<Echo>::new(r#"{"greeting":"hi"}"#).unwrap();
        h.request(TestRequest::get("/a")).forwarded();
        let fwd = h.request(TestRequest::get("/b")).forwarded();
        assert_eq!(fwd.request.header("x-seen"), Some("2"));
        assert_eq!(fwd.ctx, 2);
        let resp = h.response(fwd, TestResponse::new(200).with_body("abc"));
        assert_eq!(resp.body_text(), "ABC");
        assert_eq!(resp.header("x-ctx"), Some("2"));
        assert_eq!(h.plugin().seen, 2);
    }

    struct Misbehaving;
    impl Plugin for Misbehaving {
        type Config = NoConfig;
        fn new(_: NoConfig) -> Result<Self, String> {
            Ok(Misbehaving)
        }
        fn on_request(&mut self, _: Request<'_>, _: Response<'_>) -> Flow {
            Flow::Continue
        }
        fn on_response(&mut self, req: Request<'_>, _: Response<'_>, _: u32, _: bool) {
            req.headers().set("x-late", "1");
        }
    }

    #[test]
    #[should_panic(expected = "after it was passed on")]
    fn changing_the_request_late_is_caught() {
        let mut h = Harness::<Misbehaving>::new("").unwrap();
        let fwd = h.request(TestRequest::get("/")).forwarded();
        h.response(fwd, TestResponse::new(200));
    }

    struct Reader;
    impl Plugin for Reader {
        type Config = NoConfig;
        fn new(_: NoConfig) -> Result<Self, String> {
            Ok(Reader)
        }
        fn on_request(&mut self, req: Request<'_>, _: Response<'_>) -> Flow {
            let mut first = [0u8; 3];
            req.body().read(&mut first);
            req.headers().set("x-first", &first[..]);
            Flow::Continue
        }
    }

    #[test]
    fn unbuffered_reads_consume_the_request_body() {
        let mut h = Harness::<Reader>::new("").unwrap();
        let fwd = h.request(TestRequest::post("/", "abcdef")).forwarded();
        assert_eq!(fwd.request.header("x-first"), Some("abc"));
        assert_eq!(fwd.request.body, b"def");
    }

    #[test]
    fn logs_are_captured_per_test() {
        take_logs();
        crate::info!("hello {}", 42);
        assert_eq!(take_logs(), vec![(LogLevel::Info, "hello 42".to_string())]);
    }

    /// Sets a status, a header and writes bytes, then passes the request on.
    struct Early;
    impl Plugin for Early {
        type Config = NoConfig;
        const WANTS_RESPONSE: bool = false;
        fn new(_: NoConfig) -> Result<Self, String> {
            Ok(Early)
        }
        fn on_request(&mut self, _: Request<'_>, resp: Response<'_>) -> Flow {
            resp.set_status(203);
            resp.headers().set("x-early", "1");
            resp.body().write(b"early:");
            Flow::Continue
        }
    }

    #[test]
    fn a_status_headers_and_bytes_written_before_passing_on_survive() {
        // As tollgate (and the reference host): the status wins, the
        // headers win, the bytes go out ahead of the upstream's body.
        let mut h = Harness::<Early>::new("").unwrap();
        let upstream = TestResponse::new(200)
            .with_header("x-early", "0")
            .with_body("upstream");
        let (forwarded, resp) = h.round_trip(TestRequest::get("/"), upstream);
        assert!(forwarded.is_some());
        assert_eq!(resp.status, 203);
        assert_eq!(resp.header("x-early"), Some("1"));
        assert_eq!(resp.body_text(), "early:upstream");
    }
}
