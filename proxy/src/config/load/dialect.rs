//! Which Traefik a config file is written for. Traefik 1.7 has frontends
//! and backends; 2 and 3 have routers, services and middlewares under
//! `http`, and a static part (`providers`, `certificatesResolvers`, ...).
//! A YAML file is always 2/3 (1.7 read only TOML). A TOML file is 2/3 when
//! it has a top-level key only 2/3 know, 1.7 otherwise; a file with keys of
//! both is refused at the first key of the dialect it mostly is not.

pub use crate::config::model::Dialect;
use crate::config::tree::{Format, Node, Tree};

/// Top-level keys only Traefik 2/3 have.
const TRAEFIK3_KEYS: &[&str] = &[
    "http",
    "tcp",
    "udp",
    "tls",
    "providers",
    "certificatesResolvers",
    "experimental",
    "serversTransport",
    "global",
];

/// Top-level keys only Traefik 1.7 has.
const TRAEFIK1_KEYS: &[&str] = &[
    "frontends",
    "backends",
    "defaultEntryPoints",
    "file",
    "acme",
    "logLevel",
    "traefikLog",
    "respondingTimeouts",
    "forwardingTimeouts",
    "graceTimeOut",
    "plugins",
];

/// The file's dialect; a mix is reported on the tree and read as the
/// dialect most of its top-level keys belong to.
pub(super) fn detect(tree: &Tree) -> Dialect {
    let root = tree.root();
    let found =
        |keys: &[&str]| -> Vec<Node<'_>> { keys.iter().filter_map(|k| root.peek(k)).collect() };
    let v3 = found(TRAEFIK3_KEYS);
    let v1 = found(TRAEFIK1_KEYS);
    let dialect = if tree.format() == Format::Yaml || v3.len() > v1.len() {
        Dialect::Traefik3
    } else {
        Dialect::Traefik1
    };
    let strays = match dialect {
        Dialect::Traefik3 if !v3.is_empty() || tree.format() == Format::Yaml => v1,
        Dialect::Traefik1 if !v1.is_empty() => v3,
        _ => Vec::new(),
    };
    for stray in strays {
        let (this, other) = match dialect {
            Dialect::Traefik3 => ("Traefik 1.7", "Traefik 2/3"),
            Dialect::Traefik1 => ("Traefik 2/3", "Traefik 1.7"),
        };
        tree.error(
            stray.key_location(),
            format!(
                "\"{}\" is {this} configuration in a file written for {other}: \
                 a file is written in one dialect",
                stray.name()
            ),
        );
        stray.read_subtree();
    }
    dialect
}
