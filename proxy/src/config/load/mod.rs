//! Reads a config file into `model::Config`.
//!
//! The dialect is Traefik 1.7's file configuration: keys match
//! case-insensitively, durations are Go strings or seconds, and 1.7's
//! defaults apply. Every problem is collected (not just the first) and names
//! `FILE:LINE:COL: KEY`. Errors refuse the config; warnings (unknown keys,
//! sections not yet supported, harmless oddities) travel in
//! `Config::warnings`.
//!
//! `document` reads the files and calls the section loaders in order; each
//! section has its own file. `context`, `values` and `unsupported` are what
//! several sections share, and import no section loader.

mod access_log;
mod acme;
mod backends;
mod context;
mod dialect;
mod dns_challenge;
mod document;
mod entry_limits;
mod entry_point_tls;
mod entry_points;
mod etcd;
mod file;
mod frontends;
mod globals;
mod middleware;
mod status;
mod targets;
mod traefik3;
mod traefik_plugin;
mod tunnels;
mod unsupported;
mod values;

#[cfg(test)]
mod tests;

pub use document::{load_file, load_str, load_with_kv, KvKeys};
pub use file::{digest_files, directory_files, is_config_file, provider_file};
