//! A fleet of devices behind one templated frontend, no config entry per
//! device: `url = "http://{device}.cams.internal:PORT"`, names resolved by
//! a real DNS server (knot) listed in the backend's `resolvers`, every
//! target checked against the backend's allow-list after resolution.
//!
//! Devices are listeners on 127.0.1.N (all of 127/8 is this machine's), so
//! `allowedNetworks = ["127.0.1.0/24"]` admits them and still refuses the
//! server's own 127.0.0.1.

use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use reqwest::StatusCode;

use crate::harness::*;

const DEVICES: usize = 100;

fn device(i: usize) -> String {
    format!("d{i:03}")
}

fn device_addr(i: usize, port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 1, i as u8], port))
}

/// One device's web server: `/stream` is an endless MJPEG stream whose
/// parts name the device; anything else answers `device NAME PATH`.
async fn start_device(i: usize, port: u16) -> Backend {
    let name = device(i);
    Backend::serve_on(device_addr(i, port), move |req| {
        let name = name.clone();
        async move {
            if req.uri().path() == "/stream" {
                let parts = futures_util::stream::unfold(0usize, move |n| {
                    let name = name.clone();
                    async move {
                        if n > 0 {
                            tokio::time::sleep(ms(20)).await;
                        }
                        let part = format!(
                            "--frame\r\nContent-Type: image/jpeg\r\n\r\n{name} frame {n};\r\n"
                        );
                        Some((Ok::<_, BoxError>(Frame::data(Bytes::from(part))), n + 1))
                    }
                });
                return hyper::Response::builder()
                    .header("content-type", "multipart/x-mixed-replace; boundary=frame")
                    .body(BodyExt::boxed(StreamBody::new(parts)))
                    .unwrap();
            }
            text(
                StatusCode::OK,
                format!("device {name} {}", req.uri().path()),
            )
        }
    })
    .await
}

/// Dropped in this order: tollgate (and its directory), then knot.
struct Fleet {
    tg: Tollgate,
    _knot: Knot,
    _devices: Vec<Backend>,
}

/// 100 devices, knot with their names (and `evil`, pointing at
/// 127.0.0.1), and tollgate with two templated frontends on one backend
/// (by path and by host name) and one whose URL is the whole host name.
async fn fleet(max_targets: usize) -> Fleet {
    fleet_with(max_targets, "", "").await
}

/// `fleet`, with more keys for the path frontend (`middlewares = [...]`)
/// and more config (plugins, frontends) appended.
async fn fleet_with(max_targets: usize, bypath_keys: &str, extra: &str) -> Fleet {
    let dir = TempDir::new("fleet");
    let port = free_port();
    let mut records: Vec<(String, String)> = (1..=DEVICES)
        .map(|i| (device(i), device_addr(i, port).ip().to_string()))
        .collect();
    records.push(("evil".into(), "127.0.0.1".into()));
    records.push(("split".into(), "127.0.0.1".into()));
    records.push(("split".into(), "127.0.1.1".into()));
    let knot = Knot::start(&dir, "cams.internal", &records).await;
    assert_eq!(knot.dig("d042.cams.internal.", "A"), "127.0.1.42");
    let mut devices = Vec::new();
    for i in 1..=DEVICES {
        devices.push(start_device(i, port).await);
    }
    let resolver = knot.addr;
    let toml = format!(
        r#"{eps}
[frontends.bypath]
backend = "cams"
{bypath_keys}
[frontends.bypath.routes.r]
rule = "PathPrefixStrip:/cam/{{device:[a-z0-9-]+}}"
[frontends.byhost]
backend = "cams"
[frontends.byhost.routes.r]
rule = "HostRegexp:{{device:[a-z0-9-]+}}.cams.example.com"
[frontends.byname]
backend = "named"
[frontends.byname.routes.r]
rule = "PathPrefixStrip:/host/{{name:[a-z0-9.-]+}}"

[backends.cams]
allowedNetworks = ["127.0.1.0/24"]
resolvers = ["{resolver}"]
maxTargets = {max_targets}
[backends.cams.servers.s]
url = "http://{{device}}.cams.internal:{port}"

[backends.named]
allowedHosts = ["*.cams.internal"]
allowedNetworks = ["127.0.1.0/24"]
resolvers = ["{resolver}"]
[backends.named.servers.s]
url = "http://{{name}}:{port}"
{extra}
"#,
        eps = http_only(),
    );
    let tg = Tollgate::start_in(dir, &toml, &["http"]).await;
    Fleet {
        tg,
        _knot: knot,
        _devices: devices,
    }
}

