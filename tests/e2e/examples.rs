//! Each runnable example (`examples/*/run.sh`) does what its README says:
//! run with `--check`, against this build, it exits 0 only when what a user
//! would see is there. Their tools (sshd, openssl, python3, cargo) must be
//! installed: a missing one fails the test, naming it.

use std::path::Path;
use std::process::Command;

/// Runs `examples/NAME/run.sh --check` with this build's binary.
fn run_example(name: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let script = root.join("examples").join(name).join("run.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("--check")
        .env("TOLLGATE", env!("CARGO_BIN_EXE_tollgate"))
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} --check failed ({}):\n{stdout}\n{stderr}",
        script.display(),
        out.status
    );
    eprintln!("{stdout}");
}

#[test]
fn zumi_behind_an_ssh_tunnel_over_https_with_basic_auth() {
    run_example("zumi-ssh-tunnel");
}

#[test]
fn zumi_through_tollgates_own_tunnel_without_sshd() {
    run_example("zumi-agent-tunnel");
}

#[test]
fn three_webcams_watched_at_once() {
    run_example("webcams");
}

#[test]
fn a_traefik3_yaml_config_served_and_edited() {
    run_example("traefik3-yaml");
}

#[test]
fn three_instances_on_a_three_member_etcd() {
    run_example("cluster");
}

#[test]
fn own_auth_plugin_written_tested_and_loaded() {
    run_example("own-auth-plugin");
}
