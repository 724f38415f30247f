//! What tollgate counts, for `/metrics` (Prometheus) and `/health`.
//!
//! - `Metrics`: the registry of request series, in Traefik 1.7's names
//!   (`traefik_entrypoint_*`, `traefik_backend_*`), with the histogram
//!   buckets of `[metrics.prometheus]`. It outlives reloads (counters do not
//!   restart) unless the buckets change.
//! - `series`: one entry point's or backend's series, counted per request
//!   without a lock or an allocation.
//! - `family`: families made at scrape time from what the process knows
//!   then (server health, pools, plugins, certificates, reloads).
//! - `stats`: the request counts and recent errors of `/health`.

pub mod family;
pub mod series;
pub mod stats;

use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

pub use family::Family;
pub use series::{OpenRequest, Protocol, RequestSeries};
pub use stats::RequestStats;

const LABELS_ENTRY: [&str; 4] = ["code", "method", "protocol", "entrypoint"];
const LABELS_BACKEND: [&str; 4] = ["code", "method", "protocol", "backend"];
const OPEN_ENTRY: [&str; 3] = ["method", "protocol", "entrypoint"];
const OPEN_BACKEND: [&str; 3] = ["method", "protocol", "backend"];

/// The process's request metrics.
pub struct Metrics {
    registry: Registry,
    buckets: Vec<f64>,
    entry_requests: IntCounterVec,
    entry_duration: HistogramVec,
    backend_requests: IntCounterVec,
    backend_duration: HistogramVec,
    entry_open: IntGaugeVec,
    backend_open: IntGaugeVec,
}

impl Metrics {
    pub fn new(buckets: &[f64]) -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let vec = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(vec.clone()))?;
            Ok::<_, prometheus::Error>(vec)
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
            let vec = HistogramVec::new(opts, labels)?;
            registry.register(Box::new(vec.clone()))?;
            Ok::<_, prometheus::Error>(vec)
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let vec = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(vec.clone()))?;
            Ok::<_, prometheus::Error>(vec)
        };
        let metrics = Metrics {
            entry_requests: counter(
                "traefik_entrypoint_requests_total",
                "How many HTTP requests an entry point answered, by status code, method and protocol.",
                &LABELS_ENTRY,
            )?,
            entry_duration: histogram(
                "traefik_entrypoint_request_duration_seconds",
                "How long an entry point took to answer a request (until the response head).",
                &LABELS_ENTRY,
            )?,
            backend_requests: counter(
                "traefik_backend_requests_total",
                "How many requests were forwarded to a backend, by status code, method and protocol.",
                &LABELS_BACKEND,
            )?,
            backend_duration: histogram(
                "traefik_backend_request_duration_seconds",
                "How long a backend took to answer (until the response head).",
                &LABELS_BACKEND,
            )?,
            entry_open: gauge(
                "traefik_entrypoint_open_connections",
                "Requests an entry point is answering (until the response body ends), by method and protocol.",
                &OPEN_ENTRY,
            )?,
            backend_open: gauge(
                "traefik_backend_open_connections",
                "Requests a backend is answering (until the response body ends), by method and protocol.",
                &OPEN_BACKEND,
            )?,
            registry,
            buckets: buckets.to_vec(),
        };
        #[cfg(target_os = "linux")]
        metrics.registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(metrics)
    }

    /// The buckets the duration histograms were made with.
    pub fn buckets(&self) -> &[f64] {
        &self.buckets
    }

    pub fn entry_point(&self, name: &str) -> RequestSeries {
        RequestSeries::new(
            name,
            self.entry_requests.clone(),
            self.entry_duration.clone(),
            self.entry_open.clone(),
        )
    }

    pub fn backend(&self, name: &str) -> RequestSeries {
        RequestSeries::new(
            name,
            self.backend_requests.clone(),
            self.backend_duration.clone(),
            self.backend_open.clone(),
        )
    }

    /// The Prometheus text format of every registered family and `extra`.
    pub fn render(&self, extra: Vec<MetricFamily>) -> Vec<u8> {
        let mut families = self.registry.gather();
        families.extend(extra.into_iter().filter(|f| !f.get_metric().is_empty()));
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::with_capacity(16 * 1024);
        if let Err(e) = prometheus::TextEncoder::new().encode(&families, &mut out) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// The content type of `render`'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
