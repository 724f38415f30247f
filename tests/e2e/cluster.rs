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
    tg.wait_for_log_count("configuration refused", 2, secs(5))
        .await;
    let refused = tg
        .logs()
        .into_iter()
        .rfind(|l| l.contains("configuration refused"))
        .unwrap();
    for said in [
        "/traefik/frontends/z/backend",
        "nosuch",
        "/traefik/frontends/z/routes/r1/rule/x",
    ] {
        assert!(refused.contains(said), "{said} not in: {refused}");
    }
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
    let mut instances = three(&[&etcd, &etcd, &etcd]).await;

    etcd.stop();
    for tg in &mut instances {
        tg.wait_for_log(
            "etcd unreachable, still serving the last configuration",
            secs(10),
        )
        .await;
    }
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
