//! Bearer-token (JWT) authentication: the kind of plugin tollgate's users
//! write (Karmen's API hands out JWT access tokens).
//!
//! ```json
//! { "keys": [ {"alg": "HS256", "secret": "at least sixteen bytes"},
//!             {"alg": "RS256", "kid": "2024", "publicKey": "-----BEGIN PUBLIC KEY-----..."},
//!             {"alg": "ES256", "publicKey": "-----BEGIN PUBLIC KEY-----..."} ],
//!   "issuer": "https://auth.example", "audience": ["api"],
//!   "leeway": 30, "requireExp": true,
//!   "requireClaims": {"type": "access"},
//!   "forwardClaims": {"sub": "X-User-Id", "user_claims.role": "X-User-Role"},
//!   "routeVars": {"device": "devices"},
//!   "removeHeader": false, "realm": "api",
//!   "header": "Authorization", "queryParam": null, "cookie": null }
//! ```
//!
//! The token comes from `Authorization: Bearer ...` (or `header`), else the
//! `queryParam` or `cookie` when configured. Missing or invalid: 401 with
//! `WWW-Authenticate: Bearer` (RFC 6750) and a JSON error; valid but a
//! `requireClaims` mismatch: 403. The `forwardClaims` headers are always
//! removed from the incoming request first, so a client cannot forge them.
//! `routeVars` routes a user only to the devices the token names
//! (`route.rs`).

pub mod keys;
pub mod route;
pub mod token;

use serde::Deserialize;
use serde_json::{Map, Value};
use tollgate_plugin_sdk::{Flow, Plugin, Request, Response};

use crate::keys::{Key, KeyConfig};
use crate::token::{Rejection, Rules};

/// One value or a list, as `iss`/`aud` settings are often written.
#[derive(Debug, Deserialize, Default)]
#[serde(untagged)]
pub enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_header() -> String {
    "Authorization".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    pub keys: Vec<KeyConfig>,
    #[serde(default)]
    pub issuer: OneOrMany,
    #[serde(default)]
    pub audience: OneOrMany,
    /// Seconds of clock skew tolerated on `exp` and `nbf`.
    #[serde(default)]
    pub leeway: u64,
    #[serde(default = "default_true")]
    pub require_exp: bool,
    #[serde(default)]
    pub require_claims: Map<String, Value>,
    /// Claim name (or dotted path) → request header for the upstream.
    #[serde(default)]
    pub forward_claims: Map<String, Value>,
    /// Route variable → claim (or dotted path) naming what the holder may
    /// reach (`route.rs`).
    #[serde(default)]
    pub route_vars: Map<String, Value>,
    #[serde(default)]
    pub remove_header: bool,
    #[serde(default)]
    pub realm: Option<String>,
    #[serde(default = "default_header")]
    pub header: String,
    #[serde(default)]
    pub query_param: Option<String>,
    #[serde(default)]
    pub cookie: Option<String>,
}

pub struct JwtAuth {
    keys: Vec<Key>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: u64,
    require_exp: bool,
    required_claims: Map<String, Value>,
    forward: Vec<(String, String)>,
    route_vars: Vec<(String, String)>,
    remove_header: bool,
    realm: String,
    header: String,
    query_param: Option<String>,
    cookie: Option<String>,
}

/// The result of checking one request, before anything is written.
#[derive(Debug, PartialEq)]
pub enum Decision {
    Allow(Map<String, Value>),
    /// No token at all: a bare challenge.
    Missing,
    Reject(Rejection),
}

