//! Hot reload (issue 4): a changed config file, provider directory or a
//! SIGHUP applies the new config without failing a request; a bad edit is
//! refused, located in the log, and the running config stays.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::harness::*;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// The main file is its own `[file]` provider, watched.
const WATCH: &str = "[file]\nwatch = true\n\n";

/// The bound: a change is served within a second of its write.
const OBSERVE: Duration = Duration::from_secs(1);

/// Deadline for "the change was noticed at all" (the watcher's event path;
/// its poll fallback runs every 3 s).
const DETECT: Duration = Duration::from_secs(2);

const RELOADED: &str = "configuration reloaded";
const REFUSED: &str = "configuration refused, still serving the previous one";

/// Which backend answered GET `url` (its `x-backend-id`), or what went wrong.
async fn served_by(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("request error: {e:?}"))?;
    let status = resp.status();
    let id = resp
        .headers()
        .get("x-backend-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("body error: {e:?}"))?;
    match (status, id) {
        (StatusCode::OK, Some(id)) => Ok(id),
        _ => Err(format!("{status}: {:?}", String::from_utf8_lossy(&body))),
    }
}

/// Polls GET `url` until backend `id` answers; returns how long that took.
async fn wait_served_by(
    client: &reqwest::Client,
    url: &str,
    id: &str,
    timeout: Duration,
    what: &str,
) -> Duration {
    let start = Instant::now();
    loop {
        let got = served_by(client, url).await;
        if got.as_deref() == Ok(id) {
            return start.elapsed();
        }
        if start.elapsed() >= timeout {
            panic!("{what}: {url} not served by {id:?} within {timeout:?} (last answer: {got:?})");
        }
        tokio::time::sleep(ms(5)).await;
    }
}

/// GET `url` `n` times; every answer must come from backend `id`.
async fn assert_served_by(client: &reqwest::Client, url: &str, id: &str, n: usize, what: &str) {
    for i in 0..n {
        let got = served_by(client, url).await;
        assert_eq!(got.as_deref(), Ok(id), "{what}: request {i} to {url}");
    }
}

/// Readiness check for the watcher: it starts after the entrypoints are
/// announced, and a save made before it took its first fingerprint is lost
/// (see `a_save_right_after_startup_is_applied`). Appends a comment to the
/// config until a reload is logged; returns the number of reloads logged.
async fn wait_watching(tg: &mut Tollgate) -> usize {
    // The real file: a symlinked config (ConfigMap) stays a symlink.
    let path = std::fs::canonicalize(tg.config_path()).expect("config path");
    let before = tg.count_logs(RELOADED);
    let deadline = Instant::now() + secs(10);
    for probe in 1.. {
        let text = std::fs::read_to_string(&path).expect("read config");
        write_via_rename(&path, &format!("{text}# watcher probe {probe}\n"));
        let round = Instant::now() + ms(500);
        while Instant::now() < round {
            if tg.count_logs(RELOADED) > before {
                return tg.count_logs(RELOADED);
            }
            tokio::time::sleep(ms(10)).await;
        }
        assert!(
            Instant::now() < deadline,
            "the watcher never applied a change; log:\n{}",
            tg.logs_text()
        );
        tg.assert_running();
    }
    unreachable!()
}

/// Editor-style save (vim, `sed -i`): write a temporary file next to `path`,
/// then rename it over `path`.
fn write_via_rename(path: &Path, text: &str) {
    let name = path.file_name().unwrap().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).expect("write temp file");
    std::fs::rename(&tmp, path).expect("rename over the config");
}

/// Frontend `app` (`PathPrefix:/`) on backend `target`, backends `a` and `b`.
fn two_backends(a: &str, b: &str, target: &str) -> String {
    http_only()
        + WATCH
        + &frontend("app", target, "PathPrefix:/")
        + &backend("a", a)
        + &backend("b", b)
}

/// Keep-alive clients, each looping GET `url` (with its own connection)
/// until stopped; counts answers from `allowed` backends and records
/// anything else as a failure.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    per_backend: Arc<Mutex<std::collections::BTreeMap<String, u64>>>,
    failures: Arc<Mutex<Vec<String>>>,
    tasks: Vec<JoinHandle<u64>>,
}

