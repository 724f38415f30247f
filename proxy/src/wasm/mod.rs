//! WebAssembly middleware: the host side of the
//! [http-wasm](https://http-wasm.io/http-handler-abi/) `http_handler` ABI
//! (the one Traefik 3 uses), in wasmtime. The only user of wasmtime.
//!
//! ```text
//!  PluginHost::new ── one Engine (pooling allocator, epoch ticker), one Linker
//!       │ load(PluginSpec)     compile or reuse the module (cache.rs), start one
//!       ▼                      instance to validate it (instance.rs)
//!  Plugin ── pool of warm instances (pool.rs), one request per instance at a time
//!       │ on_request(req)      handle_request on an instance (abi.rs ↔ exchange.rs)
//!       ├─▶ Outcome::Respond(resp)          the guest answered; instance back to the pool
//!       └─▶ Outcome::Continue(req, hook)    request goes on; hook keeps the instance
//!              hook.on_response(resp)       handle_response; instance back to the pool
//!              hook.on_error() / drop       handle_response(is_error=1) in a task
//! ```
//!
//! Containment: every call into a guest has a deadline (epoch interruption,
//! counted in ticks of 2 ms while guest code runs, so neither a busy server
//! nor a slow client uses it up; a running guest also yields to tokio at
//! every tick, so it cannot hog a worker; a call is first seen by the epoch
//! thread within 10 ms, `engine::IDLE_TICK`) and every instance a memory
//! limit. A trap, a deadline or running out of memory fails only that
//! request (500), logs the plugin and the cause, and drops that instance;
//! nothing a guest does can panic tollgate.
//!
//! A guest that enables the tollgate-only feature bit `1 << 31` (our SDK
//! does for plugins with `WANTS_RESPONSE = false`, e.g. basic-auth and
//! jwt-auth) is not called back with the response: its instance returns to
//! the pool as soon as `handle_request` is done, and the hook is empty. Such
//! a plugin's live instances are capped at the CPU count: a burst waits for
//! a warm instance instead of starting (and warming) one per request.
//!
//! Lifecycle: a `Plugin` owns its instances; dropping it (a reload that no
//! longer uses it, once its in-flight requests finish) frees them and, when
//! no other plugin uses the same module, the compiled code.

mod abi;
mod body;
pub mod builtin;
mod cache;
mod chain;
mod engine;
mod exchange;
mod instance;
mod pool;
mod wasi;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Request, Response};

use crate::body::ProxyBody;

use self::cache::{content_hash, CacheKey, CompiledModule, ModuleCache};
use self::engine::Runtime;
use self::exchange::{empty_slot, BodySlot, Exchange, Pending, FEATURE_BUFFER_RESPONSE};
use self::instance::{Failure, Guest, Shared};
use self::pool::Pool;

pub use self::chain::{Chain, ChainHook, ChainOutcome};
pub use self::wasi::Preopen;

/// Default deadline of one guest call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);
/// Default deadline for the built-in basic-auth plugin: a bcrypt check
/// inside wasm takes ~100 ms at cost 10 and doubles per cost step; verified
/// credentials are cached, so only the first request of a user pays it.
pub const BASIC_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Default number of idle instances kept per plugin (each costs its
/// memory, ~1-2 MiB for a Rust guest, and only exists once load needed it).
pub const DEFAULT_POOL_SIZE: usize = 64;
/// Default memory limit of one instance.
pub const DEFAULT_MEMORY: usize = 16 << 20;
/// Default cap on a body a plugin asks to buffer.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;
/// Upper bound of `PluginSpec::timeout`: a plugin is middleware, not a job.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Upper bound of `PluginSpec::memory`.
pub const MAX_MEMORY: usize = engine::MAX_MEMORY;

/// Where a plugin's module comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// A `.wasm` file.
    Path(PathBuf),
    /// A module shipped inside tollgate: see [`builtin`].
    Builtin(&'static str),
}

/// One configured plugin. Build it with [`PluginSpec::new`] (defaults) and
/// set what the config says. Comparable, so a reload can keep a loaded
/// `Plugin` (and its warm instances and caches) whose spec did not change
/// and whose file is unchanged ([`Plugin::file_unchanged`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpec {
    /// Used in logs and errors.
    pub name: String,
    pub source: PluginSource,
    /// Handed to the guest by `get_config` (the TOML table as JSON).
    pub config_json: Vec<u8>,
    /// Deadline of each call into the guest.
    pub timeout: Duration,
    /// Linear memory limit of each instance, bytes.
    pub memory: usize,
    /// Idle instances kept warm. More are started under load; those beyond
    /// this many are dropped when they come back. Generous by default:
    /// dropping an instance loses what it learnt (basic-auth's verified
    /// credentials), and a pool that drops and restarts instances under
    /// load would pay that again and again.
    pub pool_size: usize,
    /// Largest body the plugin may buffer (read or have buffered).
    pub max_body: usize,
    /// Host directories the guest may read (none by default).
    pub preopens: Vec<Preopen>,
}

