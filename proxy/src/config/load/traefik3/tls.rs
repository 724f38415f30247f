//! `tls` (certificates, options, the default store's certificate) and
//! `certificatesResolvers`: which entry points serve TLS (those a router
//! with `tls` or an entry point's `http.tls` is on), with which
//! certificates and options, and the ACME account that obtains
//! certificates for the routers naming its resolver.
//!
//! tollgate keeps TLS settings per entry point, so every certificate of the
//! file is offered on every TLS entry point (chosen by SNI), and options
//! named by routers apply to their entry points (two different ones on one
//! entry point are refused). tollgate runs one ACME account: routers may
//! name one resolver.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::diagnostic::Location;
use crate::config::model::{AcmeConfig, CertificatePair, ClientCa, PemSource, TlsConfig};
use crate::config::tree::{Node, Tree};

use super::super::entry_point_tls::{read_pair, read_versions_and_suites};
use super::entry_points::EntryPoints;
use super::routers::TlsUse;

/// The `tls` sections of every file.
#[derive(Default)]
pub(super) struct TlsSection {
    certificates: Vec<CertificatePair>,
    options: BTreeMap<String, TlsConfig>,
}

pub(super) fn read_all(files: &[&Tree]) -> TlsSection {
    let mut out = TlsSection::default();
    for tree in files {
        let Some(section) = tree.root().section("tls") else {
            continue;
        };
        let base = tree.file().parent().unwrap_or(Path::new(""));
        if let Some(list) = section.get("certificates") {
            for node in list.table_list() {
                if let Some(n) = node.get("stores") {
                    let _ = n.str_list();
                }
                out.certificates.extend(read_pair(&node, base));
            }
        }
        if let Some(stores) = section.section("stores") {
            for store in stores.children() {
                if let Some(default) = store.section("defaultCertificate") {
                    out.certificates.extend(read_pair(&default, base));
                }
                if let Some(n) = store.get("defaultGeneratedCert") {
                    n.read_subtree();
                    n.warn("defaultGeneratedCert: not supported, ignored");
                }
            }
        }
        if let Some(options) = section.section("options") {
            for node in options.children() {
                let name = node.name().to_owned();
                if let Some(o) = read_options(&node, base) {
                    if out.options.contains_key(&name) {
                        node.error(format!("TLS options \"{name}\" are defined twice"));
                    }
                    out.options.insert(name, o);
                }
            }
        }
    }
    out
}

/// `minVersion`, `cipherSuites`, `sniStrict`, `clientAuth` (`caFiles`,
/// `clientAuthType`).
fn read_options(node: &Node<'_>, base: &Path) -> Option<TlsConfig> {
    if !node.expect_table() {
        return None;
    }
    let (min_version, cipher_suites, sni_strict) = read_versions_and_suites(node);
    let client_ca = node.section("clientAuth").and_then(|auth| {
        let files: Vec<PemSource> = auth
            .get("caFiles")
            .and_then(|n| n.str_list())
            .unwrap_or_default()
            .iter()
            .map(|f| PemSource::from_config(f, base))
            .collect();
        let kind = auth.get("clientAuthType");
        let optional = match kind.as_ref().and_then(|n| n.str()) {
            None | Some("RequireAndVerifyClientCert") => false,
            Some("VerifyClientCertIfGiven") => true,
            Some("NoClientCert") => return None,
            Some(other) => {
                kind.as_ref()?.error(format!(
                    "clientAuthType {other:?} is not supported: use RequireAndVerifyClientCert, \
                     VerifyClientCertIfGiven or NoClientCert"
                ));
                return None;
            }
        };
        if files.is_empty() {
            auth.error("clientAuth needs the CAs to verify with, in caFiles");
            return None;
        }
        Some(ClientCa { files, optional })
    });
    for ignored in [
        "maxVersion",
        "curvePreferences",
        "alpnProtocols",
        "preferServerCipherSuites",
    ] {
        if let Some(n) = node.get(ignored) {
            n.read_subtree();
            n.warn(format!("{ignored}: not supported yet, ignored"));
        }
    }
    Some(TlsConfig {
        certificates: Vec::new(),
        min_version,
        cipher_suites,
        client_ca,
        sni_strict,
        location: node.key_location(),
    })
}

