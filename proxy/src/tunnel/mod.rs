//! Built-in device tunnels: a device behind NAT runs `tollgate agent`,
//! which dials the server's `[tunnels]` entry point and keeps one TLS
//! connection open; backends name the device as `tunnel://NAME`. No sshd,
//! VPN or tunnel service, no port per device.
//!
//! - `hello`: the agent's first line (name and token) and the answer.
//! - `token`: device tokens and their bcrypt hashes.
//! - `registry`: the live tunnels by device, and a stream through one.
//! - `agent`: the device side.
//! - `peers`: several instances on etcd; a device is reached through the
//!   one holding its tunnel (the accepting side is `listen::peer`).
//!
//! The server side of a tunnel connection (TLS, hello, HTTP/2 with tollgate
//! as the client) is `listen::tunnel`.

pub mod agent;
pub mod hello;
pub mod peers;
pub mod registry;
pub mod token;

pub use registry::{TunnelStatus, TunnelStream, Tunnels};
