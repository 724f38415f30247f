//! What the manager should obtain: one certificate per `[[acme.domains]]`
//! entry and, with `onHostRule`, per frontend's `Host:` names.

use crate::config::model::{AcmeConfig, EtcdProvider};
use crate::config::Config;

/// What the manager should obtain.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub config: AcmeConfig,
    /// One certificate per entry, the first name its main domain.
    pub certificates: Vec<Vec<String>>,
    /// Kept in etcd, shared with other instances (`cluster`).
    pub cluster: Option<Cluster>,
}

/// Where a clustered ACME keeps its state (its requests are `cluster`'s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub etcd: EtcdProvider,
    /// The storage key (`traefik/acme/account`).
    pub key: String,
}

impl Cluster {
    /// With `[etcd]`, a `storage` that is not a `.json` file is a key, as
    /// 1.7's KV storage.
    pub fn of(config: &Config) -> Option<Cluster> {
        let etcd = config.etcd.clone()?;
        let key = config.acme.as_ref()?.storage_key.trim_end_matches('/');
        (!key.is_empty() && !key.ends_with(".json")).then(|| Cluster {
            etcd,
            key: key.to_owned(),
        })
    }
}

impl Plan {
    pub fn from_config(config: &Config) -> Option<Plan> {
        let acme = config.acme.clone()?;
        let mut certificates: Vec<Vec<String>> = Vec::new();
        let mut push = |names: Vec<String>| {
            let names: Vec<String> = names
                .into_iter()
                .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
                .filter(|n| !n.is_empty())
                .collect();
            if !names.is_empty() && !certificates.contains(&names) {
                certificates.push(names);
            }
        };
        for d in &acme.domains {
            push(d.clone());
        }
        if acme.on_host_rule {
            let chosen = |f: &&crate::config::model::Frontend| {
                acme.host_rule_frontends
                    .as_ref()
                    .is_none_or(|only| only.contains(&f.name))
            };
            for f in config.frontends.values().filter(chosen) {
                let rules: Vec<String> = f.routes.iter().map(|r| r.rule.clone()).collect();
                let hosts = crate::router::rule_hosts(&rules, f.rule_syntax);
                // Names an explicit [[acme.domains]] already covers are left out.
                let hosts: Vec<String> = hosts
                    .into_iter()
                    .filter(|h| !acme.domains.iter().flatten().any(|d| d == h))
                    .collect();
                push(hosts);
            }
        }
        Some(Plan {
            config: acme,
            certificates,
            cluster: Cluster::of(config),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_has_domains_and_frontend_hosts_once() {
        let config = crate::config::load_str(
            std::path::Path::new("/t.toml"),
            r#"
[entryPoints.https]
address = ":443"
  [entryPoints.https.tls]
[acme]
storage = "a.json"
entryPoint = "https"
onHostRule = true
[acme.httpChallenge]
entryPoint = "https"
[[acme.domains]]
main = "a.test"
sans = ["b.test"]
[frontends.f1]
backend = "b"
  [frontends.f1.routes.r]
  rule = "Host:c.test,D.test;PathPrefix:/x"
[frontends.f2]
backend = "b"
  [frontends.f2.routes.r]
  rule = "Host:a.test"
[frontends.f3]
backend = "b"
  [frontends.f3.routes.r]
  rule = "PathPrefix:/"
[backends.b.servers.s]
url = "http://127.0.0.1:1"
"#,
        )
        .unwrap();
        let plan = Plan::from_config(&config).unwrap();
        assert_eq!(
            plan.certificates,
            [
                vec!["a.test".to_string(), "b.test".to_string()],
                vec!["c.test".to_string(), "d.test".to_string()],
            ]
        );
    }
}
