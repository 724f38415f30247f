//! Values written the same way in every section: durations (Go strings or
//! seconds, as Traefik 1.7 reads them), non-negative numbers, optional paths,
//! and IPv6 hosts with a zone. No section is read here.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::config::tree::Data;

use crate::config::tree::Node;

/// An empty path means "no file" (stderr), as in 1.7.
pub(super) fn optional_path(node: &Node<'_>) -> Option<PathBuf> {
    node.str().filter(|s| !s.is_empty()).map(PathBuf::from)
}

/// `fe80::1%eth0` → `fe80::1`: Go accepts zones, std's parser does not.
pub(super) fn host_without_zone(host: &str) -> &str {
    host.split_once('%').map_or(host, |(ip, _)| ip)
}

/// A count that fits in a u32: a negative or too large one is an error at
/// its key.
pub(super) fn u32_value(node: &Node<'_>) -> Option<u32> {
    let value = node.integer()?;
    match u32::try_from(value) {
        Ok(n) => Some(n),
        Err(_) if value < 0 => {
            node.error("must not be negative");
            None
        }
        Err(_) => {
            node.error("is too large");
            None
        }
    }
}

/// A limit where 0 means none (Traefik's way): None for 0, an error at
/// its key for a negative one.
pub(super) fn zero_is_none(node: &Node<'_>) -> Option<u64> {
    non_negative(node).filter(|v| *v > 0).map(|v| v as u64)
}

pub(super) fn non_negative(node: &Node<'_>) -> Option<i64> {
    let value = node.integer()?;
    if value < 0 {
        node.error(format!("{value} must not be negative"));
        return None;
    }
    Some(value)
}

/// A duration that must be more than zero (intervals, timeouts of checks).
pub(super) fn positive_duration(node: &Node<'_>) -> Option<Duration> {
    let d = duration(node)?;
    if d.is_zero() {
        node.error("must be more than 0");
        return None;
    }
    Some(d)
}

/// A duration as Traefik 1.7 reads it: a Go duration string (`"1m30s"`) or
/// a number of seconds (`30` or `"30"`).
pub(super) fn duration(node: &Node<'_>) -> Option<Duration> {
    let parsed = match node.raw_value().map(|v| &v.data) {
        Some(Data::String(s)) => {
            parse_duration(s).map_err(|why| format!("invalid duration \"{s}\": {why}"))
        }
        Some(Data::Integer(i)) => u64::try_from(*i)
            .map(Duration::from_secs)
            .map_err(|_| "a duration must not be negative".to_owned()),
        _ => Err(format!(
            "expected a duration such as \"10s\" or a number of seconds, found {}",
            node.type_description()
        )),
    };
    parsed.map_err(|why| node.error(why)).ok()
}

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Go's `time.ParseDuration` (`"300ms"`, `"1.5h"`, `"2h45m"`), plus plain
/// digits meaning seconds as in 1.7's `parse.Duration`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = text.parse::<u64>().map_err(|_| "too large".to_owned())?;
        return Ok(Duration::from_secs(seconds));
    }
    if text.starts_with('-') {
        return Err("must not be negative".to_owned());
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return Err("empty".to_owned());
    }
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let (component, after) = duration_component(rest)?;
        nanos = nanos.checked_add(component).ok_or("too large")?;
        rest = after;
    }
    let nanos = u64::try_from(nanos).map_err(|_| "too large".to_owned())?;
    Ok(Duration::from_nanos(nanos))
}

/// One `<number><unit>` of a Go duration, in nanoseconds, and what follows.
fn duration_component(text: &str) -> Result<(u128, &str), String> {
    let number_end = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, rest) = text.split_at(number_end);
    let unit_end = rest
        .find(|c: char| c.is_ascii_digit() || c == '.')
        .unwrap_or(rest.len());
    let (unit, rest) = rest.split_at(unit_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(format!("expected a number before \"{unit}\""));
    }
    if unit.is_empty() {
        return Err("missing unit after the number (use h, m, s, ms, us or ns)".to_owned());
    }
    let scale = unit_nanos(unit)
        .ok_or_else(|| format!("unknown unit \"{unit}\" (use h, m, s, ms, us or ns)"))?;
    let value = scaled(whole, fraction, scale).ok_or("too large")?;
    Ok((value, rest))
}

fn unit_nanos(unit: &str) -> Option<u128> {
    let nanos = match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SECOND,
        "m" => 60 * NANOS_PER_SECOND,
        "h" => 3_600 * NANOS_PER_SECOND,
        _ => return None,
    };
    Some(nanos)
}

/// `whole.fraction × scale`, truncated to whole nanoseconds like Go.
fn scaled(whole: &str, fraction: &str, scale: u128) -> Option<u128> {
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    // 18 digits are below a nanosecond even for hours, and keep
    // `fraction × scale` well inside u128.
    let digits = &fraction[..fraction.len().min(18)];
    let (numerator, divisor) = digits.bytes().fold((0u128, 1u128), |(n, d), b| {
        (n * 10 + u128::from(b - b'0'), d * 10)
    });
    whole
        .checked_mul(scale)?
        .checked_add(numerator * scale / divisor)
}

/// A name server's address: `10.0.0.53`, `10.0.0.53:5353`, `[fd00::53]:53`
/// or `fd00::53`; port 53 when none is given.
pub(super) fn name_server(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// A list of addresses, each through `parse`; each bad one is reported at
/// its own place.
pub(super) fn address_list(
    node: &Node<'_>,
    parse: impl Fn(&str) -> Result<SocketAddr, String>,
) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for (text, location) in node.str_list_located().unwrap_or_default() {
        match parse(&text) {
            Ok(addr) => out.push(addr),
            Err(why) => node.tree().error(location, why),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::tests::{errors, loaded, MINIMAL};

    #[test]
    fn durations() {
        let ok = [
            ("10ms", Duration::from_millis(10)),
            ("1.5s", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("1h30m", Duration::from_secs(5400)),
            ("+3s", Duration::from_secs(3)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("42", Duration::from_secs(42)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("2us", Duration::from_micros(2)),
            ("2µs", Duration::from_micros(2)),
            ("3ns", Duration::from_nanos(3)),
            ("1h0.5m1s", Duration::from_secs(3631)),
            ("0.000000001s", Duration::from_nanos(1)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        let bad = [
            ("", "empty"),
            ("-1s", "must not be negative"),
            ("10", ""),
            ("10x", "unknown unit \"x\" (use h, m, s, ms, us or ns)"),
            (
                "1.5",
                "missing unit after the number (use h, m, s, ms, us or ns)",
            ),
            ("s", "expected a number before \"s\""),
            ("1..2s", "expected a number before \"s\""),
            ("1 s", "unknown unit \" s\" (use h, m, s, ms, us or ns)"),
            ("99999999999999999999h", "too large"),
        ];
        for (text, want) in bad.into_iter().filter(|(t, _)| *t != "10") {
            assert_eq!(parse_duration(text), Err(want.to_owned()), "{text}");
        }
    }

    #[test]
    fn durations_in_the_file_accept_integers_as_seconds() {
        let config = loaded(&format!("[lifeCycle]\ngraceTimeOut = 3\n{MINIMAL}"));
        assert_eq!(config.grace_timeout, Duration::from_secs(3));
        let err = errors(&format!("[lifeCycle]\ngraceTimeOut = -3\n{MINIMAL}"));
        assert_eq!(
            err,
            ["t.toml:2:16: lifeCycle.graceTimeOut: a duration must not be negative"]
        );
    }
}
