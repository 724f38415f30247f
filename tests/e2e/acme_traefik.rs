//! `[acme] storage` pointing at a Traefik 1.7 `acme.json`: its certificates
//! are served and reused (no CA contacted while they are current), the file
//! is rewritten in tollgate's format at the first order, and a broken file
//! is reported by name and left alone. The first-order test orders from
//! pebble (harness/acme.rs) and fails when it is not installed.

use std::net::SocketAddr;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::harness::*;

#[derive(Clone, Copy)]
enum GoKey {
    /// `RSA PRIVATE KEY` (PKCS#1, Go's `x509.MarshalPKCS1PrivateKey`).
    Rsa,
    /// `EC PRIVATE KEY` (SEC1, Go's `x509.MarshalECPrivateKey`).
    Ec,
}

/// A self-signed certificate for `names` and its key, the key PEM in the
/// form lego writes into Traefik's acme.json.
fn go_certificate(names: &[&str], kind: GoKey) -> (String, String) {
    use rustls::pki_types::PrivatePkcs8KeyDer;
    let (pkcs8, alg, key_pem) = match kind {
        GoKey::Rsa => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
            let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
            let der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
            (der, &rcgen::PKCS_RSA_SHA256, pem.to_string())
        }
        GoKey::Ec => {
            use p256::elliptic_curve::Generate;
            use p256::pkcs8::EncodePrivateKey;
            let key = p256::SecretKey::try_generate_from_rng(&mut getrandom::SysRng).unwrap();
            let pem = key.to_sec1_pem(p256::pkcs8::LineEnding::LF).unwrap();
            let der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
            (der, &rcgen::PKCS_ECDSA_P256_SHA256, pem.to_string())
        }
    };
    let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(pkcs8), alg)
        .unwrap();
    let params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    (params.self_signed(&key).unwrap().pem(), key_pem)
}

/// Traefik 1.7's acme.json (Go's encoding/json of its StoredData) holding
/// `certs`: (main, sans, certificate PEM, key PEM).
fn traefik_acme_json(certs: &[(&str, &[&str], &str, &str)]) -> String {
    let certificates: Vec<serde_json::Value> = certs
        .iter()
        .map(|(main, sans, cert, key)| {
            serde_json::json!({
                "Domain": {"Main": main, "SANs": sans},
                "Certificate": B64.encode(cert),
                "Key": B64.encode(key),
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "Account": {
            "Email": "admin@zumi.test",
            "Registration": {
                "body": {"status": "valid", "contact": ["mailto:admin@zumi.test"]},
                "uri": "https://acme-v02.api.letsencrypt.org/acme/acct/31415926"
            },
            "PrivateKey": B64.encode(b"an RSA account key tollgate cannot reuse"),
            "KeyType": "4096"
        },
        "Certificates": certificates,
        "HTTPChallenges": {},
        "TLSChallenges": {}
    }))
    .unwrap()
}

/// tollgate with `[acme]` on `storage`, `caServer` on a closed port.
fn offline_config(storage: &Path, domains: &str, backend_url: &str) -> String {
    format!(
        r#"logLevel = "DEBUG"
defaultEntryPoints = ["http", "https"]
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
{domains}
[frontends.legacy]
backend = "b"
  [frontends.legacy.routes.r]
  rule = "Host:legacy.zumi.test"
[backends.b.servers.s]
url = "{backend_url}"
"#,
        storage = storage.display(),
        port = closed_port(),
    )
}

/// Certificates from a Traefik acme.json, one with a PKCS#1 RSA key and
/// one with a SEC1 EC key, are served at once without any CA; the file,
/// with nothing to renew, is not rewritten.
#[tokio::test(flavor = "multi_thread")]
async fn traefik_acme_json_is_served_without_a_ca() {
    let dir = TempDir::new("acme-traefik");
    let backend = echo("legacy-backend").await;
    let (rsa_cert, rsa_key) =
        go_certificate(&["legacy.zumi.test", "www.legacy.zumi.test"], GoKey::Rsa);
    let (ec_cert, ec_key) = go_certificate(&["ec.zumi.test"], GoKey::Ec);
    let json = traefik_acme_json(&[
        (
            "legacy.zumi.test",
            &["www.legacy.zumi.test"],
            &rsa_cert,
            &rsa_key,
        ),
        ("ec.zumi.test", &[], &ec_cert, &ec_key),
    ]);
    let storage = dir.write("acme.json", &json);
    let toml = offline_config(
        &storage,
        "[[acme.domains]]\nmain = \"legacy.zumi.test\"\nsans = [\"www.legacy.zumi.test\"]\n[[acme.domains]]\nmain = \"ec.zumi.test\"",
        &backend.url(),
    );
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    let line = tg
        .wait_for_log("acme: every certificate is current", secs(20))
        .await;
    assert!(line.contains(&storage.display().to_string()), "{line}");
    let note = tg.wait_for_log("Traefik acme.json", secs(5)).await;
    assert!(note.contains("certificates=2"), "{note}");

    let https = tg.addr("https");
    let client = TestTls::trusting(&format!("{rsa_cert}{ec_cert}"));
    let (status, body) = client
        .get(https, "legacy.zumi.test", "legacy.zumi.test", "/")
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("legacy-backend"), "{body}");
    let leaf = client.leaf(https, "www.legacy.zumi.test").await.unwrap();
    assert_eq!(public_key_of(&leaf), ("RSA".to_string(), 2048));
    let leaf = client.leaf(https, "ec.zumi.test").await.unwrap();
    assert_eq!(public_key_of(&leaf), ("EC".to_string(), 256));

    // No CA was needed: no account, no order, no failure.
    let logs = tg.logs_text();
    for absent in [
        "acme: ordering",
        "account created",
        "retry_in_secs",
        "WARN acme:",
    ] {
        assert!(!logs.contains(absent), "{absent}: {logs}");
    }
    assert_eq!(std::fs::read_to_string(&storage).unwrap(), json);
    tg.assert_running();
}

