//! Where a templated backend may connect (`allowedHosts`,
//! `allowedNetworks`), checked twice: the substituted host name before
//! anything else, and every address it resolves to right before it is
//! dialed. Checking the addresses that are dialed, not the name, is what
//! stops a name that resolves to 127.0.0.1 (or changes its answer between
//! two lookups) from reaching the server's own services (SSRF).

use std::io;
use std::net::{IpAddr, SocketAddr};

use super::resolve::Resolver;
use crate::config::model::AllowList;
use crate::trust::Cidr;

/// The allow-list of one templated backend, and the resolver for its names.
#[derive(Debug)]
pub struct Fence {
    networks: Vec<Cidr>,
    /// Lower-case; `*.x` matches any name ending in `.x`.
    hosts: Vec<String>,
    resolver: Resolver,
}

impl Fence {
    pub fn new(list: &AllowList, resolver: Resolver) -> Result<Fence, String> {
        let networks = list
            .networks
            .iter()
            .map(|n| Cidr::parse(n))
            .collect::<Result<_, _>>()?;
        Ok(Fence {
            networks,
            hosts: list.hosts.clone(),
            resolver,
        })
    }

    /// May a target be named `host` (lower-case)? With no `allowedHosts`,
    /// any name may: its addresses decide.
    pub fn host_allowed(&self, host: &str) -> bool {
        self.hosts.is_empty()
            || self
                .hosts
                .iter()
                .any(|pattern| match pattern.strip_prefix('*') {
                    Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
                    None => host == pattern,
                })
    }

    /// May an address be dialed? In `allowedNetworks` when it is given;
    /// otherwise any address but the server's own and link-local ones
    /// (loopback, unspecified, link-local such as cloud metadata at
    /// 169.254.169.254, multicast, broadcast), which only an explicit
    /// network admits.
    pub fn addr_allowed(&self, ip: IpAddr) -> bool {
        if !self.networks.is_empty() {
            return self.networks.iter().any(|n| n.contains(ip));
        }
        !is_special(ip)
    }

    /// The addresses of `host:port` that may be dialed, in resolver order;
    /// an error says why there are none.
    pub async fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refused> {
        let found = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => self
                .resolver
                .lookup(host, port)
                .await
                .map_err(Refused::Lookup)?,
        };
        let allowed: Vec<SocketAddr> = found
            .iter()
            .copied()
            .filter(|a| self.addr_allowed(a.ip()))
            .collect();
        if allowed.is_empty() {
            let list: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
            return Err(Refused::Outside(format!(
                "{host} resolves to {} (outside the allowed networks)",
                list.join(", ")
            )));
        }
        Ok(allowed)
    }
}

/// Why a templated target is not dialed.
#[derive(Debug)]
pub enum Refused {
    /// The name has no address (or the resolver failed).
    Lookup(io::Error),
    /// It has addresses, none of them allowed.
    Outside(String),
}

fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_unspecified()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_special(IpAddr::V4(v4)),
            None => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    // fe80::/10
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fence(networks: &[&str], hosts: &[&str]) -> Fence {
        let list = AllowList {
            networks: networks.iter().map(|s| s.to_string()).collect(),
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
        };
        Fence::new(&list, Resolver::System).unwrap()
    }

    #[test]
    fn host_patterns() {
        let f = fence(&[], &["*.cams.internal", "gate.internal"]);
        assert!(f.host_allowed("zumi01.cams.internal"));
        assert!(f.host_allowed("a.b.cams.internal"));
        assert!(f.host_allowed("gate.internal"));
        assert!(!f.host_allowed("cams.internal"));
        assert!(!f.host_allowed("evilcams.internal"));
        assert!(!f.host_allowed("x.cams.internal.evil.com"));
        assert!(!f.host_allowed("127.0.0.1"));
        assert!(fence(&["10.0.0.0/8"], &[]).host_allowed("anything"));
    }

    #[test]
    fn addresses_outside_the_networks_are_refused() {
        let f = fence(&["127.0.1.0/24", "fd00::/8"], &[]);
        for ok in ["127.0.1.7", "fd00::1", "::ffff:127.0.1.9"] {
            assert!(f.addr_allowed(ok.parse().unwrap()), "{ok}");
        }
        for bad in ["127.0.0.1", "10.0.0.1", "::1", "fe80::1"] {
            assert!(!f.addr_allowed(bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn without_networks_the_servers_own_addresses_are_refused() {
        let f = fence(&[], &["*.cams.internal"]);
        for bad in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!f.addr_allowed(bad.parse().unwrap()), "{bad}");
        }
        for ok in ["10.20.0.5", "192.168.1.20", "fd00::5", "203.0.113.9"] {
            assert!(f.addr_allowed(ok.parse().unwrap()), "{ok}");
        }
    }

    #[tokio::test]
    async fn ip_targets_are_checked_without_a_lookup() {
        let f = fence(&["127.0.1.0/24"], &[]);
        assert_eq!(
            f.addresses("127.0.1.5", 80).await.unwrap(),
            ["127.0.1.5:80".parse().unwrap()]
        );
        let err = f.addresses("127.0.0.1", 80).await.unwrap_err();
        assert!(matches!(err, Refused::Outside(why) if why.contains("127.0.0.1")));
        // localhost resolves (hosts file) to loopback only: refused.
        assert!(matches!(
            f.addresses("localhost", 80).await.unwrap_err(),
            Refused::Outside(_)
        ));
    }
}
