//! The last phase: what the access log, `/metrics` and `/health` learn of
//! a request once its response head is ready. A request is timed only when
//! the config watches requests (`Snapshot::observed`). Counting takes no
//! lock and allocates nothing (the series are resolved ahead,
//! `metrics::series`); only the open-requests gauges ride on the body, in
//! one small box (`metrics::OpenRequest`).

use std::sync::Arc;
use std::time::Instant;

use http::{header, HeaderValue, Method, Request, Response, Uri};

use super::context::{ClientConn, RequestCtx};
use crate::access_log::{rfc3339, Entry, RequestSeen};
use crate::body::ProxyBody;
use crate::metrics::stats::RecentError;
use crate::metrics::{OpenRequest, Protocol};
use crate::snapshot::Snapshot;

/// Taken from a request before it is served (it is consumed). Its method
/// and target the pipeline keeps anyway (`finish` borrows them).
pub struct Watch {
    started: Instant,
    protocol: Protocol,
    /// For `/health`'s recent errors: the `Host` header (a reference-count
    /// bump, no copy).
    host: Option<HeaderValue>,
    /// For the access log (boxed: only configs with one pay for it).
    seen: Option<Box<RequestSeen>>,
}

impl Watch {
    pub fn start<B>(req: &Request<B>, snapshot: &Snapshot) -> Watch {
        let wants_headers = snapshot
            .access_log
            .as_ref()
            .is_some_and(|l| l.wants_headers());
        let seen = snapshot
            .access_log
            .is_some()
            .then(|| Box::new(RequestSeen::of(req, wants_headers)));
        Watch {
            started: Instant::now(),
            protocol: if snapshot.metrics.is_some() {
                Protocol::of(req.headers())
            } else {
                Protocol::Http
            },
            host: snapshot
                .api
                .then(|| req.headers().get(header::HOST).cloned())
                .flatten(),
            seen,
        }
    }

    /// Record the answered request everywhere the config asks.
    pub fn finish(
        self,
        resp: &mut Response<ProxyBody>,
        ctx: &RequestCtx<'_>,
        conn: &Arc<ClientConn>,
        (method, uri): (&Method, &Uri),
    ) {
        let snapshot = ctx.snapshot;
        let elapsed = self.started.elapsed();
        let status = resp.status().as_u16();
        let protocol = self.protocol.answered(status);
        if let Some(series) = snapshot.entry(conn.slot).and_then(|e| e.metrics.as_ref()) {
            series.observe(method, status, protocol, elapsed);
            // A backend counts the requests that were sent to one of its servers.
            let mut backend_open = None;
            if let (Some(frontend), Some(_)) = (ctx.frontend, ctx.server()) {
                if let Some(series) = &frontend.backend.metrics {
                    series.observe(method, status, protocol, elapsed);
                    backend_open = Some(series.open(method, protocol));
                }
            }
            let open = OpenRequest::new(series.open(method, protocol), backend_open);
            resp.body_mut().add_guard(Box::new(open));
        }
        if snapshot.api {
            conn.shared.stats.record(status, elapsed, || {
                recent_error(status, method, uri, self.host.as_ref())
            });
        }
        if let (Some(logger), Some(seen)) = (&snapshot.access_log, self.seen) {
            logger.log(Entry {
                seen: *seen,
                client: conn.client.socket_addr(),
                user: None,
                status,
                size: http_body::Body::size_hint(resp.body()).exact().unwrap_or(0),
                duration: elapsed,
                frontend: ctx.frontend.map(|f| f.name.clone()),
                backend: ctx.frontend.map(|f| f.backend.name.clone()),
                backend_url: ctx.server().map(|s| s.url.clone()),
                retries: 0,
                count: 0,
            });
        }
    }
}

fn recent_error(
    status: u16,
    method: &Method,
    uri: &Uri,
    host: Option<&HeaderValue>,
) -> RecentError {
    let host = host
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    RecentError {
        status_code: status,
        status: reason.to_owned(),
        method: method.as_str().to_owned(),
        host: host.to_owned(),
        path: uri.path().to_owned(),
        time: rfc3339(std::time::SystemTime::now()),
    }
}
