//! Compiled plugin code kept on disk, so that a restart loads machine code
//! instead of compiling every module again with Cranelift (about 170 ms for
//! the basic-auth plugin, most of tollgate's start-up, and the compiler's
//! pages stay resident afterwards).
//!
//! - Where: `TOLLGATE_PLUGIN_CACHE` (a directory, or `off`), else systemd's
//!   `CACHE_DIRECTORY` (`CacheDirectory=tollgate`), else
//!   `$XDG_CACHE_HOME/tollgate`, else `$HOME/.cache/tollgate`; modules go
//!   into its `plugins/` folder.
//! - Key: the SHA-256 of the `.wasm` bytes and wasmtime's compatibility hash
//!   of this engine (its version, settings and the CPU features it compiles
//!   for), so a new tollgate, a changed engine setting or another CPU never
//!   picks up code made for something else; wasmtime checks the same again
//!   when it loads the file.
//! - Trust: loading compiled code runs it natively, outside the sandbox the
//!   `.wasm` had, so a file is used only if it and its folder belong to this
//!   user and nobody else can write them, and only if its SHA-256 trailer
//!   matches (a file cut short or damaged is compiled again, not loaded).
//!   Files are written to a temporary name and renamed, so a reader never
//!   sees half of one.
//! - Every failure (read-only disk, full disk, foreign owner) falls back to
//!   compiling, with a log line; a cache can only make start-up faster.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ring::digest::{digest, SHA256, SHA256_OUTPUT_LEN};
use wasmtime::{Engine, Module};

pub(crate) struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    /// The cache the environment names (see the module comment), or None.
    pub(crate) fn from_env() -> Option<DiskCache> {
        Self::base_from_env().map(DiskCache::at)
    }

    fn base_from_env() -> Option<PathBuf> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let base = match var("TOLLGATE_PLUGIN_CACHE") {
            Some(v) if v == "off" => return None,
            Some(v) => PathBuf::from(v),
            None => match var("CACHE_DIRECTORY") {
                // systemd lists several directories separated by ':'.
                Some(v) => PathBuf::from(v.to_string_lossy().split(':').next()?),
                None => match var("XDG_CACHE_HOME") {
                    Some(v) => PathBuf::from(v).join("tollgate"),
                    None => PathBuf::from(var("HOME")?).join(".cache/tollgate"),
                },
            },
        };
        Some(base)
    }

    /// The cache in `base`'s `plugins/` folder.
    pub(crate) fn at(base: PathBuf) -> DiskCache {
        DiskCache {
            dir: base.join("plugins"),
        }
    }

    /// The compiled module in `path` (`path_for`), if a trusted, intact
    /// file is there.
    pub(crate) fn load(&self, engine: &Engine, path: &Path) -> Option<Module> {
        if !path.exists() {
            return None;
        }
        match self.read_trusted(path) {
            Ok(code) => {
                // SAFETY: the bytes were written by `store` (Module::serialize
                // of this same engine kind): the folder and the file belong
                // to this user alone and the checksum matches, so nobody
                // else could have put code there; wasmtime checks the
                // version and settings again.
                match unsafe { Module::deserialize(engine, &code) } {
                    Ok(module) => Some(module),
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "compiled plugin code not loadable; compiling again");
                        None
                    }
                }
            }
            Err(why) => {
                tracing::warn!(file = %path.display(), "compiled plugin code not used ({why}); compiling again");
                None
            }
        }
    }

    /// The code of `wasm` from its file if one is there (`load`), else
    /// compiled now and written for the next start. The one place for this
    /// rule: plugin loading and `tollgate plugin precompile` both use it.
    pub(crate) fn load_or_compile(&self, engine: &Engine, wasm: &[u8]) -> Result<Loaded, String> {
        let file = self.path_for(engine, wasm);
        if let Some(module) = self.load(engine, &file) {
            return Ok(Loaded {
                module,
                file,
                compiled: None,
            });
        }
        let module = compile(engine, wasm)?;
        let stored = self.write(&file, &module);
        Ok(Loaded {
            module,
            file,
            compiled: Some(stored),
        })
    }

    /// Where the code of `wasm` compiled by `engine` is kept.
    pub(crate) fn path_for(&self, engine: &Engine, wasm: &[u8]) -> PathBuf {
        // Fixed keys: the same engine gives the same name in every process.
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        self.dir.join(format!(
            "{}-{:016x}.cwasm",
            hex(digest(&SHA256, wasm).as_ref()),
            h.finish()
        ))
    }

    fn read_trusted(&self, path: &Path) -> Result<Vec<u8>, String> {
        owned_by_us_alone(&self.dir, true)?;
        owned_by_us_alone(path, false)?;
        let mut bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        let Some(split) = bytes.len().checked_sub(SHA256_OUTPUT_LEN) else {
            return Err("too short".into());
        };
        if digest(&SHA256, &bytes[..split]).as_ref() != &bytes[split..] {
            return Err("checksum mismatch".into());
        }
        bytes.truncate(split);
        Ok(bytes)
    }

    pub(crate) fn write(&self, path: &Path, module: &Module) -> Result<(), String> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| e.to_string())?;
        owned_by_us_alone(&self.dir, true)?;
        let mut code = module.serialize().map_err(|e| e.to_string())?;
        let sum = digest(&SHA256, &code);
        code.extend_from_slice(sum.as_ref());
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let result = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(&code)?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(|e| e.to_string())
    }
}

/// A module's code, and where it came from (`DiskCache::load_or_compile`).
pub(crate) struct Loaded {
    pub(crate) module: Module,
    /// The cache file.
    pub(crate) file: PathBuf,
    /// `None` when the file's code was used; else compiled now, with
    /// whether writing the file worked.
    pub(crate) compiled: Option<Result<(), String>>,
}

/// Compile `wasm` with Cranelift (a hundred milliseconds or more).
pub(crate) fn compile(engine: &Engine, wasm: &[u8]) -> Result<Module, String> {
    Module::new(engine, wasm).map_err(|e| format!("not a valid module: {e:#}"))
}

/// Owned by this process's user, and writable by nobody else. A folder may
/// be reached through a symlink (`~/.cache` often is); a file may not.
fn owned_by_us_alone(path: &Path, follow: bool) -> Result<(), String> {
    let meta = if follow {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    }
    .map_err(|e| e.to_string())?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != euid {
        return Err(format!(
            "{} belongs to uid {}, not {euid}",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by group or others (mode {:o})",
            path.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
