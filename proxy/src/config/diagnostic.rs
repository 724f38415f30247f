//! Where in which file something was written, and the errors and warnings
//! that point there. Every config error a user sees goes through here, so
//! they all read the same way: `FILE:LINE:COL: KEY: message`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A position in a config file, with the dotted key written there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<Path>,
    /// 1-based.
    pub line: u32,
    /// 1-based, in characters.
    pub column: u32,
    /// Dotted key path as the user wrote it, e.g. `frontends.zumi01.routes.route_1.rule`.
    pub key: String,
}

impl Location {
    /// A location for things that have no place in a file (built-in defaults).
    pub fn builtin(key: impl Into<String>) -> Self {
        Location {
            file: Arc::from(Path::new("<built-in>")),
            line: 0,
            column: 0,
            key: key.into(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.key)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.key
            )
        }
    }
}

/// A config problem with its place: an error refuses the config, a warning
/// is printed and the config still loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Option<Location>,
    pub message: String,
}

impl Diagnostic {
    pub fn at(location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            location: Some(location),
            message: message.into(),
        }
    }

    pub fn bare(message: impl Into<String>) -> Self {
        Diagnostic {
            location: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{loc}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A config that cannot be used. Holds every error found, not just the first,
/// so a sysadmin fixes them in one pass.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub errors: Vec<Diagnostic>,
}

impl ConfigError {
    pub fn one(d: Diagnostic) -> Self {
        ConfigError { errors: vec![d] }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
