//! One DNS exchange with one server, for the DNS-01 provider (its updates
//! and its checks): over UDP, again over TCP when the answer comes back
//! truncated. A datagram that is not the answer to this query (another
//! ID, not a response) is ignored, so a stray or spoofed packet cannot
//! end the wait early.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// The largest DNS message (TCP's 16-bit length).
const MAX_MESSAGE: usize = 65_535;

/// Sends `query` (a whole message, its ID `id`) to `server` and returns
/// the answer's bytes, within `timeout` for each transport.
pub async fn exchange(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let answer = tokio::time::timeout(timeout, udp(server, query, id))
        .await
        .map_err(|_| format!("no answer from {server} within {timeout:?}"))??;
    if !truncated(&answer) {
        return Ok(answer);
    }
    tokio::time::timeout(timeout, tcp(server, query, id))
        .await
        .map_err(|_| format!("no answer from {server} over TCP within {timeout:?}"))?
}

async fn udp(server: SocketAddr, query: &[u8], id: u16) -> Result<Vec<u8>, String> {
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let io = |e: std::io::Error| format!("{server}: {e}");
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    // Connected: the kernel drops datagrams from any other address.
    socket.connect(server).await.map_err(io)?;
    socket.send(query).await.map_err(io)?;
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let n = socket.recv(&mut buf).await.map_err(io)?;
        if answers(&buf[..n], id) {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn tcp(server: SocketAddr, query: &[u8], id: u16) -> Result<Vec<u8>, String> {
    let io = |e: std::io::Error| format!("{server} (TCP): {e}");
    let mut stream = TcpStream::connect(server).await.map_err(io)?;
    let len = u16::try_from(query.len()).map_err(|_| "query too long".to_owned())?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.map_err(io)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.map_err(io)?;
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut answer).await.map_err(io)?;
    if !answers(&answer, id) {
        return Err(format!("{server} (TCP) answered another query"));
    }
    Ok(answer)
}

/// A response (QR set) with this ID.
fn answers(message: &[u8], id: u16) -> bool {
    message.len() >= 12 && message[..2] == id.to_be_bytes() && message[2] & 0x80 != 0
}

/// The header's TC bit.
fn truncated(message: &[u8]) -> bool {
    message.len() >= 12 && message[2] & 0x02 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_responses_with_the_id_are_taken() {
        let mut msg = [0u8; 12];
        msg[..2].copy_from_slice(&0x1234u16.to_be_bytes());
        assert!(!answers(&msg, 0x1234), "a query is no answer");
        msg[2] = 0x80;
        assert!(answers(&msg, 0x1234));
        assert!(!answers(&msg, 0x1235));
        assert!(!answers(&msg[..11], 0x1234), "too short");
        assert!(!truncated(&msg));
        msg[2] |= 0x02;
        assert!(truncated(&msg));
    }

    #[tokio::test]
    async fn stray_datagrams_are_ignored_and_truncation_falls_back_to_tcp() {
        // A fake server on UDP and TCP of one port: over UDP it first sends
        // a response with another ID, then the right one truncated; over TCP
        // the full answer.
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        let tcp = tokio::net::TcpListener::bind(addr).await.unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let (n, peer) = udp.recv_from(&mut buf).await.unwrap();
            let mut stray = buf[..n].to_vec();
            stray[0] ^= 0xff;
            stray[2] |= 0x80;
            udp.send_to(&stray, peer).await.unwrap();
            let mut cut = buf[..n].to_vec();
            cut[2] |= 0x82;
            udp.send_to(&cut, peer).await.unwrap();
        });
        tokio::spawn(async move {
            let (mut s, _) = tcp.accept().await.unwrap();
            let mut len = [0u8; 2];
            s.read_exact(&mut len).await.unwrap();
            let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut q).await.unwrap();
            q[2] |= 0x80;
            q.extend_from_slice(b"full");
            s.write_all(&(q.len() as u16).to_be_bytes()).await.unwrap();
            s.write_all(&q).await.unwrap();
        });
        let mut query = vec![0u8; 12];
        query[..2].copy_from_slice(&0xbeefu16.to_be_bytes());
        let answer = exchange(addr, &query, 0xbeef, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(answer.ends_with(b"full"), "{answer:?}");
    }
}
