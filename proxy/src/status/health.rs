//! `/health`, in Traefik 1.7's shape: uptime, request counts by status
//! code (since start, and in the last second), response times, and the
//! most recent error responses.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::access_log::rfc3339;
use crate::snapshot::Shared;

pub(super) fn health(shared: &Shared) -> Value {
    let s = shared.stats.snapshot();
    let now = SystemTime::now();
    let uptime = now.duration_since(s.started).unwrap_or_default();
    let count = s.last_second_total();
    let average = s.average_secs();
    let by_code = |counts: &[(u16, u64)]| -> Map<String, Value> {
        counts
            .iter()
            .map(|(code, n)| (code.to_string(), json!(n)))
            .collect()
    };
    json!({
        "pid": std::process::id(),
        "uptime": format!("{:.3}s", uptime.as_secs_f64()),
        "uptime_sec": uptime.as_secs_f64(),
        "time": rfc3339(now),
        "unixtime": now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "status_code_count": by_code(&s.last_second),
        "total_status_code_count": by_code(&s.total_by_code),
        "count": count,
        "total_count": s.total,
        "total_response_time": format!("{:.6}s", s.total_time.as_secs_f64()),
        "total_response_time_sec": s.total_time.as_secs_f64(),
        "average_response_time": format!("{:.6}s", average),
        "average_response_time_sec": average,
        "recent_errors": s.recent,
    })
}
