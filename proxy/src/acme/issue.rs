//! One order: account, challenges, CSR, certificate.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, ChallengeType, Identifier,
    NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::storage::{StoredAccount, StoredCert};
use super::AcmeState;
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
pub async fn issue(
    state: &Arc<AcmeState>,
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
    let mut tokens = Vec::new();
    let mut alpn_names = Vec::new();
    let result = async {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(format!("authorization is {other:?}")),
            }
            let kind = if use_http {
                ChallengeType::Http01
            } else {
                ChallengeType::TlsAlpn01
            };
            let mut challenge = authz
                .challenge(kind.clone())
                .ok_or_else(|| format!("the CA offers no {kind:?} challenge"))?;
            let key_auth = challenge.key_authorization();
            if use_http {
                state.put_token(&challenge.token, key_auth.as_str());
                tokens.push(challenge.token.clone());
            } else {
                let name = challenge.identifier().to_string();
                let cert = alpn_certificate(&name, key_auth.digest().as_ref())?;
                state.put_alpn(&name, cert);
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
        state.drop_token(t);
    }
    for n in &alpn_names {
        state.drop_alpn(n);
    }
    let retry = result?;

    let key = match config.key_type {
        AcmeKeyType::Ec384 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        AcmeKeyType::Ec256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        AcmeKeyType::Rsa2048 | AcmeKeyType::Rsa4096 => {
            tracing::warn!("acme keyType RSA is not available with the ring backend; using EC256");
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        }
    }
    .map_err(|e| format!("key generation: {e}"))?;
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

/// The self-signed TLS-ALPN-01 certificate (RFC 8737) for `name`.
fn alpn_certificate(name: &str, digest: &[u8]) -> Result<Arc<rustls::sign::CertifiedKey>, String> {
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
