//! HTTP basic authentication against htpasswd users: Traefik 1.7's
//! `basicAuth` / `[frontends.X.auth.basic]`, as a tollgate plugin.
//!
//! Config (JSON; tollgate writes it from the frontend's TOML):
//!
//! ```json
//! { "users": ["test:$apr1$...", "bob:{SHA}..."],
//!   "realm": "traefik", "removeHeader": false,
//!   "headerField": "X-WebAuth-User", "cacheSize": 1024 }
//! ```
//!
//! `users` are htpasswd lines (`usersFile` is read by tollgate, which
//! appends its lines: the plugin has no file system). A request without
//! valid credentials gets `401` with `WWW-Authenticate: Basic realm="..."`.

mod b64;
pub mod cache;
pub mod htpasswd;
mod md5crypt;

use std::collections::HashMap;

use serde::Deserialize;
use tollgate_plugin_sdk::{Flow, Plugin, Request, Response};

use crate::cache::CredentialCache;
use crate::htpasswd::Hash;

fn default_realm() -> String {
    "traefik".to_string()
}

fn default_cache_size() -> usize {
    1024
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    pub users: Vec<String>,
    #[serde(default = "default_realm")]
    pub realm: String,
    /// Drop `Authorization` before the request goes upstream.
    #[serde(default)]
    pub remove_header: bool,
    /// Pass the authenticated user upstream in this header.
    #[serde(default)]
    pub header_field: Option<String>,
    /// Verified credentials remembered per instance; 0 disables the cache.
    #[serde(default = "default_cache_size")]
    pub cache_size: usize,
}

pub struct BasicAuth {
    /// User name -> (index into `names`, hash).
    users: HashMap<String, (u32, Hash)>,
    names: Vec<String>,
    challenge: String,
    remove_header: bool,
    header_field: Option<String>,
    cache: CredentialCache,
    /// Where the credentials of the request are decoded: kept, so that a
    /// request allocates nothing for it; zeroed after each use.
    scratch: Vec<u8>,
    /// Where the request's `Authorization` header is read: kept and zeroed
    /// likewise.
    header: Vec<u8>,
}

impl BasicAuth {
    /// The user whose credentials `authorization` carries, if they are valid.
    pub fn authenticate(&mut self, authorization: Option<&[u8]>) -> Option<String> {
        let user = self.user_of(authorization?)?;
        Some(self.names[user as usize].clone())
    }

    /// The index of the user whose credentials `authorization` (the whole
    /// header value) carries, if they are valid. A credential seen before is
    /// a cache hit; otherwise it is decoded into a buffer kept from request
    /// to request (no allocation), zeroed afterwards, and verified.
    fn user_of(&mut self, authorization: &[u8]) -> Option<u32> {
        if let Some(user) = self.cache.get(authorization) {
            return Some(user);
        }
        let mut buf = std::mem::take(&mut self.scratch);
        let verified =
            htpasswd::parse_basic_into(authorization, &mut buf).and_then(|(user, password)| {
                let (index, hash) = self.users.get(user)?;
                hash.verify(password).then_some((*index, hash.is_slow()))
            });
        buf.fill(0);
        self.scratch = buf;
        let (user, slow) = verified?;
        // Only slow hashes are worth remembering; a fast one (SHA-1) is
        // cheaper to verify again than to keep.
        if slow {
            self.cache.insert(authorization, user);
        }
        Some(user)
    }

    pub fn cached_credentials(&self) -> usize {
        self.cache.len()
    }
}

impl Plugin for BasicAuth {
    type Config = Config;
    /// The decision is made on the request: the instance is free again as
    /// soon as it is made.
    const WANTS_RESPONSE: bool = false;

    fn new(config: Config) -> Result<Self, String> {
        let mut users = HashMap::new();
        let mut names = Vec::new();
        for line in &config.users {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let (user, hash) = htpasswd::parse_user(line)?;
            if hash == Hash::Unsupported {
                // Traefik 1.7 loads these and then never matches them; say so.
                tollgate_plugin_sdk::warn!(
                    "basic-auth: user {user:?} has an unsupported hash (plain text?): \
                     it will never authenticate"
                );
            }
            // A user listed twice: the last line wins, as in a map.
            let index = match users.get(&user) {
                Some((index, _)) => *index,
                None => {
                    names.push(user.clone());
                    (names.len() - 1) as u32
                }
            };
            users.insert(user, (index, hash));
        }
        if users.is_empty() {
            return Err("basic-auth: no users configured".to_string());
        }
        let realm = config.realm.replace('"', "");
        Ok(BasicAuth {
            users,
            names,
            challenge: format!("Basic realm=\"{realm}\""),
            remove_header: config.remove_header,
            header_field: config.header_field.filter(|h| !h.is_empty()),
            cache: CredentialCache::new(config.cache_size),
            scratch: Vec::new(),
            header: Vec::new(),
        })
    }

