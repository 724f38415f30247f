//! Client connections speak to tollgate's own HTTP/1.1 code first
//! (proxy/src/http1/server.rs) and to hyper for what it hands over. What a
//! client sees must not depend on which one answered, nor break when a
//! connection changes hands midway.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;

/// One client connection, with what was read past the last response.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A response read off `Conn`: status, head text (lower-case), body.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        Conn {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    async fn more(&mut self) -> usize {
        let mut tmp = [0u8; 16 * 1024];
        let n = within(secs(10), "bytes from tollgate", self.stream.read(&mut tmp))
            .await
            .unwrap();
        self.buf.extend_from_slice(&tmp[..n]);
        n
    }

    /// One response; its body is delimited by Content-Length (absent: none).
    async fn response(&mut self, head_request: bool) -> Answer {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(self.more().await > 0, "closed before a response head");
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
        self.buf.drain(..end);
        let status = head[9..12].parse().unwrap();
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
        let len = if head_request { 0 } else { len };
        while self.buf.len() < len {
            assert!(self.more().await > 0, "closed inside a body");
        }
        let body = self.buf.drain(..len).collect();
        Answer { status, head, body }
    }

    async fn closed_by_peer(&mut self) -> bool {
        self.buf.is_empty() && self.more().await == 0
    }
}

fn uri_of(a: &Answer) -> String {
    assert_eq!(a.status, 200, "{}", a.head);
    Echo::parse(&String::from_utf8_lossy(&a.body)).uri
}

