//! What a sysadmin watches: `/metrics` (read with a Prometheus text-format
//! parser), the API (`/api/rawdata`, `/api/providers`, `/health`) before and
//! after reloads, entry point authentication in front of them, and the
//! dashboard as headless Chromium renders it.

use std::path::Path;
use std::process::Command;

use futures_util::{SinkExt, StreamExt};
use prometheus_parse::{Scrape, Value};
use serde_json::Value as Json;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::*;

/// `test:test`, as Traefik's documentation writes it (apr1).
const USER: &str = "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/";

/// An `http` entry point for traffic and a `traefik` one for tollgate's
/// own endpoints (both on port 0), with `status` (the `[api]`,
/// `[metrics]`... sections) and `rest` (frontends and backends).
fn config(status: &str, rest: &str) -> String {
    entrypoints(&["http", "traefik"]) + status + "\n" + rest
}

async fn scrape(client: &reqwest::Client, url: &str) -> Scrape {
    let resp = client.get(url).send().await.expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format")
}

/// The value of the sample `metric` whose labels include `labels`.
fn sample(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found = scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))?;
    match &found.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(*v),
        Value::Histogram(buckets) => buckets
            .iter()
            .find(|b| b.less_than.is_infinite())
            .map(|b| b.count),
        Value::Summary(_) => None,
    }
}

