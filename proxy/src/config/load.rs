//! Reads a config file into `model::Config`.
//!
//! The dialect is Traefik 1.7's file configuration: keys match
//! case-insensitively, durations are Go strings or seconds, and 1.7's
//! defaults apply. Every problem is collected (not just the first) and names
//! `FILE:LINE:COL: KEY`. Errors refuse the config; warnings (unknown keys,
//! sections not yet supported, harmless oddities) travel in
//! `Config::warnings`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use toml_edit::Value;

use super::diagnostic::{ConfigError, Diagnostic, Location};
use super::model::{
    Backend, BackendTls, Config, EntryPoint, Extractor, FileProvider, ForwardedHeaders,
    ForwardingTimeouts, Frontend, HealthCheck, LoadBalancerMethod, LogConfig, LogFormat, MaxConn,
    PemSource, RespondingTimeouts, Route, Scheme, Server,
};
use super::tree::{closest, Node, Tree};

/// Read and validate the config file at `path`.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::one(Diagnostic::bare(format!(
            "{}: cannot read: {e}",
            path.display()
        )))
    })?;
    load_str(path, &text)
}

/// Parse and validate `text` as if read from `path` (used in errors), with
/// the files of its `[file]` provider (`filename` or `directory`), whose
/// frontends and backends are merged into the main file's.
pub fn load_str(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let tree = Tree::parse(Arc::from(path), text)?;
    let mut errors = Vec::new();
    let mut dynamic = Vec::new();
    let mut texts = Vec::new();
    for file in dynamic_files(&tree, path, &mut errors) {
        let parsed = std::fs::read_to_string(&file)
            .map_err(|e| {
                ConfigError::one(Diagnostic::bare(format!(
                    "{}: cannot read: {e}",
                    file.display()
                )))
            })
            .and_then(|text| {
                let t = Tree::parse(Arc::from(file.as_path()), &text);
                texts.push(text);
                t
            });
        match parsed {
            Ok(t) => dynamic.push(t),
            Err(e) => errors.extend(e.errors),
        }
    }
    let mut config = read_config(&tree, &dynamic, path);
    config.dynamic_files = dynamic.iter().map(|t| t.file().to_path_buf()).collect();
    config.source_digest = super::digest_files(
        std::iter::once((path, Some(text.as_bytes()))).chain(
            config
                .dynamic_files
                .iter()
                .zip(&texts)
                .map(|(p, t)| (p.as_path(), Some(t.as_bytes()))),
        ),
    );
    let mut warnings = Vec::new();
    for t in std::iter::once(tree).chain(dynamic) {
        let findings = t.finish();
        errors.extend(findings.errors);
        warnings.extend(findings.warnings);
    }
    if errors.is_empty() {
        Ok(Config { warnings, ..config })
    } else {
        Err(ConfigError { errors })
    }
}

