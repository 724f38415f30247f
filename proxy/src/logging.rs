//! Process logs through `tracing`: to stderr, or to `[traefikLog] filePath`,
//! as text (`common`) or JSON, at `logLevel`. `RUST_LOG`, when set, wins.

use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

use crate::config::model::{LogConfig, LogFormat};

/// Install the global subscriber. Call once, before anything logs.
pub fn init(cfg: &LogConfig) -> Result<(), String> {
    let level = cfg.level.as_deref().map(level_directive).unwrap_or("info");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match (&cfg.file_path, cfg.format) {
        (None, LogFormat::Common) => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .try_init(),
        (None, LogFormat::Json) => builder.json().with_writer(std::io::stderr).try_init(),
        (Some(path), format) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("traefikLog.filePath {}: {e}", path.display()))?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("traefikLog.filePath {}: {e}", path.display()))?;
            let writer = Mutex::new(file);
            match format {
                LogFormat::Common => builder.with_ansi(false).with_writer(writer).try_init(),
                LogFormat::Json => builder.json().with_writer(writer).try_init(),
            }
        }
    };
    result.map_err(|e| format!("cannot set up logging: {e}"))
}

/// Traefik's level names to tracing's.
fn level_directive(level: &str) -> &'static str {
    match level.to_ascii_lowercase().as_str() {
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" => "error",
        "fatal" | "panic" => "error",
        "trace" => "trace",
        _ => "info",
    }
}
