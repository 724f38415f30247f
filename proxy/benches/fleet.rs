//! Routing cost per request to a fleet behind one templated frontend
//! (`PathPrefixStrip:/cam/{device}` → `http://{device}.cams.internal`):
//! the route with its variables plus the target's lookup, with 1 device
//! and with 10,000 devices (all kept, requests cycling through them), next
//! to the same route to a plain backend (no variables, no lookup).
//!
//! Run: `cargo bench -p tollgate --bench fleet -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use http::{HeaderMap, HeaderValue, Method, Uri};
use tollgate::config::model::{AllowList, BackendTls, ForwardingTimeouts, Scheme};
use tollgate::router::{FrontendRules, Router, RuleSyntax};
use tollgate::upstream::allow::Fence;
use tollgate::upstream::resolve::Resolver;
use tollgate::upstream::templated::TemplatedServer;
use tollgate::upstream::Upstreams;

const CLIENT: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn router(wants_vars: bool) -> Router {
    Router::compile(&[FrontendRules {
        priority: 0,
        rules: vec!["PathPrefixStrip:/cam/{device:[a-z0-9-]+}".into()],
        syntax: RuleSyntax::Traefik1,
        modifiers: Vec::new(),
        wants_vars,
    }])
    .unwrap()
}

fn templated(max_targets: usize) -> TemplatedServer {
    let list = AllowList {
        networks: Vec::new(),
        hosts: vec!["*.cams.internal".into()],
    };
    let fence = Arc::new(Fence::new(&list, Resolver::System).unwrap());
    let upstreams = Upstreams::new(&ForwardingTimeouts::default(), &BackendTls::default()).unwrap();
    TemplatedServer::new(
        "s".into(),
        Scheme::Http,
        "{device}.cams.internal:8080",
        fence,
        Arc::new(upstreams),
        max_targets,
    )
}

fn uris(devices: usize) -> Vec<Uri> {
    (0..devices)
        .map(|i| format!("/cam/dev-{i:05}/stream?fps=10").parse().unwrap())
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::HOST,
        HeaderValue::from_static("cams.example.com"),
    );
    let method = Method::GET;
    let mut group = c.benchmark_group("fleet");

    let plain = router(false);
    let uri: Uri = "/cam/dev-00000/stream?fps=10".parse().unwrap();
    group.bench_function("plain backend (no variables)", |b| {
        b.iter(|| black_box(plain.route(&method, black_box(&uri), &headers, CLIENT)))
    });

    let with_vars = router(true);
    for devices in [1usize, 10_000] {
        let server = templated(devices);
        let uris = uris(devices);
        // Every target is in the table before timing: the steady state.
        for uri in &uris {
            let m = with_vars.route(&method, uri, &headers, CLIENT).unwrap();
            server.target(&m.vars).unwrap();
        }
        assert_eq!(server.len(), devices);
        let mut next = 0usize;
        group.bench_with_input(BenchmarkId::new("templated", devices), &devices, |b, _| {
            b.iter(|| {
                let uri = &uris[next % uris.len()];
                next = next.wrapping_add(1);
                let m = with_vars
                    .route(&method, black_box(uri), &headers, CLIENT)
                    .unwrap();
                black_box(server.target(&m.vars).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
