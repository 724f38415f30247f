//! HTTP/2 clients that abuse the protocol, written frame by frame
//! (`harness::h2raw`): a stream whose flow-control window stays at zero,
//! control-frame floods. Each must cost the attacker its stream or its
//! connection, never the proxy a backend connection or a worker.

use std::time::Instant;

use crate::harness::h2raw::*;
use crate::harness::*;

fn cam_config(idle: &str, cam_url: &str) -> String {
    http_only()
        + &format!("[respondingTimeouts]\nidleTimeout = \"{idle}\"\n\n")
        + &frontend("cam", "cam", "PathPrefix:/")
        + &backend("cam", cam_url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_stream_that_keeps_streaming_outlives_the_idle_limit() {
    // A webcam's endless MJPEG stream is progress, not idleness.
    let cam = MjpegBackend::start(ms(50)).await;
    let tg = Tollgate::start(&cam_config("1s", &cam.url()), &["http"]).await;
    let client = h2c();
    let mut resp = client.get(tg.url("http", "/cam")).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let started = Instant::now();
    while started.elapsed() < secs(3) {
        let chunk = within(secs(2), "the next MJPEG part", resp.chunk()).await;
        match chunk {
            Ok(Some(_)) => {}
            other => panic!("stream cut after {:?}: {other:?}", started.elapsed()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_window_stays_at_zero_is_reset_though_its_connection_is_busy() {
    // The client opens streams with a zero window and never reads them,
    // and keeps its connection busy with a new such stream every 200 ms:
    // each stream, and the backend connection behind it, must still be
    // given up once it has made no progress for idleTimeout.
    let be = EndlessBackend::start().await;
    let tg = Tollgate::start(&cam_config("1s", &be.url()), &["http"]).await;
    let mut h2 = H2Raw::connect(tg.addr("http"), &[(INITIAL_WINDOW_SIZE, 0)]).await;
    let authority = tg.addr("http").to_string();
    h2.send(&get(1, &authority, "/cam/1")).await.unwrap();
    let started = Instant::now();
    let mut next = 3u32;
    let mut last_sent = Instant::now();
    let reset = loop {
        assert!(started.elapsed() < secs(6), "stream 1 was never reset");
        if let Some(f) = h2.next_frame(ms(50)).await {
            if f.kind == RST_STREAM && f.stream == 1 {
                break f;
            }
            assert_ne!(f.kind, GOAWAY, "the connection was closed: {f:?}");
        }
        if last_sent.elapsed() >= ms(200) {
            h2.send(&get(next, &authority, &format!("/cam/{next}")))
                .await
                .unwrap();
            next += 2;
            last_sent = Instant::now();
        }
    };
    let took = started.elapsed();
    assert!(
        took >= ms(900),
        "reset before the limit: {took:?} {reset:?}"
    );
    // Backend responses are released as their streams are: at most about
    // a stall limit's worth of streams (one per 200 ms) is held at a time.
    let opened = (next - 1) / 2;
    assert!(
        be.live() <= 7,
        "{} of {opened} backend responses still held",
        be.live()
    );
}
