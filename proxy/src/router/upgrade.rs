//! A 1.7 frontend's rules written as one Traefik 2/3 rule, for `tollgate
//! convert`: matchers become calls (`Host:a,b` → ``(Host(`a`) ||
//! Host(`b`))``, `;` and the routes' AND → `&&`), and modifiers become path
//! middlewares (`PathPrefixStrip:/x` → ``PathPrefix(`/x`)`` and a
//! `stripPrefix`). Path and query templates (`{id:[0-9]+}`) are kept,
//! which Traefik 3 reads with `ruleSyntax: v2` (and tollgate always):
//! `v2_syntax` says so; `HostRegexp` templates become the anchored regexes
//! 1.7 made of them, which both versions read alike.

use super::rule::{self, Matcher, BRACES, REGEX_BRACKETS};
use super::template::{self, Mode};
use super::types::PathModifier;

/// One frontend's rules, upgraded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgraded {
    pub rule: String,
    /// In the order 1.7 applies them: strips, prefix, replacements.
    pub modifiers: Vec<PathModifier>,
    /// A `{...}` template is kept: Traefik 3 needs `ruleSyntax: v2`.
    pub v2_syntax: bool,
}

pub fn to_traefik3(rules: &[String]) -> Result<Upgraded, String> {
    let mut terms = Vec::new();
    let mut strips = Vec::new();
    let mut add_prefix = None;
    let mut replace_regex = None;
    let mut replace = None;
    let mut v2_syntax = false;
    for text in rules {
        for item in rule::parse(text)? {
            let value = item.value;
            let list = |brackets| rule::split_list(value, b',', brackets);
            let mut templated = |alternatives: &[&str]| {
                v2_syntax |= alternatives.iter().any(|a| a.contains('{'));
            };
            match item.matcher {
                Matcher::Host => terms.push(any("Host", &list(&[]))),
                Matcher::HostRegexp => {
                    // As the anchored regex 1.7 compiled it to: Traefik 3
                    // reads HostRegexp as a plain, unanchored regex, and a
                    // template without a variable is a plain name.
                    let regexes = list(BRACES)
                        .iter()
                        .map(|t| template::regex_source(t, Mode::Host).map(|re| format!("^{re}$")))
                        .collect::<Result<Vec<_>, _>>()?;
                    let refs: Vec<&str> = regexes.iter().map(String::as_str).collect();
                    terms.push(any("HostRegexp", &refs));
                }
                Matcher::Path | Matcher::PathPrefix => {
                    let alternatives = list(BRACES);
                    templated(&alternatives);
                    let name = if item.matcher == Matcher::Path {
                        "Path"
                    } else {
                        "PathPrefix"
                    };
                    terms.push(any(name, &alternatives));
                }
                Matcher::PathStrip
                | Matcher::PathPrefixStrip
                | Matcher::PathStripRegex
                | Matcher::PathPrefixStripRegex => {
                    let alternatives = list(BRACES);
                    templated(&alternatives);
                    let exact =
                        matches!(item.matcher, Matcher::PathStrip | Matcher::PathStripRegex);
                    terms.push(any(
                        if exact { "Path" } else { "PathPrefix" },
                        &alternatives,
                    ));
                    strips.push(strip(&alternatives, exact)?);
                }
                Matcher::Method => terms.push(any("Method", &list(&[]))),
                Matcher::Headers | Matcher::HeadersRegexp => {
                    let brackets = if item.matcher == Matcher::Headers {
                        &[][..]
                    } else {
                        REGEX_BRACKETS
                    };
                    let pairs = list(brackets);
                    let name = if item.matcher == Matcher::Headers {
                        "Header"
                    } else {
                        "HeaderRegexp"
                    };
                    let calls: Vec<String> = pairs
                        .chunks(2)
                        .map(|kv| call(name, &[kv[0], kv.get(1).copied().unwrap_or("")]))
                        .collect();
                    terms.push(all(&calls));
                }
                Matcher::Query => {
                    let mut calls = Vec::new();
                    for pair in list(BRACES) {
                        let (key, want) = pair.split_once('=').unwrap_or((pair, ""));
                        let (key, want) = (key.trim(), want.trim());
                        calls.push(if want.is_empty() {
                            call("Query", &[key])
                        } else if want.contains('{') {
                            v2_syntax = true;
                            call("Query", &[&format!("{key}={want}")])
                        } else {
                            call("Query", &[key, want])
                        });
                    }
                    terms.push(all(&calls));
                }
                Matcher::AddPrefix => add_prefix = Some(PathModifier::AddPrefix(value.to_owned())),
                Matcher::ReplacePath => replace = Some(PathModifier::ReplacePath(value.to_owned())),
                Matcher::ReplacePathRegex => {
                    let mut words = value.split_whitespace();
                    let (Some(regex), Some(replacement)) = (words.next(), words.next()) else {
                        return Err(format!(
                            "ReplacePathRegex {value:?} needs a regex and a replacement"
                        ));
                    };
                    replace_regex = Some(PathModifier::ReplacePathRegex {
                        regex: regex.to_owned(),
                        replacement: replacement.to_owned(),
                    });
                }
            }
        }
    }
    if terms.is_empty() {
        // Only modifiers: 1.7 matched every request.
        terms.push(call("PathPrefix", &["/"]));
    }
    let modifiers = strips
        .into_iter()
        .chain(add_prefix)
        .chain(replace_regex)
        .chain(replace)
        .collect();
    Ok(Upgraded {
        rule: terms.join(" && "),
        modifiers,
        v2_syntax,
    })
}

