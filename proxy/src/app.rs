//! The life of the process: load, compile, listen, wait for a signal, drain.

use std::path::Path;
use std::sync::Arc;

use http::HeaderValue;
use hyper_util::server::graceful::GracefulShutdown;

use crate::config::{self, Config};
use crate::entrypoint::{self, Listener};
use crate::runtime::{compile, Shared};

/// `tollgate check`: load and validate; on success, a summary of what would be served.
pub fn check(path: &Path) -> Result<String, String> {
    let config = config::load_file(path).map_err(|e| e.to_string())?;
    compile::validate(&config).map_err(|e| e.to_string())?;
    Ok(describe(&config))
}

/// `tollgate run`: serve until SIGTERM/SIGINT, then drain and return.
pub async fn run(config: Config) -> Result<(), String> {
    let shared = Shared::new(server_name());
    let snapshot = compile::compile(&config, &shared).map_err(|e| e.to_string())?;
    shared.publish(snapshot);

    let http = Arc::new(entrypoint::http_server(&config.responding_timeouts));
    let graceful = Arc::new(GracefulShutdown::new());
    let mut listeners = Vec::new();
    for (name, ep) in &config.entry_points {
        let socket = entrypoint::bind(&ep.address)
            .await
            .map_err(|e| format!("entrypoint {name:?}: cannot listen on {:?}: {e}", ep.address))?;
        let listener = Listener::start(
            name.clone(),
            socket,
            shared.slot(name),
            shared.clone(),
            graceful.clone(),
            http.clone(),
        )
        .map_err(|e| format!("entrypoint {name:?}: {e}"))?;
        announce(&config, name, listener.local_addr);
        listeners.push(listener);
    }

    let signal = wait_for_stop_signal().await;
    tracing::info!(signal, grace = ?config.grace_timeout, "stopping: no new connections, draining in-flight requests");
    for l in listeners {
        l.stop().await;
    }
    drop(http);
    let graceful = Arc::try_unwrap(graceful)
        .map_err(|_| "internal: graceful-shutdown handle still shared".to_string())?;
    if tokio::time::timeout(config.grace_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?config.grace_timeout, "grace period over: closing remaining connections");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Tell the operator (and test harnesses) where an entrypoint listens. The
/// line goes to stderr even when logs go to a file.
fn announce(config: &Config, name: &str, addr: std::net::SocketAddr) {
    tracing::info!("listening entrypoint={name} address={addr}");
    if config.log.file_path.is_some() {
        eprintln!("tollgate: listening entrypoint={name} address={addr}");
    }
}

async fn wait_for_stop_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stopping on Ctrl-C only");
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// `X-Forwarded-Server`: the host name, read once.
fn server_name() -> HeaderValue {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .and_then(|h| HeaderValue::from_str(h.trim()).ok())
        .unwrap_or_else(|| HeaderValue::from_static("tollgate"))
}

/// Human summary of a config, for `tollgate check`.
fn describe(config: &Config) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "config {} is valid", config.source.display());
    let _ = writeln!(out, "entrypoints:");
    for (name, ep) in &config.entry_points {
        let ping = if config.ping.as_deref() == Some(name.as_str()) {
            " (+ /ping)"
        } else {
            ""
        };
        let _ = writeln!(out, "  {name}: {}{ping}", ep.address);
    }
    let _ = writeln!(out, "frontends:");
    for (name, f) in &config.frontends {
        let rules: Vec<&str> = f.routes.iter().map(|r| r.rule.as_str()).collect();
        let eps = if f.entry_points.is_empty() {
            if config.default_entry_points.is_empty() {
                "all".to_string()
            } else {
                config.default_entry_points.join(",")
            }
        } else {
            f.entry_points.join(",")
        };
        let priority = if f.priority > 0 {
            f.priority
        } else {
            rules.iter().map(|r| r.len() as i64).sum()
        };
        let _ = writeln!(
            out,
            "  {name}: [{}] -> backend {} (entrypoints {eps}, priority {priority}, passHostHeader {})",
            rules.join(" AND "),
            f.backend,
            f.pass_host_header
        );
    }
    let _ = writeln!(out, "backends:");
    for (name, b) in &config.backends {
        let servers: Vec<String> = b
            .servers
            .iter()
            .map(|s| format!("{} (weight {})", s.url, s.weight))
            .collect();
        let _ = writeln!(out, "  {name}: {}", servers.join(", "));
    }
    out
}
