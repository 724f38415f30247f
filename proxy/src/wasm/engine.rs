//! The one wasmtime `Engine` of the process and its `Linker` (WASI preview
//! 1 + `http_handler`), together with the epoch ticker (ticker.rs) that
//! enforces call deadlines.
//!
//! - Pooling allocator: instance slots, memories and fiber stacks are
//!   reserved once; instantiating is a slot reuse, and dropping a `Store`
//!   gives its slot back (no growth over reloads).
//! - Epoch interruption: guest calls are metered in epoch ticks; the
//!   runtime owns the ticker thread and stops it when dropped.

use std::sync::Arc;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, Linker, PoolingAllocationConfig};

use super::abi;
use super::error::PluginError;
use super::spec::MAX_MEMORY;
use super::state::HostState;
use super::ticker::{spawn_ticker, Ticker};

/// Instances alive at once, all plugins together (pool slots).
pub(crate) const MAX_INSTANCES: u32 = 1000;

pub(crate) struct Runtime {
    pub engine: Engine,
    pub linker: Linker<HostState>,
    pub pooling: bool,
    pub ticker: Arc<Ticker>,
}

impl Runtime {
    pub(crate) fn new() -> Result<Runtime, PluginError> {
        let (engine, pooling) = engine()?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut HostState| &mut s.wasi)
            .map_err(|e| PluginError::Engine(format!("WASI: {e}")))?;
        abi::add_to_linker(&mut linker)
            .map_err(|e| PluginError::Engine(format!("http_handler: {e}")))?;
        let ticker = spawn_ticker(engine.clone())?;
        Ok(Runtime {
            engine,
            linker,
            pooling,
            ticker,
        })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker.shut_down();
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // For profiling plugins: `perf` then names guest functions
    // (/tmp/perf-PID.map) instead of showing bare JIT addresses.
    if std::env::var_os("TOLLGATE_WASM_PERFMAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// The pooling engine, or, where the address space for it cannot be
/// reserved (a tight `ulimit -v`), the on-demand one.
pub(crate) fn engine() -> Result<(Engine, bool), PluginError> {
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
