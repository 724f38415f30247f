//! `tollgate check` (and `run`) on good and bad configs.

use crate::harness::*;

fn line_of(toml: &str, needle: &str) -> usize {
    toml.lines()
        .position(|l| l.contains(needle))
        .expect("needle in toml")
        + 1
}

/// The stderr line that mentions `needle`.
fn diag_line<'a>(out: &'a Output, needle: &str) -> &'a str {
    out.stderr
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no stderr line mentions {needle:?}:\n{}", out.all()))
}

/// Asserts `FILE:LINE:COL: KEY: message` with this file name, line and key.
fn assert_located(line: &str, file_name: &str, lineno: usize, key: &str) {
    let prefix = format!("{file_name}:{lineno}:");
    let (_, rest) = line
        .split_once(&prefix)
        .unwrap_or_else(|| panic!("{line:?} does not start with {prefix:?}"));
    let (col, rest) = rest
        .split_once(':')
        .unwrap_or_else(|| panic!("no column in {line:?}"));
    let col: usize = col
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("column {col:?} in {line:?}"));
    assert!(col >= 1, "{line:?}");
    assert!(
        rest.trim_start().starts_with(&format!("{key}:")),
        "key {key:?} should follow the location in {line:?}"
    );
}

const BAD_RULE: &str = "[frontends.f]\nbackend = \"b\"\n  [frontends.f.routes.r]\n  rule = \"PathPrefx:/a\"\n\n[backends.b.servers.s]\nurl = \"http://127.0.0.1:1\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_an_unknown_matcher_with_file_line_and_key() {
    let dir = TempDir::new("check");
    let (_path, out) = check_file(&dir, "bad-rule.toml", &(http_only() + BAD_RULE)).await;
    assert!(
        !out.status.success(),
        "check accepted an unknown matcher:\n{}",
        out.all()
    );
    let lineno = line_of(&(http_only() + BAD_RULE), "PathPrefx");
    let line = diag_line(&out, "frontends.f.routes.r.rule");
    assert_located(line, "bad-rule.toml", lineno, "frontends.f.routes.r.rule");
    assert!(line.contains("unknown matcher \"PathPrefx\""), "{line:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_refuses_an_invalid_config() {
    let dir = TempDir::new("check");
    let toml = http_only() + BAD_RULE;
    let path = dir.write("bad-rule.toml", &toml);
    let out = run_tollgate(
        dir.path(),
        &["run", "--config", path.to_str().unwrap()],
        secs(10),
    )
    .await;
    assert!(!out.status.success(), "run started on an invalid config");
    let line = diag_line(&out, "frontends.f.routes.r.rule");
    assert!(line.contains("unknown matcher \"PathPrefx\""), "{line:?}");
    assert!(
        line.contains(&format!("bad-rule.toml:{}:", line_of(&toml, "PathPrefx"))),
        "{line:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_toml_syntax_errors_with_their_line() {
    let dir = TempDir::new("check");
    let toml = http_only()
        + "[frontends.f]\nbackend = \"b\"\n  [frontends.f.routes.r]\n  rule = \"PathPrefix:/a\n\n[backends.b.servers.s]\nurl = \"http://127.0.0.1:1\"\n";
    let (_p, out) = check_file(&dir, "syntax.toml", &toml).await;
    assert!(
        !out.status.success(),
        "check accepted an unterminated string:\n{}",
        out.all()
    );
    let lineno = line_of(&toml, "rule = ");
    assert!(
        out.stderr.contains(&format!("syntax.toml:{lineno}:")),
        "stderr should locate the error at line {lineno}:\n{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_warns_about_an_unknown_key_and_still_accepts() {
    let dir = TempDir::new("check");
    let toml = http_only()
        + "[frontends.f]\nbackend = \"b\"\npasHostHeader = true\n  [frontends.f.routes.r]\n  rule = \"PathPrefix:/a\"\n\n[backends.b.servers.s]\nurl = \"http://127.0.0.1:1\"\n";
    let (_p, out) = check_file(&dir, "typo.toml", &toml).await;
    assert!(
        out.status.success(),
        "an unknown key is a warning, not an error:\n{}",
        out.all()
    );
    let all = out.all();
    let line = all
        .lines()
        .find(|l| l.to_ascii_lowercase().contains("pashostheader"))
        .unwrap_or_else(|| panic!("no warning names pasHostHeader:\n{all}"));
    let lower = line.to_ascii_lowercase();
    assert!(
        lower.contains("warn") || lower.contains("unknown"),
        "{line:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_accepts_a_valid_config_and_summarises_it() {
    let dir = TempDir::new("check");
    let toml = http_only()
        + &frontend("jupyter_front", "jupyter_back", "PathPrefix:/zumi01")
        + &backend("jupyter_back", "http://127.0.0.1:8888");
    let (_p, out) = check_file(&dir, "good.toml", &toml).await;
    assert!(
        out.status.success(),
        "check rejected a valid config:\n{}",
        out.all()
    );
    assert!(
        out.all().contains("jupyter_front"),
        "summary should list the frontend:\n{}",
        out.all()
    );
    assert!(
        out.all().contains("jupyter_back"),
        "summary should list the backend:\n{}",
        out.all()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_on_a_missing_file_fails_naming_it() {
    let dir = TempDir::new("check");
    let missing = dir.path().join("nope.toml");
    let out = run_tollgate(
        dir.path(),
        &["check", "--config", missing.to_str().unwrap()],
        secs(10),
    )
    .await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("nope.toml"), "{}", out.stderr);
}

/// Every configuration shipped in `config/` passes `tollgate check` (with
/// certificate files where one expects them), so the docs never rot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_configs_pass_check() {
    let config_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    let mut checked = 0;
    for entry in std::fs::read_dir(&config_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let dir = TempDir::new("shipped");
        dir.write("SSL/cert.pem", include_bytes!("fixtures/SSL/cert.pem"));
        dir.write("SSL/key.pem", include_bytes!("fixtures/SSL/key.pem"));
        let name = path.file_name().unwrap().to_str().unwrap();
        dir.write(name, std::fs::read(&path).unwrap());
        let out = run_tollgate(dir.path(), &["check", "--config", name], secs(30)).await;
        assert!(out.status.success(), "{name}:\n{}", out.all());
        assert!(
            !out.stderr.contains("warning"),
            "{name} has warnings:\n{}",
            out.stderr
        );
        checked += 1;
    }
    assert!(
        checked >= 2,
        "found only {checked} configs in {}",
        config_dir.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_lists_plugins_and_each_frontends_middlewares() {
    let dir = TempDir::new("check");
    let wasm = tollgate::wasm::builtin::wasm_dir()
        .expect("plugins built by proxy/build.rs")
        .join("misbehave.wasm");
    let toml = http_only()
        + &format!(
            "[plugins.count]\npath = {:?}\ntimeout = \"20ms\"\n  [plugins.count.config]\n  mode = \"counter\"\n\n",
            wasm.display().to_string()
        )
        + &frontend_with(
            "cams",
            "b",
            "PathPrefix:/cams",
            "basicAuth = [\"test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/\"]\nmiddlewares = [\"count\"]\n  [frontends.cams.headers]\n  frameDeny = true",
        )
        + &frontend("open", "b", "PathPrefix:/open")
        + &backend("b", "http://127.0.0.1:8888");
    let (_p, out) = check_file(&dir, "plugins.toml", &toml).await;
    assert!(out.status.success(), "{}", out.all());
    let text = out.all();
    assert!(
        text.contains("    middlewares: headers (built-in), basicAuth (built-in), count\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "plugins:\n  count: {} (timeout 20ms, memory default)\n",
            wasm.display()
        )),
        "{text}"
    );
    // A frontend without middleware has no such line.
    let open = text
        .lines()
        .skip_while(|l| !l.contains("open:"))
        .nth(1)
        .unwrap_or("");
    assert!(!open.contains("middlewares"), "{text}");
}

/// A plugin that refuses a key of its config: the error points at that key
/// in the file, not at the JSON tollgate handed the plugin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugins_unknown_config_key_is_reported_at_the_key() {
    let dir = TempDir::new("check");
    let wasm = tollgate::wasm::builtin::wasm_dir()
        .expect("plugins built by proxy/build.rs")
        .join("jwt-auth.wasm");
    let toml = http_only()
        + &format!("[plugins.jwt]\npath = {:?}\n", wasm.display().to_string())
        + "  [plugins.jwt.config]\n  keys = [{alg = \"HS256\", secret = \"sixteen bytes or more\"}]\n  isuer = \"https://auth.example\"\n\n"
        + &frontend_with("api", "b", "PathPrefix:/api", "middlewares = [\"jwt\"]")
        + &backend("b", "http://127.0.0.1:8888");
    let (path, out) = check_file(&dir, "plugin-typo.toml", &toml).await;
    assert!(!out.status.success(), "{}", out.all());
    let line = toml
        .lines()
        .position(|l| l.trim_start().starts_with("isuer"))
        .unwrap()
        + 1;
    let want = format!(
        "{}:{line}:3: plugins.jwt.config.isuer: unknown field (plugin jwt failed to start",
        path.display()
    );
    assert!(
        out.all().contains(&want),
        "want {want:?} in:\n{}",
        out.all()
    );
    assert!(out.all().contains("expected one of"), "{}", out.all());
    assert!(!out.all().contains("at line 1 column"), "{}", out.all());
}
