//! Real HTTP / WebSocket backends (hyper 1 + tokio) on `127.0.0.1:0`.
//! Every backend's accept loop and connections are aborted on drop.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::Message;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = BoxBody<Bytes, BoxError>;
pub type Req = Request<Incoming>;
pub type Resp = Response<Body>;

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into())
        .map_err(|e: Infallible| match e {})
        .boxed()
}

pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(full(body))
        .unwrap()
}

/// A backend server; the accept loop (and with it every connection) is
/// aborted on drop.
pub struct Backend {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Backend {
    /// Serves HTTP/1.1 and h2c with `handler` for every request.
    pub async fn serve<F, Fut>(handler: F) -> Backend
    where
        F: Fn(Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Resp> + Send + 'static,
    {
        Backend::serve_on(SocketAddr::from(([127, 0, 0, 1], 0)), handler).await
    }

    /// Like `serve`, on `addr` (e.g. `127.0.1.7:PORT`: the whole of
    /// 127.0.0.0/8 is this machine's, so many "devices" fit on one port).
    pub async fn serve_on<F, Fut>(addr: SocketAddr, handler: F) -> Backend
    where
        F: Fn(Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Resp> + Send + 'static,
    {
        let listener = TcpListener::bind(addr).await.expect("bind backend");
        let addr = listener.local_addr().unwrap();
        let handler = Arc::new(handler);
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    acc = listener.accept() => {
                        let Ok((stream, _)) = acc else { continue };
                        let h = handler.clone();
                        conns.spawn(async move {
                            let svc = service_fn(move |req| {
                                let h = h.clone();
                                async move { Ok::<_, Infallible>(h(req).await) }
                            });
                            let _ = auto::Builder::new(TokioExecutor::new())
                                .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                                .await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Backend { addr, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`, as used in `[backends.B.servers.S] url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A port on 127.0.0.1 for a listener that must be on a known port (ACME
/// validation dials fixed ports; pebble's own ports), free when chosen.
///
/// Chosen below the kernel's ephemeral range (32768 and up by default),
/// never in it: every other listener of the suite binds port 0 and gets an
/// ephemeral port, which could be the one picked here between this check
/// and the real bind (CI saw tollgate's fixed https port taken so). Ports
/// handed out are not handed out again in this process.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // 20000-31999: above the examples' fixed ports (186xx-188xx), below
    // the ephemeral range.
    let start = (std::process::id() % 600) * 20;
    for _ in 0..12_000 {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (start + offset) % 12_000;
        let port = u16::try_from(port).expect("below 32000");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below the ephemeral range");
}

/// What the echo backend saw, as JSON: `{"server", "method", "uri",
/// "version", "headers": [[name, value]...], "body_len"}`.
pub async fn echo_response(id: &str, req: Req) -> Resp {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let version = format!("{:?}", req.version());
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = req.into_body();
    let mut body_len = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Some(d) = f.data_ref() {
                    body_len += d.len() as u64;
                }
            }
            Err(_) => break,
        }
    }
    let json = serde_json::json!({
        "server": id,
        "method": method,
        "uri": uri,
        "version": version,
        "headers": headers,
        "body_len": body_len,
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("x-backend-id", id)
        .body(full(json.to_string()))
        .unwrap()
}

/// Answers every request with `echo_response`.
pub async fn echo(id: &str) -> Backend {
    let id = id.to_string();
    Backend::serve(move |req| {
        let id = id.clone();
        async move { echo_response(&id, req).await }
    })
    .await
}

/// Parsed echo-backend answer.
#[derive(Debug, Clone)]
pub struct Echo {
    pub server: String,
    pub method: String,
    pub uri: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body_len: u64,
}

impl Echo {
    pub fn parse(body: &str) -> Echo {
        let v: serde_json::Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("not an echo-backend answer ({e}): {body:?}"));
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        Echo {
            server: s("server"),
            method: s("method"),
            uri: s("uri"),
            version: s("version"),
            headers: v["headers"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            (
                                p[0].as_str().unwrap().to_string(),
                                p[1].as_str().unwrap().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            body_len: v["body_len"].as_u64().unwrap_or(0),
        }
    }

    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of header `name`.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
}

/// An echo backend whose `GET /health` answers 200 or 500 as told.
pub struct HealthBackend {
    pub backend: Backend,
    healthy: Arc<AtomicBool>,
    health_checks: Arc<AtomicUsize>,
}

impl HealthBackend {
    pub async fn start(id: &str, healthy: bool) -> HealthBackend {
        let flag = Arc::new(AtomicBool::new(healthy));
        let checks = Arc::new(AtomicUsize::new(0));
        let (f, c, id) = (flag.clone(), checks.clone(), id.to_string());
        let backend = Backend::serve(move |req| {
            let (f, c, id) = (f.clone(), c.clone(), id.clone());
            async move {
                if req.uri().path() == "/health" {
                    c.fetch_add(1, Ordering::SeqCst);
                    if f.load(Ordering::SeqCst) {
                        text(StatusCode::OK, "ok")
                    } else {
                        text(StatusCode::INTERNAL_SERVER_ERROR, "sick")
                    }
                } else {
                    echo_response(&id, req).await
                }
            }
        })
        .await;
        HealthBackend {
            backend,
            healthy: flag,
            health_checks: checks,
        }
    }

    pub fn set_healthy(&self, h: bool) {
        self.healthy.store(h, Ordering::SeqCst);
    }

    /// Number of `/health` requests received so far.
    pub fn health_checks(&self) -> usize {
        self.health_checks.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        self.backend.url()
    }
}

/// Drop guard: fires the sender when dropped unless disarmed, i.e. when the
/// request handler's future is dropped before it finished.
pub struct CancelGuard(Option<mpsc::UnboundedSender<()>>);

impl CancelGuard {
    pub fn new(tx: mpsc::UnboundedSender<()>) -> CancelGuard {
        CancelGuard(Some(tx))
    }
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// A backend that waits `delay` before answering (echo).
/// `started` gets a message when a request arrives, `cancelled` when a
/// handler is dropped before it answered (client/proxy went away).
pub struct SlowBackend {
    pub backend: Backend,
    pub started: mpsc::UnboundedReceiver<String>,
    pub cancelled: mpsc::UnboundedReceiver<()>,
}

impl SlowBackend {
    pub async fn start(id: &str, delay: Duration) -> SlowBackend {
        let (s_tx, started) = mpsc::unbounded_channel();
        let (c_tx, cancelled) = mpsc::unbounded_channel();
        let id = id.to_string();
        let backend = Backend::serve(move |req| {
            let (s_tx, c_tx, id) = (s_tx.clone(), c_tx.clone(), id.clone());
            async move {
                let guard = CancelGuard::new(c_tx);
                let _ = s_tx.send(req.uri().to_string());
                tokio::time::sleep(delay).await;
                let resp = echo_response(&id, req).await;
                guard.disarm();
                resp
            }
        })
        .await;
        SlowBackend {
            backend,
            started,
            cancelled,
        }
    }

    pub fn url(&self) -> String {
        self.backend.url()
    }

    /// Waits (bounded) for the next request to reach the backend.
    pub async fn wait_started(&mut self, timeout: Duration) -> String {
        tokio::time::timeout(timeout, self.started.recv())
            .await
            .expect("request did not reach the slow backend in time")
            .expect("slow backend gone")
    }
}

/// One `multipart/x-mixed-replace; boundary=frame` part; the payload starts
/// with `frame N;` so the client can tell which part it got.
pub fn mjpeg_part(n: usize) -> Bytes {
    let mut payload = format!("frame {n};").into_bytes();
    payload.resize(1024, b'J');
    let mut part = format!(
        "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    )
    .into_bytes();
    part.extend_from_slice(&payload);
    part.extend_from_slice(b"\r\n");
    Bytes::from(part)
}

/// An endless MJPEG-like stream: one part every `interval`. Records when
/// each part was handed to hyper.
pub struct MjpegBackend {
    pub backend: Backend,
    pub sent_at: Arc<Mutex<Vec<Instant>>>,
}

impl MjpegBackend {
    pub async fn start(interval: Duration) -> MjpegBackend {
        let sent_at = Arc::new(Mutex::new(Vec::new()));
        let s = sent_at.clone();
        let backend = Backend::serve(move |_req| {
            let s = s.clone();
            async move {
                let stream = futures_util::stream::unfold(0usize, move |n| {
                    let s = s.clone();
                    async move {
                        if n > 0 {
                            tokio::time::sleep(interval).await;
                        }
                        s.lock().unwrap().push(Instant::now());
                        Some((Ok::<_, BoxError>(Frame::data(mjpeg_part(n))), n + 1))
                    }
                });
                Response::builder()
                    .header("content-type", "multipart/x-mixed-replace; boundary=frame")
                    .header("cache-control", "no-cache")
                    .body(BodyExt::boxed(StreamBody::new(stream)))
                    .unwrap()
            }
        })
        .await;
        MjpegBackend { backend, sent_at }
    }

    pub fn url(&self) -> String {
        self.backend.url()
    }

    pub fn sent_at(&self, n: usize) -> Option<Instant> {
        self.sent_at.lock().unwrap().get(n).copied()
    }

    pub fn frames_sent(&self) -> usize {
        self.sent_at.lock().unwrap().len()
    }
}

/// Counts uploaded body bytes as they arrive (`received` is updated per
/// frame) and answers the total as text.
pub struct UploadBackend {
    pub backend: Backend,
    pub received: watch::Receiver<u64>,
}

impl UploadBackend {
    pub async fn start() -> UploadBackend {
        let (tx, received) = watch::channel(0u64);
        let tx = Arc::new(tx);
        let backend = Backend::serve(move |req| {
            let tx = tx.clone();
            async move {
                tx.send_replace(0);
                let mut body = req.into_body();
                let mut total = 0u64;
                while let Some(frame) = body.frame().await {
                    match frame {
                        Ok(f) => {
                            if let Some(d) = f.data_ref() {
                                total += d.len() as u64;
                                tx.send_replace(total);
                            }
                        }
                        Err(e) => return text(StatusCode::BAD_REQUEST, format!("body error: {e}")),
                    }
                }
                text(StatusCode::OK, total.to_string())
            }
        })
        .await;
        UploadBackend { backend, received }
    }

    pub fn url(&self) -> String {
        self.backend.url()
    }
}

/// WebSocket echo server (tokio-tungstenite): text and binary messages are
/// sent back; the request URIs of the handshakes are recorded.
pub struct WsBackend {
    addr: SocketAddr,
    pub handshakes: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl WsBackend {
    pub async fn start() -> WsBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind ws");
        let addr = listener.local_addr().unwrap();
        let handshakes = Arc::new(Mutex::new(Vec::new()));
        let hs = handshakes.clone();
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    acc = listener.accept() => {
                        let Ok((stream, _)) = acc else { continue };
                        let hs = hs.clone();
                        conns.spawn(async move {
                            #[allow(clippy::result_large_err)] // tungstenite's callback type
                            let cb = move |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                                           resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
                                hs.lock().unwrap().push(req.uri().to_string());
                                Ok(resp)
                            };
                            let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, cb).await else {
                                return;
                            };
                            while let Some(Ok(msg)) = ws.next().await {
                                let echo = matches!(msg, Message::Text(_) | Message::Binary(_));
                                if matches!(msg, Message::Close(_))
                                    || (echo && ws.send(msg).await.is_err())
                                {
                                    break;
                                }
                            }
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        WsBackend {
            addr,
            handshakes,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for WsBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An echo backend that counts the TCP connections it accepted (to tell a
/// reused upstream connection from a new one).
pub struct CountingBackend {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl CountingBackend {
    pub async fn start(id: &str) -> CountingBackend {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind counting backend");
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let (count, id) = (accepted.clone(), id.to_string());
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    acc = listener.accept() => {
                        let Ok((stream, _)) = acc else { continue };
                        count.fetch_add(1, Ordering::SeqCst);
                        let id = id.clone();
                        conns.spawn(async move {
                            let svc = service_fn(move |req| {
                                let id = id.clone();
                                async move { Ok::<_, Infallible>(echo_response(&id, req).await) }
                            });
                            let _ = auto::Builder::new(TokioExecutor::new())
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        CountingBackend {
            addr,
            accepted,
            task,
        }
    }

    /// TCP connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for CountingBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Streams 64 KiB chunks without end, as fast as they are taken, and counts
/// the responses it is still sending: one stops counting when its
/// connection is closed (tollgate gave it up).
pub struct EndlessBackend {
    pub backend: Backend,
    live: Arc<AtomicUsize>,
}

/// Counts a response in `EndlessBackend::live` while it exists.
struct Live(Arc<AtomicUsize>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl EndlessBackend {
    pub async fn start() -> EndlessBackend {
        let live = Arc::new(AtomicUsize::new(0));
        let counter = live.clone();
        let backend = Backend::serve(move |_req| {
            counter.fetch_add(1, Ordering::SeqCst);
            let guard = Live(counter.clone());
            async move {
                let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                let stream = futures_util::stream::unfold(guard, move |guard| {
                    let chunk = chunk.clone();
                    async move { Some((Ok::<_, BoxError>(Frame::data(chunk)), guard)) }
                });
                Response::new(BodyExt::boxed(StreamBody::new(stream)))
            }
        })
        .await;
        EndlessBackend { backend, live }
    }

    pub fn url(&self) -> String {
        self.backend.url()
    }

    /// Responses still being sent.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Wait until `n` responses are being sent.
    pub async fn until_live(&self, n: usize) {
        let started = Instant::now();
        while self.live() < n {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{} of {n} responses started",
                self.live()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Wait until no response is being sent any more (within `limit`).
    pub async fn until_none_live(&self, limit: Duration) -> bool {
        let started = Instant::now();
        while self.live() > 0 {
            if started.elapsed() > limit {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}
