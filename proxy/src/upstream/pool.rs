//! Keep-alive connections to one backend server.
//!
//! Each server of the running config holds its own pool (resolved when the
//! config is compiled), so a request finds its connections without hashing
//! a key or taking a global lock: it pops the most recently used idle HTTP/1
//! connection (hot in cache, least likely to have been closed by the
//! backend), or dials a new one. The exchange itself is `http1::client`. The
//! connection goes back on the stack when the response body has been read to
//! its end (by the body, `RawBody`); a response abandoned midway closes its
//! connection instead, since the rest of that body would have to be drained
//! first. Upgrades (WebSocket) go through hyper on a connection that then
//! belongs to the upgraded stream.
//!
//! `h2c://` servers share one multiplexed HTTP/2 connection per server.
//!
//! An idle connection is kept `idleConnTimeout` (90 s) and then closed by a
//! task that runs while the pool has idle connections; at most
//! `maxIdleConnsPerHost` (512) are kept.
//!
//! A request sent on a reused connection that the backend closed meanwhile
//! (its keep-alive timer fired as we wrote) is retried on another
//! connection when it cannot have been received or is safe to repeat, as
//! every browser and proxy does.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use http::{request, Method, Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http2;

use super::connect::{self, Target};
use super::error::UpstreamError;
use crate::body::ProxyBody;
use crate::http1::client::{self, ConnHome, Outgoing, RawConn};
use crate::http1::framing::Framing;
use crate::http1::request::{encode_head, ExtraHeaders};
use crate::http1::response::Form;

#[derive(Debug)]
pub struct ServerPool {
    target: Target,
    protocol: Protocol,
    /// How long an idle connection is kept for reuse (`idleConnTimeout`).
    idle_timeout: Duration,
    /// Idle connections kept; the oldest is closed beyond that
    /// (`maxIdleConnsPerHost`).
    max_idle: usize,
    /// This pool, for the task that closes its expired idle connections.
    me: Weak<ServerPool>,
    idle: Mutex<VecDeque<Idle>>,
    shared_h2: Mutex<Option<http2::SendRequest<ProxyBody>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    H2c,
}

struct Idle {
    conn: RawConn,
    since: Instant,
}

impl std::fmt::Debug for Idle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idle").field("since", &self.since).finish()
    }
}

/// A backend's answer (response head; the body streams).
pub enum Answer {
    /// From a raw exchange: the body returns its connection to the pool.
    Raw(Response<ProxyBody>),
    /// From hyper's client (upgrade requests, h2c): a 101 needs hyper's
    /// types to hand the socket over.
    Hyper(Response<Incoming>),
}

impl Answer {
    pub fn status(&self) -> http::StatusCode {
        match self {
            Answer::Raw(r) => r.status(),
            Answer::Hyper(r) => r.status(),
        }
    }

    pub fn into_response(self) -> Response<ProxyBody> {
        match self {
            Answer::Raw(r) => r,
            Answer::Hyper(r) => r.map(ProxyBody::incoming),
        }
    }
}