    fn on_request(&mut self, req: Request<'_>, resp: Response<'_>) -> Flow {
        let mut header = std::mem::take(&mut self.header);
        let present = req.headers().get_into("authorization", &mut header);
        let user = if present { self.user_of(&header) } else { None };
        header.fill(0);
        self.header = header;
        match user {
            Some(user) => {
                if self.remove_header {
                    req.headers().remove("authorization");
                }
                if let Some(field) = &self.header_field {
                    req.headers().set(field, &self.names[user as usize]);
                }
                Flow::Continue
            }
            None => {
                resp.headers().set("www-authenticate", &self.challenge);
                resp.send(401, "text/plain; charset=utf-8", b"401 Unauthorized\n");
                Flow::Respond
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;
    use tollgate_plugin_sdk::testing::{Harness, TestRequest};

    const APR1: &str = "test:$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/";

    fn basic(user: &str, password: &str) -> String {
        let raw = format!("{user}:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    #[test]
    fn missing_or_wrong_credentials_get_401_with_challenge() {
        let mut h = Harness::<BasicAuth>::from_json(json!({"users": [APR1]})).unwrap();
        let resp = h.request(TestRequest::get("/")).responded();
        assert_eq!(resp.status, 401);
        assert_eq!(
            resp.header("www-authenticate"),
            Some("Basic realm=\"traefik\"")
        );
        assert_eq!(resp.body_text(), "401 Unauthorized\n");

        let resp = h
            .request(TestRequest::get("/").with_header("authorization", basic("test", "nope")))
            .responded();
        assert_eq!(resp.status, 401);
        let resp = h
            .request(TestRequest::get("/").with_header("authorization", basic("other", "password")))
            .responded();
        assert_eq!(resp.status, 401);
    }

    #[test]
    fn valid_credentials_continue_and_keep_header_by_default() {
        let mut h = Harness::<BasicAuth>::from_json(json!({"users": [APR1]})).unwrap();
        let fwd = h
            .request(TestRequest::get("/").with_header("authorization", basic("test", "password")))
            .forwarded();
        assert!(fwd.request.header("authorization").is_some());
    }

    #[test]
    fn remove_header_and_header_field() {
        let mut h = Harness::<BasicAuth>::from_json(json!({
            "users": [APR1], "removeHeader": true, "headerField": "X-WebAuth-User",
            "realm": "zumi"
        }))
        .unwrap();
        let fwd = h
            .request(TestRequest::get("/").with_header("authorization", basic("test", "password")))
            .forwarded();
        assert_eq!(fwd.request.header("authorization"), None);
        assert_eq!(fwd.request.header("x-webauth-user"), Some("test"));
        // The decoded password does not stay in the kept buffer.
        assert!(!h.plugin().scratch.is_empty());
        assert!(h.plugin().scratch.iter().all(|&b| b == 0));

        let resp = h.request(TestRequest::get("/")).responded();
        assert_eq!(
            resp.header("www-authenticate"),
            Some("Basic realm=\"zumi\"")
        );
    }

    #[test]
    fn slow_hashes_are_cached_after_first_success() {
        let stored = bcrypt::hash_with_salt(b"s3cret", 4, [1u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        let mut h =
            Harness::<BasicAuth>::from_json(json!({"users": [format!("bob:{stored}")]})).unwrap();
        assert_eq!(h.plugin().cached_credentials(), 0);
        for _ in 0..3 {
            h.request(TestRequest::get("/").with_header("authorization", basic("bob", "s3cret")))
                .forwarded();
        }
        assert_eq!(h.plugin().cached_credentials(), 1);
        // A wrong password is neither accepted nor cached.
        h.request(TestRequest::get("/").with_header("authorization", basic("bob", "s3creT")))
            .responded();
        assert_eq!(h.plugin().cached_credentials(), 1);
    }

    #[test]
    fn a_cached_credential_still_names_its_user() {
        let hash = |pw: &[u8]| {
            bcrypt::hash_with_salt(pw, 4, [2u8; 16])
                .unwrap()
                .format_for_version(bcrypt::Version::TwoY)
        };
        let users = [format!("ann:{}", hash(b"a")), format!("bob:{}", hash(b"b"))];
        let mut h = Harness::<BasicAuth>::from_json(
            json!({"users": users, "headerField": "X-WebAuth-User"}),
        )
        .unwrap();
        for round in 0..2 {
            for (user, password) in [("ann", "a"), ("bob", "b")] {
                let fwd = h
                    .request(
                        TestRequest::get("/").with_header("authorization", basic(user, password)),
                    )
                    .forwarded();
                assert_eq!(
                    fwd.request.header("x-webauth-user"),
                    Some(user),
                    "round {round}"
                );
            }
        }
        assert_eq!(h.plugin().cached_credentials(), 2);
        // The same credential written another way is verified, then cached
        // as written.
        let other = basic("bob", "b").replacen("Basic", "basic", 1);
        let fwd = h
            .request(TestRequest::get("/").with_header("authorization", other))
            .forwarded();
        assert_eq!(fwd.request.header("x-webauth-user"), Some("bob"));
        assert_eq!(h.plugin().cached_credentials(), 3);
        // Another user's password under a cached user is refused.
        h.request(TestRequest::get("/").with_header("authorization", basic("bob", "a")))
            .responded();
    }

    #[test]
    fn config_errors() {
        let err = Harness::<BasicAuth>::from_json(json!({"users": []}))
            .err()
            .unwrap();
        assert!(err.contains("no users"), "{err}");
        let err = Harness::<BasicAuth>::from_json(json!({"users": ["nocolon"]}))
            .err()
            .unwrap();
        assert!(err.contains("not `user:hash`"), "{err}");
        let err = Harness::<BasicAuth>::from_json(json!({"users": [APR1], "realms": "x"}))
            .err()
            .unwrap();
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn plain_text_users_load_but_never_match() {
        let mut h = Harness::<BasicAuth>::from_json(json!({"users": ["test:password"]})).unwrap();
        h.request(TestRequest::get("/").with_header("authorization", basic("test", "password")))
            .responded();
    }
}
