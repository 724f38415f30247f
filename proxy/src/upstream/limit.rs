//! `[backends.X.maxConn]`: at most `amount` requests in flight per source
//! (client IP, Host, or a header), as Traefik 1.7's connlimit. Over the limit
//! the request is answered 429 without touching the backend.
//!
//! The counters sit behind a mutex, but only backends that configure maxConn
//! ever touch it, and it is held for a hash-map update, never across an await.
//! A permit is released when the response body is done (it rides along in
//! `ProxyBody`), so a long stream counts for as long as it runs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use http::HeaderMap;

use crate::config::model::{Extractor, MaxConn};

#[derive(Debug)]
pub struct Limiter {
    amount: u32,
    extractor: Extractor,
    in_flight: Arc<Mutex<HashMap<Box<str>, u32>>>,
}

/// One request's place under a limit; dropping it frees the place.
#[derive(Debug)]
pub struct Permit {
    key: Box<str>,
    in_flight: Arc<Mutex<HashMap<Box<str>, u32>>>,
}

impl Limiter {
    pub fn new(cfg: &MaxConn) -> Self {
        Limiter {
            amount: cfg.amount,
            extractor: cfg.extractor.clone(),
            in_flight: Arc::default(),
        }
    }

    /// Take a place for this request's source, or None when it is over the limit.
    pub fn acquire(
        &self,
        client: IpAddr,
        host: Option<&str>,
        headers: &HeaderMap,
    ) -> Option<Permit> {
        let key: Box<str> = match &self.extractor {
            Extractor::ClientIp => client.to_string().into(),
            Extractor::RequestHost => host.unwrap_or("").into(),
            Extractor::RequestHeader(name) => headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .into(),
        };
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let count = map.entry(key.clone()).or_insert(0);
        if *count >= self.amount {
            return None;
        }
        *count += 1;
        drop(map);
        Some(Permit {
            key,
            in_flight: self.in_flight.clone(),
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = map.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_counted_per_source_and_released_on_drop() {
        let limiter = Limiter::new(&MaxConn {
            amount: 2,
            extractor: Extractor::ClientIp,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let h = HeaderMap::new();
        let p1 = limiter.acquire(a, None, &h).expect("first");
        let _p2 = limiter.acquire(a, None, &h).expect("second");
        assert!(
            limiter.acquire(a, None, &h).is_none(),
            "third is over the limit"
        );
        assert!(
            limiter.acquire(b, None, &h).is_some(),
            "other source unaffected"
        );
        drop(p1);
        assert!(limiter.acquire(a, None, &h).is_some(), "place freed");
    }
}
