//! ACME against a real CA: Debian's `pebble` (with `pebble-challtestsrv` as
//! its DNS, answering 127.0.0.1 for every name). Pebble's validation dials
//! fixed ports, so tollgate's entrypoints listen on ports picked here.
//! Without pebble these tests fail, saying how to install it (the fixture
//! is harness/acme.rs).

use std::net::SocketAddr;

use crate::harness::*;

async fn issued_and_served(challenge: &str) {
    let shared = TempDir::new("acme");
    let (http_port, https_port) = (free_port(), free_port());
    let mut pebble = Pebble::start(&shared, http_port, https_port).await;
    let backend = echo("acme-backend").await;
    let storage = shared.path().join("acme.json");
    let toml = acme_config(
        http_port,
        https_port,
        &storage,
        &pebble,
        challenge,
        &backend.url(),
    );
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    // Three certificates, in flight at once: [[acme.domains]] and the two
    // frontends' Host rules.
    tg.wait_for_log_count("acme: certificate obtained", 3, secs(60))
        .await;
    let root = pebble.root().await;
    let client = TestTls::trusting(&root);
    let https: SocketAddr = format!("127.0.0.1:{https_port}").parse().unwrap();
    for host in ["app.zumi.test", "shop.zumi.test"] {
        let (status, body) = client.get(https, host, host, "/").await.unwrap();
        assert_eq!(status, 200, "{host}: {body}");
        assert!(body.contains("acme-backend"), "{body}");
    }
    // Verified for the main domain and its SAN (no route: 404 is fine).
    for host in ["zumi.test", "www.zumi.test"] {
        let (status, _) = client.get(https, host, host, "/").await.unwrap();
        assert_eq!(status, 404, "{host}");
    }

    // Storage: mode 0600, account and the three certificates.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&storage).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&storage).unwrap()).unwrap();
    assert!(stored["account"]["credentials"].is_object(), "{stored}");
    assert_eq!(stored["certificates"].as_array().unwrap().len(), 3);
    tg.terminate().await;

    // Restart with the CA gone: the stored certificates are served, no order.
    pebble.stop();
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    eventually(
        secs(10),
        "stored certificate served after restart",
        || async {
            client
                .get(https, "app.zumi.test", "app.zumi.test", "/")
                .await
                .ok()
                .filter(|(s, _)| *s == 200)
        },
    )
    .await;
    assert_eq!(tg.count_logs("acme: ordering"), 0, "{}", tg.logs_text());
    assert_eq!(tg.count_logs("acme: account created"), 0);
    tg.assert_running();
}

#[tokio::test(flavor = "multi_thread")]
async fn http01_issues_serves_stores_and_reuses_after_restart() {
    issued_and_served("[acme.httpChallenge]\nentryPoint = \"http\"").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_alpn01_issues_and_serves() {
    issued_and_served("[acme.tlsChallenge]").await;
}

/// A CA that does not answer: tollgate starts, serves HTTP, logs the
/// failure with a retry delay and keeps running.
#[tokio::test(flavor = "multi_thread")]
async fn ca_down_does_not_stop_serving() {
    let dir = TempDir::new("acme-down");
    let backend = echo("still-here").await;
    let storage = dir.path().join("acme.json");
    let toml = format!(
        r#"defaultEntryPoints = ["http"]
[entryPoints.http]
address = "127.0.0.1:0"
[entryPoints.https]
address = "127.0.0.1:0"
  [entryPoints.https.tls]
[acme]
storage = "{storage}"
entryPoint = "https"
caServer = "https://127.0.0.1:{port}/dir"
[acme.httpChallenge]
entryPoint = "http"
[[acme.domains]]
main = "down.zumi.test"
[frontends.f]
backend = "b"
  [frontends.f.routes.r]
  rule = "PathPrefix:/"
[backends.b.servers.s]
url = "{url}"
"#,
        storage = storage.display(),
        port = closed_port(),
        url = backend.url(),
    );
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    let line = tg.wait_for_log("retry_in_secs", secs(20)).await;
    assert!(line.contains("acme"), "{line}");
    let echo = echo_of(http1().get(tg.url("http", "/x"))).await;
    assert_eq!(echo.server, "still-here");
    tg.assert_running();
}

/// Renewal: a reload sets `renewBefore` longer than pebble's certificate
/// lifetime, so every certificate is due; new ones are ordered and
/// installed in the running process, without a restart.
#[tokio::test(flavor = "multi_thread")]
async fn renewal_by_threshold_replaces_served_certificates() {
    let shared = TempDir::new("acme-renew");
    let (http_port, https_port) = (free_port(), free_port());
    let pebble = Pebble::start(&shared, http_port, https_port).await;
    let backend = echo("renewed").await;
    let storage = shared.path().join("acme.json");
    let toml = acme_config(
        http_port,
        https_port,
        &storage,
        &pebble,
        "[acme.httpChallenge]\nentryPoint = \"http\"",
        &backend.url(),
    );
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    tg.wait_for_log_count("acme: certificate obtained", 3, secs(60))
        .await;
    let client = TestTls::trusting(&pebble.root().await);
    let https: SocketAddr = format!("127.0.0.1:{https_port}").parse().unwrap();
    let before = client.leaf(https, "app.zumi.test").await.unwrap();

    let renewing = toml.replace(
        "acmeLogging = true",
        "acmeLogging = true\nrenewBefore = \"876000h\"",
    );
    std::fs::write(tg.config_path(), renewing).unwrap();
    tg.signal("HUP");
    tg.wait_for_log_count("acme: certificate obtained", 6, secs(60))
        .await;
    let after = eventually(secs(10), "renewed certificate served", || async {
        let leaf = client.leaf(https, "app.zumi.test").await.ok()?;
        (leaf != before).then_some(leaf)
    })
    .await;
    assert!(!after.is_empty());
    let (status, _) = client
        .get(https, "app.zumi.test", "app.zumi.test", "/")
        .await
        .unwrap();
    assert_eq!(status, 200);
    // The account was reused: created once.
    assert_eq!(tg.count_logs("acme: account created"), 1);
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&storage).unwrap()).unwrap();
    assert_eq!(stored["certificates"].as_array().unwrap().len(), 3);
    tg.assert_running();
}

