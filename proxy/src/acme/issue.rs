//! One order: account, challenges, CSR, certificate.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, ChallengeType, Identifier,
    NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::challenges::{Challenges, Publish};
use super::dns01;
use super::record::{StoredAccount, StoredCert};
use super::rfc2136::{challenge_name, Provider};
use crate::config::model::{AcmeConfig, AcmeKeyType};
use crate::tls::store::certified_key;

type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    BodyWrapper<Bytes>,
>;

/// The HTTP client toward the CA: system roots, `caCertificates` and the
/// files listed in `LEGO_CA_CERTIFICATES` (separated by `,` or `:`).
pub fn http_client(config: &AcmeConfig) -> Result<HttpsClient, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    let mut files = config.ca_certificates.clone();
    if let Ok(env) = std::env::var("LEGO_CA_CERTIFICATES") {
        files.extend(
            env.split([',', ':'])
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().into()),
        );
    }
    for file in &files {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| format!("acme caCertificates {}: {e}", file.display()))?;
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("acme caCertificates {}: {e}", file.display()))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector),
    )
}

/// The stored account for this CA, or a new one (returned to be stored).
pub async fn account(
    config: &AcmeConfig,
    stored: Option<&StoredAccount>,
) -> Result<(Account, Option<StoredAccount>), String> {
    let client = http_client(config)?;
    if let Some(s) = stored.filter(|s| s.ca_server == config.ca_server) {
        let creds: AccountCredentials = serde_json::from_value(s.credentials.clone())
            .map_err(|e| format!("stored ACME account: {e}"))?;
        let account = Account::builder_with_http(Box::new(client))
            .from_credentials(creds)
            .await
            .map_err(|e| format!("ACME account (stored) at {}: {e}", config.ca_server))?;
        return Ok((account, None));
    }
    let contact = format!("mailto:{}", config.email);
    let contacts: Vec<&str> = if config.email.is_empty() {
        Vec::new()
    } else {
        vec![contact.as_str()]
    };
    let (account, creds) = Account::builder_with_http(Box::new(client))
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            config.ca_server.clone(),
            None,
        )
        .await
        .map_err(|e| format!("cannot create an ACME account at {}: {e}", config.ca_server))?;
    let credentials = serde_json::to_value(&creds).map_err(|e| e.to_string())?;
    Ok((
        account,
        Some(StoredAccount {
            email: config.email.clone(),
            ca_server: config.ca_server.clone(),
            credentials,
        }),
    ))
}

/// Run one order for `names` and return the certificate to store.
///
/// `board`: in a cluster, the ordering lock, whose holder publishes each
/// challenge answer for the other instances (see `cluster`).
pub async fn issue(
    challenges: &Challenges,
    board: Option<&dyn Publish>,
    config: &AcmeConfig,
    account: &Account,
    names: &[String],
) -> Result<StoredCert, String> {
    let ids: Vec<Identifier> = names.iter().map(|n| Identifier::Dns(n.clone())).collect();
    let mut order = account
        .new_order(&NewOrder::new(&ids))
        .await
        .map_err(|e| format!("new order: {e}"))?;
    let use_http = config.http_challenge.is_some();
    // As in Traefik 1.7: DNS-01 when configured, else HTTP-01, else TLS-ALPN-01.
    let dns = match &config.dns_challenge {
        Some(d) => Some((d, Provider::new(&d.rfc2136)?)),
        None => None,
    };
    let mut tokens = Vec::new();
    let mut alpn_names = Vec::new();
    let mut txt_records = Vec::new();
    let result = async {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(format!("authorization is {other:?}")),
            }
            let kind = if dns.is_some() {
                ChallengeType::Dns01
            } else if use_http {
                ChallengeType::Http01
            } else {
                ChallengeType::TlsAlpn01
            };
            let mut challenge = authz
                .challenge(kind.clone())
                .ok_or_else(|| format!("the CA offers no {kind:?} challenge"))?;
            let key_auth = challenge.key_authorization();
            if let Some((settings, provider)) = &dns {
                let name = challenge_name(&challenge.identifier().to_string());
                let value = key_auth.dns_value();
                provider.present(&name, &value).await?;
                txt_records.push((name.clone(), value.clone()));
                dns01::wait_until_visible(settings, provider, &name, &value).await?;
            } else if use_http {
                challenges.put_token(&challenge.token, key_auth.as_str());
                tokens.push(challenge.token.clone());
                if let Some(board) = board {
                    board.http01(&challenge.token, key_auth.as_str()).await?;
                }
            } else {
                let name = challenge.identifier().to_string();
                let cert = super::alpn::certificate(&name, key_auth.digest().as_ref())?;
                challenges.put_alpn(&name, cert);
                if let Some(board) = board {
                    board.tls_alpn01(&name, key_auth.digest().as_ref()).await?;
                }
                alpn_names.push(name);
            }
            challenge
                .set_ready()
                .await
                .map_err(|e| format!("challenge ready: {e}"))?;
        }
        let retry = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .timeout(Duration::from_secs(90));
        let status = order
            .poll_ready(&retry)
            .await
            .map_err(|e| format!("waiting for validation: {e}"))?;
        if status != OrderStatus::Ready {
            let why = order
                .state()
                .error
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default();
            return Err(format!("the order is {status:?} (validation failed) {why}"));
        }
        Ok(retry)
    }
    .await;
    for t in &tokens {
        challenges.drop_token(t);
    }
    for n in &alpn_names {
        challenges.drop_alpn(n);
    }
    if let Some((_, provider)) = &dns {
        for (name, value) in &txt_records {
            if let Err(why) = provider.cleanup(name, value).await {
                tracing::warn!(record = %name, why, "ACME DNS-01: the TXT record stays");
            }
        }
    }
    let retry = result?;

    // RSA generation takes from a fraction of a second to several seconds
    // (prime search): off the async workers, which keep serving meanwhile.
    let key_type = config.key_type;
    let key = tokio::task::spawn_blocking(move || new_key(key_type))
        .await
        .map_err(|e| format!("key generation: {e}"))??;
    let mut params =
        rcgen::CertificateParams::new(names.to_vec()).map_err(|e| format!("CSR: {e}"))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params
        .serialize_request(&key)
        .map_err(|e| format!("CSR: {e}"))?;
    order
        .finalize_csr(csr.der())
        .await
        .map_err(|e| format!("finalize: {e}"))?;
    let chain = order
        .poll_certificate(&retry)
        .await
        .map_err(|e| format!("certificate download: {e}"))?;
    Ok(StoredCert {
        domains: names.to_vec(),
        certificate: chain,
        key: key.serialize_pem(),
    })
}

