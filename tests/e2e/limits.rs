//! `[entryPoints.X.limits]`, `[entryPoints.X.http2]` and
//! `[entryPoints.X.transport.respondingTimeouts]`: what one client may hold
//! on an entry point. Slowloris (a head sent a line at a time), slow POST
//! (a body a few bytes at a time), too many connections from one address,
//! too many streams on one HTTP/2 connection.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::connection_life::until_closed;
use crate::harness::h2raw::{self, H2Raw};
use crate::harness::*;

/// The limits of the slow-body tests: a second's grace, then 1000 bytes/s.
const PACED: &str = "headerTimeout = \"1s\"\nminBodyRate = 1000";

/// Send `first`, then each of `pieces` `every` apart, in a task of its own
/// (until the connection fails); the other half of the connection.
async fn dribble(
    tg: &Tollgate,
    first: &[u8],
    pieces: Vec<Vec<u8>>,
    every: std::time::Duration,
) -> (tokio::net::tcp::OwnedReadHalf, tokio::task::JoinHandle<()>) {
    let s = TcpStream::connect(tg.addr("http")).await.unwrap();
    let (read, mut write) = s.into_split();
    write.write_all(first).await.unwrap();
    let task = tokio::spawn(async move {
        for piece in pieces {
            if write.write_all(&piece).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
    });
    (read, task)
}

fn with_limits(limits: &str, be: &str) -> String {
    format!(
        "defaultEntryPoints = [\"http\"]\n[respondingTimeouts]\nidleTimeout = \"20s\"\n[entryPoints.http]\naddress = \"127.0.0.1:0\"\n  [entryPoints.http.limits]\n{limits}\n\n"
    ) + &frontend("all", "b", "PathPrefix:/")
        + &backend("b", be)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_sent_a_line_at_a_time_is_cut_at_the_header_timeout() {
    let be = echo("be").await;
    let tg = Tollgate::start(&with_limits("headerTimeout = \"1s\"", &be.url()), &["http"]).await;
    let lines = (0..40)
        .map(|n| format!("X-Slow-{n}: 1\r\n").into_bytes())
        .collect();
    let (mut read, dribble) = dribble(&tg, b"GET / HTTP/1.1\r\nHost: t\r\n", lines, ms(200)).await;
    let started = Instant::now();
    until_closed(&mut read, "the slowloris connection to be closed").await;
    let took = started.elapsed();
    dribble.abort();
    // idleTimeout (20 s) would have let it go on.
    assert!(took >= ms(800) && took < secs(4), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_a_byte_at_a_time_gets_408() {
    let be = UploadBackend::start().await;
    let tg = Tollgate::start(&with_limits(PACED, &be.backend.url()), &["http"]).await;
    let head = b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n";
    let (mut read, dribble) = dribble(&tg, head, vec![b"x".to_vec(); 100], ms(100)).await;
    let started = Instant::now();
    let mut answer = Vec::new();
    within(secs(8), "the 408", read.read_to_end(&mut answer))
        .await
        .ok();
    dribble.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < secs(5), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_upload_keeps_the_minimum_rate() {
    // 64 KiB in 16 pieces over about 1.6 s: far above 1000 bytes/s.
    let be = UploadBackend::start().await;
    let tg = Tollgate::start(&with_limits(PACED, &be.backend.url()), &["http"]).await;
    let mut s = TcpStream::connect(tg.addr("http")).await.unwrap();
    s.write_all(
        b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 65536\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    for _ in 0..16 {
        s.write_all(&[b'y'; 4096]).await.unwrap();
        tokio::time::sleep(ms(100)).await;
    }
    let mut answer = Vec::new();
    within(secs(8), "the answer", s.read_to_end(&mut answer))
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("65536"), "{answer}");
}

/// A connection that got an answer (so tollgate admitted it).
async fn admitted(tg: &Tollgate) -> Option<TcpStream> {
    let mut s = TcpStream::connect(tg.addr("http")).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .ok()?;
    let mut buf = [0u8; 1024];
    let n = within(secs(5), "an answer or a close", s.read(&mut buf))
        .await
        .unwrap_or(0);
    (n > 0 && buf.starts_with(b"HTTP/1.1 200")).then_some(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_address_limit_are_closed() {
    let be = echo("be").await;
    let tg = Tollgate::start(
        &with_limits("maxConnectionsPerIP = 2", &be.url()),
        &["http"],
    )
    .await;
    let first = admitted(&tg).await.expect("first connection");
    let _second = admitted(&tg).await.expect("second connection");
    assert!(
        admitted(&tg).await.is_none(),
        "a third connection was served"
    );
    drop(first);
    // Its place comes back once tollgate has seen it close.
    let started = Instant::now();
    loop {
        if admitted(&tg).await.is_some() {
            break;
        }
        assert!(started.elapsed() < secs(5), "the place never came back");
        tokio::time::sleep(ms(50)).await;
    }
}

/// An idle connection keeps its place while it waits in the parking lot
/// (`listen::parking`, after a second idle), is served again from there,
/// and gives its place back when its client leaves while it is parked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_connection_keeps_its_place_until_its_client_leaves() {
    let be = echo("be").await;
    let tg = Tollgate::start(
        &with_limits("maxConnectionsPerIP = 1", &be.url()),
        &["http"],
    )
    .await;
    let mut first = admitted(&tg).await.expect("first connection");
    tokio::time::sleep(ms(1500)).await;
    assert!(
        admitted(&tg).await.is_none(),
        "a second connection was served while the first was parked"
    );
    first
        .write_all(b"GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = within(
        secs(5),
        "an answer from the parked connection",
        first.read(&mut buf),
    )
    .await
    .unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    tokio::time::sleep(ms(1500)).await;
    drop(first);
    let started = Instant::now();
    loop {
        if admitted(&tg).await.is_some() {
            break;
        }
        assert!(
            started.elapsed() < secs(5),
            "the parked connection's place never came back"
        );
        tokio::time::sleep(ms(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_entry_point_limit_are_closed() {
    let be = echo("be").await;
    let tg = Tollgate::start(&with_limits("maxConnections = 3", &be.url()), &["http"]).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(admitted(&tg).await.expect("a connection under the limit"));
    }
    assert!(
        admitted(&tg).await.is_none(),
        "a fourth connection was served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_are_limited_per_entry_point() {
    let be = echo("be").await;
    let toml = with_limits("", &be.url()).replace(
        "  [entryPoints.http.limits]",
        "  [entryPoints.http.http2]\n  maxConcurrentStreams = 7\n  [entryPoints.http.limits]",
    );
    let tg = Tollgate::start(&toml, &["http"]).await;
    let mut h2 = H2Raw::connect(tg.addr("http"), &[]).await;
    let settings = h2
        .until(secs(5), |f| f.kind == h2raw::SETTINGS && f.flags == 0)
        .await
        .expect("the server's SETTINGS");
    let max_streams = settings
        .payload
        .chunks(6)
        .find(|s| s[..2] == [0, 3])
        .map(|s| u32::from_be_bytes([s[2], s[3], s[4], s[5]]));
    assert_eq!(max_streams, Some(7), "{settings:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_point_has_its_own_responding_timeouts() {
    let be = echo("be").await;
    let toml = String::from(
        "defaultEntryPoints = [\"slow\", \"fast\"]\n[respondingTimeouts]\nidleTimeout = \"20s\"\n\
         [entryPoints.slow]\naddress = \"127.0.0.1:0\"\n\
         [entryPoints.fast]\naddress = \"127.0.0.1:0\"\n  [entryPoints.fast.transport.respondingTimeouts]\n  idleTimeout = \"1s\"\n\n"
    ) + &frontend("all", "b", "PathPrefix:/")
        + &backend("b", &be.url());
    let tg = Tollgate::start(&toml, &["slow", "fast"]).await;
    let mut fast = TcpStream::connect(tg.addr("fast")).await.unwrap();
    let took = until_closed(&mut fast, "the idle connection on `fast`").await;
    assert!(took < secs(4), "{took:?}");
    // The other entry point keeps the top-level 20 s.
    let mut slow = TcpStream::connect(tg.addr("slow")).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(secs(2)).await;
    slow.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 8192];
    let mut seen = String::new();
    while seen.matches("HTTP/1.1 200").count() < 2 {
        let n = within(secs(5), "two answers on `slow`", slow.read(&mut buf))
            .await
            .unwrap();
        assert!(n > 0, "`slow` closed its idle connection: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

fn with_body_cap(be: &str) -> String {
    http_only()
        + &frontend("all", "b", "PathPrefix:/")
        + &backend("b", be)
        + "[backends.b.buffering]\nmaxRequestBodyBytes = 1000\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_max_request_body_bytes_gets_413() {
    let be = UploadBackend::start().await;
    let tg = Tollgate::start(&with_body_cap(&be.backend.url()), &["http"]).await;
    let client = http1();
    // Under the cap: through.
    let resp = client
        .post(tg.url("http", "/up"))
        .body(vec![b'a'; 500])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "500");
    // A declared length over it: refused before the backend sees a byte.
    let before = *be.received.borrow();
    let resp = client
        .post(tg.url("http", "/up"))
        .body(vec![b'b'; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(*be.received.borrow(), before);
    // Chunked, no length: counted as it streams, cut, 413.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b'c'; 500])).collect();
    let resp = client
        .post(tg.url("http", "/up"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_body_over_max_request_body_bytes_gets_413() {
    let be = UploadBackend::start().await;
    let tg = Tollgate::start(&with_body_cap(&be.backend.url()), &["http"]).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b'c'; 500])).collect();
    let resp = h2c()
        .post(tg.url("http", "/up"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 413);
}

/// The status line of the answer to `head` sent on a new connection.
async fn status_line(tg: &Tollgate, head: &[u8]) -> String {
    let mut s = TcpStream::connect(tg.addr("http")).await.unwrap();
    s.write_all(head).await.unwrap();
    let mut out = Vec::new();
    within(secs(5), "an answer", s.read_to_end(&mut out))
        .await
        .ok();
    let text = String::from_utf8_lossy(&out);
    text.lines().next().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_limits_are_set_per_entry_point() {
    let be = echo("be").await;
    let toml = with_limits("maxURIBytes = 1024\nmaxHeaders = 10", &be.url()).replace(
        "  [entryPoints.http.limits]",
        "  [entryPoints.http.http]\n  maxHeaderBytes = 8192\n  [entryPoints.http.limits]",
    );
    let tg = Tollgate::start(&toml, &["http"]).await;
    let get = |target: &str, extra: &str| {
        format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n").into_bytes()
    };
    // Within every limit.
    assert!(status_line(&tg, &get("/ok", "")).await.contains("200"));
    // A target over maxURIBytes: 414.
    let long = format!("/{}", "u".repeat(1100));
    assert!(status_line(&tg, &get(&long, "")).await.contains("414"));
    // A head over maxHeaderBytes: 431, on the lane and on hyper's path (a body).
    let big = format!("X-Big: {}\r\n", "b".repeat(9000));
    assert!(status_line(&tg, &get("/big", &big)).await.contains("431"));
    let post = format!(
        "POST /big HTTP/1.1\r\nHost: t\r\n{big}Content-Length: 2\r\nConnection: close\r\n\r\nhi"
    );
    assert!(status_line(&tg, post.as_bytes()).await.contains("431"));
    // More than maxHeaders lines: 431, on both paths.
    let many: String = (0..12).map(|n| format!("X-N{n}: 1\r\n")).collect();
    assert!(status_line(&tg, &get("/many", &many)).await.contains("431"));
    let post = format!(
        "POST /many HTTP/1.1\r\nHost: t\r\n{many}Content-Length: 2\r\nConnection: close\r\n\r\nhi"
    );
    assert!(status_line(&tg, post.as_bytes()).await.contains("431"));
}
