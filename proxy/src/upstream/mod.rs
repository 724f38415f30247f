//! Backends: which server gets a request and the connections to it.
//!
//! - `balancer`: a backend's servers and the choice of one (weights, health).
//! - `health`: active health checks; `health_state`: what they learnt, kept
//!   across reloads.
//! - `limit`: `maxConn`, requests in flight per source.
//! - `templated`: a server whose URL the request's variables complete
//!   (`{device}`); `allow` checks where it may lead; `resolve` finds its
//!   addresses.
//! - `registry`: every server's connection pool, found again by a reload.
//! - `pool`: one server's keep-alive connections and the exchange on them.
//! - `connect`: dialing a new connection (TCP, TLS, HTTP handshake).
//! - `error`: why an exchange failed.

pub mod allow;
pub mod balancer;
pub mod connect;
pub mod error;
pub mod health;
pub mod health_state;
pub mod limit;
pub mod pool;
pub mod registry;
pub mod resolve;
pub mod templated;

pub use error::UpstreamError;
pub use pool::{Answer, ServerPool};
pub use registry::Upstreams;
