//! Real etcd for the tests: Debian's `etcd` (etcd-server) on free ports of
//! 127.0.0.1, one member or a cluster of several, written to with Debian's
//! `etcdctl` as a sysadmin would. A missing etcd fails the test that asks
//! for one, saying how to install it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::backends::free_port;
use super::process::TempDir;
use super::{ms, secs};

pub const ETCD: &str = "/usr/bin/etcd";
pub const ETCDCTL: &str = "/usr/bin/etcdctl";

/// Panics, naming what is missing, unless etcd and etcdctl are installed.
pub fn require_etcd() {
    let missing: Vec<&str> = [ETCD, ETCDCTL]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "etcd is not installed: apt-get install etcd-server etcd-client (.ci/run installs them); missing: {}",
        missing.join(", ")
    );
}

/// One etcd member, killed on drop. Its data stays in its folder, so a
/// stopped member restarts with what it had.
pub struct Etcd {
    child: Option<Child>,
    pub name: String,
    pub client_port: u16,
    peer_port: u16,
    data: PathBuf,
    log: PathBuf,
    /// `name=http://127.0.0.1:PEER,...` of the whole cluster.
    initial_cluster: String,
    /// Client URLs over TLS, a client certificate required: the CA file,
    /// this member's certificate and key, and etcdctl's own (CN `root`).
    tls: Option<Secure>,
}

/// The files of an etcd that takes clients over TLS only.
pub struct Secure {
    pub ca: PathBuf,
    pub server: (PathBuf, PathBuf),
    pub admin: (PathBuf, PathBuf),
}

impl Etcd {
    /// A one-member etcd, answering.
    pub async fn start(dir: &TempDir) -> Etcd {
        Etcd::cluster(dir, 1).await.pop().unwrap()
    }

    /// `n` members forming one cluster, each answering (a leader elected).
    pub async fn cluster(dir: &TempDir, n: usize) -> Vec<Etcd> {
        require_etcd();
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let tag = ports[0].0;
        let initial_cluster = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer))| format!("m{tag}-{i}=http://127.0.0.1:{peer}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut members: Vec<Etcd> = ports
            .iter()
            .enumerate()
            .map(|(i, (client, peer))| {
                let root = dir.path().join(format!("etcd-{client}"));
                std::fs::create_dir_all(&root).unwrap();
                Etcd {
                    child: None,
                    name: format!("m{tag}-{i}"),
                    client_port: *client,
                    peer_port: *peer,
                    data: root.join("data"),
                    log: root.join("etcd.log"),
                    initial_cluster: initial_cluster.clone(),
                    tls: None,
                }
            })
            .collect();
        for m in &mut members {
            m.spawn();
        }
        for m in &members {
            m.wait_healthy(secs(20)).await;
        }
        members
    }

    /// A one-member etcd whose clients must come over TLS with a
    /// certificate `secure.ca` signed; etcdctl uses `secure.admin`.
    pub async fn start_secure(dir: &TempDir, secure: Secure) -> Etcd {
        require_etcd();
        let (client_port, peer_port) = (free_port(), free_port());
        let root = dir.path().join(format!("etcd-{client_port}"));
        std::fs::create_dir_all(&root).unwrap();
        let name = format!("s{client_port}");
        let mut etcd = Etcd {
            child: None,
            initial_cluster: format!("{name}=http://127.0.0.1:{peer_port}"),
            name,
            client_port,
            peer_port,
            data: root.join("data"),
            log: root.join("etcd.log"),
            tls: Some(secure),
        };
        etcd.spawn();
        etcd.wait_healthy(secs(20)).await;
        etcd
    }

    /// Turns on etcd's authentication: a `root` user (etcdctl's certificate
    /// is `root`'s), and `user`/`password` allowed to read `prefix` only.
    pub fn enable_auth(&self, user: &str, password: &str, prefix: &str) {
        for args in [
            vec![
                "user",
                "add",
                "root",
                "--new-user-password",
                "root-pw-not-used",
            ],
            vec!["user", "grant-role", "root", "root"],
            vec!["user", "add", user, "--new-user-password", password],
            vec!["role", "add", "reader"],
            vec![
                "role",
                "grant-permission",
                "reader",
                "--prefix=true",
                "read",
                prefix,
            ],
            vec!["user", "grant-role", user, "reader"],
            vec!["auth", "enable"],
        ] {
            let out = self.ctl(&args);
            assert!(
                out.status.success(),
                "etcdctl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// `127.0.0.1:PORT`, as written in `[etcd] endpoint`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let client = format!("{scheme}://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = Command::new(ETCD);
        if let Some(s) = &self.tls {
            command
                .arg("--client-cert-auth")
                .arg("--trusted-ca-file")
                .arg(&s.ca)
                .arg("--cert-file")
                .arg(&s.server.0)
                .arg("--key-file")
                .arg(&s.server.1);
        }
        let child = command
            .arg("--name")
            .arg(&self.name)
            .arg("--data-dir")
            .arg(&self.data)
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &self.initial_cluster])
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", &self.initial_cluster])
            // Quick elections on loopback; quick to notice a stopped peer.
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        self.child = Some(child);
    }

    /// Stops the member (SIGKILL: as a crash or a pulled plug).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a stopped member again, with its data; waits until it answers.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "etcd {} is running", self.name);
        self.spawn();
        self.wait_healthy(secs(20)).await;
    }

    async fn wait_healthy(&self, within: std::time::Duration) {
        let deadline = std::time::Instant::now() + within;
        loop {
            let out = self.ctl(&["endpoint", "health"]);
            if out.status.success() {
                return;
            }
            if std::time::Instant::now() > deadline {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!(
                    "etcd {} did not answer within {within:?}: {}\n{log}",
                    self.name,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            tokio::time::sleep(ms(50)).await;
        }
    }

    fn ctl(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::new(ETCDCTL);
        let scheme = match &self.tls {
            Some(s) => {
                command
                    .arg("--cacert")
                    .arg(&s.ca)
                    .arg("--cert")
                    .arg(&s.admin.0)
                    .arg("--key")
                    .arg(&s.admin.1);
                "https"
            }
            None => "http",
        };
        command
            .env("ETCDCTL_API", "3")
            .arg(format!(
                "--endpoints={scheme}://127.0.0.1:{}",
                self.client_port
            ))
            .arg("--command-timeout=3s")
            .args(args)
            .output()
            .expect("run etcdctl")
    }

    /// `etcdctl put KEY VALUE` through this member; panics if refused.
    /// Retried for a few seconds, as while a cluster elects a new leader
    /// after a member stopped.
    pub fn put(&self, key: &str, value: &str) {
        let deadline = std::time::Instant::now() + secs(15);
        loop {
            // `--` so that values starting with `-` are values.
            let out = self.ctl(&["put", "--", key, value]);
            if out.status.success() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "etcdctl put {key}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// `etcdctl del KEY` (`--prefix` with `prefix`).
    pub fn del(&self, key: &str, prefix: bool) {
        let mut args = vec!["del", key];
        if prefix {
            args.push("--prefix");
        }
        let out = self.ctl(&args);
        assert!(
            out.status.success(),
            "etcdctl del {key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The keys under `prefix` (`etcdctl get --prefix --keys-only`).
    pub fn get_prefix_keys(&self, prefix: &str) -> Vec<String> {
        let out = self.ctl(&["get", prefix, "--prefix", "--keys-only"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// `etcdctl get KEY --print-value-only`.
    pub fn get(&self, key: &str) -> String {
        let out = self.ctl(&["get", key, "--print-value-only"]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}
