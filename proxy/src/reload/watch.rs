//! Noticing configuration changes, for `[file] watch = true`.
//!
//! Editors and tools replace files in many ways: write in place, write a
//! temporary file and rename it over the old one (vim, `sed -i`), delete and
//! recreate, or swap a symlink (Kubernetes ConfigMaps). Watching a file's
//! inode misses most of these, so we watch the *directories* holding every
//! file the config depends on (main file, `[file]` provider files, TLS
//! certificates and keys, CA files, plugin `.wasm` files, htpasswd files) and, after a short quiet period, compare
//! a fingerprint of those files' contents with the last one applied. Only a
//! real change of content triggers a reload; editor swap files and `touch`
//! do not. A slow poll of the same fingerprint backs up the events on
//! filesystems that send none (bind-mounted single files, NFS).
//!
//! Only events about the dependencies count ([`Relevant`]): a log file a
//! backend writes next to the config every few milliseconds must not keep
//! the quiet period from ever ending. The quiet period is capped too
//! ([`SETTLE_CAP`]), so no stream of events postpones a reload longer.
//!
//! The task runs for every config: while the one in force has no
//! `[file] watch = true` it only checks, at each poll, whether a reload
//! (SIGHUP) turned watching on.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::reloader::Reloader;
use crate::config::model::{Config, PemSource};

/// Events closer together than this are one change (an editor's save is
/// often several filesystem operations).
const QUIET_PERIOD: Duration = Duration::from_millis(100);
/// The longest a stream of events may postpone looking at the files.
const SETTLE_CAP: Duration = Duration::from_secs(1);
/// Fallback for filesystems without change events.
const POLL_INTERVAL: Duration = Duration::from_secs(3);

/// The names of files whose events count: the dependencies, their symlink
/// targets, the provider directory's TOML and YAML files, and Kubernetes'
/// `..data` swaps. Matched by name within a watched directory (events may
/// name a path through another spelling of the same directory).
#[derive(Debug, Default)]
struct Relevant {
    names: BTreeSet<std::ffi::OsString>,
    directory: Option<PathBuf>,
}

impl Relevant {
    fn of(deps: &Dependencies) -> Relevant {
        let mut names = BTreeSet::new();
        for f in deps.config_files.iter().chain(&deps.files) {
            names.extend(f.file_name().map(|n| n.to_os_string()));
            if let Ok(real) = f.canonicalize() {
                names.extend(real.file_name().map(|n| n.to_os_string()));
            }
        }
        Relevant {
            names,
            directory: deps.directory.clone(),
        }
    }

    fn matches(&self, path: &Path) -> bool {
        let Some(name) = path.file_name() else {
            return true;
        };
        if self.names.contains(name) || name.to_string_lossy().starts_with("..") {
            return true;
        }
        let in_directory = self.directory.as_ref().is_some_and(|dir| {
            path.parent()
                .is_some_and(|p| p == dir || p.canonicalize().ok() == dir.canonicalize().ok())
        });
        in_directory && crate::config::load::is_config_file(path)
    }
}

/// Whether an event may mean new content. Opening and reading a file do not:
/// counting them made a loop, since taking the fingerprint opens every
/// dependency and so set off the next round (an idle proxy read its files
/// ten times a second). Closing a file written to does count.
fn may_change_content(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode};
    match kind {
        notify::EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        notify::EventKind::Access(_) => false,
        _ => true,
    }
}

/// What is running, taken before the first config is applied: its config
/// files as the loader read them, the other files (certificates, plugins) as
/// they are now. A file changed between this and the watcher's start is
/// then still seen as a change.
pub struct Baseline(u64);

pub fn baseline(config: &Config, main: &Path) -> Baseline {
    let deps = Dependencies::of(config, main);
    Baseline(combine(config.source_digest, others_digest(&deps)))
}

/// Start watching from `baseline`; the task runs until aborted.
pub fn spawn(reloader: Arc<Reloader>, baseline: Baseline) -> JoinHandle<()> {
    tokio::spawn(run(reloader, baseline))
}

