//! The access log's two line formats, as Traefik 1.7 writes them.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use http::Version;
use serde_json::{Map, Value};

use super::entry::Entry;
use crate::config::model::{AccessLogFields, FieldMode};

/// Traefik's common log format: Apache's combined format plus the request
/// count, frontend name, backend URL and duration:
///
/// ```text
/// 10.0.0.7 - - [06/Dec/2026:10:50:53 +0000] "GET /tree HTTP/1.1" 200 1543 "-" "curl/8.5.0" 12 "jupyter" "http://127.0.0.1:8888" 3ms
/// ```
pub fn common(e: &Entry) -> String {
    let mut line = String::with_capacity(256);
    let quoted = |v: Option<&str>| match v {
        Some(v) if !v.is_empty() => format!("\"{}\"", escape(v)),
        _ => "\"-\"".to_owned(),
    };
    let header =
        |h: &Option<http::HeaderValue>| h.as_ref().and_then(|v| v.to_str().ok()).map(str::to_owned);
    let _ = write!(
        line,
        "{} - {} [{}] \"{} {} {}\" {} {} {} {} {} {} {} {}ms",
        e.client.ip(),
        e.user.as_deref().unwrap_or("-"),
        clf_time(e.seen.start),
        e.seen.method,
        escape(&path(e)),
        protocol(e.seen.version),
        e.status,
        e.size,
        quoted(header(&e.seen.referer).as_deref()),
        quoted(header(&e.seen.user_agent).as_deref()),
        e.count,
        quoted(e.frontend.as_deref()),
        quoted(e.backend_url.as_deref()),
        e.duration.as_millis(),
    );
    line
}

/// JSON with Traefik's field names, less those `[fields]` drops; request
/// headers as `request_<Name>` when kept or redacted.
pub fn json(e: &Entry, fields: &AccessLogFields) -> String {
    let mut m = Map::new();
    let mut put = |name: &str, value: Value| {
        let mode = fields
            .names
            .get(name)
            .copied()
            .unwrap_or(fields.default_mode);
        if mode != FieldMode::Drop {
            m.insert(name.to_owned(), value);
        }
    };
    let host = e
        .seen
        .host
        .as_ref()
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| e.seen.uri.authority().map(|a| a.to_string()));
    put("ClientAddr", Value::from(e.client.to_string()));
    put("ClientHost", Value::from(e.client.ip().to_string()));
    put("ClientPort", Value::from(e.client.port().to_string()));
    put(
        "ClientUsername",
        Value::from(e.user.clone().unwrap_or_else(|| "-".into())),
    );
    put("DownstreamStatus", Value::from(e.status));
    put("DownstreamContentSize", Value::from(e.size));
    put("Duration", Value::from(e.duration.as_nanos() as u64));
    put(
        "FrontendName",
        Value::from(e.frontend.clone().unwrap_or_default()),
    );
    put(
        "BackendName",
        Value::from(e.backend.clone().unwrap_or_default()),
    );
    put(
        "BackendURL",
        Value::from(e.backend_url.clone().unwrap_or_default()),
    );
    put("RequestAddr", Value::from(host.clone().unwrap_or_default()));
    put(
        "RequestHost",
        Value::from(host.map(|h| strip_port(&h)).unwrap_or_default()),
    );
    put("RequestMethod", Value::from(e.seen.method.as_str()));
    put("RequestPath", Value::from(path(e)));
    put("RequestProtocol", Value::from(protocol(e.seen.version)));
    put("RequestCount", Value::from(e.count));
    put("RetryAttempts", Value::from(e.retries));
    put("StartUTC", Value::from(rfc3339(e.seen.start)));
    put("level", Value::from("info"));
    put("msg", Value::from(""));
    put("time", Value::from(rfc3339(SystemTime::now())));
    if let Some(headers) = &e.seen.headers {
        for (name, value) in headers {
            let mode = fields
                .header_names
                .get(name.as_str())
                .copied()
                .unwrap_or(fields.headers_default);
            let value = match mode {
                FieldMode::Drop => continue,
                FieldMode::Redact => "REDACTED".to_owned(),
                FieldMode::Keep => String::from_utf8_lossy(value.as_bytes()).into_owned(),
            };
            m.insert(
                format!("request_{}", canonical(name.as_str())),
                Value::from(value),
            );
        }
    }
    Value::Object(m).to_string()
}

fn path(e: &Entry) -> String {
    e.seen
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned())
}

fn protocol(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

fn strip_port(host: &str) -> String {
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') => {
            h.trim_start_matches('[').trim_end_matches(']').to_owned()
        }
        _ => host.to_owned(),
    }
}

/// `user-agent` → `User-Agent`, as Go writes header names.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A client's bytes in a quoted field: quotes and controls escaped, so a
/// hostile path or User-Agent cannot forge a line or a field.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn parts(t: SystemTime) -> (i64, u32, u32, u64, u64, u64, u32) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, mo, d) = civil((secs / 86_400) as i64);
    let rem = secs % 86_400;
    (
        y,
        mo,
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_nanos(),
    )
}

/// `06/Dec/2026:10:50:53 +0000` (UTC).
fn clf_time(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, _) = parts(t);
    format!(
        "{d:02}/{}/{y}:{h:02}:{mi:02}:{s:02} +0000",
        MONTHS[mo as usize - 1]
    )
}

/// `2026-12-06T10:50:53.123456789Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, ns) = parts(t);
    format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ns:09}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_calendar_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(1_796_554_253); // 2026-12-06T10:50:53Z
        assert_eq!(clf_time(t), "06/Dec/2026:10:50:53 +0000");
        assert_eq!(rfc3339(t), "2026-12-06T10:50:53.000000000Z");
        assert_eq!(
            clf_time(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "29/Feb/2000:00:00:00 +0000"
        );
    }

    #[test]
    fn hostile_bytes_cannot_forge_a_field() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\x0ad");
        assert_eq!(canonical("user-agent"), "User-Agent");
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("[::1]:80"), "::1");
    }
}
