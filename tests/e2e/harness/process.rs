//! Running the real `tollgate` binary: `run` (with a readiness check on its
//! `listening entrypoint=NAME address=ADDR` log lines) and `check`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
/// The device side of a tunnel alone.
pub const AGENT_BIN: &str = env!("CARGO_BIN_EXE_tollgate-agent");

/// How long `tollgate run` may take to report every entrypoint as listening.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A fresh directory under the system temp dir, removed on drop (kept when
/// `TOLLGATE_E2E_KEEP` is set, for post-mortems).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tollgate-e2e-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `rel` (parent folders created) and returns the path.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent dir");
        }
        std::fs::write(&p, contents).expect("write file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // An empty path: handed over by `Tollgate::stop_keeping_dir`.
        if std::env::var_os("TOLLGATE_E2E_KEEP").is_none() && !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Removes ANSI colour sequences (tracing's fmt layer may colour even when
/// stderr is a pipe).
/// Replace a file's contents at once (write a sibling, rename it over), as
/// editors and config tools do. A plain `std::fs::write` truncates first,
/// and a watcher that reads in between sees a half-written config and
/// (rightly) refuses it: tests that count refusals must not race that.
pub fn replace_file(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = path.as_ref();
    let tmp = path.with_extension(format!("tmp{}", N.fetch_add(1, Ordering::SeqCst)));
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// `listening entrypoint=NAME address=127.0.0.1:PORT` → (NAME, addr).
fn parse_listening(line: &str) -> Option<(String, SocketAddr)> {
    if !line.contains("listening") {
        return None;
    }
    let clean = |v: &str| {
        v.trim_matches(|c| c == '"' || c == '\'' || c == ',')
            .to_string()
    };
    let mut name = None;
    let mut addr = None;
    for tok in line.split_whitespace() {
        if let Some(v) = tok.strip_prefix("entrypoint=") {
            name = Some(clean(v));
        } else if let Some(v) = tok.strip_prefix("address=") {
            addr = clean(v).parse::<SocketAddr>().ok();
        }
    }
    Some((name?, addr?))
}

/// Collects a child's output lines: kept in `lines` and sent on `tx`.
#[derive(Clone)]
struct LogSink {
    lines: Arc<Mutex<Vec<String>>>,
    tx: mpsc::UnboundedSender<String>,
}

impl LogSink {
    fn push(&self, tag: &str, pid: u32, raw: &str) {
        let line = strip_ansi(raw);
        // Forwarded to the test's output (shown when the test fails).
        eprintln!("[tollgate {pid} {tag}] {line}");
        self.lines.lock().unwrap().push(line.clone());
        let _ = self.tx.send(line);
    }

    /// Tails a log file the process may write (e.g. Traefik's
    /// `[traefikLog] filePath`), until `stop` is set.
    fn follow_file(self, path: PathBuf, pid: u32, stop: Arc<AtomicBool>) {
        std::thread::spawn(move || {
            let mut offset = 0usize;
            let mut pending = String::new();
            while !stop.load(Ordering::SeqCst) {
                if let Ok(data) = std::fs::read(&path) {
                    if data.len() > offset {
                        pending.push_str(&String::from_utf8_lossy(&data[offset..]));
                        offset = data.len();
                        while let Some(i) = pending.find('\n') {
                            let line: String = pending.drain(..=i).collect();
                            self.push("logfile", pid, line.trim_end_matches(['\r', '\n']));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
    }

    fn follow(self, tag: &'static str, pid: u32, reader: impl Read + Send + 'static) {
        std::thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let s = String::from_utf8_lossy(&buf);
                        self.push(tag, pid, s.trim_end_matches(['\r', '\n']));
                    }
                }
            }
        });
    }
}

/// A running `tollgate run --config FILE`; killed on drop.
pub struct Tollgate {
    child: Child,
    dir: TempDir,
    config: PathBuf,
    addrs: HashMap<String, SocketAddr>,
    lines: Arc<Mutex<Vec<String>>>,
    rx: mpsc::UnboundedReceiver<String>,
    exit: Option<ExitStatus>,
    stop_followers: Arc<AtomicBool>,
}

impl Tollgate {
    /// Writes `toml` to a fresh temp dir, starts tollgate on it and waits
    /// until every name in `entrypoints` is listening.
    pub async fn start(toml: &str, entrypoints: &[&str]) -> Tollgate {
        Tollgate::start_in(TempDir::new("run"), toml, entrypoints).await
    }

    /// Like `start`, in a prepared directory (which may hold other files the
    /// config refers to; tollgate's working directory is that directory).
    pub async fn start_in(dir: TempDir, toml: &str, entrypoints: &[&str]) -> Tollgate {
        Tollgate::start_with_log_file(dir, toml, entrypoints, None).await
    }

    /// Like `start_in`; also tails `log_file` (relative to `dir`), for
    /// configs that send tollgate's log to a file.
    pub async fn start_with_log_file(
        dir: TempDir,
        toml: &str,
        entrypoints: &[&str],
        log_file: Option<&str>,
    ) -> Tollgate {
        Tollgate::launch(dir, "traefik.toml", toml, entrypoints, log_file).await
    }

    /// Like `start_in`, with the config written to `file_name` (e.g.
    /// `traefik.yml`: the extension decides how it is read).
    pub async fn start_file(
        dir: TempDir,
        file_name: &str,
        text: &str,
        entrypoints: &[&str],
    ) -> Tollgate {
        Tollgate::launch(dir, file_name, text, entrypoints, None).await
    }

    /// Like `start_in`, with these variables added to tollgate's environment
    /// (e.g. lego's `RFC2136_*` for DNS-01).
    pub async fn start_in_env(
        dir: TempDir,
        toml: &str,
        entrypoints: &[&str],
        env: &[(&str, &str)],
    ) -> Tollgate {
        Tollgate::launch_env(dir, "traefik.toml", toml, entrypoints, None, env).await
    }

    async fn launch(
        dir: TempDir,
        file_name: &str,
        text: &str,
        entrypoints: &[&str],
        log_file: Option<&str>,
    ) -> Tollgate {
        Tollgate::launch_env(dir, file_name, text, entrypoints, log_file, &[]).await
    }

    async fn launch_env(
        dir: TempDir,
        file_name: &str,
        text: &str,
        entrypoints: &[&str],
        log_file: Option<&str>,
        env: &[(&str, &str)],
    ) -> Tollgate {
        let config = dir.write(file_name, text);
        let args = [
            "run".into(),
            "--config".into(),
            config.display().to_string(),
        ];
        Tollgate::spawn(BIN, dir, config, &args, entrypoints, log_file, env).await
    }

    /// `tollgate ARGS...` in `dir` (e.g. `agent --server ...`), its output
    /// followed as `run`'s is; no entry point is waited for.
    pub async fn start_command(dir: TempDir, args: &[String]) -> Tollgate {
        Tollgate::start_program(BIN, dir, args).await
    }

    /// `start_command` with another of the workspace's programs.
    pub async fn start_program(program: &str, dir: TempDir, args: &[String]) -> Tollgate {
        let config = dir.path().join("(none)");
        Tollgate::spawn(program, dir, config, args, &[], None, &[]).await
    }

    async fn spawn(
        program: &str,
        dir: TempDir,
        config: PathBuf,
        args: &[String],
        entrypoints: &[&str],
        log_file: Option<&str>,
        env: &[(&str, &str)],
    ) -> Tollgate {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env("TOLLGATE_PLUGIN_CACHE", code_cache(dir.path()))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tollgate");
        let pid = child.id();
        let (tx, rx) = mpsc::unbounded_channel();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = LogSink {
            lines: lines.clone(),
            tx,
        };
        sink.clone()
            .follow("stderr", pid, child.stderr.take().unwrap());
        sink.clone()
            .follow("stdout", pid, child.stdout.take().unwrap());
        let stop_followers = Arc::new(AtomicBool::new(false));
        if let Some(f) = log_file {
            sink.follow_file(dir.path().join(f), pid, stop_followers.clone());
        }

        let mut tg = Tollgate {
            child,
            dir,
            config,
            addrs: HashMap::new(),
            lines,
            rx,
            exit: None,
            stop_followers,
        };
        tg.wait_ready(entrypoints).await;
        tg
    }

    async fn wait_ready(&mut self, entrypoints: &[&str]) {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if entrypoints.iter().all(|e| self.addrs.contains_key(*e)) {
                return;
            }
            let tick = (tokio::time::Instant::now() + Duration::from_millis(100)).min(deadline);
            match tokio::time::timeout_at(tick, self.rx.recv()).await {
                Ok(Some(line)) => {
                    if let Some((name, addr)) = parse_listening(&line) {
                        self.addrs.insert(name, addr);
                    }
                    continue;
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(10)).await,
                Err(_) => {}
            }
            if !self.is_running() {
                // Let the output threads catch the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!(
                    "tollgate exited ({:?}) before entrypoints {entrypoints:?} were listening \
                     (seen: {:?}); log:\n{}",
                    self.exit,
                    self.addrs,
                    self.logs_text()
                );
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "tollgate did not report entrypoints {entrypoints:?} listening within {READY_TIMEOUT:?} \
                     (seen: {:?}); log:\n{}",
                    self.addrs,
                    self.logs_text()
                );
            }
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// Address the entrypoint `name` listens on.
    pub fn addr(&self, name: &str) -> SocketAddr {
        match self.addrs.get(name) {
            Some(a) => *a,
            None => panic!("entrypoint {name:?} unknown; known: {:?}", self.addrs),
        }
    }

    /// `http://ADDR{path}` for entrypoint `name`.
    pub fn url(&self, name: &str, path: &str) -> String {
        format!("http://{}{}", self.addr(name), path)
    }

    /// Every output line so far (ANSI stripped).
    pub fn logs(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn logs_text(&self) -> String {
        self.logs().join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's resident memory (VmRSS), KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    /// RSS grown since `before` (KiB), per one of `count` things opened
    /// since: read until it settles below `bound`, or for 10 s. Freed pages
    /// go back to the system when the worker is idle (main.rs,
    /// collect_when_idle), a little after the last connection opened.
    pub async fn rss_growth_per(&self, before: u64, count: usize, bound: f64) -> f64 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let kib = self.rss_kib().saturating_sub(before) as f64 / count as f64;
            if kib < bound || tokio::time::Instant::now() > deadline {
                return kib;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        if self.exit.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(st)) => {
                self.exit = Some(st);
                false
            }
            _ => true,
        }
    }

    /// Panics (with the log) if tollgate is no longer running.
    pub fn assert_running(&mut self) {
        if !self.is_running() {
            panic!(
                "tollgate is no longer running (exit: {:?}); log:\n{}",
                self.exit,
                self.logs_text()
            );
        }
    }

    /// Sends a signal (`TERM`, `INT`, `HUP`...) with the `kill` command.
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill (procps: apt-get install procps)");
        assert!(st.success(), "kill -{sig} failed: {st}");
    }

    /// Waits for the process to exit; panics (after killing it) on timeout.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(st) = self.exit {
            return st;
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                self.exit = Some(st);
                return st;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "tollgate did not exit within {timeout:?}; log:\n{}",
                    self.logs_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGTERM, then wait (10 s at most) for the exit status.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        self.wait_exit(Duration::from_secs(10)).await
    }

    /// SIGTERM, wait for the exit, and give back the directory (config,
    /// state, compiled-code cache) for a restart in it.
    pub async fn stop_keeping_dir(mut self) -> TempDir {
        self.terminate().await;
        std::mem::replace(
            &mut self.dir,
            TempDir {
                path: PathBuf::new(),
            },
        )
    }

    /// Waits until an output line containing `needle` appears; returns it.
    pub async fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(l) = self.logs().into_iter().find(|l| l.contains(needle)) {
                return l;
            }
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => {
                    if let Some(l) = self.logs().into_iter().find(|l| l.contains(needle)) {
                        return l;
                    }
                    panic!(
                        "no log line containing {needle:?} within {timeout:?}; log:\n{}",
                        self.logs_text()
                    );
                }
            }
        }
    }
}

