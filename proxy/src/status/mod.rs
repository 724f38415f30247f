//! tollgate's own endpoints, answered before routing on the entry points
//! the config names: the API (`[api]`: `/api`, `/api/rawdata`,
//! `/api/tunnels`, `/api/etcd`, `/health`),
//! the dashboard (`/dashboard/`) and Prometheus metrics
//! (`[metrics.prometheus]`: `/metrics`). `/ping` and ACME challenges are
//! `request::early`'s (they come before entry point authentication).
//!
//! - `inventory`: the snapshot's backends, plugins and certificates, once each.
//! - `rawdata`: the running configuration and its state, as JSON.
//! - `providers`: Traefik 1.7's `/api/providers` shape.
//! - `health`: `/health`.
//! - `prometheus`: the families read at scrape time, and `/metrics`.
//! - `dashboard`: the page (`dashboard.html`, compiled in).
//!
//! None of this is on the request path of proxied traffic: it reads the
//! snapshot and `Shared` when asked.

mod dashboard;
mod health;
mod inventory;
mod prometheus;
mod providers;
mod rawdata;

use http::{header, HeaderValue, Method, Request, Response, StatusCode};

use crate::body::ProxyBody;
use crate::error::text_response;
use crate::snapshot::{EntryRoutes, Shared, Snapshot};

/// One of tollgate's own pages.
enum Page {
    Metrics,
    Health,
    RawData,
    Tunnels,
    Etcd,
    Providers,
    Dashboard,
    ToDashboard,
}

/// The answer to `req` if it asks for one of the endpoints `entry` serves.
pub fn answer<B>(
    req: &Request<B>,
    entry: &EntryRoutes,
    snapshot: &Snapshot,
    shared: &Shared,
) -> Option<Response<ProxyBody>> {
    let page = page(req.uri().path(), entry)?;
    // Refused before anything is built: a POST must not cost a scrape.
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let mut refused = text_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        refused
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(refused);
    }
    Some(match page {
        Page::Metrics => body(
            prometheus::render(snapshot, shared, snapshot.metrics.as_ref()?),
            crate::metrics::CONTENT_TYPE,
        ),
        Page::Health => json(&health::health(shared)),
        Page::RawData => json(&rawdata::rawdata(snapshot, shared)),
        Page::Tunnels => json(&serde_json::json!(shared.tunnels.status())),
        Page::Etcd => json(&serde_json::json!(shared.etcd.get())),
        Page::Providers => match providers::lookup(&snapshot.config, req.uri().path()) {
            Some(value) => json(&value),
            None => text_response(StatusCode::NOT_FOUND, "404 page not found"),
        },
        Page::Dashboard => dashboard::page(),
        Page::ToDashboard => redirect("/dashboard/"),
    })
}

/// Which page `path` is on this entry point, if any.
fn page(path: &str, entry: &EntryRoutes) -> Option<Page> {
    let served = entry.endpoints;
    let page = if served.metrics && path == "/metrics" {
        Page::Metrics
    } else if served.api && path == "/health" {
        Page::Health
    } else if served.api && path == "/api/rawdata" {
        Page::RawData
    } else if served.api && path == "/api/tunnels" {
        Page::Tunnels
    } else if served.api && path == "/api/etcd" {
        Page::Etcd
    } else if served.api && (path == "/api" || path.starts_with("/api/")) {
        Page::Providers
    } else if served.dashboard && path == "/dashboard/" {
        Page::Dashboard
    } else if served.dashboard
        && (path == "/dashboard" || (path == "/" && entry.frontends.is_empty()))
    {
        Page::ToDashboard
    } else {
        return None;
    };
    Some(page)
}

fn json(value: &serde_json::Value) -> Response<ProxyBody> {
    let mut text = serde_json::to_vec_pretty(value).unwrap_or_default();
    text.push(b'\n');
    body(text, "application/json")
}

fn body(bytes: Vec<u8>, content_type: &'static str) -> Response<ProxyBody> {
    let mut resp = Response::new(ProxyBody::full(bytes));
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Live state: never from a cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn redirect(to: &'static str) -> Response<ProxyBody> {
    let mut resp = Response::new(ProxyBody::empty());
    *resp.status_mut() = StatusCode::FOUND;
    resp.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    resp
}
