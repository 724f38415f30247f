//! Every connection's life is bounded without progress: an HTTP/2
//! connection (which hyper serves, and whose waits hyper's HTTP/1 header
//! timeout does not cover) is closed once no request has been in progress
//! for the header timeout (`readTimeout`, else `idleTimeout`), whether the
//! client never sends its preface, never sends a request, or keeps the
//! connection warm with PINGs. A request in progress is never cut by it.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;

/// The HTTP/2 client preface and an empty SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
/// A PING frame (8 bytes of opaque data, stream 0).
const PING: &[u8] = b"\x00\x00\x08\x06\x00\x00\x00\x00\x00tollgate";

pub fn with_idle_limit(limit: &str, backend_url: &str) -> String {
    http_only()
        + &format!("[respondingTimeouts]\nidleTimeout = \"{limit}\"\n\n")
        + &frontend("all", "b", "PathPrefix:/")
        + &backend("b", backend_url)
}

/// Reads (and drops) what the server sends until it closes; how long that took.
pub async fn until_closed<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    what: &str,
) -> std::time::Duration {
    let started = Instant::now();
    let mut buf = vec![0u8; 16 * 1024];
    within(secs(8), what, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_connection_without_requests_is_closed_at_the_idle_limit() {
    let be = echo("be").await;
    let tg = Tollgate::start(&with_idle_limit("1s", &be.url()), &["http"]).await;
    let mut s = TcpStream::connect(tg.addr("http")).await.unwrap();
    s.write_all(PREFACE).await.unwrap();
    let took = until_closed(&mut s, "the idle HTTP/2 connection to be closed").await;
    assert!(took >= ms(800), "closed before the limit: {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_do_not_keep_an_idle_http2_connection_open() {
    let be = echo("be").await;
    let tg = Tollgate::start(&with_idle_limit("1s", &be.url()), &["http"]).await;
    let s = TcpStream::connect(tg.addr("http")).await.unwrap();
    let (mut read, mut write) = s.into_split();
    write.write_all(PREFACE).await.unwrap();
    let pinger = tokio::spawn(async move {
        // Bounded: 40 PINGs, 100 ms apart.
        for _ in 0..40 {
            if write.write_all(PING).await.is_err() {
                return;
            }
            tokio::time::sleep(ms(100)).await;
        }
    });
    let took = until_closed(&mut read, "the PINGing connection to be closed").await;
    assert!(took < secs(4), "{took:?}");
    pinger.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_progress_outlives_the_idle_limit() {
    let slow = SlowBackend::start("slow", ms(2500)).await;
    let tg = Tollgate::start(&with_idle_limit("1s", &slow.url()), &["http"]).await;
    let client = h2c();
    let resp = client.get(tg.url("http", "/slow")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert!(resp.text().await.unwrap().contains("slow"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entrypoint_queues_a_burst_of_connections() {
    // The listening socket's backlog, as the kernel reports it (`ss`: the
    // Send-Q of a listening socket), capped by net.core.somaxconn.
    let be = echo("be").await;
    let tg = Tollgate::start(&with_idle_limit("10s", &be.url()), &["http"]).await;
    let port = tg.addr("http").port();
    let out = std::process::Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .expect("ss (iproute2) runs; .ci/run installs it");
    let text = String::from_utf8_lossy(&out.stdout);
    let backlog: u32 = text
        .split_whitespace()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no listening socket on {port}: {text:?}"));
    let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(backlog, somaxconn.min(4096), "{text}");
    assert!(backlog > 128, "{text}");
}
