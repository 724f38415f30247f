//! Shared helpers for the end-to-end tests: the tollgate process, real
//! backends and clients, and the ACME fixtures (a pebble CA).
#![allow(dead_code)]

pub mod acme;
pub mod backends;
pub mod client;
pub mod config;
pub mod dns;
pub mod etcd;
pub mod h2raw;
pub mod process;

pub use acme::*;
pub use backends::*;
pub use client::*;
pub use config::*;
pub use dns::*;
pub use etcd::*;
pub use process::*;

pub use std::time::Duration;

/// Short-hand for `Duration::from_millis`.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Short-hand for `Duration::from_secs`.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