async fn get(tg: &Tollgate, path: &str) -> (StatusCode, String) {
    send(http1().get(tg.url("http", path))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_devices_answer_through_one_frontend_with_no_per_device_config() {
    let f = fleet(64).await;
    for i in 1..=DEVICES {
        let (status, body) = get(&f.tg, &format!("/cam/{}/status?x=1", device(i))).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", device(i));
        // Its own answer, with the device prefix stripped.
        assert_eq!(body, format!("device {} /status", device(i)));
    }
    // By host name, case-insensitively; more devices than maxTargets (64)
    // were reached, so the first ones were evicted and come back.
    for i in [1, 50, 100] {
        let host = format!("{}.Cams.Example.com", device(i).to_uppercase());
        let (status, body) = send(
            http1()
                .get(f.tg.url("http", "/index.html"))
                .header("host", host),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, format!("device {} /index.html", device(i)));
    }
    // The whole host name as the variable, inside allowedHosts.
    let (status, body) = get(&f.tg, "/host/d007.cams.internal/x").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "device d007 /x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_outside_the_allow_list_are_refused_and_logged() {
    let mut f = fleet(16).await;
    // A name that resolves to the server's own loopback address.
    let (status, _) = get(&f.tg, "/cam/evil/").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let line = f.tg.wait_for_log("templated target refused", secs(5)).await;
    assert!(
        line.contains("evil.cams.internal resolves to 127.0.0.1"),
        "{line}"
    );
    // A name with one allowed and one refused address: only the allowed
    // one is dialed.
    let (status, body) = get(&f.tg, "/cam/split/").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "device d001 /"));
    // Host names outside allowedHosts never reach the resolver.
    for name in ["localhost", "127.0.0.1", "example.com", "cams.internal"] {
        let (status, _) = get(&f.tg, &format!("/host/{name}/")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
    }
    // The warning is written before the 403 but read from stderr on its
    // own thread, so wait for it rather than look once.
    f.tg.wait_for_log("localhost is not in allowedHosts", secs(5))
        .await;
    // A value can only be host-name text: what follows it stays path.
    let (status, body) = get(&f.tg, "/host/d001.cams.internal@127.0.0.1:22/").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "device d001 /@127.0.0.1:22/")
    );
    let (status, body) = get(&f.tg, "/host/d001.cams.internal%3a22/").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "device d001 /%3A22/")
    );
    // A name with an empty label is no name.
    let (status, _) = get(&f.tg, "/host/..cams.internal/").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An unknown device: no such name, a bad gateway (not a refusal).
    let (status, _) = get(&f.tg, "/cam/d999/").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    // And the fleet still answers.
    let (status, body) = get(&f.tg, "/cam/d003/").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "device d003 /"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_webcam_streams_from_ten_devices_at_once() {
    // maxTargets below the number of streams: an evicted target's stream
    // keeps its connection.
    let f = fleet(4).await;
    let client = http1();
    let mut streams = Vec::new();
    for i in 1..=10 {
        let resp = client
            .get(f.tg.url("http", &format!("/cam/{}/stream", device(i))))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("multipart/x-mixed-replace"));
        streams.push((i, resp.bytes_stream()));
    }
    // Every stream delivers its own device's frames 0..=5, concurrently.
    let reads = streams.into_iter().map(|(i, mut body)| async move {
        let want = format!("{} frame 5;", device(i));
        let mut seen = String::new();
        while !seen.contains(&want) {
            let chunk = body
                .next()
                .await
                .expect("stream ended")
                .expect("stream failed");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        for n in 0..=5 {
            assert!(
                seen.contains(&format!("{} frame {n};", device(i))),
                "{seen}"
            );
        }
        assert_eq!(
            seen.matches("frame ").count(),
            seen.matches(&device(i)).count(),
            "{seen}"
        );
    });
    within(
        secs(20),
        "ten streams",
        futures_util::future::join_all(reads),
    )
    .await;
}

/// An HS256 JWT for `claims`, signed with `secret`.
fn jwt(secret: &str, claims: serde_json::Value) -> String {
    use base64::Engine;
    let b64 = |data: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data);
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_routes_each_user_only_to_the_devices_their_token_names() {
    const SECRET: &str = "fleet-secret-0123456789";
    let wasm = tollgate::wasm::builtin::wasm_dir()
        .expect("plugins built by proxy/build.rs")
        .join("jwt-auth.wasm");
    // The path frontend, now behind jwt-auth; `/my-cam` names no device:
    // the token's only device is chosen by the plugin.
    let extra = format!(
        r#"
[plugins.jwt]
path = {wasm:?}
  [plugins.jwt.config]
  keys = [{{alg = "HS256", secret = "{SECRET}"}}]
  routeVars = {{device = "devices"}}

[frontends.mine]
backend = "cams"
middlewares = ["jwt"]
[frontends.mine.routes.r]
rule = "PathPrefixStrip:/my-cam"
"#,
        wasm = wasm.display().to_string()
    );
    let mut f = fleet_with(16, "middlewares = [\"jwt\"]", &extra).await;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let alice = jwt(
        SECRET,
        serde_json::json!({"sub": "alice", "exp": exp, "devices": ["d007", "d008"]}),
    );
    let bob = jwt(
        SECRET,
        serde_json::json!({"sub": "bob", "exp": exp, "devices": "d042"}),
    );
    let evil = jwt(
        SECRET,
        serde_json::json!({"sub": "eve", "exp": exp, "devices": "evil"}),
    );
    let get_as = |path: &str, token: &str| {
        http1()
            .get(f.tg.url("http", path))
            .header("authorization", format!("Bearer {token}"))
    };
    // Alice reaches her devices, and not Bob's.
    for d in ["d007", "d008"] {
        let (status, body) = send(get_as(&format!("/cam/{d}/x"), &alice)).await;
        assert_eq!((status, body), (StatusCode::OK, format!("device {d} /x")));
    }
    let (status, body) = send(get_as("/cam/d042/x", &alice)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("devices"), "{body}");
    // Bob's one device, chosen by the plugin where the route names none.
    let (status, body) = send(get_as("/my-cam/status", &bob)).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "device d042 /status")
    );
    // Alice has two: /my-cam cannot say which.
    let (status, _) = send(get_as("/my-cam/status", &alice)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // No token: 401, and the device is never contacted.
    let (status, _) = send(http1().get(f.tg.url("http", "/cam/d007/x"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // What a plugin chooses passes the same allow-list: a token naming a
    // device that resolves to 127.0.0.1 gets 403.
    let (status, _) = send(get_as("/my-cam/", &evil)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    f.tg.wait_for_log("evil.cams.internal resolves to 127.0.0.1", secs(5))
        .await;
}