impl Load {
    fn start(
        url: String,
        clients: usize,
        allowed: &'static [&'static str],
        pause: Duration,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let per_backend = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let tasks = (0..clients)
            .map(|c| {
                let (stop, ok, per, failures, url) = (
                    stop.clone(),
                    ok.clone(),
                    per_backend.clone(),
                    failures.clone(),
                    url.clone(),
                );
                tokio::spawn(async move {
                    let client = http1();
                    let mut mine = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        match served_by(&client, &url).await {
                            Ok(id) if allowed.contains(&id.as_str()) => {
                                mine += 1;
                                ok.fetch_add(1, Ordering::Relaxed);
                                *per.lock().unwrap().entry(id).or_insert(0) += 1;
                            }
                            Ok(id) => failures
                                .lock()
                                .unwrap()
                                .push(format!("client {c}: answered by unexpected backend {id:?}")),
                            Err(e) => failures.lock().unwrap().push(format!("client {c}: {e}")),
                        }
                        if !pause.is_zero() {
                            tokio::time::sleep(pause).await;
                        }
                    }
                    mine
                })
            })
            .collect();
        Load {
            stop,
            ok,
            per_backend,
            failures,
            tasks,
        }
    }

    fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Stops the clients; returns the successful requests of each.
    async fn stop(
        self,
    ) -> (
        Vec<u64>,
        Vec<String>,
        std::collections::BTreeMap<String, u64>,
    ) {
        self.stop.store(true, Ordering::SeqCst);
        let mut per_client = Vec::new();
        for t in self.tasks {
            per_client.push(
                within(secs(15), "load client stops", t)
                    .await
                    .expect("load client panicked"),
            );
        }
        let failures = self.failures.lock().unwrap().clone();
        let per_backend = self.per_backend.lock().unwrap().clone();
        (per_client, failures, per_backend)
    }
}

/// Issue 4's main test: 100 changes moving the route between two backends
/// under 16 keep-alive clients; no request fails and every change is served
/// within a second of its write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_changes_under_load_fail_no_request_and_each_is_served_within_1s() {
    const CHANGES: usize = 100;
    const CLIENTS: usize = 16;
    let a = echo("a").await;
    let b = echo("b").await;
    let config = |target: &str, n: usize| {
        format!("# change {n}\n") + &two_backends(&a.url(), &b.url(), target)
    };
    let mut tg = Tollgate::start(&config("a", 0), &["http"]).await;
    wait_watching(&mut tg).await;
    let url = tg.url("http", "/storm");
    let path = tg.config_path().to_path_buf();
    let probe = http1();
    assert_served_by(&probe, &url, "a", 3, "before the storm").await;

    // A short pause per request keeps 16 clients from saturating two cores
    // shared with the proxy, the backends and the watcher.
    let load = Load::start(url.clone(), CLIENTS, &["a", "b"], ms(1));
    let started = Instant::now();
    within(secs(10), "load gets going", async {
        while load.ok() < 200 {
            tokio::time::sleep(ms(10)).await;
        }
    })
    .await;

    let mut delays = Vec::with_capacity(CHANGES);
    for n in 1..=CHANGES {
        let target = if n % 2 == 1 { "b" } else { "a" };
        let text = config(target, n);
        // Half the saves in place, half the way editors do it.
        if n % 2 == 0 {
            std::fs::write(&path, &text).expect("write config");
        } else {
            write_via_rename(&path, &text);
        }
        let what = format!("change {n} (route to {target})");
        delays.push(wait_served_by(&probe, &url, target, secs(5), &what).await);
    }
    let storm = started.elapsed();
    let requests_before_stop = load.ok();
    let (per_client, failures, per_backend) = load.stop().await;
    tg.assert_running();

    let mut sorted = delays.clone();
    sorted.sort();
    let max = *sorted.last().unwrap();
    let total: u64 = per_client.iter().sum();
    eprintln!(
        "reload storm: {CHANGES} changes in {storm:?}; observed after p50 {:?}, p90 {:?}, max {max:?}; \
         {total} requests from {CLIENTS} clients ({:.0}/s), per client min {} max {}, by backend {per_backend:?}, {} failed; \
         {} reloads logged, {} refused",
        sorted[CHANGES / 2],
        sorted[CHANGES * 9 / 10],
        requests_before_stop as f64 / storm.as_secs_f64(),
        per_client.iter().min().unwrap(),
        per_client.iter().max().unwrap(),
        failures.len(),
        tg.count_logs(RELOADED),
        tg.count_logs(REFUSED),
    );
    assert!(
        failures.is_empty(),
        "{} requests failed during the reloads; first ones: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    assert!(
        per_client.iter().all(|&n| n >= 10),
        "every client kept sending requests during the storm: {per_client:?}"
    );
    assert!(
        per_backend.len() == 2,
        "the load saw both backends: {per_backend:?}"
    );
    // The only refusal allowed: the watcher read a file an in-place save
    // had just truncated (the next event applies the save).
    assert_eq!(
        tg.count_logs(REFUSED),
        tg.count_logs("the file is empty"),
        "a reload was refused; log:\n{}",
        tg.logs_text()
    );
    let slow: Vec<(usize, Duration)> = delays
        .iter()
        .enumerate()
        .filter(|(_, d)| **d >= OBSERVE)
        .map(|(i, d)| (i + 1, *d))
        .collect();
    assert!(
        slow.is_empty(),
        "changes served later than {OBSERVE:?} after their write (change, delay): {slow:?}"
    );
}

