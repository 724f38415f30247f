//! The `maxConn` phase: a place under the backend's limit for this
//! request's source, held until its response body is sent, or 429.

use http::{header, Request};

use super::forwarded::ClientInfo;
use crate::body::Guard;
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
