//! Clients too slow to be served: one that stops reading its response
//! (slow read), over HTTP/1 and HTTP/2. Whatever tollgate holds for them
//! (the connection, its buffers, the backend's response) is given up once
//! the response has made no progress for the stall limit (idleTimeout),
//! with or without a writeTimeout.

use std::time::Instant;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::connection_life::until_closed;
use crate::harness::h2raw::{self, H2Raw, INITIAL_WINDOW_SIZE};
use crate::harness::*;

fn endless_config(cam_url: &str) -> String {
    http_only()
        + "[respondingTimeouts]\nidleTimeout = \"1s\"\n\n"
        + &frontend("all", "b", "PathPrefix:/")
        + &backend("b", cam_url)
}

/// The client reads nothing: once its response has started, the backend's
/// response must be given up, and not before the stall limit (1 s).
async fn given_up_at_the_stall_limit(be: &EndlessBackend) {
    be.until_live(1).await;
    let started = Instant::now();
    assert!(
        be.until_none_live(secs(8)).await,
        "the backend is still sending to a client that reads nothing"
    );
    assert!(started.elapsed() >= ms(900), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http1_client_that_stops_reading_is_dropped_at_the_stall_limit() {
    let be = EndlessBackend::start().await;
    let tg = Tollgate::start(&endless_config(&be.url()), &["http"]).await;
    let mut s = TcpStream::connect(tg.addr("http")).await.unwrap();
    s.write_all(b"GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    given_up_at_the_stall_limit(&be).await;
    // And the client's connection is closed (what the buffers held, then EOF).
    until_closed(&mut s, "the stalled connection to be closed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_client_that_stops_reading_is_dropped_at_the_stall_limit() {
    let be = EndlessBackend::start().await;
    let tg = Tollgate::start(&endless_config(&be.url()), &["http"]).await;
    // Windows wide open, so that only TCP (a client that reads nothing)
    // holds the response back.
    let mut h2 = H2Raw::connect(tg.addr("http"), &[(INITIAL_WINDOW_SIZE, 0x7fff_ffff)]).await;
    h2.send(&h2raw::window_update(0, 0x7fff_ffff - 65_535))
        .await
        .unwrap();
    let authority = tg.addr("http").to_string();
    h2.send(&h2raw::get(1, &authority, "/endless"))
        .await
        .unwrap();
    given_up_at_the_stall_limit(&be).await;
    until_closed(&mut h2.read, "the stalled HTTP/2 connection to be closed").await;
}
