//! ACME against a real CA: Debian's `pebble` (with `pebble-challtestsrv` as
//! its DNS, answering 127.0.0.1 for every name). Pebble's validation dials
//! fixed ports, so tollgate's entrypoints listen on ports picked here.
//! Skipped (with a message) when pebble is not installed.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use crate::harness::*;

const PEBBLE: &str = "/usr/bin/pebble";
const CHALLTESTSRV: &str = "/usr/bin/pebble-challtestsrv";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn have_pebble() -> bool {
    let ok = Path::new(PEBBLE).exists() && Path::new(CHALLTESTSRV).exists();
    if !ok {
        eprintln!("pebble is not installed (apt-get install pebble): ACME test skipped");
    }
    ok
}

/// A running pebble + challtestsrv, killed on drop.
pub struct Pebble {
    children: Vec<Child>,
    port: u16,
    mgmt_port: u16,
    /// Pebble's own HTTPS certificate (PEM file), for `caCertificates`.
    pub cert_file: PathBuf,
    cert_pem: String,
}

impl Pebble {
    /// Validation goes to `http_port` (HTTP-01) and `tls_port` (TLS-ALPN-01).
    pub async fn start(dir: &TempDir, http_port: u16, tls_port: u16) -> Pebble {
        let port = free_port();
        let mgmt_port = free_port();
        let dns_port = free_port();
        let dns_mgmt = free_port();
        let cert = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .unwrap();
        let cert_pem = cert.cert.pem();
        let cert_file = dir.write("pebble-cert.pem", &cert_pem);
        let key_file = dir.write("pebble-key.pem", cert.signing_key.serialize_pem());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
            "certificate": cert_file,
            "privateKey": key_file,
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_file = dir.write("pebble.json", config.to_string());
        let dns = Command::new(CHALLTESTSRV)
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-http01", "", "-tlsalpn01", "", "-https01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_mgmt}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pebble-challtestsrv");
        let pebble = Command::new(PEBBLE)
            .arg("-config")
            .arg(&config_file)
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pebble");
        let p = Pebble {
            children: vec![dns, pebble],
            port,
            mgmt_port,
            cert_file,
            cert_pem,
        };
        let client = TestTls::trusting(&p.cert_pem);
        eventually(secs(20), "pebble serving its directory", || async {
            let addr: SocketAddr = format!("127.0.0.1:{}", p.port).parse().unwrap();
            client
                .get(addr, "localhost", "localhost", "/dir")
                .await
                .ok()
                .filter(|(s, _)| *s == 200)
        })
        .await;
        p
    }

    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.port)
    }

    /// The root that issued the certificates (PEM).
    pub async fn root(&self) -> String {
        let addr: SocketAddr = format!("127.0.0.1:{}", self.mgmt_port).parse().unwrap();
        let (status, body) = TestTls::trusting(&self.cert_pem)
            .get(addr, "localhost", "localhost", "/roots/0")
            .await
            .expect("pebble management: /roots/0");
        assert_eq!(status, 200, "{body}");
        body
    }

    fn stop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.children.clear();
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A TLS client trusting only the given roots.
pub struct TestTls(Arc<rustls::ClientConfig>);

impl TestTls {
    pub fn trusting(pem: &str) -> TestTls {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TestTls(Arc::new(config))
    }

