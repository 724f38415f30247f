//! Keep-alive connections to one backend server.
//!
//! Each server of the running config holds its own pool (resolved when the
//! config is compiled), so a request finds its connections without hashing
//! a key or taking a global lock: it pops the most recently used idle HTTP/1
//! connection (hot in cache, least likely to have been closed by the
//! backend), or dials a new one. The connection goes back on the stack when
//! the response body has been read to its end (`Reusable`, carried by the
//! response body); a response abandoned midway closes its connection instead,
//! since the rest of that body would have to be drained first.
//!
//! `h2c://` servers share one multiplexed HTTP/2 connection per server.
//!
//! A request sent on a reused connection that the backend closed meanwhile
//! (its keep-alive timer fired as we wrote) comes back unsent from hyper; it
//! is retried on another connection, as every browser and proxy does.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};

use super::connect::{self, Target};
use super::UpstreamError;
use crate::body::ProxyBody;

/// How long an idle connection is kept for reuse.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle connections kept per server; the oldest is closed beyond that.
const MAX_IDLE: usize = 512;

#[derive(Debug)]
pub struct ServerPool {
    target: Target,
    protocol: Protocol,
    idle: Mutex<VecDeque<Idle>>,
    shared_h2: Mutex<Option<http2::SendRequest<ProxyBody>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    H2c,
}

#[derive(Debug)]
struct Idle {
    sender: http1::SendRequest<ProxyBody>,
    since: Instant,
}

/// An HTTP/1 connection lent to one response; `release` returns it.
pub struct Reusable {
    pool: Arc<ServerPool>,
    sender: http1::SendRequest<ProxyBody>,
}

impl Reusable {
    /// The response body was read to its end: the connection can carry the
    /// next request.
    pub fn release(self) {
        let Reusable { pool, sender } = self;
        pool.checkin(sender);
    }
}

impl ServerPool {
    pub fn new(target: Target, protocol: Protocol) -> Self {
        ServerPool {
            target,
            protocol,
            idle: Mutex::new(VecDeque::new()),
            shared_h2: Mutex::new(None),
        }
    }

    /// Send `req` and wait for the response headers. The URI may be
    /// absolute or origin-form; it is sent in the form the protocol wants.
    pub async fn send(
        self: &Arc<Self>,
        req: Request<ProxyBody>,
    ) -> Result<(Response<Incoming>, Option<Reusable>), UpstreamError> {
        match self.protocol {
            Protocol::Http1 => self.send_http1(req).await,
            // Boxed, like every rare path here: the future of a request is
            // moved a few times on its way into hyper, so its size is paid
            // on every request.
            Protocol::H2c => Box::pin(self.send_h2(req)).await.map(|r| (r, None)),
        }
    }

    async fn send_http1(
        self: &Arc<Self>,
        mut req: Request<ProxyBody>,
    ) -> Result<(Response<Incoming>, Option<Reusable>), UpstreamError> {
        origin_form(req.uri_mut());
        loop {
            let (mut sender, reused) = match self.checkout().await {
                Some(s) => (s, true),
                None => (Box::pin(connect::http1(&self.target)).await?, false),
            };
            // A reused connection may be closed by the backend while our
            // request is on the wire (its keep-alive timer fired). A request
            // that is safe to send twice is then sent again, as Go's
            // transport (and so Traefik) does; that needs a copy made first.
            let replay = reused.then(|| replayable_copy(&req)).flatten();
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    let reusable = Reusable {
                        pool: self.clone(),
                        sender,
                    };
                    return Ok((resp, Some(reusable)));
                }
                Err(mut e) => match (e.take_message(), replay) {
                    // Never written: safe to send on another connection.
                    (Some(unsent), _) if reused => req = unsent,
                    (_, Some(copy)) => {
                        tracing::debug!(error = %e.error(), "reused upstream connection failed; sending the request again");
                        req = copy;
                    }
                    _ => return Err(UpstreamError::Send(e.into_error())),
                },
            }
        }
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

    /// The most recently used live idle connection, if any.
    async fn checkout(&self) -> Option<http1::SendRequest<ProxyBody>> {
        loop {
            let idle = self.lock_idle().pop_back()?;
            if idle.since.elapsed() > IDLE_TIMEOUT {
                // The newest is too old, so are all the others.
                self.lock_idle().clear();
                return None;
            }
            let mut sender = idle.sender;
            // Ready at once unless the backend closed it meanwhile.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    fn checkin(self: Arc<Self>, sender: http1::SendRequest<ProxyBody>) {
        if sender.is_closed() {
            return;
        }
        if !sender.is_ready() {
            // The response is complete but hyper is still finishing the
            // exchange (e.g. the rest of a request body): park it until then
            // rather than hand a busy connection to the next request.
            tokio::spawn(async move {
                let mut sender = sender;
                if sender.ready().await.is_ok() {
                    self.push_idle(sender);
                }
            });
            return;
        }
        self.push_idle(sender);
    }

    fn push_idle(&self, sender: http1::SendRequest<ProxyBody>) {
        let now = Instant::now();
        let mut idle = self.lock_idle();
        while idle
            .front()
            .is_some_and(|oldest| now.duration_since(oldest.since) > IDLE_TIMEOUT)
        {
            idle.pop_front();
        }
        if idle.len() >= MAX_IDLE {
            idle.pop_front();
        }
        idle.push_back(Idle { sender, since: now });
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, VecDeque<Idle>> {
        // A panic while holding this lock cannot leave the deque inconsistent.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Idle HTTP/1 connections right now (tests and the future status API).
    pub fn idle_count(&self) -> usize {
        self.lock_idle().len()
    }
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

/// A copy of a request that may be sent twice: an idempotent method without
/// a body (RFC 9110 section 9.2.2; Go's `isReplayable`).
fn replayable_copy(req: &Request<ProxyBody>) -> Option<Request<ProxyBody>> {
    use http::Method;
    use http_body::Body as _;
    let idempotent = matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if !idempotent || !req.body().is_end_stream() {
        return None;
    }
    let mut copy = Request::new(ProxyBody::empty());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    Some(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: http::Method, body: ProxyBody) -> Request<ProxyBody> {
        let mut req = Request::new(body);
        *req.method_mut() = method;
        *req.uri_mut() = Uri::from_static("/a?b=1");
        req.headers_mut()
            .insert("x-test", http::HeaderValue::from_static("1"));
        req
    }

    #[test]
    fn only_bodiless_idempotent_requests_are_replayed() {
        let copy = replayable_copy(&request(http::Method::GET, ProxyBody::empty())).unwrap();
        assert_eq!(copy.uri(), "/a?b=1");
        assert_eq!(copy.headers()["x-test"], "1");
        assert!(replayable_copy(&request(http::Method::HEAD, ProxyBody::empty())).is_some());
        assert!(replayable_copy(&request(http::Method::POST, ProxyBody::empty())).is_none());
        assert!(replayable_copy(&request(http::Method::GET, ProxyBody::full("x"))).is_none());
    }

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
