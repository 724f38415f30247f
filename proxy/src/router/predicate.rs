//! The matchers of Traefik 2 and 3 rules, compiled into the router's
//! conditions. Both versions' forms are taken, since which one a file
//! uses is plain from the call:
//!
//! | matcher | Traefik 3 | Traefik 2 also |
//! |---|---|---|
//! | `Host` | one name | several names; `HostHeader` |
//! | `HostRegexp` | a regex (unanchored, any case) | `{name:re}` templates, several |
//! | `Path`, `PathPrefix` | one path | several; `{name:re}` templates |
//! | `PathRegexp` | a regex (unanchored) | |
//! | `Method` | one method | several |
//! | `Header`, `HeaderRegexp` | name, value | `Headers`, `HeadersRegexp` |
//! | `Query` | name[, value] | `key=value` pairs |
//! | `QueryRegexp` | name, regex | |
//! | `ClientIP` | an IP or CIDR | several |
//!
//! Matcher names are accepted in any case, as in 1.7 rules. Values are
//! matched as the 1.7 matchers of the same name match them (see
//! `matcher`): hosts without port or trailing dot, the normalized path, a
//! query key's first value; `ClientIP` looks at the connection's peer, not
//! at `X-Forwarded-For`, as Traefik 3 does.

use http::Method;
use regex::Regex;

use crate::trust::Cidr;

use super::expr::Expr;
use super::matcher::{header_name, Condition};
use super::template::{self, canonical_host, Mode, Pattern};

/// A rule's conditions, all of which must hold: a top-level `&&` becomes
/// the list itself, so that the index files the frontend under its hosts
/// and paths just as it does a 1.7 frontend.
pub(super) fn compile(expr: &Expr, out: &mut Vec<Condition>) -> Result<(), String> {
    match expr {
        Expr::All(all) => all.iter().try_for_each(|e| compile(e, out)),
        other => {
            out.push(condition(other)?);
            Ok(())
        }
    }
}

fn condition(expr: &Expr) -> Result<Condition, String> {
    Ok(match expr {
        Expr::All(all) => {
            let mut list = Vec::with_capacity(all.len());
            compile(expr, &mut list)?;
            debug_assert_eq!(list.len(), all.len());
            list.sort_by_key(Condition::cost);
            Condition::All(list.into())
        }
        Expr::Any(any) => {
            let alternatives = any.iter().map(condition).collect::<Result<Vec<_>, _>>()?;
            merge_alternatives(alternatives)
        }
        Expr::Not(inner) => Condition::Not(Box::new(condition(inner)?)),
        Expr::Call { name, args, at } => {
            call(name, args).map_err(|why| format!("at character {at}: {why}"))?
        }
    })
}

/// `Host(`a`) || Host(`b`)` is one host condition with two alternatives
/// (and so indexable); the same for paths. Anything else stays an `Any`.
fn merge_alternatives(alternatives: Vec<Condition>) -> Condition {
    let hosts = alternatives.iter().all(|c| matches!(c, Condition::Host(_)));
    let paths = alternatives.iter().all(|c| matches!(c, Condition::Path(_)));
    if !(hosts || paths) {
        return Condition::Any(alternatives.into());
    }
    let patterns: Vec<Pattern> = alternatives
        .into_iter()
        .flat_map(|c| match c {
            Condition::Host(p) | Condition::Path(p) => p.into_vec(),
            _ => unreachable!("checked above"),
        })
        .collect();
    if hosts {
        Condition::Host(patterns.into())
    } else {
        Condition::Path(patterns.into())
    }
}

/// Every matcher name, for suggestions.
const NAMES: &[&str] = &[
    "Host",
    "HostHeader",
    "HostRegexp",
    "Path",
    "PathPrefix",
    "PathRegexp",
    "Method",
    "Header",
    "Headers",
    "HeaderRegexp",
    "HeadersRegexp",
    "Query",
    "QueryRegexp",
    "ClientIP",
];

