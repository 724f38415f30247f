//! Tests of whole files, across sections (the seed config, the shipped
//! default, every error collected in one pass, case-insensitive keys), and
//! the helpers that every section loader's tests share.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::diagnostic::ConfigError;
use crate::config::model::{Config, Extractor, Scheme};

use super::load_str;

const SEED: &str = include_str!("../testdata/seed_zumi.toml");

fn load(text: &str) -> Result<Config, ConfigError> {
    load_str(Path::new("t.toml"), text)
}

pub(super) fn loaded(text: &str) -> Config {
    match load(text) {
        Ok(config) => config,
        Err(e) => panic!("config refused:\n{e}"),
    }
}

pub(super) fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("config accepted"),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

pub(super) fn warnings(config: &Config) -> Vec<String> {
    config.warnings.iter().map(ToString::to_string).collect()
}

pub(super) const MINIMAL: &str = r#"
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
        ]
    );
    let access = config.access_log.as_ref().expect("[accessLog]");
    assert_eq!(access.file_path.as_deref(), Some(Path::new("log/log.txt")));
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
fn shipped_default_config_loads_cleanly() {
    let text = include_str!("../../../../config/tollgate.toml");
    let config = loaded(text);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(config.ping.as_deref(), Some("http"));
    assert_eq!(
        config.api.as_ref().map(|a| a.entry_point.as_str()),
        Some("traefik")
    );
    assert_eq!(config.default_entry_points, ["http"]);
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
             unsupported scheme \"ftp\": use http, https, h2c or tunnel",
            "t.toml:14:10: backends.b.servers.s.weight: weight -2 must not be negative",
        ]
    );
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

#[test]
fn proxy_protocol_takes_the_keys_of_forwarded_headers() {
    let config = loaded(&format!(
        "{MINIMAL}[entryPoints.web.proxyProtocol]\ntrustedIPs = [\"10.0.0.0/8\", \"192.0.2.7\"]\n"
    ));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let pp = config.entry_points["web"].proxy_protocol.as_ref().unwrap();
    assert_eq!(pp.trusted_ips, ["10.0.0.0/8", "192.0.2.7"]);
    assert!(!pp.insecure);
    let config = loaded(&format!(
        "{MINIMAL}[entryPoints.web.proxyProtocol]\ninsecure = true\n"
    ));
    assert!(
        config.entry_points["web"]
            .proxy_protocol
            .as_ref()
            .unwrap()
            .insecure
    );
    assert!(loaded(MINIMAL).entry_points["web"].proxy_protocol.is_none());
    let errs = errors(&format!(
        "{MINIMAL}[entryPoints.web.proxyProtocol]\ntrustedIPs = [\"10.0.0.0/99\"]\n"
    ));
    assert!(errs[0].contains("10.0.0.0/99"), "{errs:?}");
}

#[test]
fn buffering_takes_max_request_body_bytes_and_warns_of_the_rest() {
    let config = loaded(&format!(
        "{MINIMAL}[backends.b.buffering]\nmaxRequestBodyBytes = 10485760\nmemRequestBodyBytes = 2097152\n"
    ));
    assert_eq!(config.backends["b"].max_request_body, Some(10 << 20));
    let warned = warnings(&config);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("memRequestBodyBytes"), "{warned:?}");
    let config = loaded(&format!(
        "{MINIMAL}[backends.b.buffering]\nmaxRequestBodyBytes = 0\n"
    ));
    assert_eq!(config.backends["b"].max_request_body, None);
    let errs = errors(&format!(
        "{MINIMAL}[backends.b.buffering]\nmaxRequestBodyBytes = -5\n"
    ));
    assert!(errs[0].contains("negative"), "{errs:?}");
}

#[test]
fn idle_backend_connections_take_traefik_keys() {
    let config = loaded(&format!(
        "maxIdleConnsPerHost = 8\n{MINIMAL}[forwardingTimeouts]\nidleConnTimeout = \"20s\"\n"
    ));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(
        config.forwarding_timeouts.idle_conn,
        Duration::from_secs(20)
    );
    assert_eq!(config.forwarding_timeouts.max_idle_per_host, 8);
    let config = loaded(MINIMAL);
    assert_eq!(
        config.forwarding_timeouts.idle_conn,
        Duration::from_secs(90)
    );
    assert_eq!(config.forwarding_timeouts.max_idle_per_host, 512);
}