/// A syntax error and an unknown matcher are refused with file, line and
/// key in the log; the last good config keeps serving; a good edit after
/// them applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_edit_is_refused_with_its_location_and_the_last_good_config_keeps_serving() {
    let a = echo("a").await;
    let b = echo("b").await;
    let good = |target: &str| two_backends(&a.url(), &b.url(), target);
    let mut tg = Tollgate::start(&good("a"), &["http"]).await;
    let reloads = wait_watching(&mut tg).await;
    let path = tg.config_path().to_path_buf();
    let file = path.display().to_string();
    let url = tg.url("http", "/x");
    let client = http1();
    assert_served_by(&client, &url, "a", 2, "initial config").await;

    // 1. A rule with a typo (and the route moved to b: a half-applied
    // config would show).
    let bad_rule = good("b").replace("PathPrefix:/", "PathPrefx:/");
    let line = bad_rule
        .lines()
        .position(|l| l.contains("PathPrefx"))
        .unwrap()
        + 1;
    write_via_rename(&path, &bad_rule);
    tg.wait_for_log_count(REFUSED, 1, secs(5)).await;
    let located = format!("{file}:{line}:");
    let error = tg.wait_for_log(&located, secs(2)).await;
    assert!(
        error.contains("frontends.app.routes.r1.rule") && error.contains("PathPrefx"),
        "the error names file, line and key: {error:?}"
    );
    assert_served_by(&client, &url, "a", 5, "after the refused rule").await;

    // 2. A TOML syntax error (unterminated string).
    let broken = good("b").replacen(
        &format!("url = \"{}\"", b.url()),
        "url = \"http://127.0.0.1",
        1,
    );
    assert_ne!(broken, good("b"));
    let line = broken
        .lines()
        .position(|l| l.ends_with("url = \"http://127.0.0.1"))
        .unwrap()
        + 1;
    write_via_rename(&path, &broken);
    tg.wait_for_log_count(REFUSED, 2, secs(5)).await;
    let error = tg.wait_for_log(&format!("{file}:{line}:"), secs(2)).await;
    eprintln!("syntax error as logged: {error}");
    assert_served_by(&client, &url, "a", 5, "after the syntax error").await;
    assert_eq!(tg.count_logs(RELOADED), reloads, "nothing was applied");

    // 3. Fixed: applied.
    write_via_rename(&path, &good("b"));
    let took = wait_served_by(
        &client,
        &url,
        "b",
        DETECT,
        "the good edit after the bad ones",
    )
    .await;
    tg.wait_for_log_count(RELOADED, reloads + 1, secs(2)).await;
    eprintln!("good edit after bad ones served after {took:?}");
    assert_eq!(tg.count_logs(REFUSED), 2);
    tg.assert_running();
}

