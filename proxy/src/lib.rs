//! tollgate: a reverse proxy configured in Traefik 1.7's TOML dialect, whose
//! middleware are WebAssembly plugins.
//!
//! ```text
//!  config file ─config::load─▶ Config ─snapshot::compile─▶ Snapshot ─▶ snapshot::Shared (ArcSwap)
//!                                                                        │ loaded once per request
//!  client ─▶ listen (accept, TLS) ─▶ http1::server (HTTP/1.1 fast lane)
//!                                    └▶ hyper (h2, bodies, upgrades) ─▶ listen::service
//!                       both ─▶ request::pipeline: early answers ─▶ redirect ─▶ auth, status ─▶ router
//!                               ─▶ limit ─▶ plugins (wasm) ─▶ balancer ─▶ request::forward ─▶ observe
//!        ◀───────── response streams back ◀── upstream pool ─▶ http1::client (own codec)
//! ```
//!
//! # Layers
//!
//! Each module imports only modules listed below it; no file imports a file
//! that imports it back (`proxy/src` has no import loops). From the top:
//!
//! 1. `app` (boot, signals), `reload` (reloader, file watch, etcd's keys).
//! 2. `listen`: accept loops, TLS handshakes, connections, hyper's service.
//! 3. `request`: the per-request phases.
//! 4. `status`: tollgate's own endpoints (API, dashboard, `/metrics`).
//! 5. `snapshot`: the compiled config and the state that outlives it;
//!    `convert` (`tollgate convert`: 1.7 → 2/3) stands apart.
//! 6. `upstream` (pools, balancer, health, maxConn), `wasm` (plugin host),
//!    `acme`, `tls`, `router`, `access_log`, `metrics` (counters, series),
//!    `cluster` (the etcd client shared by `reload` and `acme`).
//! 7. `http1` (the codec), `http2` (bounds around hyper's h2), with `body`
//!    (the one body type; `pace` and `body_cap`, a client body's minimum
//!    rate and largest size) and `error`
//!    (the one error→status map and error-response builder).
//! 8. `config` (the TOML or YAML files → `Config`), `shutdown`, `deadline`, `trust`,
//!    `logging`: foundations that know nothing of requests; `scaffold`
//!    (`tollgate plugin new`) stands apart.
//!
//! Within layer 6, `acme` and `tls` meet only through `tls::store` and
//! `acme::AcmeState`; within layer 7, `body` holds the codec's `RawBody`,
//! and `http1::request`/`server` and `error` hold `ProxyBody`.

// Futures on the request path are moved whole (see `http1` on boxing); the
// threshold is in clippy.toml. Tests, with their buffers, are not held to it.
#![warn(clippy::large_futures)]

// Layer 8: foundations.
pub mod backoff;
pub mod config;
pub mod deadline;
pub mod logging;
pub mod scaffold;
pub mod shutdown;
pub mod trust;

// Layer 7: the HTTP/1 codec, HTTP/2's stream bounds, the body type, errors.
pub mod body;
pub mod body_cap;
pub mod error;
pub mod http1;
pub mod http2;
pub mod pace;

// Layer 6: what the request path calls.
pub mod access_log;
pub mod acme;
pub mod cluster;
pub mod metrics;
pub mod router;
pub mod tls;
pub mod tunnel;
pub mod upstream;
pub mod wasm;

// Layer 5: the compiled config; `convert` (`tollgate convert`), which
// writes a config in another dialect, stands apart.
pub mod convert;
pub mod snapshot;

// Layer 3: the request phases.
pub mod request;

// Layer 4: tollgate's own endpoints (API, dashboard, /metrics).
pub mod status;

// Layer 2: client connections.
pub mod listen;

// Layer 1: the process.
mod app;
pub mod reload;
pub use app::{check, run};
