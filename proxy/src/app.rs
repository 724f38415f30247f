//! The life of the process: load, compile, listen, wait for a signal, drain.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::HeaderValue;

use crate::config::{self, Config};
use crate::reload::{etcd, watch, Reloader};
use crate::shutdown::Drain;
use crate::snapshot::{compile, Endpoints, Shared};

/// `tollgate check`: load and validate; on success, a summary of what would be served.
pub fn check(path: &Path) -> Result<String, String> {
    let config = config::load_file(path).map_err(|e| e.to_string())?;
    compile::validate(&config).map_err(|e| e.to_string())?;
    Ok(describe(&config))
}

/// `tollgate run`: serve `config` (read from `config_path`) until SIGTERM or
/// SIGINT, reloading on SIGHUP and, with `[file] watch`, on file changes;
/// then stop accepting and let in-flight requests finish.
pub async fn run(config_path: PathBuf, config: Config) -> Result<(), String> {
    let grace = config.grace_timeout;
    // Taken for every config: a reload may turn watching on (`watch`).
    let baseline = watch::baseline(&config, &config_path);
    let shared = Shared::new(server_name());
    let drain = Drain::new();
    // Installed before anything listens: SIGHUP's default action is to kill.
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    // Installed before anything listens too: SIGUSR1's default kills.
    let usr1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1());
    let reopen = tokio::spawn(reopen_on_sigusr1(shared.clone(), usr1));
    let ticker = tokio::spawn(tick_stats(shared.clone()));
    let (config, kv) = with_etcd_keys(&config_path, config).await;
    let reloader = Reloader::start(config_path, config, kv, shared, drain.clone()).await?;

    let watcher = watch::spawn(reloader.clone(), baseline);
    let etcd = etcd::spawn(reloader.clone());
    let hangup = tokio::spawn(reload_on_sighup(reloader.clone(), hup));

    let signal = wait_for_stop_signal().await;
    tracing::info!(
        signal,
        ?grace,
        "stopping: no new connections, draining in-flight requests"
    );
    hangup.abort();
    reopen.abort();
    ticker.abort();
    watcher.abort();
    etcd.abort();
    reloader.stop_listeners().await;
    if tokio::time::timeout(grace, drain.shutdown()).await.is_err() {
        tracing::warn!(?grace, "grace period over: closing remaining connections");
    }
    tracing::info!("stopped");
    Ok(())
}

/// With `[etcd]`, the config with etcd's keys merged in, so that the first
/// requests already see them. If etcd does not answer, or its keys do not
/// load, the file's config starts alone (said in the log) and `etcd`
/// applies the keys once they do.
async fn with_etcd_keys(path: &Path, config: Config) -> (Config, Option<config::KvKeys>) {
    let Some(settings) = config.etcd.clone() else {
        return (config, None);
    };
    let Some(keys) = etcd::initial_keys(&settings).await else {
        return (config, None);
    };
    let merged = std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|text| config::load_with_kv(path, &text, Some(&keys)).map_err(|e| e.to_string()));
    match merged {
        Ok(merged) => {
            for w in &merged.warnings {
                tracing::warn!("{w}");
            }
            (merged, Some(keys))
        }
        Err(e) => {
            tracing::error!(
                "etcd's keys refused at start, serving the file's configuration until they are fixed: {}",
                e.replace('\n', "; ")
            );
            // Kept, so that the next change to them is compared with these.
            (config, Some(keys))
        }
    }
}

async fn reload_on_sighup(
    reloader: Arc<Reloader>,
    hup: std::io::Result<tokio::signal::unix::Signal>,
) {
    let Ok(mut hup) = hup else {
        tracing::warn!("cannot listen for SIGHUP; reload by file change only");
        return;
    };
    while hup.recv().await.is_some() {
        let _ = reloader.reload("SIGHUP").await;
    }
}

/// SIGUSR1 reopens the log files (after logrotate renamed them), as in
/// Traefik.
async fn reopen_on_sigusr1(
    shared: Arc<Shared>,
    usr1: std::io::Result<tokio::signal::unix::Signal>,
) {
    let Ok(mut usr1) = usr1 else {
        tracing::warn!("cannot listen for SIGUSR1; the access log is not reopened");
        return;
    };
    while usr1.recv().await.is_some() {
        crate::logging::reopen();
        tracing::info!("SIGUSR1: log files reopened");
        if let Some(log) = &shared.snapshot().access_log {
            log.reopen();
        }
    }
}

/// `/health` tells the last second's requests from a tick each second.
async fn tick_stats(shared: Arc<Shared>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        shared.stats.tick();
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
    for (file, dialect) in &config.dialects {
        let _ = writeln!(out, "  {}: {}", file.display(), dialect.describe());
    }
    if let Some(etcd) = &config.etcd {
        // `check` reads files only: what etcd holds is read by `run`.
        let _ = writeln!(
            out,
            "  etcd {} under {}/: frontends, backends and plugins read at run time, not checked here",
            etcd.endpoints.join(","),
            etcd.prefix
        );
    }
    let _ = writeln!(out, "entrypoints:");
    for (name, ep) in &config.entry_points {
        let own: Vec<&str> = Endpoints::of(config, name)
            .served()
            .iter()
            .map(|(_, paths)| *paths)
            .collect();
        let own = if own.is_empty() {
            String::new()
        } else {
            format!(" (+ {})", own.join(", "))
        };
        let _ = writeln!(out, "  {name}: {}{own}", ep.address);
    }
    let _ = writeln!(out, "frontends:");
    for (name, f) in &config.frontends {
        let rules: Vec<&str> = f.routes.iter().map(|r| r.rule.as_str()).collect();
        let eps = if f.entry_points.is_empty() && config.default_entry_points.is_empty() {
            "all".to_string()
        } else {
            config.entry_points_of(f).join(",")
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
        if !f.path_modifiers.is_empty() {
            let _ = writeln!(out, "    path: {:?}", f.path_modifiers);
        }
        // The plugins it runs, in order (as `snapshot::plugins` builds them).
        let mut chain: Vec<&str> = Vec::new();
        if f.headers_to_apply().is_some() {
            chain.push("headers (built-in)");
        }
        if f.basic_auth.is_some() {
            chain.push("basicAuth (built-in)");
        }
        chain.extend(f.middlewares.iter().map(|(m, _)| m.as_str()));
        if !chain.is_empty() {
            let _ = writeln!(out, "    middlewares: {}", chain.join(", "));
        }
    }
    if !config.plugins.is_empty() {
        let _ = writeln!(out, "plugins:");
        for (name, p) in &config.plugins {
            let limits = match (p.timeout, p.memory) {
                (None, None) => String::new(),
                (t, m) => format!(
                    " (timeout {}, memory {})",
                    t.map_or("default".into(), |t| format!("{t:?}")),
                    m.map_or("default".into(), |m| format!("{} KiB", m >> 10))
                ),
            };
            let _ = writeln!(out, "  {name}: {}{limits}", p.path.display());
        }
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