/// Saves the way editors do (temp file + rename) are seen; swap files, a
/// rewrite with the same content and `touch` are not reloads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editor_rename_is_detected_and_unchanged_content_does_not_reload() {
    let a = echo("a").await;
    let b = echo("b").await;
    let good = |target: &str| two_backends(&a.url(), &b.url(), target);
    let mut tg = Tollgate::start(&good("a"), &["http"]).await;
    let reloads = wait_watching(&mut tg).await;
    let path = tg.config_path().to_path_buf();
    let url = tg.url("http", "/x");
    let client = http1();
    assert_served_by(&client, &url, "a", 1, "initial config").await;

    write_via_rename(&path, &good("b"));
    let took = wait_served_by(&client, &url, "b", DETECT, "rename over the config").await;
    eprintln!("rename served after {took:?}");
    tg.wait_for_log_count(RELOADED, reloads + 1, secs(2)).await;

    // Editor noise and saves without a change of content.
    let swap = tg.dir().join(".traefik.toml.swp");
    replace_file(&swap, "vim swap");
    replace_file(tg.dir().join("4913"), "");
    replace_file(&path, good("b"));
    write_via_rename(&path, &good("b"));
    std::fs::remove_file(&swap).unwrap();
    std::fs::remove_file(tg.dir().join("4913")).unwrap();
    // A negative: give the watcher several quiet periods to (wrongly) act.
    tokio::time::sleep(ms(800)).await;
    assert_eq!(
        tg.count_logs(RELOADED),
        reloads + 1,
        "a save without a change of content reloaded; log:\n{}",
        tg.logs_text()
    );

    // And the watcher still follows real changes.
    write_via_rename(&path, &good("a"));
    wait_served_by(&client, &url, "a", DETECT, "second rename").await;
    tg.wait_for_log_count(RELOADED, reloads + 2, secs(2)).await;
    tg.assert_running();
}

/// Delete-and-recreate, at once and with a pause in between (the config is
/// missing for a while: refused, the running config stays).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_and_recreate_is_detected() {
    let a = echo("a").await;
    let b = echo("b").await;
    let good = |target: &str| two_backends(&a.url(), &b.url(), target);
    let mut tg = Tollgate::start(&good("a"), &["http"]).await;
    wait_watching(&mut tg).await;
    let path = tg.config_path().to_path_buf();
    let url = tg.url("http", "/x");
    let client = http1();
    assert_served_by(&client, &url, "a", 1, "initial config").await;

    std::fs::remove_file(&path).unwrap();
    replace_file(&path, good("b"));
    let took = wait_served_by(&client, &url, "b", DETECT, "delete + recreate").await;
    eprintln!("delete + recreate served after {took:?}");

    let refused = tg.count_logs(REFUSED);
    std::fs::remove_file(&path).unwrap();
    tg.wait_for_log_count(REFUSED, refused + 1, DETECT).await;
    assert!(
        tg.logs_text().contains("cannot read"),
        "the refusal says the file cannot be read"
    );
    assert_served_by(&client, &url, "b", 3, "while the config file is missing").await;
    replace_file(&path, good("a"));
    wait_served_by(&client, &url, "a", DETECT, "recreated after a pause").await;
    tg.assert_running();
}

/// Kubernetes mounts a ConfigMap as `config -> ..data/config`,
/// `..data -> ..TIMESTAMP/`, and updates it by writing a new timestamped
/// directory and renaming a new `..data` symlink over the old one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_symlink_swap_is_detected() {
    use std::os::unix::fs::symlink;

    let a = echo("a").await;
    let b = echo("b").await;
    let good = |target: &str| two_backends(&a.url(), &b.url(), target);
    let dir = TempDir::new("configmap");
    let first = "..2026_11_23_10_00_00.000000001";
    std::fs::create_dir(dir.path().join(first)).unwrap();
    symlink(first, dir.path().join("..data")).unwrap();
    symlink("..data/traefik.toml", dir.path().join("traefik.toml")).unwrap();
    // The harness writes traefik.toml: through both links, into `first`.
    let mut tg = Tollgate::start_in(dir, &good("a"), &["http"]).await;
    wait_watching(&mut tg).await;
    let root = tg.dir().to_path_buf();
    assert!(root.join(first).join("traefik.toml").is_file());
    assert!(std::fs::symlink_metadata(tg.config_path())
        .unwrap()
        .file_type()
        .is_symlink());
    let url = tg.url("http", "/x");
    let client = http1();
    assert_served_by(&client, &url, "a", 1, "initial config").await;

    let swap = |old: &str, new: &str, text: &str| {
        std::fs::create_dir(root.join(new)).unwrap();
        replace_file(root.join(new).join("traefik.toml"), text);
        symlink(new, root.join("..data_tmp")).unwrap();
        std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
        std::fs::remove_dir_all(root.join(old)).unwrap();
    };
    let second = "..2026_11_23_10_05_00.000000002";
    swap(first, second, &good("b"));
    let took = wait_served_by(&client, &url, "b", DETECT, "first ConfigMap update").await;
    eprintln!("symlink swap served after {took:?}");

    // The real directory changed: the next swap is seen too.
    let third = "..2026_11_23_10_10_00.000000003";
    swap(second, third, &good("a"));
    wait_served_by(&client, &url, "a", DETECT, "second ConfigMap update").await;
    assert_eq!(tg.count_logs(REFUSED), 0);
    tg.assert_running();
}

