//! The Zumi seed `traefik.toml` (fixtures/zumi-seed.toml, verbatim from the
//! document) loads and runs with only its placeholders filled in.

use crate::harness::*;
use reqwest::StatusCode;

const SEED: &str = include_str!("fixtures/zumi-seed.toml");
const CERT: &[u8] = include_bytes!("fixtures/SSL/cert.pem");
const KEY: &[u8] = include_bytes!("fixtures/SSL/key.pem");

/// The seed with its placeholders filled in: both entrypoints on
/// `127.0.0.1:0`, the backend on `backend_port`.
fn seed_config(backend_port: u16) -> String {
    for placeholder in [
        "IP_OF_MY_SERVE:443",
        "IP_OF_MY_SERVER",
        "http://127.0.0.1:8888",
    ] {
        assert!(SEED.contains(placeholder), "fixture lost {placeholder:?}");
    }
    SEED.replace("IP_OF_MY_SERVE:443", "127.0.0.1:0")
        .replace("IP_OF_MY_SERVER", "127.0.0.1:0")
        .replace(
            "http://127.0.0.1:8888",
            &format!("http://127.0.0.1:{backend_port}"),
        )
}

/// A directory laid out like the user's: SSL/cert.pem, SSL/key.pem, log/.
fn seed_dir() -> TempDir {
    let dir = TempDir::new("seed");
    dir.write("SSL/cert.pem", CERT);
    dir.write("SSL/key.pem", KEY);
    std::fs::create_dir_all(dir.path().join("log")).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zumi_seed_config_passes_check() {
    let dir = seed_dir();
    dir.write("traefik.toml", seed_config(8888));
    let out = run_tollgate(dir.path(), &["check", "--config", "traefik.toml"], secs(20)).await;
    assert!(
        out.status.success(),
        "tollgate check rejected the seed config ({}):\n{}",
        out.status,
        out.all()
    );
    assert!(
        out.all().contains("zumi01"),
        "the summary should name frontend/backend zumi01:\n{}",
        out.all()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zumi_seed_config_runs_and_answers_on_http() {
    let jupyter = echo("jupyter").await;
    let toml = seed_config(jupyter.port());
    let mut tg = Tollgate::start_with_log_file(
        seed_dir(),
        &toml,
        &["http", "https"],
        Some("log/traefik.log"),
    )
    .await;
    let https_port = tg.addr("https").port();

    // The http entrypoint sends everything to the https one, as the seed says.
    for path in ["/zumi01/tree", "/zumi01/api/contents?type=directory"] {
        let resp = within(
            secs(10),
            "GET over http",
            http1()
                .get(tg.url("http", path))
                .header("host", "myserver.com")
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND, "GET {path}");
        assert_eq!(
            resp.headers()["location"],
            format!("https://myserver.com:{https_port}{path}").as_str()
        );
    }
    // Over TLS, the seed's basicAuth guards the frontend (its placeholder
    // user "USER:HTTPPASSWD" has no valid hash, so nobody gets in); the
    // plugin tests log in with real hashes.
    let client = https_resolving_any_cert("myserver.com", tg.addr("https"));
    let url = format!("https://myserver.com:{https_port}/zumi01/tree");
    let resp = within(secs(10), "GET over https", client.get(&url).send())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    tg.assert_running();
    let status = tg.terminate().await;
    assert_eq!(status.code(), Some(0), "{status}");
}
