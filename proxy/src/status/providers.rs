//! `/api` and `/api/providers/...`, in Traefik 1.7's shape: the file
//! provider's frontends and backends as the config declares them.
//! `/api/providers/file/backends/NAME` (and below) selects part of it, as
//! in 1.7. User lists of basic authentication are not shown.

use serde_json::{json, Map, Value};

use crate::config::model::Config;

/// The JSON at `path` (which starts with `/api`), or None for a 404.
pub(super) fn lookup(config: &Config, path: &str) -> Option<Value> {
    let rest = path.strip_prefix("/api")?.trim_end_matches('/');
    let tree = json!({ "file": file_provider(config) });
    if rest.is_empty() {
        return Some(tree);
    }
    let below = rest.strip_prefix("/providers")?;
    let pointer: String = below
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| format!("/{}", s.replace('~', "~0")))
        .collect();
    tree.pointer(&pointer).cloned()
}

fn file_provider(config: &Config) -> Value {
    let frontends: Map<String, Value> = config
        .frontends
        .values()
        .map(|f| {
            let routes: Map<String, Value> = f
                .routes
                .iter()
                .map(|r| (r.name.clone(), json!({ "rule": r.rule })))
                .collect();
            let value = json!({
                "entryPoints": config.entry_points_of(f),
                "backend": f.backend,
                "routes": routes,
                "passHostHeader": f.pass_host_header,
                "priority": f.priority,
                "basicAuth": f.basic_auth.is_some(),
                "headers": f.headers,
                "middlewares": f.middlewares.iter().map(|(m, _)| m).collect::<Vec<_>>(),
            });
            (f.name.clone(), value)
        })
        .collect();
    let backends: Map<String, Value> = config
        .backends
        .values()
        .map(|b| {
            let servers: Map<String, Value> = b
                .servers
                .iter()
                .map(|s| (s.name.clone(), json!({ "url": s.url, "weight": s.weight })))
                .collect();
            let mut value = json!({
                "servers": servers,
                "loadBalancer": { "method": b.load_balancer.name() },
            });
            if let Some(h) = &b.health_check {
                value["healthCheck"] = json!({
                    "path": h.path,
                    "interval": format!("{}s", h.interval.as_secs_f64()),
                });
            }
            if let Some(m) = &b.max_conn {
                value["maxConn"] = json!({ "amount": m.amount });
            }
            (b.name.clone(), value)
        })
        .collect();
    json!({ "frontends": frontends, "backends": backends })
}