/// `[file] directory`: frontends and backends split across files are
/// merged; a new file adds its route; an edited file applies; a name
/// defined twice is refused naming both files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_directory_is_merged_watched_and_duplicates_refused() {
    let a = echo("a").await;
    let b = echo("b").await;
    let dir = TempDir::new("confd");
    dir.write(
        "conf.d/10-frontends.toml",
        frontend("app", "one", "PathPrefix:/app"),
    );
    dir.write(
        "conf.d/20-backends.toml",
        backend("one", &a.url()) + &backend("two", &b.url()),
    );
    dir.write("conf.d/README.txt", "not config: ignored");
    let main = http_only() + "[file]\ndirectory = \"conf.d\"\nwatch = true\n";
    let mut tg = Tollgate::start_in(dir, &main, &["http"]).await;
    wait_watching(&mut tg).await;
    let confd = tg.dir().join("conf.d");
    let client = http1();
    let app = tg.url("http", "/app");
    let new = tg.url("http", "/new");
    assert_served_by(&client, &app, "a", 1, "merged from two files").await;
    assert_eq!(status_of(&client, &new).await, StatusCode::NOT_FOUND);

    // A new file adds its route.
    replace_file(
        confd.join("30-new.toml"),
        frontend("new", "two", "PathPrefix:/new"),
    );
    let took = wait_served_by(&client, &new, "b", DETECT, "file added to conf.d").await;
    eprintln!("new file in conf.d served after {took:?}");
    assert_served_by(&client, &app, "a", 1, "after the new file").await;

    // An edited file applies.
    write_via_rename(
        &confd.join("20-backends.toml"),
        &(backend("one", &b.url()) + &backend("two", &b.url())),
    );
    wait_served_by(&client, &app, "b", DETECT, "file edited in conf.d").await;

    // The same frontend in a second file: refused, both files named.
    let reloads = tg.count_logs(RELOADED);
    replace_file(
        confd.join("40-dup.toml"),
        frontend("app", "one", "PathPrefix:/dup"),
    );
    tg.wait_for_log_count(REFUSED, 1, DETECT).await;
    let error = tg
        .wait_for_log("frontend \"app\" is also defined", secs(2))
        .await;
    assert!(
        error.contains("40-dup.toml") && error.contains("10-frontends.toml"),
        "the duplicate error names both files: {error:?}"
    );
    assert_served_by(&client, &app, "b", 3, "after the refused duplicate").await;
    assert_eq!(
        status_of(&client, &tg.url("http", "/dup")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(tg.count_logs(RELOADED), reloads);

    // Removing the duplicate applies again.
    std::fs::remove_file(confd.join("40-dup.toml")).unwrap();
    tg.wait_for_log_count(RELOADED, reloads + 1, DETECT).await;
    assert_served_by(&client, &new, "b", 1, "after removing the duplicate").await;
    tg.assert_running();
}

/// `[file] filename`: the named file's frontends and backends are merged,
/// and it is watched like the main file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_file_is_merged_and_watched() {
    let a = echo("a").await;
    let b = echo("b").await;
    let dir = TempDir::new("provider-file");
    let rules = |target: &str| frontend("app", target, "PathPrefix:/");
    dir.write("rules.toml", rules("one"));
    let main = http_only()
        + "[file]\nfilename = \"rules.toml\"\n\n"
        + &backend("one", &a.url())
        + &backend("two", &b.url());
    let mut tg = Tollgate::start_in(dir, &main, &["http"]).await;
    wait_watching(&mut tg).await;
    let client = http1();
    let url = tg.url("http", "/x");
    assert_served_by(&client, &url, "a", 1, "frontend from rules.toml").await;
    write_via_rename(&tg.dir().join("rules.toml"), &rules("two"));
    wait_served_by(&client, &url, "b", DETECT, "rules.toml edited").await;
}

/// `[entryPoints]` with the given `(name, address)`; the first is the
/// default; frontend `app` (→ `a`) and `slow` (→ `slow`) on all of them.
fn entrypoint_config(eps: &[(&str, String)], a: &str, slow: &str) -> String {
    let names: Vec<&str> = eps.iter().map(|(n, _)| *n).collect();
    let mut s = format!(
        "logLevel = \"INFO\"\ndefaultEntryPoints = [\"{}\"]\n\n[entryPoints]\n",
        names[0]
    );
    for (n, addr) in eps {
        s += &format!("  [entryPoints.{n}]\n  address = \"{addr}\"\n");
    }
    let on_all = format!("entryPoints = {names:?}");
    s + "\n"
        + WATCH
        + &frontend_with("app", "a", "PathPrefix:/app", &on_all)
        + &frontend_with("slow", "slow", "PathPrefix:/slow", &on_all)
        + &backend("a", a)
        + &backend("slow", slow)
}

