//! One HTTP request, from the moment hyper hands it over to the response:
//!
//! ```text
//! load snapshot → entrypoint routes → /ping? → redirect? → router → frontend
//!   → maxConn permit → balancer picks server → proxy::forward → response
//! ```
//!
//! Every failure turns into a status through `ProxyError::status`, here, in one
//! place; a handler never panics and never returns an error to hyper (that
//! would reset the connection instead of answering).

use std::convert::Infallible;
use std::sync::Arc;

use http::{header, HeaderValue, Method, Request, Response};
use hyper::body::Incoming;

use crate::body::ProxyBody;
use crate::error::{ProxyError, Side};
use crate::forwarded::ClientInfo;
use crate::proxy;
use crate::runtime::{Shared, Slot};

/// Per-connection context, shared by the requests of one client connection.
pub struct Connection {
    pub shared: Arc<Shared>,
    pub slot: Slot,
    pub client: ClientInfo,
}

pub async fn handle(
    req: Request<Incoming>,
    conn: Arc<Connection>,
) -> Result<Response<ProxyBody>, Infallible> {
    // Kept for the error log line; both clones are reference-count bumps.
    let method = req.method().clone();
    let uri = req.uri().clone();
    Ok(match route_and_forward(req, &conn).await {
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
    })
}

async fn route_and_forward(
    req: Request<Incoming>,
    conn: &Connection,
) -> Result<Response<ProxyBody>, ProxyError> {
    let snapshot = conn.shared.snapshot();
    let entry = snapshot.entry(conn.slot).ok_or(ProxyError::NoRoute)?;

    if entry.ping && req.uri().path() == "/ping" && matches!(*req.method(), Method::GET | Method::HEAD) {
        return Ok(text_response(http::StatusCode::OK, "OK"));
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

    let server = backend.balancer.pick().ok_or(ProxyError::NoHealthyServer)?;
    let resp = proxy::forward(
        req,
        frontend,
        server,
        m.rewrite,
        &conn.client,
        &snapshot.upstreams,
        &conn.shared.server_name,
    )
    .await?;
    Ok(resp.map(|b| b.with_permit(permit)))
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
