//! Several tollgate instances as one, on etcd: frontends and backends kept
//! in a real etcd (Debian's etcd-server on loopback), written with
//! `etcdctl` as a sysadmin would, and served by every instance; etcd
//! stopped or partitioned away: every instance keeps serving and catches
//! up when it returns.

use std::time::Instant;

use reqwest::StatusCode;

use crate::harness::*;

/// An instance whose frontends and backends are all in etcd.
fn config(endpoint: &str) -> String {
    format!(
        "{}[etcd]\nendpoint = \"{endpoint}\"\nprefix = \"/traefik\"\nwatch = true\n",
        http_only()
    )
}

/// `config` with the API and metrics on a `traefik` entry point.
fn observed_config(endpoint: &str) -> String {
    config(endpoint)
        + "[entryPoints.traefik]\naddress = \"127.0.0.1:0\"\n[api]\nentryPoint = \"traefik\"\n\
           [metrics.prometheus]\nentryPoint = \"traefik\"\n"
}

/// `/api/etcd` and the `tollgate_etcd_connected` gauge.
async fn etcd_seen(tg: &Tollgate) -> (serde_json::Value, String) {
    let (status, api) = send(http1().get(tg.url("traefik", "/api/etcd"))).await;
    assert_eq!(status, StatusCode::OK, "{api}");
    let (_, metrics) = send(http1().get(tg.url("traefik", "/metrics"))).await;
    let gauge = metrics
        .lines()
        .find(|l| l.starts_with("tollgate_etcd_connected"))
        .unwrap_or_default()
        .to_owned();
    (serde_json::from_str(&api).unwrap(), gauge)
}

/// A frontend `NAME` on `PathPrefix:/NAME` to a backend `NAME` at `url`,
/// the backend written first so that every step between is a valid config.
fn put_site(etcd: &Etcd, name: &str, url: &str) {
    etcd.put(&format!("/traefik/backends/{name}/servers/s1/url"), url);
    etcd.put(&format!("/traefik/frontends/{name}/backend"), name);
    etcd.put(
        &format!("/traefik/frontends/{name}/routes/r1/rule"),
        &format!("PathPrefix:/{name}"),
    );
}

/// Polls `path` on `tg` until it answers `want`; how long that took.
async fn until(tg: &Tollgate, path: &str, want: StatusCode, within: Duration) -> Duration {
    let client = http1();
    let url = tg.url("http", path);
    let started = Instant::now();
    loop {
        let status = match client.get(&url).send().await {
            Ok(r) => r.status(),
            Err(_) => StatusCode::BAD_GATEWAY,
        };
        if status == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{path} still answers {status} (want {want}) after {within:?}:\n{}",
            tg.logs_text()
        );
        tokio::time::sleep(ms(10)).await;
    }
}

async fn served_by(tg: &Tollgate, path: &str) -> String {
    echo_of(http1().get(tg.url("http", path))).await.server
}

