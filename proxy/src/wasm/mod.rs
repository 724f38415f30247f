//! WebAssembly middleware: the host side of the
//! [http-wasm](https://http-wasm.io/http-handler-abi/) `http_handler` ABI
//! (the one Traefik 3 uses), in wasmtime. The only user of wasmtime.
//!
//! ```text
//!  PluginHost::new ── one Engine (pooling allocator, epoch ticker), one Linker
//!       │ load(PluginSpec)     (host.rs, engine.rs, ticker.rs) compile, reuse
//!       │                      or read from disk the module (cache.rs,
//!       │                      disk_cache.rs), start one instance to
//!       ▼                      validate it (instance.rs)
//!  Plugin ── pool of warm instances (plugin.rs, pool.rs), one request per
//!       │                      instance at a time
//!       │ on_request(req)      handle_request on an instance (hook.rs;
//!       │                      abi.rs ↔ exchange.rs)
//!       ├─▶ Outcome::Respond(resp)          the guest answered; instance back to the pool
//!       └─▶ Outcome::Continue(req, hook)    request goes on; hook keeps the instance
//!              hook.on_response(resp)       handle_response; instance back to the pool
//!              hook.on_error() / drop       handle_response(is_error=1) in a task
//!  Chain ── a frontend's plugins in order (chain.rs), one exchange for all
//! ```
//!
//! Containment: every call into a guest has a deadline (epoch interruption,
//! counted in ticks of 2 ms while guest code runs, so neither a busy server
//! nor a slow client uses it up; a running guest also yields to tokio at
//! every tick, so it cannot hog a worker; a call is first seen by the epoch
//! thread within 10 ms, `ticker::IDLE_TICK`) and every instance a memory
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
//!
//! Layering, bottom to top: a file imports only files on earlier lines of
//! this list, and never this `mod.rs`, which only declares and re-exports.
//! - `error` (PluginError), `body` (buffering a body), `wasi` (the guests'
//!   WASI context, Preopen), `exchange` (one request's state, Peer): no
//!   imports from wasm/
//! - `builtin` (the shipped modules), `ticker` (the epoch thread),
//!   `disk_cache` (compiled code kept across restarts)
//! - `spec` (PluginSpec, PluginSource, defaults and limits)
//! - `state` (HostState, Shared, Limits: the `Store` data)
//! - `failure` (Failure and its status, HostError, DeadlineExceeded)
//! - `abi` (the `http_handler` imports)
//! - `engine` (Runtime: Engine and Linker), `cache` (compiled modules)
//! - `instance` (Guest: one instance and its calls)
//! - `pool` (idle instances of one plugin)
//! - `plugin` (Plugin: checkout, failures, stats)
//! - `hook` (on_request, Outcome, ResponseHook)
//! - `chain` (Chain), `host` (PluginHost: loading plugins), `precompile`
//!   (filling the compiled-code cache ahead of a start)

mod abi;
mod body;
pub mod builtin;
mod cache;
mod chain;
mod disk_cache;
mod engine;
mod error;
mod exchange;
mod failure;
mod hook;
mod host;
mod instance;
mod plugin;
mod pool;
pub mod precompile;
mod spec;
mod state;
mod ticker;
mod wasi;

#[cfg(test)]
mod tests;

pub use self::chain::{Chain, ChainHook, ChainOutcome};
pub use self::error::PluginError;
pub use self::exchange::Peer;
pub use self::failure::FailureKind;
pub use self::hook::{Outcome, ResponseHook};
pub use self::host::PluginHost;
pub use self::plugin::Plugin;
pub use self::spec::{
    PluginSource, PluginSpec, BASIC_AUTH_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_MEMORY,
    DEFAULT_POOL_SIZE, DEFAULT_TIMEOUT, MAX_MEMORY, MAX_TIMEOUT,
};
pub use self::wasi::Preopen;
