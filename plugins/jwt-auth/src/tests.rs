//! Tokens are signed here with the throwaway keys in `testdata/` (generated
//! with openssl for these tests only).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use p256::pkcs8::DecodePrivateKey as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tollgate_plugin_sdk::testing::{Harness, TestRequest};

use super::*;

pub const RSA_PRIVATE: &str = include_str!("../testdata/rsa-private.pem");
pub const RSA_PUBLIC: &str = include_str!("../testdata/rsa-public.pem");
pub const RSA_PUBLIC_PKCS1: &str = include_str!("../testdata/rsa-public-pkcs1.pem");
pub const RSA_OTHER_PUBLIC: &str = include_str!("../testdata/rsa-other-public.pem");
pub const EC_PRIVATE: &str = include_str!("../testdata/ec-private.pem");
pub const EC_PUBLIC: &str = include_str!("../testdata/ec-public.pem");
const SECRET: &str = "karmen-secret-0123456789";
const NOW: u64 = 1_700_000_000;

fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

fn sign(alg: &str, header_extra: Value, claims: Value) -> String {
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if let (Value::Object(h), Value::Object(extra)) = (&mut header, header_extra) {
        h.extend(extra);
    }
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match alg {
        "HS256" => {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(input.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        "RS256" => {
            use rsa::signature::hazmat::PrehashSigner;
            use rsa::signature::SignatureEncoding;
            let key = rsa::PrivateKey::from_pkcs8_pem(RSA_PRIVATE).unwrap();
            let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(key);
            let digest = Sha256::digest(input.as_bytes());
            signer.sign_prehash(&digest).unwrap().to_vec()
        }
        "ES256" => {
            use p256::ecdsa::signature::Signer;
            let key = p256::ecdsa::SigningKey::from_pkcs8_pem(EC_PRIVATE).unwrap();
            let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
            sig.to_bytes().to_vec()
        }
        other => panic!("{other}"),
    };
    format!("{input}.{}", b64(&signature))
}

fn plugin(extra: Value) -> JwtAuth {
    let mut config = json!({"keys": [
        {"alg": "HS256", "secret": SECRET},
        {"alg": "RS256", "publicKey": RSA_PUBLIC},
        {"alg": "ES256", "publicKey": EC_PUBLIC}
    ]});
    if let (Value::Object(c), Value::Object(extra)) = (&mut config, extra) {
        c.extend(extra);
    }
    JwtAuth::new(serde_json::from_value(config).unwrap()).unwrap()
}

fn valid_claims() -> Value {
    json!({"sub": "42", "exp": NOW + 60, "iss": "karmen", "aud": ["api", "web"]})
}

#[test]
fn each_algorithm_verifies() {
    let p = plugin(json!({}));
    for alg in ["HS256", "RS256", "ES256"] {
        let token = sign(alg, json!({}), valid_claims());
        assert!(
            matches!(p.decide(Some(&token), NOW), Decision::Allow(_)),
            "{alg}"
        );
    }
}

#[test]
fn tampered_payload_and_wrong_key_fail() {
    let p = plugin(json!({}));
    for alg in ["HS256", "RS256", "ES256"] {
        let token = sign(alg, json!({}), valid_claims());
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(json!({"sub": "1", "exp": NOW + 60}).to_string().as_bytes()),
            parts[2]
        );
        assert_eq!(
            p.decide(Some(&forged), NOW),
            Decision::Reject(Rejection::BadSignature),
            "{alg}"
        );
    }
    let other = plugin_with_keys(json!([{"alg": "RS256", "publicKey": RSA_OTHER_PUBLIC}]));
    let token = sign("RS256", json!({}), valid_claims());
    assert_eq!(
        other.decide(Some(&token), NOW),
        Decision::Reject(Rejection::BadSignature)
    );
}

fn plugin_with_keys(keys: Value) -> JwtAuth {
    JwtAuth::new(serde_json::from_value(json!({"keys": keys})).unwrap()).unwrap()
}

#[test]
fn alg_none_and_key_confusion_are_refused() {
    let p = plugin(json!({}));
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(valid_claims().to_string().as_bytes())
    );
    assert_eq!(
        p.decide(Some(&none), NOW),
        Decision::Reject(Rejection::UnsupportedAlg)
    );
    // An HS256 token "signed" with the RSA public key as secret: only RSA
    // keys exist, so no HMAC key is tried.
    let rsa_only = plugin_with_keys(json!([{"alg": "RS256", "publicKey": RSA_PUBLIC}]));
    let token = sign("HS256", json!({}), valid_claims());
    assert_eq!(
        rsa_only.decide(Some(&token), NOW),
        Decision::Reject(Rejection::NoKey)
    );
}