impl PluginSpec {
    pub fn new(name: impl Into<String>, source: PluginSource) -> Self {
        let timeout = match source {
            PluginSource::Builtin(builtin::BASIC_AUTH) => BASIC_AUTH_TIMEOUT,
            _ => DEFAULT_TIMEOUT,
        };
        PluginSpec {
            name: name.into(),
            source,
            config_json: b"{}".to_vec(),
            timeout,
            memory: DEFAULT_MEMORY,
            pool_size: DEFAULT_POOL_SIZE,
            max_body: DEFAULT_MAX_BODY,
            preopens: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("wasm engine: {0}")]
    Engine(String),
    #[error("plugin file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no built-in plugin is called {0:?} (there are: basic-auth, headers, jwt-auth)")]
    UnknownBuiltin(String),
    #[error(
        "built-in plugin {0:?} is not in this build of tollgate (it was built without the \
         wasm32-wasip1 target: `rustup target add wasm32-wasip1`, then rebuild)"
    )]
    BuiltinMissing(String),
    #[error("plugin {name}: {message}")]
    Invalid { name: String, message: String },
    #[error("plugin {name}: {message}")]
    Compile { name: String, message: String },
    #[error("plugin {name} failed to start: {message}")]
    Start { name: String, message: String },
}

/// The process's WebAssembly runtime: one per process.
pub struct PluginHost {
    runtime: Runtime,
    cache: ModuleCache,
}

impl PluginHost {
    pub fn new() -> Result<Arc<PluginHost>, PluginError> {
        Ok(Arc::new(PluginHost {
            runtime: Runtime::new()?,
            cache: ModuleCache::default(),
        }))
    }

    /// Load a plugin: read and compile its module (or reuse the compiled
    /// one if the bytes are unchanged), and start one instance so that a
    /// guest that rejects its config fails here, at config load, with the
    /// guest's message. Blocks for the compile and the start: call it from
    /// a blocking context (`spawn_blocking`) or at start-up.
    pub fn load(self: &Arc<Self>, spec: &PluginSpec) -> Result<Arc<Plugin>, PluginError> {
        let invalid = |message: String| PluginError::Invalid {
            name: spec.name.clone(),
            message,
        };
        if spec.memory < (1 << 16) || spec.memory > MAX_MEMORY {
            return Err(invalid(format!(
                "memory must be between 64 KiB and {} MiB",
                MAX_MEMORY >> 20
            )));
        }
        if spec.timeout.is_zero() || spec.timeout > MAX_TIMEOUT {
            return Err(invalid(format!(
                "timeout must be more than 0 and at most {MAX_TIMEOUT:?}"
            )));
        }

        let (key, bytes): (CacheKey, Cow<'static, [u8]>) = match &spec.source {
            PluginSource::Path(path) => {
                let io = |source| PluginError::Io {
                    path: path.clone(),
                    source,
                };
                let meta = std::fs::metadata(path).map_err(io)?;
                let bytes = std::fs::read(path).map_err(io)?;
                let key = CacheKey::File {
                    path: std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()),
                    modified: meta.modified().ok(),
                    len: bytes.len() as u64,
                    hash: content_hash(&bytes),
                };
                (key, Cow::Owned(bytes))
            }
            PluginSource::Builtin(name) => {
                let (name, bytes) = builtin::module(name)?;
                let key = CacheKey::Builtin {
                    name,
                    hash: content_hash(bytes),
                };
                (key, Cow::Borrowed(bytes))
            }
        };
        let module = self
            .cache
            .get_or_compile(
                key.clone(),
                &bytes,
                &self.runtime.engine,
                &self.runtime.linker,
            )
            .map_err(|message| PluginError::Compile {
                name: spec.name.clone(),
                message,
            })?;
        for missing in &module.unknown_imports {
            tracing::warn!(plugin = %spec.name, "imports tollgate lacks (they trap if called): {missing}");
        }

