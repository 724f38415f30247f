//! WebSocket upgrades pass through (Jupyter's kernel channels need them).

use crate::harness::*;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_text_and_binary_messages_are_echoed_through_the_proxy() {
    let ws_be = WsBackend::start().await;
    let web = echo("web").await;
    let toml = http_only()
        + &frontend("zumi01", "zumi01", "PathPrefix:/zumi01")
        + &frontend("web", "web", "PathPrefix:/web")
        + &backend("zumi01", &ws_be.url())
        + &backend("web", &web.url());
    let tg = Tollgate::start(&toml, &["http"]).await;

    let path = "/zumi01/api/kernels/1f2e/channels?session_id=abc";
    let url = format!("ws://{}{path}", tg.addr("http"));
    let (mut ws, resp) = within(
        secs(5),
        "websocket handshake",
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("websocket handshake through tollgate");
    assert_eq!(resp.status().as_u16(), 101);
    assert_eq!(
        ws_be.handshakes.lock().unwrap().as_slice(),
        [path.to_string()]
    );

    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let msgs = [
        Message::text("hello from the notebook"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::text("second"),
        Message::binary(big),
    ];
    for m in msgs {
        within(secs(5), "ws send", ws.send(m.clone()))
            .await
            .expect("send");
        let back = loop {
            let got = within(secs(5), "ws echo", ws.next())
                .await
                .expect("stream open")
                .expect("ws read");
            if got.is_text() || got.is_binary() {
                break got;
            }
        };
        assert_eq!(back, m);
    }
    within(secs(5), "ws close", ws.close(None))
        .await
        .expect("close");

    // Plain requests keep working next to (and after) the upgraded one.
    assert_eq!(
        echo_of(http1().get(tg.url("http", "/web/x"))).await.server,
        "web"
    );
}
