//! A loaded plugin ([`Plugin`]): its compiled module, its config and its
//! warm instances; checking an instance out for a request, starting new
//! ones, and what happens when a guest fails (log, count, error response).
//! The request path itself (`on_request`) is in hook.rs, next to the
//! `ResponseHook` it hands out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::Response;

use crate::body::ProxyBody;
use crate::error::Side;

use super::cache::{CacheKey, CompiledModule};
use super::engine::Runtime;
use super::exchange::FEATURE_SKIP_RESPONSE;
use super::failure::{Failure, FailureKind};
use super::instance::Guest;
use super::pool::Pool;
use super::spec::{PluginSource, PluginSpec};
use super::state::Shared;

/// A loaded plugin: a compiled module, its config and its warm instances.
pub struct Plugin {
    /// Keeps the engine and its epoch ticker alive while instances exist.
    runtime: Arc<Runtime>,
    spec: PluginSpec,
    key: CacheKey,
    module: Arc<CompiledModule>,
    pub(super) shared: Arc<Shared>,
    pub(super) pool: Pool,
    /// Cap on live instances, for guests that skip responses.
    limit: Option<Arc<tokio::sync::Semaphore>>,
    pub(super) stats: Stats,
}

pub(super) struct Stats {
    started: AtomicU64,
    failed: AtomicU64,
    /// Failures by `FailureKind`.
    by_kind: [AtomicU64; FailureKind::ALL.len()],
    last_failure: std::sync::Mutex<Option<String>>,
    /// How long guest calls took (lock-free observations; see `metrics`).
    pub(super) request_calls: prometheus::Histogram,
    pub(super) response_calls: prometheus::Histogram,
}

/// Guest calls last microseconds to milliseconds; the deadline is 100 ms by
/// default.
const CALL_BUCKETS: [f64; 9] = [
    0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1,
];

impl Default for Stats {
    fn default() -> Self {
        let histogram = || {
            let opts =
                prometheus::HistogramOpts::new("call", "guest call").buckets(CALL_BUCKETS.to_vec());
            prometheus::Histogram::with_opts(opts).expect("constant buckets are valid")
        };
        Stats {
            started: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            by_kind: Default::default(),
            last_failure: std::sync::Mutex::new(None),
            request_calls: histogram(),
            response_calls: histogram(),
        }
    }
}

impl Stats {
    pub(super) fn failed(&self, failure: &Failure) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.by_kind[failure.kind() as usize].fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_failure.lock() {
            *last = Some(failure.to_string());
        }
    }
}

impl Plugin {
    /// The plugin around `first`, the instance `PluginHost::load` started
    /// to check the module and its config.
    pub(super) fn new(
        runtime: Arc<Runtime>,
        spec: PluginSpec,
        key: CacheKey,
        module: Arc<CompiledModule>,
        shared: Arc<Shared>,
        mut first: Box<Guest>,
    ) -> Arc<Plugin> {
        // A guest that never sees responses holds an instance only while
        // its handle_request runs, which is CPU work: more instances than
        // CPUs add nothing but cold starts. Without this limit a burst of
        // requests would start one instance each, and each would pay its
        // warm-up (basic-auth: one bcrypt per credential) at the same time.
        let limit = (first.global_features() & FEATURE_SKIP_RESPONSE != 0).then(|| {
            let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
            Arc::new(tokio::sync::Semaphore::new(cpus.max(2)))
        });
        first.place = limit
            .as_ref()
            .and_then(|l| l.clone().try_acquire_owned().ok());
        let pool = Pool::new(spec.pool_size);
        let plugin = Plugin {
            runtime,
            spec,
            key,
            module,
            shared,
            pool,
            limit,
            stats: Stats::default(),
        };
        plugin.stats.started.fetch_add(1, Ordering::Relaxed);
        plugin.pool.give(first);
        Arc::new(plugin)
    }

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

    /// Failures by kind, every kind listed.
    pub fn failures_by_kind(&self) -> [(FailureKind, u64); FailureKind::ALL.len()] {
        FailureKind::ALL.map(|k| (k, self.stats.by_kind[k as usize].load(Ordering::Relaxed)))
    }

    /// Durations of `handle_request` and `handle_response` calls.
    pub fn call_durations(&self) -> (&prometheus::Histogram, &prometheus::Histogram) {
        (&self.stats.request_calls, &self.stats.response_calls)
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
    /// The slow path (instantiation, waiting) is boxed (see `http1` on boxing).
    pub(super) async fn checkout(&self) -> Result<Box<Guest>, Failure> {
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
        let mut guest = Guest::start(&self.runtime.engine, &self.module, &self.shared).await?;
        guest.place = place;
        self.stats.started.fetch_add(1, Ordering::Relaxed);
        Ok(guest)
    }

    /// Log a failure and turn it into the client's response. The instance
    /// that failed has already been dropped by the caller.
    pub(super) fn fail(&self, failure: Failure, during: &str) -> Response<ProxyBody> {
        self.stats.failed(&failure);
        let error = failure.to_error();
        if error.side() == Side::Downstream {
            tracing::warn!(plugin = %self.shared.name, cause = %failure, "plugin {during}: request refused");
        } else {
            tracing::error!(plugin = %self.shared.name, cause = %failure, "plugin failed in {during}; instance discarded");
        }
        error.response()
    }
}
