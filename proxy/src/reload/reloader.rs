//! Applying a configuration to the running process, first at start and then
//! on every change: load → compile → bind new listeners → publish → stop
//! removed listeners.
//!
//! A reload either applies whole or not at all: the file is parsed and
//! validated, the new snapshot compiled and every new listener bound before
//! anything is published. A config that fails any step is refused, logged
//! with its file, line and key, and recorded in `ReloadStatus`; the running
//! config stays. Requests in flight keep the snapshot they started with;
//! WebSockets and streams are never cut by a reload; a removed entrypoint
//! stops accepting while its open connections drain.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;

use crate::config::{self, Config, KvKeys};
use crate::listen::{self, Listener};
use crate::shutdown::Drain;
use crate::snapshot::{compile, ReloadStatus, Shared};
use crate::upstream::health::HealthCheckers;

pub struct Reloader {
    config_path: PathBuf,
    shared: Arc<Shared>,
    drain: Arc<Drain>,
    /// Serialises reloads; also holds what a reload replaces.
    state: tokio::sync::Mutex<State>,
    /// The config now applied (for the watcher's list of files, and for
    /// `etcd` to follow its `[etcd]` section).
    applied: tokio::sync::watch::Sender<Arc<Config>>,
    /// The keys last fetched from `[etcd]`, read into every reload.
    kv: Mutex<Option<Arc<KvKeys>>>,
}

#[derive(Default)]
struct State {
    /// Running listeners by entrypoint name, with the address they were bound for.
    listeners: BTreeMap<String, (String, Listener)>,
    health_checkers: HealthCheckers,
}

impl Reloader {
    /// Apply the first configuration: everything must work, or nothing starts.
    /// `kv`: the `[etcd]` keys `config` was loaded with, if any.
    pub async fn start(
        config_path: PathBuf,
        config: Config,
        kv: Option<KvKeys>,
        shared: Arc<Shared>,
        drain: Arc<Drain>,
    ) -> Result<Arc<Reloader>, String> {
        let reloader = Arc::new(Reloader {
            config_path,
            shared,
            drain,
            state: tokio::sync::Mutex::new(State::default()),
            applied: tokio::sync::watch::Sender::new(Arc::new(config.clone())),
            kv: Mutex::new(kv.map(Arc::new)),
        });
        reloader.apply(config).await?;
        Ok(reloader)
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The process-wide state (for triggers that report on themselves).
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    pub fn status(&self) -> Arc<ReloadStatus> {
        self.shared.reload_status()
    }

    pub fn current_config(&self) -> Arc<Config> {
        self.applied.borrow().clone()
    }

    /// Told each time a config is applied.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Arc<Config>> {
        self.applied.subscribe()
    }

