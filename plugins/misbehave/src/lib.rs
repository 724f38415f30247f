//! A test guest for tollgate's sandbox and ABI tests: it loops forever,
//! allocates without bound, traps, or behaves, as its config (or, with
//! `modeHeader`, each request) asks. Never deploy it.
//!
//! ```json
//! { "mode": "noop", "modeHeader": "x-misbehave" }
//! ```
//!
//! Modes: `noop`, `loop`, `alloc`, `trap`, `spin-ms:N` (busy for N ms, then
//! continue), `counter` (per-instance request count in `x-guest-count`),
//! `echo-config` (answers with its config), `respond` (418 from the guest),
//! `body` (buffers both bodies and upper-cases them, checking the
//! streaming-vs-buffering paths), `misuse` (changes the request after it went
//! on: the host must fail the request), `stdout` (writes to WASI stdout and
//! stderr). `init-trap` / `init-loop` misbehave while the instance starts.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;
use tollgate_plugin_sdk::{Features, Flow, Plugin, Request, Response};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(default = "default_mode")]
    pub mode: String,
    #[serde(default)]
    pub mode_header: Option<String>,
    /// Anything else is kept for `echo-config`.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

/// `ctx` values marking what `on_response` must do (the counter's own
/// values stay below 2^31).
const CTX_BODY: u32 = (1 << 31) | 1;
const CTX_MISUSE: u32 = (1 << 31) | 2;

fn default_mode() -> String {
    "noop".to_string()
}

pub struct Misbehave {
    mode: String,
    mode_header: Option<String>,
    config_echo: String,
    count: u64,
    /// Kept alive so `alloc` really holds its memory.
    hoard: Vec<Vec<u8>>,
}

fn spin(duration: Duration) {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

impl Misbehave {
    fn mode_for(&self, req: Request<'_>) -> String {
        self.mode_header
            .as_deref()
            .and_then(|h| req.headers().get(h))
            .unwrap_or_else(|| self.mode.clone())
    }

    fn run(&mut self, mode: &str, req: Request<'_>, resp: Response<'_>) -> Flow {
        match mode {
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => loop {
                let mut chunk = vec![0u8; 1 << 20];
                chunk[0] = 1;
                self.hoard.push(std::hint::black_box(chunk));
            },
            "trap" => panic!("misbehave: trapping on purpose"),
            "counter" => {
                self.count += 1;
                req.headers().set("x-guest-count", self.count.to_string());
                Flow::ContinueWith((self.count as u32) & 0x7fff_ffff)
            }
            "echo-config" => {
                resp.send(200, "application/json", self.config_echo.as_bytes());
                Flow::Respond
            }
            "respond" => {
                resp.headers().set("x-from", "guest");
                resp.send(418, "text/plain", b"short and stout\n");
                Flow::Respond
            }
            "body" => {
                req.enable_features(Features::BUFFER_REQUEST | Features::BUFFER_RESPONSE);
                let body = req.body().read_all();
                if !body.is_empty() {
                    req.body().write(&body.to_ascii_uppercase());
                }
                req.headers()
                    .set("x-request-body-len", body.len().to_string());
                Flow::ContinueWith(CTX_BODY)
            }
            "misuse" => Flow::ContinueWith(CTX_MISUSE),
            "stdout" => {
                println!("misbehave says hello on stdout");
                eprintln!("misbehave says hello on stderr");
                tollgate_plugin_sdk::info!("misbehave says hello through log");
                Flow::Continue
            }
            other => {
                if let Some(ms) = other.strip_prefix("spin-ms:") {
                    spin(Duration::from_millis(ms.parse().unwrap_or(0)));
                }
                Flow::Continue
            }
        }
    }
}

impl Plugin for Misbehave {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        match config.mode.as_str() {
            "init-trap" => panic!("misbehave: trapping during start"),
            "init-loop" => loop {
                std::hint::black_box(());
            },
            "init-error" => return Err("misbehave: refusing to start".into()),
            _ => {}
        }
        let mut echo = config.rest.clone();
        echo.insert("mode".into(), Value::String(config.mode.clone()));
        Ok(Misbehave {
            mode: config.mode,
            mode_header: config.mode_header,
            config_echo: Value::Object(echo).to_string(),
            count: 0,
            hoard: Vec::new(),
        })
    }

    fn on_request(&mut self, req: Request<'_>, resp: Response<'_>) -> Flow {
        let mode = self.mode_for(req);
        self.run(&mode, req, resp)
    }

    fn on_response(&mut self, req: Request<'_>, resp: Response<'_>, ctx: u32, is_error: bool) {
        if is_error {
            return;
        }
        match ctx {
            CTX_BODY => {
                let body = resp.body().read_all();
                resp.body().write(&body.to_ascii_uppercase());
                resp.headers()
                    .set("x-response-body-len", body.len().to_string());
            }
            CTX_MISUSE => req.headers().set("x-too-late", "1"),
            _ => {}
        }
        if self.mode_for(req) == "counter" {
            resp.headers().set("x-guest-count", self.count.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tollgate_plugin_sdk::testing::{Harness, TestRequest, TestResponse};

    #[test]
    fn counter_persists_per_instance() {
        let mut h = Harness::<Misbehave>::from_json(json!({"mode": "counter"})).unwrap();
        for expected in 1..=3 {
            let (fwd, resp) = h.round_trip(TestRequest::get("/"), TestResponse::new(200));
            assert_eq!(
                fwd.unwrap().header("x-guest-count"),
                Some(expected.to_string().as_str())
            );
            assert_eq!(
                resp.header("x-guest-count"),
                Some(expected.to_string().as_str())
            );
        }
    }

    #[test]
    fn echo_config_and_mode_header() {
        let mut h = Harness::<Misbehave>::from_json(
            json!({"mode": "noop", "modeHeader": "x-mode", "answer": 42}),
        )
        .unwrap();
        h.request(TestRequest::get("/")).forwarded();
        let resp = h
            .request(TestRequest::get("/").with_header("x-mode", "echo-config"))
            .responded();
        let echoed: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(echoed["answer"], 42);
    }

    #[test]
    fn body_mode_rewrites_both_bodies() {
        let mut h = Harness::<Misbehave>::from_json(json!({"mode": "body"})).unwrap();
        let (fwd, resp) = h.round_trip(
            TestRequest::post("/", "hello"),
            TestResponse::new(200).with_body("world"),
        );
        assert_eq!(fwd.unwrap().body, b"HELLO");
        assert_eq!(resp.body_text(), "WORLD");
    }

    #[test]
    #[should_panic(expected = "passed on")]
    fn misuse_is_caught_by_the_harness_too() {
        let mut h = Harness::<Misbehave>::from_json(json!({"mode": "misuse"})).unwrap();
        h.round_trip(TestRequest::get("/"), TestResponse::new(200));
    }

    #[test]
    fn init_error_is_reported() {
        let err = Harness::<Misbehave>::from_json(json!({"mode": "init-error"}))
            .err()
            .unwrap();
        assert!(err.contains("refusing"));
    }
}
