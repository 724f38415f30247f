//! Traefik 1.7's `[frontends.X.headers]` as a tollgate plugin: custom request
//! and response headers, allowed hosts, SSL redirects, HSTS and the other
//! security headers, with the semantics of 1.7 (its `headers` middleware and
//! `unrolled/secure`).
//!
//! The config is the TOML table as JSON. Keys are matched without case, as
//! Traefik does (`SSLRedirect` = `sslRedirect`); header names inside
//! `customRequestHeaders` etc. keep theirs.
//!
//! Order, as in 1.7: allowed hosts (500 `Bad Host`), SSL redirect / forced
//! SSL host (301, or 307 with `sslTemporaryRedirect`), custom request
//! headers; on the way back the security headers, then the custom response
//! headers (an empty value removes a header).

use serde::Deserialize;
use serde_json::Value;
use tollgate_plugin_sdk::{Flow, Plugin, Request, Response};

/// The config, with lowercase keys (see [`Headers::new`]).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub customrequestheaders: Vec<(String, String)>,
    pub customresponseheaders: Vec<(String, String)>,
    pub allowedhosts: Vec<String>,
    pub hostsproxyheaders: Vec<String>,
    pub sslredirect: bool,
    pub ssltemporaryredirect: bool,
    pub sslhost: String,
    pub sslforcehost: bool,
    /// tollgate's: the port of SSL redirects (Traefik 2/3's
    /// `redirectScheme.port`); 0 keeps the request's host as it is.
    pub sslport: u16,
    pub sslproxyheaders: Vec<(String, String)>,
    pub stsseconds: u64,
    pub stsincludesubdomains: bool,
    pub stspreload: bool,
    pub forcestsheader: bool,
    pub framedeny: bool,
    pub customframeoptionsvalue: String,
    pub contenttypenosniff: bool,
    pub browserxssfilter: bool,
    pub custombrowserxssvalue: String,
    pub contentsecuritypolicy: String,
    pub publickey: String,
    pub referrerpolicy: String,
    pub isdevelopment: bool,
}

impl Config {
    /// Accept Traefik's mixed-case keys, and tables for the header maps.
    pub fn from_json(value: Value) -> Result<Config, String> {
        let Value::Object(map) = value else {
            return Err("headers: config must be a table".to_string());
        };
        let mut lower = serde_json::Map::new();
        for (key, value) in map {
            let key = key.to_ascii_lowercase();
            // Header tables become ordered (name, value) lists.
            let value = match (key.as_str(), value) {
                (
                    "customrequestheaders" | "customresponseheaders" | "sslproxyheaders",
                    Value::Object(headers),
                ) => Value::Array(
                    headers
                        .into_iter()
                        .map(|(k, v)| Value::Array(vec![Value::String(k), v]))
                        .collect(),
                ),
                (_, v) => v,
            };
            lower.insert(key, value);
        }
        serde_json::from_value(Value::Object(lower)).map_err(|e| format!("headers: {e}"))
    }
}

pub struct Headers {
    config: Config,
    /// Security headers computed from the config; `needs_ssl` ones only on
    /// SSL requests.
    security: Vec<SecurityHeader>,
}

struct SecurityHeader {
    name: &'static str,
    value: String,
    needs_ssl: bool,
}

/// `ctx` bit saying the request came over SSL (decides HSTS and HPKP).
const CTX_SSL: u32 = 1;

impl Headers {
    fn host_of(&self, req: Request<'_>) -> String {
        for header in &self.config.hostsproxyheaders {
            if let Some(h) = req.headers().get(header).filter(|h| !h.is_empty()) {
                return h;
            }
        }
        req.host().unwrap_or_default()
    }

    fn is_ssl(&self, req: Request<'_>) -> bool {
        req.scheme().eq_ignore_ascii_case("https")
            || self
                .config
                .sslproxyheaders
                .iter()
                .any(|(k, v)| req.headers().get(k).as_deref() == Some(v.as_str()))
    }

    fn needs_scheme(&self) -> bool {
        let c = &self.config;
        (c.sslredirect && !c.isdevelopment) || self.security.iter().any(|h| h.needs_ssl)
    }

