//! One request, from its parsed head to its response, as named phases:
//!
//! ```text
//! settle Host → screen (path escapes, header names) → early answers (/ping, ACME HTTP-01)
//!   → redirect? → entry point auth → tollgate's endpoints (API, dashboard, /metrics)
//!   → route (router → frontend) → limit (maxConn place, body cap)
//!   → plugins on the request (may answer) → pick a server (balancer) → forward
//!   → plugins on the response (reverse order) → observe (access log, metrics)
//! ```
//!
//! Both the HTTP/1 lane and hyper hand requests to `respond`. Every failure
//! becomes a response here, through `ProxyError::response`; a phase never
//! panics and never returns an error to hyper (that would reset the
//! connection instead of answering).

use std::sync::Arc;

use http::{Request, Response};

use super::context::{ClientConn, RequestCtx, Writer};
use super::forward::{self, Target};
use super::observe::Watch;
use super::{early, limit, redirect, screen};
use crate::body::{Guard, ProxyBody};
use crate::error::{ProxyError, Side};
use crate::http1::request::settle_host;
use crate::router::RouteVars;
use crate::upstream::templated::NotAllowed;
use crate::wasm::{ChainOutcome, Peer};

/// The response to one request, errors included.
pub async fn respond(
    req: Request<ProxyBody>,
    conn: Arc<ClientConn>,
    writer: Writer,
) -> Response<ProxyBody> {
    // Kept for the error log line and `observe`; both clones are
    // reference-count bumps.
    let method = req.method().clone();
    let uri = req.uri().clone();
    let snapshot = conn.shared.snapshot();
    let watch = snapshot.observed().then(|| Watch::start(&req, &snapshot));
    let mut ctx = RequestCtx::new(&conn, &snapshot, writer);
    let mut resp = match run(req, &mut ctx).await {
        Ok(resp) => resp,
        Err(err) => {
            let client = conn.client.ip;
            match err.side() {
                Side::Downstream => {
                    tracing::debug!(%method, %uri, %client, error = %err, "request refused")
                }
                Side::Upstream | Side::Internal => {
                    tracing::warn!(%method, %uri, %client, error = %err, "request failed")
                }
            }
            err.response()
        }
    };
    if let Some(watch) = watch {
        watch.finish(&mut resp, &ctx, &conn, (&method, &uri));
    }
    resp
}

async fn run(
    mut req: Request<ProxyBody>,
    ctx: &mut RequestCtx<'_>,
) -> Result<Response<ProxyBody>, ProxyError> {
    let (snapshot, conn) = (ctx.snapshot, ctx.conn);
    settle_host(&mut req);
    let entry = snapshot.entry(conn.slot).ok_or(ProxyError::NoRoute)?;

    screen::screen(&mut req, &entry.http)?;
    if let Some(resp) = early::answer(&req, entry, &conn.shared) {
        return Ok(resp);
    }
    if let Some(rule) = &entry.redirect {
        return Ok(redirect::respond(rule, &req, &conn.shared, conn.client.tls));
    }
    if let Some(auth) = &entry.auth {
        // Boxed: a rare path (see `http1` on boxing).
        match Box::pin(auth.on_request(req, peer(conn))).await {
            ChainOutcome::Respond(resp) => return Ok(resp),
            // Basic authentication never reads the response: its hook is
            // empty, and dropping it costs nothing.
            ChainOutcome::Continue(next, _hook) => req = next,
        }
    }
    if let Some(resp) = crate::status::answer(&req, entry, snapshot, &conn.shared) {
        return Ok(resp);
    }

    let m = entry
        .router
        .route(req.method(), req.uri(), req.headers(), conn.client.ip)
        .ok_or(ProxyError::NoRoute)?;
    let frontend = &entry.frontends[m.frontend];
    ctx.frontend = Some(frontend);
    let backend = &frontend.backend;

    let guard = limit::admit(backend, &req, &conn.client)?;
    let overflow = limit::cap_body(backend, &mut req)?;

    let mut vars = m.vars;
    let mut hook = None;
    if let Some(chain) = &frontend.chain {
        // Its plugins may read and choose the target's variables.
        let templated = backend.templated.is_some();
        if templated {
            req.extensions_mut()
                .insert(RouteVars(std::mem::take(&mut vars)));
        }
        // Boxed: a rare path (see `http1` on boxing).
        match Box::pin(chain.on_request(req, peer(conn))).await {
            ChainOutcome::Respond(resp) => return Ok(keep_guard(resp, guard)),
            ChainOutcome::Continue(next, h) => {
                req = next;
                if templated {
                    vars = req
                        .extensions_mut()
                        .remove::<RouteVars>()
                        .unwrap_or_default()
                        .0;
                }
                // A chain of auth plugins (no hooks) sees no response.
                if !h.is_empty() {
                    ctx.plugins_read_response = true;
                    hook = Some(h);
                }
            }
        }
    }

    let held;
    let picked = match &backend.templated {
        None => backend
            .balancer
            .pick()
            .map(|s| {
                ctx.server = Some(s);
                &**s
            })
            .ok_or(ProxyError::NoHealthyServer),
        Some(templated) => match templated.target(&vars) {
            Ok(server) => {
                ctx.templated = Some(server.clone());
                held = server;
                Ok(&*held)
            }
            Err(NotAllowed(why)) => {
                // Someone may be probing for an open proxy: always logged.
                let client = conn.client.ip;
                tracing::warn!(backend = %backend.name, %client, why, "templated target refused");
                Err(ProxyError::Forbidden(why))
            }
        },
    };
    let server = match picked {
        Ok(server) => server,
        Err(e) => {
            if let Some(h) = hook {
                h.on_error();
            }
            return Err(e);
        }
    };
    let target = Target {
        frontend,
        server,
        rewrite: m.rewrite,
    };
    let mut result = forward::forward(req, &target, ctx).await;
    if let (Some(max), true) = (backend.max_request_body, overflow.is_some_and(|o| o.hit())) {
        // Whatever the backend made of the cut body, the client sent too much.
        result = Err(limit::too_large(max));
    }
    let resp = match (result, hook) {
        (Ok(resp), Some(h)) => Box::pin(h.on_response(resp)).await,
        (Ok(resp), None) => resp,
        (Err(e), Some(h)) => {
            h.on_error();
            return Err(e);
        }
        (Err(e), None) => return Err(e),
    };
    Ok(keep_guard(resp, guard))
}

fn peer(conn: &ClientConn) -> Peer {
    Peer {
        addr: conn.client.socket_addr(),
        tls: conn.client.tls,
    }
}

/// The `maxConn` place stays taken until the response body is sent. Set in
/// place: `Response::map` would move the whole response twice.
fn keep_guard(mut resp: Response<ProxyBody>, guard: Option<Guard>) -> Response<ProxyBody> {
    if guard.is_some() {
        resp.body_mut().set_guard(guard);
    }
    resp
}
