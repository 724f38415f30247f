//! The whole config: reads the main file and the files of its file
//! provider, tells which Traefik they are written for (`dialect`), then
//! reads every section, each after the sections it refers to (entry
//! points, backends and plugins before the frontends naming them): 1.7's
//! here, 2/3's in `traefik3`.

use std::path::Path;
use std::sync::Arc;

use crate::config::diagnostic::{ConfigError, Diagnostic};
use crate::config::model::{Config, Dialect};
use crate::config::tree::Tree;

use super::backends::read_all_backends;
use super::context::Names;
use super::entry_points::{check_redirect_targets, read_entry_points};
use super::file::{digest_files, dynamic_files, read_file_provider};
use super::frontends::read_all_frontends;
use super::globals::{
    read_backend_tls, read_default_entry_points, read_forwarding_timeouts, read_globals,
    read_grace_timeout, read_log, read_responding_timeouts,
};
use super::status::{read_api, read_metrics, read_ping, EntryPoints};
use super::unsupported::{warn_unsupported, GLOBAL_IGNORED, GLOBAL_UNSUPPORTED};

/// Read and validate the config file at `path`.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::one(Diagnostic::bare(format!(
            "{}: cannot read: {e}",
            path.display()
        )))
    })?;
    load_str(path, &text)
}

/// Parse and validate `text` as if read from `path` (used in errors), with
/// the files of its `[file]` provider (`filename` or `directory`), whose
/// frontends and backends are merged into the main file's.
pub fn load_str(path: &Path, text: &str) -> Result<Config, ConfigError> {
    load_with_kv(path, text, None)
}

/// The keys of a key-value store's prefix, as fetched for one load; they
/// are read like one more provider file (`Tree::from_kv`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvKeys {
    /// Names the store in messages (`etcd`).
    pub label: String,
    /// Where the keys are: the configured prefix, or the one its `alias`
    /// key names (1.7's atomic switch).
    pub prefix: String,
    /// The configured prefix they were fetched for.
    pub provider: String,
    pub pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// `load_str`, with the frontends, backends and plugins kept in a
/// key-value store (`[etcd]`) merged in as if from one more provider file.
pub fn load_with_kv(path: &Path, text: &str, kv: Option<&KvKeys>) -> Result<Config, ConfigError> {
    let tree = Tree::parse(Arc::from(path), text)?;
    let dialect = super::dialect::detect(&tree);
    let mut errors = Vec::new();
    let mut dynamic = Vec::new();
    let mut texts = Vec::new();
    for file in dynamic_files(&tree, path, dialect, &mut errors) {
        let parsed = std::fs::read_to_string(&file)
            .map_err(|e| {
                ConfigError::one(Diagnostic::bare(format!(
                    "{}: cannot read: {e}",
                    file.display()
                )))
            })
            .and_then(|text| {
                let t = Tree::parse(Arc::from(file.as_path()), &text);
                texts.push(text);
                t
            });
        match parsed {
            Ok(t) => dynamic.push(t),
            Err(e) => errors.extend(e.errors),
        }
    }
    let mut dialects = vec![(path.to_path_buf(), dialect)];
    for t in &dynamic {
        let other = super::dialect::detect(t);
        if other != dialect {
            errors.push(Diagnostic::bare(format!(
                "{}: written for {}, but the main file {} is written for {}: \
                 the files of one configuration share a dialect",
                t.file().display(),
                other.describe(),
                path.display(),
                dialect.describe()
            )));
        }
        dialects.push((t.file().to_path_buf(), other));
    }
    let files = dynamic.len();
    // The store's layout is the dialect of the file that names it (1.7's
    // `[etcd]` or 2/3's `providers.etcd`), so it is not detected.
    if let Some(kv) = kv {
        let label: &Path = Path::new(&kv.label);
        dynamic.push(Tree::from_kv(Arc::from(label), &kv.prefix, &kv.pairs));
    }
    let mut config = match dialect {
        Dialect::Traefik1 => read_config(&tree, &dynamic, path),
        Dialect::Traefik3 => super::traefik3::read_config(&tree, &dynamic, path),
    };
    config.dialects = dialects;
    config.dynamic_files = dynamic[..files]
        .iter()
        .map(|t| t.file().to_path_buf())
        .collect();
    config.source_digest = digest_files(
        std::iter::once((path, Some(text.as_bytes()))).chain(
            config
                .dynamic_files
                .iter()
                .zip(&texts)
                .map(|(p, t)| (p.as_path(), Some(t.as_bytes()))),
        ),
    );
    let mut warnings = Vec::new();
    for t in std::iter::once(tree).chain(dynamic) {
        let findings = t.finish();
        errors.extend(findings.errors);
        warnings.extend(findings.warnings);
    }
    if errors.is_empty() {
        Ok(Config { warnings, ..config })
    } else {
        Err(ConfigError { errors })
    }
}

