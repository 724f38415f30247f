//! WebAssembly middleware end to end: the real binary, the real `.wasm`
//! files (built by proxy/build.rs), real clients and backends.
//!
//! Config used (tollgate's extension of the 1.7 dialect):
//!
//! ```toml
//! [plugins.NAME]
//! path = "/abs/path/x.wasm"
//! timeout = "100ms"        # per call into the guest
//! memory = "8MiB"          # per instance
//!   [plugins.NAME.config]  # any table: handed to the guest as JSON
//!   mode = "noop"
//!
//! [frontends.F]
//! middlewares = ["NAME"]
//! ```
//!
//! and the 1.7 built-ins served by the embedded plugins: `basicAuth = [...]`,
//! `[frontends.F.auth.basic]`, `[frontends.F.headers]`.

use std::path::PathBuf;
use std::time::Instant;

use reqwest::StatusCode;

use crate::harness::*;

const WIRING: &str = "waiting for config wiring of [plugins]/middlewares/basicAuth/headers";

fn wasm(name: &str) -> PathBuf {
    let dir = tollgate::wasm::builtin::wasm_dir().expect("plugins built by proxy/build.rs");
    dir.join(format!("{name}.wasm"))
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

/// Standard base64, padded (no dependency for one header).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_the_rfc_examples() {
    assert_eq!(base64(b"test:password"), "dGVzdDpwYXNzd29yZA==");
    assert_eq!(base64(b"foob"), "Zm9vYg==");
    assert_eq!(base64(b"fooba"), "Zm9vYmE=");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}

