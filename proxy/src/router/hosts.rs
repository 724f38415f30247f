//! The host names a frontend's rules name (for ACME `onHostRule`, and for
//! Traefik 2/3 routers with a `certResolver`).

use super::expr::{self, Expr};
use super::types::RuleSyntax;
use super::{rule, template};

/// The host names of a frontend's `Host` matchers, lower-case (as Traefik
/// 1.7's `ParseDomains` and 2/3's domain extraction). A 2/3 rule gives the
/// hosts of its `Host` calls not under a `!`. Rules that do not parse
/// contribute nothing: `Router::compile` reports them.
pub fn rule_hosts(rules: &[String], syntax: RuleSyntax) -> Vec<String> {
    let mut hosts = Vec::new();
    let mut push = |host: &str| {
        let host = template::canonical_host(host.trim());
        if !host.is_empty() && !hosts.contains(&host) {
            hosts.push(host);
        }
    };
    match syntax {
        RuleSyntax::Traefik1 => {
            for items in rules.iter().filter_map(|r| rule::parse(r).ok()) {
                for item in items.iter().filter(|i| i.matcher == rule::Matcher::Host) {
                    rule::split_list(item.value, b',', &[])
                        .into_iter()
                        .for_each(&mut push);
                }
            }
        }
        RuleSyntax::Traefik3 => {
            for e in rules.iter().filter_map(|r| expr::parse(r).ok()) {
                expr_hosts(&e, &mut push);
            }
        }
    }
    hosts
}

fn expr_hosts(e: &Expr, push: &mut impl FnMut(&str)) {
    match e {
        Expr::All(list) | Expr::Any(list) => list.iter().for_each(|e| expr_hosts(e, push)),
        Expr::Not(_) => {}
        Expr::Call { name, args, .. } => {
            if name.eq_ignore_ascii_case("Host") || name.eq_ignore_ascii_case("HostHeader") {
                args.iter().for_each(|a| push(a));
            }
        }
    }
}
