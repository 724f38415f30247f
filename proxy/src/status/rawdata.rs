//! `/api/rawdata`: the running configuration with its live state, as the
//! dashboard shows it: entry points (bound port, open connections),
//! frontends (rules, priority, plugins), backends (each server's health and
//! idle connections), plugins (limits, failures), certificates (expiry),
//! the last reloads and request counts.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::inventory;
use crate::access_log::rfc3339;
use crate::snapshot::{Shared, Snapshot};
use crate::wasm::PluginSource;

pub(super) fn rawdata(snapshot: &Snapshot, shared: &Shared) -> Value {
    let config = &snapshot.config;
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "started": rfc3339(shared.started),
        "uptime_sec": shared.started.elapsed().map(|d| d.as_secs()).unwrap_or(0),
        "configFile": config.source.display().to_string(),
        "reload": reload(shared),
        "entryPoints": entry_points(snapshot, shared),
        "frontends": frontends(snapshot),
        "backends": backends(snapshot),
        "plugins": plugins(snapshot),
        "certificates": certificates(snapshot, shared),
        "requests": requests(shared),
    })
}

fn reload(shared: &Shared) -> Value {
    let status = shared.reload_status();
    json!({
        "applied": status.applied,
        "refused": status.refused,
        "lastResult": if status.last_refused() { "refused" } else { "applied" },
        "lastSuccess": status.last_success.map(rfc3339),
        "lastError": status.last_error.as_ref().map(|(at, why)| json!({
            "time": rfc3339(*at),
            "error": why,
        })),
    })
}

fn entry_points(snapshot: &Snapshot, shared: &Shared) -> Value {
    let config = &snapshot.config;
    let list: Vec<Value> = config
        .entry_points
        .values()
        .map(|ep| {
            let slot = shared.slot(&ep.name);
            let routes = snapshot.entry(slot);
            let endpoints = routes.map(|r| r.endpoints).unwrap_or_default();
            let own: Vec<&str> = endpoints.served().iter().map(|(name, _)| *name).collect();
            json!({
                "name": ep.name,
                "address": ep.address,
                "port": shared.bound_port(slot),
                "tls": ep.tls.is_some(),
                "redirect": ep.redirect.as_ref().map(|r| r.entry_point.clone()
                    .unwrap_or_else(|| r.replacement.clone().unwrap_or_default())),
                "auth": ep.auth.is_some(),
                "endpoints": own,
                "openConnections": shared.admission(slot).open(),
                "frontends": routes.map_or(0, |r| r.frontends.len()),
            })
        })
        .collect();
    Value::Array(list)
}

fn frontends(snapshot: &Snapshot) -> Value {
    let config = &snapshot.config;
    let chains: std::collections::BTreeMap<&str, Vec<&str>> = snapshot
        .entrypoints
        .iter()
        .flatten()
        .flat_map(|e| e.frontends.iter())
        .map(|f| {
            let plugins = f
                .chain
                .as_ref()
                .map(|c| c.plugins().iter().map(|p| p.name()).collect())
                .unwrap_or_default();
            (f.name.as_str(), plugins)
        })
        .collect();
    let list: Vec<Value> = config
        .frontends
        .values()
        .map(|f| {
            json!({
                "name": f.name,
                "entryPoints": config.entry_points_of(f),
                "backend": f.backend,
                "priority": f.priority,
                "passHostHeader": f.pass_host_header,
                "rules": f.routes.iter().map(|r| json!({"name": r.name, "rule": r.rule}))
                    .collect::<Vec<_>>(),
                "plugins": chains.get(f.name.as_str()).cloned().unwrap_or_default(),
            })
        })
        .collect();
    Value::Array(list)
}

fn backends(snapshot: &Snapshot) -> Value {
    let config = &snapshot.config;
    let routed = inventory::backends(snapshot);
    let list: Vec<Value> = config
        .backends
        .values()
        .map(|b| {
            let servers: Vec<Value> = match routed.get(b.name.as_str()) {
                Some(rt) => rt
                    .balancer
                    .servers()
                    .iter()
                    .map(|s| {
                        json!({
                            "name": s.name,
                            "url": s.url,
                            "weight": s.weight,
                            "up": s.health.is_up(),
                            "idleConnections": s.pool.idle_count(),
                        })
                    })
                    .collect(),
                // No frontend routes here: nothing is checked or pooled.
                None => b
                    .servers
                    .iter()
                    .map(|s| json!({"name": s.name, "url": s.url, "weight": s.weight, "up": null}))
                    .collect(),
            };
            json!({
                "name": b.name,
                "loadBalancer": b.load_balancer.name(),
                "healthCheck": b.health_check.as_ref().map(|h| json!({
                    "path": h.path,
                    "interval_sec": h.interval.as_secs_f64(),
                })),
                "maxConn": b.max_conn.as_ref().map(|m| m.amount),
                "routed": routed.contains_key(b.name.as_str()),
                "servers": servers,
            })
        })
        .collect();
    Value::Array(list)
}

fn plugins(snapshot: &Snapshot) -> Value {
    let list: Vec<Value> = inventory::plugins(snapshot)
        .into_values()
        .map(|p| {
            let spec = p.spec();
            let source = match &spec.source {
                PluginSource::Path(path) => path.display().to_string(),
                PluginSource::Builtin(name) => format!("built-in {name}"),
            };
            let failures: serde_json::Map<String, Value> = p
                .failures_by_kind()
                .iter()
                .map(|(kind, n)| (kind.label().to_owned(), json!(n)))
                .collect();
            json!({
                "name": p.name(),
                "source": source,
                "timeout_ms": spec.timeout.as_millis() as u64,
                "memoryBytes": spec.memory,
                "maxBodyBytes": spec.max_body,
                "instancesStarted": p.instances_started(),
                "idleInstances": p.idle_instances(),
                "failures": failures,
                "lastFailure": p.last_failure(),
            })
        })
        .collect();
    Value::Array(list)
}

fn certificates(snapshot: &Snapshot, shared: &Shared) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let list: Vec<Value> = inventory::certificates(snapshot, shared)
        .into_iter()
        .map(|c| {
            let not_after =
                UNIX_EPOCH + std::time::Duration::from_secs(c.info.not_after.max(0) as u64);
            json!({
                "domains": c.info.names,
                "source": c.source,
                "notAfter": rfc3339(not_after),
                "expiresInDays": (c.info.not_after - now) / 86_400,
            })
        })
        .collect();
    Value::Array(list)
}

fn requests(shared: &Shared) -> Value {
    let s = shared.stats.snapshot();
    json!({
        "total": s.total,
        "lastSecond": s.last_second_total(),
        "byCode": s.total_by_code.iter().map(|(c, n)| (c.to_string(), json!(n)))
            .collect::<serde_json::Map<_, _>>(),
        "averageResponseTime_sec": s.average_secs(),
    })
}