/// The strip a `*Strip*` matcher does: plain prefixes, or regexes for
/// templates (an exact strip removes the whole path it matched). Longest
/// template first, as 1.7 tries them; Traefik 3 tries them in list order.
fn strip(alternatives: &[&str], exact: bool) -> Result<PathModifier, String> {
    let mut alternatives = alternatives.to_vec();
    alternatives.sort_by_key(|a| std::cmp::Reverse(a.len()));
    if alternatives.iter().all(|a| !a.contains('{')) {
        return Ok(PathModifier::StripPrefix(
            alternatives.iter().map(|a| a.to_string()).collect(),
        ));
    }
    let regexes = alternatives
        .iter()
        .map(|a| {
            let mode = if exact { Mode::Path } else { Mode::PathPrefix };
            let source = template::regex_source(a, mode)?;
            Ok(if exact {
                format!("^{source}$")
            } else {
                format!("^{source}")
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(PathModifier::StripPrefixRegex(regexes))
}

/// `Name(`a`)`, or `(Name(`a`) || Name(`b`))` for several alternatives.
fn any(name: &str, alternatives: &[&str]) -> String {
    let calls: Vec<String> = alternatives.iter().map(|a| call(name, &[a])).collect();
    match calls.len() {
        1 => calls.into_iter().next().unwrap_or_default(),
        _ => format!("({})", calls.join(" || ")),
    }
}

fn all(calls: &[String]) -> String {
    match calls.len() {
        1 => calls[0].clone(),
        _ => format!("({})", calls.join(" && ")),
    }
}

fn call(name: &str, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| quote(a)).collect();
    format!("{name}({})", args.join(", "))
}

/// Backquotes, or a double-quoted Go string when the value has one.
fn quote(s: &str) -> String {
    if !s.contains('`') {
        return format!("`{s}`");
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(rules: &[&str]) -> Upgraded {
        to_traefik3(&rules.iter().map(|r| r.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn matchers_become_calls_and_modifiers_middlewares() {
        let u = up(&[
            "Host:a.com, b.com;PathPrefixStrip:/zumi01",
            "Method:GET,POST",
        ]);
        assert_eq!(
            u.rule,
            "(Host(`a.com`) || Host(`b.com`)) && PathPrefix(`/zumi01`) && (Method(`GET`) || Method(`POST`))"
        );
        assert_eq!(
            u.modifiers,
            [PathModifier::StripPrefix(vec!["/zumi01".into()])]
        );
        assert!(!u.v2_syntax);

        let u = up(&["Headers:X-A,1,X-B,2;Query:mode=live,flag=;ReplacePath:/x;AddPrefix:/p"]);
        assert_eq!(
            u.rule,
            "(Header(`X-A`, `1`) && Header(`X-B`, `2`)) && (Query(`mode`, `live`) && Query(`flag`))"
        );
        assert_eq!(
            u.modifiers,
            [
                PathModifier::AddPrefix("/p".into()),
                PathModifier::ReplacePath("/x".into())
            ]
        );

        let u = up(&["PathPrefixStrip:/dev/{id:[0-9]+}"]);
        assert_eq!(u.rule, "PathPrefix(`/dev/{id:[0-9]+}`)");
        assert!(u.v2_syntax);
        assert_eq!(
            u.modifiers,
            [PathModifier::StripPrefixRegex(vec![
                "^/dev/(?:[0-9]+)".into()
            ])]
        );

        let u = up(&["AddPrefix:/api"]);
        assert_eq!(u.rule, "PathPrefix(`/`)");
        assert_eq!(quote("a`b\"c"), "\"a`b\\\"c\"");
        assert!(to_traefik3(&["Banana:x".to_string()]).is_err());
    }
}
