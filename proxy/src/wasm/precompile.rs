//! `tollgate plugin precompile`: fill the compiled-code cache
//! (`disk_cache`) before a first start, so that it serves within
//! milliseconds instead of compiling every plugin with Cranelift first
//! (about 150 ms for the built-in basic-auth). The container image is built
//! with the built-in plugins precompiled (examples/container/build.sh).
//!
//! The code is compiled by the engine `run` uses (`engine::engine`), so the
//! files carry the same key: on another CPU, or under another tollgate,
//! the key differs and the first start compiles, as without this.

use std::path::PathBuf;

use super::builtin;
use super::disk_cache::DiskCache;
use super::engine;
use super::error::PluginError;

/// One module's compiled code in the cache.
pub struct Precompiled {
    /// `builtin:NAME` or the file's path.
    pub source: String,
    /// The cache file.
    pub file: PathBuf,
    /// False when valid code was there already.
    pub compiled: bool,
}

/// Compile every built-in plugin, and each module in `files`, into the
/// cache the environment names (`disk_cache`), skipping what is there.
pub fn precompile(files: &[PathBuf]) -> Result<Vec<Precompiled>, PluginError> {
    let disk = DiskCache::from_env().ok_or_else(|| {
        PluginError::Engine(
            "no compiled-plugin cache: TOLLGATE_PLUGIN_CACHE is off, or names nothing".into(),
        )
    })?;
    let (engine, _) = engine::engine()?;
    let mut modules: Vec<(String, std::borrow::Cow<'static, [u8]>)> = Vec::new();
    for name in builtin::names() {
        let (_, bytes) = builtin::module(name)?;
        modules.push((format!("builtin:{name}"), bytes.into()));
    }
    for path in files {
        let bytes = std::fs::read(path).map_err(|source| PluginError::Io {
            path: path.clone(),
            source,
        })?;
        modules.push((path.display().to_string(), bytes.into()));
    }
    modules
        .into_iter()
        .map(|(source, bytes)| {
            let loaded =
                disk.load_or_compile(&engine, &bytes)
                    .map_err(|message| PluginError::Compile {
                        name: source.clone(),
                        message,
                    })?;
            if let Some(Err(message)) = loaded.compiled {
                return Err(PluginError::Io {
                    path: loaded.file,
                    source: std::io::Error::other(message),
                });
            }
            Ok(Precompiled {
                source,
                file: loaded.file,
                compiled: loaded.compiled.is_some(),
            })
        })
        .collect()
}
