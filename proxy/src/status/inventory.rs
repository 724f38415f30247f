//! What the running snapshot holds, each item once: its backends (as
//! compiled, with their servers' health and pools), its plugins and its
//! certificates. Read by the API and by `/metrics` at scrape time.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::snapshot::{BackendRuntime, Shared, Snapshot};
use crate::tls::store::CertInfo;
use crate::wasm::Plugin;

/// Backends that some frontend routes to, by name.
pub(super) fn backends(snapshot: &Snapshot) -> BTreeMap<&str, &Arc<BackendRuntime>> {
    let mut out = BTreeMap::new();
    for entry in snapshot.entrypoints.iter().flatten() {
        for f in &entry.frontends {
            out.entry(f.backend.name.as_str()).or_insert(&f.backend);
        }
    }
    out
}

/// Every loaded plugin (frontend chains and entry point authentication), by name.
pub(super) fn plugins(snapshot: &Snapshot) -> BTreeMap<&str, &Arc<Plugin>> {
    snapshot.plugins().map(|p| (p.name(), p)).collect()
}

/// A served certificate and where it comes from.
pub(super) struct Certificate {
    /// The entry point whose `[tls]` lists it, or `acme`.
    pub source: String,
    pub info: CertInfo,
}

pub(super) fn certificates(snapshot: &Snapshot, shared: &Shared) -> Vec<Certificate> {
    let mut out = Vec::new();
    for entry in snapshot.entrypoints.iter().flatten() {
        if let Some(tls) = &entry.tls {
            for info in tls.resolver.current().certificates() {
                out.push(Certificate {
                    source: entry.name.clone(),
                    info,
                });
            }
        }
    }
    for info in shared.acme.certs.load().certificates() {
        out.push(Certificate {
            source: "acme".to_owned(),
            info,
        });
    }
    out
}
