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
    users: HashMap<String, Hash>,
    challenge: String,
    remove_header: bool,
    header_field: Option<String>,
    cache: CredentialCache,
    /// Where the credentials of the request are decoded: kept, so that a
    /// request allocates nothing for it; zeroed after each request.
    scratch: Vec<u8>,
    /// Where the request's `Authorization` header is read: kept and zeroed
    /// likewise.
    header: Vec<u8>,
}

impl BasicAuth {
    /// The user whose credentials `authorization` carries, if they are valid.
    pub fn authenticate(&mut self, authorization: Option<&[u8]>) -> Option<String> {
        self.with_user(authorization, |_, user| user.map(str::to_string))
    }

    /// Run `then` with the user whose credentials `authorization` carries,
    /// if they are valid. The credentials are decoded into a buffer kept
    /// from request to request (no allocation), zeroed afterwards.
    fn with_user<R>(
        &mut self,
        authorization: Option<&[u8]>,
        then: impl FnOnce(&Self, Option<&str>) -> R,
    ) -> R {
        let mut buf = std::mem::take(&mut self.scratch);
        let user = authorization
            .and_then(|a| htpasswd::parse_basic_into(a, &mut buf))
            .filter(|(user, password)| self.verify(user, password))
            .map(|(user, _)| user);
        let out = then(self, user);
        buf.fill(0);
        self.scratch = buf;
        out
    }

    /// Whether `password` is `user`'s. A slow hash (bcrypt, md5crypt) is
    /// computed once per credential: later requests hit the cache.
    fn verify(&mut self, user: &str, password: &[u8]) -> bool {
        // Only verified slow-hash credentials are cached, and an instance's
        // users never change: a hit needs no lookup of the user.
        if self.cache.contains(user, password) {
            return true;
        }
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        if !hash.verify(password) {
            return false;
        }
        if hash.is_slow() {
            self.cache.insert(user, password);
        }
        true
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
            users.insert(user, hash);
        }
        if users.is_empty() {
            return Err("basic-auth: no users configured".to_string());
        }
        let realm = config.realm.replace('"', "");
        Ok(BasicAuth {
            users,
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
        let authorization = present.then_some(header.as_slice());
        let flow = self.with_user(authorization, |this, user| match user {
            Some(user) => {
                if this.remove_header {
                    req.headers().remove("authorization");
                }
                if let Some(field) = &this.header_field {
                    req.headers().set(field, user);
                }
                Flow::Continue
            }
            None => {
                resp.headers().set("www-authenticate", &this.challenge);
                resp.send(401, "text/plain; charset=utf-8", b"401 Unauthorized\n");
                Flow::Respond
            }
        });
        header.fill(0);
        self.header = header;
        flow
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
