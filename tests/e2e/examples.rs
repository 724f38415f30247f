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

/// The examples run at the same time in the test suite, each on fixed
/// ports: no port may belong to two of them (two did, and a device's
/// stand-in sometimes found its port taken).
#[test]
fn no_two_examples_share_a_port() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut owner: std::collections::BTreeMap<u32, String> = Default::default();
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(script) = std::fs::read_to_string(dir.join("run.sh")) else {
            continue;
        };
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = script.as_bytes();
        for (i, w) in bytes.windows(5).enumerate() {
            let digits = w.iter().all(u8::is_ascii_digit);
            let bounded = (i == 0 || !bytes[i - 1].is_ascii_digit())
                && bytes.get(i + 5).is_none_or(|b| !b.is_ascii_digit());
            if !(digits && bounded && w.starts_with(b"18")) {
                continue;
            }
            let port: u32 = std::str::from_utf8(w).unwrap().parse().unwrap();
            if let Some(other) = owner.insert(port, name.clone()) {
                assert!(
                    other == name,
                    "port {port} is used by both {other} and {name}"
                );
            }
        }
    }
    assert!(owner.len() > 20, "ports found: {owner:?}");
}
