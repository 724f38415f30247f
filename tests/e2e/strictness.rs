//! The HTTP/1 strictness policy (proxy/src/http1/policy.rs) seen from
//! outside: hostile request and response bytes on raw sockets, a backend
//! that records every byte it receives. Each request case runs twice where
//! it matters: bodiless (tollgate's own lane) and with a body (hyper's
//! path), which must behave the same.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::*;

/// A raw backend: records each request head it receives (per connection)
/// and answers each with `answer(n)` (n counts requests across
/// connections). After an answer for which `switches(n)` holds, it stops
/// speaking HTTP on that connection (reads and discards, never answers),
/// as a server that switched protocols.
struct Recorder {
    url: String,
    /// Request heads (with any body bytes that came with them), by connection.
    seen: Arc<Mutex<Vec<Vec<String>>>>,
}

impl Recorder {
    async fn start(answer: fn(usize) -> Vec<u8>, switches: fn(usize) -> bool) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let count = Arc::new(Mutex::new(0usize));
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let conn = {
                    let mut all = record.lock().unwrap();
                    all.push(Vec::new());
                    all.len() - 1
                };
                let (record, count) = (record.clone(), count.clone());
                tokio::spawn(async move {
                    let _ = Self::serve(stream, conn, record, count, answer, switches).await;
                });
            }
        });
        Recorder { url, seen }
    }

    async fn serve(
        mut stream: TcpStream,
        conn: usize,
        record: Arc<Mutex<Vec<Vec<String>>>>,
        count: Arc<Mutex<usize>>,
        answer: fn(usize) -> Vec<u8>,
        switches: fn(usize) -> bool,
    ) -> std::io::Result<()> {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        let mut switched = false;
        loop {
            while !switched {
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    break;
                };
                let head = String::from_utf8_lossy(&buf[..end + 4]).into_owned();
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())
                            .flatten()
                    })
                    .unwrap_or(0);
                if buf.len() < end + 4 + length {
                    break;
                }
                let whole = String::from_utf8_lossy(&buf[..end + 4 + length]).into_owned();
                buf.drain(..end + 4 + length);
                record.lock().unwrap()[conn].push(whole);
                let n = {
                    let mut c = count.lock().unwrap();
                    *c += 1;
                    *c - 1
                };
                stream.write_all(&answer(n)).await?;
                switched = switches(n);
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            if !switched {
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }

    /// Every request head received, in order, over all connections.
    fn requests(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .cloned()
            .collect()
    }

    fn connections(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

fn ok(_: usize) -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()
}

fn never(_: usize) -> bool {
    false
}

/// The header lines named `name` in a recorded request head.
fn header_lines<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

async fn proxy_to(url: &str) -> Tollgate {
    let toml = http_only() + &frontend("all", "b", "PathPrefix:/") + &backend("b", url);
    Tollgate::start(&toml, &["http"]).await
}

