//! Path modifiers, applied to the normalized path of a request after its
//! frontend has been chosen, in Traefik 1.7's fixed order.

use std::borrow::Cow;

use regex::Regex;

use super::template::Pattern;
use super::types::Rewrite;

/// The strip modifiers, in the order Traefik 1.7 applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum StripKind {
    /// `PathStrip`
    Exact,
    /// `PathPrefixStrip`
    Prefix,
    /// `PathStripRegex`
    ExactRegex,
    /// `PathPrefixStripRegex`
    PrefixRegex,
}

#[derive(Debug, Clone)]
struct Strip {
    kind: StripKind,
    /// Longest template first (as 1.7 sorts them), so that the most specific
    /// of several matching alternatives is the one stripped.
    alternatives: Box<[Pattern]>,
}

/// All modifiers of one frontend.
#[derive(Debug, Clone, Default)]
pub(super) struct Modifiers {
    strips: Vec<Strip>,
    add_prefix: Option<Box<str>>,
    replace_path_regex: Option<(Regex, Box<str>)>,
    replace_path: Option<Box<str>>,
}

impl Modifiers {
    /// `alternatives` pairs each compiled pattern with its template's length.
    pub(super) fn add_strip(&mut self, kind: StripKind, mut alternatives: Vec<(usize, Pattern)>) {
        alternatives.sort_by_key(|&(len, _)| std::cmp::Reverse(len));
        let alternatives = alternatives.into_iter().map(|(_, p)| p).collect();
        // Keep the modifiers sorted by kind, in rule order within a kind.
        let at = self.strips.partition_point(|s| s.kind <= kind);
        self.strips.insert(at, Strip { kind, alternatives });
    }

    /// Like Traefik 1.7, the last `AddPrefix` / `ReplacePath*` of a frontend wins.
    pub(super) fn set_add_prefix(&mut self, prefix: &str) {
        self.add_prefix = Some(with_leading_slash(prefix).into());
    }

    pub(super) fn set_replace_path(&mut self, path: &str) {
        self.replace_path = Some(with_leading_slash(path).into());
    }

    /// `value` is `regex replacement`, split on white space as 1.7 splits it
    /// on a space. Go's replacement syntax (`$1`, `${1}`, `$name`, `${name}`,
    /// `$$`) is also the `regex` crate's, so the replacement is used as is.
    pub(super) fn set_replace_path_regex(&mut self, value: &str) -> Result<(), String> {
        let mut words = value.split_whitespace();
        let (Some(re), Some(replacement), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!(
                "ReplacePathRegex {value:?} must be a regex and a replacement separated by a space"
            ));
        };
        let re = Regex::new(re).map_err(|e| format!("invalid regular expression {re:?}: {e}"))?;
        self.set_replace_path_regex_parts(re, replacement);
        Ok(())
    }

    /// Traefik 2/3's `replacePathRegex`, whose regex and replacement come apart.
    pub(super) fn set_replace_path_regex_parts(&mut self, re: Regex, replacement: &str) {
        self.replace_path_regex = Some((re, replacement.into()));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.strips.is_empty()
            && self.add_prefix.is_none()
            && self.replace_path_regex.is_none()
            && self.replace_path.is_none()
    }

    /// Applies the modifiers to the (normalized) request path; None when none
    /// of them changed anything.
    pub(super) fn apply(&self, path: &str) -> Option<Rewrite> {
        if self.is_empty() {
            return None;
        }
        let mut current = Cow::Borrowed(path);
        let mut changed = false;
        let mut forwarded_prefix: Option<String> = None;
        let mut replaced_path: Option<String> = None;

        for strip in &self.strips {
            let Some((stripped, rest)) = strip
                .alternatives
                .iter()
                .find_map(|p| p.match_len(&current))
                .and_then(|len| current.split_at_checked(len))
            else {
                continue; // an earlier strip removed what this one matched
            };
            let prefix = forwarded_prefix.get_or_insert_with(String::new);
            // Several strips remove consecutive pieces: report them as one prefix.
            if prefix.ends_with('/') && stripped.starts_with('/') {
                prefix.pop();
            }
            prefix.push_str(stripped);
            current = Cow::Owned(with_leading_slash(rest).into_owned());
            changed = true;
        }

        if let Some(add) = &self.add_prefix {
            current = Cow::Owned(format!("{add}{current}"));
            changed = true;
        }

        // 1.7 wraps ReplacePath innermost, so ReplacePathRegex runs before it;
        // X-Replaced-Path carries the path as it was before the first replacement.
        if let Some((re, replacement)) = &self.replace_path_regex {
            if re.is_match(&current) {
                let replaced = re.replace_all(&current, &**replacement).into_owned();
                replaced_path.get_or_insert_with(|| current.clone().into_owned());
                current = Cow::Owned(replaced);
                changed = true;
            }
        }
        if let Some(replacement) = &self.replace_path {
            replaced_path.get_or_insert_with(|| current.clone().into_owned());
            current = Cow::Owned(replacement.to_string());
            changed = true;
        }

        changed.then(|| Rewrite {
            path: with_leading_slash(&current).into_owned(),
            forwarded_prefix,
            replaced_path,
        })
    }
}

/// 1.7 "ensures a leading slash" after a strip; we also do it for values and
/// results that would otherwise not be a valid origin-form path.
fn with_leading_slash(path: &str) -> Cow<'_, str> {
    if path.starts_with('/') {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("/{path}"))
    }
}
