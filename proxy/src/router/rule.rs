//! The rule-string syntax: `Matcher:value` items separated by `;` (AND), and
//! the names of the matchers and modifiers Traefik 1.7 knows.
//!
//! Traefik 1.7 splits blindly on `;`, `:` and `,`, which breaks regexes such
//! as `{id:[0-9]{1,3}}`. We split on `;` and `,` only outside braces (and,
//! for header regexes, outside parentheses and brackets too), falling back to
//! the blind split when the brackets do not balance, and we split the name
//! from the value at the first `:` only.

/// Every matcher and modifier of Traefik 1.7's frontend rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Matcher {
    Host,
    HostRegexp,
    Path,
    PathPrefix,
    Method,
    Headers,
    HeadersRegexp,
    Query,
    PathStrip,
    PathPrefixStrip,
    PathStripRegex,
    PathPrefixStripRegex,
    AddPrefix,
    ReplacePath,
    ReplacePathRegex,
}

impl Matcher {
    const ALL: [Matcher; 15] = [
        Matcher::Host,
        Matcher::HostRegexp,
        Matcher::Path,
        Matcher::PathPrefix,
        Matcher::Method,
        Matcher::Headers,
        Matcher::HeadersRegexp,
        Matcher::Query,
        Matcher::PathStrip,
        Matcher::PathPrefixStrip,
        Matcher::PathStripRegex,
        Matcher::PathPrefixStripRegex,
        Matcher::AddPrefix,
        Matcher::ReplacePath,
        Matcher::ReplacePathRegex,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Matcher::Host => "Host",
            Matcher::HostRegexp => "HostRegexp",
            Matcher::Path => "Path",
            Matcher::PathPrefix => "PathPrefix",
            Matcher::Method => "Method",
            Matcher::Headers => "Headers",
            Matcher::HeadersRegexp => "HeadersRegexp",
            Matcher::Query => "Query",
            Matcher::PathStrip => "PathStrip",
            Matcher::PathPrefixStrip => "PathPrefixStrip",
            Matcher::PathStripRegex => "PathStripRegex",
            Matcher::PathPrefixStripRegex => "PathPrefixStripRegex",
            Matcher::AddPrefix => "AddPrefix",
            Matcher::ReplacePath => "ReplacePath",
            Matcher::ReplacePathRegex => "ReplacePathRegex",
        }
    }

    /// Traefik 1.7 wants the exact spelling; we accept any case, since
    /// `pathprefix:/x` can only mean one thing.
    fn from_name(name: &str) -> Option<Matcher> {
        Matcher::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

/// One `Matcher:value` item of a rule; `value` is trimmed and non-empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Item<'a> {
    pub matcher: Matcher,
    pub value: &'a str,
}

/// Brackets that protect separators inside templates (`{...}`).
pub(super) const BRACES: &[(u8, u8)] = &[(b'{', b'}')];
/// Brackets that protect separators inside regular expressions.
pub(super) const REGEX_BRACKETS: &[(u8, u8)] = &[(b'{', b'}'), (b'(', b')'), (b'[', b']')];

/// Splits one rule string into its items.
pub(super) fn parse(rule: &str) -> Result<Vec<Item<'_>>, String> {
    let mut items = Vec::new();
    for item in split_top_level(rule, b';', BRACES) {
        let item = item.trim();
        if item.is_empty() {
            continue; // `a;;b` and a trailing `;`, as Traefik 1.7 allows
        }
        let Some((name, value)) = item.split_once(':') else {
            return Err(format!(
                "missing \":\" in {item:?}: expected Matcher:value, e.g. PathPrefix:/app"
            ));
        };
        let name = name.trim();
        let Some(matcher) = Matcher::from_name(name) else {
            return Err(unknown_matcher(name));
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("empty value for {}", matcher.name()));
        }
        items.push(Item { matcher, value });
    }
    if items.is_empty() {
        return Err("empty rule".to_string());
    }
    Ok(items)
}

