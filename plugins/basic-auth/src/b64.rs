//! Standard base64 (RFC 4648 section 4, padded) decoding of the short
//! `user:password` of a Basic `Authorization` header, into a kept buffer.
//!
//! The `base64` crate is built for long inputs; on the ~20 bytes of a
//! credential its setup (length estimates, zero-filling the output) costs
//! more than the decoding, on every request. This is the same strict
//! decoding (padding required, no whitespace, no stray bits in the last
//! symbol), in a loop that writes straight into `out`; the tests check it
//! against the crate.

/// The value of each byte as a base64 digit, or `INVALID`.
const INVALID: u8 = 0xff;
const DECODE: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Decode `input` into `out` (cleared first); None if it is not canonical
/// padded base64.
pub fn decode_into(input: &[u8], out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    if input.len() % 4 != 0 {
        return None;
    }
    out.reserve(input.len() / 4 * 3);
    let mut chunks = input.chunks_exact(4).peekable();
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let pad = if last {
            chunk.iter().rev().take_while(|&&b| b == b'=').count()
        } else {
            0
        };
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &b in &chunk[..4 - pad] {
            let v = DECODE[b as usize];
            if v == INVALID {
                return None;
            }
            n = n << 6 | u32::from(v);
        }
        match pad {
            0 => out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]),
            // 3 symbols, 18 bits: 2 bytes and 2 bits that must be zero.
            1 => {
                if n & 0b11 != 0 {
                    return None;
                }
                out.extend_from_slice(&[(n >> 10) as u8, (n >> 2) as u8]);
            }
            // 2 symbols, 12 bits: 1 byte and 4 bits that must be zero.
            _ => {
                if n & 0b1111 != 0 {
                    return None;
                }
                out.push((n >> 4) as u8);
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn crate_decode(input: &[u8]) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD.decode(input).ok()
    }

    fn ours(input: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0xaa; 3];
        decode_into(input, &mut out).map(|()| out)
    }

    #[test]
    fn agrees_with_the_base64_crate() {
        let fixed: [&[u8]; 16] = [
            b"",
            b"dGVzdDpwYXNzd29yZA==",
            b"dGVzdDpwYXNzd29yZA=",
            b"dGVzdDpwYXNzd29yZA",
            b"dGVzdDpwYXNzd29yZB==", // stray bits in the last symbol
            b"dGVzdDpwYXNzd29yZA==dGVz",
            b"====",
            b"A===",
            b"AA==",
            b"AAA=",
            b"AB==",
            b"AAB=",
            b"Zm9v",
            b"Zm9vYg==",
            b"Zm 9v",
            b"Zm9v\n",
        ];
        for input in fixed {
            assert_eq!(
                ours(input),
                crate_decode(input),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        // Round trips of every length, and random strings over the
        // alphabet plus a few strays.
        let symbols = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ ";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in 0..64 {
            let raw: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let encoded = base64::engine::general_purpose::STANDARD.encode(&raw);
            assert_eq!(ours(encoded.as_bytes()), Some(raw));
        }
        for _ in 0..20_000 {
            let len = (next() % 13) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| symbols[(next() % symbols.len() as u64) as usize])
                .collect();
            assert_eq!(
                ours(&input),
                crate_decode(&input),
                "{:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}
