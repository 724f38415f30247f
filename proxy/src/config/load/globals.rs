//! Top-level settings: `allowMinWeightZero` and `[healthcheck]` (read first,
//! as they change how backends are read), `defaultEntryPoints`, logging
//! (`logLevel`, `debug`, `traefikLogsFile`, `[traefikLog]`), timeouts
//! (`[respondingTimeouts]`, `[forwardingTimeouts]`, `graceTimeOut`,
//! `[lifeCycle]`) and the TLS of connections to backends (`rootCAs`,
//! `insecureSkipVerify`).

use std::path::Path;
use std::time::Duration;

use crate::config::model::{
    BackendTls, ForwardingTimeouts, LogConfig, LogFormat, PemSource, RespondingTimeouts,
};
use crate::config::tree::Node;

use super::context::{check_entry_point_refs, Globals, Names};
use super::unsupported::{warn_unsupported, LIFE_CYCLE_UNSUPPORTED};
use super::values::{duration, optional_path, positive_duration, zero_is_none};

pub(super) fn read_globals(root: &Node<'_>) -> Globals {
    let allow_min_weight_zero = root
        .get("allowMinWeightZero")
        .and_then(|n| n.bool())
        .unwrap_or(false);
    let health_interval = root
        .section("healthcheck")
        .and_then(|n| n.get("interval"))
        .and_then(|n| positive_duration(&n))
        .unwrap_or(Duration::from_secs(30));
    Globals {
        allow_min_weight_zero,
        health_interval,
    }
}

pub(super) fn read_default_entry_points(root: &Node<'_>, names: &Names) -> Vec<String> {
    let Some(node) = root.get("defaultEntryPoints") else {
        return Vec::new();
    };
    let list = node.str_list_located().unwrap_or_default();
    check_entry_point_refs(root, &list, names);
    list.into_iter().map(|(name, _)| name).collect()
}

pub(super) fn read_log(root: &Node<'_>) -> LogConfig {
    let level = root.get("logLevel").and_then(|n| read_log_level(&n));
    let debug = root.get("debug").and_then(|n| n.bool()).unwrap_or(false);
    let flat_file = root.get("traefikLogsFile");
    let flat_path = flat_file.as_ref().and_then(optional_path);
    let section = root.section("traefikLog");
    let section_path = section
        .as_ref()
        .and_then(|s| s.get("filePath"))
        .and_then(|n| optional_path(&n));
    let format = section
        .as_ref()
        .and_then(|s| s.get("format"))
        .and_then(|n| read_log_format(&n))
        .unwrap_or_default();
    if let (Some(flat), Some(_)) = (&flat_file, &section_path) {
        flat.warn("ignored: [traefikLog] filePath is also set and takes precedence");
    }
    LogConfig {
        file_path: section_path.or(flat_path),
        format,
        // 1.7: `debug = true` is a shorthand for `logLevel = "DEBUG"`.
        level: if debug {
            Some("DEBUG".to_owned())
        } else {
            level
        },
    }
}

pub(super) fn read_log_level(node: &Node<'_>) -> Option<String> {
    let text = node.str()?;
    let level = text.to_ascii_uppercase();
    match level.as_str() {
        "DEBUG" | "INFO" | "WARN" | "ERROR" | "FATAL" | "PANIC" => Some(level),
        "WARNING" => Some("WARN".to_owned()),
        _ => {
            node.error(format!(
                "unknown log level \"{text}\": use DEBUG, INFO, WARN, ERROR, FATAL or PANIC"
            ));
            None
        }
    }
}

pub(super) fn read_log_format(node: &Node<'_>) -> Option<LogFormat> {
    let text = node.str()?;
    if text.eq_ignore_ascii_case("json") {
        Some(LogFormat::Json)
    } else if text.eq_ignore_ascii_case("common") || text.is_empty() {
        Some(LogFormat::Common)
    } else {
        node.error(format!(
            "unknown log format \"{text}\": use \"common\" or \"json\""
        ));
        None
    }
}

pub(super) fn read_responding_timeouts(root: &Node<'_>) -> RespondingTimeouts {
    let defaults = RespondingTimeouts::default();
    // 1.7's deprecated top-level `idleTimeout`, used when the section
    // does not set one.
    let flat_idle = root.get("idleTimeout").and_then(|n| duration(&n));
    let Some(section) = root.section("respondingTimeouts") else {
        return RespondingTimeouts {
            idle: flat_idle.unwrap_or(defaults.idle),
            ..defaults
        };
    };
    let idle = section.get("idleTimeout").and_then(|n| duration(&n));
    let write = limit(&section, "writeTimeout");
    RespondingTimeouts {
        read: limit(&section, "readTimeout"),
        write,
        idle: idle.or(flat_idle).unwrap_or(defaults.idle),
    }
}

