//! A templated server (`http://{device}.cams.internal:8080`): its target is
//! chosen per request from the rule's variables, checked against the
//! backend's allow-list (`allow`), and kept, with its own connection pool,
//! in a bounded table: the least recently used target is dropped when
//! `maxTargets` are kept (its idle connections close with it; requests in
//! flight keep theirs).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use http::uri::Authority;

use super::allow::Fence;
use super::balancer::UpstreamServer;
use super::health_state::Health;
use super::registry::Upstreams;
use crate::config::model::Scheme;
use crate::router::Vars;

/// Longest substituted value: a DNS label is at most 63 bytes, a name 253.
const MAX_VALUE: usize = 253;

#[derive(Debug)]
pub struct TemplatedServer {
    name: String,
    scheme: Scheme,
    /// `{name}` or literal text, for the URL's authority.
    parts: Box<[Part]>,
    fence: Arc<Fence>,
    upstreams: Arc<Upstreams>,
    max_targets: usize,
    targets: RwLock<HashMap<Box<str>, Entry>>,
    /// Ticks once per lookup: an entry's `used` is the tick it was last used.
    clock: AtomicU64,
}

#[derive(Debug)]
enum Part {
    Literal(Box<str>),
    Var(Box<str>),
}

#[derive(Debug)]
struct Entry {
    server: Arc<UpstreamServer>,
    used: AtomicU64,
}

/// Why a request gets no target (answered 403, and logged).
#[derive(Debug, PartialEq, Eq)]
pub struct NotAllowed(pub String);

impl TemplatedServer {
    /// `authority` is the URL's authority as written (`{device}.cams:8080`).
    pub fn new(
        name: String,
        scheme: Scheme,
        authority: &str,
        fence: Arc<Fence>,
        upstreams: Arc<Upstreams>,
        max_targets: usize,
    ) -> TemplatedServer {
        TemplatedServer {
            name,
            scheme,
            parts: parse(authority).into(),
            fence,
            upstreams,
            max_targets: max_targets.max(1),
            targets: RwLock::new(HashMap::new()),
            clock: AtomicU64::new(0),
        }
    }

    /// The server for these variables: found in the table, or checked
    /// and added to it.
    pub fn target(&self, vars: &Vars) -> Result<Arc<UpstreamServer>, NotAllowed> {
        let authority = self.substitute(vars)?;
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        {
            let targets = self.targets.read().unwrap_or_else(|p| p.into_inner());
            if let Some(entry) = targets.get(authority.as_str()) {
                entry.used.store(tick, Ordering::Relaxed);
                return Ok(entry.server.clone());
            }
        }
        let parsed = Authority::from_str(&authority)
            .map_err(|e| NotAllowed(format!("{authority:?} is not a host and port: {e}")))?;
        // `http` reads an out-of-range port as no port: check the text.
        let port_text = authority.rsplit_once(':').filter(|(_, p)| !p.contains(']'));
        if let Some((_, text)) = port_text {
            if text.parse::<u16>().is_err() || text == "0" || text.starts_with('+') {
                return Err(NotAllowed(format!("{authority:?}: bad port")));
            }
        }
        let host = parsed.host().trim_start_matches('[').trim_end_matches(']');
        if self.scheme == Scheme::Tunnel && !crate::config::model::valid_device_name(host) {
            return Err(NotAllowed(format!("{host:?} is not a device name")));
        }
        if !host.contains(':') && host.split('.').any(str::is_empty) {
            return Err(NotAllowed(format!("{host:?} is not a host name")));
        }
        if !self.fence.host_allowed(host) {
            return Err(NotAllowed(format!("{host} is not in allowedHosts")));
        }
        let pool = self
            .upstreams
            .fenced_pool(self.scheme, &parsed, self.fence.clone());
        let url = format!("{}://{authority}", self.scheme.name());
        let server = Arc::new(UpstreamServer::new(
            self.name.clone(),
            url,
            self.scheme,
            parsed,
            1,
            Arc::new(Health::default()),
            pool,
        ));
        let mut targets = self.targets.write().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = targets.get(authority.as_str()) {
            // Another request added it meanwhile.
            return Ok(entry.server.clone());
        }
        if targets.len() >= self.max_targets {
            evict_least_recent(&mut targets);
        }
        let entry = Entry {
            server: server.clone(),
            used: AtomicU64::new(tick),
        };
        targets.insert(authority.into(), entry);
        Ok(server)
    }

    /// Targets kept now.
    pub fn len(&self) -> usize {
        self.targets.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The authority with every variable replaced; a value may only be
    /// host-name or port text, so it cannot add a user, a path or a second
    /// host (`a@b`, `a/b`, `a:1`).
    fn substitute(&self, vars: &Vars) -> Result<String, NotAllowed> {
        let mut out = String::new();
        for part in self.parts.iter() {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(name) => {
                    let value = vars
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.as_str())
                        .ok_or_else(|| NotAllowed(format!("{{{name}}} has no value")))?;
                    let valid = !value.is_empty()
                        && value.len() <= MAX_VALUE
                        && value
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
                    if !valid {
                        return Err(NotAllowed(format!(
                            "{{{name}}} = {value:?} is not a host name or port"
                        )));
                    }
                    out.push_str(value);
                }
            }
        }
        out.make_ascii_lowercase();
        Ok(out)
    }
}

