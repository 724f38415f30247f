//! The plugins that ship inside tollgate (built from `plugins/` by
//! `proxy/build.rs`), and the config each expects, for the 1.7 settings
//! they implement:
//!
//! | name         | 1.7 setting                                   | config JSON |
//! |--------------|-----------------------------------------------|-------------|
//! | `basic-auth` | `basicAuth = [...]`, `[frontends.X.auth.basic]` | [`basic_auth_config`] |
//! | `headers`    | `[frontends.X.headers]`                       | the table itself, as JSON (keys in any case) |
//! | `jwt-auth`   | (tollgate's own)                              | see `plugins/jwt-auth` |

use std::path::{Path, PathBuf};

use serde_json::json;

use super::error::PluginError;

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

pub const BASIC_AUTH: &str = "basic-auth";
pub const HEADERS: &str = "headers";
pub const JWT_AUTH: &str = "jwt-auth";

/// Names accepted as `PluginSource::Builtin`.
pub fn names() -> impl Iterator<Item = &'static str> {
    EMBEDDED.iter().map(|(name, _)| *name)
}

/// The module of a built-in plugin.
pub(crate) fn module(name: &str) -> Result<(&'static str, &'static [u8]), PluginError> {
    match EMBEDDED.iter().find(|(n, _)| *n == name) {
        Some((name, Some(bytes))) => Ok((name, bytes)),
        Some((name, None)) => Err(PluginError::BuiltinMissing(name.to_string())),
        None => Err(PluginError::UnknownBuiltin(name.to_string())),
    }
}

/// Where the build put every plugin module, the test guests included
/// (`misbehave.wasm`, `http-wasm-guest-compat.wasm`); None if the build
/// skipped them.
pub fn wasm_dir() -> Option<PathBuf> {
    let dir = env!("TOLLGATE_PLUGIN_WASM_DIR");
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// The basic-auth plugin's config from Traefik 1.7's settings. `users_file`
/// is read here (the guest has no file system); its lines come after
/// `users`, so they win for a user listed in both, as in 1.7. A change of
/// that file needs a reload of the config to be seen.
pub fn basic_auth_config(
    users: &[String],
    users_file: Option<&Path>,
    realm: Option<&str>,
    remove_header: bool,
    header_field: Option<&str>,
) -> Result<Vec<u8>, PluginError> {
    let mut all: Vec<String> = users.to_vec();
    if let Some(path) = users_file {
        let text = std::fs::read_to_string(path).map_err(|source| PluginError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        all.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    let mut config = json!({"users": all, "removeHeader": remove_header});
    if let Some(realm) = realm.filter(|r| !r.is_empty()) {
        config["realm"] = json!(realm);
    }
    if let Some(field) = header_field.filter(|f| !f.is_empty()) {
        config["headerField"] = json!(field);
    }
    Ok(config.to_string().into_bytes())
}
