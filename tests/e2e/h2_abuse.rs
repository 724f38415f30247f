//! HTTP/2 clients that abuse the protocol, written frame by frame
//! (`harness::h2raw`): a stream whose flow-control window stays at zero,
//! control-frame floods. Each must cost the attacker its stream or its
//! connection, never the proxy a backend connection or a worker.

use std::time::Instant;

use crate::connection_life::until_closed;
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

/// Send `unit` over and over (up to 200,000 times) on an HTTP/2 connection
/// while reading what comes back; the GOAWAY tollgate answers with, if any.
async fn flood(unit: impl Fn(u32) -> Vec<u8>) -> Option<Frame> {
    let be = echo("be").await;
    let tg = Tollgate::start(&cam_config("10s", &be.url()), &["http"]).await;
    let mut h2 = H2Raw::connect(tg.addr("http"), &[]).await;
    let started = Instant::now();
    let mut n = 0u32;
    while n < 200_000 {
        let mut batch = Vec::new();
        for _ in 0..500 {
            batch.extend(unit(n));
            n += 1;
        }
        if h2.send(&batch).await.is_err() {
            break;
        }
        while let Some(f) = h2.next_frame(ms(1)).await {
            if f.kind == GOAWAY {
                let took = started.elapsed();
                assert!(took < secs(5), "GOAWAY after {took:?}");
                until_closed(&mut h2.read, "the flooding connection to end").await;
                return Some(f);
            }
        }
    }
    // The last frames may still be in flight.
    h2.until(secs(2), |f| f.kind == GOAWAY).await
}

