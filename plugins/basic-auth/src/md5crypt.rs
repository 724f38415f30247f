//! MD5-crypt (`$1$`, and Apache's `$apr1$` which differs only by its magic
//! string), as produced by `htpasswd -m` and `openssl passwd -1/-apr1`.

use md5::{Digest, Md5};

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The full hash string (`$apr1$salt$digest`) for `password` with `salt`
/// (at most 8 bytes are used, up to the first `$`) and `magic` (`$1$` or `$apr1$`).
pub fn hash(password: &[u8], salt: &[u8], magic: &[u8]) -> String {
    let salt = salt.split(|&b| b == b'$').next().unwrap_or_default();
    let salt = &salt[..salt.len().min(8)];

    let mut alt = Md5::new();
    alt.update(password);
    alt.update(salt);
    alt.update(password);
    let alt = alt.finalize();

    let mut ctx = Md5::new();
    ctx.update(password);
    ctx.update(magic);
    ctx.update(salt);
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alt[..n]);
        left -= n;
    }
    // A quirk of the original algorithm: for each bit of the length, a NUL
    // byte or the first byte of the password.
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        bits >>= 1;
    }
    let mut digest: [u8; 16] = ctx.finalize().into();

    // 1000 rounds to slow down brute force.
    for round in 0..1000 {
        let mut ctx = Md5::new();
        if round & 1 == 1 {
            ctx.update(password);
        } else {
            ctx.update(digest);
        }
        if round % 3 != 0 {
            ctx.update(salt);
        }
        if round % 7 != 0 {
            ctx.update(password);
        }
        if round & 1 == 1 {
            ctx.update(digest);
        } else {
            ctx.update(password);
        }
        digest = ctx.finalize().into();
    }

    let mut out = String::with_capacity(magic.len() + salt.len() + 1 + 22);
    out.push_str(&String::from_utf8_lossy(magic));
    out.push_str(&String::from_utf8_lossy(salt));
    out.push('$');
    let d = &digest;
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        to64(
            &mut out,
            (u32::from(d[a]) << 16) | (u32::from(d[b]) << 8) | u32::from(d[c]),
            4,
        );
    }
    to64(&mut out, u32::from(d[11]), 2);
    out
}

fn to64(out: &mut String, mut v: u32, n: usize) {
    for _ in 0..n {
        out.push(char::from(ITOA64[(v & 0x3f) as usize]));
        v >>= 6;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from `openssl passwd -1 -salt saltsalt password` and
    // `openssl passwd -apr1 -salt saltsalt password`.
    #[test]
    fn known_vectors() {
        assert_eq!(
            hash(b"password", b"saltsalt", b"$1$"),
            "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"
        );
        assert_eq!(
            hash(b"password", b"saltsalt", b"$apr1$"),
            "$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/"
        );
    }

    #[test]
    fn salt_stops_at_dollar_and_eight_bytes() {
        assert_eq!(
            hash(b"password", b"saltsalt$rest", b"$1$"),
            hash(b"password", b"saltsaltEXTRA", b"$1$")
        );
    }
}