/// Splits `value` on `sep` outside the given bracket pairs (a `\` escapes the
/// next byte), trimming each piece and dropping empty ones. If the brackets
/// do not balance, splits on every `sep`, as Traefik 1.7 does.
pub(super) fn split_list<'a>(value: &'a str, sep: u8, brackets: &[(u8, u8)]) -> Vec<&'a str> {
    split_top_level(value, sep, brackets)
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn split_top_level<'a>(s: &'a str, sep: u8, brackets: &[(u8, u8)]) -> Vec<&'a str> {
    let bytes = s.as_bytes();
    let mut pieces = Vec::new();
    let mut depth: i32 = 0;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            i += 2;
            continue;
        }
        if brackets.iter().any(|&(open, _)| open == b) {
            depth += 1;
        } else if brackets.iter().any(|&(_, close)| close == b) {
            depth -= 1;
            if depth < 0 {
                break; // unbalanced
            }
        } else if b == sep && depth == 0 {
            // `sep` is ASCII, so `i` is a char boundary.
            pieces.push(&s[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    if depth != 0 {
        return s.split(sep as char).collect();
    }
    pieces.push(&s[start..]);
    pieces
}

fn unknown_matcher(name: &str) -> String {
    if name.is_empty() {
        return "missing matcher name before \":\"".to_string();
    }
    match crate::config::closest_name(name, Matcher::ALL.map(Matcher::name)) {
        Some(close) => format!("unknown matcher {name:?}; did you mean {close:?}?"),
        None => format!(
            "unknown matcher {name:?}; known: {}",
            Matcher::ALL.map(Matcher::name).join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(rule: &str) -> Vec<(Matcher, &str)> {
        parse(rule)
            .unwrap_or_else(|e| panic!("{rule}: {e}"))
            .into_iter()
            .map(|i| (i.matcher, i.value))
            .collect()
    }

    #[test]
    fn items_are_split_and_trimmed() {
        assert_eq!(
            items(" Host : a.com , b.com ; PathPrefix:/zumi01 ;"),
            [
                (Matcher::Host, "a.com , b.com"),
                (Matcher::PathPrefix, "/zumi01")
            ]
        );
        assert_eq!(
            items("pathprefixstrip:/x"),
            [(Matcher::PathPrefixStrip, "/x")]
        );
        // Only the first `:` separates the name.
        assert_eq!(
            items("Path:/a/{id:[0-9]+}"),
            [(Matcher::Path, "/a/{id:[0-9]+}")]
        );
        // `;` inside a template does not end the item.
        assert_eq!(
            items("Path:/{x:[^;]+};Method:GET"),
            [(Matcher::Path, "/{x:[^;]+}"), (Matcher::Method, "GET")]
        );
    }

    #[test]
    fn lists_respect_brackets() {
        assert_eq!(split_list("a, b,,c ,", b',', BRACES), ["a", "b", "c"]);
        assert_eq!(
            split_list("/a/{id:[0-9]{1,3}},/b", b',', BRACES),
            ["/a/{id:[0-9]{1,3}}", "/b"]
        );
        assert_eq!(
            split_list("Accept, (a|b),x{1,2}", b',', REGEX_BRACKETS),
            ["Accept", "(a|b)", "x{1,2}"]
        );
        assert_eq!(split_list(r"\,a,b", b',', BRACES), [r"\,a", "b"]);
        // Unbalanced: blind split, like Traefik 1.7.
        assert_eq!(split_list("a{,b", b',', BRACES), ["a{", "b"]);
        assert_eq!(split_list("a},b", b',', BRACES), ["a}", "b"]);
    }

    #[test]
    fn errors() {
        assert_eq!(parse("").unwrap_err(), "empty rule");
        assert_eq!(parse(" ; ").unwrap_err(), "empty rule");
        assert_eq!(parse("Path:  ").unwrap_err(), "empty value for Path");
        assert!(parse("PathPrefix/x").unwrap_err().contains("missing \":\""));
        assert_eq!(
            parse("PathPrefx:/x").unwrap_err(),
            "unknown matcher \"PathPrefx\"; did you mean \"PathPrefix\"?"
        );
        assert_eq!(
            parse("Hots:a").unwrap_err(),
            "unknown matcher \"Hots\"; did you mean \"Host\"?"
        );
        assert!(parse("Banana:a")
            .unwrap_err()
            .starts_with("unknown matcher \"Banana\"; known: Host,"));
        assert!(parse(":a").unwrap_err().contains("missing matcher name"));
    }
}
