//! Reading Traefik 1.7's `acme.json`, so that tollgate can take over a
//! Traefik installation's certificates.
//!
//! Traefik 1.7 writes its `StoredData` with Go's `encoding/json`, field
//! names as the JSON keys:
//!
//! ```json
//! {
//!   "Account": {
//!     "Email": "admin@example.com",
//!     "Registration": { "body": { "status": "valid" }, "uri": "https://…/acct/123" },
//!     "PrivateKey": "base64 DER (PKCS#1 RSA)",
//!     "KeyType": "4096"
//!   },
//!   "Certificates": [
//!     {
//!       "Domain": { "Main": "example.com", "SANs": ["www.example.com"] },
//!       "Certificate": "base64 of the PEM chain",
//!       "Key": "base64 of the PEM private key"
//!     }
//!   ],
//!   "HTTPChallenges": {},
//!   "TLSChallenges": {}
//! }
//! ```
//!
//! Go encodes `[]byte` as standard base64 and `nil` as `null`. The PEM key
//! is what lego wrote: `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY`
//! (SEC1), both of which rustls accepts as they are.
//!
//! Only the certificates are taken. The account cannot be: instant-acme
//! keeps its own credentials (an ECDSA P-256 key and its directory URLs),
//! while Traefik's account key is RSA; tollgate registers a new account at
//! its first order. The challenge maps are transient and ignored.

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::{Map, Value};

use super::record::StoredCert;

/// The top-level keys of Traefik 1.7's `StoredData`. tollgate's own format
/// uses lower-case keys, so any of these marks a Traefik file.
const KEYS: [&str; 4] = ["Account", "Certificates", "HTTPChallenges", "TLSChallenges"];

/// Whether a storage document is in Traefik 1.7's format.
pub fn is_traefik(doc: &Map<String, Value>) -> bool {
    KEYS.iter().any(|k| doc.contains_key(*k))
}

/// The name of a resolver if `doc` looks like a Traefik 2+ file, which
/// nests a 1.7-like document under each certificate resolver's name.
pub fn traefik2_resolver(doc: &Map<String, Value>) -> Option<&str> {
    doc.iter()
        .find(|(_, v)| v.as_object().is_some_and(is_traefik))
        .map(|(k, _)| k.as_str())
}

/// What a Traefik 1.7 file holds for tollgate.
#[derive(Debug)]
pub struct Imported {
    pub certificates: Vec<StoredCert>,
    /// Whether it had an account (which is not reused).
    pub had_account: bool,
}

/// The certificates of a Traefik 1.7 document. Entries without a
/// certificate or key are skipped (Traefik drops them too); anything
/// malformed is an error, so that the file is not overwritten, and its
/// certificates lost, by the next save.
pub fn parse(doc: &Map<String, Value>) -> Result<Imported, String> {
    let had_account = field(doc, "Account").is_some_and(|a| !a.is_null());
    let entries = match field(doc, "Certificates") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => &a[..],
        Some(_) => return Err("`Certificates` is not a list".to_string()),
    };
    let mut certificates = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let obj = match entry {
            Value::Null => continue,
            Value::Object(o) => o,
            _ => return Err(format!("Certificates[{i}] is not an object")),
        };
        let names = domain_names(obj).map_err(|e| format!("Certificates[{i}]: {e}"))?;
        let at = match names.first() {
            Some(main) => format!("Certificates[{i}] ({main})"),
            None => format!("Certificates[{i}]"),
        };
        let certificate = go_bytes(obj, "Certificate").map_err(|e| format!("{at}: {e}"))?;
        let key = go_bytes(obj, "Key").map_err(|e| format!("{at}: {e}"))?;
        if certificate.is_empty() || key.is_empty() {
            tracing::debug!("acme: Traefik acme.json: {at} has no certificate or key; skipped");
            continue;
        }
        let certificate = String::from_utf8(certificate)
            .map_err(|_| format!("{at}: `Certificate` is not PEM text"))?;
        let key = String::from_utf8(key).map_err(|_| format!("{at}: `Key` is not PEM text"))?;
        // `Domain` is what Traefik ordered; without it, what the
        // certificate says it covers.
        let domains = if names.is_empty() {
            certificate_names(&certificate)
        } else {
            names
        };
        certificates.push(StoredCert {
            domains,
            certificate,
            key,
        });
    }
    Ok(Imported {
        certificates,
        had_account,
    })
}

