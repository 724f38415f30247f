//! A real authoritative DNS server for the tests: Debian's `knotd`, on a
//! free port of 127.0.0.1, serving one zone written by the test. A missing
//! knot fails the test that asks for one, saying how to install it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::backends::free_port;
use super::process::TempDir;
use super::secs;

pub const KNOTD: &str = "/usr/sbin/knotd";
pub const KDIG: &str = "/usr/bin/kdig";

/// Panics, naming what is missing, unless knotd and kdig are installed.
pub fn require_knot() {
    let missing: Vec<&str> = [KNOTD, KDIG]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "knot is not installed: apt-get install knot knot-dnsutils (.ci/run installs them); missing: {}",
        missing.join(", ")
    );
}

/// A running knotd, killed on drop.
pub struct Knot {
    child: Child,
    pub addr: SocketAddr,
    pub zone: String,
}

impl Knot {
    /// Serves `zone` (e.g. `cams.internal`) with these `A` records
    /// (`name` relative to the zone, or `@`), and answers once it does.
    pub async fn start(dir: &TempDir, zone: &str, records: &[(String, String)]) -> Knot {
        Knot::start_with_updates(dir, zone, records, None).await
    }

    /// Like `start`; with `tsig` = (key name, algorithm such as
    /// `hmac-sha256`, base64 secret), the zone takes RFC 2136 dynamic
    /// updates signed with that key (and only those).
    pub async fn start_with_updates(
        dir: &TempDir,
        zone: &str,
        records: &[(String, String)],
        tsig: Option<(&str, &str, &str)>,
    ) -> Knot {
        require_knot();
        let root = dir.path().join("knot");
        std::fs::create_dir_all(&root).unwrap();
        let mut zone_text = format!(
            "$ORIGIN {zone}.\n$TTL 5\n@ SOA ns.{zone}. admin.{zone}. 1 3600 600 86400 5\n@ NS ns\nns A 127.0.0.1\n"
        );
        for (name, ip) in records {
            let kind = if ip.contains(':') { "AAAA" } else { "A" };
            zone_text.push_str(&format!("{name} {kind} {ip}\n"));
        }
        std::fs::write(root.join(format!("{zone}.zone")), zone_text).unwrap();
        let port = free_port();
        let root_text = root.display();
        let (keys, acl) = match tsig {
            Some((name, algorithm, secret)) => (
                format!(
                    "key:\n  - id: {name}\n    algorithm: {algorithm}\n    secret: {secret}\n\
                     acl:\n  - id: updates\n    key: {name}\n    action: update\n"
                ),
                "    acl: updates\n    zonefile-sync: -1\n".to_owned(),
            ),
            None => (String::new(), String::new()),
        };
        let conf = format!(
            "server:\n    rundir: \"{root_text}\"\n    listen: 127.0.0.1@{port}\n\
             database:\n    storage: \"{root_text}\"\n\
             log:\n  - target: stderr\n    any: info\n\
             {keys}\
             zone:\n  - domain: {zone}\n    storage: \"{root_text}\"\n    file: \"{zone}.zone\"\n{acl}"
        );
        let conf_path = root.join("knot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = std::fs::File::create(root.join("knotd.log")).unwrap();
        let child = Command::new(KNOTD)
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start knotd");
        let knot = Knot {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            zone: zone.to_owned(),
        };
        let soa = format!("{zone}.");
        let deadline = std::time::Instant::now() + secs(10);
        while knot.dig(&soa, "SOA").is_empty() {
            if std::time::Instant::now() > deadline {
                let log = std::fs::read_to_string(root.join("knotd.log")).unwrap_or_default();
                panic!("knotd did not answer within 10 s:\n{log}");
            }
            tokio::time::sleep(super::ms(20)).await;
        }
        knot
    }

    /// `kdig +short`: the answer's data, one record per line.
    pub fn dig(&self, name: &str, kind: &str) -> String {
        let out = Command::new(KDIG)
            .arg(format!("@{}", self.addr.ip()))
            .arg("-p")
            .arg(self.addr.port().to_string())
            .arg("+short")
            .arg("+timeout=1")
            .arg(name)
            .arg(kind)
            .output()
            .expect("run kdig");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