/// A fresh private key of `key_type` for one certificate. CPU-heavy for
/// RSA: call it from a blocking thread.
pub fn new_key(key_type: AcmeKeyType) -> Result<rcgen::KeyPair, String> {
    let key = match key_type {
        AcmeKeyType::Ec256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        AcmeKeyType::Ec384 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        AcmeKeyType::Rsa2048 => return rsa_key(2048),
        AcmeKeyType::Rsa4096 => return rsa_key(4096),
    };
    key.map_err(|e| format!("{key_type:?} key generation: {e}"))
}

/// An RSA key pair of `bits`. ring (our only crypto backend) can sign with
/// an RSA key but not generate one, so the `rsa` crate generates it and
/// hands it over as PKCS#8; from there on ring does the signing (CSR here,
/// TLS handshakes in rustls), exactly as for a key read from a file.
fn rsa_key(bits: usize) -> Result<rcgen::KeyPair, String> {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, bits)
        .map_err(|e| format!("RSA{bits} key generation: {e}"))?;
    // Zeroized on drop; rcgen keeps its own copy for serialize_pem().
    let der = key
        .to_pkcs8_der()
        .map_err(|e| format!("RSA{bits} key encoding: {e}"))?;
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(der.as_bytes()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(|e| format!("RSA{bits} key: {e}"))
}

/// Parse a stored certificate into a signing key plus what it covers.
pub fn load_stored(
    cert: &StoredCert,
) -> Result<(Arc<rustls::sign::CertifiedKey>, crate::tls::store::CertInfo), String> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert.certificate.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("stored certificate for {:?}: {e}", cert.domains))?;
    if chain.is_empty() {
        return Err(format!(
            "stored certificate for {:?} is empty",
            cert.domains
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(cert.key.as_bytes())
        .map_err(|e| format!("stored key for {:?}: {e}", cert.domains))?;
    certified_key(&crate::tls::provider(), chain, key)
        .map_err(|e| format!("stored certificate for {:?}: {e}", cert.domains))
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    /// Public key algorithm and size of a key pair, read back from its
    /// SubjectPublicKeyInfo.
    fn key_bits(key: &rcgen::KeyPair) -> (&'static str, usize) {
        let der = rcgen::PublicKeyData::subject_public_key_info(key);
        let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&der).unwrap();
        match spki.parsed().unwrap() {
            x509_parser::public_key::PublicKey::RSA(rsa) => ("RSA", rsa.key_size()),
            x509_parser::public_key::PublicKey::EC(ec) => ("EC", ec.key_size()),
            _ => ("other", 0),
        }
    }

    #[test]
    fn ec_key_types() {
        assert_eq!(key_bits(&new_key(AcmeKeyType::Ec256).unwrap()), ("EC", 256));
        assert_eq!(key_bits(&new_key(AcmeKeyType::Ec384).unwrap()), ("EC", 384));
    }

    /// RSA2048: a real RSA key, which signs a CSR and which rustls (ring)
    /// accepts as a server key.
    #[test]
    fn rsa2048_key_signs_a_csr_and_serves() {
        let started = std::time::Instant::now();
        let key = new_key(AcmeKeyType::Rsa2048).unwrap();
        eprintln!("RSA2048 key generated in {:?}", started.elapsed());
        assert_eq!(key_bits(&key), ("RSA", 2048));
        assert!(std::ptr::eq(key.algorithm(), &rcgen::PKCS_RSA_SHA256));

        let mut params = rcgen::CertificateParams::new(vec!["rsa.test".to_string()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params.serialize_request(&key).unwrap();
        let (_, parsed) =
            x509_parser::certification_request::X509CertificationRequest::from_der(csr.der())
                .unwrap();
        assert_eq!(
            parsed.signature_algorithm.algorithm,
            x509_parser::oid_registry::OID_PKCS1_SHA256WITHRSA
        );

        // As stored (PEM PKCS#8) and served: a self-signed certificate
        // stands in for the CA's.
        let cert = params.self_signed(&key).unwrap();
        let stored = StoredCert {
            domains: vec!["rsa.test".to_string()],
            certificate: cert.pem(),
            key: key.serialize_pem(),
        };
        assert!(stored.key.starts_with("-----BEGIN PRIVATE KEY-----"));
        let (_, info) = load_stored(&stored).unwrap();
        assert_eq!(info.names, ["rsa.test"]);
    }

    #[test]
    fn rsa4096_key_has_4096_bits() {
        let started = std::time::Instant::now();
        let key = new_key(AcmeKeyType::Rsa4096).unwrap();
        eprintln!("RSA4096 key generated in {:?}", started.elapsed());
        assert_eq!(key_bits(&key), ("RSA", 4096));
    }
}
