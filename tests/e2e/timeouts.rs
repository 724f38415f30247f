//! `[respondingTimeouts] writeTimeout`, as Go's `http.Server` applies it in
//! Traefik 1.7: a response not written within the limit (counted from the
//! request) is cut; a client that stops reading loses its connection instead
//! of holding it forever; a keep-alive connection idle past the limit lives on.

use std::time::Instant;

use bytes::Bytes;
use http::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;
use reqwest::StatusCode;

const LIMIT_MS: u64 = 400;

fn with_write_timeout(routes: &str) -> String {
    http_only() + &format!("[respondingTimeouts]\nwriteTimeout = \"{LIMIT_MS}ms\"\n\n") + routes
}

/// Reads an endless stream until it ends; true when it ended in an error
/// (cut), false for a clean end. Panics if it is still flowing after `limit`.
async fn read_until_cut(resp: &mut reqwest::Response, limit: std::time::Duration) -> bool {
    within(limit, "the stream to be cut", async {
        loop {
            match resp.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => return false,
                Err(_) => return true,
            }
        }
    })
    .await
}

fn cam_and_plain(cam: &MjpegBackend, plain: &Backend) -> String {
    frontend("cam", "cam", "PathPrefix:/cam")
        + &frontend("plain", "plain", "PathPrefix:/plain")
        + &backend("cam", &cam.url())
        + &backend("plain", &plain.url())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_response_is_cut_at_write_timeout() {
    let cam = MjpegBackend::start(ms(50)).await;
    let plain = echo("plain").await;
    let mut tg =
        Tollgate::start(&with_write_timeout(&cam_and_plain(&cam, &plain)), &["http"]).await;
    let started = Instant::now();
    let mut resp = http1()
        .get(tg.url("http", "/cam/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // An endless stream has no clean end: it must be cut, not finish.
    assert!(
        read_until_cut(&mut resp, secs(5)).await,
        "the stream ended cleanly"
    );
    let took = started.elapsed();
    assert!(took >= ms(LIMIT_MS), "cut after {took:?}, before the limit");
    assert!(took < ms(LIMIT_MS * 4), "cut only after {took:?}");
    assert!(cam.frames_sent() >= 3, "the stream flowed until the limit");
    // Other requests are unaffected.
    assert_eq!(
        echo_of(http1().get(tg.url("http", "/plain/x")))
            .await
            .server,
        "plain"
    );

    // A reload that removes the limit applies to new connections.
    std::fs::write(tg.config_path(), http_only() + &cam_and_plain(&cam, &plain)).unwrap();
    tg.signal("HUP");
    tg.wait_for_log("configuration reloaded", secs(5)).await;
    let mut resp = http1()
        .get(tg.url("http", "/cam/stream"))
        .send()
        .await
        .unwrap();
    let flowing = tokio::time::timeout(ms(LIMIT_MS * 3), read_until_cut(&mut resp, secs(60))).await;
    assert!(
        flowing.is_err(),
        "the stream still ended after the reload removed writeTimeout"
    );
    tg.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_slower_than_write_timeout_gets_the_connection_closed() {
    let slow = SlowBackend::start("slow", ms(LIMIT_MS * 3)).await;
    let toml =
        with_write_timeout(&(frontend("s", "s", "PathPrefix:/") + &backend("s", &slow.url())));
    let tg = Tollgate::start(&toml, &["http"]).await;
    let started = Instant::now();
    let result = within(
        secs(5),
        "an answer or a close",
        http1().get(tg.url("http", "/late")).send(),
    )
    .await;
    assert!(
        result.is_err(),
        "got {:?} although the backend answered after the writeTimeout",
        result.map(|r| r.status())
    );
    assert!(started.elapsed() < secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_stops_reading_is_disconnected() {
    // 32 MiB: far more than the socket buffers between client and tollgate.
    const SIZE: usize = 32 << 20;
    let big =
        Backend::serve(
            |_req: Req| async move { Response::new(full(Bytes::from(vec![b'x'; SIZE]))) },
        )
        .await;
    let toml =
        with_write_timeout(&(frontend("b", "b", "PathPrefix:/") + &backend("b", &big.url())));
    let tg = Tollgate::start(&toml, &["http"]).await;
    let mut stream = TcpStream::connect(tg.addr("http")).await.unwrap();
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    // The client reads nothing for longer than the limit (what is measured
    // here is that tollgate gives up on it, so the wait is the scenario).
    tokio::time::sleep(ms(LIMIT_MS * 3)).await;
    let mut received = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    within(secs(10), "the connection to end", async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received += n,
            }
        }
    })
    .await;
    assert!(
        received < SIZE,
        "the whole body arrived ({received} bytes): the stalled connection was not cut"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connection_outlives_the_write_timeout() {
    let ok = echo("ok").await;
    let toml =
        with_write_timeout(&(frontend("ok", "ok", "PathPrefix:/") + &backend("ok", &ok.url())));
    let tg = Tollgate::start(&toml, &["http"]).await;
    let mut stream = TcpStream::connect(tg.addr("http")).await.unwrap();
    for round in 0..2 {
        stream
            .write_all(b"GET /ka HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let head = read_response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "round {round}: {head}");
        // Idle on the open connection past the limit (the scenario).
        tokio::time::sleep(ms(LIMIT_MS * 2)).await;
    }
}

/// Read one response with a Content-Length body; returns its head.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = within(secs(5), "a response", stream.read(&mut buf))
            .await
            .unwrap();
        assert!(
            n > 0,
            "connection closed; got {:?}",
            String::from_utf8_lossy(&data)
        );
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = &text[..end];
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("content-length");
            if data.len() >= end + 4 + len {
                return head.to_string();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_stream_past_write_timeout_is_reset_alone() {
    let cam = MjpegBackend::start(ms(50)).await;
    let ok = echo("ok").await;
    let toml = with_write_timeout(
        &(frontend("cam", "cam", "PathPrefix:/cam")
            + &frontend("ok", "ok", "PathPrefix:/ok")
            + &backend("cam", &cam.url())
            + &backend("ok", &ok.url())),
    );
    let tg = Tollgate::start(&toml, &["http"]).await;
    let client = h2c();
    let started = Instant::now();
    let mut stream = client.get(tg.url("http", "/cam/s")).send().await.unwrap();
    assert_eq!(stream.version(), reqwest::Version::HTTP_2);
    assert!(
        read_until_cut(&mut stream, secs(5)).await,
        "the endless stream ended cleanly"
    );
    assert!(started.elapsed() >= ms(LIMIT_MS));
    // The same HTTP/2 connection (same client) still serves.
    let seen = echo_of(client.get(tg.url("http", "/ok/after"))).await;
    assert_eq!(seen.server, "ok");
}
