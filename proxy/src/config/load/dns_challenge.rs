//! `[acme.dnsChallenge]` (Traefik 1.7): `provider`, `delayBeforeCheck`,
//! `resolvers`. The provider's own settings come from the environment, with
//! lego's names, as Traefik reads them; only `rfc2136` is offered:
//!
//! | variable | meaning |
//! |---|---|
//! | `RFC2136_NAMESERVER` | `host[:port]` of the authoritative server taking updates (required) |
//! | `RFC2136_TSIG_KEY`, `RFC2136_TSIG_SECRET` | the TSIG key's name and base64 secret (both, or neither: unsigned) |
//! | `RFC2136_TSIG_ALGORITHM` | `hmac-sha256.` (default), `hmac-sha384.`, `hmac-sha512.` |
//! | `RFC2136_TTL` | the TXT records' TTL, seconds (120) |
//! | `RFC2136_PROPAGATION_TIMEOUT`, `RFC2136_POLLING_INTERVAL` | seconds (60, 2) |
//! | `RFC2136_DNS_TIMEOUT` | seconds per exchange with the server (10) |
//!
//! Each may instead be given as `NAME_FILE`, a file holding the value (for
//! secrets kept out of the environment, e.g. systemd credentials). lego's
//! default algorithm is `hmac-sha1`, which tollgate does not sign with: a
//! SHA-1 key is refused here, naming the variable, rather than failing at
//! the name server.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use base64::Engine;

use crate::config::model::{DnsChallenge, Rfc2136, TsigAlgorithm, TsigKey};
use crate::config::tree::Node;

use super::values::{address_list, duration, name_server};

/// Reads the section; `env` looks a variable up (the process environment
/// in tollgate, a table in tests).
pub(super) fn read_dns_challenge(
    section: &Node<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<DnsChallenge> {
    let provider = section.get("provider");
    let delay_before_check = section
        .get("delayBeforeCheck")
        .and_then(|n| duration(&n))
        .unwrap_or_default();
    let resolvers = section
        .get("resolvers")
        .map(|n| address_list(&n, socket_addr))
        .unwrap_or_default();
    let Some(provider) = provider else {
        section.error("`provider` is required (tollgate offers \"rfc2136\")");
        return None;
    };
    let name = provider.str()?;
    if name != "rfc2136" {
        provider.error(format!(
            "DNS provider {name:?} is not supported: tollgate offers \"rfc2136\" (RFC 2136 dynamic updates, which BIND, Knot, PowerDNS and most authoritative servers take)"
        ));
        return None;
    }
    match rfc2136_from_env(env) {
        Ok(rfc2136) => Some(DnsChallenge {
            delay_before_check,
            resolvers,
            rfc2136,
        }),
        Err(why) => {
            provider.error(format!("rfc2136: {why}"));
            None
        }
    }
}

/// A name server's address (`values::name_server`), or a host name with
/// or without a port, as lego takes; port 53 when none is given.
fn socket_addr(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Some(addr) = name_server(text) {
        return Ok(addr);
    }
    let with_port = if text
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        text.to_owned()
    } else {
        format!("{text}:53")
    };
    with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("{text:?} is not a name server address such as \"10.0.0.53\" or \"ns1.example.com:53\""))
}

