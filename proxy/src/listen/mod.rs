//! Client connections, from the listening socket to the request pipeline.
//!
//! - `entrypoint`: binding an entrypoint's address and its accept loop;
//!   its connection limits are `snapshot::admission`.
//! - `connection`: one connection: TLS handshake, the HTTP/1 lane, hyper.
//! - `settings`: a connection's settings; `service`: what hyper calls for
//!   each request.
//! - `parking`: where idle plain HTTP/1.1 connections wait, out of any task.
//! - `idle`: the idle limit of connections hyper serves (HTTP/2 above all).
//! - `proxy_protocol`: the client address a TCP load balancer passes on.
//! - `linger`: lingering close; `write_deadline`: `writeTimeout` on HTTP/1
//!   connections.
//! - `tunnel`: the `[tunnels]` entry point's connections, devices' agents;
//!   `peer`: the links from other instances of a cluster there.

pub mod connection;
pub mod entrypoint;
pub mod idle;
pub mod linger;
pub mod parking;
pub mod peer;
pub mod proxy_protocol;
pub mod service;
pub mod settings;
pub mod tunnel;
pub mod write_deadline;

pub use entrypoint::{bind, Listener};
