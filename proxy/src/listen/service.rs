//! What hyper calls for each request it parses (HTTP/2, and HTTP/1 the lane
//! handed over): the request pipeline, with `writeTimeout` applied as the
//! protocol allows (HTTP/1: `write_deadline`; HTTP/2: `http2::stream`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::future::{Either, FutureExt};
use http::header::{self, HeaderValue};
use http::{Request, Response, Version};
use hyper::body::Incoming;

use super::settings::Connection;
use crate::body::ProxyBody;
use crate::error::ProxyError;
use crate::http1::policy;
use crate::http2;
use crate::pace::Pace;
use crate::request::{self, Writer};

type Answer = Result<Response<ProxyBody>, Infallible>;

pub fn handle(mut req: Request<Incoming>, conn: Arc<Connection>) -> impl Future<Output = Answer> {
    // A plain function choosing the future, not an `async fn` awaiting one:
    // an extra async layer would hold a second copy of the request.
    let client = conn.client.clone();
    // In progress until its answer is out (`idle`): the guard goes with
    // the response body.
    let busy = Busy::new(conn);
    let conn = busy.conn();
    if req.version() != Version::HTTP_2 {
        // The HTTP/1 policy, as the lane applies it to what it parses.
        let (method, uri, version) = (req.method().clone(), req.uri().clone(), req.version());
        if let Err(refusal) = policy::check_request(
            &method,
            &uri,
            version,
            req.headers_mut(),
            &conn.responding.lane.limits,
        ) {
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
    let http2 = req.version() == Version::HTTP_2;
    let close_after = !http2 && req.headers().contains_key(header::TRANSFER_ENCODING);
    // HTTP/1: the connection's writes get the deadline (`write_deadline`);
    // an HTTP/2 stream has its own (`http2::stream`).
    if let Some(deadline) = &conn.write_deadline {
        if !http2 {
            deadline.arm();
        }
    }
    // A body the client sends must keep the entry point's minimum rate.
    let rate = conn.responding.limits.min_body_rate;
    let pace = (rate > 0 && !http_body::Body::is_end_stream(req.body())).then(Arc::<Pace>::default);
    let req = match &pace {
        Some(pace) => req.map(|body| {
            ProxyBody::paced(body, rate, conn.responding.lane.head_timeout, pace.clone())
        }),
        None => req.map(ProxyBody::incoming),
    };
    let respond = request::respond(req, client, Writer::Hyper);
    Either::Right(respond.map(move |mut resp| {
        if pace.is_some_and(|p| p.too_slow()) {
            // Whatever the exchange made of the cut body, the client's
            // slowness is the cause: 408, and the connection ends.
            tracing::debug!("request body below minBodyRate: 408");
            resp = ProxyError::RequestTimeout.response();
            if !http2 {
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
        }
        if close_after {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        let clock = if http2 { http2::stall_clock() } else { None };
        Ok(resp.map(|mut body| {
            body.add_guard(Box::new(busy));
            body.watched(clock)
        }))
    }))
}

/// A request in progress on its connection (`idle`), until dropped: with
/// its response body, once the answer is out or abandoned.
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
