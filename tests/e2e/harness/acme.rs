//! The ACME fixtures shared by acme.rs and acme_traefik.rs: a real CA
//! (Debian's `pebble`, with `pebble-challtestsrv` as its DNS answering
//! 127.0.0.1 for every name), a TLS client trusting given roots, the
//! tollgate config that orders from it, and a certificate's key type.
//! A missing pebble fails the test that asks for one, saying how to install
//! it: it never passes silently.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use super::backends::free_port;
use super::process::TempDir;
use super::secs;

pub const PEBBLE: &str = "/usr/bin/pebble";
pub const CHALLTESTSRV: &str = "/usr/bin/pebble-challtestsrv";

/// Panics, naming what is missing and how to install it, unless both
/// pebble binaries are there. A test needing a CA must fail without one.
pub fn require_pebble() {
    let missing: Vec<&str> = [PEBBLE, CHALLTESTSRV]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "pebble is not installed: apt-get install pebble (.ci/run installs it); missing: {}",
        missing.join(", ")
    );
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
    /// Fails the test when pebble is not installed (see `require_pebble`).
    /// Its ports are picked free, then bound by pebble a moment later: when
    /// another test took one meanwhile, pebble exits, and is started again
    /// on new ones (its output, kept in `dir`, says why).
    pub async fn start(dir: &TempDir, http_port: u16, tls_port: u16) -> Pebble {
        Pebble::start_with_dns(dir, http_port, tls_port, None).await
    }

    /// Like `start`; with `dns`, pebble asks that server (a real
    /// authoritative one, for DNS-01) instead of starting challtestsrv.
    pub async fn start_with_dns(
        dir: &TempDir,
        http_port: u16,
        tls_port: u16,
        dns: Option<SocketAddr>,
    ) -> Pebble {
        require_pebble();
        for attempt in 1..=3 {
            if let Some(p) = Pebble::try_start(dir, http_port, tls_port, dns, attempt).await {
                return p;
            }
        }
        let log = std::fs::read_to_string(dir.path().join("pebble-3.log")).unwrap_or_default();
        panic!("pebble did not start in 3 attempts; its last output:\n{log}");
    }

    async fn try_start(
        dir: &TempDir,
        http_port: u16,
        tls_port: u16,
        dns: Option<SocketAddr>,
        attempt: u32,
    ) -> Option<Pebble> {
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
        let log = std::fs::File::create(dir.path().join(format!("pebble-{attempt}.log")))
            .expect("pebble log file");
        let mut children = Vec::new();
        let dns_server = match dns {
            Some(server) => server.to_string(),
            None => {
                let challtestsrv = Command::new(CHALLTESTSRV)
                    .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                    .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
                    .args(["-http01", "", "-tlsalpn01", "", "-https01", ""])
                    .args(["-management", &format!("127.0.0.1:{dns_mgmt}")])
                    .stdout(Stdio::null())
                    .stderr(log.try_clone().expect("log file"))
                    .spawn()
                    .expect("start pebble-challtestsrv");
                children.push(challtestsrv);
                format!("127.0.0.1:{dns_port}")
            }
        };
        let pebble = Command::new(PEBBLE)
            .arg("-config")
            .arg(&config_file)
            .args(["-dnsserver", &dns_server])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start pebble");
        children.push(pebble);
        let mut p = Pebble {
            children,
            port,
            mgmt_port,
            cert_file,
            cert_pem,
        };
        let client = TestTls::trusting(&p.cert_pem);
        let addr: SocketAddr = format!("127.0.0.1:{}", p.port).parse().unwrap();
        let deadline = std::time::Instant::now() + secs(20);
        loop {
            let served = client.get(addr, "localhost", "localhost", "/dir").await;
            if matches!(served, Ok((200, _))) {
                return Some(p);
            }
            let exited = p
                .children
                .iter_mut()
                .any(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited {
                p.stop();
                return None;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "pebble did not serve its directory within 20 s (attempt {attempt})"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
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

    /// Kills pebble and challtestsrv (the CA goes away).
    pub fn stop(&mut self) {
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

/// The public key algorithm and size of a DER certificate.
pub fn public_key_of(der: &[u8]) -> (String, usize) {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("an X.509 certificate");
    match cert.public_key().parsed().expect("a known public key") {
        x509_parser::public_key::PublicKey::RSA(k) => ("RSA".to_string(), k.key_size()),
        x509_parser::public_key::PublicKey::EC(k) => ("EC".to_string(), k.key_size()),
        _ => ("other".to_string(), 0),
    }
}
