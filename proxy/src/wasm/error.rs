//! Why a plugin (or the wasm engine) could not be loaded: the error of
//! config-load time. A request that a plugin fails is a `Failure`
//! (failure.rs) instead.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("wasm engine: {0}")]
    Engine(String),
    #[error("plugin file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no built-in plugin is called {0:?} (there are: basic-auth, headers, jwt-auth)")]
    UnknownBuiltin(String),
    #[error(
        "built-in plugin {0:?} is not in this build of tollgate (it was built without the \
         wasm32-wasip1 target: `rustup target add wasm32-wasip1`, then rebuild)"
    )]
    BuiltinMissing(String),
    #[error("plugin {name}: {message}")]
    Invalid { name: String, message: String },
    #[error("plugin {name}: {message}")]
    Compile { name: String, message: String },
    #[error("plugin {name} failed to start: {message}")]
    Start { name: String, message: String },
}
