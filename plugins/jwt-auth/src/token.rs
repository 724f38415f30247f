//! Compact JWS verification and the registered claims (`exp`, `nbf`, `iss`,
//! `aud`). Pure: the caller passes the current time.

use serde_json::{Map, Value};

use crate::keys::{decode_any_base64, Alg, Key};

/// Why a token was refused; the text goes to the client in
/// `error_description`, so it names the rule, never the expected value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Malformed(&'static str),
    UnsupportedAlg,
    NoKey,
    BadSignature,
    Expired,
    NotYetValid,
    MissingExp,
    WrongIssuer,
    WrongAudience,
    /// Valid, but a required claim does not match: 403 rather than 401.
    Forbidden(String),
}

impl Rejection {
    pub fn description(&self) -> String {
        match self {
            Rejection::Malformed(why) => format!("malformed token: {why}"),
            Rejection::UnsupportedAlg => "unsupported signature algorithm".into(),
            Rejection::NoKey => "no key for this token".into(),
            Rejection::BadSignature => "invalid signature".into(),
            Rejection::Expired => "token expired".into(),
            Rejection::NotYetValid => "token not yet valid".into(),
            Rejection::MissingExp => "token has no expiry".into(),
            Rejection::WrongIssuer => "wrong issuer".into(),
            Rejection::WrongAudience => "wrong audience".into(),
            Rejection::Forbidden(claim) => format!("claim {claim:?} does not allow access"),
        }
    }
}

pub struct Rules<'a> {
    pub keys: &'a [Key],
    pub issuers: &'a [String],
    pub audiences: &'a [String],
    pub leeway: u64,
    pub require_exp: bool,
    pub required_claims: &'a Map<String, Value>,
}

fn decode_json(part: &str, what: &'static str) -> Result<Map<String, Value>, Rejection> {
    let bytes = decode_any_base64(part).ok_or(Rejection::Malformed(what))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Rejection::Malformed(what)),
    }
}

/// A `NumericDate`: seconds, possibly fractional.
fn seconds(value: &Value) -> Option<f64> {
    value.as_f64()
}

/// Verify `token` at `now` (Unix seconds); returns its claims.
pub fn verify(token: &str, now: u64, rules: &Rules<'_>) -> Result<Map<String, Value>, Rejection> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Malformed("not three parts"));
    };

    let head = decode_json(header, "header")?;
    let alg = head
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(Rejection::Malformed("no alg"))?;
    // `none` and anything we have no key type for: refused before any key is
    // tried, so an RSA public key can never be used as an HMAC secret.
    let alg = Alg::parse(alg).ok_or(Rejection::UnsupportedAlg)?;
    let kid = head.get("kid").and_then(Value::as_str);
    let signature = decode_any_base64(signature).ok_or(Rejection::Malformed("signature"))?;
    let signed = &token.as_bytes()[..header.len() + 1 + payload.len()];

    let mut candidates = rules
        .keys
        .iter()
        .filter(|k| k.alg == alg)
        .filter(|k| match (kid, &k.kid) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        })
        .peekable();
    if candidates.peek().is_none() {
        return Err(Rejection::NoKey);
    }
    if !candidates.any(|k| k.verify(signed, &signature)) {
        return Err(Rejection::BadSignature);
    }

    let claims = decode_json(payload, "payload")?;
    let now = now as f64;
    let leeway = rules.leeway as f64;
    match claims.get("exp") {
        Some(exp) => {
            let exp = seconds(exp).ok_or(Rejection::Malformed("exp"))?;
            if now >= exp + leeway {
                return Err(Rejection::Expired);
            }
        }
        None if rules.require_exp => return Err(Rejection::MissingExp),
        None => {}
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = seconds(nbf).ok_or(Rejection::Malformed("nbf"))?;
        if now + leeway < nbf {
            return Err(Rejection::NotYetValid);
        }
    }
    if !rules.issuers.is_empty() {
        let iss = claims.get("iss").and_then(Value::as_str);
        if !iss.is_some_and(|iss| rules.issuers.iter().any(|i| i == iss)) {
            return Err(Rejection::WrongIssuer);
        }
    }
    if !rules.audiences.is_empty() {
        let ok = match claims.get("aud") {
            Some(Value::String(aud)) => rules.audiences.contains(aud),
            Some(Value::Array(auds)) => auds
                .iter()
                .filter_map(Value::as_str)
                .any(|aud| rules.audiences.iter().any(|a| a == aud)),
            _ => false,
        };
        if !ok {
            return Err(Rejection::WrongAudience);
        }
    }
    for (name, wanted) in rules.required_claims {
        let ok = match claim(&claims, name) {
            Some(Value::Array(items)) if !wanted.is_array() => items.contains(wanted),
            Some(value) => value == wanted,
            None => false,
        };
        if !ok {
            return Err(Rejection::Forbidden(name.clone()));
        }
    }
    Ok(claims)
}

/// A claim by name, or by dotted path into nested objects
/// (`user_claims.role`). An exact top-level name wins.
pub fn claim<'c>(claims: &'c Map<String, Value>, name: &str) -> Option<&'c Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// A claim as a header value: text as is, arrays joined with `,`, objects
/// as JSON.
pub fn header_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(header_value).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
