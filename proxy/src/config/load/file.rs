//! `[file]`: the provider whose `filename` or `directory` adds frontends and
//! backends from more files. Also which files make up a config, and their
//! digest: the watcher lists and digests them the same way to tell that the
//! running config is stale.

use std::path::{Path, PathBuf};

use crate::config::diagnostic::Diagnostic;
use crate::config::model::{Dialect, FileProvider};
use crate::config::tree::{Node, Tree};

use super::values::optional_path;

/// The files named by `[file] filename` or `[file] directory` (its `*.toml`
/// files, in name order), relative to the main file's folder. Reading the
/// section here does not mark it read; `read_config` reads it again.
pub(super) fn dynamic_files(
    tree: &Tree,
    path: &Path,
    dialect: Dialect,
    errors: &mut Vec<Diagnostic>,
) -> Vec<PathBuf> {
    let root = tree.root();
    let section = match dialect {
        Dialect::Traefik1 => root.section("file"),
        Dialect::Traefik3 => root.peek("providers").and_then(|p| p.peek("file")),
    };
    let Some(section) = section else {
        return Vec::new();
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let mut files = Vec::new();
    if let Some(file) = section.get("filename").and_then(|n| optional_path(&n)) {
        files.extend(provider_file(path, &file));
    }
    if let Some(node) = section.get("directory") {
        if let Some(dir) = optional_path(&node) {
            let dir = base.join(dir);
            match directory_files(&dir, path) {
                Ok(found) => files.extend(found),
                Err(e) => errors.push(Diagnostic::at(
                    node.location(),
                    format!("cannot read directory {}: {e}", dir.display()),
                )),
            }
        }
    }
    files
}

/// `[file] filename` resolved against the main file's folder; None when it
/// is the main file itself, which a provider adds nothing to. The watcher
/// resolves it the same way.
pub fn provider_file(main: &Path, filename: &Path) -> Option<PathBuf> {
    let file = main.parent().unwrap_or(Path::new("")).join(filename);
    (!same_file(&file, main)).then_some(file)
}

/// The config files of a provider directory: its `*.toml`, `*.yml` and
/// `*.yaml` files in name order, less the main file. The watcher lists it
/// the same way, so that what it sees on disk compares with what the
/// loader read.
pub fn directory_files(dir: &Path, main: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_config_file(p))
        .filter(|p| !same_file(p, main))
        .collect();
    found.sort();
    Ok(found)
}

/// A file a provider directory's listing includes: TOML or YAML.
pub fn is_config_file(path: &Path) -> bool {
    path.extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| matches!(x, "toml" | "yml" | "yaml"))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

pub(super) fn read_file_provider(node: &Node<'_>) -> FileProvider {
    FileProvider {
        // 1.7's default once a [file] section exists.
        watch: node.get("watch").and_then(|n| n.bool()).unwrap_or(true),
        // Both were read (and resolved) by `dynamic_files`; keep them as written.
        filename: node.get("filename").and_then(|n| optional_path(&n)),
        directory: node.get("directory").and_then(|n| optional_path(&n)),
    }
}

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
