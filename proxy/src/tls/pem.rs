//! Reading PEM certificate chains and private keys, from a file or inline.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::model::PemSource;

/// The PEM text itself, from its file or inline.
pub fn read(src: &PemSource) -> Result<Vec<u8>, String> {
    match src {
        PemSource::Inline(text) => Ok(text.as_bytes().to_vec()),
        PemSource::File(path) => {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
    }
}

/// Every certificate in `src`, leaf first.
pub fn load_certs(src: &PemSource) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(src)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a valid PEM certificate: {e}", src.describe()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate found (expected a PEM \"CERTIFICATE\" block)",
            src.describe()
        ));
    }
    Ok(certs)
}

/// The private key in `src` (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub fn load_key(src: &PemSource) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = read(src)?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| format!("{}: no usable private key: {e}", src.describe()))
}
