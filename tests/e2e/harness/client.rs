//! Clients: reqwest (HTTP/1.1 and h2c prior knowledge) and a raw HTTP/1.1
//! client for requests reqwest would normalise (dot segments, `//`,
//! hop-by-hop headers).

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::backends::Echo;

/// Every await that could hang goes through this.
pub async fn within<T>(d: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(d, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {d:?}: {what}"),
    }
}

/// Polls `f` until it returns `Some`, at most until `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("not reached within {timeout:?}: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// reqwest is built with `rustls-no-provider` (for the TLS tests): a
/// process-wide crypto provider must be installed before any client exists.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn base() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(3))
}

/// HTTP/1.1 client (keep-alive pool, no redirects, no proxy).
pub fn http1() -> reqwest::Client {
    base().http1_only().build().unwrap()
}

/// HTTP/1.1 client resolving `host` to `addr` (for Host-based routing).
pub fn http1_resolving(host: &str, addr: SocketAddr) -> reqwest::Client {
    base().http1_only().resolve(host, addr).build().unwrap()
}

/// HTTPS client resolving `host` to `addr` and accepting any certificate
/// (the fixtures' self-signed one).
pub fn https_resolving_any_cert(host: &str, addr: SocketAddr) -> reqwest::Client {
    base()
        .danger_accept_invalid_certs(true)
        .resolve(host, addr)
        .build()
        .unwrap()
}

/// h2c (HTTP/2 prior knowledge) client.
pub fn h2c() -> reqwest::Client {
    base().http2_prior_knowledge().build().unwrap()
}

pub fn h2c_resolving(host: &str, addr: SocketAddr) -> reqwest::Client {
    base()
        .http2_prior_knowledge()
        .resolve(host, addr)
        .build()
        .unwrap()
}

/// Sends `req`, returns status and body text.
pub async fn send(req: reqwest::RequestBuilder) -> (StatusCode, String) {
    let resp = within(Duration::from_secs(10), "request", req.send())
        .await
        .expect("request failed");
    let status = resp.status();
    let body = within(Duration::from_secs(10), "response body", resp.text())
        .await
        .expect("read body");
    (status, body)
}

/// Sends `req`, expects 200 from an echo backend, returns what it saw.
pub async fn echo_of(req: reqwest::RequestBuilder) -> Echo {
    let (status, body) = send(req).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "expected 200 from a backend, body: {body}"
    );
    Echo::parse(&body)
}

/// GET `url` and return status.
pub async fn status_of(client: &reqwest::Client, url: &str) -> StatusCode {
    send(client.get(url)).await.0
}

/// A response read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn echo(&self) -> Echo {
        assert_eq!(
            self.status,
            200,
            "expected 200, got {self:?} ({})",
            self.body_text()
        );
        Echo::parse(&self.body_text())
    }
}

/// Writes `request` verbatim on a fresh connection and reads one response.
/// The request should carry `Connection: close` (the response is read to
/// EOF when it has neither Content-Length nor chunked encoding).
pub async fn raw_request(addr: SocketAddr, request: &[u8]) -> RawResponse {
    within(Duration::from_secs(10), "raw request", async {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(request).await.expect("write request");
        let mut buf = Vec::new();
        let mut tmp = [0u8; 16 * 1024];
        // Read the head.
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            let n = s.read(&mut tmp).await.expect("read");
            assert!(
                n > 0,
                "connection closed before a response head: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let mut rest = buf[head_end..].to_vec();
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.to_ascii_lowercase())
        };
        let body = if let Some(len) = get("content-length") {
            let len: usize = len.parse().expect("content-length");
            while rest.len() < len {
                let n = s.read(&mut tmp).await.expect("read body");
                assert!(n > 0, "EOF before end of body");
                rest.extend_from_slice(&tmp[..n]);
            }
            rest.truncate(len);
            rest
        } else if get("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
            loop {
                if let Some(body) = dechunk(&rest) {
                    break body;
                }
                let n = s.read(&mut tmp).await.expect("read chunk");
                assert!(n > 0, "EOF inside chunked body");
                rest.extend_from_slice(&tmp[..n]);
            }
        } else if status == 204 || status == 304 {
            Vec::new()
        } else {
            s.read_to_end(&mut rest).await.expect("read to EOF");
            rest
        };
        RawResponse {
            status,
            headers,
            body,
        }
    })
    .await
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a complete chunked body, `None` if incomplete.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let i = find(b, b"\r\n")?;
        let size_str = String::from_utf8_lossy(&b[..i]);
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        b = &b[i + 2..];
        if size == 0 {
            // Trailers end with an empty line.
            find(b, b"\r\n")?;
            return Some(out);
        }
        if b.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}