async fn assert_refused(addr: std::net::SocketAddr, what: &str) {
    eventually(DETECT, what, || async move {
        match TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(()),
            _ => None,
        }
    })
    .await
}

/// Entrypoints added, moved and removed at runtime: listeners start and
/// stop; a removed one drains the request it was serving; the others keep
/// serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entrypoints_added_moved_and_removed_at_runtime() {
    let a = echo("a").await;
    let mut slow = SlowBackend::start("slow", ms(1500)).await;
    let slow_url = slow.url();
    let any = || "127.0.0.1:0".to_string();
    let cfg = |eps: &[(&str, String)]| entrypoint_config(eps, &a.url(), &slow_url);
    let mut tg = Tollgate::start(
        &cfg(&[("http", any()), ("extra", any())]),
        &["http", "extra"],
    )
    .await;
    wait_watching(&mut tg).await;
    let path = tg.config_path().to_path_buf();
    let client = http1();
    assert_served_by(&client, &tg.url("extra", "/app"), "a", 1, "extra at start").await;

    // Added.
    replace_file(
        &path,
        cfg(&[("http", any()), ("extra", any()), ("added", any())]),
    );
    let added = tg.wait_for_entrypoint("added", DETECT).await;
    eprintln!("entrypoint added, listening on {added}");
    assert_served_by(
        &client,
        &tg.url("added", "/app"),
        "a",
        2,
        "added entrypoint",
    )
    .await;

    // Moved to another address: the new one listens, the old one is closed.
    let port = closed_port();
    replace_file(
        &path,
        cfg(&[
            ("http", any()),
            ("extra", any()),
            ("added", format!("127.0.0.1:{port}")),
        ]),
    );
    let moved = tg.wait_for_entrypoint("added", DETECT).await;
    assert_eq!(moved.port(), port);
    assert_refused(
        added,
        "the old address of a moved entrypoint refuses connections",
    )
    .await;
    assert_served_by(
        &client,
        &tg.url("added", "/app"),
        "a",
        2,
        "moved entrypoint",
    )
    .await;

    // Removed while serving a slow request: no new connections, the request
    // finishes.
    let extra = tg.addr("extra");
    let in_flight = {
        let url = tg.url("extra", "/slow/in-flight");
        tokio::spawn(async move { send(http1().get(url)).await })
    };
    slow.wait_started(secs(5)).await;
    replace_file(
        &path,
        cfg(&[("http", any()), ("added", format!("127.0.0.1:{port}"))]),
    );
    tg.wait_for_log("entrypoint stopped accepting", DETECT)
        .await;
    assert_refused(extra, "a removed entrypoint refuses connections").await;
    let (status, body) = within(
        secs(10),
        "in-flight request on the removed entrypoint",
        in_flight,
    )
    .await
    .unwrap();
    assert_eq!(
        status,
        StatusCode::OK,
        "the in-flight request drained: {body}"
    );
    assert_eq!(Echo::parse(&body).server, "slow");

    assert_served_by(
        &client,
        &tg.url("http", "/app"),
        "a",
        2,
        "http after the removal",
    )
    .await;
    assert_served_by(
        &client,
        &tg.url("added", "/app"),
        "a",
        2,
        "added after the removal",
    )
    .await;
    assert_eq!(tg.count_logs(REFUSED), 0);
    tg.assert_running();
}