/// `password` under every htpasswd scheme 1.7 accepts.
const USERS: [(&str, &str); 4] = [
    ("apr", "$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/"),
    ("md5", "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"),
    ("sha", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="),
    (
        "bcr",
        "$2y$05$/uaF/uaF/uaF/uaF/uaF/uI6OvKlaTOk3ln0m.b0odSA3a/u4Lm46",
    ),
];

fn users_toml() -> String {
    let users: Vec<String> = USERS.iter().map(|(u, h)| format!("\"{u}:{h}\"")).collect();
    users.join(", ")
}

/// A plugin table; `config` is TOML for its `config` table.
fn plugin(name: &str, path: &std::path::Path, extra: &str, config: &str) -> String {
    format!(
        "[plugins.{name}]\npath = {:?}\n{extra}\n  [plugins.{name}.config]\n{config}\n\n",
        path.display().to_string()
    )
}

// === the seed's basic auth, over its TLS entrypoint ===

const SEED: &str = include_str!("fixtures/zumi-seed.toml");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn seed_basic_auth_401_without_and_200_with_each_hash_type() {
    let _ = WIRING;
    let jupyter = echo("jupyter").await;
    let toml = SEED
        .replace("IP_OF_MY_SERVE:443", "127.0.0.1:0")
        .replace("IP_OF_MY_SERVER", "127.0.0.1:0")
        .replace("http://127.0.0.1:8888", &jupyter.url())
        .replace("\"USER:HTTPPASSWD\"", &users_toml());
    let dir = TempDir::new("seed-auth");
    dir.write("SSL/cert.pem", include_bytes!("fixtures/SSL/cert.pem"));
    dir.write("SSL/key.pem", include_bytes!("fixtures/SSL/key.pem"));
    std::fs::create_dir_all(dir.path().join("log")).unwrap();
    let tg = Tollgate::start_with_log_file(dir, &toml, &["http", "https"], Some("log/traefik.log"))
        .await;

    let client = https_resolving_any_cert("myserver.com", tg.addr("https"));
    let url = format!(
        "https://myserver.com:{}/zumi01/tree",
        tg.addr("https").port()
    );

    let resp = within(secs(10), "no credentials", client.get(&url).send())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Basic realm=\"traefik\""
    );

    for (user, _) in USERS {
        let req = client
            .get(&url)
            .header("authorization", basic(user, "password"));
        let seen = echo_of(req).await;
        assert_eq!(seen.server, "jupyter", "{user}");
        assert_eq!(seen.uri, "/zumi01/tree");
        let (status, _) = send(
            client
                .get(&url)
                .header("authorization", basic(user, "wrong")),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{user} with a wrong password"
        );
    }
    // The seed's own `[accessLog] filePath = "log/log.txt"` (relative to the
    // working directory, as in Traefik) gets a line per request.
    let log = tg.dir().join("log/log.txt");
    let started = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let ok = text
            .lines()
            .filter(|l| l.contains("\"GET /zumi01/tree HTTP/2.0\" 200"))
            .count();
        if ok == USERS.len() && text.contains("\"GET /zumi01/tree HTTP/2.0\" 401") {
            assert!(text.contains("\"zumi01\""), "{text}");
            break;
        }
        assert!(started.elapsed() < secs(5), "access log: {text:?}");
        tokio::time::sleep(ms(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn auth_basic_table_with_users_file_remove_header_and_header_field() {
    let upstream = echo("b").await;
    let dir = TempDir::new("auth-basic");
    dir.write("users.htpasswd", format!("# users\nfile:{}\n", USERS[0].1));
    let toml = http_only()
        + &frontend_with(
            "f",
            "b",
            "PathPrefix:/",
            &format!(
                "  [frontends.f.auth]\n  headerField = \"X-WebAuth-User\"\n    \
                 [frontends.f.auth.basic]\n    users = [\"inline:{}\"]\n    \
                 usersFile = \"users.htpasswd\"\n    removeHeader = true\n",
                USERS[2].1
            ),
        )
        + &backend("b", &upstream.url());
    let tg = Tollgate::start_in(dir, &toml, &["http"]).await;
    for user in ["inline", "file"] {
        let seen = echo_of(
            http1()
                .get(tg.url("http", "/x"))
                .header("authorization", basic(user, "password")),
        )
        .await;
        assert_eq!(seen.header("x-webauth-user"), Some(user));
        assert!(!seen.has_header("authorization"), "removeHeader");
    }
    assert_eq!(
        status_of(&http1(), &tg.url("http", "/x")).await,
        StatusCode::UNAUTHORIZED
    );
}

// === headers ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn frontend_headers_rewrite_seen_by_backend_and_client() {
    let upstream = echo("b").await;
    let toml = http_only()
        + &frontend_with(
            "f",
            "b",
            "PathPrefix:/",
            "  [frontends.f.headers]\n  frameDeny = true\n  contentTypeNosniff = true\n    \
             [frontends.f.headers.customRequestHeaders]\n    X-Script-Name = \"/zumi01\"\n    \
             X-Drop = \"\"\n    \
             [frontends.f.headers.customResponseHeaders]\n    X-Served-By = \"tollgate\"\n    \
             X-Backend-Id = \"\"\n",
        )
        + &backend("b", &upstream.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let resp = within(
        secs(10),
        "request",
        http1()
            .get(tg.url("http", "/"))
            .header("x-drop", "1")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-served-by"], "tollgate");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert!(
        resp.headers().get("x-backend-id").is_none(),
        "empty value removes"
    );
    let seen = Echo::parse(&resp.text().await.unwrap());
    assert_eq!(seen.header("x-script-name"), Some("/zumi01"));
    assert!(!seen.has_header("x-drop"));
}

// === JWT ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn jwt_good_expired_and_wrong_key() {
    let tokens: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/jwt/tokens.json")).unwrap();
    let upstream = echo("api").await;
    let config = format!(
        "  issuer = \"karmen\"\n  audience = \"api\"\n  \
         [[plugins.jwt.config.keys]]\n  alg = \"HS256\"\n  secret = {:?}\n  \
         [plugins.jwt.config.forwardClaims]\n  sub = \"X-User-Id\"\n",
        tokens["secret"].as_str().unwrap()
    );
    let toml = http_only()
        + &plugin("jwt", &wasm("jwt-auth"), "", &config)
        + &frontend_with("f", "b", "PathPrefix:/api", "middlewares = [\"jwt\"]")
        + &backend("b", &upstream.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let url = tg.url("http", "/api/printers");
    let bearer = |name: &str| format!("Bearer {}", tokens[name].as_str().unwrap());

    let seen = echo_of(
        http1()
            .get(&url)
            .header("authorization", bearer("hs256_valid")),
    )
    .await;
    assert_eq!(seen.header("x-user-id"), Some("42"));

    for (name, why) in [
        ("hs256_expired", "token expired"),
        ("hs256_wrong_key", "invalid signature"),
    ] {
        let resp = within(
            secs(10),
            name,
            http1()
                .get(&url)
                .header("authorization", bearer(name))
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name}");
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.contains(why), "{name}: {challenge}");
    }
    assert_eq!(status_of(&http1(), &url).await, StatusCode::UNAUTHORIZED);
}

// === containment ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn looping_allocating_and_trapping_guests_fail_only_their_own_requests() {
    let upstream = echo("b").await;
    let toml = http_only()
        + &plugin(
            "mis",
            &wasm("misbehave"),
            "timeout = \"100ms\"\nmemory = \"8MiB\"",
            "  mode = \"noop\"\n  modeHeader = \"X-Misbehave\"",
        )
        + &frontend_with("f", "b", "PathPrefix:/", "middlewares = [\"mis\"]")
        + &backend("b", &upstream.url());
    let mut tg = Tollgate::start(&toml, &["http"]).await;
    let url = tg.url("http", "/");

    let bad: Vec<_> = ["loop", "alloc", "trap"]
        .into_iter()
        .map(|mode| {
            let req = http1().get(&url).header("x-misbehave", mode);
            tokio::spawn(async move { (mode, send(req).await.0) })
        })
        .collect();
    let good: Vec<_> = (0..30)
        .map(|_| {
            let req = http1().get(&url);
            tokio::spawn(async move {
                let t = Instant::now();
                let (status, _) = send(req).await;
                (status, t.elapsed())
            })
        })
        .collect();
    for task in bad {
        let (mode, status) = task.await.unwrap();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{mode}");
    }
    for task in good {
        let (status, took) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(took < secs(2), "a good request took {took:?}");
    }
    tg.assert_running();
    // Each failure is logged before its 500 is sent, but stderr is read on
    // its own thread: wait for the lines rather than look once.
    for cause in ["deadline", "out of memory", "unreachable"] {
        let line = tg.wait_for_log(cause, secs(5)).await;
        assert!(
            line.contains("mis"),
            "the log should name the plugin and {cause:?}:\n{line}"
        );
    }
    // And the plugin keeps serving.
    assert_eq!(status_of(&http1(), &url).await, StatusCode::OK);
}

// === compatibility, config, state ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_guest_built_with_http_wasm_guest_works() {
    let upstream = echo("b").await;
    let toml = http_only()
        + &plugin(
            "compat",
            &wasm("http-wasm-guest-compat"),
            "",
            "  hello = \"world\"",
        )
        + &frontend_with("f", "b", "PathPrefix:/", "middlewares = [\"compat\"]")
        + &backend("b", &upstream.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let resp = within(
        secs(10),
        "request",
        http1().get(tg.url("http", "/compat/ok?x=1")).send(),
    )
    .await
    .unwrap();
    assert_eq!(resp.headers()["x-compat-status"], "200");
    let seen = Echo::parse(&resp.text().await.unwrap());
    assert_eq!(seen.header("x-compat-guest"), Some("http-wasm-guest"));
    assert_eq!(seen.header("x-compat-uri"), Some("/compat/ok?x=1"));
    assert_eq!(seen.header("x-compat-config"), Some(r#"{"hello":"world"}"#));
    assert!(seen
        .header("x-compat-source")
        .is_some_and(|s| s.starts_with("127.0.0.1:")));

    let (status, body) = send(http1().get(tg.url("http", "/compat/deny"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, "denied by http-wasm-guest\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn config_json_reaches_the_guest_and_state_persists() {
    let upstream = echo("b").await;
    let toml = http_only()
        + &plugin(
            "echo",
            &wasm("misbehave"),
            "",
            "  mode = \"echo-config\"\n  answer = 42\n  list = [1, \"two\"]\n  \
             [plugins.echo.config.nested]\n  deep = true",
        )
        + &plugin("count", &wasm("misbehave"), "", "  mode = \"counter\"")
        + &frontend_with("e", "b", "PathPrefix:/echo", "middlewares = [\"echo\"]")
        + &frontend_with("c", "b", "PathPrefix:/count", "middlewares = [\"count\"]")
        + &backend("b", &upstream.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let (status, body) = send(http1().get(tg.url("http", "/echo"))).await;
    assert_eq!(status, StatusCode::OK);
    let config: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(config["answer"], 42);
    assert_eq!(config["list"][1], "two");
    assert_eq!(config["nested"]["deep"], true);

    // One request at a time: the same warm instance, its counter going up.
    let mut counts = Vec::new();
    for _ in 0..3 {
        let seen = echo_of(http1().get(tg.url("http", "/count"))).await;
        counts.push(
            seen.header("x-guest-count")
                .unwrap()
                .parse::<u32>()
                .unwrap(),
        );
    }
    assert!(counts.windows(2).all(|w| w[1] > w[0]), "{counts:?}");
}

// === Traefik's wasm plugins ===

/// A Traefik wasm plugin as it is: a folder laid out like Traefik's local
/// plugins, its `.traefik.yml` naming the module; the middleware's options
/// reach it as JSON. The guest (WAT, built here) copies its config into a
/// request header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traefik_plugin_folder_loads_as_it_is() {
    let upstream = echo("b").await;
    let dir = TempDir::new("traefik-plugin");
    let folder = "plugins-local/src/github.com/acme/stamp";
    dir.write(
        &format!("{folder}/.traefik.yml"),
        "displayName: Stamp\ntype: middleware\nruntime: wasm\nwasmPath: stamp.wasm\n\
         import: github.com/acme/stamp\nsummary: Stamps requests with its options\n\
         testData:\n  value: example\n",
    );
    let guest = wat::parse_str(
        r#"(module
  (import "http_handler" "get_config" (func $get_config (param i32 i32) (result i32)))
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-stamp")
  (func (export "handle_request") (result i64)
    (call $set (i32.const 0) (i32.const 0) (i32.const 7)
      (i32.const 64) (call $get_config (i32.const 64) (i32.const 1024)))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))"#,
    )
    .unwrap();
    dir.write(&format!("{folder}/stamp.wasm"), guest);
    let toml = http_only()
        + &format!(
            "[plugins.stamp]\ntraefikPlugin = \"{folder}\"\n  [plugins.stamp.config]\n  value = \"from tollgate\"\n\n"
        )
        + &frontend_with("f", "b", "PathPrefix:/", "middlewares = [\"stamp\"]")
        + &backend("b", &upstream.url());
    let tg = Tollgate::start_in(dir, &toml, &["http"]).await;
    let seen = echo_of(http1().get(tg.url("http", "/cam"))).await;
    assert_eq!(seen.header("x-stamp"), Some(r#"{"value":"from tollgate"}"#));
}

// === reloads ===

/// A reload that changes other parts of the config keeps each plugin whose
/// file and settings did not change, with its warm instances: a guest's
/// counter goes on, and a bcrypt credential verified once stays cached
/// (no new bcrypt after any of 10 reloads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_plugins_keep_their_instances_and_state_across_reloads() {
    let upstream = echo("b").await;
    // test:password, bcrypt cost 10.
    let bcrypt = "test:$2y$10$IgmoIgmoIgmoIgmoIgmoIe8sFypzg5Rusky2yX8M/N658cZW927cW";
    let base = http_only()
        + &plugin("count", &wasm("misbehave"), "", "  mode = \"counter\"")
        + &frontend_with("c", "b", "PathPrefix:/count", "middlewares = [\"count\"]")
        + &frontend_with(
            "p",
            "b",
            "PathPrefix:/private",
            &format!("basicAuth = [\"{bcrypt}\"]"),
        )
        + &backend("b", &upstream.url());
    let mut tg = Tollgate::start(&base, &["http"]).await;
    let client = http1();
    let count = |client: reqwest::Client, url: String| async move {
        let seen = echo_of(client.get(url)).await;
        seen.header("x-guest-count")
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    let authorized = |client: reqwest::Client, url: String| async move {
        let started = Instant::now();
        let (status, _) = send(client.get(url).basic_auth("test", Some("password"))).await;
        assert_eq!(status, StatusCode::OK);
        started.elapsed()
    };
    let count_url = tg.url("http", "/count");
    let private_url = tg.url("http", "/private/cam");
    let mut last = count(client.clone(), count_url.clone()).await;
    let cold = authorized(client.clone(), private_url.clone()).await;
    let warm = authorized(client.clone(), private_url.clone()).await;
    eprintln!("bcrypt cost 10: first request {cold:?}, cached {warm:?}");

    let mut slowest = std::time::Duration::ZERO;
    for n in 1..=10 {
        let toml = base.clone() + &frontend("extra", "b", &format!("PathPrefix:/extra{n}"));
        std::fs::write(tg.config_path(), toml).unwrap();
        tg.signal("HUP");
        tg.wait_for_log_count("configuration reloaded", n, secs(10))
            .await;
        let now = count(client.clone(), count_url.clone()).await;
        assert_eq!(now, last + 1, "reload {n}: the guest's counter went on");
        last = now;
        slowest = slowest.max(authorized(client.clone(), private_url.clone()).await);
    }
    eprintln!("slowest authorized request after a reload: {slowest:?}");
    assert!(
        slowest < cold / 2,
        "a reload made basic-auth verify bcrypt again: {slowest:?} vs {cold:?} cold"
    );
    // Both modules were compiled once, at start.
    assert_eq!(tg.count_logs("plugin compiled"), 2, "{}", tg.logs_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn plugins_reload_when_their_file_changes() {
    let upstream = echo("b").await;
    let dir = TempDir::new("plugin-reload");
    let file = dir.path().join("plugin.wasm");
    std::fs::copy(wasm("misbehave"), &file).unwrap();
    let toml = watched_http_only()
        + &plugin("p", &file, "", "  mode = \"counter\"")
        + &frontend_with("f", "b", "PathPrefix:/", "middlewares = [\"p\"]")
        + &backend("b", &upstream.url());
    let tg = Tollgate::start_in(dir, &toml, &["http"]).await;
    let url = tg.url("http", "/");
    let seen = echo_of(http1().get(&url)).await;
    assert!(seen.has_header("x-guest-count"));

    // Replace the module: the compat guest stamps other headers.
    let tmp = tg.dir().join("plugin.wasm.new");
    std::fs::copy(wasm("http-wasm-guest-compat"), &tmp).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    eventually(secs(10), "the new module serves", || {
        let req = http1().get(&url);
        async move {
            let seen = echo_of(req).await;
            seen.has_header("x-compat-guest").then_some(())
        }
    })
    .await;
    // Each load is logged with its file, size and compile time, so that a
    // plugin author sees the rebuild was taken.
    let logs = tg.logs_text();
    let loads: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("plugin compiled") && l.contains("plugin.wasm"))
        .collect();
    assert_eq!(loads.len(), 2, "{logs}");
    for line in loads {
        assert!(
            line.contains("plugin=p") && line.contains("bytes=") && line.contains("compile_ms="),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_reloads_do_not_leak_plugin_instances() {
    let upstream = echo("b").await;
    let toml = |n: u32| {
        watched_http_only()
            + &plugin(
                "p",
                &wasm("misbehave"),
                "",
                &format!("  mode = \"counter\"\n  n = {n}"),
            )
            + &frontend_with("f", "b", "PathPrefix:/", "middlewares = [\"p\"]")
            + &backend("b", &upstream.url())
    };
    let tg = Tollgate::start(&toml(0), &["http"]).await;
    let url = tg.url("http", "/");
    let warm = |n: usize| {
        let url = url.clone();
        async move {
            for _ in 0..n {
                echo_of(http1().get(&url)).await;
            }
        }
    };
    warm(20).await;
    let before = tg.rss_kib();
    for n in 1..=15 {
        std::fs::write(tg.config_path(), toml(n)).unwrap();
        eventually(secs(10), "reloaded", || {
            let req = http1().get(&url);
            async move {
                // A new plugin instance starts counting from 1 again.
                let seen = echo_of(req).await;
                (seen.header("x-guest-count") == Some("1")).then_some(())
            }
        })
        .await;
        warm(10).await;
    }
    let after = tg.rss_kib();
    assert!(
        after < before + 40 * 1024,
        "RSS grew from {before} KiB to {after} KiB over 15 reloads"
    );
}

/// The http entrypoint plus `[file] watch = true`: file changes reload.
fn watched_http_only() -> String {
    http_only() + "[file]\nwatch = true\n\n"
}

// === trailers ===

/// gRPC's shape end to end over HTTP/2: an h2c client, an `h2c://`
/// backend answering with a `grpc-status` trailer, and a guest that buffers
/// the response with the trailers feature, reads that trailer and adds its
/// own. The client gets the body, then both trailers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_reads_and_adds_response_trailers_over_http2() {
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;

    let upstream = Backend::serve(|req: Req| async move {
        assert_eq!(
            req.headers().get("te").map(|v| v.as_bytes()),
            Some(&b"trailers"[..])
        );
        let mut trailers = hyper::HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        let frames = [
            Ok::<_, BoxError>(Frame::data(bytes::Bytes::from_static(b"\0\0\0\0\x05reply"))),
            Ok(Frame::trailers(trailers)),
        ];
        hyper::Response::builder()
            .header("content-type", "application/grpc")
            .body(BodyExt::boxed(StreamBody::new(futures_util::stream::iter(
                frames,
            ))))
            .unwrap()
    })
    .await;
    let dir = TempDir::new("trailers-plugin");
    let guest = wat::parse_str(
        r#"(module
  (import "http_handler" "enable_features" (func $features (param i32) (result i32)))
  (import "http_handler" "get_header_values" (func $values (param i32 i32 i32 i32 i32) (result i64)))
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "grpc-status")
  (data (i32.const 16) "x-grpc-status-seen")
  (func (export "handle_request") (result i64)
    ;; buffer_response | trailers
    (drop (call $features (i32.const 6)))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)
    ;; the backend's grpc-status value (NUL-terminated: one byte less),
    ;; copied into a trailer of our own
    (call $set (i32.const 3) (i32.const 16) (i32.const 18) (i32.const 64)
      (i32.sub
        (i32.wrap_i64 (call $values (i32.const 3) (i32.const 0) (i32.const 11) (i32.const 64) (i32.const 64)))
        (i32.const 1)))))"#,
    )
    .unwrap();
    dir.write("trailers.wasm", guest);
    let toml = http_only()
        + "[plugins.trailers]\npath = \"trailers.wasm\"\n\n"
        + &frontend_with("f", "b", "PathPrefix:/", "middlewares = [\"trailers\"]")
        + &format!(
            "[backends.b.servers.s]\nurl = \"h2c://{}\"\n\n",
            upstream.addr()
        );
    let tg = Tollgate::start_in(dir, &toml, &["http"]).await;

    let stream = tokio::net::TcpStream::connect(tg.addr("http"))
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::post(tg.url("http", "/helloworld.Greeter/SayHello"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"\0\0\0\0\0",
        )))
        .unwrap();
    let resp = within(secs(10), "gRPC-shaped call", sender.send_request(req))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK.as_u16());
    let collected = within(secs(10), "body and trailers", resp.into_body().collect())
        .await
        .unwrap();
    let trailers = collected
        .trailers()
        .cloned()
        .expect("trailers reach the client");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["x-grpc-status-seen"], "0");
    assert_eq!(&collected.to_bytes()[..], b"\0\0\0\0\x05reply");
}

/// One frontend behind the built-in basic-auth plugin (test:test).
fn basic_auth_site(upstream: &str) -> String {
    http_only()
        + &frontend_with(
            "f",
            "b",
            "PathPrefix:/",
            "basicAuth = [\"test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/\"]",
        )
        + &backend("b", upstream)
}

/// A restart reads the compiled code of its plugins from the cache the
/// first start left (`TOLLGATE_PLUGIN_CACHE`, wasm/disk_cache.rs) instead
/// of compiling them again, and basic auth works the same after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_reads_compiled_plugins_from_the_cache() {
    let upstream = echo("b").await;
    let toml = basic_auth_site(&upstream.url());
    let check = |tg: &Tollgate| {
        let url = tg.url("http", "/");
        async move {
            let client = http1();
            assert_eq!(status_of(&client, &url).await, StatusCode::UNAUTHORIZED);
            let admitted = client
                .get(&url)
                .header("authorization", basic("test", "test"))
                .send()
                .await
                .unwrap();
            assert_eq!(admitted.status(), StatusCode::OK);
        }
    };
    const COMPILED: &str = "plugin compiled";
    const FROM_CACHE: &str = "compiled code from the cache";

    let tg = Tollgate::start(&toml, &["http"]).await;
    check(&tg).await;
    assert_eq!(tg.count_logs(COMPILED), 1, "{}", tg.logs_text());
    assert_eq!(tg.count_logs(FROM_CACHE), 0, "{}", tg.logs_text());

    let dir = tg.stop_keeping_dir().await;
    assert!(code_cache(dir.path()).join("plugins").is_dir());
    let tg = Tollgate::start_in(dir, &toml, &["http"]).await;
    check(&tg).await;
    assert_eq!(tg.count_logs(COMPILED), 0, "{}", tg.logs_text());
    assert_eq!(tg.count_logs(FROM_CACHE), 1, "{}", tg.logs_text());
}

/// `tollgate plugin precompile` fills the cache before any start, so the
/// first start loads its plugins' code instead of compiling it (what the
/// container image ships); a second run finds everything there, and a file
/// that is not a module is refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn precompiled_plugins_spare_the_first_start_compiling() {
    let dir = TempDir::new("precompile");
    let out = run_tollgate(dir.path(), &["plugin", "precompile"], secs(60)).await;
    assert!(out.status.success(), "{out:?}");
    let stdout = &out.stdout;
    for name in ["basic-auth", "headers", "jwt-auth"] {
        assert!(
            stdout.contains(&format!("compiled: builtin:{name} -> ")),
            "{stdout}"
        );
    }
    let again = run_tollgate(dir.path(), &["plugin", "precompile"], secs(60)).await;
    let again = &again.stdout;
    assert_eq!(
        again.matches("cached already: builtin:").count(),
        3,
        "{again}"
    );

    let upstream = echo("b").await;
    let toml = basic_auth_site(&upstream.url());
    let tg = Tollgate::start_in(dir, &toml, &["http"]).await;
    let answer = http1()
        .get(tg.url("http", "/"))
        .header("authorization", basic("test", "test"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(tg.count_logs("plugin compiled"), 0, "{}", tg.logs_text());
    assert_eq!(
        tg.count_logs("compiled code from the cache"),
        1,
        "{}",
        tg.logs_text()
    );

    let dir = tg.stop_keeping_dir().await;
    std::fs::write(dir.path().join("bogus.wasm"), b"\0asm\x01\0\0\0\x05junk").unwrap();
    let out = run_tollgate(
        dir.path(),
        &["plugin", "precompile", "bogus.wasm"],
        secs(60),
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = &out.stderr;
    assert!(
        stderr.contains("bogus.wasm") && stderr.contains("not a valid module"),
        "{stderr}"
    );
}
