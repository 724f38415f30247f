//! Connections to backends: pooled, keep-alive HTTP clients, one per protocol.
//!
//! hyper-util's pooling client keeps idle connections per (scheme, host:port),
//! so a request to a device behind an SSH tunnel reuses the connection the
//! previous request opened instead of paying a new handshake through the
//! tunnel. `h2c` backends get their own client that speaks HTTP/2 with prior
//! knowledge and multiplexes every request onto one connection. `https://`
//! servers go through rustls (`tls::client`) on the same pooled client: the
//! connector speaks TLS or plain TCP by the URI's scheme.

use std::error::Error as _;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::body::ProxyBody;
use crate::config::model::{BackendTls, ForwardingTimeouts, Scheme};

pub type HttpClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

/// How long an idle upstream connection is kept for reuse.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle connections kept per backend server; more are closed when released.
const POOL_MAX_IDLE_PER_HOST: usize = 512;

#[derive(Debug)]
pub struct Upstreams {
    http1: HttpClient,
    h2c: HttpClient,
    timeouts: ForwardingTimeouts,
    tls: BackendTls,
}

impl Upstreams {
    pub fn new(timeouts: &ForwardingTimeouts, tls: &BackendTls) -> Result<Self, String> {
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(timeouts.dial));
        tcp.set_keepalive(Some(Duration::from_secs(60)));
        // The https connector passes http:// through untouched.
        tcp.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::tls::client::client_config(tls)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);

        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            // We always set Host ourselves (passHostHeader decides which).
            .set_host(false);
        let http1 = builder.build(connector.clone());
        builder.http2_only(true);
        let h2c = builder.build(connector);
        Ok(Upstreams {
            http1,
            h2c,
            timeouts: timeouts.clone(),
            tls: tls.clone(),
        })
    }

    /// Were these clients built from exactly these settings? Then a reload
    /// keeps them, and with them every pooled connection.
    pub fn built_from(&self, timeouts: &ForwardingTimeouts, tls: &BackendTls) -> bool {
        self.timeouts == *timeouts && self.tls == *tls
    }

    #[inline]
    pub fn client_for(&self, scheme: Scheme) -> &HttpClient {
        match scheme {
            Scheme::H2c => &self.h2c,
            Scheme::Http | Scheme::Https => &self.http1,
        }
    }

    pub fn timeouts(&self) -> &ForwardingTimeouts {
        &self.timeouts
    }
}

/// Did the request fail because connecting took longer than `dialTimeout`?
/// (Traefik answers those 504, and refused connections 502.)
pub fn is_connect_timeout(err: &hyper_util::client::legacy::Error) -> bool {
    if !err.is_connect() {
        return false;
    }
    let mut source = err.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        if s.to_string().contains("timed out") {
            return true;
        }
        source = s.source();
    }
    false
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
