//! Configuration: `config.toml → tree (case-insensitive keys, spans) → model::Config`.
//!
//! - `tree`: the parsed TOML document with case-insensitive key lookup, source
//!   spans, and bookkeeping of which keys were read (the rest become warnings).
//! - `load`: walks the tree into `model::Config`, applying Traefik 1.7 defaults
//!   and validating values; every error names file, line, column and key.
//! - `model`: plain data; `runtime::compile` turns it into a running snapshot.

pub mod acme;
pub mod diagnostic;
mod entrypoint_tls;
pub mod load;
mod middleware;
pub mod model;
mod tree;

pub use diagnostic::{ConfigError, Diagnostic, Location};
pub use load::{load_file, load_str};
pub use model::Config;

/// A digest of config files' contents, in order: the loader records the one
/// of the bytes it read (`Config::source_digest`), the watcher computes the
/// same from disk, and a difference means the running config is stale.
pub fn digest_files<'a>(
    files: impl IntoIterator<Item = (&'a std::path::Path, Option<&'a [u8]>)>,
) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (path, bytes) in files {
        path.hash(&mut h);
        match bytes {
            Some(b) => {
                1u8.hash(&mut h);
                b.hash(&mut h);
            }
            None => 0u8.hash(&mut h),
        }
    }
    h.finish()
}
