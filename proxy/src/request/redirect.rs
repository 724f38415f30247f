//! `[entryPoints.X.redirect]`: answer every request of an entrypoint with a
//! redirect, typically HTTP → HTTPS. As in Traefik 1.7: 302 (307 for methods
//! other than GET), or 301 (308) with `permanent`; the Location keeps the
//! host, path and query and takes the target entrypoint's scheme and port
//! (the port is omitted when it is the scheme's default). With `regex` and
//! `replacement`, the full request URL is rewritten instead.

use http::{header, HeaderValue, Method, Request, Response, StatusCode};

use crate::body::ProxyBody;
use crate::error::ProxyError;
use crate::snapshot::redirect::{RedirectRule, Target};
use crate::snapshot::shared::Shared;

/// The redirect answering `req` (`tls`: it came over TLS).
pub fn respond<B>(
    rule: &RedirectRule,
    req: &Request<B>,
    shared: &Shared,
    tls: bool,
) -> Response<ProxyBody> {
    let host = request_host(req);
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let location = match &rule.target {
        Target::EntryPoint {
            slot,
            https,
            configured_port,
        } => {
            let scheme = if *https { "https" } else { "http" };
            let port = shared.bound_port(*slot).or(*configured_port);
            let default = if *https { 443 } else { 80 };
            let host = strip_port(host);
            match port {
                Some(p) if p != default => format!("{scheme}://{host}:{p}{path_and_query}"),
                _ => format!("{scheme}://{host}{path_and_query}"),
            }
        }
        Target::Regex { regex, replacement } => {
            let scheme = if tls { "https" } else { "http" };
            let url = format!("{scheme}://{host}{path_and_query}");
            regex.replace(&url, replacement.as_str()).into_owned()
        }
    };
    let get = req.method() == Method::GET;
    let status = match (rule.permanent, get) {
        (false, true) => StatusCode::FOUND,
        (false, false) => StatusCode::TEMPORARY_REDIRECT,
        (true, true) => StatusCode::MOVED_PERMANENTLY,
        (true, false) => StatusCode::PERMANENT_REDIRECT,
    };
    let Ok(location) = HeaderValue::try_from(location) else {
        let why = "the redirect's Location is not a valid header value";
        return ProxyError::BadRequest(why.into()).response();
    };
    let mut resp = Response::new(ProxyBody::empty());
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::LOCATION, location);
    resp
}

fn request_host<B>(req: &Request<B>) -> &str {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("localhost")
}

/// `example.com:80` → `example.com`; `[::1]:80` → `[::1]`.
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_stripped_from_hosts_but_not_from_ipv6_literals() {
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
    }
}
