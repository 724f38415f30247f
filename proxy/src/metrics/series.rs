//! One entry point's or backend's request series: `..._requests_total` and
//! `..._request_duration_seconds` by status code, method and protocol.
//!
//! A label lookup in a metric vector hashes the labels and takes a read
//! lock; a request must not pay that. So each series keeps a table of
//! resolved (counter, histogram) pairs for the common methods and codes,
//! filled on first use and read with one atomic load after that; counting
//! and observing are atomic adds. Other methods, codes and protocols (rare)
//! go through the vector's lookup.

use std::sync::OnceLock;
use std::time::Duration;

use http::Method;
use prometheus::{Histogram, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec};

/// A request being answered, counted in its entry point's and backend's
/// `..._open_connections` until dropped (it rides on the response body as
/// a `body::Guard`: one small allocation per request, only with metrics
/// on; a field in every body would cost every request ~350 instructions).
pub struct OpenRequest([Option<IntGauge>; 2]);

impl OpenRequest {
    /// The entry point's gauge, and the backend's when the request was sent
    /// to one, both raised now.
    pub fn new(entry: IntGauge, backend: Option<IntGauge>) -> OpenRequest {
        entry.inc();
        if let Some(b) = &backend {
            b.inc();
        }
        OpenRequest([Some(entry), backend])
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        for gauge in self.0.iter().flatten() {
            gauge.dec();
        }
    }
}

/// The protocol label, as Traefik sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http,
    /// An upgrade to WebSocket (answered 101).
    Websocket,
    /// `Accept: text/event-stream`.
    Sse,
}

impl Protocol {
    /// `Sse` for `Accept: text/event-stream`, else `Http`: what the request
    /// says. A WebSocket is known by its answer (`answered`).
    pub fn of(headers: &http::HeaderMap) -> Protocol {
        let sse = headers
            .get(http::header::ACCEPT)
            .is_some_and(|v| v.as_bytes() == b"text/event-stream");
        if sse {
            Protocol::Sse
        } else {
            Protocol::Http
        }
    }

    /// A request answered `101 Switching Protocols` became a WebSocket
    /// (checked on the answer: one header lookup less per request, and an
    /// upgrade the backend refused counts as plain HTTP).
    pub fn answered(self, status: u16) -> Protocol {
        if status == 101 {
            Protocol::Websocket
        } else {
            self
        }
    }

    fn label(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Websocket => "websocket",
            Protocol::Sse => "sse",
        }
    }
}

/// Methods with a resolved slot; any other standard method has its own
/// label through the lookup, and extension methods share `other` (a client
/// must not be able to make a new series per request).
const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::OPTIONS,
    Method::PATCH,
];

/// Status codes with a resolved slot.
const CODES: [u16; 24] = [
    200, 201, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 408, 413, 414, 429, 431,
    499, 500, 502, 503, 504,
];

#[derive(Clone)]
struct Cell {
    requests: IntCounter,
    duration: Histogram,
}

/// The series of one entry point or backend (the last label's value).
pub struct RequestSeries {
    name: Box<str>,
    requests: IntCounterVec,
    duration: HistogramVec,
    /// `..._open_connections`: requests whose response is being sent.
    open: IntGaugeVec,
    /// `METHODS × CODES`, allocated at the first request.
    cells: OnceLock<Box<[OnceLock<Cell>]>>,
    /// `METHODS × PROTOCOLS` open-request gauges, allocated at first use.
    open_cells: OnceLock<Box<[OnceLock<IntGauge>]>>,
}

const PROTOCOLS: [Protocol; 3] = [Protocol::Http, Protocol::Websocket, Protocol::Sse];

impl RequestSeries {
    pub(super) fn new(
        name: &str,
        requests: IntCounterVec,
        duration: HistogramVec,
        open: IntGaugeVec,
    ) -> Self {
        RequestSeries {
            name: name.into(),
            requests,
            duration,
            open,
            cells: OnceLock::new(),
            open_cells: OnceLock::new(),
        }
    }

    /// The open-requests gauge for this method and protocol (Traefik's
    /// `..._open_connections`, which counts requests, not connections).
    pub fn open(&self, method: &Method, protocol: Protocol) -> IntGauge {
        let resolve = || {
            self.open
                .with_label_values(&[method_label(method), protocol.label(), &self.name])
        };
        let (Some(m), Some(p)) = (
            METHODS.iter().position(|known| known == method),
            PROTOCOLS.iter().position(|known| *known == protocol),
        ) else {
            return resolve();
        };
        let cells = self.open_cells.get_or_init(|| {
            (0..METHODS.len() * PROTOCOLS.len())
                .map(|_| OnceLock::new())
                .collect()
        });
        cells[m * PROTOCOLS.len() + p].get_or_init(resolve).clone()
    }

