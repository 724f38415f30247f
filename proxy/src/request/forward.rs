//! The forward phase: one routed request to a backend server and its
//! response back, with the `Host` header chosen by `passHostHeader`, the
//! path rewritten by the route's modifiers, `X-Forwarded-*` added and
//! hop-by-hop headers dropped.
//!
//! Bodies are never buffered: the client's body becomes the upstream request
//! body and the backend's body becomes the client's response body, frame by
//! frame. Upgrades (WebSocket) are spliced (`upgrade`).

use http::header::{self, HeaderValue};
use http::uri::{PathAndQuery, Uri};
use http::{Request, Response, StatusCode, Version};

use super::context::RequestCtx;
use super::forwarded::Forwarded;
use super::upgrade;
use crate::body::ProxyBody;
use crate::config::model::Scheme;
use crate::deadline;
use crate::error::ProxyError;
use crate::http1::hop;
use crate::http1::request::ExtraHeaders;
use crate::http1::response::Form;
use crate::router::Rewrite;
use crate::snapshot::FrontendRuntime;
use crate::upstream::balancer::UpstreamServer;
use crate::upstream::{Answer, UpstreamError};

/// Where a routed request goes: its frontend, the server the balancer
/// picked, and the route's rewrite.
pub struct Target<'a> {
    pub frontend: &'a FrontendRuntime,
    pub server: &'a UpstreamServer,
    pub rewrite: Option<Rewrite>,
}

/// Send `req` to the target's server and return the backend's response,
/// ready for the client.
pub async fn forward(
    mut req: Request<ProxyBody>,
    target: &Target<'_>,
    ctx: &RequestCtx<'_>,
) -> Result<Response<ProxyBody>, ProxyError> {
    let Target {
        frontend,
        server,
        rewrite,
    } = target;
    let client = &ctx.conn.client;
    let upgrade = req.version() == Version::HTTP_11 && hop::is_upgrade_request(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));

    let (mut parts, body) = req.into_parts();
    let (client_host, host_in_header) = client_host(&parts.uri, &parts.headers);
    let keep_trailers = server.scheme == Scheme::H2c && hop::wants_trailers(&parts.headers);

    hop::strip_hop_by_hop(&mut parts.headers, upgrade);
    if keep_trailers {
        parts
            .headers
            .insert(header::TE, HeaderValue::from_static("trailers"));
    }
    let fwd = Forwarded::new(
        &mut parts.headers,
        client,
        client_host.as_ref(),
        &ctx.conn.shared.server_name,
        rewrite
            .as_ref()
            .and_then(|rw| rw.forwarded_prefix.as_deref()),
        rewrite.as_ref().and_then(|rw| rw.replaced_path.as_deref()),
    );
    // The client's Host header stays where it is when it is passed on.
    match (&client_host, frontend.pass_host_header) {
        (Some(_), true) if host_in_header => {}
        (Some(h), true) => {
            parts.headers.insert(header::HOST, h.clone());
        }
        _ => {
            parts
                .headers
                .insert(header::HOST, server.host_header.clone());
        }
    }

    parts.uri = upstream_uri(&parts.uri, server, rewrite.as_ref())?;
    parts.version = match server.scheme {
        Scheme::H2c => Version::HTTP_2,
        Scheme::Http | Scheme::Https | Scheme::Tunnel => Version::HTTP_11,
    };

    let limit = ctx.snapshot.upstreams.timeouts().response_header;
    let answer = send(&mut parts, body, server, limit, ctx.response_form(), &fwd).await?;

    if answer.status() == StatusCode::SWITCHING_PROTOCOLS {
        // After a 101 the connection belongs to the upgraded stream, never
        // to the pool.
        if let (Some(client_upgrade), Answer::Hyper(mut resp)) = (client_upgrade, answer) {
            let backend_upgrade = hyper::upgrade::on(&mut resp);
            tokio::spawn(upgrade::splice(client_upgrade, backend_upgrade));
            let (mut parts, _) = resp.into_parts();
            hop::strip_hop_by_hop(&mut parts.headers, true);
            return Ok(Response::from_parts(parts, ProxyBody::empty()));
        }
        return Err(ProxyError::BadGateway(
            "backend switched protocols without an upgrade request".into(),
        ));
    }

    let mut resp = answer.into_response();
    hop::strip_hop_by_hop(resp.headers_mut(), false);
    Ok(resp)
}

/// The exchange with the backend, within `responseHeaderTimeout` (`limit`).
async fn send(
    parts: &mut http::request::Parts,
    body: ProxyBody,
    server: &UpstreamServer,
    limit: Option<std::time::Duration>,
    form: Form,
    fwd: &Forwarded<'_>,
) -> Result<Answer, ProxyError> {
    let _waiting = server.start_waiting();
    // Pinned in place and timed by reference (see `http1` on boxing).
    let exchange = server
        .pool
        .send(parts, body, form, Some(fwd as &dyn ExtraHeaders));
    tokio::pin!(exchange);
    let result = deadline::within(limit, exchange.as_mut())
        .await
        .map_err(|_| ProxyError::GatewayTimeout)?;
    result.map_err(|e| match e {
        UpstreamError::ConnectTimeout => ProxyError::GatewayTimeout,
        UpstreamError::Refused(why) => {
            // Resolved outside the allow-list: a probe for the server's own
            // services, or a misconfigured name; always logged.
            tracing::warn!(server = %server.url, why, "templated target refused");
            ProxyError::Forbidden(why)
        }
        other => ProxyError::BadGateway(other.to_string()),
    })
}

/// The client's Host: the `Host` header, or the authority of an HTTP/2
/// request; and whether it came from the header.
fn client_host(uri: &Uri, headers: &http::HeaderMap) -> (Option<HeaderValue>, bool) {
    if let Some(h) = headers.get(header::HOST) {
        return (Some(h.clone()), true);
    }
    let authority = uri
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok());
    (authority, false)
}

/// The client's path and query, unless a modifier rewrote the path (the
/// query is kept either way): origin-form (`/path?query`) for HTTP/1, whose
/// request line carries nothing else, `scheme://server/path?query` for
/// HTTP/2, whose `:scheme` and `:authority` come from it.
fn upstream_uri(
    original: &Uri,
    server: &UpstreamServer,
    rewrite: Option<&Rewrite>,
) -> Result<Uri, ProxyError> {
    let path_and_query = match rewrite {
        None => original
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
        Some(rw) => {
            let pq = match original.query() {
                Some(q) => format!("{}?{q}", rw.path),
                None => rw.path.clone(),
            };
            PathAndQuery::try_from(pq)
                .map_err(|e| ProxyError::BadRequest(format!("rewritten path: {e}")))?
        }
    };
    if server.scheme != Scheme::H2c {
        return Ok(Uri::from(path_and_query));
    }
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(server.uri_scheme.clone());
    parts.authority = Some(server.authority.clone());
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).map_err(|e| ProxyError::Internal(format!("upstream URI: {e}")))
}
