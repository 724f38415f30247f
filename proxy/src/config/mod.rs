//! Configuration: `config.toml → tree (case-insensitive keys, spans) → model::Config`.
//!
//! - `tree`: the parsed TOML document with case-insensitive key lookup, source
//!   spans, and bookkeeping of which keys were read (the rest become warnings).
//! - `load`: walks the tree into `model::Config`, one file per section,
//!   applying Traefik 1.7 defaults and validating values; every error names
//!   file, line, column and key.
//! - `diagnostic`: those errors and warnings, with their place in a file.
//! - `model`: plain data; `snapshot::compile` turns it into a running snapshot.

pub mod diagnostic;
pub mod load;
pub mod model;
mod tree;

pub use diagnostic::{ConfigError, Diagnostic, Location};
pub use load::{digest_files, load_file, load_str, load_with_kv, KvKeys};
pub use model::Config;
/// The known name a misspelt one most likely meant (for "did you mean").
pub(crate) use tree::closest as closest_name;
