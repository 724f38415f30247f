//! Fuzz target for the htpasswd and `Authorization: Basic` parsers (the
//! engine is tollgate's, tests/fuzz/mutate.rs): any line or header value
//! gives a user or an error, never a panic, and what parses round-trips.

#[path = "../../../tests/fuzz/mutate.rs"]
mod mutate;

use basic_auth::htpasswd::{parse_basic, parse_user};

#[test]
fn htpasswd_lines_and_basic_credentials() {
    let words: &[&[u8]] = &[
        b":", b"$apr1$", b"$2y$05$", b"{SHA}", b"$1$", b"Basic ", b"=", b"\n",
    ];
    let runs = mutate::run("htpasswd", words, |input| {
        let text = String::from_utf8_lossy(input);
        for line in text.lines() {
            if let Ok((user, _hash)) = parse_user(line) {
                assert!(!user.is_empty());
                assert!(!user.contains(':'), "{user:?}");
            }
        }
        if let Some((user, password)) = parse_basic(input) {
            assert!(!user.contains(':'), "{user:?}");
            assert!(password.len() <= input.len());
        }
    });
    eprintln!("htpasswd: {runs} inputs");
}
