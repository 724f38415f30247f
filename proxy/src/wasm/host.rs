//! The process's WebAssembly runtime ([`PluginHost`]): the engine, the
//! linker and the module cache, and loading a [`PluginSpec`] into a
//! [`Plugin`] (read, compile or reuse, start a first instance).

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::builtin;
use super::cache::{content_hash, CacheKey, ModuleCache, Origin};
use super::disk_cache::DiskCache;
use super::engine::Runtime;
use super::error::PluginError;
use super::instance::Guest;
use super::plugin::Plugin;
use super::spec::{PluginSource, PluginSpec, MAX_MEMORY, MAX_TIMEOUT};
use super::state::Shared;

/// The process's WebAssembly runtime: one per process.
pub struct PluginHost {
    /// Shared with every loaded plugin, which starts instances on it.
    runtime: Arc<Runtime>,
    cache: ModuleCache,
}

impl PluginHost {
    /// A host keeping compiled code where the environment says
    /// (disk_cache.rs).
    pub fn new() -> Result<Arc<PluginHost>, PluginError> {
        Self::build(DiskCache::from_env())
    }

    /// A host keeping compiled code in `dir` (its `plugins/` folder), or
    /// nowhere (None).
    pub fn with_code_cache(
        dir: Option<std::path::PathBuf>,
    ) -> Result<Arc<PluginHost>, PluginError> {
        Self::build(dir.map(DiskCache::at))
    }

    fn build(disk: Option<DiskCache>) -> Result<Arc<PluginHost>, PluginError> {
        Ok(Arc::new(PluginHost {
            runtime: Arc::new(Runtime::new()?),
            cache: ModuleCache::new(disk),
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
        let started = std::time::Instant::now();
        let (module, origin) = self
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
        // What a plugin author checks after a rebuild: which file, and
        // whether it was compiled anew or reused.
        let source = match &spec.source {
            PluginSource::Path(path) => path.display().to_string(),
            PluginSource::Builtin(name) => format!("builtin:{name}"),
        };
        let ms = started.elapsed().as_millis() as u64;
        match origin {
            Origin::Compiled => {
                tracing::info!(plugin = %spec.name, %source, bytes = bytes.len(), compile_ms = ms, "plugin compiled")
            }
            Origin::Disk => {
                tracing::info!(plugin = %spec.name, %source, bytes = bytes.len(), load_ms = ms, "plugin loaded, compiled code from the cache")
            }
            Origin::Reused => {
                tracing::debug!(plugin = %spec.name, %source, "plugin reused (unchanged)")
            }
        }
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

        Ok(Plugin::new(
            self.runtime.clone(),
            spec.clone(),
            key,
            module,
            shared,
            first,
        ))
    }

    /// Modules compiled so far (not reused, not read from the disk cache).
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
