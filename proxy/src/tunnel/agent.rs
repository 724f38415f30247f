//! `tollgate agent`: the device side of a tunnel. It dials the server's
//! `[tunnels]` entry point over TLS, says its name and token (`hello`),
//! and then serves HTTP/2 on that connection as the *server*: each CONNECT
//! the proxy sends becomes one TCP connection to `--forward` (the device's
//! web UI), its bytes relayed both ways. Anything but CONNECT is refused.
//!
//! The link is kept with HTTP/2 PINGs (a dead one is noticed within 40 s)
//! and dialed again after any failure, waiting 0.1 s, then twice as long
//! each time up to 30 s, each wait with random jitter (so that a fleet
//! that lost the server does not come back in one burst); a link that
//! stayed up a minute starts the waits over.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::hello;
use crate::backoff::Backoff;
use crate::config::model::{valid_device_name, PemSource};
use crate::tls::pem::load_certs;

/// How often the link is pinged, and how long a ping may go unanswered.
const PING: Duration = Duration::from_secs(20);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// A link up this long counts as a success: the next failure retries fast.
const STABLE: Duration = Duration::from_secs(60);
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// `HOST:PORT` of the server's tunnels entry point.
    pub server: String,
    pub name: String,
    pub token: String,
    /// The device's service, e.g. `127.0.0.1:8888`.
    pub forward: String,
    /// PEM file of the CA that signed the server's certificate; None: the
    /// system's roots.
    pub ca: Option<PathBuf>,
}

/// Reads the token file (its first line, trimmed).
pub fn read_token(path: &std::path::Path) -> Result<String, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("token file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.is_empty() {
        return Err(format!("token file {} is empty", path.display()));
    }
    Ok(token)
}

/// The agent as a process: logging, a small runtime (two threads are
/// plenty for one device's streams), then `run`. For both `tollgate agent`
/// and the `tollgate-agent` binary.
pub fn main(token_file: &std::path::Path, mut opts: AgentOptions) -> Result<(), String> {
    crate::logging::init(&crate::config::model::LogConfig::default())?;
    opts.token = read_token(token_file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(run(opts))
}

/// Runs until the process is stopped: connect, serve, reconnect.
pub async fn run(opts: AgentOptions) -> Result<(), String> {
    if !valid_device_name(&opts.name) {
        return Err(format!(
            "--name {:?}: lower-case letters, digits, - and _ (at most 63)",
            opts.name
        ));
    }
    let tls = Arc::new(client_config(opts.ca.as_deref())?);
    let host = opts
        .server
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .ok_or_else(|| format!("--server {:?}: expected HOST:PORT", opts.server))?
        .to_owned();
    let sni =
        ServerName::try_from(host.clone()).map_err(|e| format!("--server host {host:?}: {e}"))?;
    let mut backoff = Backoff::new(FIRST_RETRY, MAX_RETRY);
    loop {
        let started = Instant::now();
        match connect_once(&opts, &tls, sni.clone()).await {
            Ok(()) => tracing::warn!(server = %opts.server, "tunnel closed by the server"),
            Err(why) => tracing::warn!(server = %opts.server, why, "tunnel down"),
        }
        if started.elapsed() >= STABLE {
            backoff.reset();
        }
        let pause = jitter(backoff.next_wait());
        tracing::info!(retry_in_ms = pause.as_millis() as u64, "reconnecting");
        tokio::time::sleep(pause).await;
    }
}

/// One link, from dialing to its end.
async fn connect_once(
    opts: &AgentOptions,
    tls: &Arc<rustls::ClientConfig>,
    sni: ServerName<'static>,
) -> Result<(), String> {
    let tcp = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&opts.server))
        .await
        .map_err(|_| format!("no connection within {DIAL_TIMEOUT:?}"))?
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let connector = tokio_rustls::TlsConnector::from(tls.clone());
    let mut stream = tokio::time::timeout(DIAL_TIMEOUT, connector.connect(sni, tcp))
        .await
        .map_err(|_| "TLS handshake timed out".to_owned())?
        .map_err(|e| format!("TLS: {e}"))?;
    hello::write_line(&mut stream, &hello::format_hello(&opts.name, &opts.token))
        .await
        .map_err(|e| format!("hello: {e}"))?;
    let answer = tokio::time::timeout(DIAL_TIMEOUT, hello::read_line(&mut stream))
        .await
        .map_err(|_| "no answer to the hello".to_owned())?
        .map_err(|e| format!("answer to the hello: {e}"))?;
    if answer != "OK" {
        return Err(format!("refused by the server: {answer}"));
    }
    tracing::info!(server = %opts.server, device = %opts.name, forward = %opts.forward, "tunnel up");
    let forward = opts.forward.clone();
    let service = service_fn(move |req| handle(req, forward.clone()));
    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(PING)
        .keep_alive_timeout(PING)
        .serve_connection(TokioIo::new(stream), service)
        .await
        .map_err(|e| format!("link: {e}"))
}

/// One CONNECT from the proxy: a connection to the device's service.
async fn handle(
    mut req: Request<Incoming>,
    forward: String,
) -> Result<Response<Empty<Bytes>>, std::convert::Infallible> {
    let status = |s| {
        let mut resp = Response::new(Empty::new());
        *resp.status_mut() = s;
        Ok(resp)
    };
    if req.method() != Method::CONNECT {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let service = match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&forward)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::warn!(forward = %forward, error = %e, "the device's service refused");
            return status(StatusCode::BAD_GATEWAY);
        }
        Err(_) => return status(StatusCode::GATEWAY_TIMEOUT),
    };
    let _ = service.set_nodelay(true);
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(stream) = upgrade.await else { return };
        let mut stream = TokioIo::new(stream);
        let mut service = service;
        let _ = tokio::io::copy_bidirectional(&mut stream, &mut service).await;
    });
    status(StatusCode::OK)
}

fn client_config(ca: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(file) => {
            let certs = load_certs(&PemSource::File(file.to_path_buf()))
                .map_err(|e| format!("--ca: {e}"))?;
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("--ca {}: {e}", file.display()))?;
            }
        }
        None => {
            let (_added, _ignored) =
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    Ok(
        rustls::ClientConfig::builder_with_provider(Arc::new(crate::tls::agent_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// `wait`, scaled by a random factor in [0.5, 1.5).
fn jitter(wait: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut byte);
    wait.mul_f64(0.5 + f64::from(byte[0]) / 256.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_and_one_and_a_half() {
        for _ in 0..100 {
            let j = jitter(Duration::from_secs(2));
            assert!(
                j >= Duration::from_secs(1) && j < Duration::from_secs(3),
                "{j:?}"
            );
        }
    }

    #[test]
    fn token_files() {
        let dir = std::env::temp_dir().join(format!("tollgate-agent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "abc\nignored\n").unwrap();
        assert_eq!(read_token(&file).unwrap(), "abc");
        std::fs::write(&file, "\n").unwrap();
        assert!(read_token(&file).unwrap_err().contains("empty"));
        assert!(read_token(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
