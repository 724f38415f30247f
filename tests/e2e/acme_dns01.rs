//! ACME DNS-01 with lego's `rfc2136` provider, against real servers: pebble
//! as the CA, asking a real authoritative DNS server (knot, on loopback)
//! for the challenge's TXT record, which tollgate adds and removes with
//! TSIG-signed dynamic updates. The one way to a wildcard certificate: one
//! certificate for every device name of a fleet.

use std::net::SocketAddr;

use crate::harness::*;

const ZONE: &str = "cams.example.com";
const KEY: &str = "tollgate";
/// base64 of 32 bytes: an hmac-sha256 key.
const SECRET: &str = "dG9sbGdhdGUgZG5zLTAxIHRlc3Qga2V5IDMyIGJ5dGU=";

/// Dropped in this order: tollgate, knot, pebble, then their directory.
struct Setup {
    tg: Tollgate,
    knot: Knot,
    pebble: Pebble,
    https: SocketAddr,
    _backend: Backend,
    _dir: TempDir,
}

/// knot serving `cams.example.com` (updates with the key), pebble asking
/// knot, tollgate ordering `*.cams.example.com` with `secret`.
async fn setup(secret: &str) -> Setup {
    let dir = TempDir::new("dns01");
    let records = vec![
        ("d001".to_string(), "127.0.1.1".to_string()),
        ("d002".to_string(), "127.0.1.2".to_string()),
    ];
    let knot =
        Knot::start_with_updates(&dir, ZONE, &records, Some((KEY, "hmac-sha256", SECRET))).await;
    let https_port = free_port();
    let pebble = Pebble::start_with_dns(&dir, free_port(), https_port, Some(knot.addr)).await;
    let backend = echo("fleet-gateway").await;
    let toml = format!(
        r#"[entryPoints.https]
address = "127.0.0.1:{https_port}"
  [entryPoints.https.tls]
[acme]
email = "admin@cams.example.com"
storage = "acme.json"
entryPoint = "https"
caServer = "{ca}"
caCertificates = ["{ca_cert}"]
acmeLogging = true
  [acme.dnsChallenge]
  provider = "rfc2136"
[[acme.domains]]
main = "*.{ZONE}"
[frontends.devices]
backend = "b"
  [frontends.devices.routes.r]
  rule = "HostRegexp:{{device:[a-z0-9-]+}}.{ZONE}"
[backends.b.servers.s]
url = "{backend}"
"#,
        ca = pebble.directory(),
        ca_cert = pebble.cert_file.display(),
        backend = backend.url(),
    );
    let nameserver = knot.addr.to_string();
    let env = [
        ("RFC2136_NAMESERVER", nameserver.as_str()),
        ("RFC2136_TSIG_KEY", KEY),
        ("RFC2136_TSIG_SECRET", secret),
        ("RFC2136_TSIG_ALGORITHM", "hmac-sha256."),
        ("RFC2136_TTL", "5"),
        ("RFC2136_POLLING_INTERVAL", "1"),
        ("RFC2136_PROPAGATION_TIMEOUT", "20"),
    ];
    let tg = Tollgate::start_in_env(TempDir::new("dns01-tg"), &toml, &["https"], &env).await;
    Setup {
        tg,
        knot,
        pebble,
        https: format!("127.0.0.1:{https_port}").parse().unwrap(),
        _backend: backend,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wildcard_certificate_by_dns01_serves_every_device_name() {
    let mut s = setup(SECRET).await;
    s.tg.wait_for_log("acme: certificate obtained", secs(60))
        .await;
    let client = TestTls::trusting(&s.pebble.root().await);
    for host in ["d001.cams.example.com", "d002.cams.example.com"] {
        let leaf = client.leaf(s.https, host).await.unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&leaf).unwrap();
        let names: Vec<String> = cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(names, ["DNSName(*.cams.example.com)"], "{host}");
        let (status, body) = client.get(s.https, host, host, "/status").await.unwrap();
        assert_eq!(status, 200, "{host}: {body}");
        assert!(body.contains("fleet-gateway"), "{body}");
    }
    // The challenge's record was added (the CA saw it) and is gone again.
    let logs = s.tg.logs_text();
    assert!(!logs.contains("the TXT record stays"), "{logs}");
    assert_eq!(s.knot.dig("_acme-challenge.cams.example.com.", "TXT"), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_tsig_key_is_refused_by_the_name_server_and_said_so() {
    let mut s = setup("d3JvbmcgdHNpZyBrZXkgb2YgdGhpcnR5LXR3byBieXRlcw==").await;
    let line = s.tg.wait_for_log("retry_in_secs", secs(30)).await;
    assert!(
        line.contains("adding TXT _acme-challenge.cams.example.com"),
        "{line}"
    );
    assert!(line.contains("answered Not authorized"), "{line}");
    assert_eq!(s.tg.count_logs("acme: certificate obtained"), 0);
    assert_eq!(s.knot.dig("_acme-challenge.cams.example.com.", "TXT"), "");
    s.tg.assert_running();
}
