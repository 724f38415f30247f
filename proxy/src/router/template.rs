//! gorilla/mux-style templates (`/articles/{category}/{id:[0-9]+}`), compiled
//! once into either a plain string comparison (no `{`: the common case, and the
//! one the index can use) or one anchored regex.

use std::borrow::Cow;

use regex::Regex;

use super::path;
use super::types::Vars;

/// What a template is matched against, which decides its default variable
/// pattern, its anchoring and how its literal text is canonicalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// A host name: case-insensitive, whole string, `{name}` = `[^.]+`.
    Host,
    /// A whole path (`Path`, `PathStrip`): `{name}` = `[^/]+`.
    Path,
    /// A path prefix (`PathPrefix`, `PathPrefixStrip`): anchored at the start only.
    PathPrefix,
    /// A query-string value: whole string, `{name}` = `.*`.
    QueryValue,
}

/// One compiled alternative of a matcher.
#[derive(Debug, Clone)]
pub(super) enum Pattern {
    /// Equal ignoring ASCII case (host names); stored lower-case.
    NoCase(Box<str>),
    /// Equal.
    Exact(Box<str>),
    /// Starts with (a plain prefix, as Traefik 1.7's `prefixMatcher`: `/zumi01`
    /// also matches `/zumi01x`).
    Prefix(Box<str>),
    /// A template with variables, anchored as its mode requires.
    Regex {
        re: Regex,
        /// Path modes: the literal text before the first variable, which
        /// every match starts with.
        literal_prefix: Box<str>,
        /// Host mode: the lower-case ASCII literal text after the last
        /// variable, which every match ends with (ignoring ASCII case).
        literal_suffix: Box<str>,
        /// The template's variable names, in order: variable `i` is the
        /// regex's group named `tgv{i}` (see `group_name`). Empty for
        /// plain regexes.
        vars: Box<[Box<str>]>,
        /// Host mode: values are lower-cased when captured (host names
        /// compare ignoring case, so `Zumi01` and `zumi01` are one device).
        lower: bool,
    },
}

/// What an index can file a host alternative under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HostKey<'a> {
    /// The host is this (lower-case) name.
    Exact(&'a str),
    /// The host ends with this (lower-case) text.
    Suffix(&'a str),
}

impl Pattern {
    pub(super) fn is_match(&self, s: &str) -> bool {
        match self {
            Pattern::NoCase(lit) => s.eq_ignore_ascii_case(lit),
            Pattern::Exact(lit) => s == &**lit,
            Pattern::Prefix(lit) => s.starts_with(&**lit),
            Pattern::Regex { re, .. } => re.is_match(s),
        }
    }

    /// The length of the matched start of `s` (all of it for whole-string
    /// patterns): what a strip modifier removes.
    pub(super) fn match_len(&self, s: &str) -> Option<usize> {
        match self {
            Pattern::Prefix(lit) => s.starts_with(&**lit).then_some(lit.len()),
            Pattern::Regex { re, .. } => re.find(s).map(|m| m.end()),
            _ => self.is_match(s).then_some(s.len()),
        }
    }

    /// Text that every matching string starts with (case-sensitively); empty
    /// when nothing is known.
    pub(super) fn literal_prefix(&self) -> &str {
        match self {
            Pattern::NoCase(_) => "",
            Pattern::Exact(lit) | Pattern::Prefix(lit) => lit,
            Pattern::Regex { literal_prefix, .. } => literal_prefix,
        }
    }

    /// How a host index can file this alternative, if it can.
    pub(super) fn host_key(&self) -> Option<HostKey<'_>> {
        match self {
            Pattern::NoCase(lit) => Some(HostKey::Exact(lit)),
            Pattern::Regex { literal_suffix, .. } if !literal_suffix.is_empty() => {
                Some(HostKey::Suffix(literal_suffix))
            }
            _ => None,
        }
    }

    pub(super) fn is_plain(&self) -> bool {
        !matches!(self, Pattern::Regex { .. })
    }

    /// Matches `s` and, on a match, appends its variables to `out`.
    pub(super) fn capture(&self, s: &str, out: &mut Vars) -> bool {
        let Pattern::Regex {
            re, vars, lower, ..
        } = self
        else {
            return self.is_match(s);
        };
        if vars.is_empty() {
            return re.is_match(s);
        }
        let Some(caps) = re.captures(s) else {
            return false;
        };
        for (i, name) in vars.iter().enumerate() {
            if out.iter().any(|(n, _)| n == name) {
                continue;
            }
            if let Some(m) = caps.name(&group_name(i)) {
                let value = match lower {
                    true => m.as_str().to_ascii_lowercase(),
                    false => m.as_str().to_owned(),
                };
                out.push((name.clone(), value));
            }
        }
        true
    }
}

