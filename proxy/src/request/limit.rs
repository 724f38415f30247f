//! The backend's limits on a request: `maxConn` (a place under the
//! backend's limit for this request's source, held until its response body
//! is sent, or 429) and `[buffering] maxRequestBodyBytes` (413).

use std::sync::Arc;

use http::{header, Request};
use http_body::Body;

use super::forwarded::ClientInfo;
use crate::body::{Guard, ProxyBody};
use crate::body_cap::Overflow;
use crate::error::ProxyError;
use crate::snapshot::BackendRuntime;

/// None when the backend has no limit.
pub fn admit<B>(
    backend: &BackendRuntime,
    req: &Request<B>,
    client: &ClientInfo,
) -> Result<Option<Guard>, ProxyError> {
    let Some(limiter) = &backend.limiter else {
        return Ok(None);
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host());
    let permit = limiter
        .acquire(client.ip, host, req.headers())
        .ok_or(ProxyError::TooManyConnections)?;
    Ok(Some(Box::new(permit)))
}

/// `maxRequestBodyBytes`: a declared length over it is refused at once;
/// a body without one is counted as it streams (`body_cap`), and the
/// caller answers 413 if the returned mark is set once the exchange ends.
pub fn cap_body(
    backend: &BackendRuntime,
    req: &mut Request<ProxyBody>,
) -> Result<Option<Arc<Overflow>>, ProxyError> {
    let Some(max) = backend.max_request_body else {
        return Ok(None);
    };
    if req.body().is_end_stream() {
        return Ok(None);
    }
    if let Some(len) = req.body().size_hint().exact() {
        // The framing holds the body to its declared length.
        return match len > max {
            true => Err(too_large(max)),
            false => Ok(None),
        };
    }
    let overflow = Arc::new(Overflow::default());
    req.body_mut().cap(max, overflow.clone());
    Ok(Some(overflow))
}

pub fn too_large(max: u64) -> ProxyError {
    ProxyError::PayloadTooLarge(format!("request body over maxRequestBodyBytes ({max})"))
}
