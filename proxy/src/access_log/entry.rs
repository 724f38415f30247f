//! What the access log records of one request.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use http::{header, HeaderMap, HeaderValue, Method, Request, Uri, Version};

/// What is taken from a request before it is served (it is consumed).
pub struct RequestSeen {
    pub start: SystemTime,
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub host: Option<HeaderValue>,
    pub referer: Option<HeaderValue>,
    pub user_agent: Option<HeaderValue>,
    /// All request headers, when the JSON format writes some.
    pub headers: Option<HeaderMap>,
}

impl RequestSeen {
    pub fn of<B>(req: &Request<B>, with_headers: bool) -> RequestSeen {
        let h = req.headers();
        RequestSeen {
            start: SystemTime::now(),
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            host: h.get(header::HOST).cloned(),
            referer: h.get(header::REFERER).cloned(),
            user_agent: h.get(header::USER_AGENT).cloned(),
            headers: with_headers.then(|| h.clone()),
        }
    }
}

/// One line of the access log.
pub struct Entry {
    pub seen: RequestSeen,
    pub client: SocketAddr,
    /// The user a basic-auth plugin let in, if it said (not yet known: "-").
    pub user: Option<String>,
    pub status: u16,
    /// The response body's length when known in advance, else 0.
    pub size: u64,
    /// From the request head to the response head.
    pub duration: Duration,
    pub frontend: Option<String>,
    pub backend: Option<String>,
    pub backend_url: Option<String>,
    pub retries: u32,
    /// The request's number since the log started (set by the logger).
    pub count: u64,
}
