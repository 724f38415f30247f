//! TLS-ALPN-01's challenge certificate (RFC 8737): made by the ordering
//! instance from its key authorization, and by every other instance of a
//! cluster from the published digest (`cluster`).

use std::sync::Arc;

use rustls::pki_types::PrivateKeyDer;

/// The self-signed TLS-ALPN-01 certificate (RFC 8737) for `name`.
pub fn certificate(name: &str, digest: &[u8]) -> Result<Arc<rustls::sign::CertifiedKey>, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(vec![name.to_string()]).map_err(|e| e.to_string())?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    let der = PrivateKeyDer::Pkcs8(key.serialize_der().into());
    // Our own fresh pair: no expiry or key/certificate checks needed.
    let signing_key = crate::tls::provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(rustls::sign::CertifiedKey::new(
        vec![cert.der().clone()],
        signing_key,
    )))
}
