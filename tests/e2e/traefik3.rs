//! Traefik 2/3 configuration, as a user coming from Traefik 3 writes it:
//! a static `traefik.yml` and a dynamic file of routers, services and
//! middlewares, served end to end by the real binary; edits to the dynamic
//! YAML applied without a restart; TLS with a redirect from HTTP, in TOML;
//! `tollgate check` naming each file's dialect.

use reqwest::StatusCode;

use crate::harness::*;
use crate::tls::client::{get, TlsClient};
use crate::tls::pki::Ca;

const STATIC: &str = r#"
entryPoints:
  web:
    address: "127.0.0.1:0"
providers:
  file:
    filename: dynamic.yml
    watch: true
log:
  level: INFO
"#;

fn dynamic(robot: &str, cams: &str, extra_router: &str) -> String {
    format!(
        r#"
http:
  routers:
    robot:
      rule: "Host(`robots.test`) && PathPrefix(`/zumi01`)"
      service: robot
      middlewares: [guarded]
    cams:
      rule: "PathPrefix(`/cam`) || Header(`X-Camera`, `1`)"
      service: cams
    not-admin:
      rule: "Host(`open.test`) && !PathPrefix(`/admin`)"
      service: cams
{extra_router}
  middlewares:
    auth:
      basicAuth:
        users: ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"]
    strip:
      stripPrefix:
        prefixes: [/zumi01]
    guarded:
      chain:
        middlewares: [auth, strip]
  services:
    robot:
      loadBalancer:
        servers:
          - url: "{robot}"
    cams:
      loadBalancer:
        servers:
          - url: "{cams}"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traefik3_yaml_config_is_served_and_its_edits_applied() {
    let (robot, cams, next) = (echo("robot").await, echo("cams").await, echo("next").await);
    let dir = TempDir::new("traefik3");
    let dynamic_path = dir.write("dynamic.yml", dynamic(&robot.url(), &cams.url(), ""));
    let mut tg = Tollgate::start_file(dir, "traefik.yml", STATIC, &["web"]).await;
    let addr = tg.addr("web");
    let port = addr.port();
    let robots = http1_resolving("robots.test", addr);

    // Host && PathPrefix, behind basic auth, with the prefix stripped.
    let url = format!("http://robots.test:{port}/zumi01/api/status");
    assert_eq!(send(robots.get(&url)).await.0, StatusCode::UNAUTHORIZED);
    let seen = echo_of(robots.get(&url).basic_auth("test", Some("test"))).await;
    assert_eq!(seen.server, "robot");
    assert_eq!(seen.uri, "/api/status");
    assert_eq!(seen.header("x-forwarded-prefix"), Some("/zumi01"));

    // `||` and Header, `!`.
    let plain = http1();
    assert_eq!(
        echo_of(plain.get(tg.url("web", "/cam/1"))).await.server,
        "cams"
    );
    let seen = echo_of(plain.get(tg.url("web", "/other")).header("x-camera", "1")).await;
    assert_eq!(seen.server, "cams");
    assert_eq!(
        status_of(&plain, &tg.url("web", "/other")).await,
        StatusCode::NOT_FOUND
    );
    let open = http1_resolving("open.test", addr);
    let open_url = |p: &str| format!("http://open.test:{port}{p}");
    assert_eq!(echo_of(open.get(open_url("/x"))).await.server, "cams");
    assert_eq!(
        status_of(&open, &open_url("/admin/x")).await,
        StatusCode::NOT_FOUND
    );

    // An edit of the dynamic YAML: a new router, applied without a restart.
    let extra = r#"    next:
      rule: "PathPrefix(`/next`)"
      service: next"#;
    let mut text = dynamic(&robot.url(), &cams.url(), extra);
    text = text.replace(
        "  services:\n",
        &format!(
            "  services:\n    next:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
            next.url()
        ),
    );
    replace_file(&dynamic_path, text);
    tg.wait_for_log("configuration reloaded", secs(10)).await;
    assert_eq!(
        echo_of(plain.get(tg.url("web", "/next/a"))).await.server,
        "next"
    );

    // A bad edit is refused with its place in the YAML; the old one serves.
    replace_file(
        &dynamic_path,
        dynamic(&robot.url(), &cams.url(), "").replacen("service: cams", "service: camz", 1),
    );
    let line = tg
        .wait_for_log(
            "configuration refused, still serving the previous one",
            secs(10),
        )
        .await;
    assert!(
        tg.logs_text()
            .contains("dynamic.yml:10:16: http.routers.cams.service: unknown service \"camz\""),
        "{line}\n{}",
        tg.logs_text()
    );
    assert_eq!(
        echo_of(plain.get(tg.url("web", "/next/a"))).await.server,
        "next"
    );
    tg.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traefik3_toml_config_serves_tls_and_redirects_http() {
    let be = echo("be").await;
    let ca = Ca::new("test CA");
    let dir = TempDir::new("traefik3-tls");
    ca.server(&["robots.test"]).write(&dir, "robots");
    let toml = format!(
        r#"
[entryPoints.web]
address = "127.0.0.1:0"
[entryPoints.web.http.redirections.entryPoint]
to = "websecure"
scheme = "https"
[entryPoints.websecure]
address = "127.0.0.1:0"

[http.routers.robot]
rule = "Host(`robots.test`)"
entryPoints = ["websecure"]
service = "robot"
[http.routers.robot.tls]

[http.services.robot.loadBalancer]
[[http.services.robot.loadBalancer.servers]]
url = "{}"

[[tls.certificates]]
certFile = "robots.crt"
keyFile = "robots.key"

[tls.options.default]
minVersion = "VersionTLS12"
"#,
        be.url()
    );
    let tg = Tollgate::start_in(dir, &toml, &["web", "websecure"]).await;
    let stream = within(
        secs(5),
        "handshake",
        TlsClient::trusting(&ca.pem).connect(tg.addr("websecure"), "robots.test"),
    )
    .await
    .expect("handshake");
    let (status, _, body) = get(stream, "robots.test", "/cam").await.expect("GET");
    assert_eq!(status, 200);
    assert_eq!(Echo::parse(&body).server, "be");

    let resp = raw_request(
        tg.addr("web"),
        b"GET /cam?x=1 HTTP/1.1\r\nHost: robots.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 301, "{resp:?}");
    let port = tg.addr("websecure").port();
    assert_eq!(
        resp.header("location"),
        Some(format!("https://robots.test:{port}/cam?x=1").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_each_files_dialect() {
    let dir = TempDir::new("traefik3-check");
    dir.write(
        "dynamic.yml",
        dynamic("http://127.0.0.1:9", "http://127.0.0.1:9", ""),
    );
    let (_, out) = check_file(&dir, "traefik.yml", STATIC).await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains("traefik.yml: Traefik 2/3"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("dynamic.yml: Traefik 2/3"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("robot: [Host(`robots.test`) && PathPrefix(`/zumi01`)] -> backend robot"),
        "{}",
        out.stdout
    );

    let (_, out) = check_file(
        &dir,
        "old.toml",
        &(http_only() + &frontend("f", "b", "PathPrefix:/") + &backend("b", "http://127.0.0.1:9")),
    )
    .await;
    assert!(
        out.stdout.contains("old.toml: Traefik 1.7"),
        "{}",
        out.stdout
    );

    // A 1.7 main file with a 2/3 dynamic file: refused, saying so.
    let mixed = http_only() + "[file]\nfilename = \"dynamic.yml\"\n";
    let (_, out) = check_file(&dir, "mixed.toml", &mixed).await;
    assert!(!out.status.success());
    assert!(
        out.stderr
            .contains("dynamic.yml: written for Traefik 2/3, but the main file"),
        "{}",
        out.stderr
    );
}

/// Seed 001's own `traefik.toml`, converted by `tollgate convert --from 1.7`
/// and served from the YAML: HTTP redirected to HTTPS, basic auth over TLS,
/// the Jupyter backend reached, the access log written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_converted_to_yaml_is_served_as_before() {
    let jupyter = echo("jupyter").await;
    let seed = include_str!("fixtures/zumi-seed.toml")
        .replace("IP_OF_MY_SERVE:443", "127.0.0.1:0")
        .replace("IP_OF_MY_SERVER", "127.0.0.1:0")
        .replace("http://127.0.0.1:8888", &jupyter.url())
        .replace(
            "\"USER:HTTPPASSWD\"",
            "\"test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/\"",
        );
    let dir = TempDir::new("seed-converted");
    dir.write("SSL/cert.pem", include_bytes!("fixtures/SSL/cert.pem"));
    dir.write("SSL/key.pem", include_bytes!("fixtures/SSL/key.pem"));
    std::fs::create_dir_all(dir.path().join("log")).unwrap();
    dir.write("seed.toml", &seed);
    let out = run_tollgate(
        dir.path(),
        &[
            "convert",
            "--from",
            "1.7",
            "seed.toml",
            "--output",
            "traefik.yml",
        ],
        secs(20),
    )
    .await;
    assert!(out.status.success(), "{}", out.all());
    assert!(!out.stderr.contains("not converted"), "{}", out.stderr);
    let yaml = std::fs::read_to_string(dir.path().join("traefik.yml")).unwrap();
    assert!(yaml.contains("  routers:\n    zumi01:\n"), "{yaml}");
    let tg = Tollgate::start_file(dir, "traefik.yml", &yaml, &["http", "https"]).await;
    let https_port = tg.addr("https").port();

    let resp = raw_request(
        tg.addr("http"),
        b"GET /zumi01/tree HTTP/1.1\r\nHost: myserver.com\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 302, "{resp:?}");
    assert_eq!(
        resp.header("location"),
        Some(format!("https://myserver.com:{https_port}/zumi01/tree").as_str())
    );

    let client = https_resolving_any_cert("myserver.com", tg.addr("https"));
    let url = format!("https://myserver.com:{https_port}/zumi01/tree");
    assert_eq!(send(client.get(&url)).await.0, StatusCode::UNAUTHORIZED);
    let seen = echo_of(client.get(&url).basic_auth("test", Some("test"))).await;
    assert_eq!(seen.server, "jupyter");
    assert_eq!(seen.uri, "/zumi01/tree");
    let log = tg.dir().join("log/log.txt");
    eventually(secs(5), "an access log line", || {
        let log = log.clone();
        async move {
            std::fs::read_to_string(&log)
                .ok()
                .filter(|t| t.contains("GET /zumi01/tree"))
        }
    })
    .await;
}

/// Traefik 3's middlewares at work on real requests: `redirectScheme` to a
/// port, `addPrefix` then `replacePathRegex`, `headers`, and a `weighted`
/// service splitting requests 3:1 between two services.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traefik3_middlewares_and_weighted_services_at_work() {
    let (stable, next, api) = (echo("stable").await, echo("next").await, echo("api").await);
    let yaml = format!(
        r#"
entryPoints:
  web:
    address: "127.0.0.1:0"
http:
  routers:
    secure-only:
      rule: "Host(`secure.test`)"
      service: api
      middlewares: [to-https]
    api:
      rule: "PathPrefix(`/api`)"
      service: api
      middlewares: [versioned]
    canary:
      rule: "PathPrefix(`/app`)"
      service: canary
  middlewares:
    to-https:
      redirectScheme:
        scheme: https
        port: "8443"
        permanent: true
    prefix:
      addPrefix:
        prefix: /v2
    rename:
      replacePathRegex:
        regex: "^/v2/api/(.*)"
        replacement: "/internal/$1"
    stamp:
      headers:
        customRequestHeaders:
          X-Gateway: tollgate
    versioned:
      chain:
        middlewares: [prefix, rename, stamp]
  services:
    api:
      loadBalancer:
        servers: [{{url: "{api}"}}]
    canary:
      weighted:
        services:
          - name: stable
            weight: 3
          - name: next
            weight: 1
    stable:
      loadBalancer:
        servers: [{{url: "{stable}"}}]
    next:
      loadBalancer:
        servers: [{{url: "{next}"}}]
"#,
        api = api.url(),
        stable = stable.url(),
        next = next.url()
    );
    let tg =
        Tollgate::start_file(TempDir::new("traefik3-mw"), "traefik.yml", &yaml, &["web"]).await;

    let resp = raw_request(
        tg.addr("web"),
        b"GET /x?y=1 HTTP/1.1\r\nHost: secure.test:8080\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 301, "{resp:?}");
    assert_eq!(
        resp.header("location"),
        Some("https://secure.test:8443/x?y=1")
    );

    let client = http1();
    let seen = echo_of(client.get(tg.url("web", "/api/users?id=7"))).await;
    assert_eq!(seen.server, "api");
    assert_eq!(seen.uri, "/internal/users?id=7");
    assert_eq!(seen.header("x-gateway"), Some("tollgate"));
    assert_eq!(seen.header("x-replaced-path"), Some("/v2/api/users"));

    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..40 {
        let seen = echo_of(client.get(tg.url("web", "/app"))).await;
        *counts.entry(seen.server).or_insert(0) += 1;
    }
    assert_eq!(counts.get("stable"), Some(&30), "{counts:?}");
    assert_eq!(counts.get("next"), Some(&10), "{counts:?}");
}

/// A Traefik 3 certificate resolver against a real CA (pebble): the router
/// naming it gets a certificate for its Host over HTTP-01 (answered before
/// the entry point's redirect), served on its TLS entry point; a router
/// without a resolver gets none.
#[tokio::test(flavor = "multi_thread")]
async fn a_traefik3_certificate_resolver_obtains_and_serves() {
    let shared = TempDir::new("traefik3-acme");
    let (http_port, https_port) = (free_port(), free_port());
    let pebble = Pebble::start(&shared, http_port, https_port).await;
    let backend = echo("acme-backend").await;
    let yaml = format!(
        r#"
log:
  level: DEBUG
entryPoints:
  web:
    address: "127.0.0.1:{http_port}"
    http:
      redirections:
        entryPoint:
          to: websecure
  websecure:
    address: "127.0.0.1:{https_port}"
certificatesResolvers:
  pebble:
    acme:
      email: admin@zumi.test
      storage: "{storage}"
      caServer: "{ca}"
      caCertificates: ["{ca_cert}"]
      httpChallenge:
        entryPoint: web
http:
  routers:
    app:
      rule: "Host(`app.zumi.test`)"
      entryPoints: [websecure]
      service: app
      tls:
        certResolver: pebble
    plain:
      rule: "Host(`plain.zumi.test`)"
      entryPoints: [web]
      service: app
  services:
    app:
      loadBalancer:
        servers: [{{url: "{backend}"}}]
"#,
        storage = shared.path().join("acme.json").display(),
        ca = pebble.directory(),
        ca_cert = pebble.cert_file.display(),
        backend = backend.url(),
    );
    let mut tg = Tollgate::start_file(
        TempDir::new("traefik3-acme-run"),
        "traefik.yml",
        &yaml,
        &["web", "websecure"],
    )
    .await;
    tg.wait_for_log("acme: certificate obtained", secs(60))
        .await;
    let root = pebble.root().await;
    let client = TestTls::trusting(&root);
    let https: std::net::SocketAddr = format!("127.0.0.1:{https_port}").parse().unwrap();
    let (status, body) = client
        .get(https, "app.zumi.test", "app.zumi.test", "/")
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("acme-backend"), "{body}");
    assert_eq!(
        tg.count_logs("acme: certificate obtained"),
        1,
        "{}",
        tg.logs_text()
    );
    assert!(
        !tg.logs_text().contains("plain.zumi.test"),
        "{}",
        tg.logs_text()
    );
}