        let shared = Arc::new(Shared {
            name: Arc::from(spec.name.as_str()),
            config: Arc::from(spec.config_json.as_slice()),
            timeout: spec.timeout,
            // Starting includes the guest's own setup (parsing its config).
            start_timeout: spec.timeout.max(Duration::from_secs(1)),
            memory: spec.memory,
            max_body: spec.max_body,
            preopens: spec.preopens.clone(),
            ticker: self.runtime.ticker.clone(),
        });
        let engine = self.runtime.engine.clone();
        let first = run_blocking({
            let module = module.clone();
            let shared = shared.clone();
            async move { Guest::start(&engine, &module, &shared).await }
        })
        .map_err(|message| PluginError::Start {
            name: spec.name.clone(),
            message,
        })?
        .map_err(|failure| PluginError::Start {
            name: spec.name.clone(),
            message: failure.to_string(),
        })?;

        // A guest that never sees responses holds an instance only while
        // its handle_request runs, which is CPU work: more instances than
        // CPUs add nothing but cold starts. Without this limit a burst of
        // requests would start one instance each, and each would pay its
        // warm-up (basic-auth: one bcrypt per credential) at the same time.
        let limit = (first.global_features() & exchange::FEATURE_SKIP_RESPONSE != 0).then(|| {
            let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
            Arc::new(tokio::sync::Semaphore::new(cpus.max(2)))
        });
        let mut first = first;
        first.place = limit
            .as_ref()
            .and_then(|l| l.clone().try_acquire_owned().ok());
        let plugin = Plugin {
            host: self.clone(),
            spec: spec.clone(),
            key,
            module,
            shared,
            pool: Pool::new(spec.pool_size),
            limit,
            stats: Stats::default(),
        };
        plugin.stats.started.fetch_add(1, Ordering::Relaxed);
        plugin.pool.give(first);
        Ok(Arc::new(plugin))
    }

    /// Modules compiled so far (not reused from the cache).
    pub fn modules_compiled(&self) -> u64 {
        self.cache.compile_count()
    }

    /// Guest instances alive right now, all plugins together (pooling
    /// allocator only): what a reload must not make grow.
    pub fn live_instances(&self) -> Option<u64> {
        self.runtime
            .engine
            .pooling_allocator_metrics()
            .map(|m| m.core_instances())
    }

    /// Whether instances come from the pooling allocator.
    pub fn pooling(&self) -> bool {
        self.runtime.pooling
    }
}

/// Run `future` to completion on a helper thread with its own small tokio
/// runtime: `load` is synchronous, may be called from inside a runtime, and
/// starting an instance is async in wasmtime.
fn run_blocking<F>(future: F) -> Result<F::Output, String>
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .map(|rt| rt.block_on(future))
                    .map_err(|e| format!("runtime: {e}"))
            })
            .join()
            .unwrap_or_else(|_| Err("instance start panicked".into()))
    })
}

#[derive(Default)]
struct Stats {
    started: AtomicU64,
    failed: AtomicU64,
    last_failure: std::sync::Mutex<Option<String>>,
}

