//! What a sysadmin installs beside the binary: the systemd unit, and the
//! container image's health check command.

use std::path::Path;
use std::process::Command;

use crate::harness::*;

#[test]
fn the_systemd_unit_verifies_and_its_commands_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let unit = std::fs::read_to_string(root.join("examples/systemd/tollgate.service")).unwrap();
    let bin = env!("CARGO_BIN_EXE_tollgate");
    // systemd checks that the commands exist: point them at this build.
    let dir = TempDir::new("systemd-unit");
    let path = dir.path().join("tollgate.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/tollgate", bin)).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze runs (Debian's systemd; .ci/run installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
    // Reload is SIGHUP, and the capability to bind 80/443 is granted.
    for line in [
        "ExecReload=/bin/kill -HUP $MAINPID",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "ProtectSystem=strict",
        "StateDirectory=tollgate",
        "CacheDirectory=tollgate",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line}");
    }
    // ExecStartPre's command, on the shipped default config.
    let check = Command::new(bin)
        .args(["check", "--config"])
        .arg(root.join("config/tollgate.toml"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// The container image's HEALTHCHECK command: 0 while `/ping` answers 200,
/// 1 (with the reason) for any other status or no listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_command_passes_only_on_a_200() {
    let toml = entrypoints(&["http", "traefik"]) + "[ping]\nentryPoint = \"traefik\"\n";
    let tg = Tollgate::start(&toml, &["http", "traefik"]).await;
    let bin = env!("CARGO_BIN_EXE_tollgate");
    // A blocking wait is fine: tollgate is another process.
    let probe = |url: String| async move {
        let out = Command::new(bin)
            .args(["healthcheck", &url])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(
        probe(tg.url("traefik", "/ping")).await,
        (Some(0), String::new())
    );
    let (code, why) = probe(tg.url("http", "/ping")).await;
    assert_eq!(code, Some(1));
    assert!(why.ends_with("status 404\n"), "{why}");
    let (code, why) = probe(format!("http://127.0.0.1:{}/ping", closed_port())).await;
    assert_eq!(code, Some(1));
    assert!(why.contains("refused"), "{why}");
    let (code, why) = probe("https://127.0.0.1/ping".into()).await;
    assert_eq!(code, Some(1));
    assert!(why.contains("only http://"), "{why}");
}

/// The README's start command, `cargo run --release -p tollgate -- run`,
/// needs cargo to know which of the package's programs to run (it has two:
/// tollgate and tollgate-agent); without `default-run` it refuses.
#[test]
fn the_readmes_cargo_run_command_picks_the_proxy() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains("cargo run --release -p tollgate -- run"),
        "the README's command changed"
    );
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root)
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let package = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "tollgate")
        .expect("the tollgate package");
    let bins: Vec<&str> = package["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(bins.contains(&"tollgate"), "{bins:?}");
    if bins.len() > 1 {
        assert_eq!(package["default_run"], "tollgate", "programs: {bins:?}");
    }
}
