//! Name resolution for templated backends: the system's resolver
//! (getaddrinfo: `/etc/hosts`, then `/etc/resolv.conf`), or the name
//! servers a backend lists in `resolvers` (a device network's own DNS,
//! often not the one the server itself uses).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, NameServerConfigGroup, ResolveHosts, ResolverConfig,
    ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::TokioResolver;

/// Answers cached at once per backend (each for its record's TTL).
const CACHE_SIZE: usize = 1024;

pub enum Resolver {
    System,
    Servers(Box<TokioResolver>),
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resolver::System => f.write_str("System"),
            Resolver::Servers(_) => f.write_str("Servers"),
        }
    }
}

impl Resolver {
    /// The system's resolver when `servers` is empty.
    pub fn new(servers: &[SocketAddr]) -> Resolver {
        if servers.is_empty() {
            return Resolver::System;
        }
        let mut group = NameServerConfigGroup::new();
        for addr in servers {
            // UDP first, TCP for truncated answers.
            group.push(NameServerConfig::new(*addr, Protocol::Udp));
            group.push(NameServerConfig::new(*addr, Protocol::Tcp));
        }
        let config = ResolverConfig::from_parts(None, Vec::new(), group);
        let mut opts = ResolverOpts::default();
        opts.timeout = Duration::from_secs(2);
        opts.attempts = 2;
        opts.cache_size = CACHE_SIZE;
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        // Names are the device network's: its name servers decide alone.
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ndots = 0;
        let resolver =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
                .with_options(opts)
                .build();
        Resolver::Servers(Box::new(resolver))
    }

    pub async fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        match self {
            Resolver::System => Ok(tokio::net::lookup_host((host, port)).await?.collect()),
            Resolver::Servers(resolver) => {
                // Fully qualified: never tried below a search domain.
                let fqdn = format!("{}.", host.trim_end_matches('.'));
                let found = resolver
                    .lookup_ip(fqdn)
                    .await
                    .map_err(|e| io::Error::new(io::ErrorKind::NotFound, format!("{host}: {e}")))?;
                Ok(found.iter().map(|ip| SocketAddr::new(ip, port)).collect())
            }
        }
    }
}
