//! Write tollgate middleware in Rust, compiled to WebAssembly.
//!
//! A plugin is a type implementing [`Plugin`]; [`export_plugin!`] turns it
//! into an [http-wasm](https://http-wasm.io/http-handler-abi/) guest, the
//! ABI tollgate (and Traefik 3) load middleware through:
//!
//! ```text
//!  instance start (_start) ─ config JSON ─▶ Plugin::new ─▶ Plugin::features
//!  each request:  handle_request  ─▶ Plugin::on_request  ─▶ Flow
//!                 (Flow::Continue) request goes upstream, then
//!                 handle_response ─▶ Plugin::on_response
//! ```
//!
//! One instance serves one request at a time and is reused, so `&mut self`
//! state (caches, counters) persists from request to request; tollgate may
//! run several instances of a plugin in parallel, each with its own state.
//!
//! ```no_run
//! use tollgate_plugin_sdk::{export_plugin, Flow, Plugin, Request, Response};
//!
//! #[derive(serde::Deserialize)]
//! struct Config { token: String }
//!
//! struct StaticToken { token: String }
//!
//! impl Plugin for StaticToken {
//!     type Config = Config;
//!     fn new(config: Config) -> Result<Self, String> {
//!         Ok(StaticToken { token: config.token })
//!     }
//!     fn on_request(&mut self, req: Request<'_>, resp: Response<'_>) -> Flow {
//!         if req.headers().get("x-token").as_deref() == Some(self.token.as_str()) {
//!             return Flow::Continue;
//!         }
//!         resp.send(403, "text/plain", b"forbidden\n");
//!         Flow::Respond
//!     }
//! }
//!
//! export_plugin!(StaticToken);
//! ```
//!
//! Under plain `cargo test` (no wasm), [`testing::Harness`] runs the same
//! plugin against an in-memory host that enforces the ABI's rules.

#![warn(missing_docs)]

pub mod abi;
mod glue;
mod host;
mod message;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

#[cfg(target_arch = "wasm32")]
mod ffi;

pub use abi::{BodyKind, Features, HeaderKind, LogLevel};
pub use host::Host;
pub use message::{Body, Headers, Request, Response};

/// A config type for plugins that take none: accepts any JSON.
pub type NoConfig = serde::de::IgnoredAny;

/// What `on_request` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Pass the (possibly modified) request on; `on_response` will run.
    Continue,
    /// Like `Continue`, with a value handed back to `on_response` as `ctx`.
    ContinueWith(u32),
    /// The plugin wrote the response itself (see [`Response::send`]); nothing
    /// further runs for this request and `on_response` is not called.
    Respond,
}

