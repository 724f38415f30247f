//! Active health checks take a failing server out and put it back.

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_server_is_taken_out_and_put_back() {
    let steady = HealthBackend::start("steady", true).await;
    let flaky = HealthBackend::start("flaky", true).await;
    let toml = http_only()
        + &frontend("f", "pool", "PathPrefix:/")
        + &weighted_backend("pool", &[(&steady.url(), 1), (&flaky.url(), 1)])
        + "[backends.pool.healthCheck]\npath = \"/health\"\ninterval = \"100ms\"\ntimeout = \"1s\"\n\n";
    let tg = Tollgate::start(&toml, &["http"]).await;
    let c = http1();
    let url = tg.url("http", "/app");
    let (c, url) = (&c, &url);
    let who = move || async move { echo_of(c.get(url)).await.server };

    // Both healthy: both get traffic.
    eventually(secs(3), "both servers serve", move || async move {
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(who().await);
        }
        (seen.iter().any(|s| s == "steady") && seen.iter().any(|s| s == "flaky")).then_some(())
    })
    .await;
    assert!(
        flaky.health_checks() > 0,
        "no health check reached the server"
    );

    // flaky's /health fails: within a few intervals it gets nothing.
    flaky.set_healthy(false);
    eventually(
        secs(3),
        "all traffic on the healthy server",
        move || async move {
            for _ in 0..10 {
                if who().await != "steady" {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    for _ in 0..20 {
        assert_eq!(who().await, "steady", "an unhealthy server got a request");
    }

    // Recovered: it gets traffic again.
    flaky.set_healthy(true);
    eventually(
        secs(3),
        "recovered server gets traffic again",
        move || async move { (who().await == "flaky").then_some(()) },
    )
    .await;
}
