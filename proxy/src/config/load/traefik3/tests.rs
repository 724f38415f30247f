//! Traefik 2/3 files, in YAML and TOML, read into the model: each part of
//! the mapping, errors with their place in both formats, and the two
//! formats agreeing.

use std::path::Path;

use crate::config::diagnostic::ConfigError;
use crate::config::model::{Config, Dialect, PathModifier, RuleSyntax, Scheme};

fn load(file: &str, text: &str) -> Result<Config, ConfigError> {
    crate::config::load_str(Path::new(file), text)
}

fn loaded(file: &str, text: &str) -> Config {
    load(file, text).unwrap_or_else(|e| panic!("refused:\n{e}"))
}

fn errors(file: &str, text: &str) -> Vec<String> {
    match load(file, text) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

fn warnings(config: &Config) -> Vec<String> {
    config.warnings.iter().map(ToString::to_string).collect()
}

/// The Traefik 3 documentation's shape: two entry points with the HTTP one
/// redirecting, a router with TLS and middlewares, a service with a health
/// check.
const YAML: &str = r#"
entryPoints:
  web:
    address: ":80"
    http:
      redirections:
        entryPoint:
          to: websecure
          scheme: https
  websecure:
    address: ":443"
    http:
      tls: {}

accessLog: {}

http:
  routers:
    zumi:
      rule: "Host(`robots.example.com`) && PathPrefix(`/zumi01`)"
      entryPoints: [websecure]
      service: zumi@file
      middlewares: [secured]
    cams:
      rule: "PathPrefix(`/cam`)"
      service: cams
      priority: 10
  middlewares:
    auth:
      basicAuth:
        users:
          - "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"
        realm: robots
    strip:
      stripPrefix:
        prefixes: ["/zumi01"]
    stamp:
      headers:
        customRequestHeaders:
          X-Robot: zumi01
    secured:
      chain:
        middlewares: [auth, strip, stamp]
  services:
    zumi:
      loadBalancer:
        passHostHeader: false
        servers:
          - url: "http://127.0.0.1:8888"
        healthCheck:
          path: /api/status
          interval: 10s
    cams:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:8081"
            weight: 2
          - url: "h2c://127.0.0.1:8082"

tls:
  certificates:
    - certFile: certs/robots.crt
      keyFile: certs/robots.key
"#;

const TOML: &str = r#"
[entryPoints.web]
address = ":80"
[entryPoints.web.http.redirections.entryPoint]
to = "websecure"
scheme = "https"
[entryPoints.websecure]
address = ":443"
[entryPoints.websecure.http.tls]

[accessLog]

[http.routers.zumi]
rule = "Host(`robots.example.com`) && PathPrefix(`/zumi01`)"
entryPoints = ["websecure"]
service = "zumi@file"
middlewares = ["secured"]
[http.routers.cams]
rule = "PathPrefix(`/cam`)"
service = "cams"
priority = 10

[http.middlewares.auth.basicAuth]
users = ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"]
realm = "robots"
[http.middlewares.strip.stripPrefix]
prefixes = ["/zumi01"]
[http.middlewares.stamp.headers.customRequestHeaders]
X-Robot = "zumi01"
[http.middlewares.secured.chain]
middlewares = ["auth", "strip", "stamp"]

[http.services.zumi.loadBalancer]
passHostHeader = false
[[http.services.zumi.loadBalancer.servers]]
url = "http://127.0.0.1:8888"
[http.services.zumi.loadBalancer.healthCheck]
path = "/api/status"
interval = "10s"
[[http.services.cams.loadBalancer.servers]]
url = "http://127.0.0.1:8081"
weight = 2
[[http.services.cams.loadBalancer.servers]]
url = "h2c://127.0.0.1:8082"

[[tls.certificates]]
certFile = "certs/robots.crt"
keyFile = "certs/robots.key"
"#;

fn check_documentation_config(config: &Config, file: &str) {
    assert!(config.warnings.is_empty(), "{file}: {:?}", warnings(config));
    assert_eq!(config.dialects[0].1, Dialect::Traefik3);
    let web = &config.entry_points["web"];
    assert_eq!(web.address, ":80");
    let redirect = web.redirect.as_ref().expect("redirect");
    assert_eq!(redirect.entry_point.as_deref(), Some("websecure"));
    assert!(redirect.permanent);
    assert!(web.tls.is_none());
    let secure = &config.entry_points["websecure"];
    let tls = secure.tls.as_ref().expect("websecure serves TLS");
    assert_eq!(tls.certificates.len(), 1);
    assert!(config.access_log.is_some());

    let zumi = &config.frontends["zumi"];
    assert_eq!(zumi.rule_syntax, RuleSyntax::Traefik3);
    assert_eq!(
        zumi.routes[0].rule,
        "Host(`robots.example.com`) && PathPrefix(`/zumi01`)"
    );
    assert_eq!(zumi.entry_points, ["websecure"]);
    assert_eq!(zumi.backend, "zumi");
    assert!(!zumi.pass_host_header);
    let auth = zumi.basic_auth.as_ref().expect("basic auth from the chain");
    assert_eq!(auth.users.len(), 1);
    assert_eq!(auth.realm.as_deref(), Some("robots"));
    assert_eq!(
        zumi.path_modifiers,
        [PathModifier::StripPrefix(vec!["/zumi01".into()])]
    );
    let headers = zumi.headers.as_ref().expect("headers");
    assert_eq!(headers["customRequestHeaders"]["X-Robot"], "zumi01");

    let cams = &config.frontends["cams"];
    assert_eq!(cams.priority, 10);
    assert!(cams.entry_points.is_empty(), "all entry points");
    assert!(cams.pass_host_header);
    assert_eq!(config.default_entry_points, ["web", "websecure"]);

    let backend = &config.backends["zumi"];
    assert_eq!(backend.servers[0].authority, "127.0.0.1:8888");
    let hc = backend.health_check.as_ref().expect("health check");
    assert_eq!(hc.path, "/api/status");
    assert_eq!(hc.interval, std::time::Duration::from_secs(10));
    let cams = &config.backends["cams"];
    assert_eq!(cams.servers[0].weight, 2);
    assert_eq!(cams.servers[1].scheme, Scheme::H2c);
}

#[test]
fn the_documentation_config_reads_the_same_in_yaml_and_toml() {
    check_documentation_config(&loaded("traefik.yml", YAML), "yaml");
    check_documentation_config(&loaded("traefik.toml", TOML), "toml");
}

#[test]
fn errors_name_file_line_column_and_key_in_both_formats() {
    let yaml = YAML.replace("service: cams", "service: camz");
    assert_eq!(
        errors("t.yml", &yaml),
        ["t.yml:26:16: http.routers.cams.service: unknown service \"camz\" (did you mean \"cams\"?)"]
    );
    let toml = TOML.replace("service = \"cams\"", "service = \"camz\"");
    assert_eq!(
        errors("t.toml", &toml),
        ["t.toml:20:11: http.routers.cams.service: unknown service \"camz\" (did you mean \"cams\"?)"]
    );
    let yaml = YAML.replace("middlewares: [secured]", "middlewares: [secure]");
    assert_eq!(
        errors("t.yml", &yaml),
        ["t.yml:23:21: http.routers.zumi.middlewares[0]: unknown middleware \"secure\" (did you mean \"secured\"?)"]
    );
    let yaml = YAML.replace("interval: 10s", "interval: 10 parsecs");
    assert_eq!(errors("t.yml", &yaml).len(), 1);
    assert!(
        errors("t.yml", &yaml)[0].starts_with(
            "t.yml:52:21: http.services.zumi.loadBalancer.healthCheck.interval: invalid duration"
        ),
        "{:?}",
        errors("t.yml", &yaml)
    );
    // YAML's own syntax errors have their place too.
    let broken = "http:\n  routers:\n    r: [unclosed\n";
    let e = errors("t.yml", broken);
    assert!(e[0].starts_with("t.yml:"), "{e:?}");
    assert!(e[0].contains("syntax error"), "{e:?}");
}

#[test]
fn unknown_keys_warn_with_a_suggestion() {
    let yaml = YAML.replace("passHostHeader: false", "passHostHeadr: false");
    let config = loaded("t.yml", &yaml);
    assert_eq!(
        warnings(&config),
        ["t.yml:47:9: http.services.zumi.loadBalancer.passHostHeadr: unknown key \"passHostHeadr\", ignored (did you mean \"passHostHeader\"?)"]
    );
}

#[test]
fn a_file_mixing_dialects_is_refused() {
    let text = format!("{TOML}\n[frontends.f]\nbackend = \"b\"\n");
    let e = errors("t.toml", &text);
    assert!(
        e.iter().any(|e| e.contains(
            "\"frontends\" is Traefik 1.7 configuration in a file written for Traefik 2/3"
        )),
        "{e:?}"
    );
}

#[test]
fn weighted_services_and_path_middlewares() {
    let yaml = r#"
entryPoints:
  web:
    address: ":8000"
http:
  routers:
    r:
      rule: "PathPrefix(`/api`)"
      service: canary
      middlewares: [add, replace, regex]
  middlewares:
    add:
      addPrefix:
        prefix: /v2
    replace:
      replacePath:
        path: /fixed
    regex:
      replacePathRegex:
        regex: "^/api/(.*)"
        replacement: "/new/$1"
  services:
    canary:
      weighted:
        services:
          - name: stable
            weight: 3
          - name: next
            weight: 1
    stable:
      loadBalancer:
        servers: [{url: "http://127.0.0.1:9001"}]
    next:
      loadBalancer:
        servers: [{url: "http://127.0.0.1:9002"}]
"#;
    let config = loaded("t.yml", yaml);
    let canary = &config.backends["canary"];
    let weights: Vec<(String, u32)> = canary
        .servers
        .iter()
        .map(|s| (s.authority.clone(), s.weight))
        .collect();
    assert_eq!(
        weights,
        [
            ("127.0.0.1:9001".to_string(), 3),
            ("127.0.0.1:9002".to_string(), 1)
        ]
    );
    assert_eq!(
        config.frontends["r"].path_modifiers,
        [
            PathModifier::AddPrefix("/v2".into()),
            PathModifier::ReplacePath("/fixed".into()),
            PathModifier::ReplacePathRegex {
                regex: "^/api/(.*)".into(),
                replacement: "/new/$1".into()
            },
        ]
    );
}

#[test]
fn chains_that_include_themselves_are_refused() {
    let yaml = r#"
entryPoints:
  web:
    address: ":8000"
http:
  routers:
    r:
      rule: "PathPrefix(`/`)"
      service: s
      middlewares: [a]
  middlewares:
    a:
      chain:
        middlewares: [b]
    b:
      chain:
        middlewares: [a]
  services:
    s:
      loadBalancer:
        servers: [{url: "http://127.0.0.1:9001"}]
"#;
    let e = errors("t.yml", yaml);
    assert!(
        e[0].contains("chain \"a\" includes itself (a → b → a)"),
        "{e:?}"
    );
}

#[test]
fn a_certificate_resolver_becomes_the_acme_account_for_its_routers() {
    let yaml = r#"
entryPoints:
  web:
    address: ":80"
  websecure:
    address: ":443"
certificatesResolvers:
  le:
    acme:
      email: ops@example.com
      storage: acme.json
      httpChallenge:
        entryPoint: web
http:
  routers:
    r:
      rule: "Host(`cam.example.com`) || Host(`robot.example.com`)"
      service: s
      tls:
        certResolver: le
        domains:
          - main: example.com
            sans: ["*.example.com"]
    plain:
      rule: "Host(`plain.example.com`)"
      service: s
  services:
    s:
      loadBalancer:
        servers: [{url: "http://127.0.0.1:9001"}]
"#;
    let config = loaded("/etc/tollgate/t.yml", yaml);
    let acme = config.acme.as_ref().expect("acme");
    assert_eq!(acme.email, "ops@example.com");
    assert_eq!(acme.storage, Path::new("/etc/tollgate/acme.json"));
    assert_eq!(acme.http_challenge.as_deref(), Some("web"));
    assert_eq!(
        acme.entry_point, "web",
        "the first TLS entry point of the router"
    );
    assert!(acme.on_host_rule);
    assert_eq!(
        acme.host_rule_frontends
            .as_ref()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        ["r"]
    );
    assert_eq!(
        acme.domains,
        [vec!["example.com".to_string(), "*.example.com".to_string()]]
    );
    assert!(config.entry_points["web"].tls.is_some());
}

#[test]
fn local_traefik_plugins_are_middlewares() {
    let dir = std::env::temp_dir().join(format!("tollgate-v3-plugin-{}", std::process::id()));
    let module = dir.join("plugins-local/src/github.com/acme/stamp");
    std::fs::create_dir_all(&module).unwrap();
    std::fs::write(
        module.join(".traefik.yml"),
        "displayName: Stamp\ntype: middleware\nruntime: wasm\nwasmPath: stamp.wasm\n",
    )
    .unwrap();
    let yaml = r#"
entryPoints:
  web:
    address: ":8000"
experimental:
  localPlugins:
    stamp:
      moduleName: github.com/acme/stamp
http:
  routers:
    r:
      rule: "PathPrefix(`/`)"
      service: s
      middlewares: [stamped]
  middlewares:
    stamped:
      plugin:
        stamp:
          value: from tollgate
  services:
    s:
      loadBalancer:
        servers: [{url: "http://127.0.0.1:9001"}]
"#;
    let config = loaded(dir.join("t.yml").to_str().unwrap(), yaml);
    let plugin = &config.plugins["stamped"];
    assert_eq!(plugin.path, module.join("stamp.wasm"));
    assert_eq!(plugin.guest_bytes(), br#"{"value":"from tollgate"}"#);
    assert_eq!(config.frontends["r"].middlewares[0].0, "stamped");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn device_tunnels_in_a_traefik3_file() {
    let yaml = r#"
entryPoints:
  web:
    address: ":8000"
  tunnels:
    address: ":4443"
    http:
      tls: {}
tls:
  certificates:
    - certFile: c.crt
      keyFile: k.key
tunnels:
  entryPoint: tunnels
  devices:
    zumi01:
      tokenHash: "$2b$10$abcdefghijklmnopqrstuu5rJ3B2pb4WlTf2ftwbv.J5bH1xVzS3u"
http:
  routers:
    r:
      rule: "PathPrefix(`/zumi01`)"
      service: zumi01
  services:
    zumi01:
      loadBalancer:
        servers: [{url: "tunnel://zumi01"}]
"#;
    let config = loaded("t.yml", yaml);
    let tunnels = config.tunnels.as_ref().expect("tunnels read");
    assert_eq!(tunnels.entry_point, "tunnels");
    assert!(tunnels.devices.contains_key("zumi01"));
    let errs = errors("t.yml", &yaml.replace("tunnel://zumi01", "tunnel://zumi02"));
    assert!(
        errs.iter()
            .any(|e| e.contains("no [tunnels.devices.zumi02]")),
        "{errs:?}"
    );
}
