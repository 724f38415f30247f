//! A bounded set of credentials that verified recently, so a bcrypt hash
//! (~100 ms of CPU in wasm at cost 10) is computed once per credential and
//! instance instead of on every request (traefik#4791, #7897).
//!
//! Entries are keyed by the request's whole `Authorization` value, so that a
//! hit (the steady state: a browser sends the same header on every request)
//! costs one hash of it and one table lookup: no base64 decoding, no user
//! lookup. Each entry remembers which user the credential belongs to.
//!
//! Only successes are cached: a flood of wrong passwords cannot push the
//! good ones out, nor make a wrong one pass. Keys are 128-bit keyed hashes
//! of the header (SipHash-2-4 with 128-bit output, a keyed pseudo-random
//! function, under a 128-bit key drawn at random per instance), never the
//! header itself, which carries the password. A client never sees the key
//! nor an entry, so passing with a wrong password means guessing a 128-bit
//! value. The plugin's users are fixed for an instance's life (a config
//! change starts new instances), so entries never go stale.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use siphasher::sip128::{Hasher128, SipHasher24};

type Key = u128;

pub struct CredentialCache {
    capacity: usize,
    key: [u8; 16],
    /// Key -> the user it authenticates (an index the plugin chose).
    present: HashMap<Key, u32, BuildHasherDefault<KeyHasher>>,
    /// Insertion order, oldest first, for eviction.
    order: VecDeque<Key>,
}

impl CredentialCache {
    pub fn new(capacity: usize) -> Self {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&random_u64().to_le_bytes());
        key[8..].copy_from_slice(&random_u64().to_le_bytes());
        CredentialCache {
            capacity,
            key,
            present: HashMap::default(),
            order: VecDeque::new(),
        }
    }

    fn key(&self, authorization: &[u8]) -> Key {
        let mut h = SipHasher24::new_with_key(&self.key);
        h.write(authorization);
        h.finish128().as_u128()
    }

    /// The user that this `Authorization` value verified as, if it did.
    pub fn get(&self, authorization: &[u8]) -> Option<u32> {
        // Empty (no slow hash verified yet, or fast hashes only): no hashing.
        if self.present.is_empty() {
            return None;
        }
        self.present.get(&self.key(authorization)).copied()
    }

    /// Remember that `authorization` verified as `user`.
    pub fn insert(&mut self, authorization: &[u8], user: u32) {
        if self.capacity == 0 {
            return;
        }
        let key = self.key(authorization);
        if self.present.insert(key, user).is_some() {
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
        c.insert(b"Basic YTox", 0);
        c.insert(b"Basic Yjoy", 1);
        assert_eq!(c.get(b"Basic YTox"), Some(0));
        assert_eq!(c.get(b"Basic Yjoy"), Some(1));
        assert_eq!(c.get(b"Basic YToy"), None);
        c.insert(b"Basic Yzoz", 2);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(b"Basic YTox"), None);
        assert_eq!(c.get(b"Basic Yzoz"), Some(2));
    }

    #[test]
    fn instances_key_their_entries_differently() {
        let (a, b) = (CredentialCache::new(1), CredentialCache::new(1));
        assert_ne!(a.key(b"Basic YTox"), b.key(b"Basic YTox"));
        assert_eq!(a.key(b"Basic YTox"), a.key(b"Basic YTox"));
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let mut c = CredentialCache::new(0);
        c.insert(b"Basic YTox", 0);
        assert_eq!(c.get(b"Basic YTox"), None);
        assert!(c.is_empty());
    }
}
