//! The accepting side of a link from another instance of a cluster
//! (`tunnel::peers`), on the `[tunnels]` entry point: after TLS, the peer's
//! hello carries the cluster token; then HTTP/2 with the peer as the
//! client, each stream a CONNECT to one of the devices tunnelled here,
//! spliced to a stream on that device's tunnel.
//!
//! Only tunnels held here are opened (`Tunnels::open_local`): a device
//! that moved on gets a 502 rather than a second hop, so no request
//! travels in a circle.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::config::model::valid_device_name;
use crate::shutdown::stop_requested;
use crate::snapshot::Shared;
use crate::tunnel::hello;

/// How long a device's stream may take to open, as for a local request.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn serve<S>(
    mut stream: S,
    shared: Arc<Shared>,
    peer: SocketAddr,
    token: &str,
    mut watcher: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let snapshot = shared.snapshot();
    let expected = snapshot
        .config
        .tunnels
        .as_ref()
        .and_then(|t| t.cluster.as_ref())
        .map(|c| c.token.clone());
    let admitted = expected
        .as_deref()
        .is_some_and(|e| hello::same_token(token, e));
    if !admitted {
        let _ = hello::write_line(&mut stream, "DENIED not a member of this cluster\n").await;
        return tracing::warn!(instance = %peer, "tunnels cluster: link refused: wrong cluster token (or no [tunnels.cluster] here)");
    }
    if hello::write_line(&mut stream, "OK\n").await.is_err() {
        return;
    }
    tracing::info!(instance = %peer, "tunnels cluster: link from another instance");
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let shared = shared.clone();
        async move { Ok::<_, std::convert::Infallible>(connect(shared, req).await) }
    });
    let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(20))
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => if let Err(e) = result {
            tracing::debug!(instance = %peer, error = %e, "tunnels cluster: link ended");
        },
        () = stop_requested(&mut watcher) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// One CONNECT `DEVICE:1`: a stream on the device's tunnel here, spliced
/// to the peer's stream once both are open.
async fn connect(shared: Arc<Shared>, mut req: Request<Incoming>) -> Response<Empty<Bytes>> {
    let status = |s: StatusCode| {
        Response::builder()
            .status(s)
            .body(Empty::new())
            .unwrap_or_default()
    };
    let device = req.uri().host().unwrap_or_default().to_owned();
    if req.method() != Method::CONNECT || !valid_device_name(&device) {
        return status(StatusCode::BAD_REQUEST);
    }
    let mut tunnel = match shared.tunnels.open_local(&device, OPEN_TIMEOUT).await {
        Ok(t) => t,
        Err(why) => {
            tracing::debug!(%device, why = %why.0, "tunnels cluster: asked for a device not here");
            return status(StatusCode::BAD_GATEWAY);
        }
    };
    tokio::spawn(async move {
        match hyper::upgrade::on(&mut req).await {
            Ok(upgraded) => {
                let mut upgraded = TokioIo::new(upgraded);
                let _ = tokio::io::copy_bidirectional(&mut upgraded, &mut tunnel).await;
            }
            Err(e) => tracing::debug!(%device, error = %e, "tunnels cluster: stream not upgraded"),
        }
    });
    status(StatusCode::OK)
}
