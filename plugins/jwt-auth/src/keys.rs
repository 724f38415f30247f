//! Verification keys and the three signature algorithms: HS256 (shared
//! secret), RS256 (RSA PKCS#1 v1.5 with SHA-256) and ES256 (ECDSA P-256
//! with SHA-256, signature as raw `r || s`).

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::signature::Verifier as _;
use p256::pkcs8::DecodePublicKey as _;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use serde::Deserialize;
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Hs256,
    Rs256,
    Es256,
}

impl Alg {
    pub fn parse(name: &str) -> Option<Alg> {
        match name {
            "HS256" => Some(Alg::Hs256),
            "RS256" => Some(Alg::Rs256),
            "ES256" => Some(Alg::Es256),
            _ => None,
        }
    }
}

/// One `keys` entry of the config.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyConfig {
    pub alg: String,
    /// Matched against the token's `kid` when both have one.
    #[serde(default)]
    pub kid: Option<String>,
    /// HS256: the secret as text...
    #[serde(default)]
    pub secret: Option<String>,
    /// ...or base64 (standard or URL alphabet).
    #[serde(default)]
    pub secret_base64: Option<String>,
    /// RS256 / ES256: PEM, `PUBLIC KEY` (SPKI) or, for RSA, `RSA PUBLIC KEY`.
    #[serde(default)]
    pub public_key: Option<String>,
}

enum Material {
    Hmac(Vec<u8>),
    Rsa(Box<rsa::pkcs1v15::VerifyingKey<Sha256>>),
    Ec(Box<p256::ecdsa::VerifyingKey>),
}

pub struct Key {
    pub alg: Alg,
    pub kid: Option<String>,
    material: Material,
}

impl Key {
    pub fn from_config(c: &KeyConfig) -> Result<Key, String> {
        let alg = Alg::parse(&c.alg)
            .ok_or_else(|| format!("key alg {:?}: only HS256, RS256 and ES256", c.alg))?;
        let material = match alg {
            Alg::Hs256 => {
                let secret = match (&c.secret, &c.secret_base64) {
                    (Some(s), None) => s.as_bytes().to_vec(),
                    (None, Some(b)) => decode_any_base64(b.trim())
                        .ok_or_else(|| "secretBase64 is not base64".to_string())?,
                    _ => return Err("an HS256 key needs one of secret, secretBase64".into()),
                };
                if secret.len() < 16 {
                    return Err("an HS256 secret must be at least 16 bytes".into());
                }
                Material::Hmac(secret)
            }
            Alg::Rs256 => {
                let pem = c
                    .public_key
                    .as_deref()
                    .ok_or("an RS256 key needs publicKey (PEM)")?;
                let key = rsa::PublicKey::from_public_key_pem(pem.trim())
                    .or_else(|_| rsa::PublicKey::from_pkcs1_pem(pem.trim()))
                    .map_err(|e| format!("RS256 publicKey: {e}"))?;
                Material::Rsa(Box::new(rsa::pkcs1v15::VerifyingKey::new(key)))
            }
            Alg::Es256 => {
                let pem = c
                    .public_key
                    .as_deref()
                    .ok_or("an ES256 key needs publicKey (PEM)")?;
                let key = p256::ecdsa::VerifyingKey::from_public_key_pem(pem.trim())
                    .map_err(|e| format!("ES256 publicKey: {e}"))?;
                Material::Ec(Box::new(key))
            }
        };
        Ok(Key {
            alg,
            kid: c.kid.clone(),
            material,
        })
    }

    /// Whether `signature` signs `input` under this key. Constant-time for
    /// HMAC; the public-key checks have no secret to leak.
    pub fn verify(&self, input: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            Material::Hmac(secret) => {
                let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
                    return false;
                };
                mac.update(input);
                mac.verify_slice(signature).is_ok()
            }
            Material::Rsa(key) => match rsa::pkcs1v15::Signature::try_from(signature) {
                Ok(sig) => key.verify(input, &sig).is_ok(),
                Err(_) => false,
            },
            Material::Ec(key) => match p256::ecdsa::Signature::from_slice(signature) {
                Ok(sig) => key.verify(input, &sig).is_ok(),
                Err(_) => false,
            },
        }
    }
}

/// Base64 in either alphabet, padded or not.
pub fn decode_any_base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [URL_SAFE_NO_PAD, URL_SAFE, STANDARD_NO_PAD, STANDARD]
        .iter()
        .find_map(|engine| engine.decode(s).ok())
}
