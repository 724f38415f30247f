//! Bodies are streamed both ways, not buffered: an endless MJPEG-style
//! response and a large upload.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::harness::*;
use bytes::Bytes;
use reqwest::StatusCode;

fn find_from(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mjpeg_parts_reach_the_client_while_the_backend_is_still_sending() {
    let cam = MjpegBackend::start(ms(50)).await;
    let toml =
        http_only() + &frontend("cam", "cam", "PathPrefix:/cam") + &backend("cam", &cam.url());
    let tg = Tollgate::start(&toml, &["http"]).await;

    let mut resp = within(
        secs(5),
        "response head",
        http1().get(tg.url("http", "/cam/stream")).send(),
    )
    .await
    .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap()),
        Some("multipart/x-mixed-replace; boundary=frame")
    );

    const PARTS: usize = 6;
    let mut buf = Vec::new();
    let mut received_at = Vec::new();
    let mut scan = 0;
    within(secs(4), "first MJPEG parts", async {
        while received_at.len() < PARTS {
            let chunk = resp
                .chunk()
                .await
                .expect("read chunk")
                .expect("stream ended early");
            let now = Instant::now();
            buf.extend_from_slice(&chunk);
            // A part counts once its payload and trailing CRLF are in.
            loop {
                let n = received_at.len();
                let marker = format!("frame {n};");
                let Some(i) = find_from(&buf, scan, marker.as_bytes()) else {
                    break;
                };
                if buf.len() < i + 1024 + 2 {
                    break;
                }
                received_at.push(now);
                scan = i + 1024;
            }
        }
    })
    .await;
    assert!(buf.starts_with(b"--frame\r\nContent-Type: image/jpeg\r\n"));

    // Each part arrives soon after the backend sent it: nothing waits for
    // the (endless) body to end or for a big buffer to fill.
    for (n, got) in received_at.iter().enumerate().skip(1) {
        let sent = cam.sent_at(n).expect("backend sent part");
        let lag = got.saturating_duration_since(sent);
        assert!(
            lag < ms(400),
            "part {n} reached the client {lag:?} after the backend sent it"
        );
    }

    // The client hangs up: the proxy stops pulling frames from the backend.
    drop(resp);
    let cam = &cam;
    eventually(
        secs(3),
        "backend stream stops after the client left",
        move || async move {
            let before = cam.frames_sent();
            tokio::time::sleep(ms(300)).await;
            (cam.frames_sent() == before).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_upload_is_streamed_to_the_backend() {
    let up = UploadBackend::start().await;
    let toml =
        http_only() + &frontend("up", "up", "PathPrefix:/upload") + &backend("up", &up.url());
    let tg = Tollgate::start(&toml, &["http"]).await;

    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 1024; // 64 MiB
    const WAIT_AFTER: usize = 16; // 1 MiB sent, then wait for the backend
    let chunk = Bytes::from(vec![0xABu8; CHUNK]);
    let streamed_early = Arc::new(AtomicBool::new(false));
    let flag = streamed_early.clone();
    let rx = up.received.clone();
    let body = futures_util::stream::unfold((0usize, rx), move |(i, mut rx)| {
        let (chunk, flag) = (chunk.clone(), flag.clone());
        async move {
            if i == CHUNKS {
                return None;
            }
            if i == WAIT_AFTER {
                // A proxy that buffers the whole body never lets this through.
                let ok = tokio::time::timeout(secs(5), rx.wait_for(|n| *n > 0)).await;
                flag.store(matches!(ok, Ok(Ok(_))), Ordering::SeqCst);
            }
            Some((Ok::<_, std::io::Error>(chunk), (i + 1, rx)))
        }
    });

    let (st, text) = send(
        http1()
            .post(tg.url("http", "/upload/big.bin"))
            .header("content-type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(body)),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert_eq!(
        text,
        (CHUNK * CHUNKS).to_string(),
        "bytes the backend received"
    );
    assert!(
        streamed_early.load(Ordering::SeqCst),
        "the backend saw no byte of the upload before the client had sent the rest"
    );
}
