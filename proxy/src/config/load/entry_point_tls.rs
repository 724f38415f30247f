//! Reading `[entryPoints.X.tls]` and `[entryPoints.X.redirect]`.
//!
//! Only the shape of the values is checked here; whether certificate files
//! exist, parse and match their keys is checked when the TLS server is built
//! (`tls::acceptor`), which `tollgate check` runs too.

use std::path::Path;

use crate::config::model::{CertificatePair, ClientCa, PemSource, Redirect, TlsConfig, TlsVersion};
use crate::config::tree::Node;

/// `[entryPoints.X.tls]`. Certificate paths are relative to the config
/// file's folder, so a config works whatever the working directory.
pub(super) fn read_tls(node: &Node<'_>, config_path: &Path) -> Option<TlsConfig> {
    if !node.expect_table() {
        return None;
    }
    let base = config_path.parent().unwrap_or(Path::new(""));
    let certificates = node
        .get("certificates")
        .map(|list| {
            list.table_list()
                .iter()
                .filter_map(|pair| read_pair(pair, base))
                .collect()
        })
        .unwrap_or_default();
    let (min_version, cipher_suites, sni_strict) = read_versions_and_suites(node);
    let client_ca = read_client_ca(node, base);
    Some(TlsConfig {
        certificates,
        min_version,
        cipher_suites,
        client_ca,
        sni_strict,
        location: node.location(),
    })
}

/// `minVersion`, `cipherSuites` and `sniStrict`, written alike in 1.7's
/// `[entryPoints.X.tls]` and 2/3's `tls.options.NAME`.
pub(super) fn read_versions_and_suites(node: &Node<'_>) -> (Option<TlsVersion>, Vec<String>, bool) {
    let min_version = node.get("minVersion").and_then(|n| read_min_version(&n));
    let cipher_suites = node
        .get("cipherSuites")
        .and_then(|n| n.str_list())
        .unwrap_or_default();
    let sni_strict = node
        .get("sniStrict")
        .and_then(|n| n.bool())
        .unwrap_or(false);
    (min_version, cipher_suites, sni_strict)
}

pub(super) fn read_pair(node: &Node<'_>, base: &Path) -> Option<CertificatePair> {
    if !node.expect_table() {
        return None;
    }
    let cert = required_pem(node, "certFile", base);
    let key = required_pem(node, "keyFile", base);
    Some(CertificatePair {
        cert: cert?,
        key: key?,
        location: node.location(),
    })
}

fn required_pem(node: &Node<'_>, key: &'static str, base: &Path) -> Option<PemSource> {
    match node.get(key) {
        Some(value) => value.str().map(|s| PemSource::from_config(s, base)),
        None => {
            node.tree().error(
                node.missing_location(key),
                format!("missing: a certificate needs {key} (a PEM file path or the PEM itself)"),
            );
            None
        }
    }
}

fn read_min_version(node: &Node<'_>) -> Option<TlsVersion> {
    match node.str()? {
        "VersionTLS12" => Some(TlsVersion::Tls12),
        "VersionTLS13" => Some(TlsVersion::Tls13),
        old @ ("VersionTLS10" | "VersionTLS11") => {
            node.warn(format!(
                "{old} is not offered by rustls (TLS 1.0 and 1.1 are insecure): TLS 1.2 is the minimum"
            ));
            Some(TlsVersion::Tls12)
        }
        other => {
            node.error(format!(
                "unknown TLS version {other:?} (expected VersionTLS12 or VersionTLS13)"
            ));
            None
        }
    }
}

/// `[entryPoints.X.tls.clientCA] files, optional`, or 1.7's older flat
/// `clientCAFiles = [...]`.
fn read_client_ca(node: &Node<'_>, base: &Path) -> Option<ClientCa> {
    let pems = |list: Vec<String>| -> Vec<PemSource> {
        list.iter()
            .map(|f| PemSource::from_config(f, base))
            .collect()
    };
    if let Some(section) = node.section("clientCA") {
        let files = section
            .get("files")
            .and_then(|n| n.str_list())
            .map(pems)
            .unwrap_or_default();
        let optional = section
            .get("optional")
            .and_then(|n| n.bool())
            .unwrap_or(false);
        if files.is_empty() {
            section.error("clientCA needs at least one CA file in `files`");
            return None;
        }
        return Some(ClientCa { files, optional });
    }
    let flat = node.get("clientCAFiles")?;
    let files = pems(flat.str_list()?);
    (!files.is_empty()).then_some(ClientCa {
        files,
        optional: false,
    })
}

/// `[entryPoints.X.redirect]`: `entryPoint`, or `regex` + `replacement`; `permanent`.
pub(super) fn read_redirect(node: &Node<'_>) -> Option<Redirect> {
    if !node.expect_table() {
        return None;
    }
    let entry_point = node
        .get("entryPoint")
        .and_then(|n| n.str().map(str::to_owned));
    let regex = node.get("regex").and_then(|n| {
        let text = n.str()?;
        match regex::Regex::new(text) {
            Ok(_) => Some(text.to_owned()),
            Err(e) => {
                n.error(format!("invalid regex: {e}"));
                None
            }
        }
    });
    let replacement = node
        .get("replacement")
        .and_then(|n| n.str().map(str::to_owned));
    let permanent = node
        .get("permanent")
        .and_then(|n| n.bool())
        .unwrap_or(false);
    if entry_point.is_none() && regex.is_none() {
        node.error("a redirect needs `entryPoint`, or `regex` and `replacement`");
        return None;
    }
    if regex.is_some() && replacement.is_none() {
        node.error("`regex` needs a `replacement`");
        return None;
    }
    Some(Redirect {
        entry_point,
        regex,
        replacement,
        permanent,
        location: node.location(),
    })
}
