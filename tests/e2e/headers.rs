//! Headers the backend and the client see: X-Forwarded-*, hop-by-hop
//! headers, passHostHeader.

use crate::harness::*;
use hyper::{Response, StatusCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_reach_the_backend() {
    let be = echo("be").await;
    let toml = http_only() + &frontend("f", "be", "PathPrefix:/") + &backend("be", &be.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let addr = tg.addr("http");

    // reqwest sends `Host: 127.0.0.1:PORT`.
    let seen = echo_of(http1().get(tg.url("http", "/fwd"))).await;
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("127.0.0.1"),
        "{seen:?}"
    );
    assert_eq!(seen.header("x-real-ip"), Some("127.0.0.1"), "{seen:?}");
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"), "{seen:?}");
    let host = addr.to_string();
    assert_eq!(
        seen.header("x-forwarded-host"),
        Some(host.as_str()),
        "{seen:?}"
    );
    let port = addr.port().to_string();
    assert_eq!(
        seen.header("x-forwarded-port"),
        Some(port.as_str()),
        "{seen:?}"
    );
    assert!(
        seen.header("x-forwarded-server")
            .is_some_and(|s| !s.is_empty()),
        "X-Forwarded-Server missing: {seen:?}"
    );

    // The client's own Host name is what X-Forwarded-Host carries.
    let seen = echo_of(
        http1()
            .get(tg.url("http", "/fwd"))
            .header("host", "myserver.com"),
    )
    .await;
    assert_eq!(
        seen.header("x-forwarded-host"),
        Some("myserver.com"),
        "{seen:?}"
    );
    assert_eq!(seen.header("host"), Some("myserver.com"), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_request_headers_are_not_forwarded() {
    let be = echo("be").await;
    let toml = http_only() + &frontend("f", "be", "PathPrefix:/") + &backend("be", &be.url());
    let tg = Tollgate::start(&toml, &["http"]).await;

    let req = "POST /hop HTTP/1.1\r\n\
               Host: hop.test\r\n\
               Connection: close, X-Secret-Hop\r\n\
               X-Secret-Hop: 1\r\n\
               Keep-Alive: timeout=5\r\n\
               Proxy-Connection: keep-alive\r\n\
               TE: gzip\r\n\
               Trailer: X-Trail\r\n\
               Upgrade: example/1\r\n\
               X-Normal: kept\r\n\
               Transfer-Encoding: chunked\r\n\
               \r\n\
               5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    let r = raw_request(tg.addr("http"), req.as_bytes()).await;
    let seen = r.echo();
    for h in [
        "x-secret-hop",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    ] {
        assert!(
            !seen.has_header(h),
            "hop-by-hop header {h} was forwarded: {seen:?}"
        );
    }
    if let Some(c) = seen.header("connection") {
        assert!(
            !c.to_ascii_lowercase().contains("x-secret-hop"),
            "client's Connection header forwarded: {seen:?}"
        );
    }
    assert_eq!(seen.header("x-normal"), Some("kept"));
    // The chunked body arrives whole (re-framed by the proxy).
    assert_eq!(seen.body_len, 11);
    assert_eq!(seen.method, "POST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_response_headers_are_not_returned() {
    let be = Backend::serve(|_req| async {
        Response::builder()
            .status(StatusCode::OK)
            .header("connection", "X-Resp-Hop")
            .header("x-resp-hop", "secret")
            .header("keep-alive", "timeout=99")
            .header("proxy-connection", "keep-alive")
            .header("x-kept", "yes")
            .body(full("hi"))
            .unwrap()
    })
    .await;
    let toml = http_only() + &frontend("f", "be", "PathPrefix:/") + &backend("be", &be.url());
    let tg = Tollgate::start(&toml, &["http"]).await;

    let r = raw_request(
        tg.addr("http"),
        b"GET / HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body_text(), "hi");
    assert_eq!(r.header("x-kept"), Some("yes"));
    for h in ["x-resp-hop", "keep-alive", "proxy-connection"] {
        assert!(
            r.header(h).is_none(),
            "hop-by-hop response header {h} returned: {r:?}"
        );
    }
    if let Some(c) = r.header("connection") {
        assert!(!c.to_ascii_lowercase().contains("x-resp-hop"), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_host_header_true_and_false() {
    let be = echo("be").await;
    let toml = http_only()
        + &frontend_with("keep", "be", "PathPrefix:/keep", "passHostHeader = true")
        + &frontend_with("own", "be", "PathPrefix:/own", "passHostHeader = false")
        + &frontend("dflt", "be", "PathPrefix:/dflt")
        + &backend("be", &be.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let c = http1();
    let get = |p: &str| c.get(tg.url("http", p)).header("host", "app.test");

    let seen = echo_of(get("/keep")).await;
    assert_eq!(seen.header("host"), Some("app.test"));
    let seen = echo_of(get("/dflt")).await;
    assert_eq!(
        seen.header("host"),
        Some("app.test"),
        "passHostHeader defaults to true"
    );
    let seen = echo_of(get("/own")).await;
    let own = be.addr().to_string();
    assert_eq!(
        seen.header("host"),
        Some(own.as_str()),
        "passHostHeader = false"
    );
    assert_eq!(seen.header("x-forwarded-host"), Some("app.test"));
}