/// The regex group of a template's `i`-th variable. Groups are named by
/// position, not by the variable's name: a template may repeat a name,
/// which a regex may not.
fn group_name(i: usize) -> String {
    format!("tgv{i}")
}

/// Compiles one alternative (already trimmed and non-empty).
pub(super) fn compile(template: &str, mode: Mode) -> Result<Pattern, String> {
    // Request hosts are matched without their trailing dot.
    let template = match mode {
        Mode::Host => template.strip_suffix('.').unwrap_or(template),
        _ => template,
    };
    let parts = parse(template)?;
    let is_path = matches!(mode, Mode::Path | Mode::PathPrefix);
    if is_path && !(template.starts_with('/') || template.starts_with('{')) {
        // mux accepts it, but such a rule could never match any request.
        return Err(format!("path {template:?} must start with \"/\""));
    }
    if let [Part::Literal(lit)] = parts.as_slice() {
        return Ok(match mode {
            Mode::Host => Pattern::NoCase(canonical_host(lit).into()),
            Mode::Path => Pattern::Exact(path::normalize(lit).into()),
            Mode::PathPrefix => Pattern::Prefix(path::normalize(lit).into()),
            Mode::QueryValue => Pattern::Exact((*lit).into()),
        });
    }

    let (case_flag, end_anchor) = match mode {
        Mode::Host => ("(?i)", "$"),
        Mode::Path | Mode::QueryValue => ("", "$"),
        Mode::PathPrefix => ("", ""),
    };
    let mut source = format!("{case_flag}^");
    let mut literal_prefix = String::new();
    let mut literal_suffix = String::new();
    let mut vars = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        match part {
            Part::Literal(lit) => {
                let lit = canonical_literal(lit, mode);
                if i == 0 && is_path {
                    literal_prefix.push_str(&lit);
                }
                // Non-ASCII text is left out: under (?i) it may match ASCII
                // (`ſ` matches `s`), which a byte comparison would not.
                if i == parts.len() - 1 && mode == Mode::Host && lit.is_ascii() {
                    literal_suffix.push_str(&lit);
                }
                source.push_str(&regex::escape(&lit));
            }
            Part::Variable { name, pattern } => {
                let group = group_name(vars.len());
                let inner = variable_source(*pattern, mode, template)?;
                source.push_str(&format!("(?P<{group}>{inner})"));
                vars.push(Box::<str>::from(*name));
            }
        }
    }
    source.push_str(end_anchor);
    let re = Regex::new(&source)
        .map_err(|e| format!("invalid regular expression in {template:?}: {e}"))?;
    Ok(Pattern::Regex {
        re,
        literal_prefix: literal_prefix.into(),
        literal_suffix: literal_suffix.into(),
        vars: vars.into(),
        lower: mode == Mode::Host,
    })
}

