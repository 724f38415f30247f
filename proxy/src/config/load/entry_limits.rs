//! `[entryPoints.NAME.limits]` (tollgate), `[entryPoints.NAME.http2]` and
//! `[entryPoints.NAME.transport.respondingTimeouts]` (Traefik 2),
//! `[entryPoints.NAME.http] maxHeaderBytes` (Traefik 3): what one client
//! may hold on an entry point, and the entry point's own timeouts.

use crate::config::model::{EntryLimits, RespondingTimeouts};
use crate::config::tree::Node;

use super::globals::limit;
use super::values::{duration, positive_duration, u32_value};

pub(super) fn read_limits(node: &Node<'_>) -> EntryLimits {
    let defaults = EntryLimits::default();
    let mut limits = defaults;
    if let Some(section) = node.section("limits") {
        if let Some(d) = section
            .get("headerTimeout")
            .and_then(|n| positive_duration(&n))
        {
            limits.header_timeout = d;
        }
        limits.max_connections = section.get("maxConnections").and_then(|n| count(&n));
        limits.max_connections_per_ip = section.get("maxConnectionsPerIP").and_then(|n| count(&n));
        if let Some(rate) = section.get("minBodyRate") {
            limits.min_body_rate = u32_value(&rate).unwrap_or(defaults.min_body_rate);
        }
        limits.max_uri_bytes = section.get("maxURIBytes").and_then(|n| size(&n, 256));
        limits.max_headers = section.get("maxHeaders").and_then(|n| {
            let max = size(&n, 1)?;
            if max > MAX_HEADERS_CAP {
                n.error(format!("at most {MAX_HEADERS_CAP}"));
                return None;
            }
            Some(max)
        });
    }
    if let Some(section) = node.section("http") {
        // hyper reads no head into less than 8 KiB.
        limits.max_header_bytes = section.get("maxHeaderBytes").and_then(|n| size(&n, 8192));
    }
    if let Some(section) = node.section("http2") {
        if let Some(n) = section.get("maxConcurrentStreams") {
            match u32_value(&n) {
                Some(0) => n.error("must be more than 0"),
                Some(streams) => limits.max_concurrent_streams = streams,
                None => {}
            }
        }
    }
    limits
}

/// `[transport.respondingTimeouts]`: None when the entry point has none.
pub(super) fn read_entry_responding(node: &Node<'_>) -> Option<RespondingTimeouts> {
    let section = node.section("transport")?.section("respondingTimeouts")?;
    let defaults = RespondingTimeouts::default();
    Some(RespondingTimeouts {
        read: limit(&section, "readTimeout"),
        write: limit(&section, "writeTimeout"),
        idle: section
            .get("idleTimeout")
            .and_then(|n| duration(&n))
            .unwrap_or(defaults.idle),
    })
}

/// `maxHeaders` is bounded by the parser's room for header lines.
const MAX_HEADERS_CAP: usize = 100;

/// A size of at least `least`.
fn size(node: &Node<'_>, least: usize) -> Option<usize> {
    let n = u32_value(node)? as usize;
    if n < least {
        node.error(format!("must be at least {least}"));
        return None;
    }
    Some(n)
}

/// A limit where 0 means none.
fn count(node: &Node<'_>) -> Option<u32> {
    u32_value(node).filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::load::tests::{errors, loaded, MINIMAL};
    use crate::config::model::EntryLimits;

    #[test]
    fn limits_have_defaults_and_take_every_key() {
        let config = loaded(MINIMAL);
        let web = &config.entry_points["web"];
        assert_eq!(web.limits, EntryLimits::default());
        assert!(web.responding_timeouts.is_none());
        let config = loaded(&format!(
            "{MINIMAL}
[entryPoints.web.limits]
headerTimeout = \"5s\"
maxConnections = 1000
maxConnectionsPerIP = 0
minBodyRate = 0
maxURIBytes = 4096
maxHeaders = 50
[entryPoints.web.http]
maxHeaderBytes = 32768
[entryPoints.web.http2]
maxConcurrentStreams = 32
[entryPoints.web.transport.respondingTimeouts]
readTimeout = \"2s\"
idleTimeout = 30
"
        ));
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let web = &config.entry_points["web"];
        assert_eq!(
            web.limits,
            EntryLimits {
                header_timeout: Duration::from_secs(5),
                max_connections: Some(1000),
                max_connections_per_ip: None,
                min_body_rate: 0,
                max_concurrent_streams: 32,
                max_header_bytes: Some(32768),
                max_uri_bytes: Some(4096),
                max_headers: Some(50),
            }
        );
        let rt = web.responding_timeouts.as_ref().unwrap();
        assert_eq!(rt.read, Some(Duration::from_secs(2)));
        assert_eq!(rt.write, None);
        assert_eq!(rt.idle, Duration::from_secs(30));
    }

    #[test]
    fn bad_limits_are_errors_at_their_key() {
        let errs = errors(&format!(
            "{MINIMAL}[entryPoints.web.limits]\nmaxConnections = -1\nheaderTimeout = 0\nmaxHeaders = 500\n[entryPoints.web.http2]\nmaxConcurrentStreams = 0\n"
        ));
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs
            .iter()
            .any(|e| e.contains("maxHeaders") && e.contains("100")));
        assert!(errs
            .iter()
            .any(|e| e.contains("maxConnections") && e.contains("negative")));
        assert!(errs.iter().any(|e| e.contains("headerTimeout")));
        assert!(errs.iter().any(|e| e.contains("maxConcurrentStreams")));
    }
}
