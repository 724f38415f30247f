//! The host against real modules: the built-in plugins, the `misbehave` and
//! `http-wasm-guest` test guests built by `proxy/build.rs`, and small
//! hand-written WAT modules for the ABI's exact rules.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};

use super::*;
use crate::body::ProxyBody;

/// One host for the tests (as in the process: one engine).
fn host() -> Arc<PluginHost> {
    static HOST: OnceLock<Arc<PluginHost>> = OnceLock::new();
    HOST.get_or_init(|| PluginHost::with_code_cache(None).expect("engine"))
        .clone()
}

fn wasm(name: &str) -> PathBuf {
    let dir = builtin::wasm_dir().expect("plugins built by proxy/build.rs");
    let path = dir.join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} missing: run plugins/build.sh",
        path.display()
    );
    path
}

fn spec(name: &str, source: PluginSource, config: Value) -> PluginSpec {
    let mut spec = PluginSpec::new(name, source);
    spec.config_json = config.to_string().into_bytes();
    spec
}

fn load(spec: &PluginSpec) -> Arc<Plugin> {
    host().load(spec).unwrap_or_else(|e| panic!("{e}"))
}

fn misbehave(config: Value) -> Arc<Plugin> {
    load(&spec(
        "misbehave",
        PluginSource::Path(wasm("misbehave")),
        config,
    ))
}

/// The built-in headers plugin with this config.
fn headers_plugin(config: Value) -> Arc<Plugin> {
    load(&spec(
        "headers",
        PluginSource::Builtin(builtin::HEADERS),
        config,
    ))
}

/// The misbehave plugin on a host (and so an epoch thread) of its own, for
/// tests of that thread: guests of other tests, running in parallel on the
/// shared host, would keep its thread ticking.
fn misbehave_alone(config: Value) -> Arc<Plugin> {
    PluginHost::with_code_cache(None)
        .unwrap()
        .load(&spec(
            "alone",
            PluginSource::Path(wasm("misbehave")),
            config,
        ))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn client() -> SocketAddr {
    "192.0.2.7:40123".parse().unwrap()
}

fn get(uri: &str) -> http::request::Builder {
    Request::builder().uri(uri).header("host", "example.test")
}

fn empty(b: http::request::Builder) -> Request<ProxyBody> {
    b.body(ProxyBody::empty()).unwrap()
}

fn upstream(status: u16, body: &'static str) -> Response<ProxyBody> {
    let mut resp = Response::new(ProxyBody::full(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap();
    resp.headers_mut()
        .insert("content-length", HeaderValue::from(body.len()));
    resp
}

async fn text<B>(body: B) -> String
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[track_caller]
fn continued(outcome: Outcome) -> (Request<ProxyBody>, ResponseHook) {
    match outcome {
        Outcome::Continue(req, hook) => (req, hook),
        Outcome::Respond(resp) => panic!("expected Continue, got {}", resp.status()),
    }
}

#[track_caller]
fn responded(outcome: Outcome) -> Response<ProxyBody> {
    match outcome {
        Outcome::Respond(resp) => resp,
        Outcome::Continue(req, _) => panic!("expected Respond, request continued: {:?}", req.uri()),
    }
}

// === built-in plugins ===

const APR1_USER: &str = "test:$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/";
/// "test:password"
const GOOD_BASIC: &str = "Basic dGVzdDpwYXNzd29yZA==";

#[tokio::test]
async fn basic_auth_builtin_challenges_and_admits() {
    let config = builtin::basic_auth_config(
        &[APR1_USER.to_string()],
        None,
        Some("zumi"),
        true,
        Some("X-WebAuth-User"),
    )
    .unwrap();
    let mut s = PluginSpec::new("auth", PluginSource::Builtin(builtin::BASIC_AUTH));
    s.config_json = config;
    assert_eq!(s.timeout, BASIC_AUTH_TIMEOUT);
    let plugin = load(&s);

    let resp = responded(plugin.on_request(empty(get("/zumi01")), client()).await);
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Basic realm=\"zumi\"");
    assert_eq!(resp.headers()["content-length"], "17");
    assert_eq!(text(resp.into_body()).await, "401 Unauthorized\n");

    let req = empty(get("/zumi01").header("authorization", GOOD_BASIC));
    let (req, hook) = continued(plugin.on_request(req, client()).await);
    assert!(req.headers().get("authorization").is_none());
    assert_eq!(req.headers()["x-webauth-user"], "test");
    // It asked not to see responses: its instance is free already.
    assert_eq!(plugin.idle_instances(), 1);
    let resp = hook.on_response(upstream(200, "hi")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(text(resp.into_body()).await, "hi");
}

/// A burst of first requests does not start one cold instance (and one
/// bcrypt) per request: instances of a request-only plugin are capped at
/// the CPUs, the other requests wait for a warm one.
#[tokio::test]
async fn a_burst_reuses_a_few_warm_instances() {
    burst_reuses_a_few_warm_instances().await;
}

/// The same on two worker threads: instances come back on one thread while
/// requests wait on the other (no wake-up may be lost, or one hangs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_across_threads_reuses_a_few_warm_instances() {
    for _ in 0..5 {
        burst_reuses_a_few_warm_instances().await;
    }
}

async fn burst_reuses_a_few_warm_instances() {
    // test:password, bcrypt cost 5.
    let user = "test:$2y$05$/uaF/uaF/uaF/uaF/uaF/uI6OvKlaTOk3ln0m.b0odSA3a/u4Lm46";
    let plugin = load(&spec(
        "burst",
        PluginSource::Builtin(builtin::BASIC_AUTH),
        json!({"users": [user]}),
    ));
    let requests = (0..20).map(|_| {
        let plugin = plugin.clone();
        // Spawned: on a multi-thread runtime they run on both workers.
        tokio::spawn(async move {
            let req = empty(get("/").header("authorization", GOOD_BASIC));
            let (_, hook) = continued(plugin.on_request(req, client()).await);
            hook.on_response(upstream(200, "")).await.status()
        })
    });
    let statuses: Vec<_> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| r.expect("request task"))
        .collect();
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));
    let cpus = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    assert!(
        plugin.instances_started() as usize <= cpus,
        "{} instances for {cpus} CPUs",
        plugin.instances_started()
    );
}

#[tokio::test]
async fn headers_builtin_rewrites_both_ways() {
    let plugin = headers_plugin(json!({
        "customRequestHeaders": {"X-Script-Name": "/zumi01", "X-Drop": ""},
        "customResponseHeaders": {"X-Served-By": "tollgate"},
        "frameDeny": true
    }));
    let req = empty(get("/").header("x-drop", "1"));
    let (req, hook) = continued(plugin.on_request(req, client()).await);
    assert_eq!(req.headers()["x-script-name"], "/zumi01");
    assert!(req.headers().get("x-drop").is_none());
    let resp = hook.on_response(upstream(200, "ok")).await;
    assert_eq!(resp.headers()["x-served-by"], "tollgate");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    assert_eq!(text(resp.into_body()).await, "ok");
}

#[tokio::test]
async fn headers_builtin_redirects_plain_http_but_not_tls() {
    let plugin = headers_plugin(json!({"SSLRedirect": true, "STSSeconds": 60}));
    let resp = responded(plugin.on_request(empty(get("/a?b=1")), client()).await);
    assert_eq!(resp.status(), 301);
    assert_eq!(resp.headers()["location"], "https://example.test/a?b=1");

    let req = empty(get("/a"));
    let peer = super::Peer {
        addr: client(),
        tls: true,
    };
    let (_, hook) = continued(plugin.on_request(req, peer).await);
    let resp = hook.on_response(upstream(200, "")).await;
    assert_eq!(resp.headers()["strict-transport-security"], "max-age=60");
}

