//! Building each frontend's middleware chain: the plugins it lists and the
//! built-in plugins behind its Traefik 1.7 settings, in this order:
//! `headers` (so security headers also decorate a 401), `basicAuth`, then
//! `middlewares = [...]` in the order written.
//!
//! A `[plugins.NAME]` is loaded once per config and shared by every frontend
//! that lists it. A reload keeps a running plugin whose spec (file, config,
//! limits) and `.wasm` file did not change, with its warm instances and
//! their state (basic-auth's verified credentials): `Loader`. A changed one
//! is loaded anew; the host's module cache still skips recompiling a file
//! whose bytes are the same.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::model::{BasicAuth, Config, Frontend, PluginConfig};
use crate::config::Diagnostic;
use crate::wasm::{builtin, Chain, Plugin, PluginError, PluginHost, PluginSource, PluginSpec};

/// A plugin that refused its config, placed at the key it complains about
/// when it names one (serde's "unknown field `x`"), else at the plugin's
/// table. The guest's own position ("at line 1 column 9") is of the JSON
/// tollgate made, not of the file: it is left out.
fn config_diagnostic(p: &PluginConfig, e: &PluginError) -> Diagnostic {
    // An error path: the patterns are compiled when needed.
    let json_position = regex::Regex::new(r" at line \d+ column \d+").expect("a valid pattern");
    let unknown_field = regex::Regex::new("unknown field `([^`]*)`").expect("a valid pattern");
    let said = e.to_string();
    let said = json_position.replace_all(&said, "");
    let key = unknown_field.captures(&said).and_then(|c| {
        let field = c.get(1)?.as_str();
        p.config_keys
            .iter()
            .find(|l| l.key.rsplit('.').next() == Some(field))
    });
    match key {
        Some(location) => Diagnostic::at(location.clone(), format!("unknown field ({said})")),
        None => Diagnostic::at(p.location.clone(), said.into_owned()),
    }
}

/// Loads plugins for a new snapshot, keeping the previous snapshot's where
/// nothing changed.
pub struct Loader<'a> {
    host: Arc<PluginHost>,
    running: &'a [Arc<Plugin>],
}

impl<'a> Loader<'a> {
    pub fn new(host: Arc<PluginHost>, running: &'a [Arc<Plugin>]) -> Self {
        Loader { host, running }
    }

    pub fn load(&self, spec: &PluginSpec) -> Result<Arc<Plugin>, PluginError> {
        let same = self
            .running
            .iter()
            .find(|p| p.spec() == spec && p.file_unchanged());
        if let Some(plugin) = same {
            tracing::debug!(plugin = %spec.name, "plugin kept with its instances (unchanged)");
            return Ok(plugin.clone());
        }
        self.host.load(spec)
    }
}

/// Chains by frontend name; frontends without middleware have none.
pub fn build_chains(
    config: &Config,
    host: &Loader<'_>,
    errors: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Chain> {
    let mut named: BTreeMap<&str, Arc<Plugin>> = BTreeMap::new();
    for (name, p) in &config.plugins {
        let used = config
            .frontends
            .values()
            .any(|f| f.middlewares.iter().any(|(m, _)| m == name));
        if !used {
            continue;
        }
        let mut spec = PluginSpec::new(name.clone(), PluginSource::Path(p.path.clone()));
        spec.config_json = p.guest_bytes();
        if let Some(t) = p.timeout {
            spec.timeout = t;
        }
        if let Some(m) = p.memory {
            spec.memory = m;
        }
        match host.load(&spec) {
            Ok(plugin) => {
                named.insert(name.as_str(), plugin);
            }
            Err(e) => errors.push(config_diagnostic(p, &e)),
        }
    }

    let mut chains = BTreeMap::new();
    for f in config.frontends.values() {
        let plugins = frontend_plugins(f, host, &named, errors);
        if !plugins.is_empty() {
            chains.insert(f.name.clone(), Chain::new(plugins));
        }
    }
    chains
}

/// The built-in basic-auth plugin with `auth`'s users, named `OWNER.basicAuth`.
pub fn basic_auth(
    owner: &str,
    auth: &BasicAuth,
    host: &Loader<'_>,
) -> Result<Arc<Plugin>, PluginError> {
    let json = builtin::basic_auth_config(
        &auth.users,
        auth.users_file.as_deref(),
        auth.realm.as_deref(),
        auth.remove_header,
        auth.header_field.as_deref(),
    )?;
    let mut spec = PluginSpec::new(
        format!("{owner}.basicAuth"),
        PluginSource::Builtin(builtin::BASIC_AUTH),
    );
    spec.config_json = json;
    host.load(&spec)
}

fn frontend_plugins(
    f: &Frontend,
    host: &Loader<'_>,
    named: &BTreeMap<&str, Arc<Plugin>>,
    errors: &mut Vec<Diagnostic>,
) -> Vec<Arc<Plugin>> {
    let mut plugins = Vec::new();
    if let Some(headers) = f.headers_to_apply() {
        let mut spec = PluginSpec::new(
            format!("{}.headers", f.name),
            PluginSource::Builtin(builtin::HEADERS),
        );
        spec.config_json = headers.to_string().into_bytes();
        match host.load(&spec) {
            Ok(p) => plugins.push(p),
            Err(e) => errors.push(Diagnostic::at(f.location.clone(), format!("headers: {e}"))),
        }
    }
    if let Some(auth) = &f.basic_auth {
        let location = auth.location.clone().unwrap_or_else(|| f.location.clone());
        match basic_auth(&f.name, auth, host) {
            Ok(p) => plugins.push(p),
            Err(e) => errors.push(Diagnostic::at(
                location,
                format!("basic authentication: {e}"),
            )),
        }
    }
    for (name, _) in &f.middlewares {
        if let Some(p) = named.get(name.as_str()) {
            plugins.push(p.clone());
        }
    }
    plugins
}
