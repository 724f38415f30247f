//! What the config says about one plugin ([`PluginSpec`]): where its module
//! comes from, its guest config, and its limits, with their defaults and
//! upper bounds.

use std::path::PathBuf;
use std::time::Duration;

use super::builtin;
use super::wasi::Preopen;

/// Default deadline of one guest call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);
/// Default deadline for the built-in basic-auth plugin: a bcrypt check
/// inside wasm takes ~100 ms at cost 10 and doubles per cost step; verified
/// credentials are cached, so only the first request of a user pays it.
pub const BASIC_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Default number of idle instances kept per plugin (each costs its
/// memory, ~1-2 MiB for a Rust guest, and only exists once load needed it).
pub const DEFAULT_POOL_SIZE: usize = 64;
/// Default memory limit of one instance.
pub const DEFAULT_MEMORY: usize = 16 << 20;
/// Default cap on a body a plugin asks to buffer.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;
/// Upper bound of `PluginSpec::timeout`: a plugin is middleware, not a job.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Upper bound of `PluginSpec::memory`, and so the size of each slot of the
/// engine's pooling allocator (engine.rs).
pub const MAX_MEMORY: usize = 1 << 30;

/// Where a plugin's module comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// A `.wasm` file.
    Path(PathBuf),
    /// A module shipped inside tollgate: see [`builtin`].
    Builtin(&'static str),
}

/// One configured plugin. Build it with [`PluginSpec::new`] (defaults) and
/// set what the config says. Comparable, so a reload can keep a loaded
/// `Plugin` (and its warm instances and caches) whose spec did not change
/// and whose file is unchanged
/// ([`Plugin::file_unchanged`](super::plugin::Plugin::file_unchanged)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpec {
    /// Used in logs and errors.
    pub name: String,
    pub source: PluginSource,
    /// Handed to the guest by `get_config` (the TOML table as JSON).
    pub config_json: Vec<u8>,
    /// Deadline of each call into the guest.
    pub timeout: Duration,
    /// Linear memory limit of each instance, bytes.
    pub memory: usize,
    /// Idle instances kept warm. More are started under load; those beyond
    /// this many are dropped when they come back. Generous by default:
    /// dropping an instance loses what it learnt (basic-auth's verified
    /// credentials), and a pool that drops and restarts instances under
    /// load would pay that again and again.
    pub pool_size: usize,
    /// Largest body the plugin may buffer (read or have buffered).
    pub max_body: usize,
    /// Host directories the guest may read (none by default).
    pub preopens: Vec<Preopen>,
}

impl PluginSpec {
    pub fn new(name: impl Into<String>, source: PluginSource) -> Self {
        let timeout = match source {
            PluginSource::Builtin(builtin::BASIC_AUTH) => BASIC_AUTH_TIMEOUT,
            _ => DEFAULT_TIMEOUT,
        };
        PluginSpec {
            name: name.into(),
            source,
            config_json: b"{}".to_vec(),
            timeout,
            memory: DEFAULT_MEMORY,
            pool_size: DEFAULT_POOL_SIZE,
            max_body: DEFAULT_MAX_BODY,
            preopens: Vec::new(),
        }
    }
}