fn jwt_tokens() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/e2e/fixtures/jwt/tokens.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn jwt_builtin_verifies_tokens() {
    let tokens = jwt_tokens();
    let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/jwt-auth/testdata");
    let read = |f: &str| std::fs::read_to_string(format!("{keys}/{f}")).unwrap();
    let plugin = load(&spec(
        "jwt",
        PluginSource::Builtin(builtin::JWT_AUTH),
        json!({
            "keys": [
                {"alg": "HS256", "secret": tokens["secret"]},
                {"alg": "RS256", "publicKey": read("rsa-public.pem")},
                {"alg": "ES256", "publicKey": read("ec-public.pem")}
            ],
            "issuer": "karmen", "audience": "api",
            "forwardClaims": {"sub": "X-User-Id"}
        }),
    ));
    for name in ["hs256_valid", "rs256_valid", "es256_valid"] {
        let token = tokens[name].as_str().unwrap();
        let req = empty(get("/api").header("authorization", format!("Bearer {token}")));
        let (req, _hook) = continued(plugin.on_request(req, client()).await);
        assert_eq!(req.headers()["x-user-id"], "42", "{name}");
    }
    for (name, description) in [
        ("hs256_expired", "token expired"),
        ("hs256_wrong_key", "invalid signature"),
    ] {
        let token = tokens[name].as_str().unwrap();
        let req = empty(get("/api").header("authorization", format!("Bearer {token}")));
        let resp = responded(plugin.on_request(req, client()).await);
        assert_eq!(resp.status(), 401, "{name}");
        let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains(description), "{name}: {challenge}");
    }
}

#[test]
fn unknown_and_missing_builtins_are_load_errors() {
    let err = host()
        .load(&PluginSpec::new("x", PluginSource::Builtin("nope")))
        .err()
        .unwrap();
    assert!(matches!(err, PluginError::UnknownBuiltin(_)), "{err}");
    let err = host()
        .load(&spec(
            "auth",
            PluginSource::Builtin(builtin::BASIC_AUTH),
            json!({"users": []}),
        ))
        .err()
        .unwrap();
    assert!(err.to_string().contains("no users configured"), "{err}");
}

// === guest behaviour: state, config, bodies ===

#[tokio::test]
async fn config_json_reaches_the_guest() {
    let plugin = misbehave(json!({"mode": "echo-config", "answer": 42, "nested": {"a": [1, 2]}}));
    let resp = responded(plugin.on_request(empty(get("/")), client()).await);
    let echoed: Value = serde_json::from_str(&text(resp.into_body()).await).unwrap();
    assert_eq!(echoed["answer"], 42);
    assert_eq!(echoed["nested"]["a"][1], 2);
}

