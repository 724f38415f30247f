//! Process-wide state: the current `Snapshot`, published through an
//! `ArcSwap`, and what must outlive any one snapshot (server health,
//! entrypoint slots and bound ports, open connections, the plugin host,
//! ACME state, metrics and request counts, reload outcomes).
//!
//! Each request loads the snapshot once (`Shared::snapshot()`), and keeps that
//! `Arc` until it is done, so a reload in the middle of a request can never mix
//! two configs, and the old snapshot is freed when its last request finishes.
//! Nothing on the request path locks anything a reload holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use http::HeaderValue;

use super::admission::Admission;
use super::reload_status::ReloadStatus;
use super::routes::Snapshot;
use super::slot::Slot;
use crate::metrics::{Metrics, RequestStats};
use crate::upstream::health_state::HealthTable;
use crate::wasm::PluginHost;

/// Process-wide state: the current snapshot and what survives reloads.
pub struct Shared {
    current: ArcSwap<Snapshot>,
    pub health: HealthTable,
    slots: Mutex<HashMap<String, Slot>>,
    /// Port each entrypoint's listener actually bound, by slot (0 = none):
    /// redirects point at it even when the config said port 0.
    bound_ports: ArcSwap<Vec<u16>>,
    /// `X-Forwarded-Server`: this machine's host name.
    pub server_name: HeaderValue,
    /// The WebAssembly runtime, started with the first config that uses a plugin.
    plugin_host: std::sync::OnceLock<Arc<PluginHost>>,
    /// ACME certificates and challenges (survive reloads).
    pub acme: Arc<crate::acme::AcmeState>,
    /// Open connections by entry point (`admission`).
    admissions: Mutex<HashMap<Slot, Arc<Admission>>>,
    /// `[metrics.prometheus]`'s registry: counters keep counting across
    /// reloads that keep the buckets.
    metrics: Mutex<Option<Arc<Metrics>>>,
    /// `/health`'s counts (kept while a config has `[api]`).
    pub stats: RequestStats,
    /// Reload outcomes: the reloader writes, the API and metrics read.
    reload: ArcSwap<ReloadStatus>,
    /// When the process started serving.
    pub started: std::time::SystemTime,
    /// Devices' live tunnels (`tunnel`), across reloads.
    pub tunnels: Arc<crate::tunnel::Tunnels>,
    /// The `[etcd]` provider's view of the store.
    pub etcd: super::etcd_status::EtcdState,
}

impl Shared {
    pub fn new(server_name: HeaderValue) -> Arc<Shared> {
        let tunnels: Arc<crate::tunnel::Tunnels> = Arc::default();
        Arc::new(Shared {
            current: ArcSwap::from_pointee(Snapshot::empty(tunnels.clone())),
            health: HealthTable::default(),
            slots: Mutex::default(),
            bound_ports: ArcSwap::from_pointee(Vec::new()),
            server_name,
            plugin_host: std::sync::OnceLock::new(),
            acme: Arc::default(),
            admissions: Mutex::default(),
            metrics: Mutex::default(),
            stats: RequestStats::default(),
            reload: ArcSwap::from_pointee(ReloadStatus::default()),
            started: std::time::SystemTime::now(),
            tunnels,
            etcd: Default::default(),
        })
    }

    /// The open-connection count and limits of an entry point.
    pub fn admission(&self, slot: Slot) -> Arc<Admission> {
        let mut admissions = self.admissions.lock().unwrap_or_else(|p| p.into_inner());
        admissions.entry(slot).or_default().clone()
    }

    /// The metrics registry for these buckets: the running one if its
    /// buckets are the same, else a new one (a histogram's buckets cannot
    /// change; Prometheus sees the counters restart).
    pub fn metrics_for(&self, buckets: &[f64]) -> Result<Arc<Metrics>, String> {
        let mut current = self.metrics.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = current.as_ref().filter(|m| m.buckets() == buckets) {
            return Ok(m.clone());
        }
        let fresh = Arc::new(Metrics::new(buckets).map_err(|e| e.to_string())?);
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    pub fn record_reload(&self, result: Result<(), String>) {
        self.reload.rcu(|status| status.with(result.clone()));
    }

    pub fn reload_status(&self) -> Arc<ReloadStatus> {
        self.reload.load_full()
    }

    /// The process's plugin host, started on first use.
    pub fn plugin_host(&self) -> Result<Arc<PluginHost>, String> {
        if let Some(h) = self.plugin_host.get() {
            return Ok(h.clone());
        }
        let host = PluginHost::new().map_err(|e| e.to_string())?;
        Ok(self.plugin_host.get_or_init(|| host).clone())
    }

    /// The snapshot to serve one request with.
    #[inline]
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Make `next` the snapshot every new request sees.
    pub fn publish(&self, next: Snapshot) {
        // Revocation: a device the new config removed, or whose token it
        // changed, loses its live tunnels now.
        let devices = next.config.tunnels.as_ref().map(|t| &t.devices);
        self.tunnels.retain(|device, hash| {
            devices
                .and_then(|d| d.get(device))
                .is_some_and(|h| h == hash)
        });
        self.current.store(Arc::new(next));
    }

    /// Record the port an entrypoint's listener is bound to.
    pub fn set_bound_port(&self, slot: Slot, port: u16) {
        self.bound_ports.rcu(|ports| {
            let mut ports = Vec::clone(ports);
            if ports.len() <= slot {
                ports.resize(slot + 1, 0);
            }
            ports[slot] = port;
            ports
        });
    }

    pub fn bound_port(&self, slot: Slot) -> Option<u16> {
        self.bound_ports
            .load()
            .get(slot)
            .copied()
            .filter(|p| *p != 0)
    }

    /// The slot for an entrypoint name, allocated on first use.
    pub fn slot(&self, name: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let next = slots.len();
        *slots.entry(name.to_string()).or_insert(next)
    }
}
