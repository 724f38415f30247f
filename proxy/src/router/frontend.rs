//! One frontend compiled: its conditions (all must hold) and its modifiers.

use http::Method;
use regex::Regex;

use super::matcher::{header_name, Condition, Request};
use super::modifier::{Modifiers, StripKind};
use super::rule::{self, Item, Matcher, BRACES, REGEX_BRACKETS};
use super::template::{self, canonical_host, HostKey, Mode, Pattern};
use super::types::{FrontendRules, PathModifier, RuleError, RuleSyntax, Vars};
use super::{expr, predicate};

#[derive(Debug)]
pub(super) struct Frontend {
    /// Index in the slice given to `Router::compile`.
    pub index: usize,
    pub priority: i64,
    /// Cheapest first.
    pub conditions: Box<[Condition]>,
    pub modifiers: Modifiers,
    /// Report the rule's variables on a match (`FrontendRules::wants_vars`).
    pub wants_vars: bool,
}

impl Frontend {
    pub(super) fn compile(index: usize, rules: &FrontendRules) -> Result<Frontend, Vec<RuleError>> {
        let mut parts = Parts::default();
        let mut errors = Vec::new();
        for (rule_index, rule) in rules.rules.iter().enumerate() {
            let result = match rules.syntax {
                RuleSyntax::Traefik1 => rule::parse(rule).and_then(|items| {
                    items
                        .iter()
                        .try_for_each(|item| compile_item(item, &mut parts))
                }),
                RuleSyntax::Traefik3 => {
                    expr::parse(rule).and_then(|e| predicate::compile(&e, &mut parts.conditions))
                }
            };
            if let Err(message) = result {
                errors.push(RuleError {
                    frontend: index,
                    rule: rule_index,
                    message,
                });
            }
        }
        for modifier in &rules.modifiers {
            if let Err(message) = add_modifier(modifier, &mut parts.modifiers) {
                errors.push(RuleError {
                    frontend: index,
                    rule: rules.rules.len(),
                    message,
                });
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let Parts {
            mut conditions,
            modifiers,
        } = parts;
        conditions.sort_by_key(Condition::cost);
        let priority = if rules.priority > 0 {
            rules.priority
        } else {
            // Traefik 1.7, 2 and 3: the longer the rules, the more specific
            // the frontend.
            rules.rules.iter().map(|r| r.len() as i64).sum()
        };
        Ok(Frontend {
            index,
            priority,
            conditions: conditions.into(),
            modifiers,
            wants_vars: rules.wants_vars,
        })
    }

    pub(super) fn matches(&self, req: &Request<'_>) -> bool {
        self.conditions.iter().all(|c| c.matches(req))
    }

    /// The variables of a request that `matches`, if it wants them.
    pub(super) fn vars(&self, req: &Request<'_>) -> Vars {
        let mut vars = Vars::new();
        if self.wants_vars {
            for condition in self.conditions.iter() {
                condition.capture(req, &mut vars);
            }
        }
        vars
    }

    /// Keys of which the request's host must match one, from the first host
    /// matcher whose every alternative has one: what the host index files
    /// this frontend under. Plain `Host` matchers sort first, so are preferred.
    pub(super) fn required_hosts(&self) -> Option<Vec<HostKey<'_>>> {
        self.conditions.iter().find_map(|c| match c {
            Condition::Host(alts) => alts.iter().map(Pattern::host_key).collect(),
            _ => None,
        })
    }

    /// Literal prefixes of which the normalized path must start with one,
    /// taken from the most selective path matcher: the keys of the path index.
    /// None when no path matcher gives a non-empty prefix for every alternative.
    pub(super) fn required_path_prefixes(&self) -> Option<Vec<&str>> {
        self.conditions
            .iter()
            .filter_map(|c| match c {
                Condition::Path(alts) => Some(alts),
                _ => None,
            })
            .map(|alts| alts.iter().map(Pattern::literal_prefix).collect::<Vec<_>>())
            .filter(|prefixes| prefixes.iter().all(|p| !p.is_empty()))
            .max_by_key(|prefixes| prefixes.iter().map(|p| p.len()).min())
    }
}

/// What a frontend's items compile into, as they are compiled.
#[derive(Default)]
struct Parts {
    conditions: Vec<Condition>,
    modifiers: Modifiers,
}

impl Parts {
    /// A `Path*` matcher; the strip modifiers match as well as modify.
    fn add_path(&mut self, alternatives: Vec<(usize, Pattern)>, strip: Option<StripKind>) {
        let patterns = alternatives.iter().map(|(_, p)| p.clone()).collect();
        self.conditions.push(Condition::Path(patterns));
        if let Some(kind) = strip {
            self.modifiers.add_strip(kind, alternatives);
        }
    }
}

fn compile_item(item: &Item<'_>, out: &mut Parts) -> Result<(), String> {
    let value = item.value;
    let name = item.matcher.name();
    let list = |brackets| {
        let list = rule::split_list(value, b',', brackets);
        if list.is_empty() {
            Err(format!("empty value for {name}"))
        } else {
            Ok(list)
        }
    };
    let patterns = |mode| -> Result<Vec<(usize, Pattern)>, String> {
        list(BRACES)?
            .into_iter()
            .map(|alt| {
                template::compile(alt, mode)
                    .map(|p| (alt.len(), p))
                    .map_err(|e| format!("{name}: {e}"))
            })
            .collect()
    };
    match item.matcher {
        Matcher::Host => {
            // Traefik 1.7 compares Host values as plain names, braces and all.
            let hosts = list(&[])?;
            out.conditions.push(Condition::Host(
                hosts
                    .into_iter()
                    .map(|h| Pattern::NoCase(canonical_host(h).into()))
                    .collect(),
            ));
        }
        Matcher::HostRegexp => {
            let alts = patterns(Mode::Host)?;
            out.conditions
                .push(Condition::Host(alts.into_iter().map(|(_, p)| p).collect()));
        }
        Matcher::Path => out.add_path(patterns(Mode::Path)?, None),
        Matcher::PathPrefix => out.add_path(patterns(Mode::PathPrefix)?, None),
        Matcher::PathStrip => out.add_path(patterns(Mode::Path)?, Some(StripKind::Exact)),
        Matcher::PathPrefixStrip => {
            out.add_path(patterns(Mode::PathPrefix)?, Some(StripKind::Prefix))
        }
        Matcher::PathStripRegex => out.add_path(patterns(Mode::Path)?, Some(StripKind::ExactRegex)),
        Matcher::PathPrefixStripRegex => {
            out.add_path(patterns(Mode::PathPrefix)?, Some(StripKind::PrefixRegex))
        }
        Matcher::Method => {
            let methods = list(&[])?
                .into_iter()
                .map(|m| {
                    // mux upper-cases the configured methods, not the request's.
                    Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                        .map_err(|_| format!("Method: invalid method {m:?}"))
                })
                .collect::<Result<_, _>>()?;
            out.conditions.push(Condition::Method(methods));
        }
        Matcher::Headers => {
            let pairs = pairs(name, list(&[])?)?
                .into_iter()
                .map(|(k, v)| Ok((header_name(name, k)?, v.as_bytes().into())))
                .collect::<Result<_, String>>()?;
            out.conditions.push(Condition::Headers(pairs));
        }
        Matcher::HeadersRegexp => {
            let pairs = pairs(name, list(REGEX_BRACKETS)?)?
                .into_iter()
                .map(|(k, v)| {
                    let re = Regex::new(v)
                        .map_err(|e| format!("{name}: invalid regular expression {v:?}: {e}"))?;
                    Ok((header_name(name, k)?, re))
                })
                .collect::<Result<_, String>>()?;
            out.conditions.push(Condition::HeadersRegexp(pairs));
        }
        Matcher::Query => {
            let pairs = list(BRACES)?
                .into_iter()
                .map(|pair| {
                    let Some((key, want)) = pair.split_once('=') else {
                        return Err(format!("Query: {pair:?} must be key=value"));
                    };
                    let key = key.trim();
                    if key.is_empty() {
                        return Err(format!("Query: missing key in {pair:?}"));
                    }
                    let want = want.trim();
                    // mux: an empty value matches any value of a present key.
                    let want = match want {
                        "" => None,
                        _ => Some(
                            template::compile(want, Mode::QueryValue)
                                .map_err(|e| format!("{name}: {e}"))?,
                        ),
                    };
                    Ok((key.into(), want))
                })
                .collect::<Result<_, String>>()?;
            out.conditions.push(Condition::Query(pairs));
        }
        // A path may contain `,`: take these values whole (1.7 would split
        // them and keep the last piece).
        Matcher::AddPrefix => out.modifiers.set_add_prefix(value),
        Matcher::ReplacePath => out.modifiers.set_replace_path(value),
        Matcher::ReplacePathRegex => out.modifiers.set_replace_path_regex(value)?,
    }
    Ok(())
}

/// A Traefik 2/3 path middleware, as the 1.7 modifier that does the same.
/// (A `RuleError` for one of these has `rule` = the number of rules.)
fn add_modifier(modifier: &PathModifier, out: &mut Modifiers) -> Result<(), String> {
    match modifier {
        // Traefik 2/3 try the prefixes in list order: ranks that keep it
        // through `add_strip`'s longest-first sort.
        PathModifier::StripPrefix(prefixes) => {
            let alternatives = prefixes
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    (
                        prefixes.len() - i,
                        Pattern::Prefix(super::path::normalize(p).into()),
                    )
                })
                .collect();
            out.add_strip(StripKind::Prefix, alternatives);
        }
        PathModifier::StripPrefixRegex(regexes) => {
            let alternatives = regexes
                .iter()
                .enumerate()
                .map(|(i, re)| {
                    template::regex(&format!("^(?:{re})"), Mode::PathPrefix)
                        .map(|p| (regexes.len() - i, p))
                        .map_err(|e| format!("stripPrefixRegex: {e}"))
                })
                .collect::<Result<_, _>>()?;
            out.add_strip(StripKind::PrefixRegex, alternatives);
        }
        PathModifier::AddPrefix(prefix) => out.set_add_prefix(prefix),
        PathModifier::ReplacePath(path) => out.set_replace_path(path),
        PathModifier::ReplacePathRegex { regex, replacement } => {
            let re = Regex::new(regex).map_err(|e| {
                format!("replacePathRegex: invalid regular expression {regex:?}: {e}")
            })?;
            out.set_replace_path_regex_parts(re, replacement);
        }
    }
    Ok(())
}

/// `key,value,key,value...` as mux's Headers/HeadersRegexp take them.
fn pairs<'a>(name: &str, list: Vec<&'a str>) -> Result<Vec<(&'a str, &'a str)>, String> {
    if list.len() % 2 != 0 {
        return Err(format!(
            "{name} takes key,value pairs, got {} item(s): {}",
            list.len(),
            list.join(",")
        ));
    }
    Ok(list.chunks_exact(2).map(|kv| (kv[0], kv[1])).collect())
}
