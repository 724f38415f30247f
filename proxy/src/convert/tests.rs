//! A converted config routes every request of a corpus as the 1.7 one did
//! (same frontend, same rewrite), and keeps what each frontend runs.

use std::path::Path;

use http::{HeaderMap, HeaderValue, Method, Uri};

use super::{from_traefik1, Format};
use crate::config::model::Config;
use crate::router::{FrontendRules, RouteMatch, Router};

const SEED: &str = include_str!("../config/testdata/seed_zumi.toml");
const EXAMPLE: &str = include_str!("../../../config/zumi-remote-access.toml");

/// Every matcher and modifier of 1.7, overlapping on purpose.
const ALL_MATCHERS: &str = r#"
[entryPoints.web]
address = ":8000"
[frontends.hosts]
backend = "b"
  [frontends.hosts.routes.r]
  rule = "Host:a.test,B.test"
[frontends.strip]
backend = "b"
  [frontends.strip.routes.r]
  rule = "Host:a.test;PathPrefixStrip:/zumi01,/zumi"
[frontends.template]
backend = "b"
  [frontends.template.routes.r]
  rule = "PathPrefixStrip:/dev/{id:[0-9]+}"
[frontends.regexhost]
backend = "b"
  [frontends.regexhost.routes.r]
  rule = "HostRegexp:{sub:[a-z]+}.fleet.test"
[frontends.exact]
backend = "b"
passHostHeader = false
  [frontends.exact.routes.r]
  rule = "PathStrip:/exact"
[frontends.methods]
backend = "b"
  [frontends.methods.routes.r]
  rule = "Method:POST,PUT;PathPrefix:/api"
[frontends.headers]
backend = "b"
  [frontends.headers.routes.r]
  rule = "Headers:X-Cam,1;HeadersRegexp:Accept,image/.*"
[frontends.query]
backend = "b"
  [frontends.query.routes.r]
  rule = "Query:mode=live,id={id:[0-9]+}"
[frontends.rewrite]
backend = "b"
priority = 500
  [frontends.rewrite.routes.r]
  rule = "PathPrefix:/old;AddPrefix:/v2;ReplacePathRegex:^/v2/old/(.*) /new/$1"
[frontends.replace]
backend = "b"
  [frontends.replace.routes.a]
  rule = "Path:/replace"
  [frontends.replace.routes.b]
  rule = "ReplacePath:/replaced"
[backends.b.servers.s]
url = "http://127.0.0.1:9000"
"#;

fn load(file: &str, text: &str) -> Config {
    crate::config::load_str(Path::new(file), text).unwrap_or_else(|e| panic!("{file}:\n{e}"))
}

/// Each entry point's routes: (frontend name, rewrite) for a request.
fn routers(config: &Config) -> Vec<(String, Router, Vec<String>)> {
    config
        .entry_points
        .keys()
        .map(|ep| {
            let fronts: Vec<_> = config
                .frontends
                .values()
                .filter(|f| config.entry_points_of(f).contains(&ep.as_str()))
                .collect();
            let rules: Vec<FrontendRules> = fronts
                .iter()
                .map(|f| FrontendRules {
                    wants_vars: false,
                    priority: f.priority,
                    rules: f.routes.iter().map(|r| r.rule.clone()).collect(),
                    syntax: f.rule_syntax,
                    modifiers: f.path_modifiers.clone(),
                })
                .collect();
            let router = Router::compile(&rules).unwrap_or_else(|e| panic!("{e:?}"));
            let names = fronts.iter().map(|f| f.name.clone()).collect();
            (ep.clone(), router, names)
        })
        .collect()
}

