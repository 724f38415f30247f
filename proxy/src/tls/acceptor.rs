//! `[entryPoints.X.tls]` → a rustls `ServerConfig`: certificates into an SNI
//! resolver, protocol versions, cipher suites (Go names mapped to rustls
//! suites), client certificates (mutual TLS) and ALPN (`h2`, `http/1.1`).

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::resolver::{SniResolver, ACME_TLS_ALPN};
use super::store::{certified_key, CertStore};
use super::{pem, provider};
use crate::config::model::{TlsConfig, TlsVersion};
use crate::config::{ConfigError, Diagnostic};

/// A TLS entrypoint's server side: the config for its acceptor and the
/// resolver whose certificates can be replaced later.
#[derive(Debug, Clone)]
pub struct TlsServer {
    pub config: Arc<ServerConfig>,
    pub resolver: Arc<SniResolver>,
}

/// Build the TLS server of entrypoint `ep`. `acme_alpn` adds `acme-tls/1`
/// for TLS-ALPN-01 validation.
pub fn build(ep: &str, tls: &TlsConfig, acme_alpn: bool) -> Result<TlsServer, ConfigError> {
    let mut errors = Vec::new();
    let provider = match with_cipher_suites(&tls.cipher_suites) {
        Ok(p) => p,
        Err(why) => {
            errors.push(Diagnostic::at(
                tls.location.clone(),
                format!("entrypoint {ep:?}: {why}"),
            ));
            provider()
        }
    };
    let store = load_store(ep, tls, &provider, &mut errors);
    let verifier = match &tls.client_ca {
        None => None,
        Some(ca) => match client_verifier(ca, &provider) {
            Ok(v) => Some(v),
            Err(why) => {
                errors.push(Diagnostic::at(
                    tls.location.clone(),
                    format!("entrypoint {ep:?}: clientCA: {why}"),
                ));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ConfigError { errors });
    }

    let versions: &[&SupportedProtocolVersion] = match tls.min_version {
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        Some(TlsVersion::Tls12) | None => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| {
            ConfigError::one(Diagnostic::at(
                tls.location.clone(),
                format!("entrypoint {ep:?}: {e}"),
            ))
        })?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let resolver = Arc::new(SniResolver::new(store, tls.sni_strict));
    let mut config = builder.with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if acme_alpn {
        config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    Ok(TlsServer {
        config: Arc::new(config),
        resolver,
    })
}

/// Load every configured certificate, collecting one error per bad pair.
pub fn load_store(
    ep: &str,
    tls: &TlsConfig,
    provider: &CryptoProvider,
    errors: &mut Vec<Diagnostic>,
) -> CertStore {
    let mut store = CertStore::default();
    for pair in &tls.certificates {
        let loaded = pem::load_certs(&pair.cert).and_then(|chain| {
            let key = pem::load_key(&pair.key)?;
            certified_key(provider, chain, key).map_err(|e| {
                format!(
                    "{} with key {}: {e}",
                    pair.cert.describe(),
                    pair.key.describe()
                )
            })
        });
        match loaded {
            Ok((key, info)) => store.add(key, &info.names),
            Err(why) => errors.push(Diagnostic::at(
                pair.location.clone(),
                format!("entrypoint {ep:?}: {why}"),
            )),
        }
    }
    store
}

fn client_verifier(
    ca: &crate::config::model::ClientCa,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
    let mut roots = RootCertStore::empty();
    for file in &ca.files {
        for cert in pem::load_certs(file)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", file.describe()))?;
        }
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    let builder = if ca.optional {
        builder.allow_unauthenticated()
    } else {
        builder
    };
    builder.build().map_err(|e| e.to_string())
}

/// The default provider, restricted to the named TLS 1.2 suites (Go names).
/// TLS 1.3 suites stay, as in Go, where they cannot be configured either.
fn with_cipher_suites(names: &[String]) -> Result<Arc<CryptoProvider>, String> {
    let mut p = super::base_provider();
    if names.is_empty() {
        return Ok(Arc::new(p));
    }
    let all = p.cipher_suites.clone();
    let mut chosen: Vec<rustls::SupportedCipherSuite> = all
        .iter()
        .filter(|s| s.version() == &rustls::version::TLS13)
        .copied()
        .collect();
    for name in names {
        let wanted = go_suite_alias(name.trim());
        match all.iter().find(|s| format!("{:?}", s.suite()) == wanted) {
            Some(s) => {
                if !chosen.contains(s) {
                    chosen.push(*s)
                }
            }
            None => {
                let supported: Vec<String> = all
                    .iter()
                    .filter(|s| s.version() != &rustls::version::TLS13)
                    .map(|s| format!("{:?}", s.suite()))
                    .collect();
                return Err(format!(
                    "cipher suite {name:?} is not available in rustls (available: {})",
                    supported.join(", ")
                ));
            }
        }
    }
    p.cipher_suites = chosen;
    Ok(Arc::new(p))
}

/// Go spells the ChaCha suites with a `_SHA256` suffix in newer versions.
fn go_suite_alias(name: &str) -> String {
    match name {
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => {
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256".into()
        }
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_cipher_names_map_to_rustls_suites() {
        let p = with_cipher_suites(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()]).unwrap();
        let tls12: Vec<_> = p
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS12)
            .collect();
        assert_eq!(tls12.len(), 1);
        assert!(with_cipher_suites(&["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305".into()]).is_ok());
    }

    #[test]
    fn suites_rustls_lacks_are_refused_with_the_alternatives() {
        let err = with_cipher_suites(&["TLS_RSA_WITH_RC4_128_SHA".into()]).unwrap_err();
        assert!(err.contains("TLS_RSA_WITH_RC4_128_SHA"), "{err}");
        assert!(err.contains("available:"), "{err}");
    }
}
