//! One HTTP request, from the moment hyper hands it over to the response:
//!
//! ```text
//! load snapshot → entrypoint routes → /ping? → redirect? → router → frontend
//!   → maxConn permit → plugins (request) → balancer picks server
//!   → proxy::forward → plugins (response, reverse order) → response
//! ```
//!
//! Every failure turns into a status through `ProxyError::status`, here, in one
//! place; a handler never panics and never returns an error to hyper (that
//! would reset the connection instead of answering).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, FutureExt};

use http::{header, HeaderValue, Method, Request, Response, Version};
use hyper::body::Incoming;

use crate::body::ProxyBody;
use crate::error::{ProxyError, Side};
use crate::forwarded::ClientInfo;
use crate::http1::response::Form;
use crate::limit::Permit;
use crate::proxy;
use crate::runtime::{Shared, Slot};
use crate::wasm::{ChainOutcome, Peer};
use crate::write_timeout::{WriteDeadline, WriteTimedOut};

/// Per-connection context, shared by the requests of one client connection.
pub struct Connection {
    pub shared: Arc<Shared>,
    pub slot: Slot,
    pub client: ClientInfo,
    /// `respondingTimeouts.writeTimeout` when this connection was accepted.
    pub write_timeout: Option<Duration>,
    /// HTTP/1's per-connection write deadline (set with `write_timeout`).
    pub write_deadline: Option<Arc<WriteDeadline>>,
    /// How long an HTTP/1 client may take to send a request head, idle
    /// keep-alive time included (`readTimeout`, else `idleTimeout`).
    pub header_timeout: Duration,
}

pub fn handle(
    req: Request<Incoming>,
    conn: Arc<Connection>,
) -> impl Future<Output = Result<Response<ProxyBody>, WriteTimedOut>> {
    // A plain function choosing the future, not an `async fn` awaiting one:
    // an extra async layer would hold a second copy of the request.
    if let Some(limit) = conn.write_timeout {
        if req.version() == Version::HTTP_2 {
            // Boxed: only this rarer path carries a second copy of `respond`.
            return Either::Left(Box::pin(respond_within(
                req.map(ProxyBody::incoming),
                conn,
                limit,
            )));
        }
        // HTTP/1: the connection's writes get the deadline (write_timeout.rs).
        if let Some(deadline) = &conn.write_deadline {
            deadline.arm();
        }
    }
    Either::Right(respond(req.map(ProxyBody::incoming), conn, Form::Map).map(Ok))
}

/// HTTP/2 with a writeTimeout: this stream gets the deadline, and an error
/// resets only this stream.
async fn respond_within(
    req: Request<ProxyBody>,
    conn: Arc<Connection>,
    limit: Duration,
) -> Result<Response<ProxyBody>, WriteTimedOut> {
    let deadline = tokio::time::Instant::now() + limit;
    let ip = conn.client.ip;
    match tokio::time::timeout_at(deadline, respond(req, conn, Form::Map)).await {
        Ok(resp) => Ok(resp.map(|body| body.with_deadline(deadline))),
        Err(_) => {
            tracing::debug!(client = %ip, "writeTimeout reached before the backend answered");
            Err(WriteTimedOut)
        }
    }
}

/// The response to one request, errors included: hyper's requests (above)
/// and the HTTP/1 fast lane's (`http1::server`) both come here. `form`:
/// whether the writer of the response takes a backend's header lines raw
/// (the fast lane does; hyper needs a `HeaderMap`).
pub async fn respond(
    req: Request<ProxyBody>,
    conn: Arc<Connection>,
    form: Form,
) -> Response<ProxyBody> {
    // Kept for the error log line; both clones are reference-count bumps.
    let method = req.method().clone();
    let uri = req.uri().clone();
    match route_and_forward(req, &conn, form).await {
        Ok(resp) => resp,
        Err(err) => {
            match err.side() {
                Side::Downstream => {
                    tracing::debug!(%method, %uri, client = %conn.client.ip, error = %err, "request refused")
                }
                Side::Upstream | Side::Internal => {
                    tracing::warn!(%method, %uri, client = %conn.client.ip, error = %err, "request failed")
                }
            }
            error_response(&err)
        }
    }
}

