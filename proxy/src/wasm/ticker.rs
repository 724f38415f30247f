//! The epoch ticker: a thread that bumps the engine's epoch every `TICK`
//! while guest code runs, which is what enforces call deadlines.
//!
//! Every guest call yields to tokio at each tick and is stopped once its
//! own deadline has passed (see `instance.rs`). The thread ticks every
//! `TICK` only while it finds guest code running; between calls it checks
//! every `IDLE_TICK`, and after a second without any it parks: an idle
//! proxy (a Raspberry Pi next to a printer) should not wake 500 times a
//! second, nor a busy one whose plugins return in a microsecond (basic-auth
//! with a cached credential): each wake-up is a timer interrupt and two
//! context switches on a core that serves requests.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::Duration;

use wasmtime::Engine;

use super::error::PluginError;

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

    /// Stop the thread (the runtime is being dropped).
    pub(crate) fn shut_down(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.unpark();
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

pub(crate) fn spawn_ticker(engine: Engine) -> Result<Arc<Ticker>, PluginError> {
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