/// `head` as a bodiless request (lane) and with a 2-byte body (hyper).
fn both_paths(head: &str) -> [String; 2] {
    [
        format!("{head}\r\n"),
        format!("{head}Content-Length: 2\r\n\r\nhi"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_connection_that_answered_101_is_never_reused() {
    // The client asks for an upgrade without `Connection: upgrade`, so
    // tollgate drops `Upgrade`; the backend switches anyway.
    let backend = Recorder::start(
        |n| match n {
            0 => b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
                .to_vec(),
            _ => ok(n),
        },
        |n| n == 0,
    )
    .await;
    let tg = proxy_to(&backend.url).await;
    let first = raw_request(
        tg.addr("http"),
        b"GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(first.status, 502, "{first:?}");
    // The next client's request must not be written into the switched stream.
    let second = raw_request(
        tg.addr("http"),
        b"GET /b HTTP/1.1\r\nHost: x\r\nCookie: secret\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!((second.status, second.body_text().as_str()), (200, "ok"));
    assert_eq!(backend.connections(), 2, "{:?}", backend.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absolute_form_target_replaces_the_host_header() {
    let public = Recorder::start(ok, never).await;
    let admin = Recorder::start(ok, never).await;
    let toml = http_only()
        + &frontend("public", "public", "Host:public.local")
        + &frontend("admin", "admin", "Host:admin.local")
        + &backend("public", &public.url)
        + &backend("admin", &admin.url);
    let tg = Tollgate::start(&toml, &["http"]).await;
    for request in both_paths(
        "GET http://public.local/p HTTP/1.1\r\nHost: admin.local\r\nConnection: close\r\n",
    ) {
        let resp = raw_request(tg.addr("http"), request.as_bytes()).await;
        assert_eq!(resp.status, 200, "{request:?}: {resp:?}");
    }
    assert!(admin.requests().is_empty(), "{:?}", admin.requests());
    for head in public.requests() {
        assert!(head.starts_with("GET /p HTTP/1.1\r\n"), "{head}");
        assert_eq!(header_lines(&head, "host"), ["public.local"], "{head}");
        assert_eq!(
            header_lines(&head, "x-forwarded-host"),
            ["public.local"],
            "{head}"
        );
    }
    assert_eq!(public.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_hosts_and_targets_are_refused_on_both_paths() {
    let backend = Recorder::start(ok, never).await;
    let tg = proxy_to(&backend.url).await;
    for (why, head) in [
        ("two Host headers", "GET / HTTP/1.1\r\nHost: a.local\r\nHost: b.local\r\nConnection: close\r\n"),
        ("no Host in HTTP/1.1", "GET / HTTP/1.1\r\nConnection: close\r\n"),
        ("authority-form without CONNECT", "GET admin.local:80 HTTP/1.1\r\nHost: admin.local\r\nConnection: close\r\n"),
        ("two different Content-Length", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 1\r\nConnection: close\r\n"),
    ] {
        for request in both_paths(head) {
            // The hyper variant gets one more Content-Length: still refused,
            // for its own reason or that one.
            let resp = raw_request(tg.addr("http"), request.as_bytes()).await;
            assert_eq!(resp.status, 400, "{why}: {request:?} got {resp:?}");
        }
    }
    assert!(backend.requests().is_empty(), "{:?}", backend.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_framing_must_be_unambiguous() {
    let backend = Recorder::start(ok, never).await;
    let tg = proxy_to(&backend.url).await;
    for (status, request) in [
        // Both framings: nginx refuses too (RFC 9112 section 6.1 allows it).
        (400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nhi\r\n0\r\n\r\n"),
        // Codings other than chunked alone are not implemented.
        (501, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\nConnection: close\r\n\r\n2\r\nhi\r\n0\r\n\r\n"),
        // Without chunked last, the body has no knowable end.
        (400, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n"),
        (400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\nConnection: close\r\n\r\nhi"),
        (400, "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 0\r\nConnection: close\r\n\r\n"),
        (400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +2\r\nConnection: close\r\n\r\nhi"),
    ] {
        let resp = raw_request(tg.addr("http"), request.as_bytes()).await;
        assert_eq!(resp.status, status, "{request:?} got {resp:?}");
    }
    assert!(backend.requests().is_empty(), "{:?}", backend.requests());
    // Optional whitespace around a coding is whitespace (RFC 9110 section 5.6.1).
    let resp = raw_request(
        tg.addr("http"),
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\nConnection: close\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 200, "{resp:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equal_repeated_lengths_reach_the_backend_as_one() {
    let backend = Recorder::start(ok, never).await;
    let tg = proxy_to(&backend.url).await;
    for request in [
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    ] {
        let resp = raw_request(tg.addr("http"), request.as_bytes()).await;
        assert_eq!(resp.status, 200, "{request:?} got {resp:?}");
    }
    let seen = backend.requests();
    assert_eq!(seen.len(), 2);
    for (head, length) in seen.iter().zip(["0", "2"]) {
        assert_eq!(header_lines(head, "content-length"), [length], "{head}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_client_cannot_set_x_forwarded_host_without_a_host() {
    let backend = Recorder::start(ok, never).await;
    let tg = proxy_to(&backend.url).await;
    for request in [
        "GET / HTTP/1.0\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 1\r\n\r\n"
            .to_string(),
        "POST / HTTP/1.0\r\nX-Forwarded-Host: evil.example\r\nContent-Length: 2\r\n\r\nhi"
            .to_string(),
    ] {
        let resp = raw_request(tg.addr("http"), request.as_bytes()).await;
        assert_eq!(resp.status, 200, "{request:?} got {resp:?}");
    }
    let seen = backend.requests();
    assert_eq!(seen.len(), 2);
    for head in seen {
        assert!(!head.contains("evil.example"), "{head}");
        assert_ne!(header_lines(&head, "x-forwarded-port"), ["1"], "{head}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cannot_remove_what_the_proxy_relies_on() {
    let backend = Recorder::start(ok, never).await;
    let tg = proxy_to(&backend.url).await;
    let head = "GET / HTTP/1.1\r\nHost: dev.local\r\nConnection: host, x-forwarded-for, x-real-ip, content-length, x-drop, close\r\nX-Drop: 1\r\n";
    for request in both_paths(head) {
        let resp = raw_request(tg.addr("http"), request.as_bytes()).await;
        assert_eq!(resp.status, 200, "{request:?} got {resp:?}");
    }
    let seen = backend.requests();
    assert_eq!(seen.len(), 2);
    for head in &seen {
        assert_eq!(header_lines(head, "host"), ["dev.local"], "{head}");
        assert_eq!(
            header_lines(head, "x-forwarded-for"),
            ["127.0.0.1"],
            "{head}"
        );
        assert_eq!(header_lines(head, "x-real-ip"), ["127.0.0.1"], "{head}");
        assert!(
            header_lines(head, "x-drop").is_empty(),
            "a listed header goes: {head}"
        );
    }
    assert_eq!(
        header_lines(&seen[1], "content-length"),
        ["2"],
        "{}",
        seen[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_head_over_the_limit_gets_431_on_both_paths() {
    let backend = Recorder::start(ok, never).await;
    let tg = proxy_to(&backend.url).await;
    let big = "a".repeat(100 * 1024);
    for request in both_paths(&format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {big}\r\nConnection: close\r\n"
    )) {
        let resp = raw_request(tg.addr("http"), request.as_bytes()).await;
        assert_eq!(resp.status, 431, "got {resp:?}");
    }
    assert!(backend.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_target_over_8_kib_gets_414_on_both_paths() {
    let backend = Recorder::start(ok, never).await;
    let tg = proxy_to(&backend.url).await;
    let long = "a".repeat(9 * 1024);
    for request in both_paths(&format!(
        "GET /?q={long} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
    )) {
        let resp = raw_request(tg.addr("http"), request.as_bytes()).await;
        assert_eq!(resp.status, 414, "got {resp:?}");
    }
    let fits = "a".repeat(7 * 1024);
    let request = format!("GET /?q={fits} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert_eq!(
        raw_request(tg.addr("http"), request.as_bytes())
            .await
            .status,
        200
    );
    assert_eq!(backend.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_framing_is_normalized_or_refused() {
    // n = 0: a HEAD answered chunked; 1: a repeated equal length;
    // 2: a chunk size with a space before it ends; 3: a bad extension.
    let backend = Recorder::start(
        |n| match n {
            0 => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            1 => b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello".to_vec(),
            2 => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"
                .to_vec(),
            3 => {
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a b\r\nhello\r\n0\r\n\r\n"
                    .to_vec()
            }
            _ => ok(n),
        },
        never,
    )
    .await;
    let tg = proxy_to(&backend.url).await;
    // HEAD: nothing invented about a body that was never described.
    let mut s = TcpStream::connect(tg.addr("http")).await.unwrap();
    s.write_all(b"HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    within(
        Duration::from_secs(10),
        "HEAD answer",
        s.read_to_end(&mut answer),
    )
    .await
    .unwrap();
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 200"), "{answer}");
    assert!(!answer.contains("content-length: 0"), "{answer}");

    let resp = raw_request(
        tg.addr("http"),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 200);
    let lengths: Vec<&str> = resp
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(lengths, ["5"], "{resp:?}");
    assert_eq!(resp.body_text(), "hello");

    for case in [
        "a space after the chunk size",
        "a malformed chunk extension",
    ] {
        let mut s = TcpStream::connect(tg.addr("http")).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        within(Duration::from_secs(10), case, s.read_to_end(&mut answer))
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&answer);
        // Refused before a byte of it was sent, or cut without the last chunk.
        assert!(
            text.starts_with("HTTP/1.1 502") || !text.contains("0\r\n\r\n"),
            "{case}: {text}"
        );
        assert!(!text.contains("hello\r\n0\r\n\r\n"), "{case}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_separators_in_a_path_are_refused_unless_the_entrypoint_allows_them() {
    let admin = Recorder::start(ok, never).await;
    let public = Recorder::start(ok, never).await;
    let both = "entryPoints = [\"strict\", \"lax\"]";
    let routes = frontend_with("admin", "admin", "PathPrefix:/admin", both)
        + &frontend_with("public", "public", "PathPrefix:/", both)
        + &backend("admin", &admin.url)
        + &backend("public", &public.url);
    // `strict` refuses; `lax` allows an encoded slash (and only that).
    let toml = entrypoints(&["strict", "lax"])
        + "[entryPoints.lax.http.encodedCharacters]\nallowEncodedSlash = true\n\n"
        + &routes;
    let tg = Tollgate::start(&toml, &["strict", "lax"]).await;
    for path in [
        "/a/..%2fadmin",
        "/a%2F..%2Fadmin",
        "/x%5c..%5cadmin",
        "/x%00",
        "/x%3b",
        "/x%252f",
        "/x%3F",
        "/x%23",
    ] {
        for request in both_paths(&format!(
            "GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
        )) {
            let resp = raw_request(tg.addr("strict"), request.as_bytes()).await;
            assert_eq!(resp.status, 400, "{path}: {resp:?}");
        }
    }
    assert!(public.requests().is_empty() && admin.requests().is_empty());
    let resp = raw_request(
        tg.addr("lax"),
        b"GET /a/..%2fadmin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 200, "{resp:?}");
    let resp = raw_request(
        tg.addr("lax"),
        b"GET /x%3b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 400, "only the slash is allowed: {resp:?}");
    // The allowed path went, encoded as it came, to the frontend its
    // undecoded form matches.
    assert_eq!(public.requests().len(), 1);
    assert!(public.requests()[0].starts_with("GET /a/..%2fadmin HTTP/1.1\r\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_names_with_underscores_are_kept_deleted_or_refused_per_entrypoint() {
    let recorder = Recorder::start(ok, never).await;
    let toml = entrypoints(&["keep", "delete", "reject"])
        + "[entryPoints.delete.http]\nunderscoreHeadersStrategy = \"delete\"\n"
        + "[entryPoints.reject.http]\nunderscoreHeadersStrategy = \"reject\"\n\n"
        + &frontend_with(
            "all",
            "b",
            "PathPrefix:/",
            "entryPoints = [\"keep\", \"delete\", \"reject\"]",
        )
        + &backend("b", &recorder.url);
    let tg = Tollgate::start(&toml, &["keep", "delete", "reject"]).await;
    let head = "GET / HTTP/1.1\r\nHost: a\r\nX_Auth_User: admin\r\nX-Auth-User: me\r\nConnection: close\r\n";
    for (ep, status) in [("keep", 200), ("delete", 200), ("reject", 400)] {
        for request in both_paths(head) {
            let resp = raw_request(tg.addr(ep), request.as_bytes()).await;
            assert_eq!(resp.status, status, "{ep}: {resp:?}");
        }
    }
    let seen = recorder.requests();
    assert_eq!(seen.len(), 4);
    for head in &seen[..2] {
        assert_eq!(header_lines(head, "x_auth_user"), ["admin"], "{head}");
    }
    for head in &seen[2..] {
        assert!(header_lines(head, "x_auth_user").is_empty(), "{head}");
        assert_eq!(header_lines(head, "x-auth-user"), ["me"], "{head}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_connection_hyper_serves_a_length_beside_a_coding_ends_the_connection() {
    // The first request has a body: the lane hands the connection to hyper,
    // which then drops the second request's Content-Length unseen.
    let backend = Recorder::start(ok, never).await;
    let tg = proxy_to(&backend.url).await;
    let mut s = TcpStream::connect(tg.addr("http")).await.unwrap();
    s.write_all(
        b"POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi\
          POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n\
          2\r\nhi\r\n0\r\n\r\n\
          GET /3 HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    within(
        Duration::from_secs(10),
        "answers, then EOF",
        s.read_to_end(&mut answer),
    )
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert_eq!(text.matches("http/1.1 200").count(), 2, "{text}");
    assert!(text.contains("connection: close"), "{text}");
    // (hyper may have read ahead and passed on the third request before the
    // close; its answer is never written: the client sees the connection
    // end and sends it again, as after any `Connection: close`.)
    let seen = backend.requests();
    assert!(seen[1].starts_with("POST /2 "), "{}", seen[1]);
    assert!(
        header_lines(&seen[1], "content-length").is_empty(),
        "{}",
        seen[1]
    );
}
