//! The records of the ACME storage file: the account and each certificate
//! with its key (read and written by `storage`, imported by `traefik`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredAccount {
    pub email: String,
    pub ca_server: String,
    pub credentials: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredCert {
    pub domains: Vec<String>,
    /// PEM chain, leaf first.
    pub certificate: String,
    /// PEM private key: PKCS#8 when issued by tollgate; PKCS#1 (`RSA
    /// PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) as taken from Traefik.
    pub key: String,
}
