//! `/metrics`: the request series counted as requests go (`metrics`), and
//! the families read now from what the process knows: reloads, server
//! health and idle pool connections, open connections per entry point,
//! plugin calls and failures, certificate expiry, dropped access-log lines.

use std::collections::BTreeMap;

use prometheus::proto::MetricFamily;

use super::inventory;
use crate::metrics::{Family, Metrics};
use crate::snapshot::{Shared, Snapshot};

pub(super) fn render(snapshot: &Snapshot, shared: &Shared, metrics: &Metrics) -> Vec<u8> {
    let mut extra = reloads(shared);
    extra.extend(servers(snapshot));
    extra.push(connections(snapshot, shared));
    extra.extend(plugins(snapshot));
    extra.push(certificates(snapshot, shared));
    extra.extend(tunnels(shared));
    extra.extend(etcd(shared));
    if let Some(log) = &snapshot.access_log {
        let mut dropped = Family::counter(
            "tollgate_accesslog_dropped_lines_total",
            "Access log lines dropped because the writer fell behind.",
        );
        dropped.add(&[], log.dropped() as f64);
        extra.push(dropped.done());
    }
    metrics.render(extra)
}

fn unix_secs(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn reloads(shared: &Shared) -> Vec<MetricFamily> {
    let status = shared.reload_status();
    let mut total = Family::counter(
        "traefik_config_reloads_total",
        "Configuration reloads, the first load included (applied or refused).",
    );
    total.add(&[], (status.applied + status.refused) as f64);
    let mut failed = Family::counter(
        "traefik_config_reloads_failure_total",
        "Configuration reloads refused.",
    );
    failed.add(&[], status.refused as f64);
    let mut success = Family::gauge(
        "traefik_config_last_reload_success",
        "When the last configuration was applied (Unix seconds).",
    );
    success.add(&[], status.last_success.map_or(0.0, unix_secs));
    let mut failure = Family::gauge(
        "traefik_config_last_reload_failure",
        "When the last configuration was refused (Unix seconds; 0: never).",
    );
    failure.add(
        &[],
        status
            .last_error
            .as_ref()
            .map_or(0.0, |(t, _)| unix_secs(*t)),
    );
    vec![total.done(), failed.done(), success.done(), failure.done()]
}

fn servers(snapshot: &Snapshot) -> Vec<MetricFamily> {
    let mut up = Family::gauge(
        "traefik_backend_server_up",
        "Whether a backend's server is up (1) or down (0), as health checks see it.",
    );
    let mut idle = Family::gauge(
        "tollgate_backend_server_idle_connections",
        "Keep-alive connections to a server waiting in the pool.",
    );
    for (name, backend) in inventory::backends(snapshot) {
        for s in backend.balancer.servers() {
            let labels = [("backend", name), ("url", s.url.as_str())];
            up.add(&labels, if s.health.is_up() { 1.0 } else { 0.0 });
            idle.add(&labels, s.pool.idle_count() as f64);
        }
    }
    vec![up.done(), idle.done()]
}

fn connections(snapshot: &Snapshot, shared: &Shared) -> MetricFamily {
    let mut open = Family::gauge(
        "tollgate_entrypoint_open_connections",
        "Client connections open on an entry point.",
    );
    for entry in snapshot.entrypoints.iter().flatten() {
        let slot = shared.slot(&entry.name);
        open.add(
            &[("entrypoint", entry.name.as_str())],
            f64::from(shared.admission(slot).open()),
        );
    }
    open.done()
}

fn plugins(snapshot: &Snapshot) -> Vec<MetricFamily> {
    let mut calls = Family::histogram(
        "tollgate_plugin_call_duration_seconds",
        "How long a plugin's handle_request or handle_response call took.",
    );
    let mut failures = Family::counter(
        "tollgate_plugin_failures_total",
        "Requests a plugin failed, by kind: trap, deadline, memory, other.",
    );
    let mut started = Family::counter(
        "tollgate_plugin_instances_started_total",
        "Plugin instances started (cold starts).",
    );
    for (name, plugin) in inventory::plugins(snapshot) {
        let (request, response) = plugin.call_durations();
        calls.add_histogram(&[("plugin", name), ("phase", "request")], request);
        calls.add_histogram(&[("plugin", name), ("phase", "response")], response);
        for (kind, n) in plugin.failures_by_kind() {
            failures.add(&[("plugin", name), ("kind", kind.label())], n as f64);
        }
        started.add(&[("plugin", name)], plugin.instances_started() as f64);
    }
    vec![calls.done(), failures.done(), started.done()]
}

fn certificates(snapshot: &Snapshot, shared: &Shared) -> MetricFamily {
    let mut expiry = Family::gauge(
        "tollgate_tls_certificate_not_after",
        "When a domain's certificate expires (Unix seconds).",
    );
    // A domain served from several entry points appears once.
    let mut by_domain: BTreeMap<String, i64> = BTreeMap::new();
    for cert in inventory::certificates(snapshot, shared) {
        for name in &cert.info.names {
            by_domain.entry(name.clone()).or_insert(cert.info.not_after);
        }
    }
    for (domain, not_after) in &by_domain {
        expiry.add(&[("domain", domain.as_str())], *not_after as f64);
    }
    expiry.done()
}

/// The `[etcd]` provider (none without one): whether etcd answers, and
/// how many keys the running config was read from.
fn etcd(shared: &Shared) -> Vec<MetricFamily> {
    let Some(status) = shared.etcd.get() else {
        return Vec::new();
    };
    let mut up = Family::gauge(
        "tollgate_etcd_connected",
        "Whether etcd answers (1) or this instance serves its last configuration without it (0).",
    );
    up.add(&[], if status.connected { 1.0 } else { 0.0 });
    let mut keys = Family::gauge(
        "tollgate_etcd_keys",
        "Keys under the prefix at the last read of etcd.",
    );
    keys.add(&[], status.keys as f64);
    let mut read = Family::gauge(
        "tollgate_etcd_last_read",
        "When the keys were last read from etcd (Unix seconds).",
    );
    read.add(&[], status.last_read);
    vec![up.done(), keys.done(), read.done()]
}

/// Devices' live tunnels (`tunnel`): gauges, summed over a device's agents,
/// since what a tunnel counted goes with it when it reconnects.
fn tunnels(shared: &Shared) -> Vec<MetricFamily> {
    let mut connected = Family::gauge(
        "tollgate_tunnels_connected",
        "Live tunnels of each device (its connected agents).",
    );
    let mut streams = Family::gauge(
        "tollgate_tunnel_streams",
        "Streams opened through a device's live tunnels, and now open (state).",
    );
    let mut bytes = Family::gauge(
        "tollgate_tunnel_bytes",
        "Bytes carried by a device's live tunnels, by direction.",
    );
    let mut by_device: BTreeMap<String, [u64; 5]> = BTreeMap::new();
    for t in shared.tunnels.status() {
        let e = by_device.entry(t.device).or_default();
        e[0] += 1;
        e[1] += t.streams;
        e[2] += t.open_streams;
        e[3] += t.bytes_to_device;
        e[4] += t.bytes_from_device;
    }
    for (device, [n, total, open, to, from]) in &by_device {
        let d = device.as_str();
        connected.add(&[("device", d)], *n as f64);
        streams.add(&[("device", d), ("state", "opened")], *total as f64);
        streams.add(&[("device", d), ("state", "open")], *open as f64);
        bytes.add(&[("device", d), ("direction", "to_device")], *to as f64);
        bytes.add(&[("device", d), ("direction", "from_device")], *from as f64);
    }
    vec![connected.done(), streams.done(), bytes.done()]
}