fn corpus() -> Vec<(Method, String, Option<&'static str>, HeaderMap)> {
    let hosts = [
        None,
        Some("a.test"),
        Some("b.test"),
        Some("x9.fleet.test"),
        Some("zumi.example.com"),
    ];
    let paths = [
        "/",
        "/zumi01/tree",
        "/zumi/x",
        "/zumi01",
        "/dev/42/stream",
        "/dev/x",
        "/exact",
        "/exact/x",
        "/api/v1",
        "/old/thing",
        "/replace",
        "/notebooks/../zumi01/x",
        "/?mode=live&id=7",
        "/?mode=live&id=x",
    ];
    let mut out = Vec::new();
    for host in hosts {
        for path in paths {
            for method in [Method::GET, Method::POST] {
                for headers in [false, true] {
                    let mut h = HeaderMap::new();
                    if let Some(host) = host {
                        h.insert(http::header::HOST, HeaderValue::from_static(host));
                    }
                    if headers {
                        h.insert("x-cam", HeaderValue::from_static("1"));
                        h.insert("accept", HeaderValue::from_static("image/jpeg"));
                    }
                    out.push((method.clone(), path.to_string(), host, h));
                }
            }
        }
    }
    out
}

fn routed(
    router: &Router,
    names: &[String],
    m: &Method,
    uri: &Uri,
    h: &HeaderMap,
) -> Option<(String, Option<crate::router::Rewrite>)> {
    let client = std::net::IpAddr::from([127, 0, 0, 1]);
    router.route(m, uri, h, client).map(
        |RouteMatch {
             frontend, rewrite, ..
         }| (names[frontend].clone(), rewrite),
    )
}

fn routes_identically(file: &str, text: &str) {
    let old = load(file, text);
    for format in [Format::Yaml, Format::Toml] {
        let converted = from_traefik1(&old, format).expect("converts");
        let name = match format {
            Format::Yaml => "converted.yml",
            Format::Toml => "converted.toml",
        };
        let new = crate::config::load_str(Path::new(name), &converted.text)
            .unwrap_or_else(|e| panic!("{file} as {name} does not load:\n{e}\n{}", converted.text));
        assert!(
            new.warnings.is_empty(),
            "{name}: {:?}\n{}",
            new.warnings,
            converted.text
        );
        let (old_routers, new_routers) = (routers(&old), routers(&new));
        assert_eq!(old_routers.len(), new_routers.len());
        let mut matched = 0;
        for ((ep, a, a_names), (_, b, b_names)) in old_routers.iter().zip(&new_routers) {
            for (method, path, _, headers) in corpus() {
                let uri: Uri = path.parse().unwrap();
                let before = routed(a, a_names, &method, &uri, &headers);
                let after = routed(b, b_names, &method, &uri, &headers);
                assert_eq!(
                    before, after,
                    "{file} → {name}, entry point {ep}: {method} {path} {headers:?}\n{}",
                    converted.text
                );
                matched += usize::from(before.is_some());
            }
        }
        assert!(
            matched > 20,
            "{file}: too few routed requests to compare ({matched})"
        );
        // Each entry point serves TLS or not as before.
        for (ep, e) in &old.entry_points {
            assert_eq!(
                e.tls.is_some(),
                new.entry_points[ep].tls.is_some(),
                "{file} → {name}: {ep}"
            );
        }
        // What each frontend runs is kept.
        for (name_f, f) in &old.frontends {
            let g = &new.frontends[name_f];
            assert_eq!(
                f.basic_auth.as_ref().map(|a| &a.users),
                g.basic_auth.as_ref().map(|a| &a.users)
            );
            assert_eq!(
                f.headers_to_apply().is_some(),
                g.headers_to_apply().is_some(),
                "{name_f}"
            );
            assert_eq!(f.pass_host_header, g.pass_host_header, "{name_f}");
            assert_eq!(
                old.backends[&f.backend].servers.len(),
                new.backends[&g.backend].servers.len()
            );
        }
    }
}

#[test]
fn every_matcher_and_modifier_routes_as_before() {
    routes_identically("all.toml", ALL_MATCHERS);
}

#[test]
fn the_seed_routes_as_before() {
    routes_identically("seed.toml", &SEED.replace("\"IP_OF_MY_SERVER\"", "\":80\""));
}