#[test]
fn pkcs1_pem_and_kid_selection() {
    let p = plugin_with_keys(json!([
        {"alg": "RS256", "kid": "old", "publicKey": RSA_OTHER_PUBLIC},
        {"alg": "RS256", "kid": "new", "publicKey": RSA_PUBLIC_PKCS1}
    ]));
    let token = sign("RS256", json!({"kid": "new"}), valid_claims());
    assert!(matches!(p.decide(Some(&token), NOW), Decision::Allow(_)));
    let token = sign("RS256", json!({"kid": "old"}), valid_claims());
    assert_eq!(
        p.decide(Some(&token), NOW),
        Decision::Reject(Rejection::BadSignature)
    );
    let token = sign("RS256", json!({"kid": "unknown"}), valid_claims());
    assert_eq!(
        p.decide(Some(&token), NOW),
        Decision::Reject(Rejection::NoKey)
    );
}

#[test]
fn time_claims_with_leeway() {
    let p = plugin(json!({}));
    let expired = sign("HS256", json!({}), json!({"exp": NOW - 1}));
    assert_eq!(
        p.decide(Some(&expired), NOW),
        Decision::Reject(Rejection::Expired)
    );
    let at_exp = sign("HS256", json!({}), json!({"exp": NOW}));
    assert_eq!(
        p.decide(Some(&at_exp), NOW),
        Decision::Reject(Rejection::Expired)
    );
    let future = sign(
        "HS256",
        json!({}),
        json!({"exp": NOW + 100, "nbf": NOW + 10}),
    );
    assert_eq!(
        p.decide(Some(&future), NOW),
        Decision::Reject(Rejection::NotYetValid)
    );
    let no_exp = sign("HS256", json!({}), json!({"sub": "1"}));
    assert_eq!(
        p.decide(Some(&no_exp), NOW),
        Decision::Reject(Rejection::MissingExp)
    );

    let lenient = plugin(json!({"leeway": 30, "requireExp": false}));
    assert!(matches!(
        lenient.decide(Some(&expired), NOW),
        Decision::Allow(_)
    ));
    assert!(matches!(
        lenient.decide(Some(&future), NOW),
        Decision::Allow(_)
    ));
    assert!(matches!(
        lenient.decide(Some(&no_exp), NOW),
        Decision::Allow(_)
    ));
}

#[test]
fn issuer_audience_and_required_claims() {
    let p = plugin(json!({"issuer": "karmen", "audience": "api"}));
    let ok = sign("ES256", json!({}), valid_claims());
    assert!(matches!(p.decide(Some(&ok), NOW), Decision::Allow(_)));
    let wrong_iss = sign(
        "ES256",
        json!({}),
        json!({"exp": NOW + 5, "iss": "x", "aud": "api"}),
    );
    assert_eq!(
        p.decide(Some(&wrong_iss), NOW),
        Decision::Reject(Rejection::WrongIssuer)
    );
    let wrong_aud = sign(
        "ES256",
        json!({}),
        json!({"exp": NOW + 5, "iss": "karmen", "aud": "x"}),
    );
    assert_eq!(
        p.decide(Some(&wrong_aud), NOW),
        Decision::Reject(Rejection::WrongAudience)
    );

    let p = plugin(json!({"requireClaims": {"type": "access", "roles": "admin"}}));
    let refresh = sign(
        "HS256",
        json!({}),
        json!({"exp": NOW + 5, "type": "refresh", "roles": ["admin"]}),
    );
    assert_eq!(
        p.decide(Some(&refresh), NOW),
        Decision::Reject(Rejection::Forbidden("type".into()))
    );
    let access = sign(
        "HS256",
        json!({}),
        json!({"exp": NOW + 5, "type": "access", "roles": ["user", "admin"]}),
    );
    assert!(matches!(p.decide(Some(&access), NOW), Decision::Allow(_)));
}

#[test]
fn malformed_tokens() {
    let p = plugin(json!({}));
    for bad in ["", "abc", "a.b", "a.b.c.d", "!!.??.**"] {
        assert!(
            matches!(
                p.decide(Some(bad), NOW),
                Decision::Missing | Decision::Reject(_)
            ),
            "{bad}"
        );
    }
    assert_eq!(p.decide(None, NOW), Decision::Missing);
}

#[test]
fn config_errors() {
    for (config, expected) in [
        (json!({"keys": []}), "no keys"),
        (
            json!({"keys": [{"alg": "HS512", "secret": SECRET}]}),
            "only HS256",
        ),
        (
            json!({"keys": [{"alg": "HS256", "secret": "short"}]}),
            "at least 16",
        ),
        (
            json!({"keys": [{"alg": "RS256", "publicKey": "garbage"}]}),
            "RS256 publicKey",
        ),
        (
            json!({"keys": [{"alg": "ES256", "publicKey": RSA_PUBLIC}]}),
            "ES256 publicKey",
        ),
        (
            json!({"keys": [{"alg": "HS256", "secret": SECRET}], "forwardClaims": {"sub": 1}}),
            "header name",
        ),
    ] {
        let err = Harness::<JwtAuth>::from_json(config).err().unwrap();
        assert!(err.contains(expected), "{err} should mention {expected}");
    }
}

