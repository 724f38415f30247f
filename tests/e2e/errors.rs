//! Error answers (404, 502, 504, 429, 503); none of them takes tollgate down.

use std::time::Instant;

use crate::harness::*;
use reqwest::StatusCode;

/// After an error: tollgate still runs and still serves `/ok`.
async fn still_serves(tg: &mut Tollgate) {
    tg.assert_running();
    let seen = echo_of(http1().get(tg.url("http", "/ok/after"))).await;
    assert_eq!(seen.server, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_matching_frontend_is_404() {
    let ok = echo("ok").await;
    let toml = http_only() + &frontend("ok", "ok", "PathPrefix:/ok") + &backend("ok", &ok.url());
    let mut tg = Tollgate::start(&toml, &["http"]).await;
    let c = http1();
    assert_eq!(
        status_of(&c, &tg.url("http", "/nothing/here")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(c.post(tg.url("http", "/")).body("x")).await.0,
        StatusCode::NOT_FOUND
    );
    // Over h2c too.
    assert_eq!(
        status_of(&h2c(), &tg.url("http", "/nothing")).await,
        StatusCode::NOT_FOUND
    );
    still_serves(&mut tg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_backend_port_is_502() {
    let ok = echo("ok").await;
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let toml = http_only()
        + "[forwardingTimeouts]\ndialTimeout = \"1s\"\n\n"
        + &frontend("ok", "ok", "PathPrefix:/ok")
        + &frontend("dead", "dead", "PathPrefix:/dead")
        + &backend("ok", &ok.url())
        + &backend("dead", &dead);
    let mut tg = Tollgate::start(&toml, &["http"]).await;
    let c = http1();
    for _ in 0..3 {
        assert_eq!(
            status_of(&c, &tg.url("http", "/dead/x")).await,
            StatusCode::BAD_GATEWAY
        );
    }
    still_serves(&mut tg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_slower_than_response_header_timeout_is_504() {
    let ok = echo("ok").await;
    let slow = SlowBackend::start("slow", secs(3)).await;
    let toml = http_only()
        + "[forwardingTimeouts]\ndialTimeout = \"1s\"\nresponseHeaderTimeout = \"300ms\"\n\n"
        + &frontend("ok", "ok", "PathPrefix:/ok")
        + &frontend("slow", "slow", "PathPrefix:/slow")
        + &backend("ok", &ok.url())
        + &backend("slow", &slow.url());
    let mut tg = Tollgate::start(&toml, &["http"]).await;

    let t0 = Instant::now();
    let st = status_of(&http1(), &tg.url("http", "/slow/x")).await;
    let took = t0.elapsed();
    assert_eq!(st, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        took >= ms(250),
        "504 after {took:?}, before the 300ms timeout"
    );
    assert!(
        took < ms(2000),
        "504 after {took:?}, long after the 300ms timeout"
    );
    still_serves(&mut tg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_max_conn_is_429() {
    let ok = echo("ok").await;
    let mut slow = SlowBackend::start("slow", ms(1000)).await;
    let toml = http_only()
        + &frontend("ok", "ok", "PathPrefix:/ok")
        + &frontend("slow", "slow", "PathPrefix:/slow")
        + &backend("ok", &ok.url())
        + &backend("slow", &slow.url())
        + "[backends.slow.maxConn]\namount = 1\nextractorFunc = \"client.ip\"\n\n";
    let mut tg = Tollgate::start(&toml, &["http"]).await;

    let url = tg.url("http", "/slow/first");
    let first = tokio::spawn(async move { send(http1().get(url)).await });
    slow.wait_started(secs(5)).await;

    let t0 = Instant::now();
    let st = status_of(&http1(), &tg.url("http", "/slow/second")).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    assert!(t0.elapsed() < ms(900), "429 should not wait for the slot");

    let (st, body) = within(secs(5), "first request", first).await.unwrap();
    assert_eq!(st, StatusCode::OK, "{body}");
    // The slot is free again.
    let seen = echo_of(http1().get(tg.url("http", "/slow/third"))).await;
    assert_eq!(seen.server, "slow");
    still_serves(&mut tg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_with_all_servers_unhealthy_is_503() {
    let ok = echo("ok").await;
    let sick = HealthBackend::start("sick", false).await;
    let toml = http_only()
        + &frontend("ok", "ok", "PathPrefix:/ok")
        + &frontend("sick", "sick", "PathPrefix:/sick")
        + &backend("ok", &ok.url())
        + &backend("sick", &sick.url())
        + "[backends.sick.healthCheck]\npath = \"/health\"\ninterval = \"100ms\"\ntimeout = \"1s\"\n\n";
    let mut tg = Tollgate::start(&toml, &["http"]).await;

    let c = http1();
    let url = tg.url("http", "/sick/x");
    let (cr, ur) = (&c, &url);
    eventually(
        secs(3),
        "503 once the only server failed its health check",
        move || async move {
            (status_of(cr, ur).await == StatusCode::SERVICE_UNAVAILABLE).then_some(())
        },
    )
    .await;
    assert!(sick.health_checks() > 0);
    // Stays 503 while unhealthy.
    for _ in 0..5 {
        assert_eq!(status_of(&c, &url).await, StatusCode::SERVICE_UNAVAILABLE);
    }
    still_serves(&mut tg).await;
}