async fn route_and_forward(
    mut req: Request<ProxyBody>,
    conn: &Connection,
    form: Form,
) -> Result<Response<ProxyBody>, ProxyError> {
    let snapshot = conn.shared.snapshot();
    let entry = snapshot.entry(conn.slot).ok_or(ProxyError::NoRoute)?;

    if entry.ping
        && req.uri().path() == "/ping"
        && matches!(*req.method(), Method::GET | Method::HEAD)
    {
        return Ok(text_response(http::StatusCode::OK, "OK"));
    }
    // ACME HTTP-01, before redirects and plugins (tokens exist only while
    // an order runs).
    if let Some(token) = req
        .uri()
        .path()
        .strip_prefix("/.well-known/acme-challenge/")
    {
        if let Some(key_auth) = conn.shared.acme.http01(&entry.name, token) {
            let mut resp = Response::new(ProxyBody::full(key_auth));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            return Ok(resp);
        }
    }
    if let Some(redirect) = &entry.redirect {
        return Ok(redirect.respond(&req, &conn.shared, conn.client.tls));
    }

    let m = entry
        .router
        .route(req.method(), req.uri(), req.headers())
        .ok_or(ProxyError::NoRoute)?;
    let frontend = &entry.frontends[m.frontend];
    let backend = &frontend.backend;

    let permit = match &backend.limiter {
        Some(limiter) => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| req.uri().host());
            Some(
                limiter
                    .acquire(conn.client.ip, host, req.headers())
                    .ok_or(ProxyError::TooManyConnections)?,
            )
        }
        None => None,
    };

    let mut hook = None;
    let mut form = form;
    if let Some(chain) = &frontend.chain {
        let peer = Peer {
            addr: conn.client.socket_addr(),
            tls: conn.client.tls,
        };
        // Plugin futures are boxed: they are large, and a future's size is
        // copied on every request, plugins or not (see proxy::send).
        match Box::pin(chain.on_request(req, peer)).await {
            ChainOutcome::Respond(resp) => return Ok(keep_permit(resp, permit)),
            ChainOutcome::Continue(next, h) => {
                req = next;
                // Plugins that see the response read its headers from a
                // map; a chain of auth plugins (no hooks) sees nothing.
                if !h.is_empty() {
                    form = Form::Map;
                    hook = Some(h);
                }
            }
        }
    }

    let Some(server) = backend.balancer.pick() else {
        if let Some(h) = hook {
            h.on_error();
        }
        return Err(ProxyError::NoHealthyServer);
    };
    let result = proxy::forward(
        req,
        frontend,
        server,
        m.rewrite,
        &conn.client,
        &snapshot.upstreams,
        &conn.shared.server_name,
        form,
    )
    .await;
    let resp = match (result, hook) {
        (Ok(resp), Some(h)) => Box::pin(h.on_response(resp)).await,
        (Ok(resp), None) => resp,
        (Err(e), Some(h)) => {
            h.on_error();
            return Err(e);
        }
        (Err(e), None) => return Err(e),
    };
    Ok(keep_permit(resp, permit))
}

/// The `maxConn` place stays taken until the response body is sent. Set in
/// place: `Response::map` would move the whole response twice.
fn keep_permit(mut resp: Response<ProxyBody>, permit: Option<Permit>) -> Response<ProxyBody> {
    if permit.is_some() {
        resp.body_mut().set_permit(permit);
    }
    resp
}

fn error_response(err: &ProxyError) -> Response<ProxyBody> {
    text_response(err.status(), err.body())
}

fn text_response(status: http::StatusCode, body: &'static str) -> Response<ProxyBody> {
    let mut resp = Response::new(ProxyBody::full(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn future_size<A, B, F: std::future::Future>(_: fn(A, B) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// hyper moves each request's future (into its dispatcher slot, between
    /// combinators), and a move copies the whole future: its size is paid on
    /// every request, plugins or not. Rare paths (plugins, connecting, h2c)
    /// are boxed to keep it small; this catches a regression. (10.6 KB
    /// before the boxing, when memmove was 4% of the proxy's CPU; about 5 KB
    /// after; 5.9 KB since response bodies read their backend socket
    /// themselves. The HTTP/1 fast lane keeps the future in place, so this
    /// matters for what hyper serves: h2 and requests with bodies.)
    #[test]
    fn request_future_stays_small() {
        let size = future_size(handle);
        eprintln!("request future: {size} bytes");
        assert!(size <= 6144, "request future grew to {size} bytes");
    }
}