/// `obj[name]`, matched as Go's `encoding/json` does: the exact name
/// first, then case-insensitively.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A Go `[]byte` field: standard base64 (line breaks ignored, as Go's
/// decoder does), `null` or absent being empty.
fn go_bytes(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    match field(obj, name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => {
            let s: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("`{name}` is not base64: {e}"))
        }
        Some(_) => Err(format!("`{name}` is not a base64 string")),
    }
}

/// `Domain.Main` then `Domain.SANs`, lower-case, without duplicates.
fn domain_names(obj: &Map<String, Value>) -> Result<Vec<String>, String> {
    let domain = match field(obj, "Domain") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(d)) => d,
        Some(_) => return Err("`Domain` is not an object".to_string()),
    };
    let mut names = Vec::new();
    match field(domain, "Main") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => names.push(s.clone()),
        Some(_) => return Err("`Domain.Main` is not a string".to_string()),
    }
    match field(domain, "SANs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(sans)) => {
            for san in sans {
                match san {
                    Value::String(s) => names.push(s.clone()),
                    _ => return Err("`Domain.SANs` holds a non-string".to_string()),
                }
            }
        }
        Some(_) => return Err("`Domain.SANs` is not a list".to_string()),
    }
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let n = n.trim().trim_end_matches('.').to_ascii_lowercase();
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// The DNS names of the leaf of a PEM chain; empty if it does not parse
/// (serving it then fails with a warning that says why).
fn certificate_names(pem: &str) -> Vec<String> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .and_then(Result::ok)
        .and_then(|leaf| crate::tls::store::CertInfo::parse(&leaf).ok())
        .map(|info| info.names)
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD as B64;

    /// The key forms Go's `x509.Marshal*` + `pem.Encode` (lego) write.
    #[derive(Clone, Copy, Debug)]
    pub enum GoKey {
        /// `RSA PRIVATE KEY` (PKCS#1), 2048 bits.
        Rsa,
        /// `EC PRIVATE KEY` (SEC1), P-256, curve named in the key.
        Ec,
    }

    /// A certificate for `names` (self-signed, one year) and its key as
    /// PEM, in the form Traefik stores.
    pub fn go_certificate(names: &[&str], kind: GoKey) -> (String, String) {
        use rustls::pki_types::PrivatePkcs8KeyDer;
        let (pkcs8, alg, pem) = match kind {
            GoKey::Rsa => {
                use rsa::pkcs1::EncodeRsaPrivateKey;
                use rsa::pkcs8::EncodePrivateKey;
                let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
                let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
                let der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
                (der, &rcgen::PKCS_RSA_SHA256, pem.to_string())
            }
            GoKey::Ec => {
                use p256::elliptic_curve::Generate;
                use p256::pkcs8::EncodePrivateKey;
                let key = p256::SecretKey::try_generate_from_rng(&mut getrandom::SysRng).unwrap();
                let pem = key.to_sec1_pem(p256::pkcs8::LineEnding::LF).unwrap();
                let der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
                (der, &rcgen::PKCS_ECDSA_P256_SHA256, pem.to_string())
            }
        };
        let key =
            rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(pkcs8), alg)
                .unwrap();
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        let now = std::time::SystemTime::now();
        params.not_before = (now - std::time::Duration::from_secs(3600)).into();
        params.not_after = (now + std::time::Duration::from_secs(365 * 24 * 3600)).into();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), pem)
    }

    /// A Traefik 1.7 acme.json holding `certs` (Main, SANs, cert PEM, key PEM).
    pub fn traefik_json(certs: &[(&str, &[&str], &str, &str)]) -> String {
        let certificates: Vec<Value> = certs
            .iter()
            .map(|(main, sans, cert, key)| {
                serde_json::json!({
                    "Domain": {"Main": main, "SANs": sans},
                    "Certificate": B64.encode(cert),
                    "Key": B64.encode(key),
                })
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({
            "Account": {
                "Email": "admin@zumi.test",
                "Registration": {
                    "body": {"status": "valid", "contact": ["mailto:admin@zumi.test"]},
                    "uri": "https://acme-v02.api.letsencrypt.org/acme/acct/123456"
                },
                "PrivateKey": B64.encode(b"not used by tollgate"),
                "KeyType": "4096"
            },
            "Certificates": certificates,
            "HTTPChallenges": {},
            "TLSChallenges": {}
        }))
        .unwrap()
    }

    fn doc(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn reads_certificates_with_pkcs1_and_sec1_keys() {
        let (rsa_cert, rsa_key) = go_certificate(&["a.test", "www.a.test"], GoKey::Rsa);
        let (ec_cert, ec_key) = go_certificate(&["b.test"], GoKey::Ec);
        assert!(rsa_key.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(ec_key.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        let json = traefik_json(&[
            ("A.test", &["www.a.test"], &rsa_cert, &rsa_key),
            ("b.test", &[], &ec_cert, &ec_key),
        ]);
        let d = doc(&json);
        assert!(is_traefik(&d));
        let imported = parse(&d).unwrap();
        assert!(imported.had_account);
        assert_eq!(imported.certificates.len(), 2);
        let a = &imported.certificates[0];
        assert_eq!(a.domains, ["a.test", "www.a.test"]);
        assert_eq!(a.certificate, rsa_cert);
        assert_eq!(a.key, rsa_key);
        // Both key forms load as served certificates.
        for c in &imported.certificates {
            let (_, info) = super::super::issue::load_stored(c).unwrap();
            assert!(info.names.contains(&c.domains[0]), "{:?}", info.names);
        }
    }

    #[test]
    fn empty_entries_null_and_case_insensitive_keys() {
        let (cert, key) = go_certificate(&["c.test"], GoKey::Ec);
        // Lower-case keys (Go matches them), a null list entry, an entry
        // without key (dropped, as Traefik does), no Domain (names taken
        // from the certificate), SANs null.
        let json = serde_json::json!({
            "Account": null,
            "Certificates": [
                null,
                {"domain": {"main": "x.test", "sans": null}, "certificate": B64.encode(&cert), "key": null},
                {"Certificate": B64.encode(&cert), "Key": B64.encode(&key)},
            ],
            "HTTPChallenges": null,
            "TLSChallenges": null,
        })
        .to_string();
        let imported = parse(&doc(&json)).unwrap();
        assert!(!imported.had_account);
        assert_eq!(imported.certificates.len(), 1);
        assert_eq!(imported.certificates[0].domains, ["c.test"]);

        let none = parse(&doc(r#"{"Account": null, "Certificates": null}"#)).unwrap();
        assert!(none.certificates.is_empty());
        // Go's base64 decoder skips line breaks.
        let wrapped = B64.encode(&cert);
        let wrapped = format!("{}\r\n{}", &wrapped[..40], &wrapped[40..]);
        let json = serde_json::json!({"Certificates": [
            {"Domain": {"Main": "c.test"}, "Certificate": wrapped, "Key": B64.encode(&key)}
        ]})
        .to_string();
        assert_eq!(
            parse(&doc(&json)).unwrap().certificates[0].certificate,
            cert
        );
    }

    #[test]
    fn malformed_entries_are_errors_naming_the_entry() {
        let cases = [
            (r#"{"Certificates": {}}"#, "`Certificates` is not a list"),
            (
                r#"{"Certificates": [1]}"#,
                "Certificates[0] is not an object",
            ),
            (
                r#"{"Certificates": [{"Domain": {"Main": "a.test"}, "Certificate": "%%%", "Key": "QQ=="}]}"#,
                "Certificates[0] (a.test): `Certificate` is not base64",
            ),
            (
                r#"{"Certificates": [null, {"Domain": {"Main": "a.test"}, "Certificate": "QQ==", "Key": 7}]}"#,
                "Certificates[1] (a.test): `Key` is not a base64 string",
            ),
            (
                r#"{"Certificates": [{"Domain": {"Main": "a.test"}, "Certificate": "/w==", "Key": "QQ=="}]}"#,
                "`Certificate` is not PEM text",
            ),
            (
                r#"{"Certificates": [{"Domain": "a.test"}]}"#,
                "Certificates[0]: `Domain` is not an object",
            ),
            (
                r#"{"Certificates": [{"Domain": {"Main": "a", "SANs": [1]}}]}"#,
                "`Domain.SANs` holds a non-string",
            ),
        ];
        for (json, want) in cases {
            let err = parse(&doc(json)).unwrap_err();
            assert!(err.contains(want), "{json}: {err}");
        }
    }

    #[test]
    fn traefik2_file_is_recognised() {
        let d = doc(r#"{"letsencrypt": {"Account": null, "Certificates": []}}"#);
        assert!(!is_traefik(&d));
        assert_eq!(traefik2_resolver(&d), Some("letsencrypt"));
        assert_eq!(traefik2_resolver(&doc(r#"{"account": null}"#)), None);
    }
}