fn call(name: &str, args: &[String]) -> Result<Condition, String> {
    let Some(canonical) = NAMES.iter().find(|n| n.eq_ignore_ascii_case(name)) else {
        return Err(unknown(name));
    };
    let name = *canonical;
    let some = || -> Result<&[String], String> {
        if args.is_empty() {
            return Err(format!("{name} needs at least one argument"));
        }
        if let Some(empty) = args.iter().position(|a| a.trim().is_empty()) {
            return Err(format!("{name}: argument {} is empty", empty + 1));
        }
        Ok(args)
    };
    let pair = || -> Result<(&str, &str), String> {
        match args {
            [key, value] if !key.trim().is_empty() => Ok((key.trim(), value.as_str())),
            [_, _] => Err(format!("{name}: the header name is empty")),
            _ => Err(format!(
                "{name} takes two arguments (name, value), got {}",
                args.len()
            )),
        }
    };
    let templates = |mode| -> Result<Box<[Pattern]>, String> {
        some()?
            .iter()
            .map(|a| template::compile(a.trim(), mode).map_err(|e| format!("{name}: {e}")))
            .collect()
    };
    Ok(match name {
        "Host" | "HostHeader" => Condition::Host(
            some()?
                .iter()
                .map(|h| Pattern::NoCase(canonical_host(h.trim()).into()))
                .collect(),
        ),
        "HostRegexp" => Condition::Host(
            some()?
                .iter()
                .map(|a| {
                    let a = a.trim();
                    let compiled = if is_v2_template(a) {
                        template::compile(a, Mode::Host)
                    } else {
                        template::regex(a, Mode::Host)
                    };
                    compiled.map_err(|e| format!("{name}: {e}"))
                })
                .collect::<Result<_, _>>()?,
        ),
        "Path" => Condition::Path(templates(Mode::Path)?),
        "PathPrefix" => Condition::Path(templates(Mode::PathPrefix)?),
        "PathRegexp" => Condition::Path(
            some()?
                .iter()
                .map(|a| template::regex(a, Mode::Path).map_err(|e| format!("{name}: {e}")))
                .collect::<Result<_, _>>()?,
        ),
        "Method" => Condition::Method(
            some()?
                .iter()
                .map(|m| {
                    Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
                        .map_err(|_| format!("{name}: invalid method {m:?}"))
                })
                .collect::<Result<_, _>>()?,
        ),
        "Header" | "Headers" => {
            let (key, value) = pair()?;
            Condition::Headers(Box::new([(
                header_name(name, key)?,
                value.as_bytes().into(),
            )]))
        }
        "HeaderRegexp" | "HeadersRegexp" => {
            let (key, value) = pair()?;
            let re = Regex::new(value)
                .map_err(|e| format!("{name}: invalid regular expression {value:?}: {e}"))?;
            Condition::HeadersRegexp(Box::new([(header_name(name, key)?, re)]))
        }
        "Query" => query(args)?,
        "QueryRegexp" => {
            let (key, value) = pair()?;
            let pattern =
                template::regex(value, Mode::QueryValue).map_err(|e| format!("{name}: {e}"))?;
            Condition::Query(Box::new([(key.into(), Some(pattern))]))
        }
        "ClientIP" => Condition::ClientIp(
            some()?
                .iter()
                .map(|a| Cidr::parse(a).map_err(|e| format!("{name}: {e}")))
                .collect::<Result<_, _>>()?,
        ),
        _ => unreachable!("every name of NAMES is handled"),
    })
}

/// `Query(`key`, `value`)` (3), `Query(`key`)` (key present), or Traefik
/// 2's `Query(`a=1`, `b={x:[0-9]+}`)`: every pair must hold.
fn query(args: &[String]) -> Result<Condition, String> {
    let v2 = !args.is_empty() && args.iter().all(|a| a.contains('='));
    let pairs: Vec<(&str, Option<&str>)> = match args {
        _ if v2 => args
            .iter()
            .map(|a| a.split_once('=').map(|(k, v)| (k.trim(), Some(v.trim()))).unwrap())
            .collect(),
        [key] => vec![(key.trim(), None)],
        [key, value] => vec![(key.trim(), Some(value.as_str()))],
        _ => {
            return Err(format!(
                "Query takes a name and a value (Traefik 3) or key=value pairs (Traefik 2), got {} argument(s)",
                args.len()
            ))
        }
    };
    let compiled = pairs
        .into_iter()
        .map(|(key, value)| {
            if key.is_empty() {
                return Err("Query: the key is empty".to_string());
            }
            // An empty value matches any value of a present key (mux).
            let pattern = match value {
                None | Some("") => None,
                Some(v) if v2 => Some(
                    template::compile(v, Mode::QueryValue).map_err(|e| format!("Query: {e}"))?,
                ),
                Some(v) => Some(Pattern::Exact(v.into())),
            };
            Ok((key.into(), pattern))
        })
        .collect::<Result<_, String>>()?;
    Ok(Condition::Query(compiled))
}

/// Traefik 2's `{name}` or `{name:re}` template, rather than Traefik 3's
/// plain regex (whose braces are counts: `a{2,3}`). An anchored one
/// (`^...`, `...$`) is a regex, whatever braces it holds.
fn is_v2_template(s: &str) -> bool {
    if s.starts_with('^') || s.ends_with('$') {
        return false;
    }
    s.split('{').skip(1).any(|after| {
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        name_len > 0
            && !after.starts_with(|c: char| c.is_ascii_digit())
            && matches!(after[name_len..].chars().next(), Some('}' | ':'))
    })
}

fn unknown(name: &str) -> String {
    match crate::config::closest_name(name, NAMES.iter().copied()) {
        Some(close) => format!("unknown matcher {name:?}; did you mean {close:?}?"),
        None => format!("unknown matcher {name:?}; known: {}", NAMES.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_templates_are_told_from_v3_regexes() {
        assert!(is_v2_template("{sub:[a-z]+}.example.com"));
        assert!(is_v2_template("{sub}.example.com"));
        assert!(!is_v2_template("^[a-z]{2,3}\\.example\\.com$"));
        assert!(!is_v2_template("^.+\\.example\\.com$"));
        assert!(!is_v2_template("x{,3}"));
        assert!(!is_v2_template("^(?:[a-z{x:]+)$"));
    }
}
