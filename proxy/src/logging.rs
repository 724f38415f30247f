//! Process logs through `tracing`: to stderr, or to `[traefikLog] filePath`,
//! as text (`common`) or JSON, at `logLevel`. `RUST_LOG`, when set, wins.
//! A log file is reopened by [`reopen`] (SIGUSR1, after logrotate moved it).

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

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
            let file = Arc::new(LogFile {
                file: Mutex::new(open(path)?),
                path: path.clone(),
            });
            let _ = LOG_FILE.set(file.clone());
            let writer = move || LogWriter(file.clone());
            match format {
                LogFormat::Common => builder.with_ansi(false).with_writer(writer).try_init(),
                LogFormat::Json => builder.json().with_writer(writer).try_init(),
            }
        }
    };
    result.map_err(|e| format!("cannot set up logging: {e}"))
}

/// The process log's file, when it has one (for [`reopen`]).
static LOG_FILE: OnceLock<Arc<LogFile>> = OnceLock::new();

struct LogFile {
    path: PathBuf,
    file: Mutex<File>,
}

/// One log event's writes, to the file in force.
struct LogWriter(Arc<LogFile>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .file
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0
            .file
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .flush()
    }
}

/// Open a log file for appending, creating it and its folder (as Traefik
/// does for both of its logs).
pub fn open_log_file(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

fn open(path: &Path) -> Result<File, String> {
    open_log_file(path).map_err(|e| format!("traefikLog.filePath {}: {e}", path.display()))
}

/// Reopen the process log's file (after logrotate moved it); nothing to do
/// when logging to stderr.
pub fn reopen() {
    let Some(log) = LOG_FILE.get() else { return };
    match open(&log.path) {
        Ok(fresh) => *log.file.lock().unwrap_or_else(|p| p.into_inner()) = fresh,
        Err(e) => tracing::warn!(error = %e, "process log not reopened"),
    }
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
