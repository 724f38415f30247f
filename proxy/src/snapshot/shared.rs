//! Process-wide state: the current `Snapshot`, published through an
//! `ArcSwap`, and what must outlive any one snapshot (server health,
//! entrypoint slots and bound ports, the plugin host, ACME state).
//!
//! Each request loads the snapshot once (`Shared::snapshot()`), and keeps that
//! `Arc` until it is done, so a reload in the middle of a request can never mix
//! two configs, and the old snapshot is freed when its last request finishes.
//! Nothing on the request path locks anything a reload holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use http::HeaderValue;

use super::routes::Snapshot;
use super::slot::Slot;
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
}

impl Shared {
    pub fn new(server_name: HeaderValue) -> Arc<Shared> {
        Arc::new(Shared {
            current: ArcSwap::from_pointee(Snapshot::empty()),
            health: HealthTable::default(),
            slots: Mutex::default(),
            bound_ports: ArcSwap::from_pointee(Vec::new()),
            server_name,
            plugin_host: std::sync::OnceLock::new(),
            acme: Arc::default(),
        })
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
