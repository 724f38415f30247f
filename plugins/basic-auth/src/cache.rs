//! A bounded set of credentials that verified recently, so a bcrypt hash
//! (~100 ms of CPU in wasm at cost 10) is computed once per credential and
//! instance instead of on every request (traefik#4791, #7897).
//!
//! Only successes are cached: a flood of wrong passwords cannot push the
//! good ones out, nor make a wrong one pass. Entries are salted SHA-256
//! digests of `user NUL password`, never the password itself, and the salt
//! is random per instance. The plugin's users are fixed for an instance's
//! life (a config change starts new instances), so entries never go stale.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};

use sha2::{Digest, Sha256};

type Key = [u8; 32];

pub struct CredentialCache {
    capacity: usize,
    salt: [u8; 16],
    present: HashSet<Key>,
    /// Insertion order, oldest first, for eviction.
    order: VecDeque<Key>,
}

impl CredentialCache {
    pub fn new(capacity: usize) -> Self {
        CredentialCache {
            capacity,
            salt: random_salt(),
            present: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    fn key(&self, user: &str, password: &[u8]) -> Key {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(user.as_bytes());
        h.update([0u8]);
        h.update(password);
        h.finalize().into()
    }

    pub fn contains(&self, user: &str, password: &[u8]) -> bool {
        self.capacity > 0 && self.present.contains(&self.key(user, password))
    }

    pub fn insert(&mut self, user: &str, password: &[u8]) {
        if self.capacity == 0 {
            return;
        }
        let key = self.key(user, password);
        if !self.present.insert(key) {
            return;
        }
        self.order.push_back(key);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.present.remove(&old);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// 128 random bits without another dependency: std seeds `RandomState` from
/// the OS (WASI `random_get` inside wasm).
fn random_salt() -> [u8; 16] {
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(0);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_evicts_oldest() {
        let mut c = CredentialCache::new(2);
        c.insert("a", b"1");
        c.insert("b", b"2");
        assert!(c.contains("a", b"1") && c.contains("b", b"2"));
        assert!(!c.contains("a", b"2"));
        c.insert("c", b"3");
        assert_eq!(c.len(), 2);
        assert!(!c.contains("a", b"1"));
        assert!(c.contains("c", b"3"));
    }

    #[test]
    fn user_and_password_boundary_is_unambiguous() {
        let mut c = CredentialCache::new(4);
        c.insert("ab", b"c");
        assert!(!c.contains("a", b"bc"));
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let mut c = CredentialCache::new(0);
        c.insert("a", b"1");
        assert!(!c.contains("a", b"1"));
        assert!(c.is_empty());
    }
}
