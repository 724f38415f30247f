//! The first bytes of a tunnel, inside TLS and before HTTP/2: the agent
//! names its device and shows its token, the server accepts or refuses.
//!
//! ```text
//! agent:  TOLLGATE-TUNNEL/1 zumi01 <token>\n
//! server: OK\n                     (then HTTP/2, the server as the client)
//!     or: DENIED <reason>\n        (then the connection closes)
//! ```
//!
//! A line is at most [`MAX_LINE`] bytes; anything else (no newline in
//! time, bad characters, another version) ends the connection. Read byte
//! by byte up to the newline: nothing after it may be consumed, since the
//! HTTP/2 preface follows on the same stream.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::model::valid_device_name;

pub const MAGIC: &str = "TOLLGATE-TUNNEL/1";
/// Longest hello line, newline included.
pub const MAX_LINE: usize = 512;

/// What an agent said.
#[derive(Debug, PartialEq, Eq)]
pub struct Hello {
    pub device: String,
    pub token: String,
}

/// A token as `token::new` makes them (base64url), with room for others.
fn valid_token(token: &str) -> bool {
    (16..=256).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// Another instance of a cluster (`peers`), instead of an agent:
/// `TOLLGATE-PEER/1 <cluster token>`; then HTTP/2 with the caller as the
/// client, each stream a CONNECT to one of this instance's devices.
pub const PEER_MAGIC: &str = "TOLLGATE-PEER/1";

pub fn format_peer_hello(token: &str) -> String {
    format!("{PEER_MAGIC} {token}\n")
}

/// The token of a peer's hello, or None when the line is not one.
pub fn peer_token(line: &str) -> Option<&str> {
    let (magic, token) = line.split_once(' ')?;
    // Printable, as `[tunnels.cluster] token` must be: nothing a line
    // ending or a terminal could make of it.
    let printable = !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic());
    (magic == PEER_MAGIC && printable).then_some(token)
}

/// Compares a shown token with the expected one in time that does not
/// depend on where they differ.
pub fn same_token(shown: &str, expected: &str) -> bool {
    let (a, b) = (shown.as_bytes(), expected.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in b.iter().enumerate() {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ x);
    }
    diff == 0
}

pub fn format_hello(device: &str, token: &str) -> String {
    format!("{MAGIC} {device} {token}\n")
}

pub fn parse_hello(line: &str) -> Result<Hello, &'static str> {
    let mut parts = line.split(' ');
    let (Some(magic), Some(device), Some(token), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a tunnel hello");
    };
    if magic != MAGIC {
        return Err("not a tunnel hello (or another version)");
    }
    if !valid_device_name(device) {
        return Err("invalid device name");
    }
    if !valid_token(token) {
        return Err("invalid token");
    }
    Ok(Hello {
        device: device.to_owned(),
        token: token.to_owned(),
    })
}

/// One line, without its newline; an error if it is longer than
/// `MAX_LINE`, not UTF-8, or the stream ends first.
pub async fn read_line<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<String> {
    let mut line = Vec::with_capacity(128);
    loop {
        let byte = stream.read_u8().await?;
        if byte == b'\n' {
            break;
        }
        if line.len() + 1 >= MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "hello line too long",
            ));
        }
        line.push(byte);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "hello line not UTF-8"))
}

pub async fn write_line<S: AsyncWrite + Unpin>(stream: &mut S, line: &str) -> std::io::Result<()> {
    stream.write_all(line.as_bytes()).await?;
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "k3J9xQ2v_Zp7-Lm4Rt8WcY1bN6dF0aE5";

    #[test]
    fn hellos_round_trip() {
        let line = format_hello("zumi01", TOKEN);
        assert_eq!(
            parse_hello(line.trim_end()).unwrap(),
            Hello {
                device: "zumi01".into(),
                token: TOKEN.into()
            }
        );
    }

    #[test]
    fn peer_hellos_and_tokens() {
        let line = format_peer_hello(TOKEN);
        assert_eq!(peer_token(line.trim_end()), Some(TOKEN));
        for bad in [
            "TOLLGATE-PEER/1",
            "TOLLGATE-PEER/1 ",
            "TOLLGATE-PEER/2 x",
            "TOLLGATE-PEER/1 a b",
            "TOLLGATE-PEER/1 a\r",
            "TOLLGATE-PEER/1 a\u{7f}",
        ] {
            assert_eq!(peer_token(bad), None, "{bad:?}");
        }
        // An agent's hello is not a peer's.
        assert_eq!(peer_token(format_hello("zumi01", TOKEN).trim_end()), None);
        assert!(same_token(TOKEN, TOKEN));
        for other in [
            "",
            "k3J9",
            "k3J9xQ2v_Zp7-Lm4Rt8WcY1bN6dF0aE6",
            "k3J9xQ2v_Zp7-Lm4Rt8WcY1bN6dF0aE5x",
        ] {
            assert!(!same_token(other, TOKEN), "{other:?}");
        }
    }

    #[test]
    fn malformed_hellos_are_refused() {
        for bad in [
            "",
            "GET / HTTP/1.1",
            "TOLLGATE-TUNNEL/2 zumi01 k3J9xQ2v_Zp7-Lm4Rt8WcY1bN6dF0aE5",
            "TOLLGATE-TUNNEL/1 zumi01",
            "TOLLGATE-TUNNEL/1 zumi01 k3J9xQ2v_Zp7-Lm4Rt8WcY1bN6dF0aE5 extra",
            "TOLLGATE-TUNNEL/1  zumi01 k3J9xQ2v_Zp7-Lm4Rt8WcY1bN6dF0aE5",
            "TOLLGATE-TUNNEL/1 Zumi01 k3J9xQ2v_Zp7-Lm4Rt8WcY1bN6dF0aE5",
            "TOLLGATE-TUNNEL/1 ../etc k3J9xQ2v_Zp7-Lm4Rt8WcY1bN6dF0aE5",
            "TOLLGATE-TUNNEL/1 zumi01 short",
            "TOLLGATE-TUNNEL/1 zumi01 k3J9xQ2v_Zp7-Lm4Rt8WcY1bN6dF0aE5\0",
            "TOLLGATE-TUNNEL/1 zumi01 k3J9xQ2v+Zp7/Lm4Rt8WcY1bN6dF0aE5",
        ] {
            assert!(parse_hello(bad).is_err(), "{bad:?}");
        }
        assert!(!valid_device_name(&"a".repeat(64)));
    }

    #[tokio::test]
    async fn lines_are_read_to_the_newline_only_and_bounded() {
        let mut input: &[u8] = b"OK\r\nPRI * HTTP/2.0";
        assert_eq!(read_line(&mut input).await.unwrap(), "OK");
        assert_eq!(
            input, b"PRI * HTTP/2.0",
            "nothing past the newline is consumed"
        );
        let long = vec![b'a'; MAX_LINE + 10];
        let mut input: &[u8] = &long;
        assert!(read_line(&mut input).await.is_err());
        let mut input: &[u8] = b"no newline";
        assert!(read_line(&mut input).await.is_err());
        let mut input: &[u8] = b"\xff\xfe\n";
        assert!(read_line(&mut input).await.is_err());
    }
}
