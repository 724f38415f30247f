//! The entrypoint's request screening (`[entryPoints.X.http]`, Traefik 3's
//! keys), before routing: encoded characters a path may not carry, and
//! header names with underscores.
//!
//! A path such as `/a/..%2fadmin` is one path to tollgate's router, which
//! keeps `%2F` encoded, and another to a backend that decodes it (`/admin`,
//! reached without the admin frontend's auth). Like Traefik 3, tollgate
//! refuses with 400 any path holding an encoded `/`, `\`, NUL, `;`, `%`,
//! `?` or `#`, unless the entrypoint allows that one.

use http::Request;

use crate::body::ProxyBody;
use crate::config::model::{EncodedCharacters, EntryPointHttp, UnderscoreHeaders};
use crate::error::ProxyError;

/// Refuse or clean `req` as the entrypoint says.
pub fn screen(req: &mut Request<ProxyBody>, http: &EntryPointHttp) -> Result<(), ProxyError> {
    if let Some(what) = forbidden_escape(req.uri().path(), &http.encoded) {
        return Err(ProxyError::BadRequest(format!(
            "encoded {what} in the path"
        )));
    }
    match http.underscore_headers {
        UnderscoreHeaders::Keep => {}
        UnderscoreHeaders::Delete => {
            let names: Vec<_> = req
                .headers()
                .keys()
                .filter(|n| n.as_str().contains('_'))
                .cloned()
                .collect();
            for name in names {
                req.headers_mut().remove(name);
            }
        }
        UnderscoreHeaders::Reject => {
            if let Some(name) = req.headers().keys().find(|n| n.as_str().contains('_')) {
                let why = format!("header name with an underscore: {name}");
                return Err(ProxyError::BadRequest(why));
            }
        }
    }
    Ok(())
}

/// The first percent-escape in `path` that `allowed` does not allow,
/// named, e.g. `%2F`.
fn forbidden_escape(path: &str, allowed: &EncodedCharacters) -> Option<&'static str> {
    let bytes = path.as_bytes();
    let mut at = 0;
    while let Some(i) = bytes[at..].iter().position(|&b| b == b'%') {
        let i = at + i;
        at = i + 1;
        let (Some(&hi), Some(&lo)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
            continue;
        };
        let (Some(hi), Some(lo)) = ((hi as char).to_digit(16), (lo as char).to_digit(16)) else {
            continue;
        };
        let (name, ok) = match hi * 16 + lo {
            0x2F => ("%2F", allowed.slash),
            0x5C => ("%5C", allowed.back_slash),
            0x00 => ("%00", allowed.null_character),
            0x3B => ("%3B", allowed.semicolon),
            0x25 => ("%25", allowed.percent),
            0x3F => ("%3F", allowed.question_mark),
            0x23 => ("%23", allowed.hash),
            _ => continue,
        };
        if !ok {
            return Some(name);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ambiguous_escape_is_refused_unless_allowed() {
        let none = EncodedCharacters::default();
        for (path, what) in [
            ("/a/..%2fadmin", "%2F"),
            ("/a%2F", "%2F"),
            ("/a%5cb", "%5C"),
            ("/a%00", "%00"),
            ("/a%3Bjsessionid=1", "%3B"),
            ("/a%252F", "%25"),
            ("/a%3f", "%3F"),
            ("/a%23", "%23"),
        ] {
            assert_eq!(forbidden_escape(path, &none), Some(what), "{path}");
        }
        for path in ["/", "/a%20b", "/%41", "/a%", "/a%2", "/a%zz", "/caf%C3%A9"] {
            assert_eq!(forbidden_escape(path, &none), None, "{path}");
        }
        let slash = EncodedCharacters {
            slash: true,
            ..none
        };
        assert_eq!(forbidden_escape("/a%2Fb", &slash), None);
        assert_eq!(forbidden_escape("/a%2Fb%3b", &slash), Some("%3B"));
    }

    #[test]
    fn underscores_are_kept_deleted_or_refused() {
        let req = || {
            http::Request::builder()
                .uri("/")
                .header("x_user", "admin")
                .header("x-user", "me")
                .body(ProxyBody::empty())
                .unwrap()
        };
        let with = |underscore_headers| EntryPointHttp {
            underscore_headers,
            ..Default::default()
        };
        let mut r = req();
        screen(&mut r, &with(UnderscoreHeaders::Keep)).unwrap();
        assert_eq!(r.headers().len(), 2);
        screen(&mut r, &with(UnderscoreHeaders::Delete)).unwrap();
        assert!(r.headers().get("x_user").is_none() && r.headers().get("x-user").is_some());
        let err = screen(&mut req(), &with(UnderscoreHeaders::Reject)).unwrap_err();
        assert_eq!(err.status(), 400);
    }
}
