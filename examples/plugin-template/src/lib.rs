//! Example auth plugin: requests must carry one of the configured API keys
//! in a header; the upstream learns which client it was.
//!
//! ```toml
//! [plugins.apikey]
//! path = "plugins/api-key-auth.wasm"
//!   [plugins.apikey.config]
//!   header = "X-Api-Key"
//!   [plugins.apikey.config.keys]
//!   printer-farm = "9f2c1c0d5b7e4a4f"
//!   dashboard = "0b8e7d6c5a4f3e2d"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use tollgate_plugin_sdk::{Flow, Plugin, Request, Response};

fn default_header() -> String {
    "X-Api-Key".to_string()
}

/// The plugin's `config` table. Unknown keys are an error, so a typo shows
/// up when tollgate loads the config rather than as a silent default.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Client name → key.
    pub keys: BTreeMap<String, String>,
    #[serde(default = "default_header")]
    pub header: String,
    /// Header that tells the upstream which client called.
    #[serde(default)]
    pub client_header: Option<String>,
}

pub struct ApiKeyAuth {
    keys: Vec<(String, Vec<u8>)>,
    header: String,
    client_header: String,
    /// Plugin state lives as long as the instance: here, a request counter
    /// (each instance keeps its own).
    accepted: u64,
}

/// Compare without stopping at the first difference, so response time does
/// not tell an attacker how much of a key they guessed.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl ApiKeyAuth {
    /// The client a key belongs to. Pure: unit tests call it directly.
    pub fn client_for(&self, key: &[u8]) -> Option<&str> {
        // Check every key, even after a match: constant work per request.
        let mut found = None;
        for (client, expected) in &self.keys {
            if same(key, expected) {
                found = Some(client.as_str());
            }
        }
        found
    }
}

impl Plugin for ApiKeyAuth {
    type Config = Config;
    /// Everything is decided on the request: tollgate need not call back
    /// with the response (and frees the instance sooner).
    const WANTS_RESPONSE: bool = false;

    fn new(config: Config) -> Result<Self, String> {
        if config.keys.is_empty() {
            return Err("api-key-auth: no keys configured".into());
        }
        if let Some((client, _)) = config.keys.iter().find(|(_, k)| k.len() < 16) {
            return Err(format!(
                "api-key-auth: the key of {client} is shorter than 16 characters"
            ));
        }
        Ok(ApiKeyAuth {
            keys: config
                .keys
                .into_iter()
                .map(|(client, key)| (client, key.into_bytes()))
                .collect(),
            header: config.header,
            client_header: config
                .client_header
                .unwrap_or_else(|| "X-Api-Client".to_string()),
            accepted: 0,
        })
    }

    fn on_request(&mut self, req: Request<'_>, resp: Response<'_>) -> Flow {
        // Never forward an identity header the client made up.
        req.headers().remove(&self.client_header);

        let key = req.headers().get_bytes(&self.header).unwrap_or_default();
        match self.client_for(&key).map(str::to_owned) {
            Some(client) => {
                self.accepted += 1;
                req.headers().remove(&self.header);
                req.headers().set(&self.client_header, client);
                Flow::Continue
            }
            None => {
                tollgate_plugin_sdk::debug!("api-key-auth: refused a request to {}", req.path());
                resp.headers().set("www-authenticate", "ApiKey");
                resp.send(
                    401,
                    "text/plain; charset=utf-8",
                    b"missing or unknown API key\n",
                );
                Flow::Respond
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tollgate_plugin_sdk::testing::{Harness, TestRequest, TestResponse};

    fn harness() -> Harness<ApiKeyAuth> {
        Harness::from_json(json!({"keys": {"farm": "0123456789abcdef"}})).unwrap()
    }

    #[test]
    fn a_known_key_passes_and_names_the_client() {
        let mut h = harness();
        let (forwarded, resp) = h.round_trip(
            TestRequest::get("/api/printers").with_header("x-api-key", "0123456789abcdef"),
            TestResponse::new(200),
        );
        let forwarded = forwarded.expect("request went upstream");
        assert_eq!(forwarded.header("x-api-client"), Some("farm"));
        assert_eq!(forwarded.header("x-api-key"), None, "the key stays here");
        assert_eq!(resp.status, 200);
        assert_eq!(h.plugin().accepted, 1);
    }

    #[test]
    fn a_missing_or_wrong_key_gets_401() {
        let mut h = harness();
        for req in [
            TestRequest::get("/"),
            TestRequest::get("/").with_header("x-api-key", "0123456789abcdeX"),
        ] {
            let resp = h.request(req).responded();
            assert_eq!(resp.status, 401);
            assert_eq!(resp.header("www-authenticate"), Some("ApiKey"));
        }
    }

    #[test]
    fn a_forged_client_header_is_dropped() {
        let mut h = harness();
        let resp = h
            .request(TestRequest::get("/").with_header("x-api-client", "admin"))
            .responded();
        assert_eq!(resp.status, 401);
        let fwd = h
            .request(
                TestRequest::get("/")
                    .with_header("x-api-client", "admin")
                    .with_header("x-api-key", "0123456789abcdef"),
            )
            .forwarded();
        assert_eq!(
            fwd.request.headers.get_all("x-api-client"),
            vec![b"farm".to_vec()]
        );
    }

    #[test]
    fn config_mistakes_are_reported() {
        let err = Harness::<ApiKeyAuth>::from_json(json!({"keys": {"x": "short"}}))
            .err()
            .unwrap();
        assert!(err.contains("shorter than 16"), "{err}");
        let err = Harness::<ApiKeyAuth>::from_json(json!({"key": {}}))
            .err()
            .unwrap();
        assert!(err.contains("unknown field"), "{err}");
    }
}
