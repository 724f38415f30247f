//! Per-request cost of a WebAssembly plugin with a warm instance:
//! `on_request` + `on_response` through the host, for
//! - `baseline`: building the request and response, no plugin (subtract it);
//! - `noop`: a guest that only returns "continue" (the host's own cost);
//! - `basic-auth/cached`: the built-in basic-auth plugin, bcrypt user, with
//!   the credential already verified once (the steady state);
//! - `basic-auth/chain`: the same through a one-plugin `Chain`, its futures
//!   boxed as the server boxes them;
//! - `headers`: the built-in headers plugin setting a few headers each way;
//! - `call/sync` vs `call/async`: one call of an empty wasm function, to
//!   see what running guests on fibers (`call_async`, which lets a guest
//!   yield and be stopped at its deadline) costs over plain calls.
//!
//! Run: `cargo bench -p tollgate --bench wasm -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use http::{Request, Response};
use serde_json::json;
use tollgate::body::ProxyBody;
use tollgate::wasm::{
    builtin, Chain, ChainOutcome, Outcome, Plugin, PluginHost, PluginSource, PluginSpec,
};

/// `test:password`, bcrypt cost 10 (as `htpasswd -B` writes by default).
const BCRYPT_USER: &str = "test:$2y$10$IgmoIgmoIgmoIgmoIgmoIe8sFypzg5Rusky2yX8M/N658cZW927cW";
const GOOD_BASIC: &str = "Basic dGVzdDpwYXNzd29yZA==";

fn client() -> SocketAddr {
    "192.0.2.7:40123".parse().unwrap()
}

fn request() -> Request<ProxyBody> {
    Request::builder()
        .uri("/zumi01/api/contents?type=notebook")
        .header("host", "zumi.example")
        .header("user-agent", "bench")
        .header("accept", "*/*")
        .header("authorization", GOOD_BASIC)
        .body(ProxyBody::empty())
        .unwrap()
}

fn response() -> Response<ProxyBody> {
    Response::builder()
        .header("content-type", "application/json")
        .header("content-length", "2")
        .body(ProxyBody::full("{}"))
        .unwrap()
}

async fn round_trip(plugin: &Arc<Plugin>) -> Response<ProxyBody> {
    match plugin.on_request(request(), client()).await {
        Outcome::Continue(req, hook) => {
            black_box(req);
            hook.on_response(response()).await
        }
        Outcome::Respond(resp) => panic!("plugin answered {}", resp.status()),
    }
}

async fn chain_round_trip(chain: &Chain) -> Response<ProxyBody> {
    match Box::pin(chain.on_request(request(), client())).await {
        ChainOutcome::Continue(req, hook) => {
            black_box(req);
            Box::pin(hook.on_response(response())).await
        }
        ChainOutcome::Respond(resp) => panic!("chain answered {}", resp.status()),
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let host = PluginHost::new().unwrap();

    c.bench_function("wasm/baseline", |b| {
        b.iter(|| rt.block_on(async { black_box((request(), response())) }))
    });

    let dir = builtin::wasm_dir().expect("plugins built by proxy/build.rs");
    let mut noop = PluginSpec::new("noop", PluginSource::Path(dir.join("misbehave.wasm")));
    noop.config_json = br#"{"mode":"noop"}"#.to_vec();
    let noop = host.load(&noop).unwrap();
    c.bench_function("wasm/noop", |b| b.iter(|| rt.block_on(round_trip(&noop))));

    let mut auth = PluginSpec::new("auth", PluginSource::Builtin(builtin::BASIC_AUTH));
    auth.config_json =
        builtin::basic_auth_config(&[BCRYPT_USER.to_string()], None, None, false, None).unwrap();
    auth.pool_size = 1;
    let auth = host.load(&auth).unwrap();
    let first = std::time::Instant::now();
    rt.block_on(round_trip(&auth));
    eprintln!(
        "basic-auth: first (bcrypt) request took {:?}",
        first.elapsed()
    );
    c.bench_function("wasm/basic-auth/cached", |b| {
        b.iter(|| rt.block_on(round_trip(&auth)))
    });
    // As the server runs a frontend's middleware: the chain's futures boxed.
    let chain = Chain::new(vec![auth.clone()]);
    c.bench_function("wasm/basic-auth/chain", |b| {
        b.iter(|| rt.block_on(chain_round_trip(&chain)))
    });

    let mut headers = PluginSpec::new("headers", PluginSource::Builtin(builtin::HEADERS));
    headers.config_json = json!({
        "customRequestHeaders": {"X-Script-Name": "/zumi01"},
        "customResponseHeaders": {"X-Served-By": "tollgate", "Server": ""},
        "frameDeny": true, "contentTypeNosniff": true
    })
    .to_string()
    .into_bytes();
    let headers = host.load(&headers).unwrap();
    c.bench_function("wasm/headers", |b| {
        b.iter(|| rt.block_on(round_trip(&headers)))
    });
}

/// The raw cost of entering wasm, synchronously and on a fiber.
fn call_overhead(c: &mut Criterion) {
    use wasmtime::{
        Config, Engine, Instance, InstanceAllocationStrategy, Module, PoolingAllocationConfig,
        Store,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // As tollgate's engine: pooling (fiber stacks come from the pool).
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(10)
        .total_memories(10)
        .total_tables(10)
        .total_stacks(10)
        .async_stack_keep_resident(64 << 10);
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config).unwrap();
    let wasm =
        wat::parse_str(r#"(module (func (export "f") (result i64) (i64.const 1)))"#).unwrap();
    let module = Module::new(&engine, wasm).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_epoch_deadline(1_000_000);
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let f = instance.get_typed_func::<(), i64>(&mut store, "f").unwrap();
    c.bench_function("wasm/call/sync", |b| {
        b.iter(|| black_box(f.call(&mut store, ()).unwrap()))
    });
    c.bench_function("wasm/call/block_on-only", |b| {
        b.iter(|| rt.block_on(async { black_box(1) }))
    });
    c.bench_function("wasm/call/async", |b| {
        b.iter(|| rt.block_on(async { black_box(f.call_async(&mut store, ()).await.unwrap()) }))
    });
}

criterion_group!(benches, bench, call_overhead);
criterion_main!(benches);
