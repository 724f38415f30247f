//! `[entryPoints.X.limits] maxConnections, maxConnectionsPerIP`: how many
//! connections an entry point holds open, in all and per client address.
//! A connection over a limit is closed at once, before any byte of it is
//! read (behind `proxyProtocol`, after its header: the address that counts
//! is the client's, not the balancer's). Counts live in `Shared`, by entry
//! point, so they outlast reloads and listeners; a reload's new limits apply
//! to new connections; `/metrics` reads them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::model::EntryLimits;

/// An entry point's open connections.
#[derive(Debug, Default)]
pub struct Admission {
    open: AtomicU32,
    /// Only addresses counted while a per-address limit was set.
    per_ip: Mutex<HashMap<IpAddr, u32>>,
}

/// An admitted connection's place, given back when dropped.
#[derive(Debug)]
pub struct Admitted {
    admission: Arc<Admission>,
    /// Set when the connection was counted per address.
    ip: Option<IpAddr>,
}

impl Admission {
    /// A place for a connection from `ip`, or None when a limit is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, limits: &EntryLimits) -> Option<Admitted> {
        let open = self.open.fetch_add(1, Ordering::AcqRel) + 1;
        let mut admitted = Admitted {
            admission: self.clone(),
            ip: None,
        };
        if limits.max_connections.is_some_and(|max| open > max) {
            return None; // `admitted` gives the place back
        }
        if let Some(max) = limits.max_connections_per_ip {
            let mut per_ip = self.lock();
            let count = per_ip.entry(ip).or_insert(0);
            if *count >= max {
                return None;
            }
            *count += 1;
            admitted.ip = Some(ip);
        }
        Some(admitted)
    }

    /// Connections open now.
    pub fn open(&self) -> u32 {
        self.open.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, u32>> {
        // Counts stay consistent even if a holder panicked.
        self.per_ip.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.admission.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.ip {
            let mut per_ip = self.admission.lock();
            if let Some(count) = per_ip.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: Option<u32>, per_ip: Option<u32>) -> EntryLimits {
        EntryLimits {
            max_connections: total,
            max_connections_per_ip: per_ip,
            ..EntryLimits::default()
        }
    }

    #[test]
    fn the_total_limit_gives_places_back() {
        let a = Arc::new(Admission::default());
        let l = limits(Some(2), None);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let one = a.admit(ip, &l).unwrap();
        let _two = a.admit(ip, &l).unwrap();
        assert!(a.admit(ip, &l).is_none());
        assert_eq!(a.open(), 2);
        drop(one);
        assert!(a.admit(ip, &l).is_some());
    }

    #[test]
    fn the_per_address_limit_counts_each_address() {
        let a = Arc::new(Admission::default());
        let l = limits(None, Some(1));
        let x: IpAddr = "192.0.2.1".parse().unwrap();
        let y: IpAddr = "192.0.2.2".parse().unwrap();
        let first = a.admit(x, &l).unwrap();
        assert!(a.admit(x, &l).is_none());
        let _other = a.admit(y, &l).unwrap();
        drop(first);
        assert!(a.admit(x, &l).is_some());
        assert!(a.lock().len() <= 2);
    }
}
