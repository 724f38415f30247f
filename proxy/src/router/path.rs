//! Request-path normalization: the single form that routing rules are matched
//! against, so that `/zumi01/../admin`, `//zumi01` or `/%7Azumi01` cannot dodge
//! (or sneak into) a `PathPrefix` rule.
//!
//! Normal form (RFC 3986 6.2.2):
//! - percent-encoded unreserved characters (ALPHA DIGIT `-` `.` `_` `~`) are
//!   decoded; every other escape stays encoded, with upper-case hex digits
//!   (so `%2f` and `%2F` are one path, and an encoded `/` never splits a segment);
//! - runs of `/` are merged;
//! - `.` and `..` segments (also when they were written `%2e`) are resolved as
//!   RFC 3986 5.2.4 does, never climbing above the root.

use std::borrow::Cow;

/// Returns the normal form of `path`, borrowing when it is already normal
/// (the common case: no allocation).
///
/// Paths that do not start with `/` (`*`, the empty authority-form path) are
/// returned as they are: they have no segments to resolve.
pub fn normalize(path: &str) -> Cow<'_, str> {
    if !path.starts_with('/') || is_normal(path) {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(normalize_slow(path))
    }
}

/// Normalizes the percent-escapes of a fragment of a path (no segment
/// processing): used for the literal parts of path templates in rules, so that
/// they are written in the same form as normalized request paths.
pub fn normalize_escapes(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    push_decoded(&mut out, s.as_bytes());
    if out == s.as_bytes() {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(into_string(out))
    }
}

/// Whether `path` (starting with `/`) is already in normal form.
fn is_normal(path: &str) -> bool {
    let bytes = path.as_bytes();
    let mut segments = bytes[1..].split(|&b| b == b'/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        // An empty segment anywhere but at the end is a `//`.
        if (seg.is_empty() && !last) || seg == b"." || seg == b".." {
            return false;
        }
        if seg.contains(&b'%') && !escapes_are_normal(seg) {
            return false;
        }
    }
    true
}

/// Whether every `%XX` escape in `seg` stays encoded and uses upper-case hex.
fn escapes_are_normal(seg: &[u8]) -> bool {
    let mut i = 0;
    while i < seg.len() {
        if seg[i] == b'%' {
            if let Some(byte) = escape_at(seg, i) {
                if is_unreserved(byte) || seg[i + 1..i + 3].iter().any(u8::is_ascii_lowercase) {
                    return false;
                }
                i += 3;
                continue;
            }
        }
        i += 1;
    }
    true
}