    /// Count one request and its duration.
    pub fn observe(&self, method: &Method, status: u16, protocol: Protocol, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let slot = match (protocol, slot(method, status)) {
            (Protocol::Http, Some(slot)) => slot,
            _ => {
                let cell = self.resolve(method, status, protocol);
                cell.requests.inc();
                cell.duration.observe(secs);
                return;
            }
        };
        let cells = self.cells.get_or_init(|| {
            (0..METHODS.len() * CODES.len())
                .map(|_| OnceLock::new())
                .collect()
        });
        let cell = cells[slot].get_or_init(|| self.resolve(method, status, protocol));
        cell.requests.inc();
        cell.duration.observe(secs);
    }

    fn resolve(&self, method: &Method, status: u16, protocol: Protocol) -> Cell {
        let digits = code_digits(status);
        let code = std::str::from_utf8(&digits).unwrap_or("000");
        let labels = [code, method_label(method), protocol.label(), &self.name];
        Cell {
            requests: self.requests.with_label_values(&labels),
            duration: self.duration.with_label_values(&labels),
        }
    }
}

fn slot(method: &Method, status: u16) -> Option<usize> {
    let m = METHODS.iter().position(|known| known == method)?;
    let c = CODES.iter().position(|&known| known == status)?;
    Some(m * CODES.len() + c)
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// A status code's three digits, without formatting (no allocation).
fn code_digits(status: u16) -> [u8; 3] {
    let s = status.min(999);
    [
        b'0' + (s / 100) as u8,
        b'0' + (s / 10 % 10) as u8,
        b'0' + (s % 10) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{HistogramOpts, Opts};

    fn series() -> RequestSeries {
        let labels = ["code", "method", "protocol", "entrypoint"];
        RequestSeries::new(
            "web",
            IntCounterVec::new(Opts::new("r", "r"), &labels).unwrap(),
            HistogramVec::new(
                HistogramOpts::new("d", "d").buckets(vec![0.1, 1.0]),
                &labels,
            )
            .unwrap(),
            IntGaugeVec::new(Opts::new("o", "o"), &labels[1..]).unwrap(),
        )
    }

    #[test]
    fn open_gauges_are_shared_per_method_and_protocol() {
        let s = series();
        let a = s.open(&Method::GET, Protocol::Sse);
        a.inc();
        s.open(&Method::GET, Protocol::Sse).inc();
        s.open(&Method::from_bytes(b"BREW").unwrap(), Protocol::Http)
            .inc();
        assert_eq!(s.open.with_label_values(&["GET", "sse", "web"]).get(), 2);
        assert_eq!(s.open.with_label_values(&["other", "http", "web"]).get(), 1);
    }

    #[test]
    fn slots_and_lookups_count_into_the_same_series() {
        let s = series();
        let ms = Duration::from_millis(1);
        s.observe(&Method::GET, 200, Protocol::Http, ms);
        s.observe(
            &Method::GET,
            200,
            Protocol::Http,
            Duration::from_millis(500),
        );
        s.observe(&Method::GET, 200, Protocol::Websocket, ms);
        s.observe(&Method::GET, 299, Protocol::Http, ms);
        let odd = Method::from_bytes(b"BREW").unwrap();
        s.observe(&odd, 418, Protocol::Http, ms);
        s.observe(
            &Method::from_bytes(b"PURGE").unwrap(),
            418,
            Protocol::Http,
            ms,
        );
        let get = |labels: &[&str]| s.requests.with_label_values(labels).get();
        assert_eq!(get(&["200", "GET", "http", "web"]), 2);
        assert_eq!(get(&["200", "GET", "websocket", "web"]), 1);
        assert_eq!(get(&["299", "GET", "http", "web"]), 1);
        assert_eq!(get(&["418", "other", "http", "web"]), 2);
        let h = s.duration.with_label_values(&["200", "GET", "http", "web"]);
        assert_eq!(h.get_sample_count(), 2);
        assert!((h.get_sample_sum() - 0.501).abs() < 1e-9);
    }

    #[test]
    fn codes_become_digits() {
        assert_eq!(&code_digits(200), b"200");
        assert_eq!(&code_digits(504), b"504");
        assert_eq!(&code_digits(101), b"101");
    }
}
