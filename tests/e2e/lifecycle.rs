//! Clients going away, graceful shutdown on SIGTERM.

use std::time::Instant;

use crate::harness::*;
use reqwest::StatusCode;
use tokio::net::TcpStream;

async fn client_disconnect_cancels_backend_request(h2: bool) {
    let ok = echo("ok").await;
    let mut slow = SlowBackend::start("slow", secs(30)).await;
    let toml = http_only()
        + &frontend("ok", "ok", "PathPrefix:/ok")
        + &frontend("slow", "slow", "PathPrefix:/slow")
        + &backend("ok", &ok.url())
        + &backend("slow", &slow.url());
    let mut tg = Tollgate::start(&toml, &["http"]).await;
    let client = if h2 { h2c() } else { http1() };

    let (c, url) = (client.clone(), tg.url("http", "/slow/x"));
    let req = tokio::spawn(async move { c.get(url).send().await });
    slow.wait_started(secs(5)).await;
    // The client gives up (drops the request: h1 closes the connection,
    // h2 resets the stream).
    req.abort();
    let _ = req.await;

    within(
        secs(3),
        "the backend's request is cancelled after the client went away",
        slow.cancelled.recv(),
    )
    .await
    .expect("cancel signal");

    tg.assert_running();
    // Same client (for h2c: same connection) still works.
    let seen = echo_of(client.get(tg.url("http", "/ok/after"))).await;
    assert_eq!(seen.server, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_cancels_backend_request_http1() {
    client_disconnect_cancels_backend_request(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_cancels_backend_request_h2c() {
    client_disconnect_cancels_backend_request(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_then_exits_0() {
    let mut slow = SlowBackend::start("slow", ms(1500)).await;
    let toml = http_only()
        + "[lifeCycle]\ngraceTimeOut = \"5s\"\n\n"
        + &frontend("slow", "slow", "PathPrefix:/slow")
        + &backend("slow", &slow.url());
    let mut tg = Tollgate::start(&toml, &["http"]).await;
    let addr = tg.addr("http");

    let url = tg.url("http", "/slow/inflight");
    let inflight = tokio::spawn(async move {
        let r = send(http1().get(url)).await;
        (r, Instant::now())
    });
    slow.wait_started(secs(5)).await;

    tg.signal("TERM");
    // New connections are refused while the in-flight request drains.
    eventually(
        secs(1),
        "connections refused after SIGTERM",
        move || async move {
            match TcpStream::connect(addr).await {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(()),
                _ => None,
            }
        },
    )
    .await;
    assert!(
        !inflight.is_finished(),
        "the in-flight request should still be running (backend takes 1.5 s)"
    );

    let ((st, body), done_at) = within(secs(5), "in-flight request", inflight)
        .await
        .unwrap();
    assert_eq!(
        st,
        StatusCode::OK,
        "in-flight request after SIGTERM: {body}"
    );
    assert_eq!(Echo::parse(&body).uri, "/slow/inflight");

    let status = tg.wait_exit(secs(6)).await;
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status}"
    );
    let lingered = done_at.elapsed();
    assert!(
        lingered < ms(2500),
        "exited {lingered:?} after the last request finished; it should not wait out graceTimeOut"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_only_idle_connections_exits_promptly() {
    only_idle_connections_exit_promptly(ms(0)).await;
}

/// The same once they have parked (`listen::parking`, after a second idle):
/// the parking lot closes them on a stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_parked_connections_exits_promptly() {
    only_idle_connections_exit_promptly(ms(1500)).await;
}

async fn only_idle_connections_exit_promptly(idle_for: Duration) {
    let be = echo("be").await;
    let toml = http_only()
        + "[lifeCycle]\ngraceTimeOut = \"10s\"\n\n"
        + &frontend("f", "be", "PathPrefix:/")
        + &backend("be", &be.url());
    let mut tg = Tollgate::start(&toml, &["http"]).await;

    // An idle keep-alive connection (pooled by the client) and a connection
    // that never sent a request.
    let c = http1();
    echo_of(c.get(tg.url("http", "/warm"))).await;
    let _idle = within(secs(3), "connect", TcpStream::connect(tg.addr("http")))
        .await
        .unwrap();
    tokio::time::sleep(idle_for).await;

    let t0 = Instant::now();
    let status = tg.terminate().await;
    let took = t0.elapsed();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status}"
    );
    assert!(
        took < secs(4),
        "idle connections held shutdown for {took:?}"
    );
}