/// A WebSocket opened before a reload keeps working after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_survives_an_unrelated_reload() {
    let ws_be = WsBackend::start().await;
    let web = echo("web").await;
    let base = http_only()
        + WATCH
        + &frontend("ws", "ws", "PathPrefix:/ws")
        + &backend("ws", &ws_be.url())
        + &backend("web", &web.url());
    let mut tg = Tollgate::start(&base, &["http"]).await;
    let reloads = wait_watching(&mut tg).await;
    let url = format!("ws://{}/ws/channels", tg.addr("http"));
    let (mut ws, _) = within(
        secs(5),
        "websocket handshake",
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("websocket handshake through tollgate");

    type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;
    async fn echo_round(ws: &mut Ws, text: &str) {
        let m = Message::text(text.to_string());
        within(secs(5), "ws send", ws.send(m.clone()))
            .await
            .expect("ws send");
        let back = loop {
            let got = within(secs(5), "ws echo", ws.next())
                .await
                .expect("websocket still open")
                .expect("ws read");
            if got.is_text() || got.is_binary() {
                break got;
            }
        };
        assert_eq!(back, m);
    }
    echo_round(&mut ws, "before the reload").await;

    // Unrelated change: a new frontend.
    replace_file(
        tg.config_path(),
        base + &frontend("web", "web", "PathPrefix:/web"),
    );
    let client = http1();
    wait_served_by(
        &client,
        &tg.url("http", "/web"),
        "web",
        DETECT,
        "new frontend",
    )
    .await;
    tg.wait_for_log_count(RELOADED, reloads + 1, secs(2)).await;

    for i in 0..3 {
        echo_round(&mut ws, &format!("after the reload #{i}")).await;
    }
    within(secs(5), "ws close", ws.close(None))
        .await
        .expect("close");
    tg.assert_running();
}

/// With `[file] watch = false`, a change waits for SIGHUP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_when_watching_is_off() {
    let a = echo("a").await;
    let b = echo("b").await;
    let config = |target: &str| {
        two_backends(&a.url(), &b.url(), target).replace(WATCH, "[file]\nwatch = false\n\n")
    };
    let mut tg = Tollgate::start(&config("a"), &["http"]).await;
    let url = tg.url("http", "/x");
    let client = http1();
    assert_served_by(&client, &url, "a", 1, "initial config").await;

    replace_file(tg.config_path(), config("b"));
    // A negative: longer than a watched change takes to be served.
    tokio::time::sleep(OBSERVE + ms(300)).await;
    assert_served_by(
        &client,
        &url,
        "a",
        3,
        "not watching: the edit waits for SIGHUP",
    )
    .await;
    assert_eq!(tg.count_logs(RELOADED), 0);

    tg.signal("HUP");
    let took = wait_served_by(&client, &url, "b", DETECT, "after SIGHUP").await;
    eprintln!("SIGHUP served after {took:?}");
    let line = tg.wait_for_log_count(RELOADED, 1, secs(2)).await;
    assert!(
        line.contains("SIGHUP"),
        "the log names the trigger: {line:?}"
    );
    tg.assert_running();
}

/// Upstream keep-alive connections survive a reload that does not change
/// forwarding settings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_upstream_connections() {
    let counting = CountingBackend::start("c").await;
    let other = echo("other").await;
    let config = |with_other: bool, dial: &str| {
        let mut s = http_only()
            + WATCH
            + &format!("[forwardingTimeouts]\ndialTimeout = \"{dial}\"\n\n")
            + &frontend("app", "c", "PathPrefix:/app")
            + &backend("c", &counting.url())
            + &backend("other", &other.url());
        if with_other {
            s += &frontend("other", "other", "PathPrefix:/other");
        }
        s
    };
    let mut tg = Tollgate::start(&config(false, "5s"), &["http"]).await;
    let reloads = wait_watching(&mut tg).await;
    let client = http1();
    let app = tg.url("http", "/app");
    // Sequential requests: the proxy pools an upstream connection as soon
    // as the response body has been read, so each finds the previous one's.
    let requests = |n: usize| {
        let (client, app) = (client.clone(), app.clone());
        async move {
            for _ in 0..n {
                assert_eq!(served_by(&client, &app).await.as_deref(), Ok("c"));
            }
        }
    };
    requests(5).await;
    let before = counting.accepted();
    assert!(before >= 1);

    replace_file(tg.config_path(), config(true, "5s"));
    wait_served_by(
        &client,
        &tg.url("http", "/other"),
        "other",
        DETECT,
        "unrelated change",
    )
    .await;
    tg.wait_for_log_count(RELOADED, reloads + 1, secs(2)).await;
    requests(5).await;
    assert_eq!(
        counting.accepted(),
        before,
        "requests after a reload that kept forwarding settings opened new upstream connections"
    );

    // Control: a reload that changes forwarding settings builds a new pool,
    // which the backend sees as a new connection.
    replace_file(tg.config_path(), config(true, "6s"));
    tg.wait_for_log_count(RELOADED, reloads + 2, DETECT).await;
    requests(2).await;
    assert!(
        counting.accepted() > before,
        "control: a new pool opens a new connection ({} accepted)",
        counting.accepted()
    );
    tg.assert_running();
}