/// Turns TLS on for the entry points `uses` name, and reads the ACME
/// resolver they name.
pub(super) fn apply(
    root: &Node<'_>,
    path: &Path,
    eps: &mut EntryPoints,
    uses: &[(String, TlsUse)],
    section: &TlsSection,
) -> Option<AcmeConfig> {
    let tree = root.tree();
    let mut chosen: BTreeMap<String, (String, Location)> = BTreeMap::new();
    for (_, u) in uses {
        for ep in &u.entry_points {
            let Some(entry) = eps.all.get_mut(ep) else {
                continue;
            };
            let options_name = u
                .tls
                .options
                .as_ref()
                .map(|(name, _)| name.strip_suffix("@file").unwrap_or(name).to_owned());
            if let (Some((name, location)), Some((first, _))) = (&u.tls.options, chosen.get(ep)) {
                if options_name.as_deref() != Some(first.as_str()) {
                    tree.error(
                        location.clone(),
                        format!(
                            "TLS options \"{name}\" on entry point \"{ep}\", whose routers already \
                             use \"{first}\": tollgate has one set of TLS options per entry point"
                        ),
                    );
                }
            }
            let name = options_name.unwrap_or_else(|| "default".to_owned());
            if !chosen.contains_key(ep) || u.tls.options.is_some() {
                let location = u
                    .tls
                    .options
                    .as_ref()
                    .map(|(_, l)| l.clone())
                    .unwrap_or_else(|| entry.location.clone());
                if name != "default" && !section.options.contains_key(&name) {
                    let known = section.options.keys().cloned().collect();
                    tree.error(
                        location.clone(),
                        super::super::context::unknown_name("TLS options", &name, &known),
                    );
                }
                chosen.insert(ep.clone(), (name.clone(), location));
            }
            let mut tls = section.options.get(&name).cloned().unwrap_or(TlsConfig {
                certificates: Vec::new(),
                min_version: None,
                cipher_suites: Vec::new(),
                client_ca: None,
                sni_strict: false,
                location: entry.location.clone(),
            });
            tls.certificates = section.certificates.clone();
            entry.tls = Some(tls);
        }
    }
    read_resolver(root, path, eps, uses)
}

fn read_resolver(
    root: &Node<'_>,
    path: &Path,
    eps: &EntryPoints,
    uses: &[(String, TlsUse)],
) -> Option<AcmeConfig> {
    let tree = root.tree();
    let resolvers: Vec<Node<'_>> = root
        .section("certificatesResolvers")
        .map(|n| n.children())
        .unwrap_or_default();
    let named: Vec<(&String, &TlsUse, &(String, Location))> = uses
        .iter()
        .filter_map(|(router, u)| Some((router, u, u.tls.cert_resolver.as_ref()?)))
        .collect();
    let mut wanted: Option<&str> = None;
    for (_, _, (name, location)) in &named {
        match wanted {
            None => wanted = Some(name),
            Some(first) if first != name => tree.error(
                location.clone(),
                format!(
                    "a second certificate resolver \"{name}\" (routers already use \"{first}\"): \
                     tollgate runs one ACME account"
                ),
            ),
            Some(_) => {}
        }
    }
    for r in &resolvers {
        if wanted != Some(r.name()) {
            r.read_subtree();
            r.warn("no router uses this resolver, so it obtains nothing");
        }
    }
    let wanted = wanted?;
    let Some(resolver) = resolvers.iter().find(|r| r.name() == wanted) else {
        let (_, _, (_, location)) = named[0];
        let known = resolvers.iter().map(|r| r.name().to_owned()).collect();
        tree.error(
            location.clone(),
            super::super::context::unknown_name("certificate resolver", wanted, &known),
        );
        return None;
    };
    let Some(acme) = resolver.section("acme") else {
        resolver.error("a certificate resolver needs an acme section");
        return None;
    };
    let mut config = super::super::acme::read_account(&acme, path, &eps.all)?;
    let users: Vec<&(&String, &TlsUse, &(String, Location))> =
        named.iter().filter(|(_, _, (n, _))| n == wanted).collect();
    config.entry_point = users
        .iter()
        .flat_map(|(_, u, _)| u.entry_points.iter())
        .find(|ep| eps.all.get(*ep).is_some_and(|e| e.tls.is_some()))
        .cloned()
        .unwrap_or_default();
    config.on_host_rule = true;
    config.host_rule_frontends = Some(
        users
            .iter()
            .map(|(router, _, _)| (*router).clone())
            .collect::<BTreeSet<String>>(),
    );
    for (_, u, _) in &users {
        for d in &u.tls.domains {
            if !config.domains.contains(d) {
                config.domains.push(d.clone());
            }
        }
    }
    Some(config)
}
