//! Device tokens: 32 random bytes, base64url (43 characters), shown once by
//! `tollgate tunnel-token NAME`; the server keeps only their bcrypt hash
//! (`[tunnels.devices.NAME] tokenHash`), so its config file gives no device
//! away. bcrypt's cost makes each check take tens of milliseconds, which is
//! why it runs off the async workers (`verify`), once per tunnel, not per
//! request.

use base64::Engine;

/// bcrypt's work factor for new hashes (2^10 rounds, ~50 ms).
const COST: u32 = 10;

/// A new token and its hash.
pub fn new_token() -> Result<(String, String), String> {
    let rng = ring::rand::SystemRandom::new();
    let mut secret = [0u8; 32];
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&rng, &mut secret).map_err(|_| "no system randomness")?;
    ring::rand::SecureRandom::fill(&rng, &mut salt).map_err(|_| "no system randomness")?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let hash = bcrypt::hash_with_salt(&token, COST, salt)
        .map_err(|e| format!("bcrypt: {e}"))?
        .format_for_version(bcrypt::Version::TwoB);
    Ok((token, hash))
}

/// Does `token` match `hash`? On a blocking thread.
pub async fn verify(token: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || bcrypt::verify(token, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_matches_its_hash_only() {
        let (token, hash) = new_token().unwrap();
        assert_eq!(token.len(), 43);
        assert!(super::super::hello::parse_hello(&format!("TOLLGATE-TUNNEL/1 d {token}")).is_ok());
        assert!(hash.starts_with("$2b$10$") && hash.len() == 60, "{hash}");
        assert!(verify(token.clone(), hash.clone()).await);
        let (other, _) = new_token().unwrap();
        assert!(!verify(other, hash.clone()).await);
        assert!(!verify(token, "not a hash".into()).await);
    }
}