impl Drop for Tollgate {
    fn drop(&mut self) {
        self.stop_followers.store(true, Ordering::SeqCst);
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Output of a finished command.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// stdout and stderr together (ANSI stripped), for "mentions X" checks.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Where a tollgate started in `dir` keeps compiled plugin code: in the
/// test's own folder, so that no test sees another's (or a previous run's)
/// code and every start but a restart compiles, as on a fresh machine.
pub fn code_cache(dir: &Path) -> std::path::PathBuf {
    dir.join(".tollgate-cache")
}

/// Runs `tollgate ARGS...` in `dir`, killing it after `timeout`.
pub async fn run_tollgate(dir: &Path, args: &[&str], timeout: Duration) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("TOLLGATE_PLUGIN_CACHE", code_cache(dir))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tollgate");
    let read_all = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            strip_ansi(&String::from_utf8_lossy(&v))
        })
    };
    let out = read_all(Box::new(child.stdout.take().unwrap()));
    let err = read_all(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tollgate {args:?} did not finish within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let o = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    eprintln!(
        "[tollgate {args:?}] exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status, o.stdout, o.stderr
    );
    o
}

/// `tollgate check --config FILE` on a config file written in `dir`.
pub async fn check_file(dir: &TempDir, file_name: &str, toml: &str) -> (PathBuf, Output) {
    let path = dir.write(file_name, toml);
    let out = run_tollgate(
        dir.path(),
        &["check", "--config", path.to_str().unwrap()],
        Duration::from_secs(20),
    )
    .await;
    (path, out)
}