pub(super) fn read_forwarding_timeouts(root: &Node<'_>) -> ForwardingTimeouts {
    let defaults = ForwardingTimeouts::default();
    // 1.7's top-level `maxIdleConnsPerHost`; 0 (Go: its default of 2) is
    // taken as the default here.
    let max_idle_per_host = root
        .get("maxIdleConnsPerHost")
        .and_then(|n| zero_is_none(&n))
        .map(|max| max as usize)
        .unwrap_or(defaults.max_idle_per_host);
    let Some(section) = root.section("forwardingTimeouts") else {
        return ForwardingTimeouts {
            max_idle_per_host,
            ..defaults
        };
    };
    ForwardingTimeouts {
        dial: section
            .get("dialTimeout")
            .and_then(|n| duration(&n))
            .unwrap_or(defaults.dial),
        response_header: limit(&section, "responseHeaderTimeout"),
        idle_conn: section
            .get("idleConnTimeout")
            .and_then(|n| positive_duration(&n))
            .unwrap_or(defaults.idle_conn),
        max_idle_per_host,
    }
}

/// A timeout where 0 (the 1.7 default) means "no limit".
pub(super) fn limit(section: &Node<'_>, key: &'static str) -> Option<Duration> {
    section
        .get(key)
        .and_then(|n| duration(&n))
        .filter(|d| !d.is_zero())
}

pub(super) fn read_grace_timeout(root: &Node<'_>) -> Duration {
    let flat = root.get("graceTimeOut");
    let flat_value = flat.as_ref().and_then(duration).filter(|d| !d.is_zero());
    let section = root.section("lifeCycle");
    if let Some(section) = &section {
        warn_unsupported(section, LIFE_CYCLE_UNSUPPORTED);
    }
    let nested = section.as_ref().and_then(|s| s.get("graceTimeOut"));
    let nested_value = nested.as_ref().and_then(duration);
    // 1.7 prefers the deprecated top-level value when it is set, for
    // backwards compatibility; say so when both are written.
    if let (Some(_), Some(nested)) = (flat_value, &nested) {
        nested.warn("ignored: the top-level graceTimeOut is also set and Traefik 1.7 prefers it");
    }
    flat_value
        .or(nested_value)
        .unwrap_or(Duration::from_secs(10))
}

/// Top-level `rootCAs` and `insecureSkipVerify`. Relative CA paths are
/// relative to the config file's folder, so the file works from any cwd.
pub(super) fn read_backend_tls(root: &Node<'_>, path: &Path) -> BackendTls {
    let base = path.parent().unwrap_or(Path::new(""));
    let root_cas = root
        .get("rootCAs")
        .and_then(|n| n.str_list())
        .unwrap_or_default()
        .iter()
        .map(|value| PemSource::from_config(value, base))
        .collect();
    let insecure_skip_verify = root
        .get("insecureSkipVerify")
        .and_then(|n| n.bool())
        .unwrap_or(false);
    BackendTls {
        root_cas,
        insecure_skip_verify,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::load::load_str;
    use crate::config::load::tests::{loaded, MINIMAL};

    #[test]
    fn backend_tls_paths_are_relative_to_the_config_file() {
        let text = format!(
            "rootCAs = [\"ca.pem\", \"/etc/ca.pem\"]\ninsecureSkipVerify = true\n{MINIMAL}"
        );
        let config = load_str(Path::new("conf/t.toml"), &text).expect("loads");
        assert_eq!(
            config.backend_tls.root_cas,
            [
                PemSource::File(PathBuf::from("conf/ca.pem")),
                PemSource::File(PathBuf::from("/etc/ca.pem"))
            ]
        );
        assert!(config.backend_tls.insecure_skip_verify);
    }

    #[test]
    fn globals_timeouts_and_logging() {
        let text = format!(
            "{}{MINIMAL}",
            r#"
debug = true
logLevel = "error"
checkNewVersion = true
sendAnonymousUsage = false
traefikLogsFile = "old.log"
graceTimeOut = 7
[traefikLog]
format = "JSON"
[respondingTimeouts]
readTimeout = "5s"
writeTimeout = 0
idleTimeout = "1m30s"
[forwardingTimeouts]
dialTimeout = "2s"
responseHeaderTimeout = "250ms"
[file]
watch = false
filename = "t.toml"
"#
        );
        let config = loaded(&text);
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert_eq!(config.log.level.as_deref(), Some("DEBUG"));
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.log.file_path, Some(PathBuf::from("old.log")));
        assert_eq!(config.grace_timeout, Duration::from_secs(7));
        let rt = &config.responding_timeouts;
        assert_eq!(
            (rt.read, rt.write, rt.idle),
            (Some(Duration::from_secs(5)), None, Duration::from_secs(90))
        );
        let ft = &config.forwarding_timeouts;
        assert_eq!(
            (ft.dial, ft.response_header),
            (Duration::from_secs(2), Some(Duration::from_millis(250)))
        );
        let file = config.file.expect("file");
        assert!(!file.watch);
        assert_eq!(file.filename, Some(PathBuf::from("t.toml")));
    }
}
