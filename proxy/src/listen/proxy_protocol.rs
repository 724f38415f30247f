//! `[entryPoints.X.proxyProtocol]`: tollgate behind a TCP load balancer
//! (HAProxy, an AWS NLB, another tollgate) learns the real client address
//! from the PROXY protocol header (v1 text or v2 binary) the balancer sends
//! before anything else, TLS included.
//!
//! As in Traefik 1.7, a header is read only from the sources the entry
//! point trusts (`trustedIPs`, or every source with `insecure = true`),
//! and from them it is optional: a trusted source that sends none is served
//! with its own address. From any other source the bytes are not looked
//! at, so a client cannot claim an address: its "PROXY ..." line is just a
//! bad request (400). A header that starts but is malformed, or does not
//! arrive in time, ends the connection: nothing after it could be trusted
//! to be the client's request.
//!
//! The parsing is the `ppp` crate's; this file only decides where the
//! header ends and what address it gives.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use ppp::{v1, v2, PartialResult};
use tokio::io::{AsyncRead, AsyncReadExt};

/// How a v1 header starts.
const V1_SIGNATURE: &[u8] = b"PROXY ";
/// How a v2 header starts.
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest header read: a v1 line is at most 107 bytes; a v2 header
/// is 16 bytes and its addresses, plus TLVs that nothing here reads.
pub const MAX_HEADER: usize = 4096;

/// What the bytes read so far say.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Too few bytes to tell; read more.
    Incomplete,
    /// No PROXY header: the bytes are the client's own.
    Absent,
    /// A header of `len` bytes, naming `client` (None: a LOCAL or UNKNOWN
    /// header, the balancer's own connection, e.g. a health check).
    Header {
        client: Option<SocketAddr>,
        len: usize,
    },
    Invalid(String),
}

/// Look at the first bytes of a connection.
pub fn parse(buf: &[u8]) -> Parsed {
    let starts = |sig: &[u8]| {
        let n = sig.len().min(buf.len());
        buf[..n] == sig[..n]
    };
    if starts(V1_SIGNATURE) {
        return parse_v1(buf);
    }
    if !starts(V2_SIGNATURE) {
        return Parsed::Absent;
    }
    let result = v2::Header::try_from(buf);
    if result.is_incomplete() {
        return if buf.len() >= MAX_HEADER {
            Parsed::Invalid(format!("PROXY header longer than {MAX_HEADER} bytes"))
        } else {
            Parsed::Incomplete
        };
    }
    match result {
        Ok(h) => Parsed::Header {
            client: match (h.command, h.addresses) {
                (v2::Command::Proxy, v2::Addresses::IPv4(a)) => {
                    Some(SocketAddr::from((a.source_address, a.source_port)))
                }
                (v2::Command::Proxy, v2::Addresses::IPv6(a)) => {
                    Some(SocketAddr::from((a.source_address, a.source_port)))
                }
                _ => None,
            },
            len: h.len(),
        },
        Err(e) => Parsed::Invalid(format!("PROXY v2 header: {e}")),
    }
}

/// The longest v1 line, CRLF included (the specification's limit).
const V1_MAX: usize = 107;

/// A v1 header is one line: parsed once it has ended (`ppp` would call
/// some lines that have ended incomplete, and some that have not, invalid).
fn parse_v1(buf: &[u8]) -> Parsed {
    let window = &buf[..buf.len().min(V1_MAX)];
    let Some(end) = window.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= V1_MAX {
            Parsed::Invalid(format!("PROXY v1 line longer than {V1_MAX} bytes"))
        } else {
            Parsed::Incomplete
        };
    };
    let line = &buf[..end + 2];
    match v1::Header::try_from(line) {
        Ok(h) => Parsed::Header {
            client: match h.addresses {
                v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
                v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
                v1::Addresses::Unknown => None,
            },
            len: line.len(),
        },
        Err(e) => Parsed::Invalid(format!("PROXY v1 header: {e}")),
    }
}