    fn redirect(&self, req: Request<'_>, resp: Response<'_>, host: &str) -> Flow {
        let location = match self.config.sslport {
            0 => format!("https://{host}{}", req.uri()),
            // 443 is https's own: no port in the URL, as Traefik writes it.
            port => {
                let name = strip_port(host);
                let port = if port == 443 {
                    String::new()
                } else {
                    format!(":{port}")
                };
                format!("https://{name}{port}{}", req.uri())
            }
        };
        let status = if self.config.ssltemporaryredirect {
            307
        } else {
            301
        };
        resp.headers().set("location", &location);
        // Go's http.Redirect: a short HTML body for GET and HEAD.
        let method = req.method();
        if method == "GET" || method == "HEAD" {
            let text = if status == 301 {
                "Moved Permanently"
            } else {
                "Temporary Redirect"
            };
            let body = format!("<a href=\"{}\">{text}</a>.\n\n", html_escape(&location));
            resp.send(status, "text/html; charset=utf-8", body.as_bytes());
        } else {
            resp.set_status(status);
        }
        Flow::Respond
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn security_headers(c: &Config) -> Vec<SecurityHeader> {
    let mut out = Vec::new();
    let mut push = |name, value: String, needs_ssl| {
        out.push(SecurityHeader {
            name,
            value,
            needs_ssl,
        })
    };
    if c.stsseconds != 0 && !c.isdevelopment {
        let mut value = format!("max-age={}", c.stsseconds);
        if c.stsincludesubdomains {
            value.push_str("; includeSubdomains");
        }
        if c.stspreload {
            value.push_str("; preload");
        }
        push("strict-transport-security", value, !c.forcestsheader);
    }
    if !c.customframeoptionsvalue.is_empty() {
        push("x-frame-options", c.customframeoptionsvalue.clone(), false);
    } else if c.framedeny {
        push("x-frame-options", "DENY".to_string(), false);
    }
    if c.contenttypenosniff {
        push("x-content-type-options", "nosniff".to_string(), false);
    }
    if !c.custombrowserxssvalue.is_empty() {
        push("x-xss-protection", c.custombrowserxssvalue.clone(), false);
    } else if c.browserxssfilter {
        push("x-xss-protection", "1; mode=block".to_string(), false);
    }
    if !c.publickey.is_empty() && !c.isdevelopment {
        push("public-key-pins", c.publickey.clone(), true);
    }
    if !c.contentsecuritypolicy.is_empty() {
        push(
            "content-security-policy",
            c.contentsecuritypolicy.clone(),
            false,
        );
    }
    if !c.referrerpolicy.is_empty() {
        push("referrer-policy", c.referrerpolicy.clone(), false);
    }
    out
}

fn apply(headers: tollgate_plugin_sdk::Headers<'_>, custom: &[(String, String)]) {
    for (name, value) in custom {
        if value.is_empty() {
            headers.remove(name);
        } else {
            headers.set(name, value);
        }
    }
}

impl Plugin for Headers {
    type Config = Value;

    fn new(config: Value) -> Result<Self, String> {
        let config = Config::from_json(config)?;
        let security = security_headers(&config);
        Ok(Headers { config, security })
    }

    fn on_request(&mut self, req: Request<'_>, resp: Response<'_>) -> Flow {
        let c = &self.config;
        let needs_host =
            (!c.isdevelopment && (!c.allowedhosts.is_empty() || c.sslredirect)) || c.sslforcehost;
        let host = if needs_host {
            self.host_of(req)
        } else {
            String::new()
        };

        if !c.allowedhosts.is_empty()
            && !c.isdevelopment
            && !c.allowedhosts.iter().any(|h| h.eq_ignore_ascii_case(&host))
        {
            resp.send(500, "text/plain; charset=utf-8", b"Bad Host\n");
            return Flow::Respond;
        }

        let ssl = self.needs_scheme() && self.is_ssl(req);
        if c.sslredirect && !ssl && !c.isdevelopment {
            let target = if c.sslhost.is_empty() {
                host.as_str()
            } else {
                c.sslhost.as_str()
            };
            return self.redirect(req, resp, target);
        }
        if c.sslforcehost && !c.sslhost.is_empty() && !host.eq_ignore_ascii_case(&c.sslhost) {
            return self.redirect(req, resp, &c.sslhost);
        }

        apply(req.headers(), &c.customrequestheaders);
        Flow::ContinueWith(if ssl { CTX_SSL } else { 0 })
    }

    fn on_response(&mut self, _: Request<'_>, resp: Response<'_>, ctx: u32, is_error: bool) {
        if is_error {
            return;
        }
        let ssl = ctx & CTX_SSL != 0;
        for h in &self.security {
            if !h.needs_ssl || ssl {
                resp.headers().set(h.name, &h.value);
            }
        }
        apply(resp.headers(), &self.config.customresponseheaders);
    }
}

/// `example.com:8080` → `example.com`; `[::1]:8080` → `[::1]`.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tollgate_plugin_sdk::testing::{Harness, TestRequest, TestResponse};

    fn harness(config: Value) -> Harness<Headers> {
        Harness::<Headers>::from_json(config).unwrap()
    }

    #[test]
    fn custom_headers_set_and_empty_removes() {
        let mut h = harness(json!({
            "customRequestHeaders": {"X-Script-Name": "/zumi01", "X-Drop": ""},
            "customResponseHeaders": {"X-Served-By": "tollgate", "Server": ""}
        }));
        let (fwd, resp) = h.round_trip(
            TestRequest::get("/").with_header("x-drop", "1"),
            TestResponse::new(200)
                .with_header("server", "jupyter")
                .with_header("x-served-by", "backend"),
        );
        let fwd = fwd.unwrap();
        assert_eq!(fwd.header("x-script-name"), Some("/zumi01"));
        assert_eq!(fwd.header("x-drop"), None);
        assert_eq!(resp.header("x-served-by"), Some("tollgate"));
        assert_eq!(resp.header("server"), None);
    }

    #[test]
    fn empty_config_changes_nothing() {
        let mut h = harness(json!({}));
        let req = TestRequest::get("/a?b").with_header("x-a", "1");
        let (fwd, resp) = h.round_trip(req.clone(), TestResponse::new(204));
        assert_eq!(fwd.unwrap(), req);
        assert_eq!(resp, TestResponse::new(204));
    }

    #[test]
    fn allowed_hosts_with_proxy_headers() {
        let mut h = harness(json!({
            "allowedHosts": ["good.test"], "hostsProxyHeaders": ["X-Forwarded-Host"]
        }));
        let resp = h
            .request(TestRequest::get("/").set_header("host", "evil.test"))
            .responded();
        assert_eq!(
            (resp.status, resp.body_text().as_str()),
            (500, "Bad Host\n")
        );
        h.request(TestRequest::get("/").set_header("host", "GOOD.test"))
            .forwarded();
        h.request(
            TestRequest::get("/")
                .set_header("host", "evil.test")
                .with_header("x-forwarded-host", "good.test"),
        )
        .forwarded();

        let mut dev = harness(json!({"allowedHosts": ["good.test"], "isDevelopment": true}));
        dev.request(TestRequest::get("/").set_header("host", "evil.test"))
            .forwarded();
    }

    #[test]
    fn ssl_redirect_to_a_port() {
        let mut h = harness(json!({"sslRedirect": true, "sslPort": 8443}));
        let resp = h
            .request(TestRequest::get("/p").set_header("host", "a.test:8080"))
            .responded();
        assert_eq!(resp.header("location"), Some("https://a.test:8443/p"));
        let mut h = harness(json!({"sslRedirect": true, "sslPort": 443}));
        let resp = h
            .request(TestRequest::get("/p").set_header("host", "[::1]:8080"))
            .responded();
        assert_eq!(resp.header("location"), Some("https://[::1]/p"));
    }

    #[test]
    fn ssl_redirect_permanent_temporary_and_host() {
        let mut h = harness(json!({"SSLRedirect": true}));
        let resp = h
            .request(TestRequest::get("/p?q=1").set_header("host", "a.test"))
            .responded();
        assert_eq!(resp.status, 301);
        assert_eq!(resp.header("location"), Some("https://a.test/p?q=1"));
        assert!(resp.body_text().contains("Moved Permanently"));
        h.request(TestRequest::get("/").https()).forwarded();

        let mut h = harness(json!({"sslRedirect": true, "sslTemporaryRedirect": true,
                                   "sslHost": "secure.test"}));
        let resp = h
            .request(TestRequest::post("/upload", "x").set_header("host", "a.test"))
            .responded();
        assert_eq!(resp.status, 307);
        assert_eq!(resp.header("location"), Some("https://secure.test/upload"));
        assert!(resp.body.is_empty());
    }

    #[test]
    fn ssl_proxy_headers_count_as_ssl() {
        let mut h = harness(json!({
            "sslRedirect": true, "SSLProxyHeaders": {"X-Forwarded-Proto": "https"}
        }));
        h.request(TestRequest::get("/").with_header("x-forwarded-proto", "https"))
            .forwarded();
        assert_eq!(h.request(TestRequest::get("/")).responded().status, 301);
    }

    #[test]
    fn ssl_force_host() {
        let mut h = harness(json!({"sslForceHost": true, "sslHost": "main.test"}));
        let resp = h
            .request(
                TestRequest::get("/x")
                    .https()
                    .set_header("host", "alias.test"),
            )
            .responded();
        assert_eq!(resp.header("location"), Some("https://main.test/x"));
        h.request(
            TestRequest::get("/x")
                .https()
                .set_header("host", "main.test"),
        )
        .forwarded();
    }

    #[test]
    fn hsts_only_over_ssl_unless_forced() {
        let config = json!({"STSSeconds": 315360000, "STSIncludeSubdomains": true,
                            "STSPreload": true});
        let mut h = harness(config.clone());
        let (_, plain) = h.round_trip(TestRequest::get("/"), TestResponse::new(200));
        assert_eq!(plain.header("strict-transport-security"), None);
        let (_, tls) = h.round_trip(TestRequest::get("/").https(), TestResponse::new(200));
        assert_eq!(
            tls.header("strict-transport-security"),
            Some("max-age=315360000; includeSubdomains; preload")
        );

        let mut forced = harness(json!({"stsSeconds": 60, "forceSTSHeader": true}));
        let (_, plain) = forced.round_trip(TestRequest::get("/"), TestResponse::new(200));
        assert_eq!(
            plain.header("strict-transport-security"),
            Some("max-age=60")
        );
    }

    #[test]
    fn security_headers() {
        let mut h = harness(json!({
            "frameDeny": true, "contentTypeNosniff": true, "browserXssFilter": true,
            "contentSecurityPolicy": "default-src 'self'", "referrerPolicy": "same-origin"
        }));
        let (_, resp) = h.round_trip(
            TestRequest::get("/"),
            TestResponse::new(200).with_header("x-frame-options", "ALLOWALL"),
        );
        assert_eq!(resp.header("x-frame-options"), Some("DENY"));
        assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(resp.header("x-xss-protection"), Some("1; mode=block"));
        assert_eq!(
            resp.header("content-security-policy"),
            Some("default-src 'self'")
        );
        assert_eq!(resp.header("referrer-policy"), Some("same-origin"));

        let mut custom = harness(json!({
            "frameDeny": true, "customFrameOptionsValue": "SAMEORIGIN",
            "browserXssFilter": true, "customBrowserXSSValue": "0"
        }));
        let (_, resp) = custom.round_trip(TestRequest::get("/"), TestResponse::new(200));
        assert_eq!(resp.header("x-frame-options"), Some("SAMEORIGIN"));
        assert_eq!(resp.header("x-xss-protection"), Some("0"));
    }

    #[test]
    fn upstream_errors_are_left_alone() {
        let mut h = harness(json!({"frameDeny": true}));
        let fwd = h.request(TestRequest::get("/")).forwarded();
        h.upstream_error(fwd);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Harness::<Headers>::from_json(json!({"frameDenied": true}))
            .err()
            .unwrap();
        assert!(err.contains("unknown field"), "{err}");
    }
}
