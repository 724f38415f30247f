//! `[entryPoints.X.proxyProtocol]`: behind a TCP load balancer, the client
//! address comes from the PROXY header (v1 or v2) the balancer sends, and
//! only from the sources the entry point trusts for it.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;

const V1: &[u8] = b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n";
const GET: &[u8] = b"GET /who HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

/// A v2 PROXY header for 198.51.100.9:4444 (TCP over IPv4).
fn v2() -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend([0x21, 0x11, 0, 12]);
    h.extend([198, 51, 100, 9, 127, 0, 0, 1]);
    h.extend(4444u16.to_be_bytes());
    h.extend(80u16.to_be_bytes());
    h
}

fn config(proxy_protocol: &str, be: &str) -> String {
    format!(
        "defaultEntryPoints = [\"http\"]\n[entryPoints.http]\naddress = \"127.0.0.1:0\"\n  [entryPoints.http.proxyProtocol]\n{proxy_protocol}\n\n"
    ) + &frontend("all", "b", "PathPrefix:/")
        + &backend("b", be)
}

/// Send `bytes` on a new connection and read until tollgate closes it.
async fn exchange(tg: &Tollgate, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(tg.addr("http")).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    within(secs(5), "the answer", s.read_to_end(&mut out))
        .await
        .ok();
    String::from_utf8_lossy(&out).into_owned()
}

fn echo_in(answer: &str) -> Echo {
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    Echo::parse(&answer[answer.find("\r\n\r\n").unwrap() + 4..])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_balancer_passes_the_client_address_in_v1_and_v2() {
    let be = echo("be").await;
    let tg = Tollgate::start(
        &config("  trustedIPs = [\"127.0.0.1/32\"]", &be.url()),
        &["http"],
    )
    .await;
    let seen = echo_in(&exchange(&tg, &[V1, GET].concat()).await);
    assert_eq!(seen.header("x-forwarded-for"), Some("203.0.113.7"));
    assert_eq!(seen.header("x-real-ip"), Some("203.0.113.7"));
    let seen = echo_in(&exchange(&tg, &[&v2()[..], GET].concat()).await);
    assert_eq!(seen.header("x-forwarded-for"), Some("198.51.100.9"));
    // The header is optional from a trusted source (as in Traefik 1.7).
    let seen = echo_in(&exchange(&tg, GET).await);
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_source_cannot_claim_an_address() {
    let be = CountingBackend::start("be").await;
    let tg = Tollgate::start(
        &config("  trustedIPs = [\"10.0.0.0/8\"]", &be.url()),
        &["http"],
    )
    .await;
    let answer = exchange(&tg, &[V1, GET].concat()).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(be.accepted(), 0, "a request reached the backend");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_header_ends_the_connection_before_any_request() {
    let be = CountingBackend::start("be").await;
    let tg = Tollgate::start(&config("  insecure = true", &be.url()), &["http"]).await;
    for bad in [
        &b"PROXY TCP4 203.0.113.300 127.0.0.1 5555 80\r\n"[..],
        b"PROXY TCP4 203.0.113.7\r\n",
        b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 80 and far too much after it, more than the one hundred and seven bytes a v1 line may have\r\n",
        b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x04\x01\x02\x03\x04",
    ] {
        let answer = exchange(&tg, &[bad, GET].concat()).await;
        assert_eq!(answer, "", "{:?}", String::from_utf8_lossy(bad));
    }
    assert_eq!(be.accepted(), 0, "a request reached the backend");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balancer_that_never_finishes_its_header_is_closed() {
    let be = echo("be").await;
    let tg = Tollgate::start(
        &(config("  insecure = true", &be.url()).replace(
            "defaultEntryPoints",
            "[respondingTimeouts]\nreadTimeout = \"1s\"\n\ndefaultEntryPoints",
        )),
        &["http"],
    )
    .await;
    let mut s = TcpStream::connect(tg.addr("http")).await.unwrap();
    s.write_all(b"PROXY TCP4 203.0").await.unwrap();
    let took = crate::connection_life::until_closed(&mut s, "the half header to be dropped").await;
    assert!(took < secs(4), "{took:?}");
}