#[test]
fn requests_through_the_harness() {
    let mut h = Harness::<JwtAuth>::from_json(json!({
        "keys": [{"alg": "HS256", "secret": SECRET}],
        "forwardClaims": {"sub": "X-User-Id", "user_claims.role": "X-User-Role"},
        "removeHeader": true, "realm": "karmen"
    }))
    .unwrap();
    let claims = json!({"sub": "42", "exp": now_unix() + 600,
                        "user_claims": {"role": "admin"}});
    let token = sign("HS256", json!({}), claims);
    let fwd = h
        .request(
            TestRequest::get("/api/printers")
                .with_header("authorization", format!("Bearer {token}"))
                .with_header("x-user-id", "forged"),
        )
        .forwarded();
    assert_eq!(fwd.request.header("x-user-id"), Some("42"));
    assert_eq!(fwd.request.header("x-user-role"), Some("admin"));
    assert_eq!(fwd.request.header("authorization"), None);

    let resp = h.request(TestRequest::get("/api")).responded();
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Bearer realm=\"karmen\"")
    );

    let expired = sign("HS256", json!({}), json!({"exp": 1000}));
    let resp = h
        .request(TestRequest::get("/api").with_header("authorization", format!("Bearer {expired}")))
        .responded();
    assert_eq!(resp.status, 401);
    assert!(resp
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_token\", error_description=\"token expired\""));
    assert!(resp.body_text().contains("token expired"));
}

#[test]
fn token_from_query_or_cookie() {
    let mut h = Harness::<JwtAuth>::from_json(json!({
        "keys": [{"alg": "HS256", "secret": SECRET}],
        "queryParam": "access_token", "cookie": "jwt"
    }))
    .unwrap();
    let token = sign("HS256", json!({}), json!({"exp": now_unix() + 600}));
    h.request(TestRequest::get(&format!(
        "/stream?cam=1&access_token={token}"
    )))
    .forwarded();
    h.request(TestRequest::get("/stream").with_header("cookie", format!("a=b; jwt={token}")))
        .forwarded();
    h.request(TestRequest::get("/stream?access_token=nope"))
        .responded();
}

#[test]
fn route_vars_reach_only_the_holders_devices() {
    let mut h = Harness::<JwtAuth>::from_json(json!({
        "keys": [{"alg": "HS256", "secret": SECRET}],
        "routeVars": {"device": "devices"}
    }))
    .unwrap();
    let bearer = |devices: Value| {
        let token = sign(
            "HS256",
            json!({}),
            json!({"sub": "7", "exp": now_unix() + 600, "devices": devices}),
        );
        format!("Bearer {token}")
    };
    let cam = |device: &str, auth: &str| {
        TestRequest::get("/stream")
            .with_header("authorization", auth)
            .with_route_var("device", device)
    };
    // Their own device: through, unchanged.
    let fwd = h
        .request(cam("zumi07", &bearer(json!(["zumi07", "zumi08"]))))
        .forwarded();
    assert_eq!(fwd.request.route_var("device"), Some("zumi07"));
    // Another's: 403, with the claim named.
    let resp = h
        .request(cam("zumi09", &bearer(json!(["zumi07", "zumi08"]))))
        .responded();
    assert_eq!(resp.status, 403);
    assert!(resp.body_text().contains("devices"), "{}", resp.body_text());
    // No device in the route: the token's only one is chosen.
    let fwd = h
        .request(TestRequest::get("/my-cam").with_header("authorization", bearer(json!("zumi07"))))
        .forwarded();
    assert_eq!(fwd.request.route_var("device"), Some("zumi07"));
    // ... but with several, the route does not say which.
    let resp = h
        .request(
            TestRequest::get("/my-cam").with_header("authorization", bearer(json!(["a", "b"]))),
        )
        .responded();
    assert_eq!(resp.status, 403);
    // No claim at all: 403.
    let token = sign(
        "HS256",
        json!({}),
        json!({"sub": "7", "exp": now_unix() + 600}),
    );
    let resp = h
        .request(cam("zumi07", &format!("Bearer {token}")))
        .responded();
    assert_eq!(resp.status, 403);
    // routeVars must name claims.
    let err = Harness::<JwtAuth>::from_json(json!({
        "keys": [{"alg": "HS256", "secret": SECRET}],
        "routeVars": {"device": 7}
    }))
    .err()
    .unwrap();
    assert!(err.contains("routeVars.device"), "{err}");
}