/// The files named by `[file] filename` or `[file] directory` (its `*.toml`
/// files, in name order), relative to the main file's folder. Reading the
/// section here does not mark it read; `read_config` reads it again.
fn dynamic_files(tree: &Tree, path: &Path, errors: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let root = tree.root();
    let Some(section) = root.section("file") else {
        return Vec::new();
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let mut files = Vec::new();
    if let Some(file) = section.get("filename").and_then(|n| optional_path(&n)) {
        files.extend(provider_file(path, &file));
    }
    if let Some(node) = section.get("directory") {
        if let Some(dir) = optional_path(&node) {
            let dir = base.join(dir);
            match directory_files(&dir, path) {
                Ok(found) => files.extend(found),
                Err(e) => errors.push(Diagnostic::at(
                    node.location(),
                    format!("cannot read directory {}: {e}", dir.display()),
                )),
            }
        }
    }
    files
}

/// `[file] filename` resolved against the main file's folder; None when it
/// is the main file itself, which a provider adds nothing to. The watcher
/// resolves it the same way.
pub fn provider_file(main: &Path, filename: &Path) -> Option<PathBuf> {
    let file = main.parent().unwrap_or(Path::new("")).join(filename);
    (!same_file(&file, main)).then_some(file)
}

/// The config files of a `[file] directory`: its `*.toml` files in name
/// order, less the main file. The watcher lists it the same way, so that
/// what it sees on disk compares with what the loader read.
pub fn directory_files(dir: &Path, main: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| !same_file(p, main))
        .collect();
    found.sort();
    Ok(found)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------
// Sections recognised but not yet supported.
// ---------------------------------------------------------------------------

/// A Traefik 1.7 setting tollgate knows about but does not implement yet.
/// It is accepted with a warning, and nothing under it is reported as
/// unknown. To accept another 1.7 setting this way, add a line to the list
/// of the table it lives in.
struct Unsupported {
    key: &'static str,
    what: &'static str,
}

const fn unsupported(key: &'static str, what: &'static str) -> Unsupported {
    Unsupported { key, what }
}

/// Top-level settings.
const GLOBAL_UNSUPPORTED: &[Unsupported] = &[
    unsupported("accessLogsFile", "access log"),
    unsupported("accessLog", "access log"),
    unsupported("api", "API and dashboard"),
    unsupported("web", "web API and dashboard"),
    unsupported("rest", "REST provider"),
    unsupported("metrics", "metrics"),
    unsupported("tracing", "tracing"),
    unsupported("retry", "retrying failed requests"),
    unsupported("hostResolver", "CNAME-flattening host resolver"),
    unsupported("maxIdleConnsPerHost", "tuning idle backend connections"),
    unsupported("providersThrottleDuration", "provider throttling"),
    unsupported("keepTrailingSlash", "keeping trailing slashes"),
    unsupported("constraints", "provider constraints"),
    unsupported("cluster", "clustering"),
    unsupported("docker", "Docker provider"),
    unsupported("kubernetes", "Kubernetes provider"),
    unsupported("marathon", "Marathon provider"),
    unsupported("mesos", "Mesos provider"),
    unsupported("consul", "Consul provider"),
    unsupported("consulCatalog", "Consul Catalog provider"),
    unsupported("etcd", "etcd provider"),
    unsupported("zookeeper", "ZooKeeper provider"),
    unsupported("boltdb", "BoltDB provider"),
    unsupported("ecs", "ECS provider"),
    unsupported("rancher", "Rancher provider"),
    unsupported("eureka", "Eureka provider"),
    unsupported("dynamodb", "DynamoDB provider"),
    unsupported("servicefabric", "Service Fabric provider"),
];

/// `[entryPoints.NAME]`.
const ENTRY_POINT_UNSUPPORTED: &[Unsupported] = &[
    unsupported("auth", "entry point authentication"),
    unsupported("whiteList", "IP white-listing"),
    unsupported("whitelistSourceRange", "IP white-listing"),
    unsupported("compress", "compression"),
    unsupported("proxyProtocol", "PROXY protocol"),
];

/// `[frontends.NAME]`.
const FRONTEND_UNSUPPORTED: &[Unsupported] = &[
    unsupported("redirect", "frontend redirection"),
    unsupported("whiteList", "IP white-listing"),
    unsupported("whitelistSourceRange", "IP white-listing"),
    unsupported("errors", "custom error pages"),
    unsupported("ratelimit", "rate limiting"),
    unsupported("passTLSCert", "passing the client certificate"),
    unsupported("passTLSClientCert", "passing the client certificate"),
];

/// `[backends.NAME]`.
const BACKEND_UNSUPPORTED: &[Unsupported] = &[
    unsupported("circuitBreaker", "circuit breakers"),
    unsupported("buffering", "request buffering"),
];

/// `[backends.NAME.loadBalancer]`.
const LOAD_BALANCER_UNSUPPORTED: &[Unsupported] = &[
    unsupported("stickiness", "sticky sessions"),
    unsupported("sticky", "sticky sessions"),
];

/// `[lifeCycle]`.
const LIFE_CYCLE_UNSUPPORTED: &[Unsupported] = &[unsupported(
    "requestAcceptGraceTimeout",
    "accept grace period",
)];

/// Settings accepted and ignored without a word: they only concern
/// Traefik's own update checks and statistics.
const GLOBAL_IGNORED: &[&str] = &["checkNewVersion", "sendAnonymousUsage"];

fn warn_unsupported(table: &Node, list: &[Unsupported]) {
    for entry in list {
        if let Some(node) = table.get(entry.key) {
            node.read_subtree();
            node.tree().warn(
                node.key_location(),
                format!("{}: not yet supported, ignored", entry.what),
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The whole file.
// ---------------------------------------------------------------------------

/// Settings that change how other sections are read.
struct Globals {
    /// 1.7's `allowMinWeightZero`: without it, a weight of 0 means 1.
    allow_min_weight_zero: bool,
    /// 1.7's global `[healthcheck] interval`, the backends' default.
    health_interval: Duration,
}

/// Names defined in the file, for checking references. Kept apart from the
/// parsed maps so that one bad entry point does not make every frontend
/// using it report "unknown entrypoint" as well.
struct Names {
    entry_points: BTreeSet<String>,
    backends: BTreeSet<String>,
    plugins: BTreeSet<String>,
}

fn read_config(tree: &Tree, dynamic: &[Tree], path: &Path) -> Config {
    let root = tree.root();
    for key in GLOBAL_IGNORED {
        let _ = root.get(key);
    }
    warn_unsupported(&root, GLOBAL_UNSUPPORTED);
    let globals = read_globals(&root);
    let (mut entry_points, mut entry_point_names) = read_entry_points(&root, path);
    let user_entry_points: Vec<String> = entry_point_names.iter().cloned().collect();
    let ping = read_ping(&root, &mut entry_points, &mut entry_point_names);
    let (backends, backend_names) = read_all_backends(&root, dynamic, &globals);
    let plugins = super::middleware::read_plugins(&root, path);
    let names = Names {
        entry_points: entry_point_names,
        backends: backend_names,
        plugins: plugins.keys().cloned().collect(),
    };
    check_redirect_targets(tree, &entry_points, &names);
    let mut default_entry_points = read_default_entry_points(&root, &names);
    if default_entry_points.is_empty() && user_entry_points.len() != names.entry_points.len() {
        // "All entry points" must not include the internal one made for
        // [ping]: in 1.7 it serves Traefik's own handlers, not frontends.
        default_entry_points = user_entry_points;
    }
    let acme = super::acme::read_acme(&root, path, &entry_points);
    Config {
        source: path.to_path_buf(),
        default_entry_points,
        entry_points,
        frontends: read_all_frontends(&root, dynamic, &names),
        backends,
        log: read_log(&root),
        responding_timeouts: read_responding_timeouts(&root),
        forwarding_timeouts: read_forwarding_timeouts(&root),
        grace_timeout: read_grace_timeout(&root),
        backend_tls: read_backend_tls(&root, path),
        ping,
        plugins,
        acme,
        file: root.section("file").map(|n| read_file_provider(&n)),
        dynamic_files: Vec::new(),
        source_digest: 0,
        warnings: Vec::new(),
    }
}

fn read_globals(root: &Node) -> Globals {
    let allow_min_weight_zero = root
        .get("allowMinWeightZero")
        .and_then(|n| n.bool())
        .unwrap_or(false);
    let health_interval = root
        .section("healthcheck")
        .and_then(|n| n.get("interval"))
        .and_then(|n| positive_duration(&n))
        .unwrap_or(Duration::from_secs(30));
    Globals {
        allow_min_weight_zero,
        health_interval,
    }
}

// ---------------------------------------------------------------------------
// Logging, timeouts, life cycle, file provider.
// ---------------------------------------------------------------------------

fn read_log(root: &Node) -> LogConfig {
    let level = root.get("logLevel").and_then(|n| read_log_level(&n));
    let debug = root.get("debug").and_then(|n| n.bool()).unwrap_or(false);
    let flat_file = root.get("traefikLogsFile");
    let flat_path = flat_file.as_ref().and_then(optional_path);
    let section = root.section("traefikLog");
    let section_path = section
        .as_ref()
        .and_then(|s| s.get("filePath"))
        .and_then(|n| optional_path(&n));
    let format = section
        .as_ref()
        .and_then(|s| s.get("format"))
        .and_then(|n| read_log_format(&n))
        .unwrap_or_default();
    if let (Some(flat), Some(_)) = (&flat_file, &section_path) {
        flat.warn("ignored: [traefikLog] filePath is also set and takes precedence");
    }
    LogConfig {
        file_path: section_path.or(flat_path),
        format,
        // 1.7: `debug = true` is a shorthand for `logLevel = "DEBUG"`.
        level: if debug {
            Some("DEBUG".to_owned())
        } else {
            level
        },
    }
}

/// An empty path means "no file" (stderr), as in 1.7.
fn optional_path(node: &Node) -> Option<PathBuf> {
    node.str().filter(|s| !s.is_empty()).map(PathBuf::from)
}

fn read_log_level(node: &Node) -> Option<String> {
    let text = node.str()?;
    let level = text.to_ascii_uppercase();
    match level.as_str() {
        "DEBUG" | "INFO" | "WARN" | "ERROR" | "FATAL" | "PANIC" => Some(level),
        "WARNING" => Some("WARN".to_owned()),
        _ => {
            node.error(format!(
                "unknown log level \"{text}\": use DEBUG, INFO, WARN, ERROR, FATAL or PANIC"
            ));
            None
        }
    }
}

fn read_log_format(node: &Node) -> Option<LogFormat> {
    let text = node.str()?;
    if text.eq_ignore_ascii_case("json") {
        Some(LogFormat::Json)
    } else if text.eq_ignore_ascii_case("common") || text.is_empty() {
        Some(LogFormat::Common)
    } else {
        node.error(format!(
            "unknown log format \"{text}\": use \"common\" or \"json\""
        ));
        None
    }
}

fn read_responding_timeouts(root: &Node) -> RespondingTimeouts {
    let defaults = RespondingTimeouts::default();
    // 1.7's deprecated top-level `idleTimeout`, used when the section
    // does not set one.
    let flat_idle = root.get("idleTimeout").and_then(|n| duration(&n));
    let Some(section) = root.section("respondingTimeouts") else {
        return RespondingTimeouts {
            idle: flat_idle.unwrap_or(defaults.idle),
            ..defaults
        };
    };
    let idle = section.get("idleTimeout").and_then(|n| duration(&n));
    let write = limit(&section, "writeTimeout");
    RespondingTimeouts {
        read: limit(&section, "readTimeout"),
        write,
        idle: idle.or(flat_idle).unwrap_or(defaults.idle),
    }
}

fn read_forwarding_timeouts(root: &Node) -> ForwardingTimeouts {
    let defaults = ForwardingTimeouts::default();
    let Some(section) = root.section("forwardingTimeouts") else {
        return defaults;
    };
    ForwardingTimeouts {
        dial: section
            .get("dialTimeout")
            .and_then(|n| duration(&n))
            .unwrap_or(defaults.dial),
        response_header: limit(&section, "responseHeaderTimeout"),
    }
}

/// A timeout where 0 (the 1.7 default) means "no limit".
fn limit(section: &Node, key: &'static str) -> Option<Duration> {
    section
        .get(key)
        .and_then(|n| duration(&n))
        .filter(|d| !d.is_zero())
}

fn read_grace_timeout(root: &Node) -> Duration {
    let flat = root.get("graceTimeOut");
    let flat_value = flat.as_ref().and_then(duration).filter(|d| !d.is_zero());
    let section = root.section("lifeCycle");
    if let Some(section) = &section {
        warn_unsupported(section, LIFE_CYCLE_UNSUPPORTED);
    }
    let nested = section.as_ref().and_then(|s| s.get("graceTimeOut"));
    let nested_value = nested.as_ref().and_then(duration);
    // 1.7 prefers the deprecated top-level value when it is set, for
    // backwards compatibility; say so when both are written.
    if let (Some(_), Some(nested)) = (flat_value, &nested) {
        nested.warn("ignored: the top-level graceTimeOut is also set and Traefik 1.7 prefers it");
    }
    flat_value
        .or(nested_value)
        .unwrap_or(Duration::from_secs(10))
}

fn read_file_provider(node: &Node) -> FileProvider {
    FileProvider {
        // 1.7's default once a [file] section exists.
        watch: node.get("watch").and_then(|n| n.bool()).unwrap_or(true),
        // Both were read (and resolved) by `dynamic_files`; keep them as written.
        filename: node.get("filename").and_then(|n| optional_path(&n)),
        directory: node.get("directory").and_then(|n| optional_path(&n)),
    }
}

/// Top-level `rootCAs` and `insecureSkipVerify`. Relative CA paths are
/// relative to the config file's folder, so the file works from any cwd.
fn read_backend_tls(root: &Node, path: &Path) -> BackendTls {
    let base = path.parent().unwrap_or(Path::new(""));
    let root_cas = root
        .get("rootCAs")
        .and_then(|n| n.str_list())
        .unwrap_or_default()
        .iter()
        .map(|value| PemSource::from_config(value, base))
        .collect();
    let insecure_skip_verify = root
        .get("insecureSkipVerify")
        .and_then(|n| n.bool())
        .unwrap_or(false);
    BackendTls {
        root_cas,
        insecure_skip_verify,
    }
}

// ---------------------------------------------------------------------------
// Entry points.
// ---------------------------------------------------------------------------

fn read_entry_points(root: &Node, path: &Path) -> (BTreeMap<String, EntryPoint>, BTreeSet<String>) {
    let children = root
        .section("entryPoints")
        .map(|n| n.children())
        .unwrap_or_default();
    if children.is_empty() {
        return default_entry_points(root);
    }
    let names = children.iter().map(|n| n.name().to_owned()).collect();
    let entry_points = children
        .iter()
        .filter_map(|n| read_entry_point(n, path))
        .map(|e| (e.name.clone(), e))
        .collect();
    (entry_points, names)
}

/// Without any entry point, Traefik 1.7 listens on `:80` as `http`.
fn default_entry_points(root: &Node) -> (BTreeMap<String, EntryPoint>, BTreeSet<String>) {
    let name = "http".to_owned();
    let entry_point = EntryPoint {
        name: name.clone(),
        address: ":80".to_owned(),
        forwarded_headers: ForwardedHeaders::default(),
        tls: None,
        redirect: None,
        location: Location::builtin("entryPoints.http.address"),
    };
    let mut location = root.missing_location("entryPoints");
    location.line = 0;
    root.tree().warn(
        location,
        "no entry points defined: listening on \":80\" as entry point \"http\", like Traefik 1.7",
    );
    let names = BTreeSet::from([name.clone()]);
    (BTreeMap::from([(name, entry_point)]), names)
}

/// Traefik 1.7's internal entry point, used by `[ping]` (and the API) by default.
const INTERNAL_ENTRY_POINT: &str = "traefik";

/// `[ping] entryPoint`. Like 1.7, the default `traefik` entry point is
/// created on `:8080` when the file does not define it.
fn read_ping(
    root: &Node,
    entry_points: &mut BTreeMap<String, EntryPoint>,
    names: &mut BTreeSet<String>,
) -> Option<String> {
    let section = root.section("ping")?;
    let named = section.get("entryPoint");
    let name = match &named {
        Some(node) => node.str()?.to_owned(),
        None => INTERNAL_ENTRY_POINT.to_owned(),
    };
    if names.contains(&name) {
        return Some(name);
    }
    if name != INTERNAL_ENTRY_POINT {
        let node = named.as_ref().unwrap_or(&section);
        node.error(unknown_name("entry point", &name, names));
        return None;
    }
    section.warn(
        "entry point \"traefik\" is not defined: listening on \":8080\" for it, like Traefik 1.7",
    );
    let entry_point = EntryPoint {
        name: name.clone(),
        address: ":8080".to_owned(),
        forwarded_headers: ForwardedHeaders::default(),
        tls: None,
        redirect: None,
        location: Location::builtin("entryPoints.traefik.address"),
    };
    entry_points.insert(name.clone(), entry_point);
    names.insert(name.clone());
    Some(name)
}

fn read_entry_point(node: &Node, config_path: &Path) -> Option<EntryPoint> {
    if !node.expect_table() {
        return None;
    }
    let tls = node
        .get("tls")
        .and_then(|n| super::entrypoint_tls::read_tls(&n, config_path));
    let redirect = node
        .get("redirect")
        .and_then(|n| super::entrypoint_tls::read_redirect(&n));
    let forwarded_headers = node
        .section("forwardedHeaders")
        .map(|n| read_forwarded_headers(&n))
        .unwrap_or_default();
    warn_unsupported(node, ENTRY_POINT_UNSUPPORTED);
    let Some(address) = node.get("address") else {
        node.tree().error(
            node.missing_location("address"),
            "missing: every entry point needs an address such as \":80\"",
        );
        return None;
    };
    let text = address.str()?;
    if let Err(why) = check_address(text) {
        address.error(why);
        return None;
    }
    Some(EntryPoint {
        name: node.name().to_owned(),
        address: text.to_owned(),
        forwarded_headers,
        tls,
        redirect,
        location: address.location(),
    })
}

/// A redirect must name an entry point that exists.
fn check_redirect_targets(tree: &Tree, entry_points: &BTreeMap<String, EntryPoint>, names: &Names) {
    for ep in entry_points.values() {
        let Some(redirect) = &ep.redirect else {
            continue;
        };
        if let Some(target) = &redirect.entry_point {
            if !names.entry_points.contains(target) {
                let mut location = redirect.location.clone();
                location.key = format!("{}.entryPoint", location.key);
                tree.error(
                    location,
                    unknown_name("entry point", target, &names.entry_points),
                );
            }
        }
    }
}

fn read_forwarded_headers(node: &Node) -> ForwardedHeaders {
    let insecure = node.get("insecure").and_then(|n| n.bool()).unwrap_or(false);
    let mut trusted_ips = Vec::new();
    let list = node.get("trustedIPs").and_then(|n| n.str_list_located());
    for (text, location) in list.unwrap_or_default() {
        match check_ip_or_cidr(&text) {
            Ok(()) => trusted_ips.push(text),
            Err(why) => node.tree().error(location, why),
        }
    }
    ForwardedHeaders {
        insecure,
        trusted_ips,
    }
}

/// `1.2.3.4`, `10.0.0.0/8`, `::1`, `fd00::/8`.
fn check_ip_or_cidr(text: &str) -> Result<(), String> {
    let (ip, prefix) = match text.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (text, None),
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return Err(format!("\"{text}\" is not an IP address or a CIDR range"));
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix.map(|p| p.parse::<u8>()) {
        None => Ok(()),
        Some(Ok(bits)) if bits <= max => Ok(()),
        Some(_) => Err(format!(
            "\"{text}\": the prefix length must be a number from 0 to {max}"
        )),
    }
}

/// Checks an entry point address the way Go's `net.SplitHostPort` does
/// (1.7 hands it to `net.Listen`): `host:port`, `:port`, `[v6]:port`.
fn check_address(address: &str) -> Result<(), String> {
    let (_, port) = split_host_port(address)?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err()
    {
        return Err(format!(
            "invalid port \"{port}\" in address \"{address}\": expected a number from 0 to 65535"
        ));
    }
    Ok(())
}

fn split_host_port(address: &str) -> Result<(&str, &str), String> {
    if let Some(rest) = address.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(format!("missing ']' in address \"{address}\""));
        };
        if host_without_zone(host).parse::<Ipv6Addr>().is_err() {
            return Err(format!(
                "\"{host}\" in address \"{address}\" is not an IPv6 address"
            ));
        }
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, port)),
            None if after.is_empty() => Err(format!("missing port in address \"{address}\"")),
            None => Err(format!(
                "unexpected \"{after}\" after ']' in address \"{address}\""
            )),
        };
    }
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err(format!(
            "missing port in address \"{address}\" (write \"host:port\" or \":port\")"
        ));
    };
    if host.contains(':') {
        return Err(format!(
            "too many colons in address \"{address}\" (write IPv6 addresses in brackets, e.g. \"[::1]:8080\")"
        ));
    }
    if host.contains(['[', ']']) {
        return Err(format!("unexpected bracket in address \"{address}\""));
    }
    Ok((host, port))
}

