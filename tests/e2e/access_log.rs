//! `[accessLog]`: one line per request, in Traefik's common format or as
//! JSON, filtered, reopened on SIGUSR1 (logrotate).

use std::path::Path;
use std::time::Instant;

use crate::harness::*;

/// The access log's lines, once there are at least `n` (within 5 s).
async fn lines(path: &Path, n: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            started.elapsed() < secs(5),
            "{} of {n} access log lines in {}: {text}",
            lines.len(),
            path.display()
        );
        tokio::time::sleep(ms(20)).await;
    }
}

fn config(access_log: &str, backend_url: &str) -> String {
    http_only()
        + access_log
        + "\n"
        + &frontend("cam", "cams", "PathPrefix:/cam")
        + &frontend_with(
            "private",
            "cams",
            "PathPrefix:/private",
            "basicAuth = [\"test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/\"]",
        )
        + &frontend("dead", "dead", "PathPrefix:/dead")
        + &backend("cams", backend_url)
        + &backend("dead", "http://127.0.0.1:1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn common_format_lines_for_a_proxied_request_a_401_and_a_502() {
    let be = echo("be").await;
    let dir = TempDir::new("access-log");
    let toml = config("[accessLog]\nfilePath = \"log/access.log\"\n", &be.url());
    let tg = Tollgate::start_in(dir, &toml, &["http"]).await;
    let client = http1();
    let send = |path: &str| {
        client
            .get(tg.url("http", path))
            .header("user-agent", "cam-viewer/1.0")
            .header("referer", "http://dash/")
            .send()
    };
    assert_eq!(send("/cam/live?fps=5").await.unwrap().status(), 200);
    assert_eq!(send("/private/x").await.unwrap().status(), 401);
    assert_eq!(send("/dead/x").await.unwrap().status(), 502);
    let log = tg.dir().join("log/access.log");
    let lines = lines(&log, 3).await;
    // 127.0.0.1 - - [06/Dec/2026:10:50:53 +0000] "GET /cam/live?fps=5 HTTP/1.1" 200 431 "http://dash/" "cam-viewer/1.0" 1 "cam" "http://127.0.0.1:40123" 0ms
    let t = tokens(&lines[0]);
    assert_eq!(t.len(), 13, "{t:?}");
    assert_eq!(&t[..3], ["127.0.0.1", "-", "-"]);
    assert!(
        t[3].starts_with('[') && t[4].ends_with(']') && t[4] == "+0000]",
        "{t:?}"
    );
    assert_eq!(t[5], "GET /cam/live?fps=5 HTTP/1.1");
    assert_eq!(t[6], "200");
    assert!(t[7].parse::<u64>().unwrap() > 0, "size: {t:?}");
    assert_eq!(&t[8..12], ["http://dash/", "cam-viewer/1.0", "1", "cam"]);
    assert_eq!(
        t[12].split_once(' ').map(|(url, _)| url),
        Some(be.url().as_str())
    );
    assert!(t[12].ends_with("ms"), "{t:?}");
    let t = tokens(&lines[1]);
    assert_eq!(
        (t[5].as_str(), t[6].as_str()),
        ("GET /private/x HTTP/1.1", "401")
    );
    assert_eq!(&t[10..12], ["2", "private"]);
    assert!(t[12].starts_with("- "), "no backend was called: {t:?}");
    let t = tokens(&lines[2]);
    assert_eq!(
        (t[5].as_str(), t[6].as_str()),
        ("GET /dead/x HTTP/1.1", "502")
    );
    assert_eq!(&t[10..12], ["3", "dead"]);
    assert!(t[12].starts_with("http://127.0.0.1:1 "), "{t:?}");
}

/// A common-format line's fields: quoted ones whole (without quotes), the
/// rest split at spaces; the last quoted field and the duration together.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        rest = rest.trim_start();
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').expect("closing quote");
            let field = quoted[..end].to_owned();
            rest = &quoted[end + 1..];
            if out.len() == 12 {
                // The backend URL, then the duration.
                out.push(format!("{field}{rest}"));
                break;
            }
            out.push(field);
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_carry_traefik_field_names_and_redact_headers() {
    let be = echo("be").await;
    let dir = TempDir::new("access-log-json");
    let log = "[accessLog]\nfilePath = \"access.json\"\nformat = \"json\"\n  [accessLog.fields]\n    [accessLog.fields.names]\n    ClientPort = \"drop\"\n    [accessLog.fields.headers]\n    defaultMode = \"keep\"\n      [accessLog.fields.headers.names]\n      Authorization = \"redact\"\n      Cookie = \"drop\"\n";
    let tg = Tollgate::start_in(dir, &config(log, &be.url()), &["http"]).await;
    let resp = http1()
        .get(tg.url("http", "/cam/a"))
        .header("authorization", "Bearer secret-token")
        .header("cookie", "session=abc")
        .header("x-device", "printer-7")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let lines = lines(&tg.dir().join("access.json"), 1).await;
    let v: serde_json::Value = serde_json::from_str(&lines[0]).expect("a JSON line");
    assert_eq!(v["ClientHost"], "127.0.0.1");
    assert!(v.get("ClientPort").is_none(), "dropped: {v}");
    assert_eq!(v["RequestMethod"], "GET");
    assert_eq!(v["RequestPath"], "/cam/a");
    assert_eq!(v["RequestProtocol"], "HTTP/1.1");
    assert_eq!(v["DownstreamStatus"], 200);
    assert_eq!(v["FrontendName"], "cam");
    assert_eq!(v["BackendName"], "cams");
    assert_eq!(v["BackendURL"], be.url().as_str());
    assert!(v["Duration"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["request_Authorization"], "REDACTED");
    assert!(v.get("request_Cookie").is_none(), "dropped: {v}");
    assert_eq!(v["request_X-Device"], "printer-7");
    assert!(!lines[0].contains("secret-token") && !lines[0].contains("session=abc"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_keep_only_what_they_match() {
    let be = echo("be").await;
    let dir = TempDir::new("access-log-filter");
    let log = "[accessLog]\nfilePath = \"errors.log\"\n  [accessLog.filters]\n  statusCodes = [\"500-599\"]\n";
    let tg = Tollgate::start_in(dir, &config(log, &be.url()), &["http"]).await;
    let client = http1();
    for path in ["/cam/1", "/private/2", "/dead/3", "/cam/4"] {
        client.get(tg.url("http", path)).send().await.unwrap();
    }
    // The 502 is the last line the filter keeps; the next 5xx proves nothing
    // else was written in between.
    client.get(tg.url("http", "/dead/5")).send().await.unwrap();
    let lines = lines(&tg.dir().join("errors.log"), 2).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains("\"GET /dead/3 HTTP/1.1\" 502"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("\"GET /dead/5 HTTP/1.1\" 502"),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigusr1_reopens_both_logs_after_logrotate_moved_them() {
    let be = echo("be").await;
    let dir = TempDir::new("access-log-rotate");
    let log = "[traefikLog]\nfilePath = \"tollgate.log\"\n[accessLog]\nfilePath = \"access.log\"\n";
    let mut tg = Tollgate::start_in(dir, &config(log, &be.url()), &["http"]).await;
    let client = http1();
    client
        .get(tg.url("http", "/cam/before"))
        .send()
        .await
        .unwrap();
    let access = tg.dir().join("access.log");
    let process = tg.dir().join("tollgate.log");
    lines(&access, 1).await;
    // logrotate: rename both, then signal.
    std::fs::rename(&access, tg.dir().join("access.log.1")).unwrap();
    std::fs::rename(&process, tg.dir().join("tollgate.log.1")).unwrap();
    tg.signal("USR1");
    // The process log's line about it lands in its new file.
    let started = Instant::now();
    while !std::fs::read_to_string(&process)
        .unwrap_or_default()
        .contains("log files reopened")
    {
        assert!(
            started.elapsed() < secs(5),
            "no new process log after SIGUSR1"
        );
        tokio::time::sleep(ms(20)).await;
    }
    // Until the access log's writer has reopened, a line may still land in
    // the old file.
    loop {
        client
            .get(tg.url("http", "/cam/after"))
            .send()
            .await
            .unwrap();
        let fresh = std::fs::read_to_string(&access).unwrap_or_default();
        if fresh.contains("/cam/after") {
            break;
        }
        assert!(
            started.elapsed() < secs(5),
            "no new access log after SIGUSR1"
        );
        tokio::time::sleep(ms(50)).await;
    }
    let old = std::fs::read_to_string(tg.dir().join("access.log.1")).unwrap();
    assert!(old.contains("/cam/before"), "{old}");
    let old = std::fs::read_to_string(tg.dir().join("tollgate.log.1")).unwrap();
    assert!(!old.contains("log files reopened"), "{old}");
    tg.assert_running();
}
