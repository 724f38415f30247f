//! `[accessLog]` and 1.7's flat `accessLogsFile`: where and how the access
//! log is written, which requests it keeps and which JSON fields.

use std::collections::BTreeMap;

use crate::config::model::{AccessLog, AccessLogFields, FieldMode, LogFormat};
use crate::config::tree::Node;

use super::values::{duration, optional_path};

pub(super) fn read_access_log(root: &Node<'_>) -> Option<AccessLog> {
    let flat = root.get("accessLogsFile").and_then(|n| optional_path(&n));
    let Some(section) = root.section("accessLog") else {
        return flat.map(|file_path| AccessLog {
            file_path: Some(file_path),
            format: LogFormat::Common,
            status_codes: Vec::new(),
            retry_attempts: false,
            min_duration: None,
            fields: AccessLogFields::default(),
        });
    };
    let file_path = section
        .get("filePath")
        .and_then(|n| optional_path(&n))
        .or(flat);
    let format = match section.get("format") {
        None => LogFormat::Common,
        Some(n) => match n.str().map(str::to_ascii_lowercase).as_deref() {
            Some("json") => LogFormat::Json,
            Some("common") | Some("") => LogFormat::Common,
            Some(other) => {
                n.error(format!(
                    "unknown log format \"{other}\": use \"common\" or \"json\""
                ));
                LogFormat::Common
            }
            None => LogFormat::Common,
        },
    };
    let filters = section.section("filters");
    let status_codes = filters
        .as_ref()
        .and_then(|f| f.get("statusCodes"))
        .and_then(|n| n.str_list_located())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(text, location)| match status_range(&text) {
            Ok(range) => Some(range),
            Err(why) => {
                section.tree().error(location, why);
                None
            }
        })
        .collect();
    let retry_attempts = filters
        .as_ref()
        .and_then(|f| f.get("retryAttempts"))
        .and_then(|n| n.bool())
        .unwrap_or(false);
    let min_duration = filters
        .as_ref()
        .and_then(|f| f.get("minDuration"))
        .and_then(|n| duration(&n))
        .filter(|d| !d.is_zero());
    let fields = section
        .section("fields")
        .map(|n| read_fields(&n))
        .unwrap_or_default();
    Some(AccessLog {
        file_path,
        format,
        status_codes,
        retry_attempts,
        min_duration,
        fields,
    })
}

/// `"200"` or `"300-302"`.
fn status_range(text: &str) -> Result<(u16, u16), String> {
    let code = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|c| (100..=599).contains(c))
            .ok_or_else(|| {
                format!("\"{text}\" is not a status code or a range such as \"300-302\"")
            })
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (code(a)?, code(b)?);
            if a > b {
                return Err(format!("\"{text}\": the range is reversed"));
            }
            Ok((a, b))
        }
        None => code(text).map(|c| (c, c)),
    }
}

fn read_fields(node: &Node<'_>) -> AccessLogFields {
    let mut fields = AccessLogFields::default();
    if let Some(mode) = node.get("defaultMode").and_then(|n| mode(&n, false)) {
        fields.default_mode = mode;
    }
    fields.names = modes(node.section("names"), false, false);
    if let Some(headers) = node.section("headers") {
        if let Some(mode) = headers.get("defaultMode").and_then(|n| mode(&n, true)) {
            fields.headers_default = mode;
        }
        fields.header_names = modes(headers.section("names"), true, true);
    }
    fields
}

fn modes(section: Option<Node<'_>>, redact: bool, lower: bool) -> BTreeMap<String, FieldMode> {
    let Some(section) = section else {
        return BTreeMap::new();
    };
    section
        .children()
        .iter()
        .filter_map(|n| {
            let name = n.name().to_owned();
            let name = if lower {
                name.to_ascii_lowercase()
            } else {
                name
            };
            Some((name, mode(n, redact)?))
        })
        .collect()
}

fn mode(node: &Node<'_>, redact: bool) -> Option<FieldMode> {
    match node.str()?.to_ascii_lowercase().as_str() {
        "keep" => Some(FieldMode::Keep),
        "drop" => Some(FieldMode::Drop),
        "redact" if redact => Some(FieldMode::Redact),
        other => {
            let choices = if redact {
                "\"keep\", \"drop\" or \"redact\""
            } else {
                "\"keep\" or \"drop\""
            };
            node.error(format!("\"{other}\" is not a mode: use {choices}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::load::tests::{errors, loaded, MINIMAL};
    use crate::config::model::{FieldMode, LogFormat};

    #[test]
    fn every_key_is_read() {
        let config = loaded(&format!(
            "{MINIMAL}
[accessLog]
filePath = \"log/access.log\"
format = \"json\"
  [accessLog.filters]
  statusCodes = [\"200\", \"300-302\"]
  retryAttempts = true
  minDuration = \"10ms\"
  [accessLog.fields]
  defaultMode = \"keep\"
    [accessLog.fields.names]
    ClientUsername = \"drop\"
    [accessLog.fields.headers]
    defaultMode = \"keep\"
      [accessLog.fields.headers.names]
      Authorization = \"redact\"
      Cookie = \"drop\"
"
        ));
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        let log = config.access_log.expect("access log");
        assert_eq!(log.file_path.unwrap().to_str(), Some("log/access.log"));
        assert_eq!(log.format, LogFormat::Json);
        assert_eq!(log.status_codes, [(200, 200), (300, 302)]);
        assert!(log.retry_attempts);
        assert_eq!(log.min_duration, Some(Duration::from_millis(10)));
        assert_eq!(log.fields.names["ClientUsername"], FieldMode::Drop);
        assert_eq!(log.fields.headers_default, FieldMode::Keep);
        assert_eq!(log.fields.header_names["authorization"], FieldMode::Redact);
        assert_eq!(log.fields.header_names["cookie"], FieldMode::Drop);
    }

    #[test]
    fn the_seed_section_and_the_flat_key_work() {
        let config = loaded(&format!(
            "{MINIMAL}[accessLog]\nfilePath = \"log/log.txt\"\n"
        ));
        let log = config.access_log.unwrap();
        assert_eq!(log.format, LogFormat::Common);
        assert!(log.status_codes.is_empty());
        let config = loaded(&format!("accessLogsFile = \"a.log\"\n{MINIMAL}"));
        assert_eq!(
            config.access_log.unwrap().file_path.unwrap().to_str(),
            Some("a.log")
        );
        assert!(loaded(MINIMAL).access_log.is_none());
        let config = loaded(&format!("{MINIMAL}[accessLog]\n"));
        assert!(config.access_log.unwrap().file_path.is_none(), "stdout");
    }

    #[test]
    fn bad_values_are_errors_at_their_key() {
        let errs = errors(&format!(
            "{MINIMAL}[accessLog]\nformat = \"xml\"\n[accessLog.filters]\nstatusCodes = [\"200-100\", \"abc\"]\n[accessLog.fields]\ndefaultMode = \"redact\"\n"
        ));
        assert_eq!(errs.len(), 4, "{errs:?}");
    }
}
