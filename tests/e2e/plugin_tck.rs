//! The http-wasm technology compatibility kit (TCK) of the reference host,
//! http-wasm-host-go (Traefik 3's), run against the real binary: its
//! runner's cases and its backend, ported from Go, with its guest ported to
//! Rust (`plugins/http-wasm-tck`; the original is built with TinyGo, which
//! cannot be installed here). Run over HTTP/1.1 and over h2c, as the
//! reference runs it with both transports.
//!
//! The backend echoes what reached it as response headers:
//! `x-httpwasm-next-method`, `x-httpwasm-next-uri` and
//! `x-httpwasm-next-header-NAME-I` for the I-th value of each header.

use std::path::PathBuf;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Version};

use crate::harness::*;

fn tck_backend_answer(req: &Req) -> Resp {
    let mut resp = hyper::Response::builder()
        .header("x-httpwasm-next-method", req.method().as_str())
        .header("x-httpwasm-next-uri", req.uri().to_string());
    for name in req.headers().keys() {
        for (i, value) in req.headers().get_all(name).iter().enumerate() {
            resp = resp.header(format!("x-httpwasm-next-header-{name}-{i}"), value);
        }
    }
    resp.body(full("")).unwrap()
}

struct Tck {
    client: reqwest::Client,
    url: String,
    _tollgate: Tollgate,
    _backend: Backend,
}

impl Tck {
    async fn start(h2: bool) -> Tck {
        let upstream = Backend::serve(|req: Req| async move { tck_backend_answer(&req) }).await;
        let wasm: PathBuf = tollgate::wasm::builtin::wasm_dir()
            .expect("plugins built by proxy/build.rs")
            .join("http-wasm-tck.wasm");
        let toml = http_only()
            + &format!("[plugins.tck]\npath = {:?}\n\n", wasm.display().to_string())
            + &frontend_with("f", "b", "PathPrefix:/", "middlewares = [\"tck\"]")
            + &backend("b", &upstream.url());
        let tollgate = Tollgate::start(&toml, &["http"]).await;
        let url = tollgate.url("http", "");
        let url = url.trim_end_matches('/').to_string();
        Tck {
            client: if h2 { h2c() } else { http1() },
            url,
            _tollgate: tollgate,
            _backend: upstream,
        }
    }

    /// Sends one case; fails the test as the TCK's `checkResponse` does
    /// (the guest must have handled it, and a 500 carries its reason).
    async fn case(
        &self,
        id: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> (HeaderMap, Version, String) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("x-httpwasm-tck-testid", id);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        let resp = within(secs(10), id, req.send()).await.expect(id);
        let (status, version, headers) = (resp.status(), resp.version(), resp.headers().clone());
        assert_eq!(
            headers.get("x-httpwasm-tck-handled").map(|v| v.as_bytes()),
            Some(&b"1"[..]),
            "{id}: not handled by the guest ({status})"
        );
        assert_ne!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{id}: {:?}",
            headers.get("x-httpwasm-tck-failed")
        );
        (headers, version, resp.text().await.unwrap())
    }

    async fn run(&self) {
        let get = Method::GET;
        let next = |h: &HeaderMap, name: &str| -> Option<String> {
            h.get(name).map(|v| v.to_str().unwrap().to_string())
        };

        // get_protocol_version: the version of the response the client got.
        let (_, version, body) = self
            .case(
                "get_protocol_version",
                get.clone(),
                "/get_protocol_version",
                &[],
                None,
            )
            .await;
        let want = if version == Version::HTTP_2 {
            "HTTP/2.0"
        } else {
            "HTTP/1.1"
        };
        assert_eq!(body, want);

        // get_method, every method but CONNECT (as the TCK: it is handled
        // outside middleware).
        for method in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH",
        ] {
            let id = format!("get_method/{method}");
            self.case(
                &id,
                Method::from_bytes(method.as_bytes()).unwrap(),
                "/",
                &[],
                None,
            )
            .await;
        }

        // set_method: the backend sees the new method.
        let (h, _, _) = self.case("set_method", get.clone(), "/", &[], None).await;
        assert_eq!(next(&h, "x-httpwasm-next-method").as_deref(), Some("POST"));

        let uris = [
            ("simple", "/simple"),
            ("simple/escaping", "/simple%26clean"),
            ("query", "/animal?name=panda"),
            ("query/escaping", "/disney?name=chip%26dale"),
        ];
        for (id, uri) in uris {
            self.case(&format!("get_uri/{id}"), get.clone(), uri, &[], None)
                .await;
            let (h, _, _) = self
                .case(&format!("set_uri/{id}"), get.clone(), "/", &[], None)
                .await;
            assert_eq!(
                next(&h, "x-httpwasm-next-uri").as_deref(),
                Some(uri),
                "set_uri/{id}"
            );
        }

        let values: [(&str, &[(&str, &str)]); 4] = [
            ("lowercase-key", &[("single-header", "value")]),
            ("mixedcase-key", &[("Single-Header", "value")]),
            ("not-exists", &[]),
            (
                "multiple-values",
                &[("multi-header", "value1"), ("multi-header", "value2")],
            ),
        ];
        for (id, headers) in values {
            let id = format!("get_header_values/request/{id}");
            self.case(&id, get.clone(), "/", headers, None).await;
        }
        self.case(
            "get_header_names/request",
            get.clone(),
            "/",
            &[("a-header", "value1"), ("b-header", "2")],
            None,
        )
        .await;

        let existing = [("existing-header", "bear")];
        for (id, header, want) in [
            ("set_header_value/request/new", "new-header", &["value"][..]),
            (
                "set_header_value/request/existing",
                "existing-header",
                &["value"],
            ),
            ("add_header_value/request/new", "new-header", &["value"]),
            (
                "add_header_value/request/existing",
                "existing-header",
                &["bear", "value"],
            ),
        ] {
            let (h, _, _) = self.case(id, get.clone(), "/", &existing, None).await;
            for (i, value) in want.iter().enumerate() {
                let seen = next(&h, &format!("x-httpwasm-next-header-{header}-{i}"));
                assert_eq!(seen.as_deref(), Some(*value), "{id}");
            }
            let past = next(
                &h,
                &format!("x-httpwasm-next-header-{header}-{}", want.len()),
            );
            assert_eq!(past, None, "{id}: one value too many");
        }
        for (id, removed) in [
            ("remove_header/request/new", false),
            ("remove_header/request/existing", true),
        ] {
            let (h, _, _) = self.case(id, get.clone(), "/", &existing, None).await;
            let seen = next(&h, "x-httpwasm-next-header-existing-header-0");
            assert_eq!(seen.as_deref(), (!removed).then_some("bear"), "{id}");
        }

        for (id, size) in [
            ("empty", 0),
            ("small", 5),
            ("medium", 2048),
            ("large", 4096),
            ("xlarge", 5000),
        ] {
            let id = format!("read_body/request/{id}");
            self.case(&id, Method::POST, "/", &[], Some("a".repeat(size)))
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_compatibility_kit_passes_over_http1() {
    Tck::start(false).await.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_compatibility_kit_passes_over_h2c() {
    Tck::start(true).await.run().await;
}
