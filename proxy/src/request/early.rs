//! Answers given before routing: `/ping` on the `[ping]` entrypoint, and
//! ACME HTTP-01 challenges (tokens exist only while an order runs), ahead of
//! redirects and plugins.

use http::{header, HeaderValue, Method, Request, Response, StatusCode};

use crate::body::ProxyBody;
use crate::error::text_response;
use crate::snapshot::{EntryRoutes, Shared};

/// The answer to `req` if it is one of those, else None.
pub fn answer<B>(
    req: &Request<B>,
    entry: &EntryRoutes,
    shared: &Shared,
) -> Option<Response<ProxyBody>> {
    let path = req.uri().path();
    if entry.endpoints.ping
        && path == "/ping"
        && matches!(*req.method(), Method::GET | Method::HEAD)
    {
        return Some(text_response(StatusCode::OK, "OK"));
    }
    let token = path.strip_prefix("/.well-known/acme-challenge/")?;
    let key_auth = shared.acme.http01(&entry.name, token)?;
    let mut resp = Response::new(ProxyBody::full(key_auth));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    Some(resp)
}