impl ServerPool {
    pub fn new(
        target: Target,
        protocol: Protocol,
        idle_timeout: Duration,
        max_idle: usize,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| ServerPool {
            target,
            protocol,
            idle_timeout,
            max_idle,
            me: me.clone(),
            idle: Mutex::new(VecDeque::new()),
            shared_h2: Mutex::new(None),
        })
    }

    /// Close idle connections past `idle_timeout` (a backend's sockets are
    /// not held open by a pool nobody uses); when the next one expires.
    fn sweep(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut idle = self.lock_idle();
        while idle
            .front()
            .is_some_and(|oldest| now.duration_since(oldest.since) >= self.idle_timeout)
        {
            idle.pop_front();
        }
        idle.front().map(|oldest| oldest.since + self.idle_timeout)
    }

    /// A task that sweeps this pool while it has idle connections (started
    /// by the checkin that makes the first one).
    fn start_sweeping(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let me = self.me.clone();
        let first = Instant::now() + self.idle_timeout;
        runtime.spawn(async move {
            let mut next = first;
            loop {
                tokio::time::sleep_until(next.into()).await;
                let Some(pool) = me.upgrade() else { return };
                match pool.sweep() {
                    Some(at) => next = at,
                    None => return,
                }
            }
        });
    }

    /// Send the request `parts` + `body` and wait for the response headers.
    /// The URI may be absolute or origin-form; it is sent in the form the
    /// protocol wants. `form` is how the caller wants the response headers;
    /// only HTTP/1 exchanges can keep them raw. `fwd`: the `X-Forwarded-*`
    /// headers to add, written straight into an HTTP/1 head.
    ///
    /// The head is borrowed, not moved: an HTTP/1 exchange only encodes it
    /// (see `http1` on boxing).
    pub async fn send(
        self: &Arc<Self>,
        parts: &mut request::Parts,
        body: ProxyBody,
        form: Form,
        fwd: Option<&dyn ExtraHeaders>,
    ) -> Result<Answer, UpstreamError> {
        if self.protocol == Protocol::Http1 && !is_upgrade(parts) {
            return self.send_raw(parts, body, form, fwd).await.map(Answer::Raw);
        }
        // hyper encodes the rest, from a map in a request of its own.
        let head = std::mem::replace(parts, Request::new(()).into_parts().0);
        let mut req = Request::from_parts(head, body);
        if let Some(fwd) = fwd {
            fwd.insert_into(req.headers_mut());
        }
        match self.protocol {
            // Boxed: rare paths (see `http1` on boxing).
            Protocol::Http1 => Box::pin(self.send_upgrade(req)).await.map(Answer::Hyper),
            Protocol::H2c => Box::pin(self.send_h2(req)).await.map(Answer::Hyper),
        }
    }

    async fn send_raw(
        self: &Arc<Self>,
        parts: &request::Parts,
        mut body: ProxyBody,
        form: Form,
        fwd: Option<&dyn ExtraHeaders>,
    ) -> Result<Response<ProxyBody>, UpstreamError> {
        let framing = Framing::of_request(&parts.headers, http_body::Body::is_end_stream(&body));
        let mut head = BytesMut::new();
        encode_head(parts, framing, fwd, &mut head);
        let head_request = parts.method == Method::HEAD;
        // A request safe to send twice (RFC 9110 section 9.2.2; Go's
        // `isReplayable`, and so Traefik's): idempotent, without a body.
        let replayable = is_idempotent(&parts.method) && framing == Framing::Empty;
        loop {
            let (conn, reused) = match self.checkout() {
                Some(c) => (c, true),
                None => (Box::pin(self.dial()).await?, false),
            };
            let home: Arc<dyn ConnHome> = self.clone();
            let outgoing = Outgoing {
                head: &head,
                framing,
                head_request,
                form,
            };
            match client::send(conn, &outgoing, &mut body, home).await {
                Ok(resp) => return Ok(resp.map(ProxyBody::raw)),
                // A reused connection the backend closed as we wrote (its
                // keep-alive timer fired): a request it cannot have received,
                // or one safe to repeat, goes again on another connection.
                Err(e) if reused && (!e.written || (e.nothing_received && replayable)) => {
                    tracing::debug!(error = %e.error, "reused upstream connection failed; sending the request again");
                }
                Err(e) => return Err(UpstreamError::Exchange(e.error)),
            }
        }
    }

    /// Dial a new connection in a task of its own: when the request that
    /// asked for it goes away first (its client reset the stream), the
    /// connection is not wasted but joins the idle pool, so a client that
    /// opens and resets streams cannot make tollgate dial once per stream.
    async fn dial(self: &Arc<Self>) -> Result<RawConn, UpstreamError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let pool = self.clone();
        tokio::spawn(async move {
            let dialed = connect::raw(&pool.target).await.map(RawConn::new);
            if let Err(Ok(conn)) = tx.send(dialed) {
                pool.checkin(conn);
            }
        });
        rx.await.unwrap_or_else(|_| {
            Err(UpstreamError::Connect(std::io::Error::other(
                "the dialing task ended",
            )))
        })
    }

    /// An upgrade (WebSocket) goes through hyper, which hands the socket
    /// over after a 101; that connection never returns to the pool.
    async fn send_upgrade(
        &self,
        mut req: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        origin_form(req.uri_mut());
        let io = match self.checkout() {
            Some(conn) => conn.into_io(),
            None => connect::raw(&self.target).await?,
        };
        let mut sender = connect::handshake1(io).await?;
        sender.send_request(req).await.map_err(UpstreamError::Send)
    }

    async fn send_h2(
        &self,
        mut req: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        loop {
            let (mut sender, reused) = match self.shared_h2() {
                Some(s) => (s, true),
                None => {
                    let s = connect::http2(&self.target).await?;
                    *self.shared_h2.lock().unwrap_or_else(|p| p.into_inner()) = Some(s.clone());
                    (s, false)
                }
            };
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok(resp),
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => {
                        self.forget_closed_h2();
                        req = unsent;
                    }
                    _ => return Err(UpstreamError::Send(e.into_error())),
                },
            }
        }
    }

    fn shared_h2(&self) -> Option<http2::SendRequest<ProxyBody>> {
        let mut slot = self.shared_h2.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(s) if !s.is_closed() => Some(s.clone()),
            Some(_) => {
                *slot = None;
                None
            }
            None => None,
        }
    }

    fn forget_closed_h2(&self) {
        let mut slot = self.shared_h2.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|s| s.is_closed()) {
            *slot = None;
        }
    }

    /// The most recently used idle connection the backend has not closed.
    fn checkout(&self) -> Option<RawConn> {
        loop {
            let idle = self.lock_idle().pop_back()?;
            if idle.since.elapsed() > self.idle_timeout {
                // The newest is too old, so are all the others.
                self.lock_idle().clear();
                return None;
            }
            let mut conn = idle.conn;
            if !conn.is_stale() {
                return Some(conn);
            }
        }
    }

    /// Idle HTTP/1 connections right now (tests and the future status API).
    pub fn idle_count(&self) -> usize {
        self.lock_idle().len()
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, VecDeque<Idle>> {
        // A panic while holding this lock cannot leave the deque inconsistent.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ConnHome for ServerPool {
    /// An exchange finished cleanly: keep its connection for the next.
    fn checkin(&self, conn: RawConn) {
        let now = Instant::now();
        let mut idle = self.lock_idle();
        while idle
            .front()
            .is_some_and(|oldest| now.duration_since(oldest.since) > self.idle_timeout)
        {
            idle.pop_front();
        }
        if idle.len() >= self.max_idle {
            idle.pop_front();
        }
        let first = idle.is_empty();
        idle.push_back(Idle { conn, since: now });
        drop(idle);
        if first {
            self.start_sweeping();
        }
    }
}

fn is_upgrade(parts: &request::Parts) -> bool {
    parts.headers.contains_key(http::header::UPGRADE) || parts.method == Method::CONNECT
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// HTTP/1 requests carry only the path and query on the request line.
fn origin_form(uri: &mut Uri) {
    if uri.scheme().is_some() || uri.authority().is_some() {
        let pq = uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
        *uri = Uri::from(pq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_uris_become_origin_form() {
        let mut uri = Uri::from_static("http://device:8888/cam?x=1");
        origin_form(&mut uri);
        assert_eq!(uri, "/cam?x=1");
        let mut uri = Uri::from_static("http://device:8888");
        origin_form(&mut uri);
        assert_eq!(uri, "/");
    }
}