async fn get_json(client: &reqwest::Client, url: &str) -> Json {
    let resp = client.get(url).send().await.expect("GET");
    assert_eq!(resp.status(), 200, "{url}");
    let text = resp.text().await.expect("body");
    serde_json::from_str(&text).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_backends_plugins_and_reloads() {
    let be = echo("be").await;
    let ws_be = WsBackend::start().await;
    let rest = frontend("cam", "cams", "PathPrefix:/cam")
        + &frontend("ws", "ws", "PathPrefix:/ws")
        + &backend("ws", &ws_be.url())
        + &frontend_with(
            "private",
            "cams",
            "PathPrefix:/private",
            &format!("basicAuth = [\"{USER}\"]"),
        )
        + &frontend("dead", "dead", "PathPrefix:/dead")
        + &backend("cams", &be.url())
        + &backend("dead", "http://127.0.0.1:1");
    let toml = config(
        "[metrics]\n  [metrics.prometheus]\n  entryPoint = \"traefik\"\n  buckets = [0.05, 0.5, 5]\n",
        &rest,
    );
    let mut tg = Tollgate::start(&toml, &["http", "traefik"]).await;
    let client = http1();
    let metrics = tg.url("traefik", "/metrics");

    let before = scrape(&client, &metrics).await;
    let ok = [
        ("code", "200"),
        ("method", "GET"),
        ("protocol", "http"),
        ("entrypoint", "http"),
    ];
    assert_eq!(
        sample(&before, "traefik_entrypoint_requests_total", &ok),
        None
    );
    assert_eq!(
        sample(&before, "traefik_config_reloads_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        sample(&before, "traefik_config_reloads_failure_total", &[]),
        Some(0.0)
    );
    assert!(sample(&before, "traefik_config_last_reload_success", &[]).unwrap() > 1.7e9);
    assert_eq!(
        sample(
            &before,
            "traefik_backend_server_up",
            &[("backend", "cams"), ("url", &be.url())]
        ),
        Some(1.0)
    );
    assert!(sample(&before, "process_resident_memory_bytes", &[]).unwrap() > 1e6);

    for _ in 0..3 {
        assert_eq!(status_of(&client, &tg.url("http", "/cam/a")).await, 200);
    }
    let pooled = scrape(&client, &metrics).await;
    assert_eq!(
        sample(
            &pooled,
            "tollgate_backend_server_idle_connections",
            &[("backend", "cams")]
        ),
        Some(1.0),
        "the keep-alive connection to the backend waits in the pool"
    );
    assert_eq!(status_of(&client, &tg.url("http", "/private/x")).await, 401);
    assert_eq!(status_of(&client, &tg.url("http", "/dead/x")).await, 502);
    let resp = client
        .get(tg.url("http", "/cam/events"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws/", tg.addr("http")))
        .await
        .expect("WebSocket through tollgate");
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hi"));
    drop(ws);
    assert_eq!(status_of(&client, &tg.url("http", "/nowhere")).await, 404);

    let after = scrape(&client, &metrics).await;
    let count = |metric: &str, labels: &[(&str, &str)]| sample(&after, metric, labels);
    assert_eq!(count("traefik_entrypoint_requests_total", &ok), Some(3.0));
    assert_eq!(
        count("traefik_entrypoint_request_duration_seconds", &ok),
        Some(3.0),
        "histogram count"
    );
    for (code, n) in [("401", 1.0), ("502", 1.0), ("404", 1.0)] {
        assert_eq!(
            count(
                "traefik_entrypoint_requests_total",
                &[("code", code), ("entrypoint", "http")]
            ),
            Some(n),
            "{code}"
        );
    }
    assert_eq!(
        count(
            "traefik_entrypoint_requests_total",
            &[("code", "200"), ("protocol", "sse")]
        ),
        Some(1.0)
    );
    assert_eq!(
        count(
            "traefik_backend_requests_total",
            &[
                ("backend", "ws"),
                ("code", "101"),
                ("protocol", "websocket")
            ]
        ),
        Some(1.0)
    );
    // Backends count what was sent to a server: not the 401 (the plugin
    // answered) nor the 404 (no route).
    assert_eq!(
        count(
            "traefik_backend_requests_total",
            &[("backend", "cams"), ("code", "200"), ("protocol", "http")]
        ),
        Some(3.0)
    );
    assert_eq!(
        count(
            "traefik_backend_requests_total",
            &[("backend", "cams"), ("code", "401")]
        ),
        None
    );
    assert_eq!(
        count(
            "traefik_backend_requests_total",
            &[("backend", "dead"), ("code", "502")]
        ),
        Some(1.0)
    );
    let buckets = after
        .samples
        .iter()
        .find(|s| s.metric == "traefik_backend_request_duration_seconds")
        .map(|s| match &s.value {
            Value::Histogram(b) => b.iter().map(|b| b.less_than).collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .unwrap();
    assert_eq!(buckets[..3], [0.05, 0.5, 5.0], "the configured buckets");
    assert_eq!(
        count(
            "tollgate_plugin_call_duration_seconds",
            &[("plugin", "private.basicAuth"), ("phase", "request")]
        ),
        Some(1.0)
    );
    assert_eq!(
        count(
            "tollgate_plugin_failures_total",
            &[("plugin", "private.basicAuth"), ("kind", "trap")]
        ),
        Some(0.0)
    );
    assert!(
        count(
            "tollgate_entrypoint_open_connections",
            &[("entrypoint", "http")]
        )
        .unwrap()
            >= 1.0,
        "the client's keep-alive connection"
    );

    // A bad edit is counted as a failed reload; the counters go on.
    std::fs::write(
        tg.config_path(),
        toml.clone() + "[frontends.broken]\nbackend = \"missing\"\n",
    )
    .unwrap();
    tg.signal("HUP");
    tg.wait_for_log("configuration refused", secs(10)).await;
    let refused = scrape(&client, &metrics).await;
    assert_eq!(
        sample(&refused, "traefik_config_reloads_failure_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        sample(&refused, "traefik_config_reloads_total", &[]),
        Some(2.0)
    );
    assert!(sample(&refused, "traefik_config_last_reload_failure", &[]).unwrap() > 1.7e9);
    assert_eq!(
        sample(&refused, "traefik_entrypoint_requests_total", &ok),
        Some(3.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_shows_the_running_config_and_the_last_reload() {
    let be = echo("be").await;
    let rest = frontend("cam", "cams", "PathPrefix:/cam") + &backend("cams", &be.url());
    let toml = config("[api]\nentryPoint = \"traefik\"\n", &rest);
    let mut tg = Tollgate::start(&toml, &["http", "traefik"]).await;
    let client = http1();
    let rawdata = tg.url("traefik", "/api/rawdata");

    let data = get_json(&client, &rawdata).await;
    let frontends: Vec<&str> = data["frontends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(frontends, ["cam"]);
    assert_eq!(data["frontends"][0]["rules"][0]["rule"], "PathPrefix:/cam");
    assert_eq!(
        data["frontends"][0]["entryPoints"],
        serde_json::json!(["http"])
    );
    assert_eq!(data["backends"][0]["servers"][0]["up"], true);
    assert_eq!(data["reload"]["applied"], 1);
    assert_eq!(data["reload"]["lastResult"], "applied");
    let http = data["entryPoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "http")
        .unwrap();
    assert_eq!(http["port"], tg.addr("http").port());

    // A reload that adds a frontend shows it.
    let added = toml.clone() + &frontend("printer", "cams", "Host:printer.example") + "\n";
    std::fs::write(tg.config_path(), &added).unwrap();
    tg.signal("HUP");
    tg.wait_for_log("configuration reloaded", secs(10)).await;
    let data = get_json(&client, &rawdata).await;
    let printer = data["frontends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "printer")
        .expect("the new frontend");
    assert_eq!(printer["rules"][0]["rule"], "Host:printer.example");
    assert_eq!(data["reload"]["applied"], 2);

    // Traefik 1.7's /api/providers shape, and a part of it.
    let providers = get_json(&client, &tg.url("traefik", "/api/providers")).await;
    assert_eq!(
        providers["file"]["frontends"]["printer"]["routes"]["r1"]["rule"],
        "Host:printer.example"
    );
    let servers = get_json(
        &client,
        &tg.url("traefik", "/api/providers/file/backends/cams/servers"),
    )
    .await;
    assert_eq!(servers["s1"]["url"], be.url());
    let missing = client
        .get(tg.url("traefik", "/api/providers/file/backends/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // A bad edit: the error, with its place in the file, and the old config.
    std::fs::write(
        tg.config_path(),
        added.clone() + "[frontends.broken]\nbackend = \"nope\"\n",
    )
    .unwrap();
    tg.signal("HUP");
    tg.wait_for_log("configuration refused", secs(10)).await;
    let data = get_json(&client, &rawdata).await;
    assert_eq!(data["reload"]["lastResult"], "refused");
    assert_eq!(data["reload"]["refused"], 1);
    let error = data["reload"]["lastError"]["error"].as_str().unwrap();
    assert!(
        error.contains("frontends.broken.backend") && error.contains("\"nope\""),
        "{error}"
    );
    assert!(data["frontends"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["name"] != "broken"));

    // /health: counts by code and the recent errors.
    assert_eq!(status_of(&client, &tg.url("http", "/cam/x")).await, 200);
    assert_eq!(status_of(&client, &tg.url("http", "/lost")).await, 404);
    let health = get_json(&client, &tg.url("traefik", "/health")).await;
    assert_eq!(health["pid"], tg.pid());
    assert!(health["total_status_code_count"]["200"].as_u64().unwrap() >= 1);
    // Two 404s: the API's own for a missing backend, and this one.
    assert_eq!(health["total_status_code_count"]["404"], 2);
    assert_eq!(health["recent_errors"][0]["path"], "/lost");
    assert_eq!(health["recent_errors"][0]["status_code"], 404);
    assert!(health["average_response_time_sec"].as_f64().unwrap() > 0.0);

    // Only reads.
    let post = client
        .post(tg.url("traefik", "/api/rawdata"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_point_basic_auth_guards_the_api_but_not_ping() {
    let be = echo("be").await;
    let rest = frontend("cam", "cams", "PathPrefix:/cam") + &backend("cams", &be.url());
    let toml = config(
        "[api]\n[ping]\n[metrics.prometheus]\n",
        &rest,
    )
    .replace(
        "  [entryPoints.traefik]\n  address = \"127.0.0.1:0\"\n",
        &format!(
            "  [entryPoints.traefik]\n  address = \"127.0.0.1:0\"\n  [entryPoints.traefik.auth.basic]\n  users = [\"{USER}\"]\n"
        ),
    );
    let tg = Tollgate::start(&toml, &["http", "traefik"]).await;
    let client = http1();
    for path in ["/api/rawdata", "/metrics", "/health", "/dashboard/"] {
        let resp = client.get(tg.url("traefik", path)).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        assert!(resp.headers().contains_key("www-authenticate"), "{path}");
        let resp = client
            .get(tg.url("traefik", path))
            .basic_auth("test", Some("test"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let wrong = client
            .get(tg.url("traefik", path))
            .basic_auth("test", Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
    }
    // Health checks of a container runtime carry no credentials.
    let (status, body) = send(client.get(tg.url("traefik", "/ping"))).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "OK"));
    // The traffic entry point is not guarded.
    assert_eq!(status_of(&client, &tg.url("http", "/cam/x")).await, 200);
}

/// `chromium`, or a failure that says how to get it.
fn require_chromium() -> &'static str {
    let found = Command::new("chromium").arg("--version").output();
    match found {
        Ok(out) if out.status.success() => "chromium",
        _ => panic!(
            "the dashboard test needs Chromium: apt-get install chromium (.ci/run installs it)"
        ),
    }
}

/// The dashboard's DOM once its script has run, as headless Chromium sees it.
fn chromium(url: &str, extra: &[&str], dir: &Path) -> String {
    let out = Command::new(require_chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1280,860",
            "--virtual-time-budget=5000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.join("chromium").display()
        ))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_chromium_lists_frontends_and_shows_a_server_down() {
    require_chromium();
    let cam = HealthBackend::start("cam", true).await;
    let printer = HealthBackend::start("printer", true).await;
    let printer_url = printer.url();
    let rest = frontend("webcam", "cams", "Host:cam.example")
        + &frontend("octoprint", "printers", "Host:printer.example")
        + &backend("cams", &cam.url())
        + &backend("printers", &printer_url)
        + "[backends.printers.healthCheck]\npath = \"/health\"\ninterval = \"200ms\"\n";
    let toml = config("[api]\ndashboard = true\n", &rest);
    let tg = Tollgate::start(&toml, &["http", "traefik"]).await;
    let page = tg.url("traefik", "/dashboard/");
    let dir = tg.dir().to_path_buf();

    let shot = dir.join("dashboard.png");
    chromium(&page, &[&format!("--screenshot={}", shot.display())], &dir);
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );

    let dom = chromium(&page, &["--dump-dom"], &dir);
    assert!(
        dom.contains("data-loaded=\"true\""),
        "the script ran: {dom}"
    );
    for f in ["webcam", "octoprint"] {
        assert!(
            dom.contains(&format!("data-frontend=\"{f}\"")),
            "{f}: {dom}"
        );
    }
    assert!(dom.contains("Host:printer.example"));
    let row = format!("data-server=\"{printer_url}\" data-up=\"true\"");
    assert!(dom.contains(&row), "{row}: {dom}");

    drop(printer);
    let client = http1();
    eventually(
        secs(10),
        "the health check sees the printer down",
        || async {
            let data = get_json(&client, &tg.url("traefik", "/api/rawdata")).await;
            (data["backends"][1]["servers"][0]["up"] == false).then_some(())
        },
    )
    .await;
    let dom = chromium(&page, &["--dump-dom"], &dir);
    let row = format!("data-server=\"{printer_url}\" data-up=\"false\"");
    assert!(dom.contains(&row), "{row}: {dom}");
    assert!(dom.contains(&format!("data-server=\"{}\" data-up=\"true\"", cam.url())));
}

/// Traefik's `..._open_connections` count requests being answered: a
/// webcam stream counts as long as it flows, and not after it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_connections_count_a_stream_while_it_lasts() {
    let cam = MjpegBackend::start(ms(50)).await;
    let rest = frontend("cam", "cam", "PathPrefix:/stream") + &backend("cam", &cam.url());
    let toml = config("[metrics.prometheus]\nentryPoint = \"traefik\"\n", &rest);
    let tg = Tollgate::start(&toml, &["http", "traefik"]).await;
    let client = http1();
    let metrics = tg.url("traefik", "/metrics");
    let entry = [
        ("entrypoint", "http"),
        ("method", "GET"),
        ("protocol", "http"),
    ];
    let backend = [("backend", "cam"), ("method", "GET"), ("protocol", "http")];

    let mut stream = client.get(tg.url("http", "/stream")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.chunk().await.unwrap().is_some(), "the stream flows");
    let flowing = scrape(&client, &metrics).await;
    assert_eq!(
        sample(&flowing, "traefik_entrypoint_open_connections", &entry),
        Some(1.0)
    );
    assert_eq!(
        sample(&flowing, "traefik_backend_open_connections", &backend),
        Some(1.0)
    );

    drop(stream);
    eventually(secs(5), "the stream's end lowers both gauges", || {
        let client = client.clone();
        let metrics = metrics.clone();
        async move {
            let after = scrape(&client, &metrics).await;
            let e = sample(&after, "traefik_entrypoint_open_connections", &entry);
            let b = sample(&after, "traefik_backend_open_connections", &backend);
            (e == Some(0.0) && b == Some(0.0)).then_some(())
        }
    })
    .await;
}
