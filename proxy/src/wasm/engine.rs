//! The one wasmtime `Engine` of the process, its `Linker` (WASI preview 1 +
//! `http_handler`), and the epoch ticker that enforces call deadlines.
//!
//! - Pooling allocator: instance slots, memories and fiber stacks are
//!   reserved once; instantiating is a slot reuse, and dropping a `Store`
//!   gives its slot back (no growth over reloads).
//! - Epoch interruption: a thread bumps the engine's epoch every `TICK`;
//!   every guest call yields to tokio at each tick and is stopped once its
//!   own deadline has passed (see `instance.rs`). The thread ticks every
//!   `TICK` only while it finds guest code running; between calls it
//!   checks every `IDLE_TICK`, and after a second without any it parks: an
//!   idle proxy (a Raspberry Pi next to a printer) should not wake 500
//!   times a second, nor a busy one whose plugins return in a microsecond
//!   (basic-auth with a cached credential): each wake-up is a timer
//!   interrupt and two context switches on a core that serves requests.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, Linker, PoolingAllocationConfig};

use super::instance::HostState;
use super::{abi, PluginError};

/// Epoch period: the resolution of deadlines, and how long a guest runs
/// before it lets other tasks on its tokio worker run.
pub(crate) const TICK: Duration = Duration::from_millis(2);

/// How often the epoch thread looks for a running guest while it found
/// none at its last look. A call that starts meanwhile is metered from the
/// next look on, so this bounds how late a deadline or the first yield to
/// tokio can come (50 ms deadline: stopped within 60 ms).
pub(crate) const IDLE_TICK: Duration = Duration::from_millis(10);

/// Time without any guest running after which the thread parks until
/// `Ticker::start` wakes it.
const IDLE_BEFORE_PARKING: Duration = Duration::from_secs(1);

/// Upper bound of any plugin's `memory` setting (a pooling slot's size).
pub(crate) const MAX_MEMORY: usize = 1 << 30;

/// Instances alive at once, all plugins together (pool slots).
pub(crate) const MAX_INSTANCES: u32 = 1000;

pub(crate) struct Runtime {
    pub engine: Engine,
    pub linker: Linker<HostState>,
    pub pooling: bool,
    pub ticker: Arc<Ticker>,
}

/// The epoch thread, and how many guest calls are running.
pub(crate) struct Ticker {
    thread: Thread,
    running: AtomicUsize,
    /// Set while the thread is (about to be) parked: only then does
    /// `start` need to wake it.
    parked: AtomicBool,
    stop: AtomicBool,
    /// Epoch increments so far (what the thread's wake-ups cost).
    ticks: AtomicU64,
}

/// Held for the length of one guest call: the ticker runs meanwhile.
pub(crate) struct Ticking<'t>(&'t Ticker);

impl Ticker {
    pub(crate) fn start(&self) -> Ticking<'_> {
        // Both sides are SeqCst: either the thread, about to park, sees
        // this call running and does not, or this sees it parked and wakes
        // it. Under load the thread never parks, and a call costs no
        // `unpark` (an atomic swap on the thread's parker).
        if self.running.fetch_add(1, Ordering::SeqCst) == 0 && self.parked.load(Ordering::SeqCst) {
            self.thread.unpark();
        }
        Ticking(self)
    }

    #[cfg(test)]
    pub(crate) fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }
}

impl Drop for Ticking<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
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
        self.ticker.stop.store(true, Ordering::SeqCst);
        self.ticker.thread.unpark();
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

fn spawn_ticker(engine: Engine) -> Result<Arc<Ticker>, PluginError> {
    let (tx, rx) = std::sync::mpsc::channel::<Arc<Ticker>>();
    let thread = std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            let Ok(ticker) = rx.recv() else { return };
            let mut idle = Duration::ZERO;
            while !ticker.stop.load(Ordering::SeqCst) {
                let nap = if ticker.running.load(Ordering::SeqCst) == 0 {
                    idle += IDLE_TICK;
                    IDLE_TICK
                } else {
                    idle = Duration::ZERO;
                    TICK
                };
                // Park only after a second without guest code: under steady
                // traffic the thread keeps looking and `Ticker::start` never
                // has to wake it (no syscall on the request path).
                if idle > IDLE_BEFORE_PARKING {
                    // `Ticker::start` unparks; a wake-up that comes before
                    // the park is kept, so none is lost.
                    ticker.parked.store(true, Ordering::SeqCst);
                    if ticker.running.load(Ordering::SeqCst) == 0 {
                        std::thread::park_timeout(Duration::from_secs(1));
                    }
                    ticker.parked.store(false, Ordering::SeqCst);
                    continue;
                }
                std::thread::sleep(nap);
                engine.increment_epoch();
                ticker.ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
        .map_err(|e| PluginError::Engine(format!("epoch thread: {e}")))?;
    let ticker = Arc::new(Ticker {
        thread: thread.thread().clone(),
        running: AtomicUsize::new(0),
        parked: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        ticks: AtomicU64::new(0),
    });
    // The thread holds the ticker, not the other way round: dropping the
    // runtime stops it.
    tx.send(ticker.clone())
        .map_err(|_| PluginError::Engine("epoch thread exited".into()))?;
    Ok(ticker)
}
