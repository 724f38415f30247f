//! What the `[etcd]` provider last saw, across reloads: `reload::etcd`
//! writes it, `/api/etcd` and `/metrics` read it, so that a sysadmin can
//! tell an instance serving etcd's current keys from one cut off from it.

use std::sync::Mutex;
use std::time::SystemTime;

#[derive(Debug, Clone, serde::Serialize)]
pub struct EtcdStatus {
    pub endpoints: Vec<String>,
    pub prefix: String,
    /// The last request to etcd succeeded (and, watching, the watch runs).
    pub connected: bool,
    /// Keys under the prefix at the last read, and the store's revision then.
    pub keys: usize,
    pub revision: i64,
    /// When the keys were last read (Unix seconds; 0: never).
    pub last_read: f64,
    /// Why etcd was last unreachable, while it is.
    pub error: Option<String>,
}

/// None until a config with `[etcd]` is applied.
#[derive(Default)]
pub struct EtcdState(Mutex<Option<EtcdStatus>>);

impl EtcdState {
    pub fn get(&self) -> Option<EtcdStatus> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Starts over for these settings (disconnected, nothing read).
    pub fn reset(&self, settings: Option<(&[String], &str)>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) =
            settings.map(|(endpoints, prefix)| EtcdStatus {
                endpoints: endpoints.to_vec(),
                prefix: prefix.to_owned(),
                connected: false,
                keys: 0,
                revision: 0,
                last_read: 0.0,
                error: None,
            });
    }

    pub fn read(&self, keys: usize, revision: i64) {
        self.update(|s| {
            s.connected = true;
            s.keys = keys;
            s.revision = revision;
            s.last_read = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            s.error = None;
        });
    }

    pub fn lost(&self, error: &str) {
        self.update(|s| {
            s.connected = false;
            s.error = Some(error.to_owned());
        });
    }

    fn update(&self, f: impl FnOnce(&mut EtcdStatus)) {
        if let Some(s) = self.0.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            f(s);
        }
    }
}
