//! tollgate's own endpoints, answered before routing on the entry points
//! the config names: the API (`[api]`: `/api`, `/api/rawdata`, `/health`),
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

/// The answer to `req` if it asks for one of the endpoints `entry` serves.
pub fn answer<B>(
    req: &Request<B>,
    entry: &EntryRoutes,
    snapshot: &Snapshot,
    shared: &Shared,
) -> Option<Response<ProxyBody>> {
    let endpoints = entry.endpoints;
    if !(endpoints.api || endpoints.metrics || endpoints.dashboard) {
        return None;
    }
    let path = req.uri().path();
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    let resp = if endpoints.metrics && path == "/metrics" {
        let metrics = snapshot.metrics.as_ref()?;
        body(
            prometheus::render(snapshot, shared, metrics),
            crate::metrics::CONTENT_TYPE,
        )
    } else if endpoints.api && path == "/health" {
        json(&health::health(shared))
    } else if endpoints.api && path == "/api/rawdata" {
        json(&rawdata::rawdata(snapshot, shared))
    } else if endpoints.api && (path == "/api" || path.starts_with("/api/")) {
        match providers::lookup(&snapshot.config, path) {
            Some(value) => json(&value),
            None => text_response(StatusCode::NOT_FOUND, "404 page not found"),
        }
    } else if endpoints.dashboard && path == "/dashboard/" {
        dashboard::page()
    } else if endpoints.dashboard
        && (path == "/dashboard" || (path == "/" && entry.frontends.is_empty()))
    {
        redirect("/dashboard/")
    } else {
        return None;
    };
    if !read {
        let mut refused = text_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        refused
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(refused);
    }
    Some(resp)
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
