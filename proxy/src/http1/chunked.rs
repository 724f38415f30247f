//! `Transfer-Encoding: chunked` (RFC 9112 section 7.1): decoding a body as
//! its bytes arrive, handing out each chunk's data without copying it, and
//! the framing lines of a body tollgate chunks itself.
//!
//! Chunk extensions are ignored and trailer fields are skipped: tollgate
//! forwards the data, and a body re-framed for the client gets its own chunks.

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The end of a chunked body without trailers: the last chunk and the blank line.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The size line that goes before `len` bytes of chunk data.
pub fn put_size_line(out: &mut BytesMut, len: usize) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = len;
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
    out.put_slice(b"\r\n");
}

/// Longest chunk-size line or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Most trailer bytes accepted in all.
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting `size[;ext]\r\n`.
    Size,
    /// Inside a chunk: this many data bytes left.
    Data(u64),
    /// Expecting the `\r\n` after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one (this many
    /// trailer bytes seen so far).
    Trailers(usize),
    Done,
}

#[derive(Debug)]
pub struct Decoder {
    state: State,
}

/// What one step of decoding produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Data(Bytes),
    /// The buffer holds no complete next element: read more.
    NeedMore,
    /// The body ended (the last chunk and the trailers were consumed).
    Done,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder { state: State::Size }
    }
}

impl Decoder {
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consume from `buf` what can be decoded now.
    pub fn step(&mut self, buf: &mut BytesMut) -> io::Result<Step> {
        loop {
            match self.state {
                State::Done => return Ok(Step::Done),
                State::Size => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(Step::NeedMore);
                    };
                    let size = parse_size(&line)?;
                    self.state = if size == 0 {
                        State::Trailers(0)
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(Step::NeedMore);
                    }
                    let n = left.min(buf.len() as u64);
                    let data = buf.split_to(n as usize).freeze();
                    self.state = match left - n {
                        0 => State::DataEnd,
                        rest => State::Data(rest),
                    };
                    return Ok(Step::Data(data));
                }
                State::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Step::NeedMore);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(invalid("chunk data not followed by CRLF"));
                    }
                    buf.advance(2);
                    self.state = State::Size;
                }
                State::Trailers(seen) => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(Step::NeedMore);
                    };
                    let seen = seen + line.len() + 2;
                    if seen > MAX_TRAILERS {
                        return Err(invalid("trailers too large"));
                    }
                    self.state = if line.is_empty() {
                        State::Done
                    } else {
                        State::Trailers(seen)
                    };
                }
            }
        }
    }
}

/// One CRLF-terminated line, without the CRLF; None if not complete yet.
fn take_line(buf: &mut BytesMut) -> io::Result<Option<BytesMut>> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(end) if end <= MAX_LINE => {
            let line = buf.split_to(end);
            buf.advance(2);
            Ok(Some(line))
        }
        Some(_) => Err(invalid("chunk line too long")),
        None if buf.len() > MAX_LINE => Err(invalid("chunk line too long")),
        None => Ok(None),
    }
}

/// `chunk-size [ chunk-ext ]` (RFC 9112 section 7.1): hex digits right at
/// the start of the line, then only well-formed extensions, which are
/// checked and ignored. Anything else (spaces after the size, a bare `;`, a
/// control byte) is an error: a line two parsers could read two ways.
fn parse_size(line: &[u8]) -> io::Result<u64> {
    let end = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let (digits, extensions) = line.split_at(end);
    if digits.is_empty() || digits.len() > 15 {
        return Err(invalid("bad chunk size"));
    }
    check_extensions(extensions)?;
    let mut size = 0u64;
    for &d in digits {
        let v = (d as char)
            .to_digit(16)
            .ok_or_else(|| invalid("bad chunk size"))?;
        size = size * 16 + v as u64;
    }
    Ok(size)
}

