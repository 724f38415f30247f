//! `[acme]` → `AcmeConfig` (Traefik 1.7 keys).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::model::{AcmeConfig, AcmeKeyType, EntryPoint};
use crate::config::tree::Node;

use super::dns_challenge::read_dns_challenge;
use super::entry_points::tls_entry_point;
use super::values::positive_duration;

/// Let's Encrypt production, Traefik's default `caServer`.
pub const DEFAULT_CA_SERVER: &str = "https://acme-v02.api.letsencrypt.org/directory";

pub(super) fn read_acme(
    root: &Node<'_>,
    path: &Path,
    entry_points: &BTreeMap<String, EntryPoint>,
) -> Option<AcmeConfig> {
    let section = root.section("acme")?;
    let entry_point = tls_entry_point(&section, entry_points, "the TLS entrypoint")?;
    let on_host_rule = section
        .get("onHostRule")
        .and_then(|n| n.bool())
        .unwrap_or(false);
    let domains = section
        .get("domains")
        .map(|list| read_domains(&list))
        .unwrap_or_default();
    let mut acme = read_account(&section, path, entry_points)?;
    acme.entry_point = entry_point;
    acme.on_host_rule = on_host_rule;
    acme.domains = domains;
    Some(acme)
}

/// A list of `main` and `sans` (1.7's `[[acme.domains]]`, a 2/3 router's
/// `tls.domains`): one certificate's names each, main first, lower-case.
pub(super) fn read_domains(list: &Node<'_>) -> Vec<Vec<String>> {
    let mut domains = Vec::new();
    for d in list.table_list() {
        let mut names = Vec::new();
        if let Some(main) = d.get("main").and_then(|n| n.str().map(str::to_owned)) {
            names.push(main.to_ascii_lowercase());
        }
        for san in d.get("sans").and_then(|n| n.str_list()).unwrap_or_default() {
            names.push(san.to_ascii_lowercase());
        }
        if names.is_empty() {
            d.error("`main` is required");
        } else {
            domains.push(names);
        }
    }
    domains
}

