//! `http.services`: `loadBalancer` (servers, `passHostHeader`,
//! `healthCheck`, `responseForwarding.flushInterval`) as 1.7 backends, and
//! `weighted` as one backend holding the servers of the services it names,
//! each server's weight multiplied by its service's.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::model::{Backend, LoadBalancerMethod, DEFAULT_MAX_TARGETS};
use crate::config::tree::{Node, Tree};

use super::super::backends::{read_health_check, read_server};
use super::super::context::{unknown_name, Globals};
use super::super::values::duration;
use super::provider_name;

/// A service as a backend, and whether the client's Host goes to it.
pub(super) struct Service {
    pub backend: Backend,
    pub pass_host_header: bool,
}

/// Every file's `http.services`, by name.
pub(super) fn read_all(files: &[&Tree]) -> BTreeMap<String, Service> {
    let globals = Globals {
        // Traefik 2/3 take a weight of 0 as it is.
        allow_min_weight_zero: true,
        health_interval: Duration::from_secs(30),
    };
    let mut services = BTreeMap::new();
    let mut weighted = Vec::new();
    for tree in files {
        let Some(section) = tree
            .root()
            .section("http")
            .and_then(|h| h.section("services"))
        else {
            continue;
        };
        for node in section.children() {
            if !node.expect_table() {
                continue;
            }
            let name = node.name().to_owned();
            let read = if let Some(lb) = node.section("loadBalancer") {
                read_load_balancer(&node, &lb, &globals)
            } else if let Some(w) = node.section("weighted") {
                weighted.push((name.clone(), w));
                continue;
            } else {
                for kind in ["mirroring", "failover"] {
                    if let Some(n) = node.get(kind) {
                        n.read_subtree();
                        n.error(format!("{kind} services are not supported yet"));
                    }
                }
                if node.children().is_empty() {
                    node.error("a service needs a loadBalancer (or weighted)");
                }
                None
            };
            insert(&mut services, tree, &node, read);
        }
    }
    for (name, node) in weighted {
        let read = read_weighted(&name, &node, &services);
        insert(&mut services, node.tree(), &node, read);
    }
    services
}

fn insert(
    services: &mut BTreeMap<String, Service>,
    tree: &Tree,
    node: &Node<'_>,
    read: Option<Service>,
) {
    let Some(service) = read else {
        return;
    };
    let name = service.backend.name.clone();
    match services.get(&name) {
        Some(first) => tree.error(
            node.key_location(),
            format!(
                "service \"{name}\" is also defined at {}",
                first.backend.location
            ),
        ),
        None => {
            services.insert(name, service);
        }
    }
}

fn read_load_balancer(service: &Node<'_>, lb: &Node<'_>, globals: &Globals) -> Option<Service> {
    let mut servers = Vec::new();
    match lb.get("servers") {
        Some(list) => {
            for (i, node) in list.table_list().iter().enumerate() {
                if let Some(mut server) = read_server(node, globals) {
                    if !server.vars.is_empty() {
                        node.error("templated server URLs are a tollgate extension of Traefik 1.7's [backends] (with allowedNetworks / allowedHosts)");
                        continue;
                    }
                    server.name = format!("server{i}");
                    servers.push(server);
                }
            }
        }
        None => lb.tree().error(
            lb.missing_location("servers"),
            "missing: a loadBalancer needs servers, e.g. servers: [{url: \"http://127.0.0.1:8888\"}]",
        ),
    }
    let pass_host_header = lb
        .get("passHostHeader")
        .and_then(|n| n.bool())
        .unwrap_or(true);
    let health_check = lb
        .section("healthCheck")
        .and_then(|n| read_health_check(&n, globals));
    let flush_interval = lb
        .section("responseForwarding")
        .and_then(|n| n.get("flushInterval"))
        .and_then(|n| duration(&n));
    for unsupported in ["sticky", "serversTransport", "strategy"] {
        if let Some(n) = lb.get(unsupported) {
            n.read_subtree();
            n.warn(format!("{unsupported}: not supported yet, ignored"));
        }
    }
    Some(Service {
        backend: Backend {
            name: service.name().to_owned(),
            servers,
            load_balancer: LoadBalancerMethod::Wrr,
            max_conn: None,
            flush_interval,
            health_check,
            max_request_body: None,
            allowed: None,
            resolvers: Vec::new(),
            max_targets: DEFAULT_MAX_TARGETS,
            location: service.key_location(),
        },
        pass_host_header,
    })
}

/// `weighted.services: [{name, weight}]` over services read already.
fn read_weighted(
    name: &str,
    node: &Node<'_>,
    services: &BTreeMap<String, Service>,
) -> Option<Service> {
    let list = node.get("services")?;
    let mut servers = Vec::new();
    let mut pass_host_header = true;
    for entry in list.table_list() {
        let weight = entry
            .get("weight")
            .and_then(|n| n.integer())
            .and_then(|w| u32::try_from(w).ok())
            .unwrap_or(1);
        let Some(target) = entry.get("name") else {
            entry.tree().error(
                entry.missing_location("name"),
                "missing: the service's name",
            );
            continue;
        };
        let Some(target_name) = target.str() else {
            continue;
        };
        let Some(target_name) = provider_name(&target, target_name) else {
            continue;
        };
        let Some(found) = services.get(target_name) else {
            let known = services.keys().cloned().collect();
            target.error(unknown_name("service", target_name, &known));
            continue;
        };
        pass_host_header &= found.pass_host_header;
        for server in &found.backend.servers {
            let mut server = server.clone();
            server.name = format!("{target_name}-{}", server.name);
            server.weight = server.weight.saturating_mul(weight);
            servers.push(server);
        }
    }
    if let Some(n) = node.get("sticky") {
        n.read_subtree();
        n.warn("sticky: not supported yet, ignored");
    }
    Some(Service {
        backend: Backend {
            name: name.to_owned(),
            servers,
            load_balancer: LoadBalancerMethod::Wrr,
            max_conn: None,
            flush_interval: None,
            health_check: None,
            max_request_body: None,
            allowed: None,
            resolvers: Vec::new(),
            max_targets: DEFAULT_MAX_TARGETS,
            location: node.key_location(),
        },
        pass_host_header,
    })
}