/// A plain regular expression (Traefik 3's `HostRegexp`, `PathRegexp`,
/// `QueryRegexp`), unanchored as Go's `MatchString`; host ones ignore case.
/// No literal prefix or suffix: the indexes file it under no key.
pub(super) fn regex(source: &str, mode: Mode) -> Result<Pattern, String> {
    let case_flag = if mode == Mode::Host { "(?i)" } else { "" };
    let re = Regex::new(&format!("{case_flag}{source}"))
        .map_err(|e| format!("invalid regular expression {source:?}: {e}"))?;
    Ok(Pattern::Regex {
        re,
        literal_prefix: "".into(),
        literal_suffix: "".into(),
        vars: Box::default(),
        lower: false,
    })
}

/// A template as the plain regular expression (unanchored) that matches
/// what it matches in `mode`: literal text canonicalized and escaped,
/// `{name}` as the mode's default, `{name:re}` as `(?:re)`. For writing
/// 1.7's templates where Traefik 3 takes a regex (`stripPrefixRegex`,
/// `HostRegexp`).
pub(super) fn regex_source(template: &str, mode: Mode) -> Result<String, String> {
    let template = match mode {
        Mode::Host => template.strip_suffix('.').unwrap_or(template),
        _ => template,
    };
    let mut out = String::new();
    for part in parse(template)? {
        match part {
            Part::Literal(lit) => out.push_str(&regex::escape(&canonical_literal(lit, mode))),
            Part::Variable { pattern, .. } => {
                out.push_str(&variable_source(pattern, mode, template)?)
            }
        }
    }
    Ok(out)
}

/// A template's literal text as requests are compared with it: host names
/// lower-case, paths with unreserved escapes decoded.
fn canonical_literal(lit: &str, mode: Mode) -> Cow<'_, str> {
    match mode {
        Mode::Host => Cow::Owned(lit.to_ascii_lowercase()),
        Mode::Path | Mode::PathPrefix => path::normalize_escapes(lit),
        Mode::QueryValue => Cow::Borrowed(lit),
    }
}

/// `{name}` or `{name:pattern}` as a regex group: the pattern, or the mode's
/// default. A pattern must be a regex by itself: `{x:a)|(b}` would
/// otherwise escape its group and un-anchor the template (and make the
/// index's literal prefixes unsound).
fn variable_source(pattern: Option<&str>, mode: Mode, template: &str) -> Result<String, String> {
    if let Some(pattern) = pattern {
        Regex::new(pattern)
            .map_err(|e| format!("invalid regular expression in {template:?}: {e}"))?;
    }
    let default = match mode {
        Mode::Host => "[^.]+",
        Mode::Path | Mode::PathPrefix => "[^/]+",
        Mode::QueryValue => ".*",
    };
    Ok(format!("(?:{})", pattern.unwrap_or(default)))
}