#[tokio::test]
async fn guest_state_persists_in_a_pooled_instance() {
    let plugin = misbehave(json!({"mode": "counter"}));
    for expected in 1..=3 {
        let (req, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
        assert_eq!(
            req.headers()["x-guest-count"],
            expected.to_string().as_str()
        );
        let resp = hook.on_response(upstream(200, "")).await;
        assert_eq!(
            resp.headers()["x-guest-count"],
            expected.to_string().as_str()
        );
    }
    assert_eq!(plugin.instances_started(), 1);
}

#[tokio::test]
async fn concurrent_requests_get_their_own_instances() {
    let plugin = misbehave(json!({"mode": "counter"}));
    let (_, first) = continued(plugin.on_request(empty(get("/")), client()).await);
    let (req, second) = continued(plugin.on_request(empty(get("/")), client()).await);
    // The first instance is still busy: a second one, with its own state.
    assert_eq!(req.headers()["x-guest-count"], "1");
    assert_eq!(plugin.instances_started(), 2);
    first.on_response(upstream(200, "")).await;
    second.on_response(upstream(200, "")).await;
    assert_eq!(plugin.idle_instances(), 2);
}

#[tokio::test]
async fn guest_answers_with_its_own_response() {
    let plugin = misbehave(json!({"mode": "respond"}));
    let resp = responded(plugin.on_request(empty(get("/")), client()).await);
    assert_eq!(resp.status(), 418);
    assert_eq!(resp.headers()["x-from"], "guest");
    assert_eq!(resp.headers()["content-length"], "16");
    assert_eq!(text(resp.into_body()).await, "short and stout\n");
}

#[tokio::test]
async fn bodies_stream_through_unless_the_guest_buffers() {
    let plugin = misbehave(json!({"mode": "noop"}));
    let req = get("/")
        .method("POST")
        .body(ProxyBody::full("payload"))
        .unwrap();
    let (req, hook) = continued(plugin.on_request(req, client()).await);
    assert_eq!(text(req.into_body()).await, "payload");
    let resp = hook.on_response(upstream(200, "answer")).await;
    assert_eq!(text(resp.into_body()).await, "answer");

    let plugin = misbehave(json!({"mode": "body"}));
    let req = get("/")
        .method("POST")
        .header("content-length", "5")
        .body(ProxyBody::full("hello"))
        .unwrap();
    let (req, hook) = continued(plugin.on_request(req, client()).await);
    assert_eq!(req.headers()["x-request-body-len"], "5");
    assert_eq!(req.headers()["content-length"], "5");
    assert_eq!(text(req.into_body()).await, "HELLO");
    let resp = hook.on_response(upstream(200, "world!")).await;
    assert_eq!(resp.headers()["x-response-body-len"], "6");
    assert_eq!(text(resp.into_body()).await, "WORLD!");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused() {
    let mut s = spec(
        "big",
        PluginSource::Path(wasm("misbehave")),
        json!({"mode": "body"}),
    );
    s.max_body = 4;
    let plugin = load(&s);
    let req = get("/")
        .method("POST")
        .body(ProxyBody::full("too long"))
        .unwrap();
    let resp = responded(plugin.on_request(req, client()).await);
    assert_eq!(resp.status(), 413);

    let req = get("/").method("POST").body(ProxyBody::full("ok")).unwrap();
    let (_, hook) = continued(plugin.on_request(req, client()).await);
    let resp = hook.on_response(upstream(200, "much too long")).await;
    assert_eq!(resp.status(), 502);
}

#[tokio::test]
async fn third_party_guest_runs_unmodified() {
    let plugin = load(&spec(
        "compat",
        PluginSource::Path(wasm("http-wasm-guest-compat")),
        json!({"hello": "world"}),
    ));
    let req = empty(get("/compat/ok?x=1").method("PUT"));
    let (req, hook) = continued(plugin.on_request(req, client()).await);
    let h = req.headers();
    assert_eq!(h["x-compat-guest"], "http-wasm-guest");
    assert_eq!(h["x-compat-method"], "PUT");
    assert_eq!(h["x-compat-uri"], "/compat/ok?x=1");
    assert_eq!(h["x-compat-version"], "HTTP/1.1");
    assert_eq!(h["x-compat-source"], "192.0.2.7:40123");
    assert_eq!(h["x-compat-config"], r#"{"hello":"world"}"#);
    let resp = hook.on_response(upstream(204, "")).await;
    assert_eq!(resp.headers()["x-compat-status"], "204");

    let resp = responded(
        plugin
            .on_request(empty(get("/compat/deny")), client())
            .await,
    );
    assert_eq!(resp.status(), 403);
    assert_eq!(text(resp.into_body()).await, "denied by http-wasm-guest\n");
}

/// Values longer than the guest's read buffer (2 KiB in `http-wasm-guest`,
/// 256 bytes at first in our SDK): the buffer-limit rule makes the guest
/// retry with room for them.
#[tokio::test]
async fn long_values_go_through_the_retry_path() {
    let long_path = format!("/{}", "a".repeat(5000));
    let compat = load(&spec(
        "compat-long",
        PluginSource::Path(wasm("http-wasm-guest-compat")),
        json!({}),
    ));
    let (req, _hook) = continued(compat.on_request(empty(get(&long_path)), client()).await);
    assert_eq!(req.headers()["x-compat-uri"], long_path.as_str());

    let auth = load(&spec(
        "auth-long",
        PluginSource::Builtin(builtin::BASIC_AUTH),
        json!({"users": [APR1_USER]}),
    ));
    let padded = format!("{GOOD_BASIC}{}", " ".repeat(600));
    let req = empty(get("/").header("authorization", padded));
    let (_, _hook) = continued(auth.on_request(req, client()).await);
}

// === containment ===

#[tokio::test]
async fn an_endless_loop_hits_the_deadline_without_blocking_others() {
    let plugin = misbehave(json!({"mode": "noop", "modeHeader": "x-misbehave"}));
    let started = plugin.instances_started();
    let looping = async {
        let t = Instant::now();
        let req = empty(get("/").header("x-misbehave", "loop"));
        let resp = responded(plugin.on_request(req, client()).await);
        (resp.status(), t.elapsed())
    };
    // On this single-threaded runtime the looping guest yields every
    // epoch tick, so this request completes while it spins.
    let meanwhile = async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let t = Instant::now();
        let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
        hook.on_response(upstream(200, "")).await;
        t.elapsed()
    };
    let ((status, looped), quick) = tokio::join!(looping, meanwhile);
    assert_eq!(status, 500);
    assert!(looped >= DEFAULT_TIMEOUT, "{looped:?}");
    assert!(looped < Duration::from_secs(2), "{looped:?}");
    assert!(quick < Duration::from_millis(40), "blocked for {quick:?}");
    assert_eq!(plugin.failures(), 1);
    let cause = plugin.last_failure().unwrap();
    assert!(cause.contains("deadline of 50ms exceeded"), "{cause}");
    // The looping instance was dropped, the other one reused or started.
    assert!(plugin.instances_started() > started);
    let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
    hook.on_error();
}

/// The epoch thread sleeps after a second without guest code; the first
/// call after that must still be interrupted at its deadline.
#[tokio::test]
async fn deadlines_hold_after_an_idle_spell() {
    let plugin = misbehave_alone(json!({"mode": "loop"}));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = Instant::now();
    let resp = responded(plugin.on_request(empty(get("/")), client()).await);
    assert_eq!(resp.status(), 500);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}

/// Guests that return within microseconds (a cached basic-auth check) keep
/// the epoch thread on its idle period, not on 2 ms ticks: each wake-up is
/// a timer interrupt and two context switches on a core serving requests.
#[tokio::test]
async fn short_calls_do_not_keep_the_epoch_thread_ticking() {
    let plugin = misbehave_alone(json!({"mode": "noop"}));
    let ticker = plugin.shared.ticker.clone();
    let before = ticker.ticks();
    let t = Instant::now();
    let mut calls = 0;
    while t.elapsed() < Duration::from_millis(500) {
        let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
        hook.on_response(upstream(200, "")).await;
        calls += 1;
        // Between calls the guest is idle, as between requests.
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let ticks = ticker.ticks() - before;
    let elapsed = t.elapsed();
    // Ticking every 2 ms would be about 250; looking every 10 ms, about 50.
    let most = elapsed.as_millis() as u64 / (2 * super::ticker::TICK.as_millis() as u64);
    assert!(
        ticks <= most,
        "{ticks} ticks in {elapsed:?} over {calls} calls"
    );
}

#[tokio::test]
async fn unbounded_allocation_and_traps_fail_only_their_request() {
    let mut s = spec(
        "mis",
        PluginSource::Path(wasm("misbehave")),
        json!({"mode": "noop", "modeHeader": "x-misbehave"}),
    );
    s.memory = 8 << 20;
    let plugin = load(&s);
    for (mode, cause) in [
        ("alloc", "out of memory (limit 8 MiB)"),
        ("trap", "unreachable"),
    ] {
        let req = empty(get("/").header("x-misbehave", mode));
        let resp = responded(plugin.on_request(req, client()).await);
        assert_eq!(resp.status(), 500, "{mode}");
        let last = plugin.last_failure().unwrap();
        assert!(last.contains(cause), "{mode}: {last}");
        assert_eq!(text(resp.into_body()).await, "Internal Server Error\n");
        let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
        assert_eq!(hook.on_response(upstream(200, "")).await.status(), 200);
    }
    assert_eq!(plugin.failures(), 2);
}

#[tokio::test]
async fn changing_the_request_after_it_went_on_fails_the_request() {
    let plugin = misbehave(json!({"mode": "misuse"}));
    let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
    let resp = hook.on_response(upstream(200, "secret")).await;
    assert_eq!(resp.status(), 500);
    let cause = plugin.last_failure().unwrap();
    assert!(
        cause.contains("cannot change the request after it was passed on"),
        "{cause}"
    );
    assert_eq!(text(resp.into_body()).await, "Internal Server Error\n");
}

#[test]
fn guests_failing_to_start_fail_the_load_with_their_message() {
    for (mode, expected) in [
        ("init-error", "refusing to start"),
        ("init-trap", "trap"),
        ("init-loop", "deadline"),
    ] {
        let err = host()
            .load(&spec(
                "bad",
                PluginSource::Path(wasm("misbehave")),
                json!({"mode": mode}),
            ))
            .err()
            .unwrap_or_else(|| panic!("{mode} loaded"));
        assert!(matches!(err, PluginError::Start { .. }), "{mode}: {err}");
        assert!(err.to_string().contains(expected), "{mode}: {err}");
    }
}

#[test]
fn invalid_modules_and_limits_are_load_errors() {
    let dir = temp_dir("invalid");
    let file = dir.join("junk.wasm");
    std::fs::write(&file, b"not wasm").unwrap();
    let err = host()
        .load(&PluginSpec::new("junk", PluginSource::Path(file)))
        .err()
        .unwrap();
    assert!(matches!(err, PluginError::Compile { .. }), "{err}");

    let no_exports = write_wat(&dir, "noexp", r#"(module (memory (export "memory") 1))"#);
    let err = host()
        .load(&PluginSpec::new("noexp", PluginSource::Path(no_exports)))
        .err()
        .unwrap();
    assert!(err.to_string().contains("handle_request"), "{err}");

    let mut s = PluginSpec::new("big", PluginSource::Path(wasm("misbehave")));
    s.memory = 2 * MAX_MEMORY;
    assert!(matches!(host().load(&s), Err(PluginError::Invalid { .. })));
    let err = host()
        .load(&PluginSpec::new(
            "gone",
            PluginSource::Path("/nonexistent.wasm".into()),
        ))
        .err()
        .unwrap();
    assert!(matches!(err, PluginError::Io { .. }), "{err}");
}

/// Captures what tollgate logs on this thread.
#[derive(Clone, Default)]
struct LogCapture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[test]
fn guest_output_and_failures_reach_the_log_with_the_plugin_name() {
    let capture = LogCapture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let plugin = load(&spec(
                "talkative",
                PluginSource::Path(wasm("misbehave")),
                json!({"mode": "stdout", "modeHeader": "x-misbehave"}),
            ));
            // Other tests, on other threads without this subscriber, may
            // have cached a callsite's interest as "never" in the moment
            // this subscriber was being registered (a race in tracing's
            // global callsite cache): have every callsite ask again.
            tracing::callsite::rebuild_interest_cache();
            let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
            hook.on_response(upstream(200, "")).await;
            let req = empty(get("/").header("x-misbehave", "trap"));
            responded(plugin.on_request(req, client()).await);
            // Instances (and their stdout) are dropped with the plugin.
            drop(plugin);
        });
    });
    let logs = capture.text();
    for expected in [
        "misbehave says hello on stdout",
        "misbehave says hello on stderr",
        "misbehave says hello through log",
        "plugin=\"talkative\"",
        "unreachable",
    ] {
        assert!(logs.contains(expected), "missing {expected:?} in:\n{logs}");
    }
    let failure = logs
        .lines()
        .find(|l| l.contains("ERROR"))
        .unwrap_or_else(|| panic!("no error line:\n{logs}"));
    assert!(
        failure.contains("talkative") && failure.contains("trap"),
        "{failure}"
    );
}