async fn run(reloader: Arc<Reloader>, baseline: Baseline) {
    let (tx, mut events) = mpsc::unbounded_channel();
    let relevant = Arc::new(std::sync::Mutex::new(Relevant::default()));
    let filter = relevant.clone();
    let mut watcher = match notify::recommended_watcher(
        move |event: notify::Result<notify::Event>| {
            let counts = match &event {
                // An error may have lost events: look.
                Err(_) => true,
                Ok(e) if !may_change_content(&e.kind) => false,
                Ok(e) => {
                    let relevant = filter.lock().unwrap_or_else(|p| p.into_inner());
                    e.paths.is_empty() || e.paths.iter().any(|p| relevant.matches(p))
                }
            };
            if counts {
                let _ = tx.send(());
            }
        },
    ) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch files for changes; polling every {POLL_INTERVAL:?} instead");
            None
        }
    };
    let mut watched = BTreeSet::new();
    let config = reloader.current_config();
    let mut on = watching(&config);
    let mut files = Dependencies::of(&config, reloader.config_path());
    if on {
        follow(&mut watcher, &mut watched, &files, &relevant);
    } else {
        tracing::info!("not watching files: no [file] watch = true (SIGHUP reloads)");
    }
    let mut applied = baseline.0;
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        tokio::select! {
            Some(()) = events.recv() => {
                // Let the burst of events of one save settle, for at most
                // SETTLE_CAP.
                let cap = tokio::time::Instant::now() + SETTLE_CAP;
                loop {
                    let left = cap.saturating_duration_since(tokio::time::Instant::now());
                    let wait = QUIET_PERIOD.min(left);
                    if wait.is_zero() {
                        break;
                    }
                    match tokio::time::timeout(wait, events.recv()).await {
                        Ok(Some(())) => {}
                        _ => break,
                    }
                }
            }
            _ = poll.tick() => {}
        }
        // A reload (SIGHUP) may have turned watching on or off.
        let config = reloader.current_config();
        if watching(&config) != on {
            on = watching(&config);
            files = Dependencies::of(&config, reloader.config_path());
            if on {
                follow(&mut watcher, &mut watched, &files, &relevant);
                applied = files.fingerprint_with(config.source_digest).await;
            } else {
                follow(
                    &mut watcher,
                    &mut watched,
                    &Dependencies::default(),
                    &relevant,
                );
                tracing::info!("not watching files any more: [file] watch is off");
            }
            continue;
        }
        if !on {
            continue;
        }
        let now = files.fingerprint().await;
        if now == applied {
            continue;
        }
        let reloaded = reloader.reload("file change").await.is_ok();
        // A reload can add or remove files (a new certificate, a provider
        // directory): follow the config now in force.
        let config = reloader.current_config();
        let before = files.clone();
        files = Dependencies::of(&config, reloader.config_path());
        if !watching(&config) {
            // The next round stops watching.
            continue;
        }
        if files != before {
            follow(&mut watcher, &mut watched, &files, &relevant);
        }
        applied = if reloaded {
            // Exactly what the loader read: a save landing during the
            // reload differs and is applied on the next round.
            files.fingerprint_with(config.source_digest).await
        } else {
            // Refused: wait for the next change rather than retrying this one.
            now
        };
    }
}

/// Every file and directory whose content the running config depends on.
#[derive(Debug, Clone, Default, PartialEq)]
struct Dependencies {
    /// The main file and `[file] filename`, in the loader's order.
    config_files: Vec<PathBuf>,
    /// The provider directory, whose TOML and YAML files follow `config_files`. It
    /// is listed afresh for every fingerprint, exactly as the loader lists
    /// it, so a file added while a reload reads the directory is a change
    /// against what that reload applied, not part of it.
    directory: Option<PathBuf>,
    /// Everything else read from disk: certificates, keys, CAs, plugins.
    files: BTreeSet<PathBuf>,
}

