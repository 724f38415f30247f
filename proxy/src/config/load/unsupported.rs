//! Traefik 1.7 settings that tollgate recognises but does not implement yet,
//! table by table. Each is accepted with one warning at its key, and nothing
//! under it is reported as unknown.

use crate::config::tree::Node;

/// A Traefik 1.7 setting tollgate knows about but does not implement yet.
/// It is accepted with a warning, and nothing under it is reported as
/// unknown. To accept another 1.7 setting this way, add a line to the list
/// of the table it lives in.
pub(super) struct Unsupported {
    key: &'static str,
    what: &'static str,
}

const fn unsupported(key: &'static str, what: &'static str) -> Unsupported {
    Unsupported { key, what }
}

/// Top-level settings.
pub(super) const GLOBAL_UNSUPPORTED: &[Unsupported] = &[
    unsupported("web", "web API and dashboard"),
    unsupported("rest", "REST provider"),
    unsupported("tracing", "tracing"),
    unsupported("retry", "retrying failed requests"),
    unsupported("hostResolver", "CNAME-flattening host resolver"),
    unsupported("providersThrottleDuration", "provider throttling"),
    unsupported("keepTrailingSlash", "keeping trailing slashes"),
    unsupported("constraints", "provider constraints"),
    unsupported("cluster", "clustering"),
    unsupported("docker", "Docker provider"),
    unsupported("kubernetes", "Kubernetes provider"),
    unsupported("marathon", "Marathon provider"),
    unsupported("mesos", "Mesos provider"),
    unsupported("consul", "Consul provider"),
    unsupported("consulCatalog", "Consul Catalog provider"),
    unsupported("zookeeper", "ZooKeeper provider"),
    unsupported("boltdb", "BoltDB provider"),
    unsupported("ecs", "ECS provider"),
    unsupported("rancher", "Rancher provider"),
    unsupported("eureka", "Eureka provider"),
    unsupported("dynamodb", "DynamoDB provider"),
    unsupported("servicefabric", "Service Fabric provider"),
];

/// `[entryPoints.NAME]`.
pub(super) const ENTRY_POINT_UNSUPPORTED: &[Unsupported] = &[
    unsupported("whiteList", "IP white-listing"),
    unsupported("whitelistSourceRange", "IP white-listing"),
    unsupported("compress", "compression"),
];

/// `[frontends.NAME]`.
pub(super) const FRONTEND_UNSUPPORTED: &[Unsupported] = &[
    unsupported("redirect", "frontend redirection"),
    unsupported("whiteList", "IP white-listing"),
    unsupported("whitelistSourceRange", "IP white-listing"),
    unsupported("errors", "custom error pages"),
    unsupported("ratelimit", "rate limiting"),
    unsupported("passTLSCert", "passing the client certificate"),
    unsupported("passTLSClientCert", "passing the client certificate"),
];

/// `[backends.NAME]`.
pub(super) const BACKEND_UNSUPPORTED: &[Unsupported] =
    &[unsupported("circuitBreaker", "circuit breakers")];

/// `[backends.NAME.loadBalancer]`.
pub(super) const LOAD_BALANCER_UNSUPPORTED: &[Unsupported] = &[
    unsupported("stickiness", "sticky sessions"),
    unsupported("sticky", "sticky sessions"),
];

/// `[lifeCycle]`.
pub(super) const LIFE_CYCLE_UNSUPPORTED: &[Unsupported] = &[unsupported(
    "requestAcceptGraceTimeout",
    "accept grace period",
)];

/// Settings accepted and ignored without a word: they only concern
/// Traefik's own update checks and statistics.
pub(super) const GLOBAL_IGNORED: &[&str] = &["checkNewVersion", "sendAnonymousUsage"];

pub(super) fn warn_unsupported(table: &Node<'_>, list: &[Unsupported]) {
    for entry in list {
        if let Some(node) = table.get(entry.key) {
            node.read_subtree();
            node.tree().warn(
                node.key_location(),
                format!("{}: not yet supported, ignored", entry.what),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::load::tests::{loaded, warnings, MINIMAL};
    use crate::config::model::LoadBalancerMethod;

    #[test]
    fn unsupported_sections_warn_once_and_hide_their_contents() {
        let text = format!(
            "{MINIMAL}{}",
            r#"
[tracing]
backend = "jaeger"
[tracing.jaeger]
samplingType = "const"
[backends.b.circuitBreaker]
expression = "NetworkErrorRatio() > 0.5"
[backends.b.loadBalancer]
method = "DRR"
[backends.b.loadBalancer.stickiness]
cookieName = "c"
[lifeCycle]
requestAcceptGraceTimeout = "10s"
graceTimeOut = "3s"
"#
        );
        let config = loaded(&text);
        assert_eq!(
            warnings(&config),
            [
                "t.toml:11:2: tracing: tracing: not yet supported, ignored",
                "t.toml:15:13: backends.b.circuitBreaker: circuit breakers: not yet supported, ignored",
                "t.toml:19:26: backends.b.loadBalancer.stickiness: sticky sessions: not yet supported, ignored",
                "t.toml:22:1: lifeCycle.requestAcceptGraceTimeout: accept grace period: not yet supported, ignored",
            ]
        );
        assert_eq!(config.backends["b"].load_balancer, LoadBalancerMethod::Drr);
        assert_eq!(config.grace_timeout, Duration::from_secs(3));
    }
}