/// `fe80::1%eth0` → `fe80::1`: Go accepts zones, std's parser does not.
fn host_without_zone(host: &str) -> &str {
    host.split_once('%').map_or(host, |(ip, _)| ip)
}

fn read_default_entry_points(root: &Node, names: &Names) -> Vec<String> {
    let Some(node) = root.get("defaultEntryPoints") else {
        return Vec::new();
    };
    let list = node.str_list_located().unwrap_or_default();
    check_entry_point_refs(root, &list, names);
    list.into_iter().map(|(name, _)| name).collect()
}

fn check_entry_point_refs(node: &Node, list: &[(String, Location)], names: &Names) {
    for (name, location) in list {
        if !names.entry_points.contains(name) {
            let message = unknown_name("entry point", name, &names.entry_points);
            node.tree().error(location.clone(), message);
        }
    }
}

/// `unknown backend "x" (did you mean "X"?)`, or the names that exist.
pub(super) fn unknown_name(kind: &str, name: &str, known: &BTreeSet<String>) -> String {
    if known.is_empty() {
        return format!("unknown {kind} \"{name}\": none is defined");
    }
    if let Some(close) = closest(name, known.iter().map(String::as_str)) {
        return format!("unknown {kind} \"{name}\" (did you mean \"{close}\"?)");
    }
    let list: Vec<String> = known.iter().take(8).map(|n| format!("\"{n}\"")).collect();
    format!("unknown {kind} \"{name}\"; defined: {}", list.join(", "))
}

// ---------------------------------------------------------------------------
// Frontends.
// ---------------------------------------------------------------------------

/// Frontends of the main file and of every `[file]` provider file. A name
/// defined in two files is an error naming both places.
fn read_all_frontends(root: &Node, dynamic: &[Tree], names: &Names) -> BTreeMap<String, Frontend> {
    let mut all = read_frontends(root, names);
    for tree in dynamic {
        for (name, f) in read_frontends(&tree.root(), names) {
            match all.get(&name) {
                Some(first) => tree.error(
                    f.location.clone(),
                    format!("frontend \"{name}\" is also defined at {}", first.location),
                ),
                None => {
                    all.insert(name, f);
                }
            }
        }
    }
    all
}