/// What 1.7's `[acme]` and 2/3's `certificatesResolvers.NAME.acme` write
/// the same way: the account, the CA and the challenges. Which entry point
/// serves the certificates and for which names is left empty for the
/// caller.
pub(super) fn read_account(
    section: &Node<'_>,
    path: &Path,
    entry_points: &BTreeMap<String, EntryPoint>,
) -> Option<AcmeConfig> {
    let base = path.parent().unwrap_or(Path::new(""));
    let resolve = |s: &str| -> PathBuf {
        let p = PathBuf::from(s);
        if p.is_absolute() {
            p
        } else {
            base.join(p)
        }
    };
    let email = section
        .get("email")
        .and_then(|n| n.str().map(str::to_owned))
        .unwrap_or_default();
    let written = section
        .get("storage")
        .and_then(|n| n.str().map(str::to_owned));
    let storage = match &written {
        Some(s) if !s.is_empty() => resolve(s),
        _ => {
            section.error("`storage` (a JSON file) is required");
            return None;
        }
    };
    let ca_server = section
        .get("caServer")
        .and_then(|n| n.str().map(str::to_owned))
        .unwrap_or_else(|| DEFAULT_CA_SERVER.to_owned());
    let ca_certificates = section
        .get("caCertificates")
        .and_then(|n| n.str_list())
        .unwrap_or_default()
        .iter()
        .map(|s| resolve(s))
        .collect();
    let acme_logging = section
        .get("acmeLogging")
        .and_then(|n| n.bool())
        .unwrap_or(false);
    let http_challenge = section.section("httpChallenge").and_then(|n| {
        let ep = n.get("entryPoint");
        match ep.as_ref().and_then(|e| e.str()) {
            Some(s) => {
                if !entry_points.contains_key(s) {
                    ep.as_ref()?.error(format!("no entrypoint {s:?}"));
                }
                Some(s.to_owned())
            }
            None => {
                n.error("`entryPoint` is required");
                None
            }
        }
    });
    let tls_challenge = section.section("tlsChallenge").is_some();
    let dns_challenge = section
        .section("dnsChallenge")
        .and_then(|n| read_dns_challenge(&n, &|name| std::env::var(name).ok()));
    let key_type = match section.get("keyType") {
        None => AcmeKeyType::Ec256,
        Some(n) => match n.str() {
            Some("EC256") | Some("") => AcmeKeyType::Ec256,
            Some("EC384") => AcmeKeyType::Ec384,
            Some("RSA2048") => AcmeKeyType::Rsa2048,
            Some("RSA4096") => AcmeKeyType::Rsa4096,
            Some(other) => {
                n.error(format!(
                    "{other:?} is not one of EC256, EC384, RSA2048, RSA4096"
                ));
                AcmeKeyType::Ec256
            }
            None => AcmeKeyType::Ec256,
        },
    };
    let renew_before = section
        .get("renewBefore")
        .and_then(|n| positive_duration(&n))
        .unwrap_or(Duration::from_secs(30 * 24 * 3600));
    if http_challenge.is_none() && !tls_challenge && dns_challenge.is_none() {
        section.warn(
            "none of httpChallenge, tlsChallenge, dnsChallenge: no certificate can be issued",
        );
    }
    Some(AcmeConfig {
        email,
        storage,
        storage_key: written.unwrap_or_default(),
        entry_point: String::new(),
        on_host_rule: false,
        host_rule_frontends: None,
        ca_server,
        ca_certificates,
        acme_logging,
        http_challenge,
        tls_challenge,
        dns_challenge,
        domains: Vec::new(),
        key_type,
        renew_before,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::model::AcmeKeyType;

    fn load(text: &str) -> crate::config::Config {
        crate::config::load_str(Path::new("/etc/tollgate/t.toml"), text).expect("valid config")
    }

    #[test]
    fn reads_traefik_keys() {
        let config = load(
            r#"
[entryPoints.http]
address = ":80"
[entryPoints.https]
address = ":443"
  [entryPoints.https.tls]
[acme]
email = "a@b.c"
storage = "acme.json"
entryPoint = "https"
onHostRule = true
caServer = "https://ca/dir"
caCertificates = ["ca.pem"]
acmeLogging = true
keyType = "EC384"
renewBefore = "240h"
[acme.httpChallenge]
entryPoint = "http"
[acme.tlsChallenge]
[[acme.domains]]
main = "Example.com"
sans = ["www.example.com"]
[[acme.domains]]
main = "other.org"
"#,
        );
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let acme = config.acme.expect("[acme]");
        assert_eq!(acme.email, "a@b.c");
        assert_eq!(acme.storage, Path::new("/etc/tollgate/acme.json"));
        assert_eq!(acme.entry_point, "https");
        assert!(acme.on_host_rule && acme.acme_logging && acme.tls_challenge);
        assert_eq!(acme.ca_server, "https://ca/dir");
        assert_eq!(acme.ca_certificates, [Path::new("/etc/tollgate/ca.pem")]);
        assert_eq!(acme.http_challenge.as_deref(), Some("http"));
        assert_eq!(acme.key_type, AcmeKeyType::Ec384);
        assert_eq!(acme.renew_before, Duration::from_secs(240 * 3600));
        assert_eq!(
            acme.domains,
            [
                vec!["example.com".to_string(), "www.example.com".to_string()],
                vec!["other.org".to_string()]
            ]
        );
    }

    #[test]
    fn defaults_and_errors() {
        let config = load(
            "[entryPoints.http]\naddress = \":80\"\n[entryPoints.https]\naddress = \":443\"\n[entryPoints.https.tls]\n[acme]\nstorage = \"/var/acme.json\"\nentryPoint = \"https\"\n[acme.httpChallenge]\nentryPoint = \"http\"\n",
        );
        let acme = config.acme.unwrap();
        assert_eq!(acme.ca_server, super::DEFAULT_CA_SERVER);
        assert_eq!(acme.key_type, AcmeKeyType::Ec256);
        assert_eq!(acme.renew_before, Duration::from_secs(30 * 24 * 3600));

        for (name, want) in [
            ("RSA2048", AcmeKeyType::Rsa2048),
            ("RSA4096", AcmeKeyType::Rsa4096),
        ] {
            let config = load(&format!(
                "[entryPoints.https]\naddress = \":443\"\n[entryPoints.https.tls]\n[acme]\nstorage = \"a.json\"\nentryPoint = \"https\"\nkeyType = \"{name}\"\n[acme.tlsChallenge]\n"
            ));
            assert!(config.warnings.is_empty(), "{:?}", config.warnings);
            assert_eq!(config.acme.unwrap().key_type, want);
        }

        let err = crate::config::load_str(Path::new("t.toml"), "[acme]\nentryPoint = \"https\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("storage"), "{err}");
        let err = crate::config::load_str(
            Path::new("t.toml"),
            "[acme]\nstorage = \"a.json\"\nentryPoint = \"https\"\nkeyType = \"DSA\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("keyType"), "{err}");
        let err = crate::config::load_str(
            Path::new("t.toml"),
            "[entryPoints.http]\naddress = \":80\"\n[acme]\nstorage = \"a.json\"\nentryPoint = \"http\"\n[acme.httpChallenge]\nentryPoint = \"web\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("has no [entryPoints.http.tls]"), "{err}");
        assert!(err.contains("no entrypoint \"web\""), "{err}");
    }
}