impl Dependencies {
    fn of(config: &Config, main: &Path) -> Dependencies {
        let mut d = Dependencies::default();
        d.config_files.push(main.to_path_buf());
        let base = main.parent().unwrap_or(Path::new(""));
        let provider = config.file.as_ref();
        if let Some(file) = provider.and_then(|f| f.filename.as_ref()) {
            d.config_files
                .extend(crate::config::load::provider_file(main, file));
        }
        d.directory = provider
            .and_then(|f| f.directory.as_ref())
            .map(|dir| base.join(dir));
        let mut pem = |src: &PemSource| {
            if let PemSource::File(p) = src {
                d.files.insert(p.clone());
            }
        };
        for ep in config.entry_points.values() {
            if let Some(tls) = &ep.tls {
                for pair in &tls.certificates {
                    pem(&pair.cert);
                    pem(&pair.key);
                }
                for ca in tls.client_ca.iter().flat_map(|c| &c.files) {
                    pem(ca);
                }
            }
        }
        for ca in &config.backend_tls.root_cas {
            pem(ca);
        }
        for plugin in config.plugins.values() {
            d.files.insert(plugin.path.clone());
        }
        for f in config.frontends.values() {
            if let Some(file) = f.basic_auth.as_ref().and_then(|a| a.users_file.as_ref()) {
                d.files.insert(file.clone());
            }
        }
        d
    }

    /// Directories to watch: each file's folder (and its real folder when
    /// the file is a symlink), and the provider directories.
    fn watch_dirs(&self) -> BTreeSet<PathBuf> {
        let mut dirs: BTreeSet<PathBuf> = self.directory.iter().cloned().collect();
        for f in self.config_files.iter().chain(&self.files) {
            if let Some(p) = f.parent() {
                dirs.insert(if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_path_buf()
                });
            }
            if let Some(p) = f
                .canonicalize()
                .ok()
                .and_then(|c| c.parent().map(Path::to_path_buf))
            {
                dirs.insert(p);
            }
        }
        dirs
    }
}

fn watching(config: &Config) -> bool {
    config.file.as_ref().is_some_and(|f| f.watch)
}

/// Watch `deps`' directories, count only their events, and say so.
fn follow(
    watcher: &mut Option<notify::RecommendedWatcher>,
    watched: &mut BTreeSet<PathBuf>,
    deps: &Dependencies,
    relevant: &std::sync::Mutex<Relevant>,
) {
    *relevant.lock().unwrap_or_else(|p| p.into_inner()) = Relevant::of(deps);
    if let Some(w) = watcher.as_mut() {
        rewatch(w, watched, deps);
    }
    if deps.config_files.is_empty() {
        return;
    }
    let files: Vec<String> = deps
        .config_files
        .iter()
        .chain(&deps.files)
        .map(|f| f.display().to_string())
        .collect();
    let directory = deps.directory.as_ref().map(|d| d.display().to_string());
    tracing::info!(?files, ?directory, "watching for changes");
}

fn rewatch(
    watcher: &mut notify::RecommendedWatcher,
    watched: &mut BTreeSet<PathBuf>,
    deps: &Dependencies,
) {
    let wanted = deps.watch_dirs();
    for gone in watched.difference(&wanted) {
        let _ = watcher.unwatch(gone);
    }
    for dir in wanted.difference(watched) {
        if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch directory; changes there are seen by polling");
        }
    }
    *watched = wanted;
}