    /// The `[etcd]` keys every reload reads (see `etcd`).
    pub fn kv(&self) -> Option<Arc<KvKeys>> {
        self.kv.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_kv(&self, keys: Option<KvKeys>) {
        *self.kv.lock().unwrap_or_else(|p| p.into_inner()) = keys.map(Arc::new);
    }

    /// Re-read the config file and apply it. `why` names the trigger for the log.
    pub async fn reload(&self, why: &str) -> Result<(), String> {
        let path = self.config_path.clone();
        let kv = self.kv();
        // Parsing reads files: keep it off the request threads.
        let loaded = tokio::task::spawn_blocking(move || read_for_reload(&path, kv.as_deref()))
            .await
            .map_err(|e| format!("internal: config loader stopped: {e}"))
            .and_then(|r| r);
        let result = match loaded {
            Ok(config) => {
                for w in &config.warnings {
                    tracing::warn!("{w}");
                }
                self.apply(config).await
            }
            Err(e) => Err(e),
        };
        // Recorded before it is logged: whoever reads the log line finds
        // the API and metrics already telling the same. (A success is
        // recorded by `apply`, before its listeners start.)
        if let Err(e) = &result {
            self.record(Err(e.clone()));
        }
        match &result {
            Ok(()) => tracing::info!(trigger = why, "configuration reloaded"),
            // One line per log entry, whatever the number of errors, so
            // that log shippers and `grep` see the whole refusal.
            Err(e) => tracing::error!(
                trigger = why,
                "configuration refused, still serving the previous one: {}",
                e.replace('\n', "; ")
            ),
        }
        result
    }

    fn record(&self, result: Result<(), String>) {
        self.shared.record_reload(result);
    }

    async fn apply(&self, config: Config) -> Result<(), String> {
        let config = Arc::new(config);
        let mut state = self.state.lock().await;
        let previous = self.shared.snapshot();
        // Compiling may compile WebAssembly modules (CPU-bound, up to a
        // second): on a multi-threaded runtime, tell it so that other tasks
        // move to other threads. (A single-threaded runtime has none.)
        let compile = || compile::compile(&config, &self.shared, Some(&previous));
        let compiled = match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(compile),
            _ => compile(),
        }
        .map_err(|e| e.to_string())?;

        // Bind what is new before publishing anything: a port in use refuses
        // the whole reload instead of half-applying it.
        let mut bound: Vec<(String, String, TcpListener)> = Vec::new();
        for (name, ep) in &config.entry_points {
            let unchanged = state
                .listeners
                .get(name)
                .is_some_and(|(address, _)| *address == ep.address);
            if unchanged {
                continue;
            }
            let socket = listen::bind(&ep.address).await.map_err(|e| {
                format!(
                    "entrypoint {name:?}: cannot listen on {:?}: {e}",
                    ep.address
                )
            })?;
            bound.push((name.clone(), ep.address.clone(), socket));
        }

        // Commit: from here on nothing fails. Recorded first, so that the
        // first request a new listener serves (a scrape of /metrics, say)
        // already counts this configuration.
        self.record(Ok(()));
        self.shared.publish(compiled.snapshot);
        state.health_checkers = compiled.health_checkers;
        let keep = |backend: &str, url: &str| {
            config
                .backends
                .get(backend)
                .is_some_and(|b| b.servers.iter().any(|s| s.url == url))
        };
        self.shared.health.retain(keep);

        let mut retired = Vec::new();
        let names: Vec<String> = state.listeners.keys().cloned().collect();
        for name in names {
            let replaced = bound.iter().any(|(n, _, _)| *n == name);
            if replaced || !config.entry_points.contains_key(&name) {
                if let Some((_, listener)) = state.listeners.remove(&name) {
                    retired.push(listener);
                }
            }
        }
        for listener in retired {
            tracing::info!(entrypoint = %listener.name, address = %listener.local_addr, "entrypoint stopped accepting; open connections drain");
            listener.stop().await;
        }
        for (name, address, socket) in bound {
            let listener = Listener::start(
                name.clone(),
                socket,
                self.shared.slot(&name),
                self.shared.clone(),
                self.drain.clone(),
            )
            .map_err(|e| format!("entrypoint {name:?}: {e}"))?;
            announce(&config, &name, listener.local_addr);
            state.listeners.insert(name, (address, listener));
        }
        crate::acme::manager::apply(&self.shared.acme, &config);
        crate::tunnel::peers::apply(&self.shared.tunnels, &config);
        self.applied.send_replace(config);
        Ok(())
    }

    /// Stop every listener (for shutdown); connections stay with the graceful watcher.
    pub async fn stop_listeners(&self) {
        let mut state = self.state.lock().await;
        let listeners = std::mem::take(&mut state.listeners);
        for (_, (_, listener)) in listeners {
            listener.stop().await;
        }
        state.health_checkers = HealthCheckers::default();
    }
}

/// Load the config file for a reload. An in-place save truncates the file
/// before writing it, so an empty main file is far more likely a save in
/// progress than a wish to replace the running config with the defaults
/// (`:80`, no routes): it is refused, and the write that follows is a change
/// of its own.
///
/// `kv` are the keys last fetched from etcd. Keys fetched for a prefix the
/// file no longer names are not read: the file was edited away from them,
/// and `etcd` fetches the new prefix's next.
fn read_for_reload(path: &Path, kv: Option<&KvKeys>) -> Result<Config, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    if text.is_empty() {
        return Err(format!(
            "{}: the file is empty (a save in progress?)",
            path.display()
        ));
    }
    let loaded = config::load_with_kv(path, &text, kv).map_err(|e| e.to_string())?;
    let same_prefix = |k: &KvKeys| loaded.etcd.as_ref().is_some_and(|e| e.prefix == k.provider);
    match kv {
        Some(k) if !same_prefix(k) => config::load_str(path, &text).map_err(|e| e.to_string()),
        _ => Ok(loaded),
    }
}

/// Tell the operator (and test harnesses) where an entrypoint listens. The
/// line goes to stderr even when logs go to a file.
fn announce(config: &Config, name: &str, addr: std::net::SocketAddr) {
    tracing::info!("listening entrypoint={name} address={addr}");
    if config.log.file_path.is_some() {
        eprintln!("tollgate: listening entrypoint={name} address={addr}");
    }
}