/// A middleware plugin.
///
/// Implement it on a type, make it the module's handler with
/// [`export_plugin!`], and test it with [`testing::Harness`]. `new` runs once
/// per instance at start; then `on_request` runs for each request and, if
/// it returns [`Flow::Continue`] or [`Flow::ContinueWith`], `on_response`
/// once the upstream answered. Only `new` and `on_request` are required.
///
/// ```
/// use tollgate_plugin_sdk::testing::{Harness, TestRequest, TestResponse};
/// use tollgate_plugin_sdk::{Features, Flow, Plugin, Request, Response};
///
/// #[derive(serde::Deserialize)]
/// struct Config {
///     from: String,
///     to: String,
/// }
///
/// /// Replaces `from` with `to` in response bodies.
/// struct Rewrite {
///     from: String,
///     to: String,
/// }
///
/// impl Plugin for Rewrite {
///     type Config = Config;
///
///     fn new(config: Config) -> Result<Self, String> {
///         if config.from.is_empty() {
///             return Err("`from` must not be empty".into());
///         }
///         Ok(Rewrite { from: config.from, to: config.to })
///     }
///
///     fn features(&self) -> Features {
///         Features::BUFFER_RESPONSE // to read the upstream's body in on_response
///     }
///
///     fn on_request(&mut self, _: Request<'_>, _: Response<'_>) -> Flow {
///         Flow::Continue
///     }
///
///     fn on_response(&mut self, _: Request<'_>, resp: Response<'_>, _: u32, is_error: bool) {
///         if is_error {
///             return;
///         }
///         let body = String::from_utf8_lossy(&resp.body().read_all()).replace(&self.from, &self.to);
///         resp.body().write(body.as_bytes()); // the first write replaces the body
///     }
/// }
///
/// let config = serde_json::json!({"from": "cat", "to": "dog"});
/// let mut h = Harness::<Rewrite>::from_json(config).unwrap();
/// let (_, resp) = h.round_trip(TestRequest::get("/"), TestResponse::new(200).with_body("a cat"));
/// assert_eq!(resp.body_text(), "a dog");
/// ```
pub trait Plugin: Sized + 'static {
    /// Deserialized from the plugin's `config` table (as JSON). An empty
    /// config reads as `{}`.
    type Config: serde::de::DeserializeOwned;

    /// Build the plugin once per instance. An `Err` stops the instance from
    /// starting, and tollgate reports the message when loading the config.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// Whether `on_response` does anything. Auth plugins that only decide
    /// on the request set this to `false`: tollgate then skips
    /// `handle_response` and reuses the instance at once, without waiting
    /// for the upstream (cheaper, and fewer instances under load). Other
    /// http-wasm hosts still call it; `on_response` must then do nothing.
    const WANTS_RESPONSE: bool = true;

    /// Features to enable for every request, asked for once at start. If the
    /// host does not grant them all, the instance does not start. For
    /// features on some requests only, see [`Request::enable_features`].
    fn features(&self) -> Features {
        Features::NONE
    }

    /// Inspect or change the request; answer it, or let it continue. The
    /// returned [`Flow`] says which.
    fn on_request(&mut self, req: Request<'_>, resp: Response<'_>) -> Flow;

    /// Inspect or change the response. `ctx` is the value of
    /// [`Flow::ContinueWith`] (0 after [`Flow::Continue`]). `is_error` is
    /// true when tollgate could not get a response upstream (then there is
    /// nothing to change: clean up). The request is read-only here. Does
    /// nothing by default.
    fn on_response(&mut self, req: Request<'_>, resp: Response<'_>, ctx: u32, is_error: bool) {
        let _ = (req, resp, ctx, is_error);
    }
}

/// Log a message through the host (tollgate's log, tagged with the plugin's
/// name). Cheap when the level is disabled.
pub fn log(level: LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        ffi::log(level, message)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        testing::record_log(level, message)
    }
}

/// Whether the host would keep a message at `level`: guard costly formatting.
pub fn log_enabled(level: LogLevel) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        ffi::log_enabled(level)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = level;
        true
    }
}

/// `debug!("...", args)`: format and log at debug level when enabled.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::__log!($crate::LogLevel::Debug, $($arg)*) };
}
/// `info!("...", args)`: format and log at info level when enabled.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::__log!($crate::LogLevel::Info, $($arg)*) };
}
/// `warn!("...", args)`: format and log at warn level when enabled.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::__log!($crate::LogLevel::Warn, $($arg)*) };
}
/// `error!("...", args)`: format and log at error level when enabled.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::__log!($crate::LogLevel::Error, $($arg)*) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log_enabled($level) {
            $crate::log($level, &::std::format!($($arg)*));
        }
    };
}

/// Make `$plugin` the module's http-wasm handler: defines `main` (run at
/// instance start: reads the config and builds the plugin) and the
/// `handle_request` / `handle_response` exports. Use it in the plugin's
/// `src/main.rs`; on a native build `main` only explains how to build.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        fn main() {
            $crate::__private::main::<$plugin>()
        }

        #[cfg(target_arch = "wasm32")]
        #[export_name = "handle_request"]
        pub extern "C" fn __tollgate_handle_request() -> i64 {
            $crate::__private::handle_request()
        }

        #[cfg(target_arch = "wasm32")]
        #[export_name = "handle_response"]
        pub extern "C" fn __tollgate_handle_response(req_ctx: i32, is_error: i32) {
            $crate::__private::handle_response(req_ctx, is_error)
        }
    };
}

#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::ffi::{handle_request, handle_response, main};

    #[cfg(not(target_arch = "wasm32"))]
    pub fn main<P: crate::Plugin>() {
        eprintln!(
            "{} is a tollgate plugin: build it with `cargo build --target wasm32-wasip1` \
             (or plugins/build.sh) and load the .wasm file in tollgate",
            std::env::args().next().unwrap_or_default()
        );
    }
}