fn normalize_slow(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut decoded = Vec::new();
    let mut segments = path.as_bytes()[1..].split(|&b| b == b'/').peekable();
    let mut trailing_slash = false;
    while let Some(raw) = segments.next() {
        let last = segments.peek().is_none();
        decoded.clear();
        push_decoded(&mut decoded, raw);
        match decoded.as_slice() {
            b"" | b"." => trailing_slash = last,
            b".." => {
                // Drop the last output segment; at the root there is nothing to drop.
                let cut = out.rfind('/').unwrap_or(0);
                out.truncate(cut);
                trailing_slash = last;
            }
            seg => {
                out.push('/');
                // Only ASCII was substituted, so the segment is still UTF-8.
                out.push_str(&String::from_utf8_lossy(seg));
                trailing_slash = false;
            }
        }
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    out
}

/// Appends `raw` to `out`, decoding unreserved escapes and upper-casing the
/// hex digits of the others. Malformed `%` sequences are copied as they are;
/// an escaped hex digit right after one stays escaped, or decoding would
/// make a new escape of them (`%e%42` is not `%eB`), and a second pass
/// would not find the first's result normal.
fn push_decoded(out: &mut Vec<u8>, raw: &[u8]) {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            if let Some(byte) = escape_at(raw, i) {
                let joins_a_stray_percent = byte.is_ascii_hexdigit()
                    && (out.ends_with(b"%")
                        || (out.len() >= 2
                            && out[out.len() - 2] == b'%'
                            && out[out.len() - 1].is_ascii_hexdigit()));
                if is_unreserved(byte) && !joins_a_stray_percent {
                    out.push(byte);
                } else {
                    out.push(b'%');
                    out.push(raw[i + 1].to_ascii_uppercase());
                    out.push(raw[i + 2].to_ascii_uppercase());
                }
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
}

/// The byte encoded by a `%XX` escape starting at `i`, if well-formed.
fn escape_at(s: &[u8], i: usize) -> Option<u8> {
    let hi = hex_value(*s.get(i + 1)?)?;
    let lo = hex_value(*s.get(i + 2)?)?;
    Some(hi << 4 | lo)
}

pub(super) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Our substitutions only ever replace ASCII with ASCII, so the bytes stay
/// valid UTF-8; the lossy fallback only exists to rule out a panic.
fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(p: &str) -> String {
        normalize(p).into_owned()
    }

    #[test]
    fn normal_paths_are_borrowed() {
        for p in [
            "/",
            "/zumi01",
            "/zumi01/",
            "/a/b/c",
            "/a%2Fb",
            "/%C3%A9",
            "/a.b/..c/.d",
            "*",
            "",
        ] {
            assert!(matches!(normalize(p), Cow::Borrowed(_)), "{p}");
        }
    }

    #[test]
    fn dot_segments_are_resolved() {
        assert_eq!(norm("/zumi01/../admin"), "/admin");
        assert_eq!(norm("/zumi01/../other"), "/other");
        assert_eq!(norm("/a/./b"), "/a/b");
        assert_eq!(norm("/a/b/.."), "/a/");
        assert_eq!(norm("/a/b/."), "/a/b/");
        assert_eq!(norm("/.."), "/");
        assert_eq!(norm("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(norm("/a/../../b"), "/b");
        assert_eq!(norm("/."), "/");
    }

    #[test]
    fn encoded_dots_are_resolved() {
        assert_eq!(norm("/%2e%2e/"), "/");
        assert_eq!(norm("/zumi01/%2e%2e/x"), "/x");
        assert_eq!(norm("/zumi01/%2E%2e/x"), "/x");
        assert_eq!(norm("/zumi01/.%2e/x"), "/x");
        assert_eq!(norm("/zumi01/%2e/x"), "/zumi01/x");
    }

    #[test]
    fn slashes_are_merged() {
        assert_eq!(norm("//zumi01"), "/zumi01");
        assert_eq!(norm("/zumi01//x///y"), "/zumi01/x/y");
        assert_eq!(norm("/zumi01//"), "/zumi01/");
        assert_eq!(norm("//"), "/");
        assert_eq!(norm("//.."), "/");
    }

    #[test]
    fn unreserved_escapes_are_decoded_others_kept() {
        assert_eq!(norm("/%7Aumi01"), "/zumi01");
        assert_eq!(norm("/%7aumi01"), "/zumi01");
        assert_eq!(norm("/%7Azumi01"), "/zzumi01");
        assert_eq!(norm("/%7E%41%2d%5F"), "/~A-_");
        assert_eq!(norm("/a%2fb"), "/a%2Fb");
        assert_eq!(norm("/a%2F..%2Fb"), "/a%2F..%2Fb");
        assert_eq!(norm("/a/%2e%2e%2fb"), "/a/..%2Fb");
        assert_eq!(norm("/%c3%a9"), "/%C3%A9");
        // Malformed escapes are left alone, and do not join what follows.
        assert_eq!(norm("/%zz/%4"), "/%zz/%4");
        assert_eq!(norm("/%"), "/%");
        assert_eq!(norm("/%e%42E"), "/%e%42E");
        assert_eq!(norm("/%%41F"), "/%%41F");
        assert_eq!(norm("/%%7a"), "/%z");
    }

    #[test]
    fn normalization_is_idempotent() {
        for p in [
            "/a//b/../%2e/c%2f",
            "/%41/./..",
            "//x/%7e/../y/",
            "/%25%32%65",
        ] {
            let once = norm(p);
            assert_eq!(norm(&once), once, "{p}");
            assert!(
                matches!(normalize(&once), Cow::Borrowed(_)),
                "{p} -> {once}"
            );
        }
        // `%25` is `%` itself and stays encoded: no double decoding.
        assert_eq!(norm("/%25%32%65"), "/%252e");
    }

    #[test]
    fn escape_fragments() {
        assert_eq!(normalize_escapes("/a%7e%2f"), "/a~%2F");
        assert!(matches!(normalize_escapes("/plain"), Cow::Borrowed(_)));
        assert!(matches!(normalize_escapes("/a%2F"), Cow::Borrowed(_)));
    }

    #[test]
    fn non_ascii_survives() {
        assert_eq!(norm("/é/../ü//%41"), "/ü/A");
    }
}
