//! HTTP/2 with prior knowledge (h2c) on a plain entrypoint.

use crate::harness::*;
use reqwest::{StatusCode, Version};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_requests_are_proxied_and_multiplexed() {
    let be = echo("be").await;
    let toml = http_only() + &frontend("f", "be", "PathPrefix:/app") + &backend("be", &be.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let c = h2c();

    let resp = within(
        secs(10),
        "h2c GET",
        c.get(tg.url("http", "/app/x?y=1")).send(),
    )
    .await
    .expect("h2c request");
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(resp.status(), StatusCode::OK);
    let seen = Echo::parse(&resp.text().await.unwrap());
    assert_eq!(seen.uri, "/app/x?y=1");
    assert_eq!(seen.method, "GET");
    // The :authority becomes the Host the backend sees (passHostHeader).
    let authority = tg.addr("http").to_string();
    assert_eq!(seen.header("host"), Some(authority.as_str()), "{seen:?}");
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"));

    // A request body over h2.
    let seen = echo_of(
        c.post(tg.url("http", "/app/upload"))
            .body(vec![7u8; 300_000]),
    )
    .await;
    assert_eq!(seen.body_len, 300_000);

    // Many concurrent streams on the one connection, each answered for itself.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let c = c.clone();
        let url = tg.url("http", &format!("/app/n{i}"));
        tasks.push(tokio::spawn(async move { (i, echo_of(c.get(url)).await) }));
    }
    for t in tasks {
        let (i, seen) = within(secs(10), "concurrent h2 stream", t).await.unwrap();
        assert_eq!(seen.uri, format!("/app/n{i}"));
    }
    assert_eq!(
        status_of(&c, &tg.url("http", "/elsewhere")).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_host_rules_use_the_authority() {
    let (a, b) = (echo("a").await, echo("b").await);
    let toml = http_only()
        + &frontend("fa", "a", "Host:a.h2.test")
        + &frontend("fb", "b", "Host:b.h2.test")
        + &backend("a", &a.url())
        + &backend("b", &b.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let port = tg.addr("http").port();

    for (host, want) in [("a.h2.test", "a"), ("b.h2.test", "b")] {
        let c = h2c_resolving(host, tg.addr("http"));
        let resp = within(
            secs(10),
            "h2c GET",
            c.get(format!("http://{host}:{port}/p")).send(),
        )
        .await
        .expect("h2c request");
        assert_eq!(resp.version(), Version::HTTP_2);
        assert_eq!(resp.status(), StatusCode::OK, "host {host}");
        let seen = Echo::parse(&resp.text().await.unwrap());
        assert_eq!(seen.server, want, "host {host}");
        assert_eq!(
            seen.header("x-forwarded-host"),
            Some(format!("{host}:{port}").as_str())
        );
    }
    let c = h2c_resolving("c.h2.test", tg.addr("http"));
    let st = status_of(&c, &format!("http://c.h2.test:{port}/p")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

/// What an idle HTTP/2 connection costs: a browser keeps its connection to
/// a dashboard open between page loads, and a device server has thousands
/// waiting. h2 kept 24 KiB of empty buffers in each for its whole life (8 KiB
/// to read, 16 KiB to write); they are now held only while bytes are in
/// them (proxy/vendor/h2/PATCH.md). Release build, h2c: 33.5 KiB of RSS per
/// idle connection before, 13.1 after. Every connection then serves a
/// second request, reading and writing through buffers made anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http2_connections_hold_no_buffers() {
    use crate::harness::h2raw::*;
    const N: usize = 400;
    const BOUND_KIB: f64 = 14.0;
    let be = echo("be").await;
    let toml = http_only() + &frontend("f", "be", "PathPrefix:/") + &backend("be", &be.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let authority = tg.addr("http").to_string();

    // One GET on `stream`, answered 200 in full.
    async fn get_ok(h2: &mut H2Raw, stream: u32, authority: &str) {
        h2.send(&get(stream, authority, &format!("/s{stream}")))
            .await
            .unwrap();
        let head = h2
            .until(secs(10), |f| f.kind == HEADERS && f.stream == stream)
            .await
            .expect("response HEADERS");
        // :status 200 is the static table's entry 8, indexed.
        assert_eq!(head.payload.first(), Some(&0x88), "{head:?}");
        if head.flags & END_STREAM == 0 {
            h2.until(secs(10), |f| {
                f.stream == stream && f.kind == DATA && f.flags & END_STREAM != 0
            })
            .await
            .expect("the response's end");
        }
    }
    let open = |n: usize| {
        let (addr, authority) = (tg.addr("http"), authority.clone());
        async move {
            let mut conns = Vec::new();
            for _ in 0..n {
                let mut h2 = H2Raw::connect(addr, &[]).await;
                h2.send(&frame(SETTINGS, 0x1, 0, &[])).await.unwrap();
                get_ok(&mut h2, 1, &authority).await;
                conns.push(h2);
            }
            conns
        }
    };
    // The first connections' one-off allocations are not theirs.
    let mut conns = open(20).await;
    let before = tg.rss_kib();
    conns.extend(open(N).await);
    // Settled RSS (debug build): 10.8-11.0 KiB each, with h2's buffers
    // held only while in use and the task's futures held once.
    let per_conn = tg.rss_growth_per(before, N, BOUND_KIB).await;
    assert!(
        per_conn < BOUND_KIB,
        "{per_conn:.1} KiB of RSS per idle HTTP/2 connection (h2's idle buffers alone were 24)"
    );
    for h2 in &mut conns {
        get_ok(h2, 3, &authority).await;
    }
}
