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
//!
//! A Traefik 1.7 `acme.json` (see `traefik.rs`) is read too: its
//! certificates are served and reused exactly like these, and written in
//! the format above at the next save (the first order after an account is
//! registered: Traefik's account is not reusable). Until then the file is
//! not written. A file in neither format, or a malformed one, is an error
//! naming the file, and is never overwritten.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::record::{StoredAccount, StoredCert};
use super::traefik;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Storage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<StoredAccount>,
    #[serde(default)]
    pub certificates: Vec<StoredCert>,
    /// Read from a Traefik 1.7 `acme.json` (never written: `save` always
    /// writes tollgate's format).
    #[serde(skip)]
    pub from_traefik: Option<TraefikOrigin>,
}

/// What was taken from a Traefik 1.7 file, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraefikOrigin {
    /// It had an account, which tollgate cannot reuse.
    pub had_account: bool,
}

impl Storage {
    /// Read the file, in tollgate's or Traefik 1.7's format; a missing or
    /// empty file is an empty storage.
    pub fn load(path: &Path) -> Result<Storage, String> {
        match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Storage::default()),
            Ok(bytes) => Storage::parse(&bytes).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Storage::default()),
            Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
        }
    }

    /// A storage document in either format.
    pub fn parse(bytes: &[u8]) -> Result<Storage, String> {
        let doc: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
        let Some(map) = doc.as_object() else {
            return Err("not an ACME storage file (expected a JSON object)".to_string());
        };
        if traefik::is_traefik(map) {
            let imported = traefik::parse(map).map_err(|e| format!("Traefik acme.json: {e}"))?;
            return Ok(Storage {
                account: None,
                certificates: imported.certificates,
                from_traefik: Some(TraefikOrigin {
                    had_account: imported.had_account,
                }),
            });
        }
        // Anything else would be read as an empty storage and replaced by
        // the next save, losing what it holds: refuse it.
        if let Some(resolver) = traefik::traefik2_resolver(map) {
            return Err(format!(
                "a Traefik 2+ acme.json (resolver {resolver:?}): tollgate reads Traefik 1.7's format only"
            ));
        }
        let unknown: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .filter(|k| !matches!(*k, "account" | "certificates"))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "neither a tollgate nor a Traefik 1.7 ACME storage file (unknown keys {unknown:?})"
            ));
        }
        // From the bytes again, for errors with line and column.
        serde_json::from_slice(bytes).map_err(|e| format!("not a tollgate ACME storage file: {e}"))
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

    #[test]
    fn traefik_file_is_read_then_saved_in_tollgate_format() {
        use super::traefik::tests::{go_certificate, traefik_json, GoKey};
        let dir = std::env::temp_dir().join(format!("tollgate-acme-tr-{}", std::process::id()));
        let path = dir.join("acme.json");
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = go_certificate(&["t.test"], GoKey::Ec);
        std::fs::write(&path, traefik_json(&[("t.test", &[], &cert, &key)])).unwrap();

        let s = Storage::load(&path).unwrap();
        assert_eq!(s.from_traefik, Some(TraefikOrigin { had_account: true }));
        assert!(s.account.is_none());
        assert_eq!(s.certificates.len(), 1);
        assert_eq!(s.certificates[0].domains, ["t.test"]);

        s.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"certificates\"") && !text.contains("Certificates"),
            "{text}"
        );
        let back = Storage::load(&path).unwrap();
        assert_eq!(back.from_traefik, None);
        assert_eq!(back.certificates, s.certificates);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn unreadable_files_are_errors_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("tollgate-acme-bad-{}", std::process::id()));
        let path = dir.join("acme.json");
        std::fs::create_dir_all(&dir).unwrap();
        let cases = [
            ("{\"Account\": {", "not valid JSON"),
            ("[]", "expected a JSON object"),
            ("{\"certificates\": 5}", "not a tollgate ACME storage file"),
            ("{\"certs\": []}", "unknown keys [\"certs\"]"),
            (
                "{\"le\": {\"Account\": null, \"Certificates\": null}}",
                "Traefik 2+ acme.json (resolver \"le\")",
            ),
            (
                "{\"Certificates\": [{\"Certificate\": \"!\", \"Key\": \"\"}]}",
                "Traefik acme.json: Certificates[0]: `Certificate` is not base64",
            ),
        ];
        for (text, want) in cases {
            std::fs::write(&path, text).unwrap();
            let err = Storage::load(&path).unwrap_err();
            assert!(err.starts_with(&format!("{}: ", path.display())), "{err}");
            assert!(err.contains(want), "{text}: {err}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