async fn three(etcd: &[&Etcd]) -> Vec<Tollgate> {
    let mut out = Vec::new();
    for e in etcd {
        out.push(Tollgate::start(&config(&e.endpoint()), &["http"]).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frontend_added_through_etcd_reaches_three_instances_within_a_second() {
    let dir = TempDir::new("etcd");
    let etcd = Etcd::start(&dir).await;
    let (a, b) = (echo("a").await, echo("b").await);
    put_site(&etcd, "a", &a.url());
    let mut instances = three(&[&etcd, &etcd, &etcd]).await;
    // What etcd held at start is served from the first request on.
    for tg in &instances {
        assert_eq!(served_by(tg, "/a/x").await, "a");
        assert_eq!(
            status_of(&http1(), &tg.url("http", "/b/x")).await,
            StatusCode::NOT_FOUND
        );
    }

    put_site(&etcd, "b", &b.url());
    let written = Instant::now();
    let mut slowest = Duration::ZERO;
    for tg in &instances {
        until(tg, "/b/x", StatusCode::OK, secs(5)).await;
        slowest = slowest.max(written.elapsed());
    }
    eprintln!("a frontend added through etcd served by all three after {slowest:?}");
    assert!(slowest < secs(1), "took {slowest:?}");
    for tg in &instances {
        assert_eq!(served_by(tg, "/b/x").await, "b");
        assert_eq!(served_by(tg, "/a/x").await, "a");
    }

    // A server moved: every instance follows.
    etcd.put("/traefik/backends/a/servers/s1/url", &b.url());
    for tg in &instances {
        let deadline = Instant::now() + secs(5);
        while served_by(tg, "/a/x").await != "b" {
            assert!(Instant::now() < deadline, "{}", tg.logs_text());
            tokio::time::sleep(ms(10)).await;
        }
    }
    // A frontend removed: gone everywhere.
    etcd.del("/traefik/frontends/b/", true);
    for tg in &mut instances {
        until(tg, "/b/x", StatusCode::NOT_FOUND, secs(5)).await;
        tg.assert_running();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_value_is_refused_naming_its_key_and_the_running_config_stays() {
    let dir = TempDir::new("etcd");
    let etcd = Etcd::start(&dir).await;
    let a = echo("a").await;
    put_site(&etcd, "a", &a.url());
    let mut tg = Tollgate::start(&config(&etcd.endpoint()), &["http"]).await;
    assert_eq!(served_by(&tg, "/a/").await, "a");

    etcd.put("/traefik/backends/a/servers/s1/weight", "heavy");
    let line = tg
        .wait_for_log(
            "configuration refused, still serving the previous one",
            secs(5),
        )
        .await;
    assert!(
        line.contains(
            "etcd: /traefik/backends/a/servers/s1/weight: expected an integer, found \"heavy\""
        ),
        "{line}"
    );
    assert!(
        line.contains("trigger=\"etcd\"") || line.contains("trigger=etcd"),
        "{line}"
    );
    assert_eq!(served_by(&tg, "/a/").await, "a");

    // A rule that does not parse, a backend that does not exist, a key
    // that is both a value and a folder: each named by its key, at once.
    etcd.put("/traefik/backends/a/servers/s1/weight", "3");
    etcd.put("/traefik/frontends/z/backend", "nosuch");
    etcd.put("/traefik/frontends/z/routes/r1/rule", "Bogus:/z");
    etcd.put("/traefik/frontends/z/routes/r1/rule/x", "y");
    // The four puts may be fetched in more than one step, each refused on
    // its own: the refusal of the last names every error at once.
    let said = [
        "/traefik/frontends/z/backend",
        "nosuch",
        "/traefik/frontends/z/routes/r1/rule/x",
    ];
    eventually(secs(5), "a refusal naming every bad key", || async {
        tg.logs()
            .iter()
            .any(|l| l.contains("configuration refused") && said.iter().all(|s| l.contains(s)))
            .then_some(())
    })
    .await;
    assert_eq!(served_by(&tg, "/a/").await, "a");
    assert_eq!(
        status_of(&http1(), &tg.url("http", "/z")).await,
        StatusCode::NOT_FOUND
    );

    // Fixed: applied.
    etcd.del("/traefik/frontends/z/routes/r1/rule/x", false);
    etcd.put("/traefik/frontends/z/backend", "a");
    etcd.put("/traefik/frontends/z/routes/r1/rule", "PathPrefix:/z");
    until(&tg, "/z", StatusCode::OK, secs(5)).await;
    // An unknown key is a warning naming it; the config still applies.
    etcd.put("/traefik/frontends/z/pasHostHeader", "true");
    let warning = tg
        .wait_for_log("unknown key \"pasHostHeader\"", secs(5))
        .await;
    assert!(
        warning.contains("/traefik/frontends/z/pasHostHeader"),
        "{warning}"
    );
    assert!(warning.contains("did you mean"), "{warning}");
    tg.assert_running();
}

#[tokio::test(flavor = "multi_thread")]
async fn with_etcd_stopped_every_instance_keeps_serving_and_follows_it_again_when_it_returns() {
    let dir = TempDir::new("etcd");
    let mut etcd = Etcd::start(&dir).await;
    let (a, b) = (echo("a").await, echo("b").await);
    put_site(&etcd, "a", &a.url());
    let mut instances = Vec::new();
    for _ in 0..3 {
        let toml = observed_config(&etcd.endpoint());
        instances.push(Tollgate::start(&toml, &["http", "traefik"]).await);
    }
    // A sysadmin's view: connected, three keys read.
    let (api, gauge) = eventually(secs(5), "etcd connected in /api/etcd", || async {
        let seen = etcd_seen(&instances[0]).await;
        (seen.0["connected"] == true).then_some(seen)
    })
    .await;
    assert_eq!(
        (api["keys"].as_u64(), api["prefix"].as_str()),
        (Some(3), Some("/traefik")),
        "{api}"
    );
    assert_eq!(gauge, "tollgate_etcd_connected 1");

    etcd.stop();
    for tg in &mut instances {
        tg.wait_for_log(
            "etcd unreachable, still serving the last configuration",
            secs(10),
        )
        .await;
    }
    let (api, gauge) = etcd_seen(&instances[0]).await;
    assert_eq!(api["connected"], false, "{api}");
    assert!(
        api["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{api}"
    );
    assert_eq!(gauge, "tollgate_etcd_connected 0");
    for _ in 0..3 {
        for tg in &instances {
            assert_eq!(served_by(tg, "/a/").await, "a");
        }
    }

    etcd.restart().await;
    put_site(&etcd, "b", &b.url());
    for tg in &mut instances {
        until(tg, "/b/", StatusCode::OK, secs(10)).await;
        tg.wait_for_log("etcd reachable again", secs(1)).await;
        assert_eq!(served_by(tg, "/a/").await, "a");
        tg.assert_running();
    }
    // An instance's last fetch may fall between put_site's three puts; its
    // watch brings the rest a moment later (CI once read 5 keys at
    // revision 6 here, right after /b/ answered).
    let (api, gauge) = eventually(secs(5), "all six keys in /api/etcd", || async {
        let seen = etcd_seen(&instances[2]).await;
        (seen.0["keys"].as_u64() == Some(6)).then_some(seen)
    })
    .await;
    assert_eq!(api["connected"].as_bool(), Some(true), "{api}");
    assert_eq!(gauge, "tollgate_etcd_connected 1");
}

/// A three-member etcd; each instance talks to its own member. Member 0
/// stopped cuts instance A off; a change made through member 1 meanwhile
/// reaches B and C at once, and A when its member is back.
#[tokio::test(flavor = "multi_thread")]
async fn a_partitioned_instance_keeps_serving_and_gets_a_change_made_meanwhile() {
    let dir = TempDir::new("etcd3");
    let mut members = Etcd::cluster(&dir, 3).await;
    let (a, late) = (echo("a").await, echo("late").await);
    put_site(&members[0], "a", &a.url());
    let mut instances = three(&[&members[0], &members[1], &members[2]]).await;
    for tg in &instances {
        assert_eq!(served_by(tg, "/a/").await, "a");
    }

    members[0].stop();
    instances[0]
        .wait_for_log(
            "etcd unreachable, still serving the last configuration",
            secs(10),
        )
        .await;
    put_site(&members[1], "late", &late.url());
    for tg in &instances[1..] {
        until(tg, "/late/", StatusCode::OK, secs(2)).await;
    }
    // A: cut off, serving what it had.
    assert_eq!(served_by(&instances[0], "/a/").await, "a");
    assert_eq!(
        status_of(&http1(), &instances[0].url("http", "/late/")).await,
        StatusCode::NOT_FOUND
    );

    members[0].restart().await;
    let took = until(&instances[0], "/late/", StatusCode::OK, secs(10)).await;
    eprintln!("the cut-off instance caught up {took:?} after its member returned");
    assert_eq!(served_by(&instances[0], "/late/").await, "late");
    assert_eq!(served_by(&instances[0], "/a/").await, "a");
    for tg in &mut instances {
        tg.assert_running();
    }
}

/// Traefik 1.7's atomic switch: a whole configuration written under
/// another prefix, then `/traefik/alias` pointed at it.
#[tokio::test(flavor = "multi_thread")]
async fn an_alias_switches_to_a_whole_new_configuration_at_once() {
    let dir = TempDir::new("etcd");
    let etcd = Etcd::start(&dir).await;
    let (a, b) = (echo("a").await, echo("b").await);
    let write = |config: &str, routes: &[(&str, &str)]| {
        for (name, url) in routes {
            etcd.put(&format!("{config}/backends/{name}/servers/s1/url"), url);
            etcd.put(&format!("{config}/frontends/{name}/backend"), name);
            etcd.put(
                &format!("{config}/frontends/{name}/routes/r1/rule"),
                &format!("PathPrefix:/{name}"),
            );
        }
    };
    write("/traefik_configurations/1", &[("x", &a.url())]);
    etcd.put("/traefik/alias", "/traefik_configurations/1");
    let tg = Tollgate::start(&config(&etcd.endpoint()), &["http"]).await;
    assert_eq!(served_by(&tg, "/x/").await, "a");

    // Written, but not pointed at: not served.
    write(
        "/traefik_configurations/2",
        &[("x", &b.url()), ("y", &b.url())],
    );
    assert_eq!(served_by(&tg, "/x/").await, "a");
    assert_eq!(
        status_of(&http1(), &tg.url("http", "/y/")).await,
        StatusCode::NOT_FOUND
    );

    etcd.put("/traefik/alias", "/traefik_configurations/2");
    until(&tg, "/y/", StatusCode::OK, secs(5)).await;
    assert_eq!(served_by(&tg, "/x/").await, "b");
}

/// etcd as it should run across machines: clients over TLS with a
/// certificate, and a user who may read the prefix only. tollgate gives
/// both; a wrong password gets nothing from etcd, and says so.
#[tokio::test(flavor = "multi_thread")]
async fn etcd_over_tls_with_a_client_certificate_and_a_password() {
    use crate::tls::pki::Ca;
    let dir = TempDir::new("etcd-tls");
    let ca = Ca::new("etcd test CA");
    let ca_file = dir.write("etcd-ca.pem", &ca.pem);
    let secure = Secure {
        ca: ca_file.clone(),
        server: ca
            .server(&["127.0.0.1", "localhost"])
            .write(&dir, "etcd-server"),
        admin: ca.client("root").write(&dir, "etcd-root"),
    };
    let etcd = Etcd::start_secure(&dir, secure).await;
    let (a, b) = (echo("a").await, echo("b").await);
    put_site(&etcd, "a", &a.url());
    etcd.enable_auth("tollgate", "s3cret-pw", "/traefik/");
    let (cert, key) = ca.client("tollgate").write(&dir, "tollgate-client");
    let config = |password: &str| {
        format!(
            "{}[etcd]\nendpoint = \"https://{}\"\nusername = \"tollgate\"\npassword = \"{password}\"\n  [etcd.tls]\n  ca = \"{}\"\n  cert = \"{}\"\n  key = \"{}\"\n",
            http_only(),
            etcd.endpoint(),
            ca_file.display(),
            cert.display(),
            key.display()
        )
    };
    let mut tg = Tollgate::start(&config("s3cret-pw"), &["http"]).await;
    assert_eq!(served_by(&tg, "/a/").await, "a");
    put_site(&etcd, "b", &b.url());
    until(&tg, "/b/", StatusCode::OK, secs(5)).await;

    let mut wrong = Tollgate::start(&config("not-the-password"), &["http"]).await;
    let line = wrong
        .wait_for_log("etcd unreachable at start", secs(10))
        .await;
    assert!(line.to_lowercase().contains("auth"), "{line}");
    assert_eq!(
        status_of(&http1(), &wrong.url("http", "/a/")).await,
        StatusCode::NOT_FOUND
    );
    tg.assert_running();
}

/// Traefik 2/3's `providers.etcd`: `rootKey`, routers and services in the
/// KV layout of 3 (`traefik/http/routers/NAME/rule`, lists as `.../0`).
#[tokio::test(flavor = "multi_thread")]
async fn traefik3_routers_and_services_are_read_from_etcd() {
    let dir = TempDir::new("etcd");
    let etcd = Etcd::start(&dir).await;
    let a = echo("a").await;
    etcd.put(
        "traefik/http/services/svc/loadBalancer/servers/0/url",
        &a.url(),
    );
    etcd.put("traefik/http/routers/r/rule", "PathPrefix(`/three`)");
    etcd.put("traefik/http/routers/r/service", "svc");
    etcd.put("traefik/http/routers/r/entryPoints/0", "web");
    let yaml = format!(
        "entryPoints:\n  web:\n    address: \"127.0.0.1:0\"\nproviders:\n  etcd:\n    endpoints:\n      - \"{}\"\n",
        etcd.endpoint()
    );
    let tg = Tollgate::start_file(TempDir::new("run"), "traefik.yml", &yaml, &["web"]).await;
    let echo = echo_of(http1().get(tg.url("web", "/three/x"))).await;
    assert_eq!(echo.server, "a");
    etcd.put("traefik/http/routers/r/rule", "PathPrefix(`/four`)");
    until_on(&tg, "web", "/four/x", StatusCode::OK).await;
    assert_eq!(
        status_of(&http1(), &tg.url("web", "/three/x")).await,
        StatusCode::NOT_FOUND
    );
}

async fn until_on(tg: &Tollgate, entry: &str, path: &str, want: StatusCode) {
    let url = tg.url(entry, path);
    let deadline = Instant::now() + secs(5);
    while status_of(&http1(), &url).await != want {
        assert!(Instant::now() < deadline, "{}", tg.logs_text());
        tokio::time::sleep(ms(10)).await;
    }
}

/// One instance of an ACME cluster: its own ports, the shared etcd and
/// storage key; `domains` only on the instances that should order.
fn acme_instance(
    http: u16,
    https: u16,
    etcd: &Etcd,
    pebble: &Pebble,
    challenge: &str,
    domains: bool,
) -> String {
    let domains = if domains {
        "[[acme.domains]]\nmain = \"zumi.test\"\nsans = [\"www.zumi.test\"]\n"
    } else {
        ""
    };
    format!(
        r#"logLevel = "DEBUG"
defaultEntryPoints = ["http", "https"]
[entryPoints.http]
address = "127.0.0.1:{http}"
[entryPoints.https]
address = "127.0.0.1:{https}"
  [entryPoints.https.tls]
[etcd]
endpoint = "{endpoint}"
[acme]
email = "admin@zumi.test"
storage = "traefik/acme/account"
entryPoint = "https"
caServer = "{ca}"
caCertificates = ["{ca_cert}"]
acmeLogging = true
{challenge}
{domains}"#,
        endpoint = etcd.endpoint(),
        ca = pebble.directory(),
        ca_cert = pebble.cert_file.display(),
    )
}

/// Three instances, one etcd, one CA. A and B want the certificate; only
/// C listens where the CA validates (and wants nothing). Exactly one of A
/// and B orders it, under the etcd lock; its challenge answer reaches C
/// through etcd, so the CA's validation (which only C can take) passes;
/// and all three serve the one certificate, stored once in etcd.
async fn one_certificate_for_three_instances(challenge: &str) {
    let dir = TempDir::new("etcd-acme");
    let etcd = Etcd::start(&dir).await;
    let (pebble_http, pebble_tls) = (free_port(), free_port());
    let pebble = Pebble::start(&dir, pebble_http, pebble_tls).await;
    let c = Tollgate::start(
        &acme_instance(pebble_http, pebble_tls, &etcd, &pebble, challenge, false),
        &["http", "https"],
    )
    .await;
    let mut ordering = Vec::new();
    for _ in 0..2 {
        let (http, https) = (free_port(), free_port());
        let toml = acme_instance(http, https, &etcd, &pebble, challenge, true);
        ordering.push((Tollgate::start(&toml, &["http", "https"]).await, https));
    }

    let root = pebble.root().await;
    let client = TestTls::trusting(&root);
    let addrs: Vec<std::net::SocketAddr> = [pebble_tls, ordering[0].1, ordering[1].1]
        .iter()
        .map(|p| format!("127.0.0.1:{p}").parse().unwrap())
        .collect();
    let mut leaves = Vec::new();
    for addr in &addrs {
        let leaf = eventually(
            secs(60),
            "the certificate served by every instance",
            || async { client.leaf(*addr, "www.zumi.test").await.ok() },
        )
        .await;
        leaves.push(leaf);
    }
    assert!(
        leaves.iter().all(|l| *l == leaves[0]),
        "the instances serve different certificates"
    );

    let logs: String = ordering
        .iter()
        .map(|(tg, _)| tg.logs_text())
        .collect::<Vec<_>>()
        .join("\n");
    let count = |needle: &str| logs.matches(needle).count();
    assert_eq!(count("acme: ordering a certificate"), 1, "{logs}");
    assert_eq!(count("acme: certificate obtained"), 1, "{logs}");
    assert_eq!(count("acme: account created"), 1, "{logs}");
    assert_eq!(c.count_logs("acme: ordering"), 0, "{}", c.logs_text());
    let stored: serde_json::Value =
        serde_json::from_str(&etcd.get("traefik/acme/account")).unwrap();
    assert_eq!(
        stored["certificates"].as_array().unwrap().len(),
        1,
        "{stored}"
    );
    // No answer is left behind once the order is done.
    assert_eq!(
        etcd.get_prefix_keys("traefik/acme/account/challenges/"),
        Vec::<String>::new()
    );

    // A fourth instance started later serves it, read from etcd, and
    // orders nothing.
    let (http, https) = (free_port(), free_port());
    let d = Tollgate::start(
        &acme_instance(http, https, &etcd, &pebble, challenge, true),
        &["http", "https"],
    )
    .await;
    let addr: std::net::SocketAddr = format!("127.0.0.1:{https}").parse().unwrap();
    let leaf = eventually(secs(10), "the stored certificate served", || async {
        client.leaf(addr, "zumi.test").await.ok()
    })
    .await;
    assert_eq!(leaf, leaves[0]);
    assert_eq!(d.count_logs("acme: ordering"), 0, "{}", d.logs_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http01_certificate_is_ordered_once_and_served_by_every_instance() {
    one_certificate_for_three_instances("[acme.httpChallenge]\nentryPoint = \"http\"").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tls_alpn01_certificate_is_ordered_once_and_served_by_every_instance() {
    one_certificate_for_three_instances("[acme.tlsChallenge]").await;
}

/// A tunnel instance's file: its HTTP entry point, a TLS tunnels entry
/// point on `tunnels_port` (advertised to the others), device zumi01,
/// the cluster token, etcd.
fn tunnel_instance(
    tunnels_port: u16,
    cert: &std::path::Path,
    key: &std::path::Path,
    hash: &str,
    token: &str,
    etcd: &Etcd,
) -> String {
    format!(
        r#"[entryPoints.http]
address = "127.0.0.1:0"
[entryPoints.tunnels]
address = "127.0.0.1:{tunnels_port}"
  [entryPoints.tunnels.tls]
    [[entryPoints.tunnels.tls.certificates]]
    certFile = "{cert}"
    keyFile = "{key}"
[etcd]
endpoint = "{endpoint}"
[tunnels]
entryPoint = "tunnels"
  [tunnels.devices.zumi01]
  tokenHash = "{hash}"
  [tunnels.cluster]
  advertise = "127.0.0.1:{tunnels_port}"
  token = "{token}"
  ca = "{cert}"
[frontends.zumi01]
backend = "zumi01"
entryPoints = ["http"]
  [frontends.zumi01.routes.r]
  rule = "PathPrefixStrip:/zumi01"
[backends.zumi01.servers.s]
url = "tunnel://zumi01"
"#,
        cert = cert.display(),
        key = key.display(),
        endpoint = etcd.endpoint(),
    )
}

/// Device zumi01's agent dials instance A; B and C reach it through A
/// (found in etcd, over an authenticated link), an instance with another
/// cluster token is refused, and once the agent is gone nobody lists it.
#[tokio::test(flavor = "multi_thread")]
async fn a_device_tunnelled_to_one_instance_is_reached_through_the_others() {
    let dir = TempDir::new("etcd-tunnels");
    let etcd = Etcd::start(&dir).await;
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert_file = dir.write("tunnels.crt", cert.cert.pem());
    let key_file = dir.write("tunnels.key", cert.signing_key.serialize_pem());
    let (device_token, hash) = crate::tunnels::new_token(&dir, "zumi01").await;
    let cluster_token = "c1uster-t0ken-shared-by-every-instance-0123";
    let ui = echo("zumi01-ui").await;

    let mut instances = Vec::new();
    for _ in 0..3 {
        let port = free_port();
        let toml = tunnel_instance(port, &cert_file, &key_file, &hash, cluster_token, &etcd);
        instances.push((Tollgate::start(&toml, &["http", "tunnels"]).await, port));
    }
    let token_file = dir.write("zumi01.token", &device_token);
    let agent_args: Vec<String> = [
        "agent",
        "--server",
        &format!("127.0.0.1:{}", instances[0].1),
        "--name",
        "zumi01",
        "--token-file",
        &token_file.display().to_string(),
        "--forward",
        ui.url().trim_start_matches("http://"),
        "--ca",
        &cert_file.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut agent = Tollgate::start_program(BIN, TempDir::new("agent"), &agent_args).await;
    instances[0].0.wait_for_log("tunnel up", secs(10)).await;

    for (tg, _) in &instances {
        let took = until(tg, "/zumi01/notebook", StatusCode::OK, secs(5)).await;
        let seen = echo_of(http1().get(tg.url("http", "/zumi01/notebook"))).await;
        assert_eq!(
            (seen.server.as_str(), seen.uri.as_str()),
            ("zumi01-ui", "/notebook")
        );
        eprintln!("zumi01 reached through an instance after {took:?}");
    }
    instances[0]
        .0
        .wait_for_log("tunnels cluster: link from another instance", secs(5))
        .await;

    // Not a member: the same device, asked with another cluster token.
    let port = free_port();
    let other = tunnel_instance(
        port,
        &cert_file,
        &key_file,
        &hash,
        "an-0ther-cluster-token-entirely-9876543",
        &etcd,
    );
    let stranger = Tollgate::start(&other, &["http", "tunnels"]).await;
    // Its first requests may come before it read etcd's list (a plain
    // "no live tunnel"); then it asks A, and A refuses it.
    let deadline = Instant::now() + secs(5);
    loop {
        assert_eq!(
            status_of(&http1(), &stranger.url("http", "/zumi01/")).await,
            StatusCode::BAD_GATEWAY
        );
        if stranger.logs_text().contains("refused this one") {
            break;
        }
        assert!(Instant::now() < deadline, "{}", stranger.logs_text());
        tokio::time::sleep(ms(20)).await;
    }
    instances[0]
        .0
        .wait_for_log("link refused: wrong cluster token", secs(5))
        .await;

    // The agent gone: its entry goes with it, everywhere.
    agent.terminate().await;
    for (tg, _) in &instances {
        until(tg, "/zumi01/", StatusCode::BAD_GATEWAY, secs(10)).await;
    }
    assert_eq!(
        etcd.get_prefix_keys("/traefik/tunnels/"),
        Vec::<String>::new()
    );
    for (tg, _) in &mut instances {
        tg.assert_running();
    }
}
