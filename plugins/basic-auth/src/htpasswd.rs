//! htpasswd entries (`user:hash`) and password verification, with the hash
//! types Traefik 1.7 accepts. The scheme is chosen by the hash's prefix;
//! anything else (plain text included) never matches.

use base64::Engine as _;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

use crate::md5crypt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hash {
    /// `$apr1$salt$...` or `$1$salt$...`
    Md5Crypt { magic: &'static str, full: String },
    /// `{SHA}base64(sha1(password))`
    Sha1(Vec<u8>),
    /// `$2a$`, `$2b$`, `$2y$` (and `$2x$`)
    Bcrypt(String),
    /// Not a hash we know: never matches, reported at load.
    Unsupported,
}

impl Hash {
    pub fn parse(hash: &str) -> Hash {
        if hash.starts_with("$apr1$") {
            Hash::Md5Crypt {
                magic: "$apr1$",
                full: hash.to_string(),
            }
        } else if hash.starts_with("$1$") {
            Hash::Md5Crypt {
                magic: "$1$",
                full: hash.to_string(),
            }
        } else if let Some(b64) = hash.strip_prefix("{SHA}") {
            match base64::engine::general_purpose::STANDARD.decode(b64) {
                Ok(digest) if digest.len() == 20 => Hash::Sha1(digest),
                _ => Hash::Unsupported,
            }
        } else if ["$2a$", "$2b$", "$2y$", "$2x$"]
            .iter()
            .any(|p| hash.starts_with(p))
        {
            Hash::Bcrypt(hash.to_string())
        } else {
            Hash::Unsupported
        }
    }

    /// Whether verifying this kind costs real CPU (worth caching).
    pub fn is_slow(&self) -> bool {
        matches!(self, Hash::Bcrypt(_) | Hash::Md5Crypt { .. })
    }

    /// Constant-time in the compared bytes; the time spent hashing depends
    /// only on the stored hash (its cost), not on how close the guess is.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            Hash::Md5Crypt { magic, full } => {
                let salt = &full[magic.len()..];
                let computed = md5crypt::hash(password, salt.as_bytes(), magic.as_bytes());
                computed.as_bytes().ct_eq(full.as_bytes()).into()
            }
            Hash::Sha1(expected) => {
                let digest = Sha1::digest(password);
                digest.as_slice().ct_eq(expected).into()
            }
            Hash::Bcrypt(full) => bcrypt::verify(password, full).unwrap_or(false),
            Hash::Unsupported => false,
        }
    }
}

/// One `user:hash` line. Surrounding blanks are ignored; the hash may itself
/// contain `:` only after the first one.
pub fn parse_user(line: &str) -> Result<(String, Hash), String> {
    let line = line.trim();
    let (user, hash) = line
        .split_once(':')
        .ok_or_else(|| format!("user entry {line:?} is not `user:hash`"))?;
    if user.is_empty() {
        return Err(format!("user entry {line:?} has an empty user name"));
    }
    Ok((user.to_string(), Hash::parse(hash)))
}

/// The user and password of an `Authorization: Basic ...` value.
pub fn parse_basic(header: &[u8]) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    parse_basic_into(header, &mut buf).map(|(user, password)| (user.to_string(), password.to_vec()))
}

/// [`parse_basic`] decoding into `buf` (cleared first), borrowed by the
/// result: a buffer kept from request to request makes this allocation-free.
pub fn parse_basic_into<'b>(header: &[u8], buf: &'b mut Vec<u8>) -> Option<(&'b str, &'b [u8])> {
    let header = header.trim_ascii();
    let space = header.iter().position(|&b| b == b' ')?;
    let (scheme, creds) = (&header[..space], &header[space + 1..]);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    crate::b64::decode_into(creds.trim_ascii(), buf)?;
    let colon = buf.iter().position(|&b| b == b':')?;
    let (user, password) = buf.split_at(colon);
    Some((std::str::from_utf8(user).ok()?, &password[1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    // `openssl passwd -apr1 -salt saltsalt password` etc.
    const APR1: &str = "$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/";
    const MD5: &str = "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/";
    // base64(sha1("password"))
    const SHA: &str = "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=";

    #[test]
    fn each_scheme_verifies_and_rejects() {
        for stored in [APR1, MD5, SHA] {
            let h = Hash::parse(stored);
            assert!(h.verify(b"password"), "{stored}");
            assert!(!h.verify(b"passwore"), "{stored}");
            assert!(!h.verify(b""), "{stored}");
        }
    }

    #[test]
    fn bcrypt_variants_verify() {
        // The same hash under each prefix bcrypt implementations write.
        let hashed = bcrypt::hash_with_salt(b"password", 4, [7u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let stored = format!("{prefix}{}", &hashed[4..]);
            let h = Hash::parse(&stored);
            assert!(matches!(h, Hash::Bcrypt(_)));
            assert!(h.verify(b"password"), "{stored}");
            assert!(!h.verify(b"Password"), "{stored}");
        }
    }

    /// A vector from OpenBSD's bcrypt test suite, so the scheme is checked
    /// against an implementation other than the one under test.
    #[test]
    fn bcrypt_reference_vector() {
        let h = Hash::parse("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW");
        assert!(h.verify(b"U*U"));
        assert!(!h.verify(b"U*V"));
    }

    #[test]
    fn plain_text_and_garbage_never_match() {
        assert_eq!(Hash::parse("password"), Hash::Unsupported);
        assert!(!Hash::parse("password").verify(b"password"));
        assert_eq!(Hash::parse("{SHA}notbase64!"), Hash::Unsupported);
        assert!(!Hash::parse("$2y$broken").verify(b"x"));
    }

    #[test]
    fn user_lines() {
        let (user, hash) = parse_user("  test:$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/ ").unwrap();
        assert_eq!(user, "test");
        assert!(hash.verify(b"password"));
        assert!(parse_user("nocolon").is_err());
        assert!(parse_user(":hash").is_err());
    }

    #[test]
    fn basic_header() {
        // "test:pa:ss"
        assert_eq!(
            parse_basic(b"Basic dGVzdDpwYTpzcw=="),
            Some(("test".to_string(), b"pa:ss".to_vec()))
        );
        assert_eq!(
            parse_basic(b"basic   dGVzdDpwYTpzcw==").map(|c| c.0),
            Some("test".to_string())
        );
        assert_eq!(parse_basic(b"Bearer abc"), None);
        assert_eq!(parse_basic(b"Basic !!!"), None);
        // no colon
        assert_eq!(parse_basic(b"Basic dGVzdA=="), None);
        // A kept buffer: each call starts from an empty one.
        let mut buf = b"leftover from before".to_vec();
        assert_eq!(
            parse_basic_into(b"Basic dGVzdDpwYTpzcw==", &mut buf),
            Some(("test", &b"pa:ss"[..]))
        );
        assert_eq!(
            parse_basic_into(b"Basic YTpi", &mut buf),
            Some(("a", &b"b"[..]))
        );
    }
}
