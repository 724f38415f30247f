//! A TLS client with every knob the tests need (SNI, versions, ALPN, client
//! certificate), and plain HTTP requests over it with hyper.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::pki::Leaf;

pub struct TlsClient {
    pub roots: Vec<String>,
    pub versions: Vec<&'static SupportedProtocolVersion>,
    pub alpn: Vec<&'static [u8]>,
    pub client_cert: Option<(String, String)>,
    /// Accept any server certificate (to inspect which one was sent).
    pub insecure: bool,
}

impl TlsClient {
    pub fn trusting(ca_pem: &str) -> TlsClient {
        TlsClient {
            roots: vec![ca_pem.to_string()],
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
            alpn: vec![b"http/1.1"],
            client_cert: None,
            insecure: false,
        }
    }

    /// A client that accepts any certificate, to look at what the server sends.
    pub fn inspecting() -> TlsClient {
        TlsClient {
            insecure: true,
            ..TlsClient::trusting("")
        }
    }

    pub fn with_client_cert(mut self, leaf: &Leaf) -> TlsClient {
        self.client_cert = Some((leaf.cert_pem.clone(), leaf.key_pem.clone()));
        self
    }

    fn config(&self) -> ClientConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for pem in &self.roots {
            for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(c.unwrap()).unwrap();
            }
        }
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions)
            .unwrap();
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        } else {
            builder.with_root_certificates(roots)
        };
        let mut config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain: Vec<_> = CertificateDer::pem_slice_iter(cert.as_bytes())
                    .map(|c| c.unwrap())
                    .collect();
                let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
        };
        config.alpn_protocols = self.alpn.iter().map(|p| p.to_vec()).collect();
        config
    }

    /// Handshake with `sni` (the name the certificate is verified against).
    pub async fn connect(
        &self,
        addr: SocketAddr,
        sni: &str,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        self.connect_after(addr, sni, b"").await
    }

    /// `connect`, with `prefix` sent first in the clear (a PROXY header).
    pub async fn connect_after(
        &self,
        addr: SocketAddr,
        sni: &str,
        prefix: &[u8],
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let mut tcp = TcpStream::connect(addr).await?;
        tokio::io::AsyncWriteExt::write_all(&mut tcp, prefix).await?;
        let connector = TlsConnector::from(Arc::new(self.config()));
        let name = ServerName::try_from(sni.to_string()).unwrap();
        connector.connect(name, tcp).await
    }
}

/// GET `path` over an established TLS stream: HTTP/2 when ALPN chose h2.
/// Returns status, the HTTP version used, and the body.
pub async fn get(
    stream: TlsStream<TcpStream>,
    host: &str,
    path: &str,
) -> Result<(u16, http::Version, String), hyper::Error> {
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let io = TokioIo::new(stream);
    let req = http::Request::get(path)
        .header("host", host)
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = if h2 {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await?;
        tokio::spawn(conn);
        let uri: http::Uri = format!("https://{host}{path}").parse().unwrap();
        let (mut parts, body) = req.into_parts();
        parts.uri = uri;
        parts.headers.remove("host");
        send.send_request(http::Request::from_parts(parts, body))
            .await?
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        send.send_request(req).await?
    };
    let status = resp.status().as_u16();
    let version = resp.version();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, version, String::from_utf8_lossy(&body).into_owned()))
}

#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
