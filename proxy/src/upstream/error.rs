//! Why a request did not get response headers from a backend.

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("connect: no answer within dialTimeout")]
    ConnectTimeout,
    #[error("connect: {0}")]
    Connect(std::io::Error),
    /// No stream through a device's tunnel (no agent connected, or its
    /// service refused).
    #[error("{0}")]
    Tunnel(String),
    /// A templated target outside its backend's allow-list (`allow`).
    #[error("not allowed: {0}")]
    Refused(String),
    #[error("TLS handshake: {0}")]
    Tls(std::io::Error),
    #[error("HTTP handshake: {0}")]
    Handshake(hyper::Error),
    #[error("{}", describe_error(.0))]
    Send(hyper::Error),
    #[error("{}", describe_error(.0))]
    Exchange(std::io::Error),
}

/// The error and its causes on one line, for logs.
pub fn describe_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