/// Read a trusted source's PROXY header, if it sends one, within `limit`.
/// Returns the client address it names (None: keep the peer's) and the
/// bytes read past it, which belong to the client's request.
pub async fn read_header<I: AsyncRead + Unpin>(
    io: &mut I,
    limit: Duration,
) -> io::Result<(Option<SocketAddr>, BytesMut)> {
    let mut buf = BytesMut::with_capacity(512);
    let read = async {
        loop {
            match parse(&buf) {
                Parsed::Incomplete => {}
                Parsed::Absent => return Ok(None),
                Parsed::Header { client, len } => {
                    let _ = buf.split_to(len);
                    return Ok(client);
                }
                Parsed::Invalid(why) => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, why))
                }
            }
            if io.read_buf(&mut buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed in its PROXY header",
                ));
            }
        }
    };
    match tokio::time::timeout(limit, read).await {
        Ok(client) => Ok((client?, buf)),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no PROXY header in time",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &[u8] = b"PROXY TCP4 203.0.113.7 192.0.2.1 5555 443\r\n";

    fn v2(command: u8, family: u8, addresses: &[u8]) -> Vec<u8> {
        let mut out = V2_SIGNATURE.to_vec();
        out.push(0x20 | command);
        out.push(family);
        out.extend((addresses.len() as u16).to_be_bytes());
        out.extend(addresses);
        out
    }

    #[test]
    fn a_v1_header_gives_the_client_and_its_length() {
        let mut bytes = V1.to_vec();
        bytes.extend(b"GET / HTTP/1.1\r\n");
        assert_eq!(
            parse(&bytes),
            Parsed::Header {
                client: Some("203.0.113.7:5555".parse().unwrap()),
                len: V1.len()
            }
        );
        let v6 = b"PROXY TCP6 2001:db8::7 2001:db8::1 5555 443\r\n";
        assert_eq!(
            parse(v6),
            Parsed::Header {
                client: Some("[2001:db8::7]:5555".parse().unwrap()),
                len: v6.len()
            }
        );
        assert_eq!(
            parse(b"PROXY UNKNOWN\r\n"),
            Parsed::Header {
                client: None,
                len: 15
            }
        );
    }

    #[test]
    fn a_v2_header_gives_the_client_and_its_length() {
        let addrs = [203, 0, 113, 7, 192, 0, 2, 1, 0x15, 0xb3, 0x01, 0xbb];
        let header = v2(0x1, 0x11, &addrs);
        let mut bytes = header.clone();
        bytes.extend(b"\x16\x03\x01");
        assert_eq!(
            parse(&bytes),
            Parsed::Header {
                client: Some("203.0.113.7:5555".parse().unwrap()),
                len: header.len()
            }
        );
        // LOCAL: the balancer speaking for itself.
        let local = v2(0x0, 0x00, &[]);
        assert_eq!(
            parse(&local),
            Parsed::Header {
                client: None,
                len: 16
            }
        );
    }

    #[test]
    fn every_prefix_of_a_header_is_incomplete() {
        let addrs = [203, 0, 113, 7, 192, 0, 2, 1, 0x15, 0xb3, 0x01, 0xbb];
        for header in [V1.to_vec(), v2(0x1, 0x11, &addrs)] {
            for end in 0..header.len() {
                assert_eq!(parse(&header[..end]), Parsed::Incomplete, "{end}");
            }
        }
    }

    #[test]
    fn other_bytes_are_no_header() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Parsed::Absent);
        assert_eq!(parse(b"\x16\x03\x01\x02\x00"), Parsed::Absent);
        assert_eq!(parse(b"PRI * HTTP/2.0\r\n"), Parsed::Absent);
        assert_eq!(parse(b"PROXX"), Parsed::Absent);
    }

    #[test]
    fn malformed_headers_are_invalid() {
        for bad in [
            &b"PROXY TCP4 300.0.0.1 192.0.2.1 1 2\r\n"[..],
            b"PROXY TCP9 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n",
            b"PROXY TCP4 1.2.3.4\r\n",
        ] {
            assert!(
                matches!(parse(bad), Parsed::Invalid(_)),
                "{:?}: {:?}",
                String::from_utf8_lossy(bad),
                parse(bad)
            );
        }
        // A v1 line that never ends.
        let mut long = b"PROXY TCP4 ".to_vec();
        long.resize(V1_MAX, b'1');
        assert!(matches!(parse(&long), Parsed::Invalid(_)));
        // v2 with a bad version nibble.
        let mut bad = v2(0x1, 0x11, &[0; 12]);
        bad[12] = 0x31;
        assert!(matches!(parse(&bad), Parsed::Invalid(_)));
    }
}