// === module cache and reloads ===

/// A directory of its own under the system's temp dir, removed (with what
/// a test wrote there) when dropped.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tollgate-wasm-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

#[test]
fn unchanged_files_reuse_the_compiled_module() {
    // A host of its own: the count must not see other tests' loads.
    let host = PluginHost::with_code_cache(None).unwrap();
    let dir = temp_dir("cache");
    let file = dir.join("plugin.wasm");
    std::fs::copy(wasm("misbehave"), &file).unwrap();
    let s = PluginSpec::new("p", PluginSource::Path(file.clone()));
    let first = host.load(&s).unwrap();
    let second = host.load(&s).unwrap();
    assert_eq!(host.modules_compiled(), 1);
    assert!(first.file_unchanged());
    assert_eq!(first.spec(), &s);

    // Changed bytes: compiled again.
    std::fs::copy(wasm("http-wasm-guest-compat"), &file).unwrap();
    assert!(!first.file_unchanged());
    let _third = host.load(&s).unwrap();
    assert_eq!(host.modules_compiled(), 2);
    drop((first, second));
}

#[tokio::test]
async fn dropping_a_plugin_frees_its_instances() {
    let host = PluginHost::with_code_cache(None).unwrap();
    if !host.pooling() {
        return;
    }
    let baseline = host.live_instances().unwrap();
    for _round in 0..3 {
        // A "reload": new plugin, some traffic, old plugin dropped.
        let plugin = host
            .load(&spec(
                "r",
                PluginSource::Path(wasm("misbehave")),
                json!({"mode": "counter"}),
            ))
            .unwrap();
        let mut hooks = Vec::new();
        for _ in 0..5 {
            let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
            hooks.push(hook);
        }
        assert_eq!(host.live_instances().unwrap(), baseline + 5);
        for hook in hooks {
            hook.on_response(upstream(200, "")).await;
        }
        drop(plugin);
        assert_eq!(host.live_instances().unwrap(), baseline);
    }
}