/// `onHostRule`: a frontend added by a reload gets its certificate, in the
/// running process, while the others keep being served.
#[tokio::test(flavor = "multi_thread")]
async fn a_host_added_by_reload_gets_a_certificate() {
    let shared = TempDir::new("acme-reload");
    let (http_port, https_port) = (free_port(), free_port());
    let pebble = Pebble::start(&shared, http_port, https_port).await;
    let backend = echo("added").await;
    let storage = shared.path().join("acme.json");
    let toml = acme_config(
        http_port,
        https_port,
        &storage,
        &pebble,
        "[acme.httpChallenge]\nentryPoint = \"http\"",
        &backend.url(),
    );
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    tg.wait_for_log_count("acme: certificate obtained", 3, secs(60))
        .await;
    let client = TestTls::trusting(&pebble.root().await);
    let https: SocketAddr = format!("127.0.0.1:{https_port}").parse().unwrap();
    assert!(client
        .get(https, "new.zumi.test", "new.zumi.test", "/")
        .await
        .is_err());

    let added = format!(
        "{toml}[frontends.new]\nbackend = \"b\"\n  [frontends.new.routes.r]\n  rule = \"Host:new.zumi.test\"\n"
    );
    std::fs::write(tg.config_path(), added).unwrap();
    tg.signal("HUP");
    let line = tg
        .wait_for_log_count("acme: certificate obtained", 4, secs(60))
        .await;
    assert!(line.contains("new.zumi.test"), "{line}");
    let (status, body) = eventually(secs(10), "new host served", || async {
        client
            .get(https, "new.zumi.test", "new.zumi.test", "/")
            .await
            .ok()
    })
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = client
        .get(https, "app.zumi.test", "app.zumi.test", "/")
        .await
        .unwrap();
    assert_eq!(status, 200);
    // Only the new host was ordered.
    assert_eq!(tg.count_logs("acme: ordering a certificate"), 4);
}

/// `keyType = "RSA2048"`: the certificates pebble issues are for 2048-bit
/// RSA keys (the CSR is signed with one), and tollgate serves them.
#[tokio::test(flavor = "multi_thread")]
async fn rsa2048_key_type_issues_and_serves_rsa_certificates() {
    let shared = TempDir::new("acme-rsa");
    let (http_port, https_port) = (free_port(), free_port());
    let pebble = Pebble::start(&shared, http_port, https_port).await;
    let backend = echo("rsa-backend").await;
    let storage = shared.path().join("acme.json");
    let toml = acme_config(
        http_port,
        https_port,
        &storage,
        &pebble,
        "[acme.httpChallenge]\nentryPoint = \"http\"",
        &backend.url(),
    )
    .replace(
        "acmeLogging = true",
        "acmeLogging = true\nkeyType = \"RSA2048\"",
    );
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    tg.wait_for_log_count("acme: certificate obtained", 3, secs(60))
        .await;
    let client = TestTls::trusting(&pebble.root().await);
    let https: SocketAddr = format!("127.0.0.1:{https_port}").parse().unwrap();
    for host in ["app.zumi.test", "zumi.test", "www.zumi.test"] {
        let leaf = client.leaf(https, host).await.unwrap();
        assert_eq!(public_key_of(&leaf), ("RSA".to_string(), 2048), "{host}");
    }
    let (status, body) = client
        .get(https, "app.zumi.test", "app.zumi.test", "/")
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("rsa-backend"), "{body}");

    // Stored as PKCS#8 and served again after a restart.
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&storage).unwrap()).unwrap();
    for c in stored["certificates"].as_array().unwrap() {
        let key = c["key"].as_str().unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key:.40}");
    }
    let logs = tg.logs_text();
    assert!(!logs.contains("EC256"), "no fallback to EC: {logs}");
    tg.terminate().await;
    let _tg = Tollgate::start(&toml, &["http", "https"]).await;
    let leaf = eventually(secs(10), "stored RSA certificate served", || async {
        client.leaf(https, "shop.zumi.test").await.ok()
    })
    .await;
    assert_eq!(public_key_of(&leaf), ("RSA".to_string(), 2048));
}
