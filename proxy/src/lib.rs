//! tollgate: a reverse proxy configured in Traefik 1.7's TOML dialect.
//!
//! ```text
//!  config file ──config::load──▶ Config ──runtime::compile──▶ Snapshot ──▶ Shared (ArcSwap)
//!                                                                            │ load once per request
//!  client ─▶ entrypoint (accept, TLS) ─▶ http1::server (HTTP/1.1 fast lane)
//!                                        └▶ hyper (h2, bodies, upgrades) ─▶ server::handle
//!                         both ─▶ server::respond ─▶ router ─▶ frontend ─▶ plugins ─▶ balancer
//!        ◀──────────── response streams back ◀── proxy::forward ─▶ upstream (own HTTP/1 codec)
//! ```
//!
//! The HTTP/1.1 codec (`http1`) is tollgate's own on the hot path: bodiless
//! client requests and every upstream HTTP/1 exchange are parsed with
//! `httparse` and driven from the request's task, without hyper's
//! per-connection dispatcher, channels and tasks. hyper serves the rest,
//! and both paths share `server::respond`, so the rules are written once.
//!
//! Modules are declared in the order a request meets them; `config` and
//! `runtime` are the two subsystems that build what the request path reads.

pub mod acme;
pub mod config;
pub mod reload;
pub mod runtime;
pub mod watch;

pub mod balancer;
pub mod entrypoint;
pub mod forwarded;
pub mod health;
pub mod http1;
pub mod limit;
pub mod linger;
pub mod proxy;
pub mod redirect;
pub mod router;
pub mod server;
pub mod upstream;
pub mod wasm;

pub mod body;
pub mod deadline;
pub mod error;
pub mod logging;
pub mod tls;
pub mod trust;
pub mod write_timeout;

mod app;
pub use app::{check, run};