async fn proxy() -> (Backend, Tollgate) {
    let echo_backend = echo("e").await;
    let toml =
        http_only() + &frontend("e", "e", "PathPrefix:/") + &backend("e", &echo_backend.url());
    (echo_backend, Tollgate::start(&toml, &["http"]).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let (_backend, tg) = proxy().await;
    let mut c = Conn::open(tg.addr("http")).await;
    c.write(
        b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /two HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /three HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    for path in ["/one", "/two", "/three"] {
        assert_eq!(uri_of(&c.response(false).await), path);
    }
    assert!(c.closed_by_peer().await, "Connection: close is honoured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_switching_to_requests_with_bodies_keeps_working() {
    let (_backend, tg) = proxy().await;
    let mut c = Conn::open(tg.addr("http")).await;
    c.write(b"GET /before HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(uri_of(&c.response(false).await), "/before");
    // A body: the rest of this connection is served by hyper.
    c.write(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
        .await;
    let a = c.response(false).await;
    assert_eq!(uri_of(&a), "/upload");
    assert_eq!(Echo::parse(&String::from_utf8_lossy(&a.body)).body_len, 5);
    c.write(b"GET /after HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(uri_of(&c.response(false).await), "/after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_carry_the_length_but_no_body() {
    let (_backend, tg) = proxy().await;
    let mut c = Conn::open(tg.addr("http")).await;
    c.write(b"HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let head = c.response(true).await;
    assert_eq!(head.status, 200);
    assert!(head.head.contains("content-length:"), "{}", head.head);
    // Had a body followed, it would be read as the next response's head.
    c.write(b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(uri_of(&c.response(false).await), "/next");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tollgates_own_answers_are_framed_and_dated_and_keep_the_connection() {
    let echo_backend = echo("e").await;
    let toml =
        http_only() + &frontend("e", "e", "PathPrefix:/e") + &backend("e", &echo_backend.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let mut c = Conn::open(tg.addr("http")).await;
    c.write(b"GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let a = c.response(false).await;
    assert_eq!(a.status, 404, "{}", a.head);
    assert!(a.head.contains("\r\ndate: "), "{}", a.head);
    assert!(a.head.contains("\r\ncontent-length: "), "{}", a.head);
    c.write(b"GET /e/x HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(uri_of(&c.response(false).await), "/e/x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_400() {
    let (_backend, tg) = proxy().await;
    for bad in [
        &b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"[..],
        b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        let mut c = Conn::open(tg.addr("http")).await;
        c.write(bad).await;
        let a = c.response(false).await;
        assert_eq!(
            a.status,
            400,
            "{:?}: {}",
            String::from_utf8_lossy(bad),
            a.head
        );
    }
}

/// A client that keeps sending after its request was refused gets to
/// finish sending and then reads the refusal: tollgate closes lingering
/// (reads and discards the rest) instead of closing on unread input, which
/// resets the connection. A client such as hyper's, which gives up on a
/// failed write, would otherwise never see the 400. Both the lane's own 400
/// (a bad target) and hyper's (a head that does not parse) are covered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_client_can_finish_sending_and_read_the_400() {
    let (_backend, tg) = proxy().await;
    for bad in [
        &b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    ] {
        let what = String::from_utf8_lossy(bad);
        let stream = TcpStream::connect(tg.addr("http")).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let mut upload = bad.to_vec();
        upload.extend(std::iter::repeat_n(b'x', 4 << 20));
        let sent = within(secs(10), "the upload", write.write_all(&upload)).await;
        assert!(sent.is_ok(), "{what:?}: the upload was cut: {sent:?}");
        write.shutdown().await.unwrap();
        let mut answer = Vec::new();
        let read = within(secs(10), "the 400", read.read_to_end(&mut answer)).await;
        assert!(
            read.is_ok() && answer.starts_with(b"HTTP/1.1 400"),
            "{what:?}: {read:?}, got {:?}",
            String::from_utf8_lossy(&answer)
        );
    }
}

/// Between requests a connection holds no buffer, and the wait for the next
/// head reads into a 2 KiB array (http1/server.rs, PROBE). Heads larger
/// than that, heads that trickle in after an idle pause, and pipelined
/// heads after one must all arrive whole and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_after_an_idle_wait_arrive_whole_whatever_their_size_or_pace() {
    let (_backend, tg) = proxy().await;
    let mut c = Conn::open(tg.addr("http")).await;

    // 6 KiB of cookie in one write, on a fresh connection.
    let cookie = "c".repeat(6 * 1024);
    let big = format!("GET /big HTTP/1.1\r\nHost: a\r\nCookie: {cookie}\r\n\r\n");
    c.write(big.as_bytes()).await;
    let answer = c.response(false).await;
    assert_eq!(uri_of(&answer), "/big");
    let seen = Echo::parse(&String::from_utf8_lossy(&answer.body));
    assert_eq!(seen.header("cookie"), Some(cookie.as_str()));

    // Idle, then a head a few bytes at a time: the first bytes come
    // through the stack array, the rest into the buffer they went to.
    tokio::time::sleep(ms(100)).await;
    for piece in b"GET /slow HTTP/1.1\r\nHost: a\r\nX-Pace: trickle\r\n\r\n".chunks(5) {
        c.write(piece).await;
        tokio::time::sleep(ms(5)).await;
    }
    let answer = c.response(false).await;
    assert_eq!(uri_of(&answer), "/slow");
    let seen = Echo::parse(&String::from_utf8_lossy(&answer.body));
    assert_eq!(seen.header("x-pace"), Some("trickle"));

    // Idle again, then two heads in one write, the second larger than the
    // array, and the connection closed after them.
    tokio::time::sleep(ms(100)).await;
    let pair = format!(
        "GET /first HTTP/1.1\r\nHost: a\r\n\r\n\
         GET /second HTTP/1.1\r\nHost: a\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    c.write(pair.as_bytes()).await;
    assert_eq!(uri_of(&c.response(false).await), "/first");
    let answer = c.response(false).await;
    assert_eq!(uri_of(&answer), "/second");
    let seen = Echo::parse(&String::from_utf8_lossy(&answer.body));
    assert_eq!(seen.header("cookie"), Some(cookie.as_str()));
    assert!(c.closed_by_peer().await, "Connection: close is honoured");
}

/// A keep-alive connection idle for more than a second leaves the lane for
/// a small waiting future (`http1::server::PARK_AFTER`: what 10,000 idle
/// clients cost), and nothing a client sees changes: its next request is
/// served, so are pipelined ones after the wait and a head that comes in
/// pieces, and the idle limit still closes it, counted from its last
/// response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_parks_and_serves_again_and_still_closes_at_the_idle_limit() {
    let echo_backend = echo("e").await;
    let toml = crate::connection_life::with_idle_limit("3s", &echo_backend.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let mut c = Conn::open(tg.addr("http")).await;
    // Idle past PARK_AFTER before the first request, and between requests.
    tokio::time::sleep(ms(1300)).await;
    c.write(b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(uri_of(&c.response(false).await), "/first");
    tokio::time::sleep(ms(1300)).await;
    c.write(b"GET /two HTTP/1.1\r\nHost: a\r\n\r\nGET /three HTTP/1.1\r\nHost: a\r\n\r\n")
        .await;
    assert_eq!(uri_of(&c.response(false).await), "/two");
    assert_eq!(uri_of(&c.response(false).await), "/three");
    tokio::time::sleep(ms(1300)).await;
    c.write(b"GET /pie").await;
    tokio::time::sleep(ms(100)).await;
    c.write(b"ces HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(uri_of(&c.response(false).await), "/pieces");
    let started = std::time::Instant::now();
    assert!(c.closed_by_peer().await, "closed at the idle limit");
    let took = started.elapsed();
    assert!(took >= ms(2500) && took < secs(5), "closed after {took:?}");
}
