//! What tollgate's own HTTP/1 client (proxy/src/upstream/raw.rs) must get
//! right with backends that are not hyper: scripted raw TCP backends send
//! exactly the bytes a quirky device web server might.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::*;
use reqwest::StatusCode;

/// A backend answering every request on a connection with `answer(n)`,
/// where n counts requests across connections; `close` closes the
/// connection after each answer. Counts accepted connections.
struct Scripted {
    url: String,
    connections: Arc<AtomicUsize>,
}

impl Scripted {
    async fn start(answer: fn(usize) -> Vec<u8>, close: bool) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let accepted = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let requests = requests.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, answer, close, &requests).await;
                });
            }
        });
        Scripted { url, connections }
    }
}

async fn serve(
    mut stream: TcpStream,
    answer: fn(usize) -> Vec<u8>,
    close: bool,
    requests: &AtomicUsize,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            let n = requests.fetch_add(1, Ordering::SeqCst);
            stream.write_all(&answer(n)).await?;
            if close {
                return stream.shutdown().await;
            }
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn proxy_to(url: &str) -> Tollgate {
    let toml = http_only() + &frontend("s", "s", "PathPrefix:/") + &backend("s", url);
    Tollgate::start(&toml, &["http"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_answers_are_relayed_whole_and_the_connection_reused() {
    let backend = Scripted::start(
        |n| {
            format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                 6;ext=1\r\nanswer\r\n{:x}\r\n {n}\r\n0\r\nX-Trailer: t\r\n\r\n",
                format!(" {n}").len()
            )
            .into_bytes()
        },
        false,
    )
    .await;
    let tg = proxy_to(&backend.url).await;
    let client = http1();
    for i in 0..5 {
        let (status, body) = send(client.get(tg.url("http", "/c"))).await;
        assert_eq!((status, body), (StatusCode::OK, format!("answer {i}")));
    }
    assert_eq!(backend.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_delimited_by_close_arrive_whole_and_use_new_connections() {
    // HTTP/1.0 style: no length, the end of the body is the end of the
    // connection. Then an HTTP/1.1 answer that says `Connection: close`.
    let backend = Scripted::start(
        |n| {
            match n % 2 {
                0 => format!("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close {n}"),
                _ => format!(
                    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 7\r\n\r\nclose {n}"
                ),
            }
            .into_bytes()
        },
        true,
    )
    .await;
    let tg = proxy_to(&backend.url).await;
    let client = http1();
    for i in 0..4 {
        let (status, body) = send(client.get(tg.url("http", "/x"))).await;
        let expected = if i % 2 == 0 {
            format!("until close {i}")
        } else {
            format!("close {i}")
        };
        assert_eq!((status, body), (StatusCode::OK, expected));
    }
    assert_eq!(backend.connections.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interim_100_continue_is_skipped() {
    let backend = Scripted::start(
        |_| {
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"
                .to_vec()
        },
        false,
    )
    .await;
    let tg = proxy_to(&backend.url).await;
    let (status, body) = send(http1().get(tg.url("http", "/"))).await;
    assert_eq!((status, body.as_str()), (StatusCode::CREATED, "done"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_speaking_garbage_is_a_502_and_others_keep_working() {
    let backend = Scripted::start(
        |n| match n {
            0 => b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec(),
            1 => b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
            _ => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
        },
        true,
    )
    .await;
    let tg = proxy_to(&backend.url).await;
    let client = http1();
    assert_eq!(
        send(client.get(tg.url("http", "/"))).await.0,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        send(client.get(tg.url("http", "/"))).await.0,
        StatusCode::BAD_GATEWAY
    );
    let (status, body) = send(client.get(tg.url("http", "/"))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_by_the_backend_never_looks_complete() {
    // Promises 100 bytes, sends 5, closes.
    let backend = Scripted::start(
        |_| b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort".to_vec(),
        true,
    )
    .await;
    let tg = proxy_to(&backend.url).await;
    let result = http1()
        .get(tg.url("http", "/"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await;
    assert!(
        result.is_err(),
        "a truncated body must not read as complete: {result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_answer_to_an_upload_is_relayed_without_waiting_for_the_body() {
    // A device refuses uploads at once (413) without reading them: the
    // client gets the answer although the body was never taken.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n\r\ntoo big!",
                    )
                    .await;
                // Keep the socket open, never reading: a proxy that insists
                // on sending the body first waits forever.
                tokio::time::sleep(secs(30)).await;
            });
        }
    });
    let tg = proxy_to(&url).await;
    let body = vec![b'x'; 32 << 20];
    let (status, text) = within(
        secs(10),
        "the early answer",
        send(http1().post(tg.url("http", "/upload")).body(body)),
    )
    .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too big!")
    );
}

/// A response head goes to an HTTP/1 client line by line as the backend
/// wrote it (case, order, repeated fields), less its hop-by-hop lines,
/// wherever they sit among the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_header_lines_pass_through_without_hop_by_hop_ones() {
    let backend = Scripted::start(
        |_| {
            b"HTTP/1.1 200 OK\r\n\
              Keep-Alive: timeout=5\r\n\
              X-Device-Id: Zumi-01\r\n\
              Set-Cookie: a=1\r\n\
              Connection: keep-alive\r\n\
              Set-Cookie: b=2\r\n\
              Proxy-Connection: keep-alive\r\n\
              Content-Length: 2\r\n\
              Date: Tue, 01 Dec 2026 10:00:00 GMT\r\n\
              \r\nok"
                .to_vec()
        },
        false,
    )
    .await;
    let tg = proxy_to(&backend.url).await;
    let r = raw_request(
        tg.addr("http"),
        b"GET / HTTP/1.1\r\nHost: d.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!((r.status, r.body_text().as_str()), (200, "ok"));
    let names: Vec<&str> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "X-Device-Id",
            "Set-Cookie",
            "Set-Cookie",
            "Content-Length",
            "Date",
            "connection"
        ],
        "{r:?}"
    );
    let cookies: Vec<&str> = r
        .headers
        .iter()
        .filter(|(k, _)| k == "Set-Cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(r.header("date"), Some("Tue, 01 Dec 2026 10:00:00 GMT"));
    assert_eq!(
        r.header("connection"),
        Some("close"),
        "the client asked to close"
    );
}

/// Heads that cannot pass through line by line still arrive right: bare-LF
/// line ends become CRLF, a length beside a transfer coding is dropped, and
/// headers that `Connection` names are removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_heads_that_cannot_pass_through_are_rewritten() {
    let backend = Scripted::start(
        |n| match n {
            0 => b"HTTP/1.1 200 OK\nX-Lf: yes\nContent-Length: 2\n\nlf".to_vec(),
            1 => b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nX-A: 1\r\n\
                   Transfer-Encoding: chunked\r\n\r\n2\r\nte\r\n0\r\n\r\n"
                .to_vec(),
            _ => b"HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: s\r\n\
                   X-Kept: k\r\nContent-Length: 4\r\n\r\nlist"
                .to_vec(),
        },
        false,
    )
    .await;
    let tg = proxy_to(&backend.url).await;
    let get = || {
        raw_request(
            tg.addr("http"),
            b"GET / HTTP/1.1\r\nHost: d.test\r\nConnection: close\r\n\r\n",
        )
    };
    let lf = get().await;
    assert_eq!(
        (lf.body_text().as_str(), lf.header("x-lf")),
        ("lf", Some("yes"))
    );

    let te = get().await;
    assert_eq!(te.body_text(), "te");
    assert_eq!(te.header("x-a"), Some("1"));
    assert_eq!(te.header("content-length"), None, "{te:?}");

    let listed = get().await;
    assert_eq!(listed.body_text(), "list");
    assert_eq!(listed.header("x-kept"), Some("k"));
    assert_eq!(listed.header("x-secret"), None, "{listed:?}");
}
