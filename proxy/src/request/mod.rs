//! The per-request pipeline, one file per phase, in the order a request
//! meets them (`pipeline` runs them):
//!
//! - `context`: what the phases share (the connection, the snapshot, the writer).
//! - `early`: `/ping` and ACME HTTP-01 answers, before anything else.
//! - `screen`: the entrypoint's screening of paths and header names.
//! - `redirect`: an entrypoint that redirects every request.
//! - entry point authentication: `crate::wasm::Chain`; tollgate's own
//!   endpoints (API, dashboard, `/metrics`): `crate::status`.
//! - routing itself is `crate::router`, compiled into the snapshot.
//! - `limit`: `maxConn`.
//! - plugins: `crate::wasm::Chain`, called by `pipeline`.
//! - `forward`: the upstream exchange, with `forwarded` (`X-Forwarded-*`)
//!   and `upgrade` (WebSocket splice, copied by `relay`).
//! - `observe`: the access log, metrics and `/health` counts, last.
//! - error responses: `crate::error`.

pub mod context;
pub mod early;
pub mod forward;
pub mod forwarded;
pub mod limit;
pub mod observe;
pub mod pipeline;
pub mod redirect;
mod relay;
pub mod screen;
pub mod upgrade;

pub use context::{ClientConn, Writer};
pub use pipeline::respond;
