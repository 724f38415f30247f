//! The host names a frontend's rules name (for ACME `onHostRule`).

use super::{rule, template};

/// The host names of a frontend's `Host` matchers, lower-case (for ACME
/// `onHostRule`, as Traefik 1.7's `ParseDomains`). Rules that do not parse
/// contribute nothing: `Router::compile` reports them.
pub fn rule_hosts(rules: &[String]) -> Vec<String> {
    let mut hosts = Vec::new();
    for items in rules.iter().filter_map(|r| rule::parse(r).ok()) {
        for item in items.iter().filter(|i| i.matcher == rule::Matcher::Host) {
            for host in rule::split_list(item.value, b',', &[]) {
                let host = template::canonical_host(host);
                if !host.is_empty() && !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
        }
    }
    hosts
}
