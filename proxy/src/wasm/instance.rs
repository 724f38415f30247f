//! One guest instance: its `Store`, started once (`_start`/`_initialize`),
//! then serving one request at a time. Every call into the guest runs under
//! the plugin's deadline and memory limit; anything going wrong is a
//! [`Failure`], after which the instance is dropped, never reused.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use wasmtime::{Engine, Memory, ResourceLimiter, Store, Trap, TypedFunc, UpdateDeadline};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::I32Exit;

use super::abi::LastName;
use super::cache::CompiledModule;
use super::engine::{Ticker, TICK};
use super::exchange::Exchange;
use super::wasi::{self, Preopen};

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
    /// The header name the guest last passed, parsed (`abi::LastName`).
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
    memory: usize,
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

/// A call's time in epoch ticks (at least one).
fn ticks_for(timeout: Duration) -> u32 {
    let ticks = timeout.as_micros() / TICK.as_micros().max(1);
    u32::try_from(ticks).unwrap_or(u32::MAX).max(1)
}

/// Raised by the epoch callback once the call's deadline has passed.
#[derive(Debug)]
pub(crate) struct DeadlineExceeded;

impl fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline exceeded")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// Raised by the `http_handler` imports.
#[derive(Debug)]
pub(crate) enum HostError {
    /// The guest broke an ABI rule (the spec's "trap on misuse").
    Misuse(String),
    RequestBodyTooLarge(usize),
    RequestBody(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Misuse(m) => write!(f, "ABI misuse: {m}"),
            HostError::RequestBodyTooLarge(limit) => {
                write!(
                    f,
                    "request body larger than the plugin's buffer limit ({limit} bytes)"
                )
            }
            HostError::RequestBody(e) => write!(f, "reading the request body: {e}"),
        }
    }
}

impl std::error::Error for HostError {}

pub(crate) fn misuse(message: impl Into<String>) -> wasmtime::Error {
    wasmtime::Error::new(HostError::Misuse(message.into()))
}

/// Why a guest call (or starting an instance) failed.
#[derive(Debug)]
pub(crate) enum Failure {
    Deadline(Duration),
    OutOfMemory(usize),
    Trap(String),
    Exit(i32),
    Misuse(String),
    RequestBodyTooLarge(usize),
    RequestBody(String),
    ResponseBodyTooLarge(usize),
    ResponseBody(String),
    /// No instance slot free (too many instances alive at once).
    Capacity(String),
    Start(String),
}

impl Failure {
    /// The status the client gets.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Failure::RequestBodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::RequestBody(_) => StatusCode::BAD_REQUEST,
            Failure::ResponseBodyTooLarge(_) | Failure::ResponseBody(_) => StatusCode::BAD_GATEWAY,
            Failure::Capacity(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn classify(error: wasmtime::Error, state: &HostState, timeout: Duration) -> Failure {
        for cause in error.chain() {
            if cause.is::<DeadlineExceeded>() {
                return Failure::Deadline(timeout);
            }
            if let Some(host) = cause.downcast_ref::<HostError>() {
                return match host {
                    HostError::Misuse(m) => Failure::Misuse(m.clone()),
                    HostError::RequestBodyTooLarge(l) => Failure::RequestBodyTooLarge(*l),
                    HostError::RequestBody(e) => Failure::RequestBody(e.clone()),
                };
            }
            if let Some(exit) = cause.downcast_ref::<I32Exit>() {
                return Failure::Exit(exit.0);
            }
        }
        if state.limits.hit {
            return Failure::OutOfMemory(state.limits.memory);
        }
        if let Some(trap) = error.downcast_ref::<Trap>() {
            let backtrace = error
                .chain()
                .skip(1)
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            return Failure::Trap(if backtrace.is_empty() {
                trap.to_string()
            } else {
                format!("{trap} ({backtrace})")
            });
        }
        Failure::Trap(format!("{error:#}"))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Deadline(t) => write!(f, "deadline of {t:?} exceeded"),
            Failure::OutOfMemory(l) => write!(f, "out of memory (limit {} MiB)", l >> 20),
            Failure::Trap(t) => write!(f, "trap: {t}"),
            Failure::Exit(code) => write!(f, "guest exited with status {code}"),
            Failure::Misuse(m) => write!(f, "ABI misuse: {m}"),
            Failure::RequestBodyTooLarge(l) => {
                write!(f, "request body over the buffer limit of {l} bytes")
            }
            Failure::RequestBody(e) => write!(f, "reading the request body: {e}"),
            Failure::ResponseBodyTooLarge(l) => {
                write!(f, "response body over the buffer limit of {l} bytes")
            }
            Failure::ResponseBody(e) => write!(f, "reading the response body: {e}"),
            Failure::Capacity(e) => write!(f, "no instance available: {e}"),
            Failure::Start(e) => write!(f, "{e}"),
        }
    }
}