/// lego's `rfc2136` settings from the environment.
pub(super) fn rfc2136_from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Rfc2136, String> {
    let get = |name: &str| -> Result<Option<String>, String> {
        if let Some(v) = env(name).filter(|v| !v.is_empty()) {
            return Ok(Some(v));
        }
        let file_var = format!("{name}_FILE");
        match env(&file_var).filter(|v| !v.is_empty()) {
            Some(path) => std::fs::read_to_string(&path)
                .map(|v| Some(v.trim().to_owned()))
                .map_err(|e| format!("{file_var}: cannot read {path}: {e}")),
            None => Ok(None),
        }
    };
    let seconds = |name: &str, default: u64| -> Result<Duration, String> {
        match get(name)? {
            None => Ok(Duration::from_secs(default)),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("{name}={v:?}: expected a number of seconds")),
        }
    };
    let nameserver = get("RFC2136_NAMESERVER")?
        .ok_or("RFC2136_NAMESERVER is not set (the name server taking updates, \"host[:port]\")")?;
    let nameserver =
        socket_addr(&nameserver).map_err(|why| format!("RFC2136_NAMESERVER: {why}"))?;
    let key = get("RFC2136_TSIG_KEY")?;
    let secret = get("RFC2136_TSIG_SECRET")?;
    let tsig = match (key, secret) {
        (Some(name), Some(secret)) => {
            let algorithm = match get("RFC2136_TSIG_ALGORITHM")? {
                None => TsigAlgorithm::HmacSha256,
                Some(a) => tsig_algorithm(&a)?,
            };
            let secret = base64::engine::general_purpose::STANDARD
                .decode(secret.trim())
                .map_err(|_| "RFC2136_TSIG_SECRET is not base64".to_owned())?;
            let name = name.trim().trim_end_matches('.').to_ascii_lowercase() + ".";
            Some(TsigKey {
                name,
                algorithm,
                secret,
            })
        }
        (None, None) => None,
        _ => return Err("set both RFC2136_TSIG_KEY and RFC2136_TSIG_SECRET, or neither".into()),
    };
    let ttl = match get("RFC2136_TTL")? {
        None => 120,
        Some(v) => v
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("RFC2136_TTL={v:?}: expected a number of seconds"))?,
    };
    Ok(Rfc2136 {
        nameserver,
        tsig,
        ttl,
        propagation_timeout: seconds("RFC2136_PROPAGATION_TIMEOUT", 60)?,
        polling_interval: seconds("RFC2136_POLLING_INTERVAL", 2)?.max(Duration::from_millis(100)),
        dns_timeout: seconds("RFC2136_DNS_TIMEOUT", 10)?,
    })
}