/// A save made right after tollgate announced its entrypoints is applied.
/// Fails today: the watcher is started after the announcement and takes its
/// first fingerprint of the files as they are then, so a save in between is
/// taken for the running config and never applied (the 3 s poll compares
/// with that same fingerprint). Measured: lost in 13 of 20 starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_right_after_startup_is_applied() {
    let a = echo("a").await;
    let b = echo("b").await;
    let good = |target: &str| two_backends(&a.url(), &b.url(), target);
    for attempt in 1..=3 {
        let tg = Tollgate::start(&good("a"), &["http"]).await;
        write_via_rename(tg.config_path(), &good("b"));
        let what = format!("start {attempt}: save right after the entrypoints listen");
        // Longer than the watcher's poll fallback: the change is lost, not late.
        wait_served_by(&http1(), &tg.url("http", "/x"), "b", secs(4), &what).await;
    }
}

/// A file written every 20 ms next to the config (a backend's log) must
/// not postpone reloads: an edit is applied within 2 s while it is busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_file_next_to_the_config_does_not_hold_up_reloads() {
    let a = echo("a").await;
    let b = echo("b").await;
    let good = |target: &str| two_backends(&a.url(), &b.url(), target);
    let mut tg = Tollgate::start(&good("a"), &["http"]).await;
    wait_watching(&mut tg).await;
    let log = tg.dir().join("backend.log");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (log, stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::File::create(&log).unwrap();
            while !stop.load(Ordering::Relaxed) {
                writeln!(f, "GET /device 200").unwrap();
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    let url = tg.url("http", "/x");
    let client = http1();
    assert_served_by(&client, &url, "a", 1, "initial config").await;
    // Well into the writes, then an edit.
    tokio::time::sleep(ms(300)).await;
    write_via_rename(tg.config_path(), &good("b"));
    let took = wait_served_by(&client, &url, "b", DETECT, "an edit beside a busy log").await;
    eprintln!("edit beside a busy file served after {took:?}");
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    tg.assert_running();
}

/// A reload (SIGHUP) that adds `[file] watch = true` starts watching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_turns_watching_on_starts_it() {
    let a = echo("a").await;
    let b = echo("b").await;
    let unwatched = |target: &str| two_backends(&a.url(), &b.url(), target).replace(WATCH, "");
    let watched = |target: &str| two_backends(&a.url(), &b.url(), target);
    let mut tg = Tollgate::start(&unwatched("a"), &["http"]).await;
    tg.wait_for_log_count("not watching files", 1, secs(5))
        .await;
    replace_file(tg.config_path(), watched("a"));
    tg.signal("HUP");
    tg.wait_for_log_count(RELOADED, 1, secs(5)).await;
    // At the watcher's next poll (3 s at most) it watches the files.
    tg.wait_for_log_count("watching for changes", 1, secs(5))
        .await;
    let url = tg.url("http", "/x");
    let client = http1();
    write_via_rename(tg.config_path(), &watched("b"));
    wait_served_by(&client, &url, "b", DETECT, "an edit once watching").await;
    tg.assert_running();
}

/// An idle proxy leaves its files alone between polls: taking the
/// fingerprint opens every dependency, and those opens once counted as
/// changes, so the watcher read its files ten times a second for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_watcher_does_not_keep_reading_its_files() {
    use notify::event::{AccessKind, EventKind};
    use notify::Watcher as _;

    let a = echo("a").await;
    let b = echo("b").await;
    let mut tg = Tollgate::start(&two_backends(&a.url(), &b.url(), "a"), &["http"]).await;
    wait_watching(&mut tg).await;
    let name = tg.config_path().file_name().unwrap().to_os_string();
    let opens = Arc::new(AtomicU64::new(0));
    let counter = opens.clone();
    let mut watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        if let Ok(e) = e {
            let config = e.paths.iter().any(|p| p.file_name() == Some(&name));
            if config && matches!(e.kind, EventKind::Access(AccessKind::Open(_))) {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    })
    .expect("inotify");
    watcher
        .watch(tg.dir(), notify::RecursiveMode::NonRecursive)
        .expect("watch the config directory");
    // A negative over a window: the fallback poll (every 3 s) may open the
    // file once in it; the loop opened it about every 100 ms.
    tokio::time::sleep(secs(2)).await;
    let seen = opens.load(Ordering::SeqCst);
    assert!(
        seen <= 1,
        "the config file was opened {seen} times in 2 s of idling"
    );
    tg.assert_running();
}