fn read_frontends(root: &Node, names: &Names) -> BTreeMap<String, Frontend> {
    let children = root
        .section("frontends")
        .map(|n| n.children())
        .unwrap_or_default();
    children
        .iter()
        .filter_map(|n| read_frontend(n, names))
        .map(|f| (f.name.clone(), f))
        .collect()
}

fn read_frontend(node: &Node, names: &Names) -> Option<Frontend> {
    if !node.expect_table() {
        return None;
    }
    // Read every key before giving up on a bad one, so that all the
    // frontend's problems are reported in one pass.
    let backend = read_backend_ref(node, names);
    let entry_points = node
        .get("entryPoints")
        .and_then(|n| n.str_list_located())
        .unwrap_or_default();
    check_entry_point_refs(node, &entry_points, names);
    let pass_host_header = node
        .get("passHostHeader")
        .and_then(|n| n.bool())
        .unwrap_or(true);
    let priority = node
        .get("priority")
        .and_then(|n| non_negative(&n))
        .unwrap_or(0);
    let routes = read_routes(node);
    let middlewares = super::middleware::read_middlewares(node, &names.plugins);
    let basic_auth = super::middleware::read_basic_auth(node, node.tree().file());
    let headers = super::middleware::read_headers(node);
    warn_unsupported(node, FRONTEND_UNSUPPORTED);
    Some(Frontend {
        name: node.name().to_owned(),
        backend: backend?,
        entry_points: entry_points.into_iter().map(|(name, _)| name).collect(),
        pass_host_header,
        priority,
        routes: routes?,
        middlewares,
        basic_auth,
        headers,
        location: node.location(),
    })
}

fn read_backend_ref(frontend: &Node, names: &Names) -> Option<String> {
    let Some(node) = frontend.get("backend") else {
        frontend.tree().error(
            frontend.missing_location("backend"),
            "missing: every frontend needs a backend",
        );
        return None;
    };
    let name = node.str()?;
    if !names.backends.contains(name) {
        node.error(unknown_name("backend", name, &names.backends));
        return None;
    }
    Some(name.to_owned())
}

/// The frontend's routes in name order; `None` when one of them is bad.
fn read_routes(frontend: &Node) -> Option<Vec<Route>> {
    let children = frontend
        .section("routes")
        .map(|n| n.children())
        .unwrap_or_default();
    if children.is_empty() {
        frontend
            .warn("frontend has no routes: add [routes.NAME] with a rule such as \"PathPrefix:/\"");
    }
    let parsed: Vec<Option<Route>> = children.iter().map(read_route).collect();
    let mut routes: Vec<Route> = parsed.into_iter().collect::<Option<_>>()?;
    routes.sort_by(|a, b| a.name.cmp(&b.name));
    Some(routes)
}

fn read_route(node: &Node) -> Option<Route> {
    if !node.expect_table() {
        return None;
    }
    let Some(rule) = node.get("rule") else {
        node.tree().error(
            node.missing_location("rule"),
            "missing: every route needs a rule such as \"PathPrefix:/app\"",
        );
        return None;
    };
    let text = rule.str()?;
    if text.trim().is_empty() {
        rule.error("empty rule");
        return None;
    }
    Some(Route {
        name: node.name().to_owned(),
        rule: text.to_owned(),
        location: rule.location(),
    })
}

// ---------------------------------------------------------------------------
// Backends.
// ---------------------------------------------------------------------------

/// Backends of the main file and of every `[file]` provider file; see
/// [`read_all_frontends`] for duplicates.
fn read_all_backends(
    root: &Node,
    dynamic: &[Tree],
    globals: &Globals,
) -> (BTreeMap<String, Backend>, BTreeSet<String>) {
    let (mut all, mut names) = read_backends(root, globals);
    for tree in dynamic {
        let (backends, more) = read_backends(&tree.root(), globals);
        names.extend(more);
        for (name, b) in backends {
            match all.get(&name) {
                Some(first) => tree.error(
                    b.location.clone(),
                    format!("backend \"{name}\" is also defined at {}", first.location),
                ),
                None => {
                    all.insert(name, b);
                }
            }
        }
    }
    (all, names)
}

fn read_backends(root: &Node, globals: &Globals) -> (BTreeMap<String, Backend>, BTreeSet<String>) {
    let children = root
        .section("backends")
        .map(|n| n.children())
        .unwrap_or_default();
    let names = children.iter().map(|n| n.name().to_owned()).collect();
    let backends = children
        .iter()
        .filter_map(|n| read_backend(n, globals))
        .map(|b| (b.name.clone(), b))
        .collect();
    (backends, names)
}

fn read_backend(node: &Node, globals: &Globals) -> Option<Backend> {
    if !node.expect_table() {
        return None;
    }
    let servers = read_servers(node, globals);
    let load_balancer = node
        .section("loadBalancer")
        .and_then(|n| read_load_balancer(&n))
        .unwrap_or_default();
    let max_conn = node.section("maxConn").and_then(|n| read_max_conn(&n));
    let flush_interval = node
        .section("responseForwarding")
        .and_then(|n| n.get("flushInterval"))
        .and_then(|n| duration(&n));
    let health_check = node
        .section("healthCheck")
        .and_then(|n| read_health_check(&n, globals));
    warn_unsupported(node, BACKEND_UNSUPPORTED);
    Some(Backend {
        name: node.name().to_owned(),
        servers: servers?,
        load_balancer,
        max_conn,
        flush_interval,
        health_check,
        location: node.location(),
    })
}

/// The backend's servers in name order; `None` when one of them is bad.
fn read_servers(backend: &Node, globals: &Globals) -> Option<Vec<Server>> {
    let children = backend
        .section("servers")
        .map(|n| n.children())
        .unwrap_or_default();
    if children.is_empty() {
        // Allowed by 1.7: the backend answers 503 until it has servers.
        backend.warn("backend has no servers: requests routed to it get 503 Service Unavailable");
    }
    let parsed: Vec<Option<Server>> = children.iter().map(|n| read_server(n, globals)).collect();
    let mut servers: Vec<Server> = parsed.into_iter().collect::<Option<_>>()?;
    servers.sort_by(|a, b| a.name.cmp(&b.name));
    Some(servers)
}

fn read_server(node: &Node, globals: &Globals) -> Option<Server> {
    if !node.expect_table() {
        return None;
    }
    let weight = node
        .get("weight")
        .and_then(|n| read_weight(&n, globals))
        .unwrap_or(1);
    let Some(url_node) = node.get("url") else {
        node.tree().error(
            node.missing_location("url"),
            "missing: every server needs a url such as \"http://127.0.0.1:8080\"",
        );
        return None;
    };
    let url = url_node.str()?;
    let parsed = match parse_server_url(url) {
        Ok(parsed) => parsed,
        Err(why) => {
            url_node.error(format!("invalid server URL \"{url}\": {why}"));
            return None;
        }
    };
    if let Some(ignored) = &parsed.ignored {
        url_node.warn(format!(
            "\"{ignored}\" in the server URL is ignored, as in Traefik 1.7 \
             (to add a path prefix, use an AddPrefix rule on the frontend)"
        ));
    }
    Some(Server {
        name: node.name().to_owned(),
        scheme: parsed.scheme,
        authority: parsed.authority,
        url: url.to_owned(),
        weight,
        location: url_node.location(),
    })
}

fn read_weight(node: &Node, globals: &Globals) -> Option<u32> {
    let value = node.integer()?;
    let Ok(weight) = u32::try_from(value) else {
        let why = if value < 0 {
            "must not be negative"
        } else {
            "is too large"
        };
        node.error(format!("weight {value} {why}"));
        return None;
    };
    if weight == 0 && !globals.allow_min_weight_zero {
        node.warn("weight 0 counts as 1, as in Traefik 1.7; set allowMinWeightZero = true to take the server out of rotation");
        return Some(1);
    }
    Some(weight)
}

/// A backend URL, split the way Traefik 1.7 uses it.
#[derive(Debug, PartialEq, Eq)]
struct ServerUrl {
    scheme: Scheme,
    /// `host:port`, with the scheme's default port filled in.
    authority: String,
    /// Path, query or fragment, which 1.7 ignores.
    ignored: Option<String>,
}

fn parse_server_url(url: &str) -> Result<ServerUrl, String> {
    let Some((scheme_text, rest)) = url.split_once("://") else {
        return Err("expected scheme://host[:port], e.g. \"http://127.0.0.1:8080\"".to_owned());
    };
    let scheme = parse_scheme(scheme_text)?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err("user names and passwords in server URLs are not supported".to_owned());
    }
    let (host, port) = split_url_authority(authority)?;
    let port = match port {
        Some(port) => parse_url_port(port)?,
        None => default_port(scheme),
    };
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let ignored = (!tail.is_empty() && tail != "/").then(|| tail.to_owned());
    Ok(ServerUrl {
        scheme,
        authority,
        ignored,
    })
}