    /// The leaf certificate served for `sni` (verified).
    pub async fn leaf(&self, addr: SocketAddr, sni: &str) -> Result<Vec<u8>, String> {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let name = ServerName::try_from(sni.to_string()).unwrap();
        let tls = tokio_rustls::TlsConnector::from(self.0.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        let certs = tls.get_ref().1.peer_certificates().unwrap_or_default();
        Ok(certs.first().map(|c| c.to_vec()).unwrap_or_default())
    }

    /// GET `path` with SNI `sni` (verified) and Host `host`.
    pub async fn get(
        &self,
        addr: SocketAddr,
        sni: &str,
        host: &str,
        path: &str,
    ) -> Result<(u16, String), String> {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let name = ServerName::try_from(sni.to_string()).unwrap();
        let tls = tokio_rustls::TlsConnector::from(self.0.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = http::Request::get(path)
            .header("host", host)
            .body(Empty::<Bytes>::new())
            .unwrap();
        let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// tollgate with `http` (redirecting to https: the HTTP-01 token must be
/// answered before the redirect) and `https` (ACME) on fixed ports.
pub fn acme_config(
    http_port: u16,
    https_port: u16,
    storage: &Path,
    pebble: &Pebble,
    challenge: &str,
    backend_url: &str,
) -> String {
    format!(
        r#"logLevel = "DEBUG"
defaultEntryPoints = ["http", "https"]
[entryPoints.http]
address = "127.0.0.1:{http_port}"
  [entryPoints.http.redirect]
  entryPoint = "https"
[entryPoints.https]
address = "127.0.0.1:{https_port}"
  [entryPoints.https.tls]
[acme]
email = "admin@zumi.test"
storage = "{storage}"
entryPoint = "https"
onHostRule = true
caServer = "{ca}"
caCertificates = ["{ca_cert}"]
acmeLogging = true
{challenge}
[[acme.domains]]
main = "zumi.test"
sans = ["www.zumi.test"]
[frontends.app]
backend = "b"
  [frontends.app.routes.r]
  rule = "Host:app.zumi.test"
[frontends.shop]
backend = "b"
  [frontends.shop.routes.r]
  rule = "Host:shop.zumi.test"
[backends.b.servers.s]
url = "{backend_url}"
"#,
        storage = storage.display(),
        ca = pebble.directory(),
        ca_cert = pebble.cert_file.display(),
    )
}

async fn issued_and_served(challenge: &str) {
    if !have_pebble() {
        return;
    }
    let shared = TempDir::new("acme");
    let (http_port, https_port) = (free_port(), free_port());
    let mut pebble = Pebble::start(&shared, http_port, https_port).await;
    let backend = echo("acme-backend").await;
    let storage = shared.path().join("acme.json");
    let toml = acme_config(
        http_port,
        https_port,
        &storage,
        &pebble,
        challenge,
        &backend.url(),
    );
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    // Three certificates, in flight at once: [[acme.domains]] and the two
    // frontends' Host rules.
    tg.wait_for_log_count("acme: certificate obtained", 3, secs(60))
        .await;
    let root = pebble.root().await;
    let client = TestTls::trusting(&root);
    let https: SocketAddr = format!("127.0.0.1:{https_port}").parse().unwrap();
    for host in ["app.zumi.test", "shop.zumi.test"] {
        let (status, body) = client.get(https, host, host, "/").await.unwrap();
        assert_eq!(status, 200, "{host}: {body}");
        assert!(body.contains("acme-backend"), "{body}");
    }
    // Verified for the main domain and its SAN (no route: 404 is fine).
    for host in ["zumi.test", "www.zumi.test"] {
        let (status, _) = client.get(https, host, host, "/").await.unwrap();
        assert_eq!(status, 404, "{host}");
    }

    // Storage: mode 0600, account and the three certificates.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&storage).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&storage).unwrap()).unwrap();
    assert!(stored["account"]["credentials"].is_object(), "{stored}");
    assert_eq!(stored["certificates"].as_array().unwrap().len(), 3);
    tg.terminate().await;

    // Restart with the CA gone: the stored certificates are served, no order.
    pebble.stop();
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    eventually(
        secs(10),
        "stored certificate served after restart",
        || async {
            client
                .get(https, "app.zumi.test", "app.zumi.test", "/")
                .await
                .ok()
                .filter(|(s, _)| *s == 200)
        },
    )
    .await;
    assert_eq!(tg.count_logs("acme: ordering"), 0, "{}", tg.logs_text());
    assert_eq!(tg.count_logs("acme: account created"), 0);
    tg.assert_running();
}

#[tokio::test(flavor = "multi_thread")]
async fn http01_issues_serves_stores_and_reuses_after_restart() {
    issued_and_served("[acme.httpChallenge]\nentryPoint = \"http\"").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_alpn01_issues_and_serves() {
    issued_and_served("[acme.tlsChallenge]").await;
}

/// A CA that does not answer: tollgate starts, serves HTTP, logs the
/// failure with a retry delay and keeps running.
#[tokio::test(flavor = "multi_thread")]
async fn ca_down_does_not_stop_serving() {
    let dir = TempDir::new("acme-down");
    let backend = echo("still-here").await;
    let storage = dir.path().join("acme.json");
    let toml = format!(
        r#"defaultEntryPoints = ["http"]
[entryPoints.http]
address = "127.0.0.1:0"
[entryPoints.https]
address = "127.0.0.1:0"
  [entryPoints.https.tls]
[acme]
storage = "{storage}"
entryPoint = "https"
caServer = "https://127.0.0.1:{port}/dir"
[acme.httpChallenge]
entryPoint = "http"
[[acme.domains]]
main = "down.zumi.test"
[frontends.f]
backend = "b"
  [frontends.f.routes.r]
  rule = "PathPrefix:/"
[backends.b.servers.s]
url = "{url}"
"#,
        storage = storage.display(),
        port = closed_port(),
        url = backend.url(),
    );
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    let line = tg.wait_for_log("retry_in_secs", secs(20)).await;
    assert!(line.contains("acme"), "{line}");
    let echo = echo_of(http1().get(tg.url("http", "/x"))).await;
    assert_eq!(echo.server, "still-here");
    tg.assert_running();
}

/// Renewal: a reload sets `renewBefore` longer than pebble's certificate
/// lifetime, so every certificate is due; new ones are ordered and
/// installed in the running process, without a restart.
#[tokio::test(flavor = "multi_thread")]
async fn renewal_by_threshold_replaces_served_certificates() {
    if !have_pebble() {
        return;
    }
    let shared = TempDir::new("acme-renew");
    let (http_port, https_port) = (free_port(), free_port());
    let pebble = Pebble::start(&shared, http_port, https_port).await;
    let backend = echo("renewed").await;
    let storage = shared.path().join("acme.json");
    let toml = acme_config(
        http_port,
        https_port,
        &storage,
        &pebble,
        "[acme.httpChallenge]\nentryPoint = \"http\"",
        &backend.url(),
    );
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    tg.wait_for_log_count("acme: certificate obtained", 3, secs(60))
        .await;
    let client = TestTls::trusting(&pebble.root().await);
    let https: SocketAddr = format!("127.0.0.1:{https_port}").parse().unwrap();
    let before = client.leaf(https, "app.zumi.test").await.unwrap();

    let renewing = toml.replace(
        "acmeLogging = true",
        "acmeLogging = true\nrenewBefore = \"876000h\"",
    );
    std::fs::write(tg.config_path(), renewing).unwrap();
    tg.signal("HUP");
    tg.wait_for_log_count("acme: certificate obtained", 6, secs(60))
        .await;
    let after = eventually(secs(10), "renewed certificate served", || async {
        let leaf = client.leaf(https, "app.zumi.test").await.ok()?;
        (leaf != before).then_some(leaf)
    })
    .await;
    assert!(!after.is_empty());
    let (status, _) = client
        .get(https, "app.zumi.test", "app.zumi.test", "/")
        .await
        .unwrap();
    assert_eq!(status, 200);
    // The account was reused: created once.
    assert_eq!(tg.count_logs("acme: account created"), 1);
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&storage).unwrap()).unwrap();
    assert_eq!(stored["certificates"].as_array().unwrap().len(), 3);
    tg.assert_running();
}

/// `onHostRule`: a frontend added by a reload gets its certificate, in the
/// running process, while the others keep being served.
#[tokio::test(flavor = "multi_thread")]
async fn a_host_added_by_reload_gets_a_certificate() {
    if !have_pebble() {
        return;
    }
    let shared = TempDir::new("acme-reload");
    let (http_port, https_port) = (free_port(), free_port());
    let pebble = Pebble::start(&shared, http_port, https_port).await;
    let backend = echo("added").await;
    let storage = shared.path().join("acme.json");
    let toml = acme_config(
        http_port,
        https_port,
        &storage,
        &pebble,
        "[acme.httpChallenge]\nentryPoint = \"http\"",
        &backend.url(),
    );
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    tg.wait_for_log_count("acme: certificate obtained", 3, secs(60))
        .await;
    let client = TestTls::trusting(&pebble.root().await);
    let https: SocketAddr = format!("127.0.0.1:{https_port}").parse().unwrap();
    assert!(client
        .get(https, "new.zumi.test", "new.zumi.test", "/")
        .await
        .is_err());

    let added = format!(
        "{toml}[frontends.new]\nbackend = \"b\"\n  [frontends.new.routes.r]\n  rule = \"Host:new.zumi.test\"\n"
    );
    std::fs::write(tg.config_path(), added).unwrap();
    tg.signal("HUP");
    let line = tg
        .wait_for_log_count("acme: certificate obtained", 4, secs(60))
        .await;
    assert!(line.contains("new.zumi.test"), "{line}");
    let (status, body) = eventually(secs(10), "new host served", || async {
        client
            .get(https, "new.zumi.test", "new.zumi.test", "/")
            .await
            .ok()
    })
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = client
        .get(https, "app.zumi.test", "app.zumi.test", "/")
        .await
        .unwrap();
    assert_eq!(status, 200);
    // Only the new host was ordered.
    assert_eq!(tg.count_logs("acme: ordering a certificate"), 4);
}

/// The public key algorithm and size of a DER certificate.
pub fn public_key_of(der: &[u8]) -> (String, usize) {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("an X.509 certificate");
    match cert.public_key().parsed().expect("a known public key") {
        x509_parser::public_key::PublicKey::RSA(k) => ("RSA".to_string(), k.key_size()),
        x509_parser::public_key::PublicKey::EC(k) => ("EC".to_string(), k.key_size()),
        _ => ("other".to_string(), 0),
    }
}

/// `keyType = "RSA2048"`: the certificates pebble issues are for 2048-bit
/// RSA keys (the CSR is signed with one), and tollgate serves them.
#[tokio::test(flavor = "multi_thread")]
async fn rsa2048_key_type_issues_and_serves_rsa_certificates() {
    if !have_pebble() {
        return;
    }
    let shared = TempDir::new("acme-rsa");
    let (http_port, https_port) = (free_port(), free_port());
    let pebble = Pebble::start(&shared, http_port, https_port).await;
    let backend = echo("rsa-backend").await;
    let storage = shared.path().join("acme.json");
    let toml = acme_config(
        http_port,
        https_port,
        &storage,
        &pebble,
        "[acme.httpChallenge]\nentryPoint = \"http\"",
        &backend.url(),
    )
    .replace(
        "acmeLogging = true",
        "acmeLogging = true\nkeyType = \"RSA2048\"",
    );
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    tg.wait_for_log_count("acme: certificate obtained", 3, secs(60))
        .await;
    let client = TestTls::trusting(&pebble.root().await);
    let https: SocketAddr = format!("127.0.0.1:{https_port}").parse().unwrap();
    for host in ["app.zumi.test", "zumi.test", "www.zumi.test"] {
        let leaf = client.leaf(https, host).await.unwrap();
        assert_eq!(public_key_of(&leaf), ("RSA".to_string(), 2048), "{host}");
    }
    let (status, body) = client
        .get(https, "app.zumi.test", "app.zumi.test", "/")
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("rsa-backend"), "{body}");

    // Stored as PKCS#8 and served again after a restart.
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&storage).unwrap()).unwrap();
    for c in stored["certificates"].as_array().unwrap() {
        let key = c["key"].as_str().unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key:.40}");
    }
    let logs = tg.logs_text();
    assert!(!logs.contains("EC256"), "no fallback to EC: {logs}");
    tg.terminate().await;
    let _tg = Tollgate::start(&toml, &["http", "https"]).await;
    let leaf = eventually(secs(10), "stored RSA certificate served", || async {
        client.leaf(https, "shop.zumi.test").await.ok()
    })
    .await;
    assert_eq!(public_key_of(&leaf), ("RSA".to_string(), 2048));
}