#[tokio::test]
async fn a_dropped_hook_gives_the_instance_back() {
    let plugin = misbehave(json!({"mode": "counter"}));
    let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
    assert_eq!(plugin.idle_instances(), 0);
    drop(hook);
    // handle_response(is_error = 1) runs in a task.
    for _ in 0..100 {
        if plugin.idle_instances() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(plugin.idle_instances(), 1);
    assert_eq!(plugin.failures(), 0);
}

#[tokio::test]
async fn chain_runs_in_order_and_earlier_plugins_see_a_refusal() {
    let headers = headers_plugin(json!({"customResponseHeaders": {"X-Chain": "headers"}}));
    let mut auth = PluginSpec::new("auth", PluginSource::Builtin(builtin::BASIC_AUTH));
    auth.config_json =
        builtin::basic_auth_config(&[APR1_USER.to_string()], None, None, false, None).unwrap();
    let chain = Chain::new(vec![headers, load(&auth)]);

    match chain.on_request(empty(get("/")), client()).await {
        ChainOutcome::Respond(resp) => {
            assert_eq!(resp.status(), 401);
            assert_eq!(resp.headers()["x-chain"], "headers");
        }
        ChainOutcome::Continue(..) => panic!("no credentials passed"),
    }
    let req = empty(get("/").header("authorization", GOOD_BASIC));
    match chain.on_request(req, client()).await {
        ChainOutcome::Continue(_, hook) => {
            let resp = hook.on_response(upstream(200, "")).await;
            assert_eq!(resp.headers()["x-chain"], "headers");
        }
        ChainOutcome::Respond(resp) => panic!("refused: {}", resp.status()),
    }
}

/// The chain hands one exchange from plugin to plugin: each must see the
/// request as the one before left it (headers, and a body it rewrote, read
/// from its start), and the upstream the last one's.
#[tokio::test]
async fn each_plugin_of_a_chain_sees_the_request_as_the_one_before_left_it() {
    let headers = headers_plugin(json!({"customRequestHeaders": {"X-First": "1"}}));
    let body = || misbehave(json!({"mode": "body"}));
    let chain = Chain::new(vec![headers, body(), body()]);
    let req = get("/")
        .method("POST")
        .header("content-length", "5")
        .body(ProxyBody::full("hello"))
        .unwrap();
    let ChainOutcome::Continue(req, hook) = chain.on_request(req, client()).await else {
        panic!("refused");
    };
    assert_eq!(req.headers()["x-first"], "1");
    // The second body plugin read the first one's rewrite, all 5 bytes.
    assert_eq!(req.headers()["x-request-body-len"], "5");
    assert_eq!(req.headers()["content-length"], "5");
    assert_eq!(text(req.into_body()).await, "HELLO");
    let resp = hook.on_response(upstream(200, "world!")).await;
    assert_eq!(resp.headers()["x-response-body-len"], "6");
    assert_eq!(text(resp.into_body()).await, "WORLD!");
}

// === the ABI's exact rules, with hand-written modules ===

fn write_wat(dir: &std::path::Path, name: &str, wat: &str) -> PathBuf {
    let bytes = wat::parse_str(wat).unwrap_or_else(|e| panic!("{name}: {e}"));
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn wat_plugin(name: &str, wat: &str, config: &str) -> Arc<Plugin> {
    // The module's bytes are read at load: the file can go afterwards.
    let dir = temp_dir(name);
    let path = write_wat(&dir, name, wat);
    let mut s = PluginSpec::new(name, PluginSource::Path(path));
    s.config_json = config.as_bytes().to_vec();
    load(&s)
}

const IMPORTS: &str = r#"
  (import "http_handler" "get_uri" (func $get_uri (param i32 i32) (result i32)))
  (import "http_handler" "get_config" (func $get_config (param i32 i32) (result i32)))
  (import "http_handler" "get_header_names" (func $names (param i32 i32 i32) (result i64)))
  (import "http_handler" "get_header_values" (func $values (param i32 i32 i32 i32 i32) (result i64)))
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (import "http_handler" "read_body" (func $read_body (param i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (import "http_handler" "enable_features" (func $features (param i32) (result i32)))
  (import "http_handler" "set_status_code" (func $set_status (param i32)))
  (import "http_handler" "get_status_code" (func $get_status (result i32)))
  (import "http_handler" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
"#;

/// A `(start ...)` function (not `_start`) may already ask for its config
/// and enable features: the memory is there, as on the reference host. The
/// config here is not JSON: a guest is given the bytes it was configured with.
#[tokio::test]
async fn start_section_reads_the_config_and_enables_features() {
    let wat = format!(
        r#"(module {IMPORTS}
  (global $len (mut i32) (i32.const 0))
  (global $features (mut i32) (i32.const 0))
  (func $init
    (global.set $len (call $get_config (i32.const 0) (i32.const 256)))
    (global.set $features (call $features (i32.const 2))))
  (start $init)
  (func (export "handle_request") (result i64)
    (i32.store (i32.const 512) (global.get $features))
    (call $write_body (i32.const 1) (i32.const 0) (global.get $len))
    (i64.const 0))
  (func (export "handle_response") (param i32 i32)))"#
    );
    let plugin = wat_plugin("start-section", &wat, "allow 10.0.0.0/8; deny all");
    let resp = responded(plugin.on_request(empty(get("/")), client()).await);
    assert_eq!(text(resp.into_body()).await, "allow 10.0.0.0/8; deny all");
}

/// A guest that sets the status and writes a body, then passes the request
/// on: as on the reference host, its status wins and its bytes go out
/// ahead of the upstream's body (whose length is corrected).
#[tokio::test]
async fn status_and_body_written_before_next_survive_it() {
    let wat = format!(
        r#"(module {IMPORTS}
  (data (i32.const 0) "early:")
  (func (export "handle_request") (result i64)
    (call $set_status (i32.const 203))
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 6))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))"#
    );
    let plugin = wat_plugin("early-body", &wat, "{}");
    let (req, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
    assert_eq!(req.uri(), "/");
    assert!(!hook.is_empty(), "the early response must reach the caller");
    let resp = hook.on_response(upstream(200, "from the backend")).await;
    assert_eq!(resp.status(), 203);
    assert_eq!(resp.headers()["content-length"], "22");
    assert_eq!(text(resp.into_body()).await, "early:from the backend");

    // Only a status: the upstream's body as it is.
    let wat = format!(
        r#"(module {IMPORTS}
  (func (export "handle_request") (result i64)
    (call $set_status (i32.const 299))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))"#
    );
    let plugin = wat_plugin("early-status", &wat, "{}");
    let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
    let resp = hook.on_response(upstream(200, "body")).await;
    assert_eq!(resp.status(), 299);
    assert_eq!(resp.headers()["content-length"], "4");
    assert_eq!(text(resp.into_body()).await, "body");
}

/// Response headers set in `handle_request` before passing on win over the
/// upstream's, also from a guest that skips `handle_response` (tollgate's
/// feature bit 31, which the SDK sets for plugins without `on_response`).
#[tokio::test]
async fn response_headers_set_before_next_survive_it() {
    for (name, features) in [
        ("sees-response", 0),
        ("skips-response", 0x8000_0000u32 as i32),
    ] {
        let wat = format!(
            r#"(module {IMPORTS}
  (data (i32.const 0) "x-handled")
  (data (i32.const 16) "1")
  (data (i32.const 32) "server")
  (data (i32.const 48) "tollgate-guest")
  (func (export "handle_request") (result i64)
    (drop (call $features (i32.const {features})))
    (call $set (i32.const 1) (i32.const 0) (i32.const 9) (i32.const 16) (i32.const 1))
    (call $set (i32.const 1) (i32.const 32) (i32.const 6) (i32.const 48) (i32.const 14))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))"#
        );
        let plugin = wat_plugin(name, &wat, "{}");
        let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
        let mut upstream = upstream(200, "body");
        upstream
            .headers_mut()
            .insert("server", HeaderValue::from_static("backend"));
        let resp = hook.on_response(upstream).await;
        assert_eq!(resp.headers()["x-handled"], "1", "{name}");
        assert_eq!(resp.headers()["server"], "tollgate-guest", "{name}");
        assert_eq!(resp.headers()["content-length"], "4", "{name}");
        assert_eq!(text(resp.into_body()).await, "body", "{name}");
    }
}

/// What the guest reads of the request is the request as it came: every
/// method (TRACE and PATCH too), the raw target (escapes and dot segments
/// untouched), the client as `IP:port`, and a repeated header as separate
/// values (NUL-terminated, counted in the high 32 bits).
#[tokio::test]
async fn the_guest_reads_the_request_as_it_came() {
    let wat = format!(
        r#"(module
  (import "http_handler" "get_method" (func $get_method (param i32 i32) (result i32)))
  (import "http_handler" "get_source_addr" (func $get_source_addr (param i32 i32) (result i32)))
  {IMPORTS}
  (data (i32.const 0) "x-multi")
  (data (i32.const 8) "\n")
  (func $out (param $ptr i32) (param $len i32)
    (call $write_body (i32.const 1) (local.get $ptr) (local.get $len))
    (call $write_body (i32.const 1) (i32.const 8) (i32.const 1)))
  (func (export "handle_request") (result i64)
    (local $v i64)
    (call $out (i32.const 100) (call $get_method (i32.const 100) (i32.const 100)))
    (call $out (i32.const 200) (call $get_uri (i32.const 200) (i32.const 200)))
    (call $out (i32.const 400) (call $get_source_addr (i32.const 400) (i32.const 100)))
    (local.set $v (call $values (i32.const 0) (i32.const 0) (i32.const 7) (i32.const 500) (i32.const 200)))
    (i32.store8 (i32.const 600) (i32.add (i32.const 48) (i32.wrap_i64 (i64.shr_u (local.get $v) (i64.const 32)))))
    (call $out (i32.const 600) (i32.const 1))
    (call $out (i32.const 500) (i32.wrap_i64 (local.get $v)))
    (i64.const 0))
  (func (export "handle_response") (param i32 i32)))"#
    );
    let plugin = wat_plugin("reads-request", &wat, "{}");
    for method in ["GET", "TRACE", "PATCH", "PURGE"] {
        let req = Request::builder()
            .method(method)
            .uri("/a%2Fb/../c?x=1&y")
            .header("host", "example.test")
            .header("x-multi", "1")
            .header("x-multi", "2, 3")
            .body(ProxyBody::empty())
            .unwrap();
        let resp = responded(plugin.on_request(req, client()).await);
        let body = text(resp.into_body()).await;
        assert_eq!(
            body,
            format!("{method}\n/a%2Fb/../c?x=1&y\n192.0.2.7:40123\n2\n1\02, 3\0\n"),
            "{method}"
        );
    }
}

/// A guest that buffers and reads both bodies without writing them leaves
/// them as they were: the upstream gets the whole request body, the client
/// the whole response body.
#[tokio::test]
async fn buffered_bodies_that_were_only_read_are_still_forwarded() {
    let wat = format!(
        r#"(module {IMPORTS}
  (func $init (drop (call $features (i32.const 3))))
  (start $init)
  (func (export "handle_request") (result i64)
    (drop (call $read_body (i32.const 0) (i32.const 100) (i32.const 1024)))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)
    (drop (call $read_body (i32.const 1) (i32.const 100) (i32.const 1024)))))"#
    );
    let plugin = wat_plugin("read-only", &wat, "{}");
    let req = get("/")
        .method("POST")
        .header("content-length", "7")
        .body(ProxyBody::full("payload"))
        .unwrap();
    let (req, hook) = continued(plugin.on_request(req, client()).await);
    assert_eq!(req.headers()["content-length"], "7");
    assert_eq!(text(req.into_body()).await, "payload");
    let resp = hook.on_response(upstream(200, "the answer")).await;
    assert_eq!(resp.headers()["content-length"], "10");
    assert_eq!(text(resp.into_body()).await, "the answer");
}

