//! `[ping]`, `[api]` and `[metrics.prometheus]`: tollgate's own endpoints,
//! each on the entry point it names. Like Traefik 1.7, the default is the
//! internal `traefik` entry point, created on `:8080` when the file does not
//! define it.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::model::{Api, EntryPoint, PrometheusMetrics};
use crate::config::tree::Node;

use super::context::unknown_name;

/// Traefik 1.7's internal entry point, used by `[ping]`, `[api]` and
/// `[metrics]` by default.
const INTERNAL_ENTRY_POINT: &str = "traefik";

/// The entry points the file defines, and those added for these sections.
pub(super) struct EntryPoints<'a> {
    pub all: &'a mut BTreeMap<String, EntryPoint>,
    pub names: &'a mut BTreeSet<String>,
}

/// `[ping] entryPoint`.
pub(super) fn read_ping(root: &Node<'_>, eps: &mut EntryPoints<'_>) -> Option<String> {
    let section = root.section("ping")?;
    entry_point_of(&section, eps)
}

/// `[api]`: `entryPoint`, `dashboard`, `[statistics] recentErrors`; the
/// `debug` key is accepted and ignored (it only adds Go's pprof).
pub(super) fn read_api(root: &Node<'_>, eps: &mut EntryPoints<'_>) -> Option<Api> {
    let section = root.section("api")?;
    let entry_point = entry_point_of(&section, eps)?;
    let dashboard = section
        .get("dashboard")
        .and_then(|n| n.bool())
        .unwrap_or(true);
    let _ = section.get("debug").and_then(|n| n.bool());
    let recent_errors = section
        .section("statistics")
        .and_then(|s| s.get("recentErrors"))
        .and_then(|n| super::values::non_negative(&n))
        .map_or(10, |n| usize::try_from(n).unwrap_or(usize::MAX).min(1000));
    Some(Api {
        entry_point,
        dashboard,
        recent_errors,
    })
}

/// Traefik 1.7's default request-duration buckets, in seconds.
const DEFAULT_BUCKETS: [f64; 4] = [0.1, 0.3, 1.2, 5.0];

/// `[metrics.prometheus]`: `entryPoint`, `buckets`. The other 1.7 backends
/// (`datadog`, `statsd`, `influxdb`) warn as not supported.
pub(super) fn read_metrics(
    root: &Node<'_>,
    eps: &mut EntryPoints<'_>,
) -> Option<PrometheusMetrics> {
    let section = root.section("metrics")?;
    for other in ["datadog", "statsd", "influxdb"] {
        if let Some(n) = section.get(other) {
            n.read_subtree();
            n.warn(format!(
                "{other} metrics: not yet supported, ignored (use [metrics.prometheus])"
            ));
        }
    }
    let prometheus = section.section("prometheus")?;
    let entry_point = entry_point_of(&prometheus, eps)?;
    let buckets = match prometheus.get("buckets") {
        None => DEFAULT_BUCKETS.to_vec(),
        Some(node) => read_buckets(&node)?,
    };
    Some(PrometheusMetrics {
        entry_point,
        buckets,
    })
}

/// Upper bounds in seconds, increasing; integers are accepted as seconds.
fn read_buckets(node: &Node<'_>) -> Option<Vec<f64>> {
    let Some(array) = node.raw_value().and_then(|v| v.as_array()) else {
        node.error("expected an array of numbers (seconds), such as [0.1, 0.3, 1.2, 5.0]");
        return None;
    };
    let mut buckets = Vec::with_capacity(array.len());
    for value in array.iter() {
        let bound = value
            .as_float()
            .or_else(|| value.as_integer().map(|i| i as f64));
        match bound {
            Some(b) if b.is_finite() && b > 0.0 => buckets.push(b),
            _ => {
                let shown = match (value.as_str(), bound) {
                    (Some(text), _) => format!("\"{text}\""),
                    (None, Some(b)) => b.to_string(),
                    (None, None) => value.type_name().to_owned(),
                };
                node.error(format!(
                    "bucket {shown} is not a positive number of seconds"
                ));
                return None;
            }
        }
    }
    if buckets.windows(2).any(|w| w[0] >= w[1]) {
        node.error("buckets must increase, such as [0.1, 0.3, 1.2, 5.0]");
        return None;
    }
    if buckets.is_empty() {
        node.error("no buckets: leave the key out for Traefik's [0.1, 0.3, 1.2, 5.0]");
        return None;
    }
    Some(buckets)
}

/// The section's `entryPoint`, or the internal one, created on `:8080`
/// when the file lacks it.
fn entry_point_of(section: &Node<'_>, eps: &mut EntryPoints<'_>) -> Option<String> {
    let named = section.get("entryPoint");
    let name = match &named {
        Some(node) => node.str()?.to_owned(),
        None => INTERNAL_ENTRY_POINT.to_owned(),
    };
    if eps.names.contains(&name) {
        return Some(name);
    }
    if name != INTERNAL_ENTRY_POINT {
        let node = named.as_ref().unwrap_or(section);
        node.error(unknown_name("entry point", &name, eps.names));
        return None;
    }
    Some(internal_entry_point(section, eps))
}