fn tsig_algorithm(text: &str) -> Result<TsigAlgorithm, String> {
    let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
    match name.as_str() {
        "hmac-sha256" => Ok(TsigAlgorithm::HmacSha256),
        "hmac-sha384" => Ok(TsigAlgorithm::HmacSha384),
        "hmac-sha512" => Ok(TsigAlgorithm::HmacSha512),
        _ => Err(format!(
            "RFC2136_TSIG_ALGORITHM={text:?} is not supported: use hmac-sha256., hmac-sha384. or hmac-sha512. (SHA-1 and MD5 keys are not)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn lego_variables() {
        let r = rfc2136_from_env(&env(&[
            ("RFC2136_NAMESERVER", "127.0.0.1:5353"),
            ("RFC2136_TSIG_KEY", "Tollgate"),
            ("RFC2136_TSIG_SECRET", "c2l4dGVlbiBieXRlcyBvZiBrZXk="),
            ("RFC2136_TSIG_ALGORITHM", "hmac-sha512."),
            ("RFC2136_TTL", "30"),
            ("RFC2136_PROPAGATION_TIMEOUT", "5"),
        ]))
        .unwrap();
        assert_eq!(r.nameserver, "127.0.0.1:5353".parse().unwrap());
        let tsig = r.tsig.as_ref().unwrap();
        assert_eq!(tsig.name, "tollgate.");
        assert_eq!(tsig.algorithm, TsigAlgorithm::HmacSha512);
        assert_eq!(tsig.secret, b"sixteen bytes of key");
        assert!(
            !format!("{tsig:?}").contains("sixteen"),
            "the secret is never printed"
        );
        assert_eq!((r.ttl, r.propagation_timeout.as_secs()), (30, 5));
        assert_eq!(
            (r.polling_interval.as_secs(), r.dns_timeout.as_secs()),
            (2, 10)
        );

        // Defaults: port 53, no TSIG, hmac-sha256 when a key has no algorithm.
        let r = rfc2136_from_env(&env(&[("RFC2136_NAMESERVER", "10.0.0.53")])).unwrap();
        assert_eq!(r.nameserver, "10.0.0.53:53".parse().unwrap());
        assert!(r.tsig.is_none());
        let r = rfc2136_from_env(&env(&[
            ("RFC2136_NAMESERVER", "[::1]:53"),
            ("RFC2136_TSIG_KEY", "k"),
            ("RFC2136_TSIG_SECRET", "a2V5"),
        ]))
        .unwrap();
        assert_eq!(r.tsig.unwrap().algorithm, TsigAlgorithm::HmacSha256);
    }

    #[test]
    fn secrets_from_files() {
        let dir = std::env::temp_dir().join(format!("tollgate-dns01-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, "a2V5\n").unwrap();
        let path = file.display().to_string();
        let r = rfc2136_from_env(&env(&[
            ("RFC2136_NAMESERVER", "127.0.0.1"),
            ("RFC2136_TSIG_KEY", "k"),
            ("RFC2136_TSIG_SECRET_FILE", &path),
        ]))
        .unwrap();
        assert_eq!(r.tsig.unwrap().secret, b"key");
        let err = rfc2136_from_env(&env(&[
            ("RFC2136_NAMESERVER", "127.0.0.1"),
            ("RFC2136_TSIG_KEY", "k"),
            ("RFC2136_TSIG_SECRET_FILE", "/nonexistent/secret"),
        ]))
        .unwrap_err();
        assert!(err.contains("RFC2136_TSIG_SECRET_FILE"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_settings_name_their_variable() {
        for (vars, want) in [
            (vec![], "RFC2136_NAMESERVER is not set"),
            (
                vec![("RFC2136_NAMESERVER", "not a host!:x")],
                "RFC2136_NAMESERVER",
            ),
            (
                vec![
                    ("RFC2136_NAMESERVER", "127.0.0.1"),
                    ("RFC2136_TSIG_KEY", "k"),
                ],
                "both",
            ),
            (
                vec![
                    ("RFC2136_NAMESERVER", "127.0.0.1"),
                    ("RFC2136_TSIG_KEY", "k"),
                    ("RFC2136_TSIG_SECRET", "a2V5"),
                    ("RFC2136_TSIG_ALGORITHM", "hmac-sha1."),
                ],
                "hmac-sha1.",
            ),
            (
                vec![
                    ("RFC2136_NAMESERVER", "127.0.0.1"),
                    ("RFC2136_TSIG_KEY", "k"),
                    ("RFC2136_TSIG_SECRET", "not base64!"),
                ],
                "base64",
            ),
            (
                vec![("RFC2136_NAMESERVER", "127.0.0.1"), ("RFC2136_TTL", "-1")],
                "RFC2136_TTL",
            ),
            (
                vec![
                    ("RFC2136_NAMESERVER", "127.0.0.1"),
                    ("RFC2136_POLLING_INTERVAL", "2s"),
                ],
                "RFC2136_POLLING_INTERVAL",
            ),
        ] {
            let err = rfc2136_from_env(&env(&vars)).unwrap_err();
            assert!(err.contains(want), "{vars:?}: {err}");
        }
    }
}

#[cfg(test)]
mod file_tests {
    use crate::config::load::tests::errors;

    const ACME: &str = r#"
[entryPoints.https]
address = ":443"
  [entryPoints.https.tls]
[acme]
storage = "acme.json"
entryPoint = "https"
  [acme.dnsChallenge]
"#;

    #[test]
    fn only_rfc2136_is_offered_and_its_settings_are_required() {
        let errs = errors(&format!("{ACME}  provider = \"route53\"\n"));
        assert!(errs[0].contains("acme.dnsChallenge.provider"), "{errs:?}");
        assert!(errs[0].contains("\"route53\" is not supported"), "{errs:?}");
        let errs = errors(&format!("{ACME}  delayBeforeCheck = \"5s\"\n"));
        assert!(errs[0].contains("`provider` is required"), "{errs:?}");
        // The test process has no RFC2136_NAMESERVER.
        if std::env::var_os("RFC2136_NAMESERVER").is_none() {
            let errs = errors(&format!("{ACME}  provider = \"rfc2136\"\n"));
            assert!(
                errs[0].contains("RFC2136_NAMESERVER is not set"),
                "{errs:?}"
            );
        }
        let errs = errors(&format!(
            "{ACME}  provider = \"rfc2136\"\n  resolvers = [\"no such resolver!\"]\n"
        ));
        assert!(errs.iter().any(|e| e.contains("resolvers[0]")), "{errs:?}");
    }
}