/// `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`.
fn check_extensions(mut rest: &[u8]) -> io::Result<()> {
    let bad = || invalid("bad chunk extension");
    while !rest.is_empty() {
        rest = skip_ws(rest).strip_prefix(b";").ok_or_else(bad)?;
        rest = skip_ws(rest);
        let name = token_len(rest);
        if name == 0 {
            return Err(bad());
        }
        rest = &rest[name..];
        if let Some(value) = skip_ws(rest).strip_prefix(b"=") {
            let value = skip_ws(value);
            let len = match value.first() {
                Some(b'"') => quoted_len(value).ok_or_else(bad)?,
                _ => token_len(value),
            };
            if len == 0 {
                return Err(bad());
            }
            rest = &value[len..];
        }
    }
    Ok(())
}

fn skip_ws(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    &s[n..]
}

/// Length of the `token` (RFC 9110 section 5.6.2) at the start of `s`.
fn token_len(s: &[u8]) -> usize {
    s.iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        .count()
}

/// Length of the `quoted-string` at the start of `s`, quotes included.
fn quoted_len(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Some(i + 1),
            b'\\' if i + 1 < s.len() => i += 2,
            b'\t' | b' '..=b'~' | 0x80..=0xff => i += 1,
            _ => return None,
        }
    }
    None
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_lines_are_strict() {
        for good in [
            "5",
            "A",
            "5;a",
            "5;a=b",
            "5 ; a = b",
            "5;a=\"x y\"",
            "5;a;b=c",
            "5;a=\"q\\\"\"",
        ] {
            assert_eq!(
                parse_size(good.as_bytes()).ok(),
                u64::from_str_radix(&good[..1], 16).ok(),
                "{good:?}"
            );
        }
        for bad in [
            "",
            " 5",
            "5 ",
            "5;",
            "5; ",
            "5;a b",
            "5;=b",
            "5;a=",
            "5;a=\"x",
            "x",
            "-5",
            "5\t",
            "5;a=b c",
            "1234567890abcdef",
        ] {
            assert!(parse_size(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn size_lines_are_lowercase_hex() {
        for (n, line) in [
            (0, "0\r\n"),
            (10, "a\r\n"),
            (4096, "1000\r\n"),
            (usize::MAX, "ffffffffffffffff\r\n"),
        ] {
            let mut out = BytesMut::new();
            put_size_line(&mut out, n);
            assert_eq!(&out[..], line.as_bytes());
        }
    }

    fn decode_all(input: &[u8], piece: usize) -> io::Result<(Vec<u8>, bool)> {
        let mut d = Decoder::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for part in input.chunks(piece) {
            buf.extend_from_slice(part);
            loop {
                match d.step(&mut buf)? {
                    Step::Data(b) => out.extend_from_slice(&b),
                    Step::NeedMore => break,
                    Step::Done => return Ok((out, buf.is_empty())),
                }
            }
        }
        Ok((out, false))
    }

    #[test]
    fn decodes_chunks_split_anywhere() {
        let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n";
        for piece in 1..body.len() {
            let (data, clean) = decode_all(body, piece).unwrap();
            assert_eq!(data, b"hello, world", "piece size {piece}");
            assert!(clean);
        }
    }

    #[test]
    fn leftover_after_the_body_stays_in_the_buffer() {
        let mut d = Decoder::default();
        let mut buf = BytesMut::from(&b"1\r\na\r\n0\r\n\r\nHTTP/1.1"[..]);
        assert_eq!(
            d.step(&mut buf).unwrap(),
            Step::Data(Bytes::from_static(b"a"))
        );
        assert_eq!(d.step(&mut buf).unwrap(), Step::Done);
        assert_eq!(&buf[..], b"HTTP/1.1");
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(decode_all(b"zz\r\n", 64).is_err());
        assert!(decode_all(b"2\r\nabX\r\n", 64).is_err());
        assert!(decode_all(&[b'1'; 5000], 64).is_err());
        assert!(decode_all(b"ffffffffffffffff\r\n", 64).is_err());
    }
}