fn parse_scheme(text: &str) -> Result<Scheme, String> {
    match text.to_ascii_lowercase().as_str() {
        "http" => Ok(Scheme::Http),
        "https" => Ok(Scheme::Https),
        "h2c" => Ok(Scheme::H2c),
        _ => Err(format!(
            "unsupported scheme \"{text}\": use http, https or h2c"
        )),
    }
}

fn default_port(scheme: Scheme) -> u16 {
    match scheme {
        Scheme::Http | Scheme::H2c => 80,
        Scheme::Https => 443,
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` → host (no brackets), port.
fn split_url_authority(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("missing ']' after the IPv6 address".to_owned());
        };
        if host_without_zone(host).parse::<Ipv6Addr>().is_err() {
            return Err(format!("\"{host}\" is not an IPv6 address"));
        }
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("unexpected \"{after}\" after ']'")),
            },
        };
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if port.is_some_and(|p| p.contains(':')) {
        return Err(
            "IPv6 addresses must be written in brackets, e.g. \"http://[::1]:8080\"".to_owned(),
        );
    }
    check_host(host)?;
    Ok((host, port))
}

fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("missing host".to_owned());
    }
    let valid = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !valid {
        return Err(format!("invalid host \"{host}\""));
    }
    Ok(())
}

fn parse_url_port(port: &str) -> Result<u16, String> {
    let number = port
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| port.parse::<u16>().ok())
        .flatten()
        .filter(|p| *p != 0);
    number.ok_or_else(|| format!("invalid port \"{port}\": expected a number from 1 to 65535"))
}

fn read_load_balancer(node: &Node) -> Option<LoadBalancerMethod> {
    warn_unsupported(node, LOAD_BALANCER_UNSUPPORTED);
    let method = node.get("method")?;
    let text = method.str()?;
    if text.eq_ignore_ascii_case("wrr") {
        Some(LoadBalancerMethod::Wrr)
    } else if text.eq_ignore_ascii_case("drr") {
        Some(LoadBalancerMethod::Drr)
    } else {
        method.error(format!(
            "unknown load-balancing method \"{text}\": use \"wrr\" or \"drr\""
        ));
        None
    }
}

fn read_max_conn(node: &Node) -> Option<MaxConn> {
    let extractor_node = node.get("extractorFunc");
    let Some(amount_node) = node.get("amount") else {
        node.warn("no amount: no connection limit, as in Traefik 1.7");
        return None;
    };
    let amount = read_amount(&amount_node);
    // 1.7 skips the whole section when amount is 0 (no limit).
    if amount == Some(0) {
        return None;
    }
    let extractor = match &extractor_node {
        Some(n) => read_extractor(n),
        None => {
            node.tree().error(
                node.missing_location("extractorFunc"),
                "missing: use client.ip, request.host or request.header.NAME",
            );
            None
        }
    };
    Some(MaxConn {
        amount: amount?,
        extractor: extractor?,
    })
}

fn read_amount(node: &Node) -> Option<u32> {
    let value = node.integer()?;
    match u32::try_from(value) {
        Ok(amount) => Some(amount),
        Err(_) if value < 0 => {
            node.error("must not be negative");
            None
        }
        Err(_) => {
            node.error("is too large");
            None
        }
    }
}

fn read_extractor(node: &Node) -> Option<Extractor> {
    let text = node.str()?;
    match parse_extractor(text) {
        Ok(extractor) => Some(extractor),
        Err(why) => {
            node.error(why);
            None
        }
    }
}

fn parse_extractor(text: &str) -> Result<Extractor, String> {
    const HEADER: &str = "request.header.";
    if text.eq_ignore_ascii_case("client.ip") {
        return Ok(Extractor::ClientIp);
    }
    if text.eq_ignore_ascii_case("request.host") {
        return Ok(Extractor::RequestHost);
    }
    let prefix = text.get(..HEADER.len());
    if prefix.is_some_and(|p| p.eq_ignore_ascii_case(HEADER)) {
        let name = &text[HEADER.len()..];
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("\"{name}\" is not a valid header name"));
        }
        return Ok(Extractor::RequestHeader(name.to_owned()));
    }
    Err(format!(
        "unknown extractorFunc \"{text}\": use client.ip, request.host or request.header.NAME"
    ))
}

fn read_health_check(node: &Node, globals: &Globals) -> Option<HealthCheck> {
    let path_node = node.get("path");
    let path = path_node.as_ref().and_then(read_health_path);
    let interval = node
        .get("interval")
        .and_then(|n| positive_duration(&n))
        .unwrap_or(globals.health_interval);
    let timeout_node = node.get("timeout");
    let timeout = timeout_node
        .as_ref()
        .and_then(positive_duration)
        .unwrap_or(Duration::from_secs(5));
    let port = node.get("port").and_then(|n| read_health_port(&n));
    let scheme = node.get("scheme").and_then(|n| read_health_scheme(&n));
    let hostname = node.get("hostname").and_then(|n| optional_string(&n));
    let headers = node
        .section("headers")
        .map(|n| read_headers(&n))
        .unwrap_or_default();
    if path_node.is_none() {
        node.warn("no path: health checking is off for this backend, as in Traefik 1.7");
    }
    if let (Some(t), true) = (&timeout_node, timeout >= interval) {
        t.warn("timeout is not shorter than the interval");
    }
    Some(HealthCheck {
        path: path?,
        interval,
        timeout,
        port,
        scheme,
        hostname,
        headers,
    })
}

fn read_health_path(node: &Node) -> Option<String> {
    let path = node.str()?;
    if !path.starts_with('/') {
        node.error(format!("path \"{path}\" must start with \"/\""));
        return None;
    }
    Some(path.to_owned())
}

/// 0 (1.7's default) means "the server's own port".
fn read_health_port(node: &Node) -> Option<u16> {
    let value = node.integer()?;
    match u16::try_from(value) {
        Ok(0) => None,
        Ok(port) => Some(port),
        Err(_) => {
            node.error(format!("port {value} is not a number from 1 to 65535"));
            None
        }
    }
}

fn read_health_scheme(node: &Node) -> Option<Scheme> {
    let text = node.str()?;
    if text.is_empty() {
        return None;
    }
    match parse_scheme(text) {
        Ok(Scheme::H2c) | Err(_) => {
            node.error(format!("unknown scheme \"{text}\": use http or https"));
            None
        }
        Ok(scheme) => Some(scheme),
    }
}

fn optional_string(node: &Node) -> Option<String> {
    node.str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// `[...headers]`: header name → value, both checked now rather than at
/// the first health check.
fn read_headers(node: &Node) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    for child in node.children() {
        let Some(value) = child.str() else { continue };
        let name = child.name();
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            child.tree().error(
                child.key_location(),
                format!("\"{name}\" is not a valid header name"),
            );
        } else if http::HeaderValue::from_str(value).is_err() {
            child.error("not a valid header value (control characters?)");
        } else {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    headers
}

// ---------------------------------------------------------------------------
// Numbers and durations.
// ---------------------------------------------------------------------------

fn non_negative(node: &Node) -> Option<i64> {
    let value = node.integer()?;
    if value < 0 {
        node.error(format!("{value} must not be negative"));
        return None;
    }
    Some(value)
}

/// A duration that must be more than zero (intervals, timeouts of checks).
pub(super) fn positive_duration(node: &Node) -> Option<Duration> {
    let d = duration(node)?;
    if d.is_zero() {
        node.error("must be more than 0");
        return None;
    }
    Some(d)
}

/// A duration as Traefik 1.7 reads it: a Go duration string (`"1m30s"`) or
/// a number of seconds (`30` or `"30"`).
fn duration(node: &Node) -> Option<Duration> {
    let parsed = match node.raw_value() {
        Some(Value::String(s)) => parse_duration(s.value())
            .map_err(|why| format!("invalid duration \"{}\": {why}", s.value())),
        Some(Value::Integer(i)) => u64::try_from(*i.value())
            .map(Duration::from_secs)
            .map_err(|_| "a duration must not be negative".to_owned()),
        _ => Err(format!(
            "expected a duration such as \"10s\" or a number of seconds, found {}",
            node.type_description()
        )),
    };
    parsed.map_err(|why| node.error(why)).ok()
}

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Go's `time.ParseDuration` (`"300ms"`, `"1.5h"`, `"2h45m"`), plus plain
/// digits meaning seconds as in 1.7's `parse.Duration`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = text.parse::<u64>().map_err(|_| "too large".to_owned())?;
        return Ok(Duration::from_secs(seconds));
    }
    if text.starts_with('-') {
        return Err("must not be negative".to_owned());
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return Err("empty".to_owned());
    }
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let (component, after) = duration_component(rest)?;
        nanos = nanos.checked_add(component).ok_or("too large")?;
        rest = after;
    }
    let nanos = u64::try_from(nanos).map_err(|_| "too large".to_owned())?;
    Ok(Duration::from_nanos(nanos))
}

/// One `<number><unit>` of a Go duration, in nanoseconds, and what follows.
fn duration_component(text: &str) -> Result<(u128, &str), String> {
    let number_end = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, rest) = text.split_at(number_end);
    let unit_end = rest
        .find(|c: char| c.is_ascii_digit() || c == '.')
        .unwrap_or(rest.len());
    let (unit, rest) = rest.split_at(unit_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(format!("expected a number before \"{unit}\""));
    }
    if unit.is_empty() {
        return Err("missing unit after the number (use h, m, s, ms, us or ns)".to_owned());
    }
    let scale = unit_nanos(unit)
        .ok_or_else(|| format!("unknown unit \"{unit}\" (use h, m, s, ms, us or ns)"))?;
    let value = scaled(whole, fraction, scale).ok_or("too large")?;
    Ok((value, rest))
}

fn unit_nanos(unit: &str) -> Option<u128> {
    let nanos = match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SECOND,
        "m" => 60 * NANOS_PER_SECOND,
        "h" => 3_600 * NANOS_PER_SECOND,
        _ => return None,
    };
    Some(nanos)
}

/// `whole.fraction × scale`, truncated to whole nanoseconds like Go.
fn scaled(whole: &str, fraction: &str, scale: u128) -> Option<u128> {
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    // 18 digits are below a nanosecond even for hours, and keep
    // `fraction × scale` well inside u128.
    let digits = &fraction[..fraction.len().min(18)];
    let (numerator, divisor) = digits.bytes().fold((0u128, 1u128), |(n, d), b| {
        (n * 10 + u128::from(b - b'0'), d * 10)
    });
    whole
        .checked_mul(scale)?
        .checked_add(numerator * scale / divisor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("testdata/seed_zumi.toml");

    fn load(text: &str) -> Result<Config, ConfigError> {
        load_str(Path::new("t.toml"), text)
    }

    fn loaded(text: &str) -> Config {
        match load(text) {
            Ok(config) => config,
            Err(e) => panic!("config refused:\n{e}"),
        }
    }

    fn errors(text: &str) -> Vec<String> {
        match load(text) {
            Ok(_) => panic!("config accepted"),
            Err(e) => e.errors.iter().map(ToString::to_string).collect(),
        }
    }

    fn warnings(config: &Config) -> Vec<String> {
        config.warnings.iter().map(ToString::to_string).collect()
    }

    const MINIMAL: &str = r#"
[entryPoints.web]
address = ":8080"
[frontends.f.routes.r]
rule = "PathPrefix:/"
[frontends.f]
backend = "b"
[backends.b.servers.s]
url = "http://127.0.0.1:9000"
"#;

    #[test]
    fn seed_config_only_fails_on_its_address_placeholder() {
        let path = Path::new("testdata/seed_zumi.toml");
        let err = load_str(path, SEED).expect_err("placeholder address refused");
        let errors: Vec<String> = err.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            vec![
                "testdata/seed_zumi.toml:5:15: entryPoints.http.address: missing port in address \
                 \"IP_OF_MY_SERVER\" (write \"host:port\" or \":port\")"
            ]
        );
    }

    #[test]
    fn seed_config_with_its_address_filled_in_loads_with_warnings() {
        let text = SEED.replace("\"IP_OF_MY_SERVER\"", "\":80\"");
        let config = match load_str(Path::new("seed.toml"), &text) {
            Ok(config) => config,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            warnings(&config),
            vec![
                "seed.toml:13:8: entryPoints.https.tls.certificates: \"[entryPoints.https.tls.certificates]]\" \
                 has a bracket missing; read as [[entryPoints.https.tls.certificates]]",
                "seed.toml:21:2: accessLog: access log: not yet supported, ignored",
            ]
        );
        assert_eq!(config.default_entry_points, ["http", "https"]);
        assert_eq!(config.entry_points["http"].address, ":80");
        let redirect = config.entry_points["http"]
            .redirect
            .as_ref()
            .expect("redirect");
        assert_eq!(redirect.entry_point.as_deref(), Some("https"));
        let tls = config.entry_points["https"].tls.as_ref().expect("tls");
        assert_eq!(tls.certificates.len(), 1);
        let auth = config.frontends["zumi01"]
            .basic_auth
            .as_ref()
            .expect("basicAuth");
        assert_eq!(auth.users, ["USER:HTTPPASSWD"]);
        assert_eq!(config.entry_points["https"].address, "IP_OF_MY_SERVE:443");
        let frontend = &config.frontends["zumi01"];
        assert_eq!(frontend.backend, "zumi01");
        assert!(frontend.pass_host_header);
        assert!(frontend.entry_points.is_empty());
        assert_eq!(frontend.routes.len(), 1);
        assert_eq!(frontend.routes[0].rule, "PathPrefix:/zumi01");
        assert_eq!(
            frontend.routes[0].location.to_string(),
            "seed.toml:36:8: frontends.zumi01.routes.route_1.rule"
        );
        let server = &config.backends["zumi01"].servers[0];
        assert_eq!(
            (server.scheme, server.authority.as_str()),
            (Scheme::Http, "127.0.0.1:8888")
        );
        assert_eq!(server.weight, 1);
        assert_eq!(config.log.file_path, Some(PathBuf::from("log/traefik.log")));
        assert!(config
            .file
            .as_ref()
            .is_some_and(|f| f.watch && f.filename.is_none()));
    }

    #[test]
    fn load_file_reads_the_seed_from_disk() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config/testdata/seed_zumi.toml");
        let err = load_file(&path).expect_err("placeholder address refused");
        assert_eq!(err.errors.len(), 1);
        let missing = load_file(Path::new("/nonexistent/tollgate.toml")).expect_err("no file");
        assert!(missing
            .to_string()
            .starts_with("/nonexistent/tollgate.toml: cannot read: "));
    }

    #[test]
    fn shipped_default_config_loads_cleanly() {
        let text = include_str!("../../../config/tollgate.toml");
        let config = loaded(text);
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert_eq!(config.ping.as_deref(), Some("http"));
    }

    #[test]
    fn backend_tls_paths_are_relative_to_the_config_file() {
        let text = format!(
            "rootCAs = [\"ca.pem\", \"/etc/ca.pem\"]\ninsecureSkipVerify = true\n{MINIMAL}"
        );
        let config = load_str(Path::new("conf/t.toml"), &text).expect("loads");
        assert_eq!(
            config.backend_tls.root_cas,
            [
                PemSource::File(PathBuf::from("conf/ca.pem")),
                PemSource::File(PathBuf::from("/etc/ca.pem"))
            ]
        );
        assert!(config.backend_tls.insecure_skip_verify);
    }

    #[test]
    fn minimal_config_loads_without_warnings() {
        let config = loaded(MINIMAL);
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert_eq!(config.grace_timeout, Duration::from_secs(10));
        assert_eq!(config.responding_timeouts.idle, Duration::from_secs(180));
        assert_eq!(config.forwarding_timeouts.dial, Duration::from_secs(30));
        assert!(config.file.is_none());
        assert_eq!(config.log.level, None);
    }

    #[test]
    fn keys_are_case_insensitive_names_are_not() {
        let config = loaded(
            r#"
DefaultEntryPoints = ["Web"]
LOGLEVEL = "info"
[EntryPoints.Web]
Address = ":8080"
[EntryPoints.Web.forwardedheaders]
TrustedIps = ["10.0.0.0/8"]
[Frontends.Site]
Backend = "Pool"
PASSHOSTHEADER = false
[Frontends.Site.Routes.R]
Rule = "Host:example.com"
[Backends.Pool.Servers.S1]
URL = "h2c://[::1]:8080"
Weight = 3
[Backends.Pool.healthcheck]
path = "/health"
[Backends.Pool.healthcheck.Headers]
X-Probe = "1"
[Backends.Pool.MAXCONN]
Amount = 10
ExtractorFunc = "request.header.X-User"
"#,
        );
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert_eq!(config.log.level.as_deref(), Some("INFO"));
        assert_eq!(
            config.entry_points["Web"].forwarded_headers.trusted_ips,
            ["10.0.0.0/8"]
        );
        let site = &config.frontends["Site"];
        assert!(!site.pass_host_header);
        let pool = &config.backends["Pool"];
        assert_eq!(pool.servers[0].authority, "[::1]:8080");
        assert_eq!(pool.servers[0].scheme, Scheme::H2c);
        assert_eq!(pool.servers[0].weight, 3);
        let hc = pool.health_check.as_ref().expect("health check");
        assert_eq!(hc.headers, [("X-Probe".to_owned(), "1".to_owned())]);
        let max = pool.max_conn.as_ref().expect("maxConn");
        assert_eq!(max.amount, 10);
        assert_eq!(max.extractor, Extractor::RequestHeader("X-User".to_owned()));
        // Names are user data: "pool" is not "Pool".
        let err = errors(&MINIMAL.replace("backend = \"b\"", "backend = \"B\""));
        assert_eq!(
            err,
            ["t.toml:7:11: frontends.f.backend: unknown backend \"B\" (did you mean \"b\"?)"]
        );
    }

    #[test]
    fn unknown_keys_are_warned_at_their_key() {
        let text = MINIMAL.replace(
            "backend = \"b\"",
            "backend = \"b\"\n  pasHostHeader = false",
        );
        let config = loaded(&text);
        assert_eq!(
            warnings(&config),
            [
                "t.toml:8:3: frontends.f.pasHostHeader: unknown key \"pasHostHeader\", ignored \
              (did you mean \"passHostHeader\"?)"
            ]
        );
        let config = loaded(&format!("[nonsense.deep]\nx = 1\n{MINIMAL}"));
        assert_eq!(
            warnings(&config),
            ["t.toml:1:2: nonsense: unknown key \"nonsense\", ignored"]
        );
    }

    #[test]
    fn type_error_names_file_line_column_and_key() {
        let text = format!(
            "{}\n{}",
            "# comment\n".repeat(3),
            r#"[entryPoints.web]
address = ":80"
[backends.zumi01.servers.s]
url = "http://127.0.0.1:8888"
[frontends.zumi01]
backend = "zumi01"
[frontends.zumi01.routes.route_1]
rule = 5
"#
        );
        let err = load_str(Path::new("config/tollgate.toml"), &text).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "config/tollgate.toml:12:8: frontends.zumi01.routes.route_1.rule: expected a string, found an integer"
        );
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let err = errors("[entryPoints.web]\naddress = :80\n");
        assert_eq!(
            err,
            ["t.toml:2:11: syntax error: string values must be quoted, expected literal string"]
        );
    }

    #[test]
    fn validation_collects_every_error() {
        let text = r#"
defaultEntryPoints = ["web", "nope"]
[entryPoints.web]
address = "localhost"
[frontends.f]
backend = "missing"
entryPoints = ["web", "wbe"]
priority = -1
[frontends.f.routes.r]
[frontends.g.routes.r]
rule = "Path:/"
[backends.b.servers.s]
url = "ftp://host"
weight = -2
"#;
        assert_eq!(
            errors(text),
            [
                "t.toml:2:30: defaultEntryPoints[1]: unknown entry point \"nope\"; defined: \"web\"",
                "t.toml:4:11: entryPoints.web.address: missing port in address \"localhost\" \
                 (write \"host:port\" or \":port\")",
                "t.toml:6:11: frontends.f.backend: unknown backend \"missing\"; defined: \"b\"",
                "t.toml:7:23: frontends.f.entryPoints[1]: unknown entry point \"wbe\" (did you mean \"web\"?)",
                "t.toml:8:12: frontends.f.priority: -1 must not be negative",
                "t.toml:9:1: frontends.f.routes.r.rule: missing: every route needs a rule such as \
                 \"PathPrefix:/app\"",
                "t.toml:10:12: frontends.g.backend: missing: every frontend needs a backend",
                "t.toml:13:7: backends.b.servers.s.url: invalid server URL \"ftp://host\": \
                 unsupported scheme \"ftp\": use http, https or h2c",
                "t.toml:14:10: backends.b.servers.s.weight: weight -2 must not be negative",
            ]
        );
    }

    #[test]
    fn unsupported_sections_warn_once_and_hide_their_contents() {
        let text = format!(
            "{MINIMAL}{}",
            r#"
[api]
entryPoint = "a"
[api.statistics]
recentErrors = 1
[backends.b.circuitBreaker]
expression = "NetworkErrorRatio() > 0.5"
[backends.b.loadBalancer]
method = "DRR"
[backends.b.loadBalancer.stickiness]
cookieName = "c"
[lifeCycle]
requestAcceptGraceTimeout = "10s"
graceTimeOut = "3s"
"#
        );
        let config = loaded(&text);
        assert_eq!(
            warnings(&config),
            [
                "t.toml:11:2: api: API and dashboard: not yet supported, ignored",
                "t.toml:15:13: backends.b.circuitBreaker: circuit breakers: not yet supported, ignored",
                "t.toml:19:26: backends.b.loadBalancer.stickiness: sticky sessions: not yet supported, ignored",
                "t.toml:22:1: lifeCycle.requestAcceptGraceTimeout: accept grace period: not yet supported, ignored",
            ]
        );
        assert_eq!(config.backends["b"].load_balancer, LoadBalancerMethod::Drr);
        assert_eq!(config.grace_timeout, Duration::from_secs(3));
    }

    #[test]
    fn globals_timeouts_and_logging() {
        let text = format!(
            "{}{MINIMAL}",
            r#"
debug = true
logLevel = "error"
checkNewVersion = true
sendAnonymousUsage = false
traefikLogsFile = "old.log"
graceTimeOut = 7
[traefikLog]
format = "JSON"
[respondingTimeouts]
readTimeout = "5s"
writeTimeout = 0
idleTimeout = "1m30s"
[forwardingTimeouts]
dialTimeout = "2s"
responseHeaderTimeout = "250ms"
[file]
watch = false
filename = "t.toml"
"#
        );
        let config = loaded(&text);
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert_eq!(config.log.level.as_deref(), Some("DEBUG"));
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.log.file_path, Some(PathBuf::from("old.log")));
        assert_eq!(config.grace_timeout, Duration::from_secs(7));
        let rt = &config.responding_timeouts;
        assert_eq!(
            (rt.read, rt.write, rt.idle),
            (Some(Duration::from_secs(5)), None, Duration::from_secs(90))
        );
        let ft = &config.forwarding_timeouts;
        assert_eq!(
            (ft.dial, ft.response_header),
            (Duration::from_secs(2), Some(Duration::from_millis(250)))
        );
        let file = config.file.expect("file");
        assert!(!file.watch);
        assert_eq!(file.filename, Some(PathBuf::from("t.toml")));
    }

    #[test]
    fn bad_values_name_their_key() {
        let text = format!(
            "{MINIMAL}{}",
            r#"[backends.b.maxConn]
amount = 5
extractorFunc = "client.port"
[backends.b.healthCheck]
path = "health"
interval = "10x"
[backends.b.responseForwarding]
flushInterval = 1.5
[traefikLog]
format = "xml"
"#
        );
        assert_eq!(
            errors(&text),
            [
                "t.toml:12:17: backends.b.maxConn.extractorFunc: unknown extractorFunc \"client.port\": \
                 use client.ip, request.host or request.header.NAME",
                "t.toml:14:8: backends.b.healthCheck.path: path \"health\" must start with \"/\"",
                "t.toml:15:12: backends.b.healthCheck.interval: invalid duration \"10x\": unknown unit \"x\" \
                 (use h, m, s, ms, us or ns)",
                "t.toml:17:17: backends.b.responseForwarding.flushInterval: expected a duration such as \
                 \"10s\" or a number of seconds, found a float",
                "t.toml:19:10: traefikLog.format: unknown log format \"xml\": use \"common\" or \"json\"",
            ]
        );
    }

    #[test]
    fn max_conn_amount_zero_or_missing_means_no_limit() {
        let config = loaded(&format!("{MINIMAL}[backends.b.maxConn]\namount = 0\n"));
        assert!(config.backends["b"].max_conn.is_none());
        assert!(config.warnings.is_empty());
        let err = errors(&format!("{MINIMAL}[backends.b.maxConn]\namount = 3\n"));
        assert_eq!(
            err,
            ["t.toml:10:1: backends.b.maxConn.extractorFunc: missing: use client.ip, request.host or \
              request.header.NAME"]
        );
    }

    #[test]
    fn health_check_defaults() {
        let text = format!("[healthcheck]\ninterval = \"45s\"\n{MINIMAL}[backends.b.healthCheck]\npath = \"/h\"\nport = 9001\nscheme = \"HTTPS\"\n");
        let config = loaded(&text);
        let hc = config.backends["b"]
            .health_check
            .clone()
            .expect("health check");
        assert_eq!(
            (hc.interval, hc.timeout),
            (Duration::from_secs(45), Duration::from_secs(5))
        );
        assert_eq!((hc.port, hc.scheme), (Some(9001), Some(Scheme::Https)));
        let text = format!("{MINIMAL}[backends.b.healthCheck]\ninterval = \"5s\"\n");
        let config = loaded(&text);
        assert!(config.backends["b"].health_check.is_none());
        assert_eq!(
            warnings(&config),
            ["t.toml:10:1: backends.b.healthCheck: no path: health checking is off for this backend, as in Traefik 1.7"]
        );
    }

    #[test]
    fn backend_without_servers_is_a_warning() {
        let config = loaded(&format!("{MINIMAL}[backends.empty]\n"));
        assert!(config.backends["empty"].servers.is_empty());
        assert_eq!(
            warnings(&config),
            ["t.toml:10:1: backends.empty: backend has no servers: requests routed to it get 503 Service Unavailable"]
        );
    }

    #[test]
    fn weight_zero_follows_allow_min_weight_zero() {
        let text = MINIMAL.replace("9000\"", "9000\"\nweight = 0");
        let config = loaded(&text);
        assert_eq!(config.backends["b"].servers[0].weight, 1);
        assert_eq!(config.warnings.len(), 1);
        let config = loaded(&format!("allowMinWeightZero = true\n{text}"));
        assert_eq!(config.backends["b"].servers[0].weight, 0);
        assert!(config.warnings.is_empty());
    }

    #[test]
    fn no_entry_points_means_http_on_port_80() {
        let config = loaded(&MINIMAL.replace("[entryPoints.web]\naddress = \":8080\"\n", ""));
        assert_eq!(config.entry_points["http"].address, ":80");
        assert_eq!(
            warnings(&config),
            ["t.toml: entryPoints: no entry points defined: listening on \":80\" as entry point \"http\", \
              like Traefik 1.7"]
        );
    }

    #[test]
    fn ping_uses_the_traefik_entry_point_by_default() {
        let config = loaded(&format!("{MINIMAL}[ping]\n"));
        assert_eq!(config.ping.as_deref(), Some("traefik"));
        assert_eq!(config.entry_points["traefik"].address, ":8080");
        assert_eq!(config.default_entry_points, ["web"]);
        assert_eq!(
            warnings(&config),
            ["t.toml:10:1: ping: entry point \"traefik\" is not defined: listening on \":8080\" for it, \
              like Traefik 1.7"]
        );
        let config = loaded(&format!("{MINIMAL}[ping]\nentryPoint = \"web\"\n"));
        assert_eq!(config.ping.as_deref(), Some("web"));
        assert!(config.warnings.is_empty());
        let err = errors(&format!("{MINIMAL}[ping]\nentryPoint = \"wbe\"\n"));
        assert_eq!(
            err,
            ["t.toml:11:14: ping.entryPoint: unknown entry point \"wbe\" (did you mean \"web\"?)"]
        );
    }

    #[test]
    fn durations() {
        let ok = [
            ("10ms", Duration::from_millis(10)),
            ("1.5s", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("1h30m", Duration::from_secs(5400)),
            ("+3s", Duration::from_secs(3)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("42", Duration::from_secs(42)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("2us", Duration::from_micros(2)),
            ("2µs", Duration::from_micros(2)),
            ("3ns", Duration::from_nanos(3)),
            ("1h0.5m1s", Duration::from_secs(3631)),
            ("0.000000001s", Duration::from_nanos(1)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        let bad = [
            ("", "empty"),
            ("-1s", "must not be negative"),
            ("10", ""),
            ("10x", "unknown unit \"x\" (use h, m, s, ms, us or ns)"),
            (
                "1.5",
                "missing unit after the number (use h, m, s, ms, us or ns)",
            ),
            ("s", "expected a number before \"s\""),
            ("1..2s", "expected a number before \"s\""),
            ("1 s", "unknown unit \" s\" (use h, m, s, ms, us or ns)"),
            ("99999999999999999999h", "too large"),
        ];
        for (text, want) in bad.into_iter().filter(|(t, _)| *t != "10") {
            assert_eq!(parse_duration(text), Err(want.to_owned()), "{text}");
        }
    }

    #[test]
    fn durations_in_the_file_accept_integers_as_seconds() {
        let config = loaded(&format!("[lifeCycle]\ngraceTimeOut = 3\n{MINIMAL}"));
        assert_eq!(config.grace_timeout, Duration::from_secs(3));
        let err = errors(&format!("[lifeCycle]\ngraceTimeOut = -3\n{MINIMAL}"));
        assert_eq!(
            err,
            ["t.toml:2:16: lifeCycle.graceTimeOut: a duration must not be negative"]
        );
    }

    #[test]
    fn server_urls() {
        let ok = [
            (
                "http://127.0.0.1:8888",
                Scheme::Http,
                "127.0.0.1:8888",
                None,
            ),
            ("http://example.com", Scheme::Http, "example.com:80", None),
            (
                "HTTPS://example.com/",
                Scheme::Https,
                "example.com:443",
                None,
            ),
            ("h2c://grpc", Scheme::H2c, "grpc:80", None),
            ("http://[::1]:8080", Scheme::Http, "[::1]:8080", None),
            ("https://[fe80::1]", Scheme::Https, "[fe80::1]:443", None),
            (
                "http://host:81/base?x=1",
                Scheme::Http,
                "host:81",
                Some("/base?x=1"),
            ),
        ];
        for (url, scheme, authority, ignored) in ok {
            let want = ServerUrl {
                scheme,
                authority: authority.to_owned(),
                ignored: ignored.map(str::to_owned),
            };
            assert_eq!(parse_server_url(url), Ok(want), "{url}");
        }
        let bad = [
            (
                "127.0.0.1:8888",
                "expected scheme://host[:port], e.g. \"http://127.0.0.1:8080\"",
            ),
            (
                "ftp://host",
                "unsupported scheme \"ftp\": use http, https or h2c",
            ),
            ("http://", "missing host"),
            ("http://:80", "missing host"),
            (
                "http://host:0",
                "invalid port \"0\": expected a number from 1 to 65535",
            ),
            (
                "http://host:70000",
                "invalid port \"70000\": expected a number from 1 to 65535",
            ),
            (
                "http://host:x",
                "invalid port \"x\": expected a number from 1 to 65535",
            ),
            (
                "http://::1:80",
                "IPv6 addresses must be written in brackets, e.g. \"http://[::1]:8080\"",
            ),
            ("http://[::1", "missing ']' after the IPv6 address"),
            ("http://[nope]:80", "\"nope\" is not an IPv6 address"),
            (
                "http://u:p@host",
                "user names and passwords in server URLs are not supported",
            ),
            ("http://ho st", "invalid host \"ho st\""),
        ];
        for (url, want) in bad {
            assert_eq!(parse_server_url(url), Err(want.to_owned()), "{url}");
        }
    }

    #[test]
    fn server_url_path_is_ignored_with_a_warning() {
        let config = loaded(&MINIMAL.replace("9000\"", "9000/app\""));
        assert_eq!(config.backends["b"].servers[0].authority, "127.0.0.1:9000");
        assert_eq!(
            warnings(&config),
            ["t.toml:9:7: backends.b.servers.s.url: \"/app\" in the server URL is ignored, as in Traefik 1.7 \
              (to add a path prefix, use an AddPrefix rule on the frontend)"]
        );
    }

    #[test]
    fn addresses() {
        for ok in [
            ":80",
            "0.0.0.0:443",
            "localhost:8080",
            "[::1]:8080",
            "[fe80::1%eth0]:80",
            ":0",
        ] {
            assert_eq!(check_address(ok), Ok(()), "{ok}");
        }
        let bad = [
            ("IP_OF_MY_SERVER", "missing port in address \"IP_OF_MY_SERVER\" (write \"host:port\" or \":port\")"),
            ("::1:80", "too many colons in address \"::1:80\" (write IPv6 addresses in brackets, e.g. \"[::1]:8080\")"),
            ("[::1]", "missing port in address \"[::1]\""),
            ("[::1:80", "missing ']' in address \"[::1:80\""),
            (":http", "invalid port \"http\" in address \":http\": expected a number from 0 to 65535"),
            (":65536", "invalid port \"65536\" in address \":65536\": expected a number from 0 to 65535"),
            ("host:", "invalid port \"\" in address \"host:\": expected a number from 0 to 65535"),
        ];
        for (address, want) in bad {
            assert_eq!(check_address(address), Err(want.to_owned()), "{address}");
        }
    }

    #[test]
    fn trusted_ips_and_extractors() {
        assert_eq!(check_ip_or_cidr("10.0.0.0/8"), Ok(()));
        assert_eq!(check_ip_or_cidr("::1"), Ok(()));
        assert!(check_ip_or_cidr("10.0.0.0/33").is_err());
        assert!(check_ip_or_cidr("example.com").is_err());
        assert_eq!(parse_extractor("client.ip"), Ok(Extractor::ClientIp));
        assert_eq!(parse_extractor("request.host"), Ok(Extractor::RequestHost));
        assert!(parse_extractor("request.header.").is_err());
    }

    #[test]
    fn bracket_typo_is_read_as_array_of_tables() {
        let text = format!("{MINIMAL}[entryPoints.web.tls]\n  [entryPoints.web.tls.certificates]]\n  certFile = \"c\"\n  keyFile = \"k\"\n");
        let config = loaded(&text);
        assert_eq!(
            warnings(&config),
            [
                "t.toml:11:3: entryPoints.web.tls.certificates: \"[entryPoints.web.tls.certificates]]\" \
                 has a bracket missing; read as [[entryPoints.web.tls.certificates]]",
            ]
        );
        let tls = config.entry_points["web"].tls.as_ref().expect("tls read");
        assert_eq!(
            tls.certificates.len(),
            1,
            "the typo'd header is one certificate"
        );
    }
}