#[test]
fn the_shipped_example_routes_as_before() {
    routes_identically("zumi-remote-access.toml", EXAMPLE);
}

#[test]
fn backend_tls_and_forwarding_timeouts_become_the_servers_transport() {
    let text = format!(
        "rootCAs = [\"ca.pem\"]\ninsecureSkipVerify = true\nmaxIdleConnsPerHost = 64\n\
         [forwardingTimeouts]\ndialTimeout = \"3s\"\nresponseHeaderTimeout = \"20s\"\n{ALL_MATCHERS}"
    );
    let old = load("/etc/tg/all.toml", &text);
    let converted = from_traefik1(&old, Format::Yaml).unwrap();
    assert!(converted.notes.is_empty(), "{:?}", converted.notes);
    let new = load("/etc/tg/all.yml", &converted.text);
    assert_eq!(old.backend_tls, new.backend_tls);
    assert_eq!(old.forwarding_timeouts, new.forwarding_timeouts);
}

#[test]
fn acme_becomes_a_resolver_for_the_routers_on_its_entry_point() {
    let text = r#"
[entryPoints.http]
address = ":80"
  [entryPoints.http.redirect]
  entryPoint = "https"
[entryPoints.https]
address = ":443"
  [entryPoints.https.tls]
[acme]
email = "ops@example.com"
storage = "acme.json"
entryPoint = "https"
onHostRule = true
caCertificates = ["ca.pem"]
renewBefore = "240h"
  [acme.httpChallenge]
  entryPoint = "http"
  [[acme.domains]]
  main = "example.com"
  sans = ["www.example.com"]
[frontends.app]
backend = "b"
  [frontends.app.routes.r]
  rule = "Host:app.example.com"
[backends.b.servers.s]
url = "http://127.0.0.1:9000"
"#;
    let old = load("/etc/tg/t.toml", text);
    let converted = from_traefik1(&old, Format::Yaml).unwrap();
    assert!(converted.notes.is_empty(), "{:?}", converted.notes);
    let new = load("/etc/tg/t.yml", &converted.text);
    let (a, b) = (old.acme.as_ref().unwrap(), new.acme.as_ref().unwrap());
    assert_eq!(
        (
            &a.email,
            &a.storage,
            &a.entry_point,
            &a.http_challenge,
            &a.ca_certificates,
            a.renew_before
        ),
        (
            &b.email,
            &b.storage,
            &b.entry_point,
            &b.http_challenge,
            &b.ca_certificates,
            b.renew_before
        )
    );
    assert_eq!(a.domains, b.domains);
    assert!(b.on_host_rule);
    assert!(
        new.entry_points["http"].tls.is_none(),
        "plain HTTP stays plain"
    );
    assert!(new.entry_points["https"].tls.is_some());
    assert_eq!(
        b.host_rule_frontends
            .as_ref()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        ["app"]
    );
}

#[test]
fn the_seed_keeps_its_tls_redirect_and_auth() {
    let old = load("seed.toml", &SEED.replace("\"IP_OF_MY_SERVER\"", "\":80\""));
    let converted = from_traefik1(&old, Format::Yaml).unwrap();
    let new = load("seed.yml", &converted.text);
    for (name, ep) in &old.entry_points {
        let n = &new.entry_points[name];
        assert_eq!(ep.address, n.address);
        assert_eq!(ep.tls.is_some(), n.tls.is_some(), "{name}");
        assert_eq!(
            ep.redirect.as_ref().map(|r| (&r.entry_point, r.permanent)),
            n.redirect.as_ref().map(|r| (&r.entry_point, r.permanent)),
            "{name}"
        );
        if let (Some(a), Some(b)) = (&ep.tls, &n.tls) {
            let pems = |t: &crate::config::model::TlsConfig| {
                t.certificates
                    .iter()
                    .map(|c| (c.cert.clone(), c.key.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(pems(a), pems(b));
        }
    }
    assert_eq!(old.access_log, new.access_log);
    assert!(converted.notes.is_empty(), "{:?}", converted.notes);
}