// ---------------------------------------------------------------------------
// Reloads: log counting and entrypoints that appear at runtime.
// ---------------------------------------------------------------------------

impl Tollgate {
    /// Number of output lines so far that contain `needle`.
    pub fn count_logs(&self, needle: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until at least `n` output lines contain `needle`; returns the
    /// `n`-th. Panics with the log on timeout or if tollgate exits.
    pub async fn wait_for_log_count(
        &mut self,
        needle: &str,
        n: usize,
        timeout: Duration,
    ) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(l) = self
                .logs()
                .into_iter()
                .filter(|l| l.contains(needle))
                .nth(n - 1)
            {
                return l;
            }
            if tokio::time::Instant::now() >= deadline || !self.is_running() {
                panic!(
                    "fewer than {n} log lines containing {needle:?} within {timeout:?} \
                     (running: {}); log:\n{}",
                    self.is_running(),
                    self.logs_text()
                );
            }
            self.wait_for_output(deadline).await;
        }
    }

    /// Waits for a `listening entrypoint=NAME address=...` line announcing an
    /// address other than the one known for `name` (an entrypoint added, or
    /// rebound, by a reload); records it for `addr`/`url` and returns it.
    pub async fn wait_for_entrypoint(&mut self, name: &str, timeout: Duration) -> SocketAddr {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let latest = self
                .logs()
                .iter()
                .filter_map(|l| parse_listening(l))
                .filter(|(n, _)| n == name)
                .map(|(_, a)| a)
                .next_back();
            if let Some(addr) = latest {
                if self.addrs.get(name) != Some(&addr) {
                    self.addrs.insert(name.to_string(), addr);
                    return addr;
                }
            }
            if tokio::time::Instant::now() >= deadline || !self.is_running() {
                panic!(
                    "entrypoint {name:?} was not (newly) reported listening within {timeout:?} \
                     (running: {}, known: {:?}); log:\n{}",
                    self.is_running(),
                    self.addrs,
                    self.logs_text()
                );
            }
            self.wait_for_output(deadline).await;
        }
    }

    /// Waits for the next output line (or 50 ms, or `deadline`).
    async fn wait_for_output(&mut self, deadline: tokio::time::Instant) {
        let tick = (tokio::time::Instant::now() + Duration::from_millis(50)).min(deadline);
        match tokio::time::timeout_at(tick, self.rx.recv()).await {
            Ok(Some(_)) | Err(_) => {}
            Ok(None) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listening_lines() {
        let l =
            "2025-01-01T00:00:00Z  INFO tollgate: listening entrypoint=http address=127.0.0.1:4242";
        assert_eq!(
            parse_listening(l),
            Some(("http".to_string(), "127.0.0.1:4242".parse().unwrap()))
        );
        let l = strip_ansi("\u{1b}[32m INFO\u{1b}[0m listening \u{1b}[3mentrypoint\u{1b}[0m\u{1b}[2m=\u{1b}[0m\"https\" \u{1b}[3maddress\u{1b}[0m\u{1b}[2m=\u{1b}[0m127.0.0.1:1");
        assert_eq!(
            parse_listening(&l),
            Some(("https".to_string(), "127.0.0.1:1".parse().unwrap()))
        );
        assert_eq!(parse_listening("listening entrypoint=http"), None);
    }
}