impl JwtAuth {
    /// Check a token at `now` (Unix seconds).
    pub fn decide(&self, token: Option<&str>, now: u64) -> Decision {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Decision::Missing;
        };
        let rules = Rules {
            keys: &self.keys,
            issuers: &self.issuers,
            audiences: &self.audiences,
            leeway: self.leeway,
            require_exp: self.require_exp,
            required_claims: &self.required_claims,
        };
        match token::verify(token, now, &rules) {
            Ok(claims) => Decision::Allow(claims),
            Err(r) => Decision::Reject(r),
        }
    }

    fn token_of(&self, req: Request<'_>) -> Option<String> {
        if let Some(value) = req.headers().get(&self.header) {
            let value = value.trim();
            if self.header.eq_ignore_ascii_case("authorization") {
                if let Some((scheme, token)) = value.split_once(' ') {
                    if scheme.eq_ignore_ascii_case("bearer") {
                        return Some(token.trim().to_string());
                    }
                }
            } else {
                return Some(value.strip_prefix("Bearer ").unwrap_or(value).to_string());
            }
        }
        if let Some(param) = &self.query_param {
            if let Some(query) = req.query() {
                for pair in query.split('&') {
                    if let Some((k, v)) = pair.split_once('=') {
                        if k == param {
                            return Some(v.to_string());
                        }
                    }
                }
            }
        }
        if let Some(name) = &self.cookie {
            for header in req.headers().get_all("cookie") {
                for c in header.split(';') {
                    if let Some((k, v)) = c.trim().split_once('=') {
                        if k == name {
                            return Some(v.to_string());
                        }
                    }
                }
            }
        }
        None
    }

    fn challenge(&self, resp: Response<'_>, status: u16, rejection: Option<&Rejection>) {
        let mut challenge = format!("Bearer realm=\"{}\"", self.realm);
        let body = match rejection {
            Some(r) => {
                let (error, description) = match r {
                    Rejection::Forbidden(_) => ("insufficient_scope", r.description()),
                    _ => ("invalid_token", r.description()),
                };
                let quoted = description.replace(['"', '\\'], "'");
                challenge.push_str(&format!(
                    ", error=\"{error}\", error_description=\"{quoted}\""
                ));
                serde_json::json!({"error": error, "error_description": description})
            }
            None => serde_json::json!({"error": "missing_token",
                                       "error_description": "a bearer token is required"}),
        };
        resp.headers().set("www-authenticate", &challenge);
        resp.send(status, "application/json", format!("{body}\n").as_bytes());
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Header-safe: control characters would make the host refuse the value.
fn sanitize(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Plugin for JwtAuth {
    type Config = Config;
    const WANTS_RESPONSE: bool = false;

    fn new(config: Config) -> Result<Self, String> {
        if config.keys.is_empty() {
            return Err("jwt-auth: no keys configured".into());
        }
        let keys = config
            .keys
            .iter()
            .map(Key::from_config)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("jwt-auth: {e}"))?;
        let mut forward = Vec::new();
        for (claim, header) in config.forward_claims {
            let Value::String(header) = header else {
                return Err(format!(
                    "jwt-auth: forwardClaims.{claim} must be a header name"
                ));
            };
            forward.push((claim, header));
        }
        let mut route_vars = Vec::new();
        for (var, claim) in config.route_vars {
            let Value::String(claim) = claim else {
                return Err(format!("jwt-auth: routeVars.{var} must be a claim name"));
            };
            route_vars.push((var, claim));
        }
        Ok(JwtAuth {
            keys,
            issuers: config.issuer.into_vec(),
            audiences: config.audience.into_vec(),
            leeway: config.leeway,
            require_exp: config.require_exp,
            required_claims: config.require_claims,
            forward,
            route_vars,
            remove_header: config.remove_header,
            realm: config
                .realm
                .unwrap_or_else(|| "tollgate".into())
                .replace('"', ""),
            header: config.header,
            query_param: config.query_param.filter(|s| !s.is_empty()),
            cookie: config.cookie.filter(|s| !s.is_empty()),
        })
    }

    fn on_request(&mut self, req: Request<'_>, resp: Response<'_>) -> Flow {
        // Never let the client choose the values we vouch for.
        for (_, header) in &self.forward {
            req.headers().remove(header);
        }
        let token = self.token_of(req);
        match self.decide(token.as_deref(), now_unix()) {
            Decision::Allow(claims) => {
                for (var, claim_name) in &self.route_vars {
                    let claim = token::claim(&claims, claim_name);
                    match route::choose(claim_name, claim, req.route_var(var).as_deref()) {
                        Ok(route::Choice::Keep) => {}
                        Ok(route::Choice::Set(value)) => req.set_route_var(var, &value),
                        Err(r) => {
                            tollgate_plugin_sdk::debug!("jwt-auth: {var}: {}", r.description());
                            self.challenge(resp, 403, Some(&r));
                            return Flow::Respond;
                        }
                    }
                }
                for (name, header) in &self.forward {
                    if let Some(value) = token::claim(&claims, name) {
                        req.headers()
                            .set(header, sanitize(&token::header_value(value)));
                    }
                }
                if self.remove_header {
                    req.headers().remove(&self.header);
                }
                Flow::Continue
            }
            Decision::Missing => {
                self.challenge(resp, 401, None);
                Flow::Respond
            }
            Decision::Reject(r) => {
                tollgate_plugin_sdk::debug!("jwt-auth: token refused: {}", r.description());
                let status = if matches!(r, Rejection::Forbidden(_)) {
                    403
                } else {
                    401
                };
                self.challenge(resp, status, Some(&r));
                Flow::Respond
            }
        }
    }
}

#[cfg(test)]
mod tests;
