//! Reads a config file into `model::Config` (to be written: see the config work item).

use std::path::Path;

use super::{model::Config, ConfigError};

/// Read and validate the config file at `path`.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::one(super::Diagnostic::bare(format!("{}: cannot read: {e}", path.display())))
    })?;
    load_str(path, &text)
}

/// Parse and validate `text` as if read from `path` (used in errors).
pub fn load_str(_path: &Path, _text: &str) -> Result<Config, ConfigError> {
    todo!("config work item")
}