/// The internal `traefik` entry point, created on `:8080` (with a warning
/// at `section`, which asked for it) when the file does not define it.
pub(super) fn internal_entry_point(section: &Node<'_>, eps: &mut EntryPoints<'_>) -> String {
    let name = INTERNAL_ENTRY_POINT.to_owned();
    if !eps.names.contains(&name) {
        section.warn(
            "entry point \"traefik\" is not defined: listening on \":8080\" for it, like Traefik",
        );
        eps.all
            .insert(name.clone(), EntryPoint::implicit(&name, ":8080"));
        eps.names.insert(name.clone());
    }
    name
}

#[cfg(test)]
mod tests {
    use crate::config::load::tests::{errors, loaded, warnings, MINIMAL};

    #[test]
    fn ping_uses_the_traefik_entry_point_by_default() {
        let config = loaded(&format!("{MINIMAL}[ping]\n"));
        assert_eq!(config.ping.as_deref(), Some("traefik"));
        assert_eq!(config.entry_points["traefik"].address, ":8080");
        assert_eq!(config.default_entry_points, ["web"]);
        assert_eq!(
            warnings(&config),
            ["t.toml:10:1: ping: entry point \"traefik\" is not defined: listening on \":8080\" for it, \
              like Traefik"]
        );
        let config = loaded(&format!("{MINIMAL}[ping]\nentryPoint = \"web\"\n"));
        assert_eq!(config.ping.as_deref(), Some("web"));
        assert!(config.warnings.is_empty());
        let err = errors(&format!("{MINIMAL}[ping]\nentryPoint = \"wbe\"\n"));
        assert_eq!(
            err,
            ["t.toml:11:14: ping.entryPoint: unknown entry point \"wbe\" (did you mean \"web\"?)"]
        );
    }

    #[test]
    fn api_and_metrics_share_the_internal_entry_point() {
        let config = loaded(&format!(
            "{MINIMAL}[api]\ndashboard = false\n[api.statistics]\nrecentErrors = 3\n\
             [metrics.prometheus]\nbuckets = [0.05, 1, 2.5]\n"
        ));
        let api = config.api.as_ref().expect("api");
        assert_eq!(
            (api.entry_point.as_str(), api.dashboard, api.recent_errors),
            ("traefik", false, 3)
        );
        let metrics = config.metrics.as_ref().expect("metrics");
        assert_eq!(metrics.entry_point, "traefik");
        assert_eq!(metrics.buckets, [0.05, 1.0, 2.5]);
        assert_eq!(config.entry_points["traefik"].address, ":8080");
        // One warning: the second section finds the entry point made.
        assert_eq!(warnings(&config).len(), 1);
        assert_eq!(config.default_entry_points, ["web"]);

        let config = loaded(&format!(
            "{MINIMAL}[api]\nentryPoint = \"web\"\n[metrics.prometheus]\nentryPoint = \"web\"\n"
        ));
        assert!(config.api.as_ref().unwrap().dashboard);
        assert_eq!(
            config.metrics.as_ref().unwrap().buckets,
            [0.1, 0.3, 1.2, 5.0]
        );
        assert!(!config.entry_points.contains_key("traefik"));
    }

    #[test]
    fn bad_buckets_and_entry_points_are_errors() {
        for (buckets, want) in [
            ("[1, 0.5]", "buckets must increase"),
            ("[0, 1]", "bucket 0 is not a positive number of seconds"),
            (
                "[\"1s\"]",
                "bucket \"1s\" is not a positive number of seconds",
            ),
            ("[]", "no buckets"),
            ("\"0.1\"", "expected an array of numbers"),
        ] {
            let err = errors(&format!(
                "{MINIMAL}[metrics.prometheus]\nbuckets = {buckets}\n"
            ));
            assert_eq!(err.len(), 1, "{buckets}: {err:?}");
            assert!(err[0].contains(want), "{buckets}: {err:?}");
        }
        let err = errors(&format!("{MINIMAL}[api]\nentryPoint = \"api\"\n"));
        assert_eq!(
            err,
            ["t.toml:11:14: api.entryPoint: unknown entry point \"api\"; defined: \"web\""]
        );
    }

    #[test]
    fn other_metrics_backends_warn() {
        let config = loaded(&format!(
            "{MINIMAL}[metrics.statsd]\naddress = \"x:8125\"\n"
        ));
        assert!(config.metrics.is_none());
        assert_eq!(
            warnings(&config),
            [
                "t.toml:10:1: metrics.statsd: statsd metrics: not yet supported, ignored (use \
              [metrics.prometheus])"
            ]
        );
    }
}