pub(crate) struct Guest {
    store: Store<HostState>,
    /// The store's `shared.ticker`, here so that a call can hold it while
    /// the store is borrowed for the call.
    ticker: Arc<Ticker>,
    handle_request: TypedFunc<(), i64>,
    handle_response: TypedFunc<(i32, i32), ()>,
    /// This instance's place under its plugin's instance limit, if any;
    /// freed when the instance is dropped.
    pub(crate) place: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Guest {
    /// Instantiate and run the module's start function.
    pub(crate) async fn start(
        engine: &Engine,
        module: &CompiledModule,
        shared: &Arc<Shared>,
    ) -> Result<Box<Guest>, Failure> {
        let _ticking = shared.ticker.start();
        let wasi = wasi::context(&shared.name, &shared.preopens).map_err(Failure::Start)?;
        let state = HostState {
            wasi,
            shared: shared.clone(),
            limits: Limits {
                memory: shared.memory,
                hit: false,
            },
            memory: None,
            exchange: None,
            global_features: 0,
            ticks_left: ticks_for(shared.start_timeout),
            start_log: Vec::new(),
            last_name: LastName::default(),
            starting: true,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limits);
        // At each epoch tick the guest is running: stop the call if it has
        // used up its time, otherwise let other tasks on this tokio worker
        // run before it goes on.
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if state.ticks_left == 0 {
                return Err(wasmtime::Error::new(DeadlineExceeded));
            }
            state.ticks_left -= 1;
            Ok(UpdateDeadline::Yield(1))
        });
        store.set_epoch_deadline(1);

        let instance = match module.pre.instantiate_async(&mut store).await {
            Ok(i) => i,
            Err(e) => {
                let exhausted = e
                    .chain()
                    .any(|c| c.is::<wasmtime::PoolConcurrencyLimitError>());
                return Err(if exhausted {
                    Failure::Capacity(format!("{e:#}"))
                } else {
                    let timeout = store.data().shared.start_timeout;
                    match Failure::classify(e, store.data(), timeout) {
                        Failure::Trap(t) => Failure::Start(format!("instantiating: {t}")),
                        other => other,
                    }
                });
            }
        };
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| Failure::Start("the module exports no memory".into()))?;
        store.data_mut().memory = Some(memory);
        let handle_request = instance
            .get_typed_func::<(), i64>(&mut store, "handle_request")
            .map_err(|e| Failure::Start(format!("handle_request: {e}")))?;
        let handle_response = instance
            .get_typed_func::<(i32, i32), ()>(&mut store, "handle_response")
            .map_err(|e| Failure::Start(format!("handle_response: {e}")))?;

        // A reactor (`_initialize`) or a command (`_start`, i.e. `main`,
        // which is where http-wasm guests register their handler).
        let init = ["_initialize", "_start"]
            .into_iter()
            .find_map(|name| instance.get_typed_func::<(), ()>(&mut store, name).ok());
        if let Some(init) = init {
            store.set_epoch_deadline(1);
            if let Err(e) = init.call_async(&mut store, ()).await {
                let timeout = store.data().shared.start_timeout;
                let failure = Failure::classify(e, store.data(), timeout);
                // `exit(0)` at the end of `main` is a normal start.
                if !matches!(failure, Failure::Exit(0)) {
                    let log = store.data().start_log.join(" | ");
                    return Err(if log.is_empty() {
                        failure
                    } else {
                        Failure::Start(format!("{failure}; the guest said: {log}"))
                    });
                }
            }
        }
        let state = store.data_mut();
        state.starting = false;
        state.start_log = Vec::new();
        // Boxed: an instance moves in and out of its pool on every request.
        Ok(Box::new(Guest {
            store,
            ticker: shared.ticker.clone(),
            handle_request,
            handle_response,
            place: None,
        }))
    }

    pub(crate) fn global_features(&self) -> u32 {
        self.store.data().global_features
    }

    fn arm(&mut self) {
        let state = self.store.data_mut();
        state.ticks_left = ticks_for(state.shared.timeout);
        // A guest that coped with a refused `memory.grow` earlier must not
        // have a later, unrelated trap reported as out of memory.
        state.limits.hit = false;
        self.store.set_epoch_deadline(1);
    }

    /// `handle_request`: returns `ctx_next` and the exchange as the guest left it.
    pub(crate) async fn handle_request(
        &mut self,
        exchange: Box<Exchange>,
    ) -> Result<(i64, Box<Exchange>), Failure> {
        self.store.data_mut().exchange = Some(exchange);
        self.arm();
        let result = {
            let _ticking = self.ticker.start();
            self.handle_request.call_async(&mut self.store, ()).await
        };
        self.finish(result)
    }

    /// `handle_response(req_ctx, is_error)`.
    pub(crate) async fn handle_response(
        &mut self,
        exchange: Box<Exchange>,
        req_ctx: u32,
        is_error: bool,
    ) -> Result<Box<Exchange>, Failure> {
        self.store.data_mut().exchange = Some(exchange);
        self.arm();
        let result = {
            let _ticking = self.ticker.start();
            self.handle_response
                .call_async(&mut self.store, (req_ctx as i32, i32::from(is_error)))
                .await
        };
        self.finish(result).map(|((), ex)| ex)
    }

    fn finish<T>(&mut self, result: wasmtime::Result<T>) -> Result<(T, Box<Exchange>), Failure> {
        let state = self.store.data_mut();
        let exchange = state.exchange.take();
        match (result, exchange) {
            (Ok(value), Some(exchange)) => Ok((value, exchange)),
            (Ok(_), None) => Err(Failure::Trap("request state lost".into())),
            (Err(e), _) => {
                let timeout = self.store.data().shared.timeout;
                Err(Failure::classify(e, self.store.data(), timeout))
            }
        }
    }
}
