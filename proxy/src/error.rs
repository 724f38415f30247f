//! The one place where a failure becomes an HTTP status and a response.
//!
//! Each failure says which side caused it (the client, a backend, or tollgate
//! itself); `status()` is the only error→status map and `response()` the only
//! builder of error responses, for the request pipeline, the HTTP/1 codec and
//! the plugin host alike, so that 400/404/413/429/502/503/504 mean the same
//! thing everywhere and the next reader finds them in one file.

use std::fmt;

use http::{header, HeaderValue, Response, StatusCode};

use crate::body::ProxyBody;
use crate::http1::policy::Refusal;

/// Who is at fault: decides the status family and how loudly we log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Downstream,
    Upstream,
    Internal,
}

#[derive(Debug)]
pub enum ProxyError {
    /// No frontend rule matched the request.
    NoRoute,
    /// `maxConn` exceeded for this source.
    TooManyConnections,
    /// Every server of the backend is down (health check) or the backend has none.
    NoHealthyServer,
    /// Could not connect to or talk to the backend.
    BadGateway(String),
    /// The backend did not send response headers within `responseHeaderTimeout`.
    GatewayTimeout,
    /// The request is malformed, or could not be turned into an upstream request.
    BadRequest(String),
    /// The request body is larger than what may be buffered (a plugin's limit).
    PayloadTooLarge(String),
    /// The client sent its request body too slowly (`pace`).
    RequestTimeout,
    /// tollgate cannot take the request now (no plugin instance can be started).
    Unavailable(String),
    /// A templated backend's target is outside its allow-list (logged where
    /// it is refused).
    Forbidden(String),
    /// The request breaks the HTTP/1 policy (`http1::policy`): 400, 414, 431 or 501.
    Refused(Refusal),
    /// A bug or resource problem inside tollgate.
    Internal(String),
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NoRoute => StatusCode::NOT_FOUND,
            ProxyError::TooManyConnections => StatusCode::TOO_MANY_REQUESTS,
            ProxyError::NoHealthyServer => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ProxyError::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ProxyError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Refused(r) => r.status,
            ProxyError::Forbidden(_) => StatusCode::FORBIDDEN,
            ProxyError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn side(&self) -> Side {
        match self {
            ProxyError::NoRoute
            | ProxyError::TooManyConnections
            | ProxyError::BadRequest(_)
            | ProxyError::PayloadTooLarge(_)
            | ProxyError::RequestTimeout
            | ProxyError::Refused(_)
            | ProxyError::Forbidden(_) => Side::Downstream,
            ProxyError::NoHealthyServer
            | ProxyError::BadGateway(_)
            | ProxyError::GatewayTimeout => Side::Upstream,
            ProxyError::Internal(_) | ProxyError::Unavailable(_) => Side::Internal,
        }
    }

    /// The short body sent to the client. Traefik 1.7 answers `404 page not found`
    /// and the status text otherwise; we keep that so existing monitoring matches.
    pub fn body(&self) -> &'static str {
        match self {
            ProxyError::NoRoute => "404 page not found\n",
            ProxyError::TooManyConnections => "Too Many Requests\n",
            ProxyError::NoHealthyServer | ProxyError::Unavailable(_) => "Service Unavailable\n",
            ProxyError::BadGateway(_) => "Bad Gateway\n",
            ProxyError::GatewayTimeout => "Gateway Timeout\n",
            ProxyError::BadRequest(_) => "Bad Request\n",
            ProxyError::PayloadTooLarge(_) => "Payload Too Large\n",
            ProxyError::RequestTimeout => "Request Timeout\n",
            ProxyError::Refused(r) => match r.status {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "Request Header Fields Too Large\n",
                StatusCode::NOT_IMPLEMENTED => "Not Implemented\n",
                StatusCode::URI_TOO_LONG => "URI Too Long\n",
                _ => "Bad Request\n",
            },
            ProxyError::Forbidden(_) => "Forbidden\n",
            ProxyError::Internal(_) => "Internal Server Error\n",
        }
    }

    /// The response the client gets for this failure.
    pub fn response(&self) -> Response<ProxyBody> {
        text_response(self.status(), self.body())
    }
}

/// A short `text/plain` answer written by tollgate itself (errors, `/ping`).
pub fn text_response(status: StatusCode, body: &'static str) -> Response<ProxyBody> {
    let mut resp = Response::new(ProxyBody::full(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::NoRoute => f.write_str("no frontend matches"),
            ProxyError::TooManyConnections => f.write_str("maxConn exceeded"),
            ProxyError::NoHealthyServer => f.write_str("no healthy server"),
            ProxyError::BadGateway(why) => write!(f, "bad gateway: {why}"),
            ProxyError::GatewayTimeout => f.write_str("backend response header timeout"),
            ProxyError::BadRequest(why) => write!(f, "bad request: {why}"),
            ProxyError::PayloadTooLarge(why) => write!(f, "payload too large: {why}"),
            ProxyError::RequestTimeout => f.write_str("request body below minBodyRate"),
            ProxyError::Unavailable(why) => write!(f, "unavailable: {why}"),
            ProxyError::Refused(r) => write!(f, "refused: {}", r.why),
            ProxyError::Forbidden(why) => write!(f, "not allowed: {why}"),
            ProxyError::Internal(why) => write!(f, "internal error: {why}"),
        }
    }
}

impl std::error::Error for ProxyError {}
