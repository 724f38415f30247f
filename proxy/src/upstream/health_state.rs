//! What is known of each server's health: kept in a `HealthTable` keyed by
//! backend name and server URL that outlives snapshots, so a config reload
//! that keeps a backend keeps what is known about its servers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Whether a server takes traffic. Starts up: a server is innocent until a
/// check proves otherwise, as in Traefik.
#[derive(Debug)]
pub struct Health {
    up: AtomicBool,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            up: AtomicBool::new(true),
        }
    }
}

impl Health {
    #[inline]
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Returns the previous state.
    pub fn set_up(&self, up: bool) -> bool {
        self.up.swap(up, Ordering::Relaxed)
    }
}

/// Health of every server ever configured, by (backend, server URL).
#[derive(Debug, Default)]
pub struct HealthTable {
    entries: Mutex<HashMap<(String, String), Arc<Health>>>,
}

impl HealthTable {
    /// The health cell for a server: the existing one if this backend already
    /// had this server, else a fresh one (up).
    pub fn cell(&self, backend: &str, url: &str) -> Arc<Health> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((backend.to_string(), url.to_string()))
            .or_default()
            .clone()
    }

    /// Forget servers that no snapshot uses any more (called after a reload).
    pub fn retain(&self, keep: impl Fn(&str, &str) -> bool) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|(b, u), _| keep(b, u));
    }
}
