//! Choosing a server of a backend for each request.
//!
//! `wrr` (the default) follows a schedule computed once per config with the
//! smooth weighted round-robin of nginx (weights 1 and 3 give `B A B B`, not
//! `A B B B`), walked by one atomic counter: no lock, no allocation. Servers
//! that health checks marked down are skipped.
//!
//! `drr` (Traefik 1.7's "dynamic" round robin, which shifts weight toward
//! faster servers) is approximated by picking the server with the fewest
//! requests waiting for response headers per unit of weight: a slow server
//! accumulates waiting requests and so receives fewer new ones.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use http::uri::{Authority, Scheme as UriScheme};
use http::HeaderValue;

use super::health_state::Health;
use super::pool::ServerPool;
use crate::config::model::{LoadBalancerMethod, Scheme};

/// One server of a backend, ready to be dialed.
#[derive(Debug)]
pub struct UpstreamServer {
    pub name: String,
    pub url: String,
    pub scheme: Scheme,
    /// Scheme for the upstream request URI (`h2c` is sent as `http`).
    pub uri_scheme: UriScheme,
    pub authority: Authority,
    /// `Host` sent when the frontend does not pass the client's host.
    pub host_header: HeaderValue,
    pub weight: u32,
    pub health: Arc<Health>,
    /// Keep-alive connections to this server.
    pub pool: Arc<ServerPool>,
    /// Requests sent and still waiting for response headers (drr).
    waiting: AtomicU32,
}

impl UpstreamServer {
    pub fn new(
        name: String,
        url: String,
        scheme: Scheme,
        authority: Authority,
        weight: u32,
        health: Arc<Health>,
        pool: Arc<ServerPool>,
    ) -> Self {
        let host_header = HeaderValue::from_str(authority.as_str())
            .unwrap_or_else(|_| HeaderValue::from_static("localhost"));
        let uri_scheme = match scheme {
            Scheme::Https => UriScheme::HTTPS,
            Scheme::Http | Scheme::H2c | Scheme::Tunnel => UriScheme::HTTP,
        };
        UpstreamServer {
            name,
            url,
            scheme,
            uri_scheme,
            authority,
            host_header,
            weight,
            health,
            pool,
            waiting: AtomicU32::new(0),
        }
    }
}

/// Marks a request as waiting on a server until dropped (drr bookkeeping).
pub struct Waiting<'a>(&'a AtomicU32);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl UpstreamServer {
    pub fn start_waiting(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(&self.waiting)
    }
}

#[derive(Debug)]
pub struct Balancer {
    method: LoadBalancerMethod,
    servers: Vec<Arc<UpstreamServer>>,
    /// Indexes into `servers`, in smooth-WRR order; one full cycle.
    schedule: Box<[u32]>,
    next: AtomicUsize,
}

/// Longest schedule we build; larger weight sums are scaled down to fit.
const MAX_SCHEDULE: u64 = 1 << 16;

impl Balancer {
    pub fn new(method: LoadBalancerMethod, servers: Vec<Arc<UpstreamServer>>) -> Self {
        let weights: Vec<u32> = servers.iter().map(|s| s.weight).collect();
        Balancer {
            method,
            schedule: smooth_wrr_schedule(&weights),
            servers,
            next: AtomicUsize::new(0),
        }
    }

    pub fn servers(&self) -> &[Arc<UpstreamServer>] {
        &self.servers
    }

    /// The server for the next request, or None when every server is down
    /// (or the backend has none with a weight above 0).
    pub fn pick(&self) -> Option<&Arc<UpstreamServer>> {
        match self.method {
            LoadBalancerMethod::Wrr => self.pick_wrr(),
            LoadBalancerMethod::Drr => self.pick_least_waiting(),
        }
    }