/// In `handle_response` the guest sees the backend's status and may change
/// the status and headers of a streamed body (the head is not sent yet);
/// the body streams through untouched.
#[tokio::test]
async fn handle_response_sees_the_status_and_may_change_the_head() {
    let wat = format!(
        r#"(module {IMPORTS}
  (data (i32.const 0) "x-upstream-status")
  (data (i32.const 32) "x-added")
  (data (i32.const 48) "yes")
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32)
    ;; the backend's status as three digits at 64
    (local $code i32)
    (local.set $code (call $get_status))
    (i32.store8 (i32.const 64) (i32.add (i32.const 48) (i32.div_u (local.get $code) (i32.const 100))))
    (i32.store8 (i32.const 65) (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $code) (i32.const 10)) (i32.const 10))))
    (i32.store8 (i32.const 66) (i32.add (i32.const 48) (i32.rem_u (local.get $code) (i32.const 10))))
    (call $set (i32.const 1) (i32.const 0) (i32.const 17) (i32.const 64) (i32.const 3))
    (call $set (i32.const 1) (i32.const 32) (i32.const 7) (i32.const 48) (i32.const 3))
    (call $set_status (i32.const 203))))"#
    );
    let plugin = wat_plugin("response-head", &wat, "{}");
    let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
    let resp = hook.on_response(upstream(404, "not here")).await;
    assert_eq!(resp.status(), 203);
    assert_eq!(resp.headers()["x-upstream-status"], "404");
    assert_eq!(resp.headers()["x-added"], "yes");
    assert_eq!(resp.headers()["content-length"], "8");
    assert_eq!(text(resp.into_body()).await, "not here");
}

/// A guest that writes the response body in `handle_response` (without
/// buffering it) replaces the backend's body, its length corrected.
#[tokio::test]
async fn handle_response_may_replace_a_streamed_body() {
    let wat = format!(
        r#"(module {IMPORTS}
  (data (i32.const 0) "replaced by the plugin")
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32)
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 22))))"#
    );
    let plugin = wat_plugin("replace-body", &wat, "{}");
    let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
    let resp = hook.on_response(upstream(200, "from the backend")).await;
    assert_eq!(resp.headers()["content-length"], "22");
    assert_eq!(text(resp.into_body()).await, "replaced by the plugin");
}

/// Results go to the response body: the guest stores them at 1024.. and
/// writes that memory out.
#[tokio::test]
async fn buffer_limits_write_nothing_and_return_the_length() {
    let wat = format!(
        r#"(module {IMPORTS}
  (data (i32.const 0) "x-long")
  (func (export "handle_request") (result i64)
    (memory.fill (i32.const 100) (i32.const 0xAA) (i32.const 16))
    ;; too small: nothing written at 100, length returned
    (i32.store (i32.const 1024) (call $get_uri (i32.const 100) (i32.const 2)))
    ;; big enough: written at 200
    (i32.store (i32.const 1028) (call $get_uri (i32.const 200) (i32.const 64)))
    ;; header values: limit 0 learns count and length
    (i64.store (i32.const 1032) (call $values (i32.const 0) (i32.const 0) (i32.const 6) (i32.const 300) (i32.const 0)))
    (i64.store (i32.const 1040) (call $values (i32.const 0) (i32.const 0) (i32.const 6) (i32.const 300) (i32.const 64)))
    ;; header names, lowercase, NUL-terminated
    (i64.store (i32.const 1048) (call $names (i32.const 0) (i32.const 400) (i32.const 256)))
    (call $write_body (i32.const 1) (i32.const 1024) (i32.const 32))
    (call $write_body (i32.const 1) (i32.const 100) (i32.const 16))
    (call $write_body (i32.const 1) (i32.const 200) (i32.const 8))
    (call $write_body (i32.const 1) (i32.const 300) (i32.const 8))
    (call $write_body (i32.const 1) (i32.const 400) (i32.wrap_i64 (i64.load (i32.const 1048))))
    (i64.const 0))
  (func (export "handle_response") (param i32 i32)))"#
    );
    let plugin = wat_plugin("limits", &wat, "");
    let req = empty(
        get("/abc?q=1")
            .header("X-Long", "one")
            .header("x-long", "two"),
    );
    let resp = responded(plugin.on_request(req, client()).await);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let u32_at = |i: usize| u32::from_le_bytes(body[i..i + 4].try_into().unwrap());
    let u64_at = |i: usize| u64::from_le_bytes(body[i..i + 8].try_into().unwrap());
    assert_eq!(u32_at(0), 8, "uri length returned though it did not fit");
    assert_eq!(u32_at(4), 8);
    assert_eq!(u64_at(8), (2 << 32) | 8, "count 2, \"one\\0two\\0\"");
    assert_eq!(u64_at(16), (2 << 32) | 8);
    let names_len = (u64_at(24) & 0xffff_ffff) as usize;
    assert_eq!(u64_at(24) >> 32, 2, "host and x-long");
    assert_eq!(
        &body[32..48],
        &[0xAA; 16],
        "nothing written for a short buffer"
    );
    assert_eq!(&body[48..56], b"/abc?q=1");
    assert_eq!(&body[56..64], b"one\0two\0");
    let names = &body[64..64 + names_len];
    assert!(
        names.split(|&b| b == 0).any(|n| n == b"x-long"),
        "{names:?}"
    );
    assert!(names.split(|&b| b == 0).any(|n| n == b"host"), "{names:?}");
}

/// A reactor module (`_initialize`) enabling `buffer_response` for good at
/// start, reading its config, and rewriting the upstream's response with
/// the `ctx` it passed itself.
#[tokio::test]
async fn reactor_with_global_features_and_request_context() {
    let wat = format!(
        r#"(module {IMPORTS}
  (global $config_len (mut i32) (i32.const 0))
  (func (export "_initialize")
    (drop (call $features (i32.const 2)))
    (global.set $config_len (call $get_config (i32.const 512) (i32.const 256))))
  (func (export "handle_request") (result i64)
    (i64.or (i64.shl (i64.const 7) (i64.const 32)) (i64.const 1)))
  (func (export "handle_response") (param $ctx i32) (param $err i32)
    ;; read what the upstream sent (buffered), then replace it
    (drop (call $read_body (i32.const 1) (i32.const 600) (i32.const 64)))
    (call $set_status (i32.add (i32.const 194) (local.get $ctx)))
    (call $write_body (i32.const 1) (i32.const 512) (global.get $config_len))
    (call $write_body (i32.const 1) (i32.const 600) (i32.const 8))))"#
    );
    let plugin = wat_plugin("reactor", &wat, "cfg=1;");
    let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
    let resp = hook.on_response(upstream(200, "upstream")).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["content-length"], "14");
    assert_eq!(text(resp.into_body()).await, "cfg=1;upstream");
}

