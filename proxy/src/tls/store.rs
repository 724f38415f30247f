//! An immutable set of server certificates, looked up by SNI name.
//!
//! Names come from each certificate's DNS subject alternative names (the
//! common name only when there are none, as browsers do). `*.example.com`
//! matches exactly one label (`a.example.com`, not `a.b.example.com`). The
//! first certificate added is the default for clients that send no SNI or an
//! unknown name (unless the entrypoint is `sniStrict`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

#[derive(Debug, Default, Clone)]
pub struct CertStore {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Keyed by the part after `*.`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

/// What a certificate says about itself, for checks and logs.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub names: Vec<String>,
    /// Seconds since the Unix epoch.
    pub not_after: i64,
}

impl CertInfo {
    pub fn parse(cert: &CertificateDer<'_>) -> Result<CertInfo, String> {
        let (_, x509) = x509_parser::parse_x509_certificate(cert.as_ref())
            .map_err(|e| format!("cannot parse certificate: {e}"))?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = x509.subject_alternative_name() {
            for n in &san.value.general_names {
                if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                    names.push(d.to_ascii_lowercase());
                }
            }
        }
        if names.is_empty() {
            for cn in x509.subject().iter_common_name() {
                if let Ok(s) = cn.as_str() {
                    names.push(s.to_ascii_lowercase());
                }
            }
        }
        Ok(CertInfo {
            names,
            not_after: x509.validity().not_after.timestamp(),
        })
    }

    /// Seconds until expiry (negative once expired).
    pub fn remaining_secs(&self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.not_after - now
    }
}

/// Pair a chain with its key, refusing a key that does not belong to the
/// certificate and a certificate that has expired.
pub fn certified_key(
    provider: &CryptoProvider,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<(Arc<CertifiedKey>, CertInfo), String> {
    let info = CertInfo::parse(&chain[0])?;
    if info.remaining_secs() <= 0 {
        let when = x509_parser::time::ASN1Time::from_timestamp(info.not_after)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| info.not_after.to_string());
        return Err(format!(
            "certificate for {:?} expired on {when}",
            info.names
        ));
    }
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("unsupported private key: {e}"))?;
    let ck = CertifiedKey::new(chain, signing_key);
    ck.keys_match()
        .map_err(|_| "the private key does not match the certificate".to_string())?;
    Ok((Arc::new(ck), info))
}

impl CertStore {
    /// Add a certificate under its names. Later additions for an existing name
    /// replace the earlier one (an ACME renewal replaces the old certificate).
    pub fn add(&mut self, key: Arc<CertifiedKey>, names: &[String]) {
        if self.default.is_none() {
            self.default = Some(key.clone());
        }
        for name in names {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            match name.strip_prefix("*.") {
                Some(suffix) => self.wildcard.insert(suffix.to_string(), key.clone()),
                None => self.exact.insert(name, key.clone()),
            };
        }
    }

    pub fn is_empty(&self) -> bool {
        self.default.is_none()
    }

    /// Has a certificate whose names cover `name` (exactly or by wildcard)?
    pub fn covers(&self, name: &str) -> bool {
        self.lookup(name).is_some()
    }

    /// The certificate for `sni`: exact name, then wildcard.
    pub fn lookup(&self, sni: &str) -> Option<&Arc<CertifiedKey>> {
        let sni = sni.trim_end_matches('.');
        // SNI arrives lowercased from rustls, but be safe without allocating
        // in the common case.
        let lowered;
        let sni = if sni.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = sni.to_ascii_lowercase();
            lowered.as_str()
        } else {
            sni
        };
        if let Some(k) = self.exact.get(sni) {
            return Some(k);
        }
        let (_, parent) = sni.split_once('.')?;
        self.wildcard.get(parent)
    }

    pub fn default_key(&self) -> Option<&Arc<CertifiedKey>> {
        self.default.as_ref()
    }

    /// Each certificate once, with its names and expiry (for the status
    /// API and metrics; parses every certificate, so not for requests).
    pub fn certificates(&self) -> Vec<CertInfo> {
        let mut seen: Vec<*const CertifiedKey> = Vec::new();
        let mut out = Vec::new();
        for key in self
            .default
            .iter()
            .chain(self.exact.values())
            .chain(self.wildcard.values())
        {
            let ptr = Arc::as_ptr(key);
            if seen.contains(&ptr) {
                continue;
            }
            seen.push(ptr);
            if let Some(info) = key
                .end_entity_cert()
                .ok()
                .and_then(|c| CertInfo::parse(c).ok())
            {
                out.push(info);
            }
        }
        out.sort_by(|a, b| a.names.cmp(&b.names));
        out
    }
}