    fn pick_wrr(&self) -> Option<&Arc<UpstreamServer>> {
        let n = self.schedule.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| &self.servers[self.schedule[(start + i) % n] as usize])
            .find(|s| s.health.is_up())
    }

    fn pick_least_waiting(&self) -> Option<&Arc<UpstreamServer>> {
        let n = self.servers.len();
        if n == 0 {
            return None;
        }
        // Rotate the starting point so that ties are shared out evenly.
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut best: Option<(&Arc<UpstreamServer>, u64, u64)> = None;
        for i in 0..n {
            let s = &self.servers[(start + i) % n];
            if s.weight == 0 || !s.health.is_up() {
                continue;
            }
            let load = u64::from(s.waiting.load(Ordering::Relaxed)) + 1;
            let weight = u64::from(s.weight);
            // Compare load/weight without division: a/b < c/d  <=>  a*d < c*b.
            let better = match best {
                None => true,
                Some((_, bl, bw)) => load * bw < bl * weight,
            };
            if better {
                best = Some((s, load, weight));
            }
        }
        best.map(|(s, _, _)| s)
    }
}

/// nginx's smooth weighted round robin, unrolled into one cycle.
fn smooth_wrr_schedule(weights: &[u32]) -> Box<[u32]> {
    let g = weights.iter().copied().filter(|w| *w > 0).fold(0, gcd);
    if g == 0 {
        return Box::new([]);
    }
    let mut w: Vec<u64> = weights.iter().map(|&x| u64::from(x / g)).collect();
    let total: u64 = w.iter().sum();
    if total > MAX_SCHEDULE {
        // Keep proportions approximately, but never drop a server to 0.
        for x in w.iter_mut().filter(|x| **x > 0) {
            *x = (*x * MAX_SCHEDULE / total).max(1);
        }
    }
    let total: u64 = w.iter().sum();
    let mut current = vec![0i64; w.len()];
    let mut out = Vec::with_capacity(total as usize);
    for _ in 0..total {
        let mut best = 0;
        for i in 0..w.len() {
            current[i] += w[i] as i64;
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total as i64;
        out.push(best as u32);
    }
    out.into_boxed_slice()
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::registry::Upstreams;

    fn upstreams() -> Upstreams {
        Upstreams::new(&Default::default(), &Default::default()).unwrap()
    }

    fn server(name: &str, weight: u32) -> Arc<UpstreamServer> {
        Arc::new(UpstreamServer::new(
            name.into(),
            format!("http://{name}"),
            Scheme::Http,
            Authority::from_static("127.0.0.1:1"),
            weight,
            Arc::new(Health::default()),
            upstreams().pool(Scheme::Http, &Authority::from_static("127.0.0.1:1")),
        ))
    }

    #[test]
    fn schedule_is_smooth_and_weighted() {
        assert_eq!(&*smooth_wrr_schedule(&[1, 3]), &[1, 0, 1, 1][..]);
        assert_eq!(&*smooth_wrr_schedule(&[2, 2]), &[0, 1][..]);
        assert_eq!(&*smooth_wrr_schedule(&[0, 5]), &[1][..]);
        assert!(smooth_wrr_schedule(&[0, 0]).is_empty());
        assert!(smooth_wrr_schedule(&[]).is_empty());
    }

    #[test]
    fn huge_weights_are_scaled_into_a_bounded_schedule() {
        let s = smooth_wrr_schedule(&[u32::MAX, 1]);
        assert!(s.len() as u64 <= MAX_SCHEDULE + 1);
        assert!(s.contains(&1), "a weight-1 server is never starved");
    }

    #[test]
    fn wrr_skips_servers_that_are_down() {
        let a = server("a", 1);
        let b = server("b", 3);
        let lb = Balancer::new(LoadBalancerMethod::Wrr, vec![a.clone(), b.clone()]);
        let mut counts = [0; 2];
        for _ in 0..400 {
            let s = lb.pick().unwrap();
            counts[usize::from(s.name == "b")] += 1;
        }
        assert_eq!(counts, [100, 300]);
        b.health.set_up(false);
        assert!((0..10).all(|_| lb.pick().unwrap().name == "a"));
        a.health.set_up(false);
        assert!(lb.pick().is_none());
    }

    #[test]
    fn drr_prefers_the_server_with_fewer_waiting_requests() {
        let a = server("a", 1);
        let b = server("b", 1);
        let lb = Balancer::new(LoadBalancerMethod::Drr, vec![a.clone(), b.clone()]);
        let _w1 = a.start_waiting();
        let _w2 = a.start_waiting();
        assert!((0..10).all(|_| lb.pick().unwrap().name == "b"));
    }
}
