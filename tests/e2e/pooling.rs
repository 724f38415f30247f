//! Upstream keep-alive: connections to a backend are reused, a connection
//! the backend closed is never used for a request (no spurious 502), and a
//! response the client abandoned midway never leaks its rest into the next
//! request's answer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::*;
use http::Response;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_share_one_upstream_connection() {
    let counting = CountingBackend::start("c").await;
    let toml = http_only() + &frontend("c", "c", "PathPrefix:/") + &backend("c", &counting.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let client = http1();
    for i in 0..50 {
        let seen = echo_of(client.get(tg.url("http", &format!("/r{i}")))).await;
        assert_eq!(seen.uri, format!("/r{i}"));
    }
    // Also after bodies of every shape: empty (HEAD), chunked upload.
    let (status, _) = send(client.head(tg.url("http", "/head"))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(client.post(tg.url("http", "/up")).body(vec![b'x'; 100_000])).await;
    assert_eq!(status, StatusCode::OK);
    let seen = echo_of(client.get(tg.url("http", "/last"))).await;
    assert_eq!(seen.uri, "/last");
    assert_eq!(
        counting.accepted(),
        1,
        "53 sequential requests should travel on one upstream connection"
    );
}

/// A backend that answers one request per connection and, a few
/// milliseconds later, closes the connection without having announced it
/// (`Connection: close` absent): a server with a very short keep-alive timer.
async fn one_shot_backend() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let count = count.clone();
            tokio::spawn(async move {
                let _ = answer_one(stream, &count).await;
            });
        }
    });
    (format!("http://{addr}"), served)
}

const KEEP_ALIVE_MS: u64 = 15;

async fn answer_one(mut stream: TcpStream, answered: &AtomicUsize) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\none-shot")
        .await?;
    answered.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(ms(KEEP_ALIVE_MS)).await;
    stream.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_closing_idle_connections_causes_no_502() {
    let (url, served) = one_shot_backend().await;
    let toml = http_only() + &frontend("o", "o", "PathPrefix:/") + &backend("o", &url);
    let tg = Tollgate::start(&toml, &["http"]).await;
    let client = http1();
    for i in 0..40u64 {
        // Requests land before, around and after the backend's close.
        tokio::time::sleep(ms(i % 3 * KEEP_ALIVE_MS)).await;
        let (status, body) = send(client.get(tg.url("http", &format!("/{i}")))).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "one-shot"),
            "request {i}"
        );
    }
    // Each answer the client got was the backend's, none invented.
    assert_eq!(served.load(Ordering::SeqCst), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_response_never_leaks_into_the_next_one() {
    let big = Backend::serve(|req: Req| async move {
        if req.uri().path() == "/big" {
            // 8 MiB: far more than socket buffers hold, so most of it is
            // still unread upstream when the client walks away.
            Response::new(full(vec![b'B'; 8 << 20]))
        } else {
            text(StatusCode::OK, "small")
        }
    })
    .await;
    let toml = http_only() + &frontend("b", "b", "PathPrefix:/") + &backend("b", &big.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    for _ in 0..5 {
        // A fresh client per round: the abandoned client connection closes.
        let resp = http1().get(tg.url("http", "/big")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let mut resp = resp;
        let first = resp.chunk().await.unwrap().unwrap();
        assert_eq!(first[0], b'B');
        drop(resp);
        let (status, body) = send(http1().get(tg.url("http", "/small"))).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "small"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_backend_connection_is_closed_at_idle_conn_timeout() {
    // A backend that answers one request and then waits for tollgate to
    // close the kept-alive connection: that must happen at
    // `idleConnTimeout`, even though no request comes to look at the pool.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 8192];
        let mut seen = Vec::new();
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).await.unwrap();
            seen.extend_from_slice(&buf[..n]);
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await
            .unwrap();
        let answered = std::time::Instant::now();
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = closed_tx.send(answered.elapsed());
    });
    let toml = http_only()
        + "[forwardingTimeouts]\nidleConnTimeout = \"1s\"\n\n"
        + &frontend("all", "b", "PathPrefix:/")
        + &backend("b", &format!("http://{addr}"));
    let tg = Tollgate::start(&toml, &["http"]).await;
    let resp = http1().get(tg.url("http", "/once")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    let idle = within(secs(5), "tollgate to close the idle connection", closed_rx)
        .await
        .unwrap();
    assert!(idle >= ms(900) && idle < secs(3), "{idle:?}");
}