impl Stats {
    fn failed(&self, failure: &Failure) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_failure.lock() {
            *last = Some(failure.to_string());
        }
    }
}

/// A loaded plugin: a compiled module, its config and its warm instances.
pub struct Plugin {
    host: Arc<PluginHost>,
    spec: PluginSpec,
    key: CacheKey,
    module: Arc<CompiledModule>,
    shared: Arc<Shared>,
    pool: Pool,
    /// Cap on live instances, for guests that skip responses.
    limit: Option<Arc<tokio::sync::Semaphore>>,
    stats: Stats,
}

/// What `on_request` decided.
pub enum Outcome {
    /// Send this request on; give the response to the hook.
    Continue(Request<ProxyBody>, ResponseHook),
    /// Answer with this (the guest's own response, or a 500 if it failed).
    Respond(Response<ProxyBody>),
}

impl Plugin {
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// What this plugin was loaded from.
    pub fn spec(&self) -> &PluginSpec {
        &self.spec
    }

    /// Whether its `.wasm` file still has the size and modification time it
    /// had when loaded (always true for built-ins). With an equal spec, a
    /// reload can keep this plugin as it is.
    pub fn file_unchanged(&self) -> bool {
        match &self.key {
            CacheKey::Builtin { .. } => true,
            CacheKey::File { modified, len, .. } => match &self.spec.source {
                PluginSource::Path(path) => std::fs::metadata(path)
                    .is_ok_and(|m| m.len() == *len && m.modified().ok() == *modified),
                PluginSource::Builtin(_) => true,
            },
        }
    }

    /// Instances started so far (including the one `load` started).
    pub fn instances_started(&self) -> u64 {
        self.stats.started.load(Ordering::Relaxed)
    }

    /// Requests this plugin failed (trap, deadline, memory...).
    pub fn failures(&self) -> u64 {
        self.stats.failed.load(Ordering::Relaxed)
    }

    /// Why the last failed request failed.
    pub fn last_failure(&self) -> Option<String> {
        self.stats.last_failure.lock().ok().and_then(|l| l.clone())
    }

    /// Instances idle in the pool right now.
    pub fn idle_instances(&self) -> usize {
        self.pool.idle()
    }

    /// A warm instance, or else (rarely) a new one or one coming back.
    /// The slow path is boxed: its future (instantiation, waiting) is large,
    /// and a future's size is copied on every request that awaits it.
    async fn checkout(&self) -> Result<Box<Guest>, Failure> {
        match self.pool.take() {
            Some(guest) => Ok(guest),
            None => Box::pin(self.checkout_slow()).await,
        }
    }

    async fn checkout_slow(&self) -> Result<Box<Guest>, Failure> {
        if let Some(guest) = self.pool.take() {
            return Ok(guest);
        }
        let Some(limit) = &self.limit else {
            return self.start_instance(None).await;
        };
        loop {
            if let Ok(place) = limit.clone().try_acquire_owned() {
                return self.start_instance(Some(place)).await;
            }
            // All instances busy, and as many as can usefully run: wait for
            // one to come back (or to be dropped) rather than start a cold
            // one.
            tokio::select! {
                returned = self.pool.returned() => {
                    if let Some(guest) = returned {
                        return Ok(guest);
                    }
                }
                place = limit.clone().acquire_owned() => {
                    if let Ok(place) = place {
                        return self.start_instance(Some(place)).await;
                    }
                }
            }
        }
    }

