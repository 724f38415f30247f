//! The guest half of the http-wasm technology compatibility kit (TCK), the
//! conformance suite of the reference host (http-wasm-host-go, Traefik 3's),
//! rewritten in Rust on the third-party `http-wasm-guest` crate because its
//! own guest is built with TinyGo, which cannot be installed here. The
//! runner half is `tests/e2e/plugin_tck.rs`.
//!
//! Each request names a case in `x-httpwasm-tck-testid`. Cases that check
//! what the guest reads answer from the guest (a failed check is a 500 with
//! the reason in `x-httpwasm-tck-failed`); cases that change the request
//! pass it on, and the TCK's backend echoes what reached it. Every answer
//! carries `x-httpwasm-tck-handled: 1`, set in `handle_request`: on the
//! reference host response headers set before passing on survive.

#[cfg(target_arch = "wasm32")]
mod guest {
    use http_wasm_guest::host::feature::{BufferRequest, BufferResponse, Trailers};
    use http_wasm_guest::host::{admin, Request, Response};
    use http_wasm_guest::{register, Guest};

    struct Tck;

    /// A check failed: 500 and why.
    fn fail(response: &Response, why: &str) {
        response.set_status(500);
        response
            .header
            .set(b"x-httpwasm-tck-failed", why.as_bytes());
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    fn expect(response: &Response, what: &str, want: &[u8], have: &[u8]) {
        if want != have {
            let why = format!("{what}: want {}, have {}", text(want), text(have));
            fail(response, &why);
        }
    }

    fn check_values(request: &Request, response: &Response, name: &[u8], want: &[&[u8]]) {
        let have = request.header.values(name);
        if have.len() != want.len() {
            let why = format!(
                "get_header_values: want {} values, have {}",
                want.len(),
                have.len()
            );
            return fail(response, &why);
        }
        for (have, want) in have.iter().zip(want) {
            expect(response, "get_header_values", want, have);
        }
    }

    fn check_names(request: &Request, response: &Response, want: &[&[u8]]) {
        // Not an exact match: clients add headers of their own (user-agent).
        let have = request.header.names();
        for name in want {
            if !have.iter().any(|h| &h[..] == *name) {
                let listed: Vec<String> = have.iter().map(|h| text(h)).collect();
                let why = format!("get_header_names: {} not among {listed:?}", text(name));
                return fail(response, &why);
            }
        }
    }

    /// Handles one case; `true` passes the request on.
    fn run(case: &str, request: &Request, response: &Response) -> bool {
        const URIS: [(&str, &str); 4] = [
            ("simple", "/simple"),
            ("simple/escaping", "/simple%26clean"),
            ("query", "/animal?name=panda"),
            ("query/escaping", "/disney?name=chip%26dale"),
        ];
        let uri_case = |prefix: &str| {
            let id = case.strip_prefix(prefix)?;
            URIS.iter()
                .find(|(name, _)| *name == id)
                .map(|(_, uri)| *uri)
        };
        if case == "get_protocol_version" {
            // The runner compares it with the protocol of its response.
            response.body.write(&request.version());
        } else if let Some(method) = case.strip_prefix("get_method/") {
            expect(response, "get_method", method.as_bytes(), &request.method());
        } else if case == "set_method" {
            request.set_method(b"POST");
            return true;
        } else if let Some(uri) = uri_case("get_uri/") {
            expect(response, "get_uri", uri.as_bytes(), &request.uri());
        } else if let Some(uri) = uri_case("set_uri/") {
            request.set_uri(uri.as_bytes());
            return true;
        } else if let Some(id) = case.strip_prefix("get_header_values/request/") {
            match id {
                "lowercase-key" => check_values(request, response, b"single-header", &[b"value"]),
                "mixedcase-key" => check_values(request, response, b"Single-Header", &[b"value"]),
                "not-exists" => check_values(request, response, b"not-header", &[]),
                "multiple-values" => {
                    check_values(request, response, b"multi-header", &[b"value1", b"value2"])
                }
                _ => fail(response, "unknown x-httpwasm-tck-testid"),
            }
        } else if case == "get_header_names/request" {
            check_names(request, response, &[b"a-header", b"b-header"]);
        } else if let Some(name) = case.strip_prefix("set_header_value/request/") {
            request
                .header
                .set(format!("{name}-header").as_bytes(), b"value");
            return true;
        } else if let Some(name) = case.strip_prefix("add_header_value/request/") {
            request
                .header
                .add(format!("{name}-header").as_bytes(), b"value");
            return true;
        } else if let Some(name) = case.strip_prefix("remove_header/request/") {
            request.header.remove(format!("{name}-header").as_bytes());
            return true;
        } else if let Some(size) = case.strip_prefix("read_body/request/") {
            let want = match size {
                "empty" => 0,
                "small" => 5,
                "medium" => 2048,
                "large" => 4096,
                "xlarge" => 5000,
                _ => {
                    fail(response, "unknown x-httpwasm-tck-testid");
                    return false;
                }
            };
            expect(
                response,
                "read_body",
                "a".repeat(want).as_bytes(),
                &request.body.read(),
            );
        } else {
            fail(response, "unknown x-httpwasm-tck-testid");
        }
        false
    }

    impl Guest for Tck {
        fn handle_request(&self, request: &Request, response: &Response) -> (bool, i32) {
            let Some(case) = request.header.get(b"x-httpwasm-tck-testid") else {
                response.set_status(500);
                response.body.write(b"missing x-httpwasm-tck-testid header");
                return (false, 0);
            };
            let next = run(&text(&case), request, response);
            response.header.set(b"x-httpwasm-tck-handled", b"1");
            (next, 0)
        }
    }

    pub fn main() {
        // As the reference guest does: every feature, once, at start.
        admin::enable(BufferRequest | BufferResponse | Trailers);
        register(Tck);
    }
}

fn main() {
    #[cfg(target_arch = "wasm32")]
    guest::main();
}