fn read_config(tree: &Tree, dynamic: &[Tree], path: &Path) -> Config {
    let root = tree.root();
    for key in GLOBAL_IGNORED {
        let _ = root.get(key);
    }
    warn_unsupported(&root, GLOBAL_UNSUPPORTED);
    let globals = read_globals(&root);
    let (mut entry_points, mut entry_point_names) = read_entry_points(&root, path);
    let user_entry_points: Vec<String> = entry_point_names.iter().cloned().collect();
    let mut eps = EntryPoints {
        all: &mut entry_points,
        names: &mut entry_point_names,
    };
    let ping = read_ping(&root, &mut eps);
    let api = read_api(&root, &mut eps);
    let metrics = read_metrics(&root, &mut eps);
    let (backends, backend_names) = read_all_backends(&root, dynamic, &globals);
    let plugins = super::middleware::read_all_plugins(&root, dynamic, path);
    let names = Names {
        entry_points: entry_point_names,
        backends: backend_names,
        plugins: plugins.keys().cloned().collect(),
    };
    check_redirect_targets(tree, &entry_points, &names);
    let mut default_entry_points = read_default_entry_points(&root, &names);
    if default_entry_points.is_empty() && user_entry_points.len() != names.entry_points.len() {
        // "All entry points" must not include the internal one made for
        // [ping], [api] or [metrics]: in 1.7 it serves Traefik's own
        // handlers, not frontends.
        default_entry_points = user_entry_points;
    }
    let acme = super::acme::read_acme(&root, path, &entry_points);
    let tunnels = super::tunnels::read_tunnels(&root, &entry_points, path);
    super::tunnels::check_tunnel_backends(tree, &backends, tunnels.as_ref());
    let etcd = super::etcd::read_etcd(&root, path);
    super::tunnels::check_tunnel_cluster(tree, tunnels.as_ref(), etcd.is_some());
    let frontends = read_all_frontends(&root, dynamic, &names);
    super::targets::check_frontend_vars(tree, &frontends, &backends);
    Config {
        source: path.to_path_buf(),
        default_entry_points,
        entry_points,
        frontends,
        backends,
        log: read_log(&root),
        access_log: super::access_log::read_access_log(&root),
        responding_timeouts: read_responding_timeouts(&root),
        forwarding_timeouts: read_forwarding_timeouts(&root),
        grace_timeout: read_grace_timeout(&root),
        backend_tls: read_backend_tls(&root, path),
        ping,
        api,
        metrics,
        plugins,
        acme,
        tunnels,
        file: root.section("file").map(|n| read_file_provider(&n)),
        etcd,
        dynamic_files: Vec::new(),
        dialects: Vec::new(),
        source_digest: 0,
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::load_file;

    #[test]
    fn load_file_reads_the_seed_from_disk() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config/testdata/seed_zumi.toml");
        let err = load_file(&path).expect_err("placeholder address refused");
        assert_eq!(err.errors.len(), 1);
        let missing = load_file(Path::new("/nonexistent/tollgate.toml")).expect_err("no file");
        assert!(missing
            .to_string()
            .starts_with("/nonexistent/tollgate.toml: cannot read: "));
    }
}
