//! Compiled modules, shared by every plugin built from the same `.wasm`
//! bytes and kept across config reloads while any plugin still uses them.
//!
//! The cache holds `Weak` references: a module lives exactly as long as a
//! loaded plugin (or an in-flight request of a dropped one) needs it, so a
//! reload that changes or drops a plugin frees the old code, and a reload
//! that does not change the file reuses it without compiling.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;

use wasmtime::{Engine, ExternType, InstancePre, Linker, Module, ValType};

use super::disk_cache::{compile, DiskCache};
use super::state::HostState;

/// What identifies the bytes of a module.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum CacheKey {
    File {
        path: PathBuf,
        modified: Option<SystemTime>,
        len: u64,
        hash: u64,
    },
    Builtin {
        name: &'static str,
        hash: u64,
    },
}

/// A content hash for the key (SipHash with fixed keys: stable within the
/// process, which is all a cache key needs).
pub(crate) fn content_hash(bytes: &[u8]) -> u64 {
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

pub(crate) struct CompiledModule {
    pub pre: InstancePre<HostState>,
    /// Why linking needed stand-ins: imports no host function satisfies,
    /// which trap if called.
    pub unknown_imports: Vec<String>,
}

/// Where a module came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A loaded plugin already had it (unchanged bytes).
    Reused,
    /// Compiled code from the disk cache (disk_cache.rs).
    Disk,
    /// Compiled now, with Cranelift.
    Compiled,
}

#[derive(Default)]
pub(crate) struct ModuleCache {
    entries: Mutex<HashMap<CacheKey, Weak<CompiledModule>>>,
    compiled: std::sync::atomic::AtomicU64,
    disk: Option<DiskCache>,
}

impl ModuleCache {
    pub(crate) fn new(disk: Option<DiskCache>) -> ModuleCache {
        ModuleCache {
            disk,
            ..ModuleCache::default()
        }
    }

    /// How many modules were compiled so far (tests check reuse with it).
    pub(crate) fn compile_count(&self) -> u64 {
        self.compiled.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn get_or_compile(
        &self,
        key: CacheKey,
        bytes: &[u8],
        engine: &Engine,
        linker: &Linker<HostState>,
    ) -> Result<(Arc<CompiledModule>, Origin), String> {
        if let Some(found) = self.lock().get(&key).and_then(Weak::upgrade) {
            return Ok((found, Origin::Reused));
        }
        // Compile outside the lock: it takes a while, and other plugins
        // may load meanwhile. Two loads of one new file may both compile;
        // the second insert wins, both work.
        let (module, compiled) = match &self.disk {
            Some(disk) => {
                let loaded = disk.load_or_compile(engine, bytes)?;
                if let Some(Err(e)) = &loaded.compiled {
                    tracing::warn!(file = %loaded.file.display(), error = %e, "cannot keep compiled plugin code; the next start compiles again");
                }
                (loaded.module, loaded.compiled.is_some())
            }
            None => (compile(engine, bytes)?, true),
        };
        let origin = if compiled {
            self.compiled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Origin::Compiled
        } else {
            Origin::Disk
        };
        let compiled = Arc::new(link(module, linker)?);
        let mut entries = self.lock();
        entries.retain(|_, weak| weak.strong_count() > 0);
        entries.insert(key, Arc::downgrade(&compiled));
        Ok((compiled, origin))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Weak<CompiledModule>>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn link(module: Module, linker: &Linker<HostState>) -> Result<CompiledModule, String> {
    check_exports(&module)?;

    let (pre, unknown_imports) = match linker.instantiate_pre(&module) {
        Ok(pre) => (pre, Vec::new()),
        Err(missing) => {
            // Guests built for newer hosts may import more than they call:
            // load them, and trap only if such an import is actually used.
            let mut linker = linker.clone();
            linker
                .define_unknown_imports_as_traps(&module)
                .map_err(|e| format!("cannot link: {e:#}"))?;
            let pre = linker
                .instantiate_pre(&module)
                .map_err(|e| format!("cannot link: {e:#}"))?;
            (pre, vec![format!("{missing:#}")])
        }
    };
    Ok(CompiledModule {
        pre,
        unknown_imports,
    })
}

/// The ABI's exports: `memory`, `handle_request() -> i64`,
/// `handle_response(i32, i32)`.
fn check_exports(module: &Module) -> Result<(), String> {
    let func = |name: &str, params: &[ValType], results: &[ValType]| -> Result<(), String> {
        match module.get_export(name) {
            Some(ExternType::Func(f)) => {
                let same = |a: Vec<ValType>, b: &[ValType]| {
                    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| ValType::eq(x, y))
                };
                if same(f.params().collect(), params) && same(f.results().collect(), results) {
                    Ok(())
                } else {
                    Err(format!("export {name} has the wrong signature ({f})"))
                }
            }
            _ => Err(format!("the module does not export the function {name}")),
        }
    };
    func("handle_request", &[], &[ValType::I64])?;
    func("handle_response", &[ValType::I32, ValType::I32], &[])?;
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => Ok(()),
        _ => Err("the module does not export memory".to_string()),
    }
}
