//! `Router::route` over 1, 100 and 1,000 frontends: a hit on the frontend a
//! linear scan would try last, and a miss.
//!
//! Run: `cargo bench -p tollgate --bench router -- --warm-up-time 1 --measurement-time 3`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use http::{HeaderMap, HeaderValue, Method, Uri};
use tollgate::router::{FrontendRules, Router, RuleSyntax};

/// The client address of bench requests.
const CLIENT: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Counts allocations, to check that routing without modifiers allocates nothing.
struct CountingAlloc;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to the system allocator unchanged; counting
// does not touch the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, i.e. from the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const SIZES: [usize; 3] = [1, 100, 1000];

struct Request {
    name: &'static str,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

fn request(name: &'static str, target: &str, host: &str) -> Request {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::HOST, HeaderValue::from_str(host).unwrap());
    headers.insert(http::header::USER_AGENT, HeaderValue::from_static("bench"));
    Request {
        name,
        method: Method::GET,
        uri: target.parse().unwrap(),
        headers,
    }
}

fn compile(rules: impl Iterator<Item = String>) -> Router {
    compile_as(rules, RuleSyntax::Traefik1)
}

fn compile_as(rules: impl Iterator<Item = String>, syntax: RuleSyntax) -> Router {
    let frontends: Vec<FrontendRules> = rules
        .map(|rule| FrontendRules {
            wants_vars: false,
            priority: 0,
            rules: vec![rule],
            syntax,
            modifiers: Vec::new(),
        })
        .collect();
    Router::compile(&frontends).expect("bench rules compile")
}

/// `PathPrefix:/deviceNNN`: all the same length, so equal priority and the
/// last frontend is the last one in priority order.
fn prefix_router(n: usize) -> Router {
    compile((0..n).map(|i| format!("PathPrefix:/device{i:04}")))
}

/// Half `Host:` frontends (half of those with a path too), half `PathPrefix:`.
fn mixed_router(n: usize) -> Router {
    compile((0..n).map(|i| match i % 4 {
        0 | 1 => format!("PathPrefix:/device{i:04}"),
        2 => format!("Host:device{i:04}.example.com"),
        _ => format!("Host:device{i:04}.example.com;PathPrefix:/api"),
    }))
}

/// `mixed_router`'s frontends written as Traefik 2/3 rules: the same
/// conditions, so the same index and the same cost are expected.
fn mixed_router_traefik3(n: usize) -> Router {
    compile_as(
        (0..n).map(|i| match i % 4 {
            0 | 1 => format!("PathPrefix(`/device{i:04}`)"),
            2 => format!("Host(`device{i:04}.example.com`)"),
            _ => format!("Host(`device{i:04}.example.com`) && PathPrefix(`/api`)"),
        }),
        RuleSyntax::Traefik3,
    )
}

fn check_no_allocation(router: &Router, req: &Request) {
    if req.name.contains("unnormalized") {
        return; // normalizing the path needs a copy, by design
    }
    // The first use of a regex on a thread allocates its match cache.
    drop(router.route(&req.method, &req.uri, &req.headers, CLIENT));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let routed = router.route(&req.method, &req.uri, &req.headers, CLIENT);
    let allocated = ALLOCATIONS.load(Ordering::Relaxed) - before;
    drop(routed);
    assert_eq!(allocated, 0, "route() allocated for {}", req.name);
}

fn bench_group(
    c: &mut Criterion,
    group_name: &str,
    router_for: fn(usize) -> Router,
    requests_for: fn(usize) -> Vec<Request>,
) {
    let mut group = c.benchmark_group(group_name);
    for n in SIZES {
        let router = router_for(n);
        for req in requests_for(n) {
            check_no_allocation(&router, &req);
            group.bench_with_input(BenchmarkId::new(req.name, n), &req, |b, req| {
                b.iter(|| {
                    router.route(
                        black_box(&req.method),
                        black_box(&req.uri),
                        black_box(&req.headers),
                        CLIENT,
                    )
                })
            });
        }
    }
    group.finish();
}

fn prefix(c: &mut Criterion) {
    bench_group(c, "prefix", prefix_router, |n| {
        let last = n - 1;
        let router = prefix_router(n);
        let hit = request(
            "hit_last",
            &format!("/device{last:04}/api/kernels?token=x"),
            "example.com",
        );
        assert_eq!(
            router
                .route(&hit.method, &hit.uri, &hit.headers, CLIENT)
                .map(|m| m.frontend),
            Some(last)
        );
        vec![
            hit,
            request(
                "hit_last_unnormalized",
                &format!("//device{last:04}/./api/../kernels"),
                "example.com",
            ),
            request("miss", "/nothing/here", "example.com"),
        ]
    });
}

fn mixed(c: &mut Criterion) {
    bench_group(c, "mixed", mixed_router, |n| {
        mixed_requests(&mixed_router(n), n)
    });
    bench_group(c, "mixed_traefik3", mixed_router_traefik3, |n| {
        mixed_requests(&mixed_router_traefik3(n), n)
    });
}

fn mixed_requests(router: &Router, n: usize) -> Vec<Request> {
    {
        let last_host = (0..n).rev().find(|i| i % 4 == 3).unwrap_or(0);
        let last_path = (0..n).rev().find(|i| i % 4 < 2).unwrap_or(0);
        let host_hit = request(
            "hit_last_host",
            "/api/v1",
            &format!("device{last_host:04}.example.com:443"),
        );
        let path_hit = request(
            "hit_last_path",
            &format!("/device{last_path:04}/x"),
            "unknown.example.com",
        );
        if n > 3 {
            assert_eq!(
                router
                    .route(&host_hit.method, &host_hit.uri, &host_hit.headers, CLIENT)
                    .map(|m| m.frontend),
                Some(last_host)
            );
        }
        assert_eq!(
            router
                .route(&path_hit.method, &path_hit.uri, &path_hit.headers, CLIENT)
                .map(|m| m.frontend),
            Some(last_path)
        );
        vec![
            host_hit,
            path_hit,
            request("miss", "/nothing/here", "nowhere.example.com"),
        ]
    }
}

/// The fallback for frontends the index cannot narrow down: every request
/// checks all of their regexes.
fn unindexed(c: &mut Criterion) {
    let mut group = c.benchmark_group("host_regexp");
    for n in SIZES {
        let router =
            compile((0..n).map(|i| format!("HostRegexp:{{sub:[a-z]+}}.device{i:04}.example.com")));
        let hit = request(
            "hit_last",
            "/",
            &format!("abc.device{:04}.example.com", n - 1),
        );
        check_no_allocation(&router, &hit);
        group.bench_with_input(BenchmarkId::new(hit.name, n), &hit, |b, req| {
            b.iter(|| {
                router.route(
                    black_box(&req.method),
                    black_box(&req.uri),
                    black_box(&req.headers),
                    CLIENT,
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, prefix, mixed, unindexed);
criterion_main!(benches);
