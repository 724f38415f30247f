//! Active health checks (`[backends.X.healthCheck]`), as in Traefik 1.7: every
//! `interval`, GET `path` on each server with a `timeout`; 2xx and 3xx are
//! healthy, anything else (or no answer) takes the server out of rotation
//! until a later check succeeds.
//!
//! The checker tasks belong to a snapshot and stop when it is dropped
//! (`HealthCheckers`); what they learn is kept in `health_state`, which
//! outlives snapshots.

use std::sync::Arc;

use http::{HeaderName, HeaderValue, Request, Uri};
use tokio::task::JoinHandle;

use super::balancer::UpstreamServer;
use super::pool::ServerPool;
use super::registry::Upstreams;
use crate::body::ProxyBody;
use crate::config::model::{HealthCheck, Scheme};
use crate::http1::response::Form;
use http_body_util::BodyExt;

/// The checker tasks of one snapshot; aborted when the snapshot is dropped.
#[derive(Debug, Default)]
pub struct HealthCheckers {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for HealthCheckers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl HealthCheckers {
    /// Start checking `servers` of `backend` with `check`. Must run inside a
    /// tokio runtime.
    pub fn spawn(
        &mut self,
        backend: &str,
        check: &HealthCheck,
        servers: &[Arc<UpstreamServer>],
        upstreams: &Arc<Upstreams>,
    ) {
        for server in servers {
            let Some(uri) = check_uri(check, server) else {
                tracing::warn!(backend, server = %server.url, "cannot build a health-check URL; server left up");
                continue;
            };
            let scheme = check.scheme.unwrap_or(server.scheme);
            let Some(authority) = uri.authority() else {
                continue;
            };
            let pool = upstreams.pool(scheme, authority);
            let task = CheckTask {
                backend: backend.to_string(),
                server: server.clone(),
                uri,
                check: check.clone(),
                pool,
            };
            self.tasks.push(tokio::spawn(task.run()));
        }
    }
}

struct CheckTask {
    backend: String,
    server: Arc<UpstreamServer>,
    uri: Uri,
    check: HealthCheck,
    pool: Arc<ServerPool>,
}

impl CheckTask {
    async fn run(self) {
        let mut ticker = tokio::time::interval(self.check.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let result = self.probe().await;
            let up = result.is_ok();
            let was_up = self.server.health.set_up(up);
            match (was_up, result) {
                (true, Err(why)) => tracing::warn!(
                    backend = %self.backend, server = %self.server.url, %why,
                    "health check failed: server taken out of rotation"
                ),
                (false, Ok(())) => tracing::info!(
                    backend = %self.backend, server = %self.server.url,
                    "health check passed: server back in rotation"
                ),
                _ => {}
            }
        }
    }

    async fn probe(&self) -> Result<(), String> {
        let mut req = Request::get(self.uri.clone());
        let host = match (&self.check.hostname, self.uri.authority()) {
            (Some(host), _) => host.as_str(),
            (None, Some(authority)) => authority.as_str(),
            (None, None) => "localhost",
        };
        req = req.header(http::header::HOST, host);
        for (k, v) in &self.check.headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::try_from(k.as_str()),
                HeaderValue::try_from(v.as_str()),
            ) {
                req = req.header(k, v);
            }
        }
        let req = req.body(ProxyBody::empty()).map_err(|e| e.to_string())?;
        let (mut parts, body) = req.into_parts();
        let exchange = async {
            let answer = self
                .pool
                .send(&mut parts, body, Form::Map, None)
                .await
                .map_err(|e| e.to_string())?;
            let status = answer.status();
            let resp = answer.into_response();
            // Read the (small) answer to its end so the connection is reused
            // by the next check instead of reopened every interval.
            let mut body = resp.into_body();
            while let Some(frame) = body.frame().await {
                frame.map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(status)
        };
        let status = tokio::time::timeout(self.check.timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {:?}", self.check.timeout))??;
        if status.is_success() || status.is_redirection() {
            Ok(())
        } else {
            Err(format!("status {status}"))
        }
    }
}

fn check_uri(check: &HealthCheck, server: &UpstreamServer) -> Option<Uri> {
    let scheme = match check.scheme.unwrap_or(server.scheme) {
        Scheme::Https => "https",
        Scheme::Http | Scheme::H2c | Scheme::Tunnel => "http",
    };
    let host = server.authority.host();
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let port = check
        .port
        .or_else(|| server.authority.port_u16())
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let path = if check.path.starts_with('/') {
        check.path.clone()
    } else {
        format!("/{}", check.path)
    };
    format!("{scheme}://{host}:{port}{path}").parse().ok()
}