/// Host names compare lower-case, and `example.com.` is `example.com`.
pub(super) fn canonical_host(host: &str) -> String {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

#[derive(Debug, PartialEq, Eq)]
enum Part<'a> {
    Literal(&'a str),
    /// `{name}` (pattern None: the mode's default) or `{name:pattern}`.
    Variable {
        name: &'a str,
        pattern: Option<&'a str>,
    },
}

/// Splits a template into literal text and `{...}` variables, with mux's
/// rules: braces nest (`{id:[0-9]{3}}`), must balance, and a variable needs a
/// name and, after a `:`, a non-empty pattern.
fn parse(template: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, b) in template.bytes().enumerate() {
        match b {
            b'{' => {
                if depth == 0 {
                    if i > start {
                        parts.push(Part::Literal(&template[start..i]));
                    }
                    start = i;
                }
                depth += 1;
            }
            b'}' => {
                if depth == 0 {
                    return Err(format!("unbalanced braces in {template:?}"));
                }
                depth -= 1;
                if depth == 0 {
                    let inner = &template[start + 1..i];
                    let (name, pattern) = match inner.split_once(':') {
                        Some((name, pattern)) => (name, Some(pattern)),
                        None => (inner, None),
                    };
                    if name.is_empty() || pattern == Some("") {
                        return Err(format!(
                            "missing name or pattern in {:?}",
                            &template[start..=i]
                        ));
                    }
                    parts.push(Part::Variable { name, pattern });
                    start = i + 1;
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced braces in {template:?}"));
    }
    if start < template.len() {
        parts.push(Part::Literal(&template[start..]));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(t: &str, mode: Mode) -> Pattern {
        compile(t, mode).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    #[test]
    fn literals_compile_to_plain_comparisons() {
        assert!(
            matches!(ok("Example.COM.", Mode::Host), Pattern::NoCase(h) if &*h == "example.com")
        );
        assert!(matches!(ok("/a//b", Mode::Path), Pattern::Exact(p) if &*p == "/a/b"));
        assert!(matches!(ok("/%7Ezumi", Mode::PathPrefix), Pattern::Prefix(p) if &*p == "/~zumi"));
        assert!(matches!(ok("a b", Mode::QueryValue), Pattern::Exact(p) if &*p == "a b"));
    }

    #[test]
    fn path_templates() {
        let p = ok("/articles/{category}/{id:[0-9]+}", Mode::Path);
        assert!(p.is_match("/articles/news/42"));
        assert!(!p.is_match("/articles/news/42/x"));
        assert!(!p.is_match("/articles/a/b/42"));
        assert!(!p.is_match("/articles/news/x"));
        assert_eq!(p.literal_prefix(), "/articles/");

        let p = ok("/api/{v:v[0-9]{1,2}}", Mode::PathPrefix);
        assert!(p.is_match("/api/v12/users"));
        assert!(!p.is_match("/x/api/v1"));
        assert_eq!(p.match_len("/api/v12/users"), Some(8));

        // Literal text is literal, not regex syntax.
        let p = ok("/a.b/{x}", Mode::Path);
        assert!(p.is_match("/a.b/c"));
        assert!(!p.is_match("/axb/c"));

        let p = ok("{any:.*}", Mode::Path);
        assert!(p.is_match("/whatever/you/like"));
        assert_eq!(p.literal_prefix(), "");
    }

    #[test]
    fn host_templates() {
        let p = ok("{sub:[a-z]+}.Example.com", Mode::Host);
        assert!(p.is_match("api.example.com"));
        assert!(p.is_match("API.EXAMPLE.COM"));
        assert!(!p.is_match("a.b.example.com"));
        assert!(!p.is_match("api.example.com.evil"));
        assert_eq!(p.host_key(), Some(HostKey::Suffix(".example.com")));
        let p = ok("{sub}.example.com.", Mode::Host);
        assert!(p.is_match("x-1.example.com"));
        assert!(!p.is_match("a.b.example.com"));
        assert_eq!(ok("a.{tld}", Mode::Host).host_key(), None);
        assert_eq!(ok("{x}.ſite.com", Mode::Host).host_key(), None);
        assert_eq!(
            ok("Ex.com", Mode::Host).host_key(),
            Some(HostKey::Exact("ex.com"))
        );
    }

    #[test]
    fn query_templates() {
        let p = ok("{id:[0-9]+}", Mode::QueryValue);
        assert!(p.is_match("123"));
        assert!(!p.is_match("12a"));
        assert!(ok("{any}", Mode::QueryValue).is_match(""));
    }

    #[test]
    fn template_errors() {
        let err = |t: &str, m| compile(t, m).unwrap_err();
        assert!(err("/a/{id", Mode::Path).contains("unbalanced braces"));
        assert!(err("/a/id}", Mode::Path).contains("unbalanced braces"));
        assert!(err("/a/{:[0-9]+}", Mode::Path).contains("missing name or pattern"));
        assert!(err("/a/{id:}", Mode::Path).contains("missing name or pattern"));
        assert!(err("/a/{id:(}", Mode::Path).contains("invalid regular expression"));
        // A pattern cannot break out of its group.
        assert!(err("/a/{x:b)|(?:c}", Mode::PathPrefix).contains("invalid regular expression"));
        assert!(err("zumi01", Mode::PathPrefix).contains("must start with \"/\""));
    }
}
