//! The one wasmtime `Engine` of the process, its `Linker` (WASI preview 1 +
//! `http_handler`), and the epoch ticker that enforces call deadlines.
//!
//! - Pooling allocator: instance slots, memories and fiber stacks are
//!   reserved once; instantiating is a slot reuse, and dropping a `Store`
//!   gives its slot back (no growth over reloads).
//! - Epoch interruption: a thread bumps the engine's epoch every `TICK`;
//!   every guest call yields to tokio at each tick and is stopped once its
//!   own deadline has passed (see `instance.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, Linker, PoolingAllocationConfig};

use super::instance::HostState;
use super::{abi, PluginError};

/// Epoch period: the resolution of deadlines, and how long a guest runs
/// before it lets other tasks on its tokio worker run.
pub(crate) const TICK: Duration = Duration::from_millis(2);

/// Upper bound of any plugin's `memory` setting (a pooling slot's size).
pub(crate) const MAX_MEMORY: usize = 1 << 30;

/// Instances alive at once, all plugins together (pool slots).
pub(crate) const MAX_INSTANCES: u32 = 1000;

pub(crate) struct Runtime {
    pub engine: Engine,
    pub linker: Linker<HostState>,
    pub pooling: bool,
    ticker_stop: Arc<AtomicBool>,
}

impl Runtime {
    pub(crate) fn new() -> Result<Runtime, PluginError> {
        let (engine, pooling) = engine()?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut HostState| &mut s.wasi)
            .map_err(|e| PluginError::Engine(format!("WASI: {e}")))?;
        abi::add_to_linker(&mut linker)
            .map_err(|e| PluginError::Engine(format!("http_handler: {e}")))?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.clone(), ticker_stop.clone())?;
        Ok(Runtime {
            engine,
            linker,
            pooling,
            ticker_stop,
        })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    config
}

/// The pooling engine, or, where the address space for it cannot be
/// reserved (a tight `ulimit -v`), the on-demand one.
fn engine() -> Result<(Engine, bool), PluginError> {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(MAX_INSTANCES)
        .total_memories(MAX_INSTANCES)
        .total_tables(MAX_INSTANCES)
        .total_stacks(MAX_INSTANCES)
        .max_memory_size(MAX_MEMORY)
        .max_memories_per_module(1)
        .max_tables_per_module(1);
    let mut config = base_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&config) {
        Ok(engine) => Ok((engine, true)),
        Err(pooled) => {
            tracing::warn!(
                "wasm: pooling allocator unavailable ({pooled}); using on-demand allocation"
            );
            Engine::new(&base_config())
                .map(|e| (e, false))
                .map_err(|e| PluginError::Engine(e.to_string()))
        }
    }
}

fn spawn_ticker(engine: Engine, stop: Arc<AtomicBool>) -> Result<(), PluginError> {
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                engine.increment_epoch();
            }
        })
        .map(|_| ())
        .map_err(|e| PluginError::Engine(format!("epoch thread: {e}")))
}