impl Dependencies {
    /// The fingerprint of everything as it is on disk now.
    async fn fingerprint(&self) -> u64 {
        let deps = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut config_files = deps.config_files.clone();
            if let Some(dir) = &deps.directory {
                let main = &deps.config_files[0];
                config_files
                    .extend(crate::config::load::directory_files(dir, main).unwrap_or_default());
            }
            let contents: Vec<Option<Vec<u8>>> =
                config_files.iter().map(|f| std::fs::read(f).ok()).collect();
            let digest = crate::config::digest_files(
                config_files
                    .iter()
                    .zip(&contents)
                    .map(|(p, c)| (p.as_path(), c.as_deref())),
            );
            combine(digest, others_digest(&deps))
        })
        .await
        .unwrap_or(0)
    }

    /// The fingerprint with the config files' part given (as loaded).
    async fn fingerprint_with(&self, config_digest: u64) -> u64 {
        let deps = self.clone();
        tokio::task::spawn_blocking(move || combine(config_digest, others_digest(&deps)))
            .await
            .unwrap_or(0)
    }
}

fn combine(a: u64, b: u64) -> u64 {
    let mut h = DefaultHasher::new();
    (a, b).hash(&mut h);
    h.finish()
}

/// A hash of the non-config dependencies' content (following symlinks); a
/// missing file hashes differently from an empty one.
fn others_digest(deps: &Dependencies) -> u64 {
    let mut h = DefaultHasher::new();
    for f in &deps.files {
        f.hash(&mut h);
        std::fs::read(f).ok().hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fingerprint_follows_content_not_timestamps() {
        let dir = std::env::temp_dir().join(format!("tollgate-fp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let main = dir.join("main.toml");
        let cert = dir.join("a.pem");
        std::fs::write(&main, "x = 1").unwrap();
        std::fs::write(&cert, "c").unwrap();
        let deps = Dependencies {
            config_files: vec![main.clone()],
            directory: None,
            files: BTreeSet::from([cert.clone()]),
        };
        let first = deps.fingerprint().await;
        let loaded = crate::config::digest_files([(main.as_path(), Some(&b"x = 1"[..]))]);
        assert_eq!(
            deps.fingerprint_with(loaded).await,
            first,
            "loader and watcher agree"
        );
        std::fs::write(&main, "x = 1").unwrap();
        assert_eq!(
            deps.fingerprint().await,
            first,
            "same content, same fingerprint"
        );
        std::fs::write(&main, "x = 2").unwrap();
        assert_ne!(deps.fingerprint().await, first);
        std::fs::write(&main, "x = 1").unwrap();
        std::fs::write(&cert, "renewed").unwrap();
        assert_ne!(
            deps.fingerprint().await,
            first,
            "a certificate change counts"
        );
        std::fs::remove_file(&cert).unwrap();
        assert_ne!(
            deps.fingerprint().await,
            first,
            "a missing file is a change"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A file added to a provider directory after the loader listed it is
    /// a change against what that load applied, never folded into it.
    #[tokio::test]
    async fn directory_file_added_during_a_reload_is_a_change() {
        let dir = std::env::temp_dir().join(format!("tollgate-fp-dir-{}", std::process::id()));
        let confd = dir.join("conf.d");
        std::fs::create_dir_all(&confd).unwrap();
        let main = dir.join("main.toml");
        let first = confd.join("10-a.toml");
        std::fs::write(&main, "m").unwrap();
        std::fs::write(&first, "a").unwrap();
        let deps = Dependencies {
            config_files: vec![main.clone()],
            directory: Some(confd.clone()),
            files: BTreeSet::new(),
        };
        // What a loader that listed only 10-a.toml records.
        let loaded = crate::config::digest_files([
            (main.as_path(), Some(&b"m"[..])),
            (first.as_path(), Some(&b"a"[..])),
        ]);
        let applied = deps.fingerprint_with(loaded).await;
        assert_eq!(
            deps.fingerprint().await,
            applied,
            "loader and watcher agree"
        );
        std::fs::write(confd.join("20-b.toml"), "b").unwrap();
        std::fs::write(confd.join("notes.txt"), "not config").unwrap();
        assert_ne!(deps.fingerprint().await, applied, "the new file is seen");
        std::fs::remove_file(confd.join("20-b.toml")).unwrap();
        assert_eq!(
            deps.fingerprint().await,
            applied,
            "other files are not config"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
