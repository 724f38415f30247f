//! Built-in device tunnels, as real processes on loopback: tollgate with a
//! `[tunnels]` entry point, `tollgate agent` on the "device" side dialing it
//! (through a relay the test can cut), the device's services behind the
//! agent's `--forward`, and clients asking the server for them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::*;

/// A new device token and its hash, from `tollgate tunnel-token`.
pub async fn new_token(dir: &TempDir, name: &str) -> (String, String) {
    let out = run_tollgate(dir.path(), &["tunnel-token", name], secs(10)).await;
    assert!(out.status.success(), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let token = lines[1].to_string();
    let hash = lines
        .iter()
        .find_map(|l| l.strip_prefix("tokenHash = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("a tokenHash line")
        .to_string();
    assert!(lines.contains(&format!("[tunnels.devices.{name}]").as_str()));
    (token, hash)
}

/// A TCP relay between agents and the server whose connections the test
/// can cut (a link lost mid-stream).
struct Relay {
    addr: SocketAddr,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    task: JoinHandle<()>,
}

impl Relay {
    async fn start(to: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let l = links.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut a, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    let Ok(mut b) = tokio::net::TcpStream::connect(to).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                });
                l.lock().unwrap().push(link);
            }
        });
        Relay { addr, links, task }
    }

    /// Drops every link at once (both sockets close).
    fn cut(&self) -> usize {
        let links: Vec<_> = self.links.lock().unwrap().drain(..).collect();
        for l in &links {
            l.abort();
        }
        links.len()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

struct Site {
    tg: Tollgate,
    dir: TempDir,
    tunnels: SocketAddr,
    cert: std::path::PathBuf,
    tokens: Vec<(String, String, String)>,
    _ws: WsBackend,
    _cam: MjpegBackend,
}

/// tollgate with devices zumi01 (a WebSocket echo service, Jupyter-like)
/// and cam01 (an MJPEG camera), both behind tunnels; no agent yet.
async fn site() -> Site {
    let dir = TempDir::new("tunnels");
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert_file = dir.write("tunnels.crt", cert.cert.pem());
    let key_file = dir.write("tunnels.key", cert.signing_key.serialize_pem());
    let ws = WsBackend::start().await;
    let cam = MjpegBackend::start(ms(20)).await;
    let mut tokens = Vec::new();
    let mut devices = String::new();
    for (name, forward) in [("zumi01", ws.url()), ("cam01", cam.url())] {
        let (token, hash) = new_token(&dir, name).await;
        devices.push_str(&format!(
            "  [tunnels.devices.{name}]\n  tokenHash = \"{hash}\"\n"
        ));
        let forward = forward.trim_start_matches("http://").to_string();
        tokens.push((name.to_string(), token, forward));
    }
    let toml = format!(
        r#"[entryPoints.http]
address = "127.0.0.1:0"
[entryPoints.traefik]
address = "127.0.0.1:0"
[api]
entryPoint = "traefik"
[metrics.prometheus]
entryPoint = "traefik"
[entryPoints.tunnels]
address = "127.0.0.1:0"
  [entryPoints.tunnels.tls]
    [[entryPoints.tunnels.tls.certificates]]
    certFile = "{cert}"
    keyFile = "{key}"
[tunnels]
entryPoint = "tunnels"
{devices}
[frontends.zumi01]
backend = "zumi01"
entryPoints = ["http"]
  [frontends.zumi01.routes.r]
  rule = "PathPrefixStrip:/zumi01"
[frontends.cam01]
backend = "cam01"
entryPoints = ["http"]
  [frontends.cam01.routes.r]
  rule = "PathPrefixStrip:/cam01"
[frontends.devices]
backend = "devices"
entryPoints = ["http"]
  [frontends.devices.routes.r]
  rule = "PathPrefixStrip:/dev/{{device:[a-z0-9]+}}"
[backends.devices.servers.s]
url = "tunnel://{{device}}"
[backends.zumi01.servers.s]
url = "tunnel://zumi01"
[backends.cam01.servers.s]
url = "tunnel://cam01"
"#,
        cert = cert_file.display(),
        key = key_file.display(),
    );
    let tg = Tollgate::start_in(
        TempDir::new("tunnels-server"),
        &toml,
        &["http", "tunnels", "traefik"],
    )
    .await;
    let tunnels = tg.addr("tunnels");
    Site {
        tg,
        dir,
        tunnels,
        cert: cert_file,
        tokens,
        _ws: ws,
        _cam: cam,
    }
}

impl Site {
    /// `tollgate agent` for device `i` of `tokens`, dialing `server`, with
    /// `token` instead of its own when given.
    async fn agent(&self, i: usize, server: SocketAddr, token: Option<&str>) -> Tollgate {
        self.agent_forwarding(i, server, token, None).await
    }

    /// `agent`, serving `forward` instead of the device's own service.
    async fn agent_forwarding(
        &self,
        i: usize,
        server: SocketAddr,
        token: Option<&str>,
        forward: Option<&str>,
    ) -> Tollgate {
        self.agent_with(BIN, i, server, token, forward).await
    }

    /// `agent_forwarding` with `program`: `tollgate agent`, or the
    /// `tollgate-agent` binary (whose arguments are the same, less `agent`).
    async fn agent_with(
        &self,
        program: &str,
        i: usize,
        server: SocketAddr,
        token: Option<&str>,
        forward: Option<&str>,
    ) -> Tollgate {
        let (name, own, own_forward) = &self.tokens[i];
        let forward = forward.unwrap_or(own_forward);
        let token_file = self.dir.write(
            &format!("{name}-{}.token", std::process::id()),
            token.unwrap_or(own),
        );
        let args: Vec<String> = [
            "agent",
            "--server",
            &server.to_string(),
            "--name",
            name,
            "--token-file",
            &token_file.display().to_string(),
            "--forward",
            forward,
            "--ca",
            &self.cert.display().to_string(),
        ]
        .iter()
        .skip(usize::from(program == AGENT_BIN))
        .map(|s| s.to_string())
        .collect();
        Tollgate::start_program(program, TempDir::new("agent"), &args).await
    }
}

/// Reads an MJPEG stream until `parts` more part boundaries arrived.
async fn frames(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    parts: usize,
) {
    let mut seen = 0;
    while seen < parts {
        let chunk = body
            .next()
            .await
            .expect("stream ended")
            .expect("stream failed");
        seen += String::from_utf8_lossy(&chunk).matches("--frame").count();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_serve_http_websockets_and_mjpeg_through_their_tunnels() {
    let mut s = site().await;
    // No agent yet: 502 at once, saying why.
    let started = std::time::Instant::now();
    let (status, _) = send(http1().get(s.tg.url("http", "/zumi01/"))).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(started.elapsed() < secs(2), "{:?}", started.elapsed());
    s.tg.wait_for_log("device zumi01 has no live tunnel", secs(5))
        .await;

    let _zumi = s.agent(0, s.tunnels, None).await;
    let _cam = s.agent(1, s.tunnels, None).await;
    // Up once the server registered them (the agent says so a moment
    // earlier, when it was admitted).
    s.tg.wait_for_log_count("tunnel up", 2, secs(10)).await;

    // A WebSocket through zumi01's tunnel, several messages each way.
    let url = format!("ws://{}/zumi01/api/kernels/1/channels", s.tg.addr("http"));
    let (mut ws, resp) = within(
        secs(10),
        "ws connect",
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("WebSocket through the tunnel");
    assert_eq!(resp.status(), 101);
    for i in 0..20 {
        ws.send(Message::text(format!("execute {i}")))
            .await
            .unwrap();
        let echo = within(secs(5), "echo", ws.next()).await.unwrap().unwrap();
        assert_eq!(echo.into_text().unwrap().as_str(), format!("execute {i}"));
    }
    // An MJPEG stream through cam01's, meanwhile.
    let resp = http1()
        .get(s.tg.url("http", "/cam01/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.bytes_stream();
    within(secs(10), "10 frames", frames(&mut body, 10)).await;
    ws.send(Message::text("still here")).await.unwrap();
    let echo = within(secs(5), "echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echo.into_text().unwrap().as_str(), "still here");
    // The API and the metrics say who is connected, since when, and how
    // much went through.
    let (status, body) = send(http1().get(s.tg.url("traefik", "/api/tunnels"))).await;
    assert_eq!(status, StatusCode::OK);
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let devices: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["device"].as_str().unwrap())
        .collect();
    assert_eq!(devices, ["cam01", "zumi01"], "{body}");
    for t in list.as_array().unwrap() {
        assert!(
            t["remote"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{t}"
        );
        assert!(t["streams"].as_u64().unwrap() >= 1, "{t}");
        assert!(t["bytes_from_device"].as_u64().unwrap() > 0, "{t}");
    }
    let (_, metrics) = send(http1().get(s.tg.url("traefik", "/metrics"))).await;
    assert!(
        metrics.contains("tollgate_tunnels_connected{device=\"zumi01\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tollgate_tunnel_bytes{device=\"cam01\",direction=\"from_device\"}"),
        "{metrics}"
    );
    // The server logged each tunnel with its agent's address.
    let up =
        s.tg.logs()
            .into_iter()
            .filter(|l| l.contains("tunnel up"))
            .count();
    assert_eq!(up, 2, "{}", s.tg.logs_text());
}

/// A TLS connection to the tunnels entry point, trusting its certificate.
async fn raw_tls(s: &Site) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&s.cert).unwrap();
    for cert in rustls_pemfile_certs(&pem) {
        roots.add(cert).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(s.tunnels).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_agent_is_contained() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = site().await;
    let _zumi = s.agent(0, s.tunnels, None).await;
    s.tg.wait_for_log("tunnel up", secs(10)).await;

    // A hello that never ends: refused at its length limit.
    let mut flood = raw_tls(&s).await;
    let _ = flood.write_all(&vec![b'A'; 4096]).await;
    let line = s.tg.wait_for_log("bad hello", secs(10)).await;
    assert!(line.contains("too long"), "{line}");

    // An admitted agent that then sends garbage instead of HTTP/2: its
    // own tunnel ends, and nothing else.
    let (name, token, _) = &s.tokens[1];
    let mut bad = raw_tls(&s).await;
    bad.write_all(format!("TOLLGATE-TUNNEL/1 {name} {token}\n").as_bytes())
        .await
        .unwrap();
    let mut ok = [0u8; 3];
    bad.read_exact(&mut ok).await.unwrap();
    assert_eq!(&ok, b"OK\n");
    bad.write_all(&vec![0xff; 64 * 1024]).await.ok();
    let line = s.tg.wait_for_log("cam01", secs(10)).await;
    eprintln!("{line}");
    eventually(secs(10), "the hostile tunnel ends", || async {
        s.tg.logs()
            .iter()
            .any(|l| {
                l.contains("cam01") && (l.contains("tunnel down") || l.contains("handshake failed"))
            })
            .then_some(())
    })
    .await;
    // cam01 has no tunnel; zumi01 still serves.
    let (status, _) = send(http1().get(s.tg.url("http", "/cam01/stream"))).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);

    // An admitted agent speaking HTTP/2 that answers a stream with a
    // 256 KiB header (over the 64 KiB cap): its tunnel ends (h2 takes it
    // as a connection error) and the request gets 502 at once; tollgate
    // and the other device are untouched.
    let mut big = raw_tls(&s).await;
    big.write_all(format!("TOLLGATE-TUNNEL/1 {name} {token}\n").as_bytes())
        .await
        .unwrap();
    let mut ok = [0u8; 3];
    big.read_exact(&mut ok).await.unwrap();
    let huge = "x".repeat(256 * 1024);
    let service = hyper::service::service_fn(move |_req| {
        let huge = huge.clone();
        async move {
            let resp = hyper::Response::builder()
                .header("x-huge", huge)
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap();
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let server = tokio::spawn(
        hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .max_send_buf_size(1 << 20)
            .serve_connection(hyper_util::rt::TokioIo::new(big), service),
    );
    s.tg.wait_for_log_count("tunnel up", 2, secs(10)).await;
    let started = std::time::Instant::now();
    let (status, _) = send(http1().get(s.tg.url("http", "/cam01/stream"))).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(started.elapsed() < secs(5), "{:?}", started.elapsed());
    server.abort();

    // An admitted agent whose streams never stop sending, and never send
    // an HTTP head: each request is cut at the head's size limit (502),
    // tollgate reads no more of it than that, and the tunnel stays usable.
    let mut endless = raw_tls(&s).await;
    endless
        .write_all(format!("TOLLGATE-TUNNEL/1 {name} {token}\n").as_bytes())
        .await
        .unwrap();
    let mut ok = [0u8; 3];
    endless.read_exact(&mut ok).await.unwrap();
    let service = hyper::service::service_fn(|mut req: hyper::Request<hyper::body::Incoming>| {
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let Ok(stream) = upgrade.await else { return };
            let mut stream = hyper_util::rt::TokioIo::new(stream);
            // A status line, then one header line that never ends.
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nx-endless: ").await;
            let junk = vec![b'x'; 64 * 1024];
            while stream.write_all(&junk).await.is_ok() {}
        });
        async {
            Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Empty::<
                bytes::Bytes,
            >::new()))
        }
    });
    let server = tokio::spawn(
        hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .serve_connection(hyper_util::rt::TokioIo::new(endless), service),
    );
    s.tg.wait_for_log_count("tunnel up", 4, secs(10)).await;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let (status, _) = send(http1().get(s.tg.url("http", "/cam01/x"))).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(started.elapsed() < secs(5), "{:?}", started.elapsed());
    }
    let tunnels: serde_json::Value = serde_json::from_str(
        &send(http1().get(s.tg.url("traefik", "/api/tunnels")))
            .await
            .1,
    )
    .unwrap();
    let cam = tunnels
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["device"] == "cam01")
        .expect("the endless agent's tunnel is still up");
    // Three heads cut at 64 KiB each, plus what was in flight (HTTP/2
    // windows): far from endless.
    let read = cam["bytes_from_device"].as_u64().unwrap();
    assert!(read < 8 << 20, "{read} bytes read from an endless device");
    server.abort();
    let url = format!("ws://{}/zumi01/ws", s.tg.addr("http"));
    let (mut ws, _) = within(secs(10), "ws", tokio_tungstenite::connect_async(url))
        .await
        .unwrap();
    ws.send(Message::text("unaffected")).await.unwrap();
    let echo = within(secs(5), "echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echo.into_text().unwrap().as_str(), "unaffected");
    s.tg.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_comes_back_and_serves_again_within_two_seconds() {
    let mut s = site().await;
    let relay = Relay::start(s.tunnels).await;
    let mut cam = s.agent(1, relay.addr, None).await;
    s.tg.wait_for_log("tunnel up", secs(10)).await;
    let resp = http1()
        .get(s.tg.url("http", "/cam01/stream"))
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    within(secs(10), "frames before the cut", frames(&mut body, 5)).await;

    assert_eq!(relay.cut(), 1, "one tunnel link");
    let cut_at = std::time::Instant::now();
    // The stream in flight ends (never hangs) ...
    within(secs(10), "the cut stream ends", async {
        while let Some(Ok(_)) = body.next().await {}
    })
    .await;
    // ... and a new request is served once the agent is back.
    let back = eventually(secs(2), "served again after the cut", || async {
        let resp = http1()
            .get(s.tg.url("http", "/cam01/stream"))
            .send()
            .await
            .ok()?;
        (resp.status() == StatusCode::OK).then_some(resp)
    })
    .await;
    let took = cut_at.elapsed();
    let mut body = back.bytes_stream();
    within(secs(10), "frames after the cut", frames(&mut body, 3)).await;
    eprintln!("served again {took:?} after the cut");
    assert!(took < secs(2), "{took:?}");
    cam.wait_for_log("reconnecting", secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_and_logged() {
    let mut s = site().await;
    let mut agent = s
        .agent(
            0,
            s.tunnels,
            Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        )
        .await;
    let line = agent.wait_for_log("refused by the server", secs(10)).await;
    assert!(line.contains("DENIED"), "{line}");
    let line = s.tg.wait_for_log("tunnel refused", secs(10)).await;
    assert!(
        line.contains("zumi01") && line.contains("wrong token"),
        "{line}"
    );
    let (status, _) = send(http1().get(s.tg.url("http", "/zumi01/"))).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    // The agent keeps trying, backing off.
    agent.wait_for_log("reconnecting", secs(5)).await;
    agent.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_removed_from_the_config_is_cut_off_on_reload() {
    let mut s = site().await;
    let mut zumi = s.agent(0, s.tunnels, None).await;
    s.tg.wait_for_log("tunnel up", secs(10)).await;
    let url = format!("ws://{}/zumi01/ws", s.tg.addr("http"));
    let (mut ws, _) = within(secs(10), "ws", tokio_tungstenite::connect_async(url))
        .await
        .unwrap();
    ws.send(Message::text("hi")).await.unwrap();
    within(secs(5), "echo", ws.next()).await.unwrap().unwrap();

    // Remove zumi01: device, frontend and backend.
    let path = s.tg.config_path().to_path_buf();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut kept = Vec::new();
    let mut skip = false;
    for line in text.lines() {
        if line.trim_start().starts_with('[') {
            skip = line.contains("zumi01");
        }
        if !skip {
            kept.push(line);
        }
    }
    let without = kept.join("\n");
    assert!(!without.contains("zumi01"), "{without}");
    replace_file(&path, &without);
    s.tg.signal("HUP");
    let line = s.tg.wait_for_log("tunnel down", secs(10)).await;
    assert!(
        line.contains("zumi01") && line.contains("revoked"),
        "{line}"
    );
    // Its live WebSocket ends with it.
    within(secs(10), "the WebSocket ends", async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    // The agent is refused when it comes back.
    zumi.wait_for_log("refused by the server", secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sharing_a_name_are_used_in_turn() {
    let mut s = site().await;
    // Slow answers keep all ten requests in flight at once.
    let one = SlowBackend::start("agent-one", ms(300)).await;
    let two = SlowBackend::start("agent-two", ms(300)).await;
    let one_addr = one.backend.addr().to_string();
    let two_addr = two.backend.addr().to_string();
    let _a = s
        .agent_forwarding(0, s.tunnels, None, Some(&one_addr))
        .await;
    // The second one is the small agent-only binary.
    let _b = s
        .agent_with(AGENT_BIN, 0, s.tunnels, None, Some(&two_addr))
        .await;
    s.tg.wait_for_log_count("tunnel up", 2, secs(10)).await;
    // Ten requests at once: tollgate opens a stream for each (none is
    // idle yet), taking the agents in turn.
    let client = http1();
    let requests = (0..10).map(|_| echo_of(client.get(s.tg.url("http", "/zumi01/x"))));
    let mut seen = std::collections::BTreeMap::new();
    for e in futures_util::future::join_all(requests).await {
        *seen.entry(e.server).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 2, "both agents serve: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_templated_route_reaches_every_connected_device() {
    let mut s = site().await;
    let _cam = s.agent(1, s.tunnels, None).await;
    s.tg.wait_for_log("tunnel up", secs(10)).await;
    // tunnel://{device}: no allow-list needed, only [tunnels] devices can
    // have a tunnel.
    let resp = http1()
        .get(s.tg.url("http", "/dev/cam01/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.bytes_stream();
    within(secs(10), "frames", frames(&mut body, 3)).await;
    // A configured device without an agent, and a name that is no device.
    for (path, want) in [
        ("/dev/zumi01/", StatusCode::BAD_GATEWAY),
        ("/dev/nosuch/", StatusCode::BAD_GATEWAY),
    ] {
        let (status, _) = send(http1().get(s.tg.url("http", path))).await;
        assert_eq!(status, want, "{path}");
    }
    s.tg.wait_for_log("device nosuch has no live tunnel", secs(5))
        .await;
}
