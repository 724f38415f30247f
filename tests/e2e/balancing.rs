//! Weighted round robin across a backend's servers.

use std::collections::HashMap;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_round_robin_splits_one_to_three() {
    let (light, heavy) = (echo("light").await, echo("heavy").await);
    let toml = http_only()
        + &frontend("f", "pool", "PathPrefix:/")
        + &weighted_backend("pool", &[(&light.url(), 1), (&heavy.url(), 3)]);
    let tg = Tollgate::start(&toml, &["http"]).await;

    const N: usize = 400;
    let c = http1();
    let url = tg.url("http", "/lb");
    let mut counts: HashMap<String, usize> = HashMap::new();
    within(secs(20), "400 sequential requests", async {
        for _ in 0..N {
            *counts.entry(echo_of(c.get(&url)).await.server).or_default() += 1;
        }
    })
    .await;
    let light_n = counts.get("light").copied().unwrap_or(0);
    let heavy_n = counts.get("heavy").copied().unwrap_or(0);
    assert_eq!(light_n + heavy_n, N, "{counts:?}");
    // Smooth WRR over a multiple of the total weight is exact; allow a few.
    assert!(
        light_n.abs_diff(N / 4) <= 4,
        "weight 1 got {light_n} of {N}: {counts:?}"
    );
    assert!(
        heavy_n.abs_diff(3 * N / 4) <= 4,
        "weight 3 got {heavy_n} of {N}: {counts:?}"
    );
}