fn evict_least_recent(targets: &mut HashMap<Box<str>, Entry>) {
    let oldest = targets
        .iter()
        .min_by_key(|(_, e)| e.used.load(Ordering::Relaxed))
        .map(|(k, _)| k.clone());
    if let Some(key) = oldest {
        targets.remove(&key);
    }
}

/// `{device}.cams:8080` → `{device}`, `.cams:8080` (checked by the loader).
fn parse(authority: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = authority;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Literal(rest[..open].into()));
        }
        let after = &rest[open + 1..];
        let close = after.find('}').unwrap_or(after.len());
        parts.push(Part::Var(after[..close].into()));
        rest = after.get(close + 1..).unwrap_or("");
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest.into()));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{AllowList, BackendTls, ForwardingTimeouts};
    use crate::upstream::resolve::Resolver;

    fn server(authority: &str, networks: &[&str], hosts: &[&str], max: usize) -> TemplatedServer {
        let list = AllowList {
            networks: networks.iter().map(|s| s.to_string()).collect(),
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
        };
        let fence = Arc::new(Fence::new(&list, Resolver::System).unwrap());
        let upstreams =
            Upstreams::new(&ForwardingTimeouts::default(), &BackendTls::default()).unwrap();
        TemplatedServer::new(
            "s".into(),
            Scheme::Http,
            authority,
            fence,
            Arc::new(upstreams),
            max,
        )
    }

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs
            .iter()
            .map(|(n, v)| (Box::from(*n), v.to_string()))
            .collect()
    }

    #[test]
    fn targets_are_substituted_and_kept() {
        let t = server("{device}.cams.internal:8080", &[], &["*.cams.internal"], 10);
        let a = t.target(&vars(&[("device", "Zumi01")])).unwrap();
        assert_eq!(a.url, "http://zumi01.cams.internal:8080");
        assert_eq!(a.authority.as_str(), "zumi01.cams.internal:8080");
        let again = t.target(&vars(&[("device", "zumi01")])).unwrap();
        assert!(Arc::ptr_eq(&a, &again), "one server (and pool) per target");
        t.target(&vars(&[("device", "zumi02")])).unwrap();
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn values_that_would_change_the_authority_are_refused() {
        let t = server("{device}.cams.internal:8080", &[], &["*.cams.internal"], 10);
        for bad in [
            "",
            "a@evil.com",
            "a/b",
            "a:1",
            "a%2f",
            "a b",
            "évil",
            ".cams",
            "a..b",
            &"a".repeat(300),
        ] {
            assert!(t.target(&vars(&[("device", bad)])).is_err(), "{bad:?}");
        }
        let err = t.target(&vars(&[("other", "x")])).unwrap_err();
        assert!(err.0.contains("{device} has no value"), "{err:?}");
        assert!(t.is_empty());
    }

    #[test]
    fn hosts_outside_allowed_hosts_are_refused() {
        let t = server("{host}:8080", &[], &["*.cams.internal"], 10);
        assert!(t.target(&vars(&[("host", "cam1.cams.internal")])).is_ok());
        for bad in ["evil.com", "cams.internal", "127.0.0.1", "localhost"] {
            let err = t.target(&vars(&[("host", bad)])).unwrap_err();
            assert!(err.0.contains("allowedHosts"), "{bad}: {err:?}");
        }
    }

    #[test]
    fn ports_can_be_templated() {
        let t = server("127.0.1.1:{port}", &["127.0.1.0/24"], &[], 10);
        assert_eq!(
            t.target(&vars(&[("port", "8081")])).unwrap().url,
            "http://127.0.1.1:8081"
        );
        for bad in ["0", "65536", "http", "80.5"] {
            assert!(t.target(&vars(&[("port", bad)])).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_least_recently_used_target_goes_first() {
        let t = server("{d}.cams.internal", &[], &["*.cams.internal"], 3);
        let a = t.target(&vars(&[("d", "a")])).unwrap();
        t.target(&vars(&[("d", "b")])).unwrap();
        t.target(&vars(&[("d", "c")])).unwrap();
        // a is used again: b is now the least recent.
        t.target(&vars(&[("d", "a")])).unwrap();
        t.target(&vars(&[("d", "d")])).unwrap();
        assert_eq!(t.len(), 3);
        let a2 = t.target(&vars(&[("d", "a")])).unwrap();
        assert!(Arc::ptr_eq(&a, &a2), "a was kept");
        let targets = t.targets.read().unwrap();
        assert!(
            !targets.contains_key("b.cams.internal:80") && !targets.contains_key("b.cams.internal")
        );
        assert_eq!(targets.len(), 3);
    }
}