    async fn start_instance(
        &self,
        place: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<Box<Guest>, Failure> {
        let mut guest = Guest::start(&self.host.runtime.engine, &self.module, &self.shared).await?;
        guest.place = place;
        self.stats.started.fetch_add(1, Ordering::Relaxed);
        Ok(guest)
    }

    /// Log a failure and turn it into the client's response. The instance
    /// that failed has already been dropped by the caller.
    fn fail(&self, failure: Failure, during: &str) -> Response<ProxyBody> {
        self.stats.failed(&failure);
        let status = failure.status();
        if status.is_client_error() {
            tracing::warn!(plugin = %self.shared.name, cause = %failure, "plugin {during}: request refused");
        } else {
            tracing::error!(plugin = %self.shared.name, cause = %failure, "plugin failed in {during}; instance discarded");
        }
        error_response(status)
    }

    /// Run the guest's `handle_request`. Never panics; a failing guest
    /// yields `Respond` with a 500 (or 413/400 for a body it could not
    /// buffer, 503 when no instance can be started).
    pub fn on_request(
        self: &Arc<Self>,
        req: Request<ProxyBody>,
        peer: impl Into<Peer>,
    ) -> impl Future<Output = Outcome> + Send + '_ {
        // The request goes into its (boxed) exchange before the future is
        // made: the future holds a pointer, not the request. (An async fn
        // keeps its arguments in its future, and a future is copied whole
        // each time it is moved or boxed.)
        let exchange = Exchange::of(req, peer.into());
        async move {
            match self.handle_exchange(exchange).await {
                Step::Next(exchange, hook) => Outcome::Continue(exchange.into_request(), hook),
                Step::Respond(resp) => Outcome::Respond(resp),
            }
        }
    }

    /// `handle_request` on an exchange: the chain hands one exchange from
    /// plugin to plugin.
    async fn handle_exchange(self: &Arc<Self>, mut exchange: Box<Exchange>) -> Step {
        let mut guest = match self.checkout().await {
            Ok(guest) => guest,
            Err(failure) => return Step::Respond(self.fail(failure, "start")),
        };
        exchange.features = guest.global_features();
        match guest.handle_request(exchange).await {
            Err(failure) => {
                drop(guest);
                Step::Respond(self.fail(failure, "handle_request"))
            }
            Ok((ctx_next, mut exchange)) => {
                // `next` is the low 32 bits; the high 32 go back to the
                // guest in handle_response.
                if ctx_next as u32 == 0 {
                    let resp = exchange.into_guest_response();
                    self.pool.give(guest);
                    return Step::Respond(resp);
                }
                let Some(pending) = exchange.pass_on() else {
                    // The guest has no use for the response: done with it.
                    self.pool.give(guest);
                    return Step::Next(exchange, ResponseHook { inner: None });
                };
                let hook = ResponseHook {
                    inner: Some(Box::new(HookInner {
                        plugin: self.clone(),
                        guest,
                        req_ctx: (ctx_next >> 32) as u32,
                        pending,
                    })),
                };
                Step::Next(exchange, hook)
            }
        }
    }
}

/// What one plugin did with a request's exchange. (`Respond` is the larger
/// variant, but it ends the chain: returned once, not carried along.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Step {
    /// The request goes on (to the next plugin, or upstream); the hook
    /// waits for the response.
    Next(Box<Exchange>, ResponseHook),
    /// Answer with this (the guest's own response, or an error).
    Respond(Response<ProxyBody>),
}

/// The client connection a request came on, as plugins see it
/// (`get_source_addr`, and the scheme of `get_uri`).
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub addr: SocketAddr,
    pub tls: bool,
}

impl From<SocketAddr> for Peer {
    fn from(addr: SocketAddr) -> Self {
        Peer { addr, tls: false }
    }
}

