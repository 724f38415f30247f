//! What a sysadmin installs beside the binary: the systemd unit.

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