/// Each misuse traps: the request gets a 500, the instance is dropped.
#[tokio::test]
async fn misuse_traps() {
    let cases = [
        ("zero_read", "(drop (call $read_body (i32.const 0) (i32.const 0) (i32.const 0)))"),
        (
            "out_of_bounds",
            "(drop (call $values (i32.const 0) (i32.const 0xFFFFFFF0) (i32.const 64) (i32.const 0) (i32.const 0)))",
        ),
        ("bad_kind", "(call $set (i32.const 9) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))"),
        ("empty_name", "(call $set (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1))"),
        ("bad_status", "(call $set_status (i32.const 42))"),
        (
            "trailer_without_feature",
            "(call $set (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))",
        ),
    ];
    for (name, call) in cases {
        let wat = format!(
            r#"(module {IMPORTS}
  (data (i32.const 0) "x")
  (func (export "handle_request") (result i64) {call} (i64.const 1))
  (func (export "handle_response") (param i32 i32)))"#
        );
        let plugin = wat_plugin(name, &wat, "");
        let resp = responded(plugin.on_request(empty(get("/")), client()).await);
        assert_eq!(resp.status(), 500, "{name}");
        assert_eq!(plugin.failures(), 1, "{name}");
        let cause = plugin.last_failure().unwrap();
        assert!(cause.contains("ABI misuse"), "{name}: {cause}");
    }

    // A log call with a bad pointer is ignored, as the ABI says.
    let wat = format!(
        r#"(module {IMPORTS}
  (func (export "handle_request") (result i64)
    (call $log (i32.const 0) (i32.const 0xFFFFFFF0) (i32.const 64)) (i64.const 1))
  (func (export "handle_response") (param i32 i32)))"#
    );
    let plugin = wat_plugin("bad_log", &wat, "");
    let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
    hook.on_error();
}

/// Trailers: readable once the body is buffered, settable with the
/// trailers feature, and sent after the body.
#[tokio::test]
async fn request_trailers_with_the_feature() {
    let wat = format!(
        r#"(module {IMPORTS}
  (data (i32.const 0) "x-t")
  (data (i32.const 8) "1")
  (data (i32.const 16) "x-orig")
  (func (export "handle_request") (result i64)
    (drop (call $features (i32.const 5)))
    (drop (call $read_body (i32.const 0) (i32.const 100) (i32.const 64)))
    ;; the trailer that came with the body is visible
    (if (i64.eqz (call $values (i32.const 2) (i32.const 16) (i32.const 6) (i32.const 200) (i32.const 64)))
      (then unreachable))
    (call $set (i32.const 2) (i32.const 0) (i32.const 3) (i32.const 8) (i32.const 1))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))"#
    );
    let plugin = wat_plugin("trailers", &wat, "");
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-orig", HeaderValue::from_static("yes"));
    let body = ProxyBody::buffered(Bytes::from_static(b"data"), Some(trailers));
    let req = get("/").method("POST").body(body).unwrap();
    let (req, hook) = continued(plugin.on_request(req, client()).await);
    let collected = req.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap();
    assert_eq!(trailers["x-orig"], "yes");
    assert_eq!(trailers["x-t"], "1");
    assert_eq!(collected.to_bytes(), Bytes::from_static(b"data"));
    hook.on_error();
}

/// Response trailers (gRPC's `grpc-status`): with `buffer_response` and
/// the trailers feature, `handle_response` reads the backend's trailers and
/// may add its own; both go out after the body. Without the feature they
/// read as absent, as the ABI says.
#[tokio::test]
async fn response_trailers_with_the_feature() {
    let guest = |features: u32| {
        format!(
            r#"(module {IMPORTS}
  (data (i32.const 0) "grpc-status")
  (data (i32.const 16) "x-checked")
  (data (i32.const 32) "yes")
  (data (i32.const 40) "absent")
  (func (export "handle_request") (result i64)
    (drop (call $features (i32.const {features})))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)
    (if (i64.eqz (call $values (i32.const 3) (i32.const 0) (i32.const 11) (i32.const 200) (i32.const 64)))
      (then
        (call $set (i32.const 1) (i32.const 16) (i32.const 9) (i32.const 40) (i32.const 6))
        (return)))
    (call $set (i32.const 3) (i32.const 16) (i32.const 9) (i32.const 32) (i32.const 3))))"#
        )
    };
    let backend = || {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        let mut resp = Response::new(ProxyBody::buffered(
            Bytes::from_static(b"reply"),
            Some(trailers),
        ));
        resp.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/grpc"));
        resp
    };

    let plugin = wat_plugin("response-trailers", &guest(6), "");
    let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
    let resp = hook.on_response(backend()).await;
    assert!(
        !resp.headers().contains_key("x-checked"),
        "{:?}",
        resp.headers()
    );
    let collected = resp.into_body().collect().await.unwrap();
    let trailers = collected
        .trailers()
        .cloned()
        .expect("trailers after the body");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["x-checked"], "yes");
    assert_eq!(collected.to_bytes(), Bytes::from_static(b"reply"));

    // Without the trailers feature the guest sees none; the backend's
    // trailers still go out.
    let plugin = wat_plugin("response-no-trailers", &guest(2), "");
    let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
    let resp = hook.on_response(backend()).await;
    assert_eq!(resp.headers()["x-checked"], "absent");
    let collected = resp.into_body().collect().await.unwrap();
    assert_eq!(collected.trailers().unwrap()["grpc-status"], "0");
}

#[tokio::test]
async fn modules_importing_unknown_functions_load_and_trap_only_if_called() {
    let wat = r#"(module
  (import "http_handler" "future_function" (func $future))
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32) (call $future)))"#;
    let plugin = wat_plugin("future", wat, "");
    let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
    assert_eq!(hook.on_response(upstream(200, "")).await.status(), 500);
}

#[tokio::test]
async fn http2_authority_is_the_host() {
    let wat = format!(
        r#"(module {IMPORTS}
  (data (i32.const 0) "host")
  (func (export "handle_request") (result i64)
    (drop (call $values (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 100) (i32.const 64)))
    (call $write_body (i32.const 1) (i32.const 100) (i32.const 11))
    (i64.const 0))
  (func (export "handle_response") (param i32 i32)))"#
    );
    let plugin = wat_plugin("authority", &wat, "");
    let req = Request::builder()
        .uri("https://h2.example/x")
        .version(http::Version::HTTP_2)
        .body(ProxyBody::empty())
        .unwrap();
    let resp = responded(plugin.on_request(req, client()).await);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, Bytes::from_static(b"h2.example\0"));
}

/// hyper needs the request path's futures to be `Send`.
#[allow(dead_code)]
fn futures_are_send(plugin: Arc<Plugin>, hook: ResponseHook, chain: Chain) {
    fn send<T: Send>(_: T) {}
    send(async move { plugin.on_request(empty(get("/")), client()).await });
    send(hook.on_response(upstream(200, "")));
    send(async move { chain.on_request(empty(get("/")), client()).await });
}

/// What a plugin adds to every request's future stays small (see `http1`
/// on boxing).
#[tokio::test]
async fn request_futures_stay_small() {
    fn size_of_val<T>(_: &T) -> usize {
        std::mem::size_of::<T>()
    }
    let plugin = misbehave(json!({"mode": "noop"}));
    let chain = Chain::new(vec![plugin.clone()]);
    let one = plugin.on_request(empty(get("/")), client());
    let all = chain.on_request(empty(get("/")), client());
    let (one, all) = (size_of_val(&one), size_of_val(&all));
    eprintln!("Plugin::on_request: {one} bytes, Chain::on_request: {all} bytes");
    assert!(one <= 448, "Plugin::on_request future: {one} bytes");
    assert!(all <= 768, "Chain::on_request future: {all} bytes");
}

