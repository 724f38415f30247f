//! One guest instance: its `Store`, started once (`_start`/`_initialize`),
//! then serving one request at a time. Every call into the guest runs under
//! the plugin's deadline and memory limit; anything going wrong is a
//! [`Failure`], after which the instance is dropped, never reused.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Engine, Store, TypedFunc, UpdateDeadline};

use super::cache::CompiledModule;
use super::exchange::Exchange;
use super::failure::{DeadlineExceeded, Failure};
use super::state::{HostState, LastName, Limits, Shared};
use super::ticker::{Ticker, TICK};
use super::wasi;

/// A call's time in epoch ticks (at least one).
fn ticks_for(timeout: Duration) -> u32 {
    let ticks = timeout.as_micros() / TICK.as_micros().max(1);
    u32::try_from(ticks).unwrap_or(u32::MAX).max(1)
}

/// A started instance of a plugin's module.
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
        // which is where http-wasm guests register their handler). Looked
        // up with get_func, not by get_typed_func's error: a wasmtime error
        // captures a backtrace when RUST_BACKTRACE is set, which unwound
        // the stack and kept 1 MB of unwind tables in RSS at every start.
        let init = ["_initialize", "_start"].into_iter().find_map(|name| {
            instance
                .get_func(&mut store, name)
                .and_then(|f| f.typed::<(), ()>(&store).ok())
        });
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
