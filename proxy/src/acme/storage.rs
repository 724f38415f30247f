//! The ACME storage file (`[acme] storage`).
//!
//! A JSON document, written atomically (a temporary file renamed over the
//! old one) with mode 0600 because it holds private keys:
//!
//! ```json
//! {
//!   "account": {
//!     "email": "admin@example.com",
//!     "caServer": "https://acme-v02.api.letsencrypt.org/directory",
//!     "credentials": { "id": "https://…/acct/1", "key_pkcs8": "base64 DER", "directory": "https://…" }
//!   },
//!   "certificates": [
//!     {
//!       "domains": ["example.com", "www.example.com"],
//!       "certificate": "-----BEGIN CERTIFICATE-----\n… (leaf first, then the chain)",
//!       "key": "-----BEGIN PRIVATE KEY-----\n… (PKCS#8)"
//!     }
//!   ]
//! }
//! ```
//!
//! `credentials` is instant-acme's `AccountCredentials`, kept as is. The
//! account is reused while `caServer` is unchanged; a certificate is reused
//! (at start and after every reload) until it is within `renewBefore` of
//! expiry, and replaced in place when renewed.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Storage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<StoredAccount>,
    #[serde(default)]
    pub certificates: Vec<StoredCert>,
}

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
    /// PEM PKCS#8 private key.
    pub key: String,
}

impl Storage {
    /// Read the file; a missing or empty file is an empty storage.
    pub fn load(path: &Path) -> Result<Storage, String> {
        match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Storage::default()),
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{}: not a tollgate ACME storage file: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Storage::default()),
            Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
        }
    }

    /// Write the file atomically, mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("tmp~");
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
            f.write_all(&json)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| format!("{}: cannot write: {e}", path.display()))
    }

    /// Put `cert` in place of the stored certificate for the same domains.
    pub fn upsert(&mut self, cert: StoredCert) {
        let mut wanted = cert.domains.clone();
        wanted.sort();
        self.certificates.retain(|c| {
            let mut d = c.domains.clone();
            d.sort();
            d != wanted
        });
        self.certificates.push(cert);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_with_mode_0600_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("tollgate-acme-{}", std::process::id()));
        let path = dir.join("acme.json");
        assert!(Storage::load(&path).unwrap().certificates.is_empty());
        let mut s = Storage::default();
        s.upsert(StoredCert {
            domains: vec!["a".into(), "b".into()],
            certificate: "c1".into(),
            key: "k1".into(),
        });
        s.upsert(StoredCert {
            domains: vec!["b".into(), "a".into()],
            certificate: "c2".into(),
            key: "k2".into(),
        });
        s.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let back = Storage::load(&path).unwrap();
        assert_eq!(back.certificates.len(), 1);
        assert_eq!(back.certificates[0].certificate, "c2");
        let _ = std::fs::remove_dir_all(dir);
    }
}
