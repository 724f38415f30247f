//! What hyper calls for each request it parses (HTTP/2, and HTTP/1 the lane
//! handed over): the request pipeline, with `writeTimeout` applied as the
//! protocol allows (`write_deadline`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::pin::Pin;

use futures_util::future::{Either, FutureExt};
use http::header::{self, HeaderValue};
use http::{Request, Response, Version};
use hyper::body::Incoming;

use super::settings::Connection;
use crate::body::ProxyBody;
use crate::deadline::WriteTimedOut;
use crate::error::ProxyError;
use crate::http1::policy;
use crate::request::{self, ClientConn, Writer};

type Answer = Result<Response<ProxyBody>, WriteTimedOut>;

pub fn handle(mut req: Request<Incoming>, conn: Arc<Connection>) -> impl Future<Output = Answer> {
    // A plain function choosing the future, not an `async fn` awaiting one:
    // an extra async layer would hold a second copy of the request.
    let client = conn.client.clone();
    // In progress until its answer's head is out (`idle`).
    let busy = Busy::new(conn);
    let conn = busy.conn();
    if req.version() != Version::HTTP_2 {
        // The HTTP/1 policy, as the lane applies it to what it parses.
        let (method, uri, version) = (req.method().clone(), req.uri().clone(), req.version());
        if let Err(refusal) = policy::check_request(&method, &uri, version, req.headers_mut()) {
            tracing::debug!(client = %client.client.ip, why = refusal.why, "request refused");
            let mut resp = ProxyError::Refused(refusal).response();
            // What follows the head cannot be trusted to be a next request.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return Either::Left(Box::pin(std::future::ready(Ok(resp))) as Rare);
        }
    }
    // A `Content-Length` beside `Transfer-Encoding` is dropped by hyper
    // before tollgate could see and refuse it (`http1::policy`): such a
    // request is read chunked, as RFC 9112 section 6.3 says, and, since it
    // may have been one, the connection ends after its answer.
    let close_after =
        req.version() != Version::HTTP_2 && req.headers().contains_key(header::TRANSFER_ENCODING);
    if let Some(limit) = conn.write_timeout {
        if req.version() == Version::HTTP_2 {
            // Boxed: a rarer path (see `http1` on boxing).
            return Either::Left(Box::pin(respond_within(
                req.map(ProxyBody::incoming),
                client,
                limit,
                busy,
            )) as Rare);
        }
        // HTTP/1: the connection's writes get the deadline (`write_deadline`).
        if let Some(deadline) = &conn.write_deadline {
            deadline.arm();
        }
    }
    let respond = request::respond(req.map(ProxyBody::incoming), client, Writer::Hyper);
    Either::Right(respond.map(move |mut resp| {
        drop(busy);
        if close_after {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(resp)
    }))
}

/// A request in progress on its connection (`idle`), until dropped: when
/// its answer's head is out. (A body still streaming keeps HTTP/2's stream
/// open, and the idle limit's graceful shutdown lets it finish.)
struct Busy(Arc<Connection>);

impl Busy {
    fn new(conn: Arc<Connection>) -> Busy {
        conn.activity.enter();
        Busy(conn)
    }

    fn conn(&self) -> &Arc<Connection> {
        &self.0
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.activity.leave();
    }
}

/// The futures of rare answers, boxed (see `http1` on boxing).
type Rare = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// HTTP/2 with a writeTimeout: this stream gets the deadline, and an error
/// resets only this stream.
async fn respond_within(
    req: Request<ProxyBody>,
    client: Arc<ClientConn>,
    limit: Duration,
    _busy: Busy,
) -> Answer {
    let deadline = tokio::time::Instant::now() + limit;
    let ip = client.client.ip;
    match tokio::time::timeout_at(deadline, request::respond(req, client, Writer::Hyper)).await {
        Ok(resp) => Ok(resp.map(|body| body.with_deadline(deadline))),
        Err(_) => {
            tracing::debug!(client = %ip, "writeTimeout reached before the backend answered");
            Err(WriteTimedOut)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn future_size<A, B, F: std::future::Future>(_: fn(A, B) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// A request's future is moved whole on its way (see `http1` on
    /// boxing): this catches a regression in its size.
    #[test]
    fn request_future_stays_small() {
        let size = future_size(handle);
        eprintln!("request future: {size} bytes");
        assert!(size <= 6144, "request future grew to {size} bytes");
    }
}
