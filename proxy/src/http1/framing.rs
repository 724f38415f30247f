//! How a message body is delimited (RFC 9112 section 6), one rule set for
//! requests and responses, client side and backend side.

use http::header::{self, HeaderMap};
use http::StatusCode;

/// How the body after a message head ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: a HEAD response, 1xx/204/304, a length of 0, a request
    /// without one.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    Chunked,
    /// Until the sender closes the connection (responses only).
    Close,
}

/// Statuses whose responses never carry a body, whatever their headers say
/// (RFC 9112 section 6.3, rule 1).
pub fn bodiless(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

impl Framing {
    /// How a request body is sent upstream: with the `Content-Length` it
    /// came with, chunked otherwise (the head then carries no length:
    /// `request::encode_head`). `ended`: the body has nothing to send.
    pub fn of_request(headers: &HeaderMap, ended: bool) -> Framing {
        if ended {
            return Framing::Empty;
        }
        match headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| parse_length(v.as_bytes()))
        {
            Some(n) => Framing::Length(n),
            None => Framing::Chunked,
        }
    }

    /// Whether any body bytes follow the head.
    pub fn has_body(self) -> bool {
        !matches!(self, Framing::Empty | Framing::Length(0))
    }
}

/// One `Content-Length` value: digits only (no sign, no spaces inside).
pub fn parse_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_digits_only() {
        assert_eq!(parse_length(b"42"), Some(42));
        assert_eq!(parse_length(b" 7 "), Some(7));
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b"1 2",
            b"0x10",
            b"99999999999999999999999",
        ] {
            assert_eq!(parse_length(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn request_bodies_keep_their_length_or_go_chunked() {
        let mut h = HeaderMap::new();
        assert_eq!(Framing::of_request(&h, true), Framing::Empty);
        assert_eq!(Framing::of_request(&h, false), Framing::Chunked);
        h.insert(header::CONTENT_LENGTH, "5".parse().unwrap());
        assert_eq!(Framing::of_request(&h, false), Framing::Length(5));
    }
}
