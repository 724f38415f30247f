//! What a guest instance's `Store` holds ([`HostState`]): WASI, its limits,
//! and the request in progress, which the `http_handler` imports (abi.rs)
//! work on; and what every instance of one plugin shares ([`Shared`]).

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use wasmtime::{Memory, ResourceLimiter};
use wasmtime_wasi::p1::WasiP1Ctx;

use super::exchange::Exchange;
use super::ticker::Ticker;
use super::wasi::Preopen;

/// What every instance of one plugin shares.
pub(crate) struct Shared {
    pub name: Arc<str>,
    pub config: Arc<[u8]>,
    pub timeout: Duration,
    pub start_timeout: Duration,
    pub memory: usize,
    pub max_body: usize,
    pub preopens: Vec<Preopen>,
    pub ticker: Arc<Ticker>,
}

/// The `Store` data: WASI, limits, and the request being handled.
pub(crate) struct HostState {
    pub wasi: WasiP1Ctx,
    pub shared: Arc<Shared>,
    pub limits: Limits,
    pub memory: Option<Memory>,
    /// Some while `handle_request`/`handle_response` runs.
    /// Boxed: it is moved in and out on every call.
    pub exchange: Option<Box<Exchange>>,
    /// Features the guest enabled outside a request (at start).
    pub global_features: u32,
    /// Epoch ticks the current call may still run for. Counted only while
    /// guest code runs: time spent yielded to other tasks (a busy server)
    /// or waiting in a host call (a slow upload) does not use it up, so a
    /// loaded proxy does not kill guests that are merely slow to be scheduled.
    pub ticks_left: u32,
    /// The last messages the guest logged while starting, for the error.
    pub start_log: Vec<String>,
    /// The header name the guest last passed, parsed.
    pub last_name: LastName,
    pub starting: bool,
}

impl HostState {
    pub(crate) fn remember_start_log(&mut self, message: &str) {
        if self.starting {
            if self.start_log.len() == 4 {
                self.start_log.remove(0);
            }
            self.start_log.push(message.chars().take(500).collect());
        }
    }
}

/// The memory limit, remembering whether it was hit so a resulting trap
/// (a Rust guest aborts when allocation fails) is reported as what it is.
pub(crate) struct Limits {
    pub memory: usize,
    pub hit: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The last header name a guest passed, parsed (by `abi::name_at`). Guests
/// ask for the same names on every request (basic-auth: `authorization`),
/// and parsing one (lower-casing it, matching it against the standard
/// names) costs about ten times more than comparing its bytes.
#[derive(Default)]
pub(crate) struct LastName {
    pub bytes: Vec<u8>,
    pub name: Option<HeaderName>,
}