/// Compiled code kept on disk (disk_cache.rs): the next host (a restart)
/// loads it instead of compiling; a damaged file, or one that others could
/// have written, is compiled again and replaced, never loaded.
#[tokio::test]
async fn compiled_code_is_kept_on_disk_for_the_next_start() {
    use std::os::unix::fs::PermissionsExt;

    let base = temp_dir("code-cache");
    let s = spec(
        "h",
        PluginSource::Builtin(builtin::HEADERS),
        json!({"customRequestHeaders": {"X-From": "cache"}}),
    );
    // A fresh host (a restart): how many modules it compiled, and whether
    // the plugin works.
    let start = || async {
        let host = PluginHost::with_code_cache(Some(base.0.clone())).unwrap();
        let plugin = host.load(&s).unwrap_or_else(|e| panic!("{e}"));
        let (req, _hook) = continued(plugin.on_request(empty(get("/")), client()).await);
        assert_eq!(req.headers()["x-from"], "cache");
        host.modules_compiled()
    };
    let code = || -> PathBuf {
        let files: Vec<PathBuf> = std::fs::read_dir(base.0.join("plugins"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].to_string_lossy().ends_with(".cwasm"));
        files[0].clone()
    };

    assert_eq!(start().await, 1, "cold: compiled");
    let file = code();
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(start().await, 0, "warm: read from disk");

    // Damaged (one byte of the code flipped): compiled again, replaced.
    let mut bytes = std::fs::read(&file).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    assert_eq!(start().await, 1, "a damaged file is not loaded");
    assert_eq!(start().await, 0, "and was replaced");

    // Cut short.
    std::fs::write(&file, &bytes[..100]).unwrap();
    assert_eq!(start().await, 1, "a short file is not loaded");

    // Writable by others: not trusted, replaced by a file of our own.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(start().await, 1, "a file others may write is not loaded");
    assert_eq!(start().await, 0);

    // A folder others may write: neither read nor written.
    let dir = base.0.join("plugins");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(start().await, 1, "a folder others may write is not used");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(start().await, 0);
}

const ROUTE_IMPORTS: &str = r#"
  (import "tollgate" "get_route_var" (func $get_var (param i32 i32 i32 i32) (result i64)))
  (import "tollgate" "set_route_var" (func $set_var (param i32 i32 i32 i32)))
"#;

/// `tollgate.get_route_var`: the rule's value (written when it fits, its
/// length either way), -1 when the request has none.
#[tokio::test]
async fn route_variables_are_read() {
    let wat = format!(
        r#"(module {ROUTE_IMPORTS} {IMPORTS}
  (data (i32.const 0) "device")
  (data (i32.const 16) "none")
  (func (export "handle_request") (result i64)
    (local $n i64)
    ;; too small a buffer: nothing written, the length (or -1) returned
    (local.set $n (call $get_var (i32.const 0) (i32.const 6) (i32.const 128) (i32.const 2)))
    (if (i32.ne (i32.load8_u (i32.const 128)) (i32.const 0)) (then unreachable))
    (if (i32.and (i64.ne (local.get $n) (i64.const 6)) (i64.ne (local.get $n) (i64.const -1)))
      (then unreachable))
    (local.set $n (call $get_var (i32.const 0) (i32.const 6) (i32.const 64) (i32.const 64)))
    (if (i64.lt_s (local.get $n) (i64.const 0))
      (then (call $write_body (i32.const 1) (i32.const 16) (i32.const 4)))
      (else (call $write_body (i32.const 1) (i32.const 64) (i32.wrap_i64 (local.get $n)))))
    (i64.const 0))
  (func (export "handle_response") (param i32 i32)))"#
    );
    let plugin = wat_plugin("route-var-read", &wat, "");
    let mut req = empty(get("/cam/zumi07"));
    let vars = vec![(Box::from("device"), "zumi07".to_string())];
    req.extensions_mut().insert(crate::router::RouteVars(vars));
    let resp = responded(plugin.on_request(req, client()).await);
    assert_eq!(text(resp.into_body()).await, "zumi07");
    let resp = responded(plugin.on_request(empty(get("/")), client()).await);
    assert_eq!(text(resp.into_body()).await, "none");
}

/// `tollgate.set_route_var`: sets or replaces a variable, which travels
/// on with the request; bad names, oversized or non-UTF-8 values and a
/// call after the request went on are misuse (500).
#[tokio::test]
async fn route_variables_are_set_and_misuse_traps() {
    let wat = format!(
        r#"(module {ROUTE_IMPORTS} {IMPORTS}
  (data (i32.const 0) "device")
  (data (i32.const 8) "zumi09")
  (data (i32.const 16) "site")
  (data (i32.const 24) "lab")
  (func (export "handle_request") (result i64)
    (call $set_var (i32.const 0) (i32.const 6) (i32.const 8) (i32.const 6))
    (call $set_var (i32.const 16) (i32.const 4) (i32.const 24) (i32.const 3))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))"#
    );
    let plugin = wat_plugin("route-var-set", &wat, "");
    let mut req = empty(get("/cam/zumi07"));
    let vars = vec![(Box::from("device"), "zumi07".to_string())];
    req.extensions_mut().insert(crate::router::RouteVars(vars));
    let (req, hook) = continued(plugin.on_request(req, client()).await);
    let vars = &req
        .extensions()
        .get::<crate::router::RouteVars>()
        .unwrap()
        .0;
    let vars: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (&**n, v.as_str())).collect();
    assert_eq!(vars, [("device", "zumi09"), ("site", "lab")]);
    hook.on_error();

    let cases = [
        (
            "empty_name",
            "(call $set_var (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 1))",
        ),
        (
            "slash_in_name",
            "(call $set_var (i32.const 32) (i32.const 3) (i32.const 8) (i32.const 1))",
        ),
        (
            "long_value",
            "(call $set_var (i32.const 0) (i32.const 6) (i32.const 0) (i32.const 254))",
        ),
        (
            "not_utf8",
            "(call $set_var (i32.const 0) (i32.const 6) (i32.const 40) (i32.const 2))",
        ),
        (
            "out_of_bounds",
            "(call $set_var (i32.const 0) (i32.const 6) (i32.const 0xFFFFFFF0) (i32.const 64))",
        ),
    ];
    for (name, call) in cases {
        let wat = format!(
            r#"(module {ROUTE_IMPORTS} {IMPORTS}
  (data (i32.const 0) "device")
  (data (i32.const 8) "x")
  (data (i32.const 32) "a/b")
  (data (i32.const 40) "\ff\fe")
  (func (export "handle_request") (result i64) {call} (i64.const 1))
  (func (export "handle_response") (param i32 i32)))"#
        );
        let plugin = wat_plugin(name, &wat, "");
        let resp = responded(plugin.on_request(empty(get("/")), client()).await);
        assert_eq!(resp.status(), 500, "{name}");
        let cause = plugin.last_failure().unwrap();
        assert!(cause.contains("ABI misuse"), "{name}: {cause}");
    }

    // In handle_response the target is chosen already.
    let wat = format!(
        r#"(module {ROUTE_IMPORTS} {IMPORTS}
  (data (i32.const 0) "device")
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32)
    (call $set_var (i32.const 0) (i32.const 6) (i32.const 0) (i32.const 1))))"#
    );
    let plugin = wat_plugin("late_set", &wat, "");
    let (_, hook) = continued(plugin.on_request(empty(get("/")), client()).await);
    let resp = hook.on_response(upstream(200, "ok")).await;
    assert_eq!(resp.status(), 500);
    assert!(plugin
        .last_failure()
        .unwrap()
        .contains("after the request was passed on"));
}
