//! The dashboard: one hand-written page compiled into the binary (no CDN,
//! works offline), which reads `/api/rawdata` every two seconds.

use http::{header, HeaderValue, Response};

use crate::body::ProxyBody;

const PAGE: &str = include_str!("dashboard.html");

pub(super) fn page() -> Response<ProxyBody> {
    let mut resp = Response::new(ProxyBody::full(PAGE));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // The page runs only its own inline script and talks only to this origin.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