/// A broken Traefik acme.json: the error names the file and what is wrong
/// in it, tollgate keeps serving, and the file is left as it was.
#[tokio::test(flavor = "multi_thread")]
async fn broken_traefik_acme_json_is_reported_and_kept() {
    let backend = echo("still-serving").await;
    let garbage_key =
        B64.encode("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n");
    let (cert, _) = go_certificate(&["legacy.zumi.test"], GoKey::Ec);
    let unusable = format!(
        r#"{{"Account": null, "Certificates": [{{"Domain": {{"Main": "legacy.zumi.test"}}, "Certificate": "{}", "Key": "{garbage_key}"}}]}}"#,
        B64.encode(&cert)
    );
    // (file contents, the log line to wait for, what it must say)
    let cases = [
        (
            r#"{"Account": null, "Certificates": [{"Domain": {"Main": "legacy.zumi.test"}, "Certificate": "not base64!", "Key": "QQ=="}]}"#.to_string(),
            "retry_in_secs",
            "Traefik acme.json: Certificates[0] (legacy.zumi.test): `Certificate` is not base64",
        ),
        (
            r#"{"Account": {"Email": "a@zumi.test"}, "Certificates": ["#.to_string(),
            "retry_in_secs",
            "not valid JSON",
        ),
        // Well-formed, but the key is not a key: that certificate is not
        // served (and is due), the warning names the file.
        (unusable, "unsupported private key", "[\"legacy.zumi.test\"]"),
    ];
    for (text, needle, want) in cases {
        let dir = TempDir::new("acme-traefik-bad");
        let storage = dir.write("acme.json", &text);
        let toml = offline_config(
            &storage,
            "[[acme.domains]]\nmain = \"legacy.zumi.test\"",
            &backend.url(),
        );
        let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
        let line = tg.wait_for_log(needle, secs(20)).await;
        assert!(
            line.contains(&storage.display().to_string()),
            "names the file: {line}"
        );
        assert!(line.contains(want), "{line}");
        let echo = echo_of(
            http1()
                .get(tg.url("http", "/"))
                .header("host", "legacy.zumi.test"),
        )
        .await;
        assert_eq!(echo.server, "still-serving");
        assert_eq!(std::fs::read_to_string(&storage).unwrap(), text);
        tg.assert_running();
    }
}

/// The first order (a domain the Traefik file lacks) registers a tollgate
/// account and rewrites the file in tollgate's format, with the Traefik
/// certificate kept, byte for byte, and still served.
#[tokio::test(flavor = "multi_thread")]
async fn first_order_rewrites_traefik_acme_json_in_tollgate_format() {
    let shared = TempDir::new("acme-traefik-convert");
    let (http_port, https_port) = (free_port(), free_port());
    let pebble = Pebble::start(&shared, http_port, https_port).await;
    let backend = echo("converted").await;
    // The [[acme.domains]] certificate comes from Traefik; the frontends'
    // Host names (onHostRule) are ordered from pebble.
    let (cert, key) = go_certificate(&["zumi.test", "www.zumi.test"], GoKey::Ec);
    let storage = shared.write(
        "acme.json",
        traefik_acme_json(&[("zumi.test", &["www.zumi.test"], &cert, &key)]),
    );
    let toml = acme_config(
        http_port,
        https_port,
        &storage,
        &pebble,
        "[acme.httpChallenge]\nentryPoint = \"http\"",
        &backend.url(),
    );
    let mut tg = Tollgate::start(&toml, &["http", "https"]).await;
    tg.wait_for_log_count("acme: certificate obtained", 2, secs(60))
        .await;
    assert_eq!(tg.count_logs("acme: account created"), 1);
    // Only the two frontends' certificates were ordered.
    assert_eq!(tg.count_logs("acme: ordering a certificate"), 2);

    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&storage).unwrap()).unwrap();
    assert!(stored.get("Certificates").is_none(), "{stored}");
    assert!(stored["account"]["credentials"].is_object(), "{stored}");
    let certs = stored["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 3, "{stored}");
    let kept = certs
        .iter()
        .find(|c| c["domains"] == serde_json::json!(["zumi.test", "www.zumi.test"]))
        .expect("the Traefik certificate is kept");
    assert_eq!(kept["certificate"], cert.as_str());
    assert_eq!(kept["key"], key.as_str());

    let https: SocketAddr = format!("127.0.0.1:{https_port}").parse().unwrap();
    let traefik_client = TestTls::trusting(&cert);
    let (status, _) = traefik_client
        .get(https, "www.zumi.test", "www.zumi.test", "/")
        .await
        .unwrap();
    assert_eq!(
        status, 404,
        "served from the Traefik certificate (no route)"
    );
    let pebble_client = TestTls::trusting(&pebble.root().await);
    let (status, body) = pebble_client
        .get(https, "app.zumi.test", "app.zumi.test", "/")
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    tg.assert_running();
}