fn assert_calmed(goaway: Option<Frame>, what: &str) {
    let goaway = goaway.unwrap_or_else(|| panic!("a {what} flood got no GOAWAY"));
    assert_eq!(
        goaway.error_code(),
        Some(ENHANCE_YOUR_CALM),
        "{what}: {goaway:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_update_flood_is_told_to_calm_down() {
    assert_calmed(flood(|_| window_update(0, 1)).await, "WINDOW_UPDATE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_is_told_to_calm_down() {
    assert_calmed(flood(|_| frame(PING, 0, 0, b"pingpong")).await, "PING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_flood_is_told_to_calm_down() {
    assert_calmed(flood(|_| settings(&[])).await, "SETTINGS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_priority_flood_is_told_to_calm_down() {
    // PRIORITY for ever new idle streams (allowed by RFC 9113).
    let unit = |n: u32| frame(PRIORITY, 0, 2 * n + 1, &[0, 0, 0, 0, 16]);
    assert_calmed(flood(unit).await, "PRIORITY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rapid_reset_flood_is_told_to_calm_down() {
    // CVE-2023-44487: open a stream, reset it at once, again and again.
    let unit = |n: u32| {
        let stream = 2 * n + 1;
        let mut bytes = get(stream, "t", "/");
        bytes.extend(frame(RST_STREAM, 0, stream, &8u32.to_be_bytes()));
        bytes
    };
    assert_calmed(flood(unit).await, "HEADERS+RST_STREAM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_http2_download_is_not_taken_for_a_flood() {
    // 32 MiB make thousands of DATA frames and WINDOW_UPDATEs.
    const SIZE: usize = 32 << 20;
    let big = Backend::serve(|_req: Req| async move {
        http::Response::new(full(bytes::Bytes::from(vec![b'x'; SIZE])))
    })
    .await;
    let tg = Tollgate::start(&cam_config("10s", &big.url()), &["http"]).await;
    let client = h2c();
    for _ in 0..2 {
        let resp = client.get(tg.url("http", "/big")).send().await.unwrap();
        assert_eq!(resp.version(), reqwest::Version::HTTP_2);
        assert_eq!(resp.bytes().await.unwrap().len(), SIZE);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_reset_at_once_do_not_each_dial_the_backend() {
    // A client that opens streams and resets them at once (below the
    // reset budget) must not make tollgate open and drop a backend
    // connection per stream: a dial outlives the stream that asked for it
    // and its connection serves the next request.
    let be = CountingBackend::start("be").await;
    let tg = Tollgate::start(&cam_config("10s", &be.url()), &["http"]).await;
    let mut h2 = H2Raw::connect(tg.addr("http"), &[]).await;
    for n in 0..200u32 {
        let stream = 2 * n + 1;
        h2.send(&get(stream, "t", "/")).await.unwrap();
        // Reset once tollgate is on its way to the backend.
        tokio::time::sleep(ms(1)).await;
        h2.send(&frame(RST_STREAM, 0, stream, &8u32.to_be_bytes()))
            .await
            .unwrap();
        if n % 20 == 19 {
            // Let the dials the resets left behind land in the pool.
            let client = h2c();
            let resp = client.get(tg.url("http", "/probe")).send().await.unwrap();
            assert_eq!(resp.status(), 200);
        }
    }
    let dials = be.accepted();
    eprintln!("{dials} backend connections for 200 reset streams");
    assert!(
        dials <= 40,
        "{dials} backend connections for 200 reset streams"
    );
}

/// An HPACK string length (7-bit prefix integer, no Huffman).
fn hpack_len(n: usize) -> Vec<u8> {
    if n < 127 {
        return vec![n as u8];
    }
    let mut out = vec![0x7f];
    let mut rest = n - 127;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
    out
}

/// `:status 431` as hyper's h2 encodes it (or as a plain literal).
fn is_431(headers: &Frame) -> bool {
    let huffman = [0x69, 0x90, 0xff];
    headers.kind == HEADERS
        && (headers.payload.windows(3).any(|w| w == huffman)
            || headers.payload.windows(3).any(|w| w == b"431"))
}

/// A HEADERS frame and CONTINUATION frames for a GET with `kb` extra
/// header fields of 4,000 bytes, cut as a client cuts them (16,000 bytes).
fn big_get(stream: u32, authority: &str, kb: usize) -> Vec<u8> {
    let mut block = get_block(authority, "/big");
    for n in 0..kb / 4 {
        let name = format!("x-big-{n}");
        block.push(0x00);
        block.extend(hpack_len(name.len()));
        block.extend(name.as_bytes());
        block.extend(hpack_len(4000));
        block.extend(std::iter::repeat_n(b'v', 4000));
    }
    let pieces: Vec<&[u8]> = block.chunks(16_000).collect();
    let mut bytes = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let last = i + 1 == pieces.len();
        let (kind, flags) = match i {
            0 => (HEADERS, END_STREAM | if last { END_HEADERS } else { 0 }),
            _ => (CONTINUATION, if last { END_HEADERS } else { 0 }),
        };
        bytes.extend(frame(kind, flags, stream, piece));
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_lists_get_the_http1_limit_and_431_on_their_stream() {
    // h2's own default (16 KB) ended the connection for lists over 64 KB.
    // Now: 40 KB passes (as over HTTP/1, whose head limit is 64 KiB), 80
    // KB gets 431 on its stream only, and the connection serves on.
    let be = echo("be").await;
    let tg = Tollgate::start(&cam_config("10s", &be.url()), &["http"]).await;
    let authority = tg.addr("http").to_string();
    let mut h2 = H2Raw::connect(tg.addr("http"), &[]).await;
    let answer_to = |stream| move |f: &Frame| f.stream == stream || f.kind == GOAWAY;
    h2.send(&big_get(1, &authority, 40)).await.unwrap();
    let first = h2.until(secs(5), answer_to(1)).await.expect("an answer");
    assert_eq!(first.kind, HEADERS, "{first:?}");
    assert!(!is_431(&first), "40 KB refused: {first:?}");
    h2.send(&big_get(3, &authority, 80)).await.unwrap();
    let second = h2.until(secs(5), answer_to(3)).await.expect("an answer");
    assert!(is_431(&second), "{second:?}");
    h2.send(&get(5, &authority, "/after")).await.unwrap();
    let third = h2.until(secs(5), answer_to(5)).await.expect("an answer");
    assert_eq!(third.kind, HEADERS, "{third:?}");
    assert!(!is_431(&third), "{third:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuation_flood_is_told_to_calm_down() {
    // A header block that never ends: HEADERS without END_HEADERS, then
    // empty CONTINUATION frames for ever (CVE-2024-27316 and kin).
    let unit = |n: u32| match n {
        0 => frame(HEADERS, END_STREAM, 1, &get_block("t", "/")),
        _ => frame(CONTINUATION, 0, 1, &[]),
    };
    assert_calmed(flood(unit).await, "CONTINUATION");
}
