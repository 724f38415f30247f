//! A bounded set of credentials that verified recently, so a bcrypt hash
//! (~100 ms of CPU in wasm at cost 10) is computed once per credential and
//! instance instead of on every request (traefik#4791, #7897).
//!
//! Only successes are cached: a flood of wrong passwords cannot push the
//! good ones out, nor make a wrong one pass. Entries are 128-bit keyed
//! hashes of the user and password, never the password itself: two
//! SipHash-2-4 (a keyed pseudo-random function) under independent 128-bit
//! keys drawn at random per instance. A client never sees the keys nor an
//! entry, so passing with a wrong password means guessing a 128-bit value
//! (SHA-256 did the same job here at about six times the cost, on every
//! request). The plugin's users are fixed for an instance's life (a config
//! change starts new instances), so entries never go stale.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

type Key = u128;

pub struct CredentialCache {
    capacity: usize,
    keys: [(u64, u64); 2],
    present: HashSet<Key, BuildHasherDefault<KeyHasher>>,
    /// Insertion order, oldest first, for eviction.
    order: VecDeque<Key>,
}

impl CredentialCache {
    pub fn new(capacity: usize) -> Self {
        CredentialCache {
            capacity,
            keys: [(random_u64(), random_u64()), (random_u64(), random_u64())],
            present: HashSet::default(),
            order: VecDeque::new(),
        }
    }

    fn key(&self, user: &str, password: &[u8]) -> Key {
        let half = |(k0, k1): (u64, u64)| {
            #[allow(deprecated)] // std's SipHash-2-4, by name; its successor is unspecified
            let mut h = std::hash::SipHasher::new_with_keys(k0, k1);
            // The length first: `ab` + `c` and `a` + `bc` differ.
            h.write_u64(user.len() as u64);
            h.write(user.as_bytes());
            h.write(password);
            h.finish()
        };
        (u128::from(half(self.keys[0])) << 64) | u128::from(half(self.keys[1]))
    }

    pub fn contains(&self, user: &str, password: &[u8]) -> bool {
        // Empty (no slow hash verified yet, or fast hashes only): no hashing.
        !self.present.is_empty() && self.present.contains(&self.key(user, password))
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

/// Keys are already keyed hashes, uniform and unpredictable to a client:
/// their low 64 bits are as good a table hash as hashing them again.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u128` keys come here (through `write_u128`).
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(word);
        }
    }

    fn write_u128(&mut self, key: u128) {
        self.0 = key as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// 64 random bits without another dependency: std seeds `RandomState` from
/// the OS (WASI `random_get` inside wasm), with fresh keys each time.
fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish()
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