fn error_response(status: http::StatusCode) -> Response<ProxyBody> {
    let text = format!("{}\n", status.canonical_reason().unwrap_or("Error"));
    let mut resp = Response::new(ProxyBody::full(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Holds the instance that handled a request until the response comes back.
/// If it is dropped unused (the client went away), the guest still gets its
/// `handle_response(is_error = 1)`, in a task, and the instance then goes
/// back to the pool.
#[must_use = "call on_response or on_error so the plugin sees the outcome"]
pub struct ResponseHook {
    inner: Option<Box<HookInner>>,
}

struct HookInner {
    plugin: Arc<Plugin>,
    guest: Box<Guest>,
    req_ctx: u32,
    pending: Pending,
}

impl ResponseHook {
    /// Run the guest's `handle_response` on the upstream's response and
    /// return what the client should get. Never panics; a failing guest
    /// turns the response into a 500.
    pub async fn on_response(mut self, resp: Response<ProxyBody>) -> Response<ProxyBody> {
        let Some(inner) = self.inner.take() else {
            return resp;
        };
        // Boxed: this future is large, and a hook without a guest (an auth
        // plugin's) should not make every caller's future large too.
        Box::pin(inner.respond(resp)).await
    }

    /// Whether no guest waits for the response (the plugin skips
    /// responses): `on_response` then returns the response as it is.
    pub fn is_empty(&self) -> bool {
        self.inner.is_none()
    }

    /// The upstream failed; tollgate answers with its own error. The guest
    /// is told (`is_error = 1`) in the background.
    pub fn on_error(mut self) {
        if let Some(inner) = self.inner.take() {
            inner.finish_with_error();
        }
    }
}

impl Drop for ResponseHook {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.finish_with_error();
        }
    }
}

impl HookInner {
    async fn respond(self: Box<Self>, resp: Response<ProxyBody>) -> Response<ProxyBody> {
        let HookInner {
            plugin,
            mut guest,
            req_ctx,
            pending,
        } = *self;
        let (parts, body) = resp.into_parts();
        let (slot, trailers) = if pending.features() & FEATURE_BUFFER_RESPONSE != 0 {
            match body::collect(body, plugin.shared.max_body).await {
                Ok(c) => (
                    BodySlot::Buffered {
                        data: c.data,
                        pos: 0,
                        permit: c.permit,
                    },
                    c.trailers,
                ),
                Err(e) => {
                    // The guest never ran: the instance is fine.
                    let failure = match e {
                        body::CollectError::TooLarge => {
                            Failure::ResponseBodyTooLarge(plugin.shared.max_body)
                        }
                        body::CollectError::Failed(why) => Failure::ResponseBody(why),
                    };
                    let resp = plugin.fail(failure, "buffering the response");
                    let ex =
                        Exchange::for_response(pending, resp_parts_of(&resp), empty_slot(), None);
                    finish_in_background(plugin, guest, ex, req_ctx);
                    return resp;
                }
            }
        } else {
            (BodySlot::Stream(body), None)
        };
        let exchange = Exchange::for_response(pending, parts, slot, trailers);
        match guest.handle_response(exchange, req_ctx, false).await {
            Ok(exchange) => {
                let resp = exchange.into_final_response();
                plugin.pool.give(guest);
                resp
            }
            Err(failure) => {
                drop(guest);
                plugin.fail(failure, "handle_response")
            }
        }
    }

    fn finish_with_error(self: Box<Self>) {
        let HookInner {
            plugin,
            guest,
            req_ctx,
            pending,
        } = *self;
        let (parts, ()) = Response::new(()).into_parts();
        let ex = Exchange::for_response(pending, parts, empty_slot(), None);
        finish_in_background(plugin, guest, ex, req_ctx);
    }
}

fn resp_parts_of(resp: &Response<ProxyBody>) -> http::response::Parts {
    let (mut parts, ()) = Response::new(()).into_parts();
    parts.status = resp.status();
    parts.headers = resp.headers().clone();
    parts
}

/// `handle_response(is_error = 1)` off the request path; the instance goes
/// back to the pool if the guest handles it cleanly. Without a runtime
/// (shutdown) the instance is simply dropped.
fn finish_in_background(
    plugin: Arc<Plugin>,
    mut guest: Box<Guest>,
    ex: Box<Exchange>,
    req_ctx: u32,
) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    handle.spawn(async move {
        match guest.handle_response(ex, req_ctx, true).await {
            Ok(_) => plugin.pool.give(guest),
            Err(failure) => {
                drop(guest);
                plugin.stats.failed(&failure);
                tracing::warn!(plugin = %plugin.shared.name, cause = %failure,
                    "plugin failed in handle_response after an upstream error; instance discarded");
            }
        }
    });
}
