//! A guest written with the third-party `http-wasm-guest` crate (1.2), the
//! way a Traefik 3 plugin author would: tollgate must run it unmodified.
//!
//! On the way in it stamps what it saw (method, URI, client, config) into
//! `x-compat-*` request headers; `/compat/deny` is answered by the guest with
//! 403; on the way out it copies the status into `x-compat-status`.

#[cfg(target_arch = "wasm32")]
mod guest {
    use http_wasm_guest::host::{admin, log, Request, Response};
    use http_wasm_guest::{register, Guest};

    pub struct Compat {
        config: Vec<u8>,
    }

    /// Header values must not carry control characters.
    fn printable(bytes: &[u8]) -> Vec<u8> {
        bytes
            .iter()
            .map(|&b| if b < 0x20 || b == 0x7f { b' ' } else { b })
            .collect()
    }

    impl Guest for Compat {
        fn handle_request(&self, request: &Request, response: &Response) -> (bool, i32) {
            if request.uri().starts_with(b"/compat/deny") {
                response.set_status(403);
                response.header.set(b"content-type", b"text/plain");
                response.body.write(b"denied by http-wasm-guest\n");
                return (false, 0);
            }
            request.header.set(b"x-compat-guest", b"http-wasm-guest");
            request.header.set(b"x-compat-method", &request.method());
            request.header.set(b"x-compat-uri", &request.uri());
            request.header.set(b"x-compat-version", &request.version());
            request
                .header
                .set(b"x-compat-source", &request.source_addr());
            request
                .header
                .set(b"x-compat-config", &printable(&self.config));
            let names = request.header.names().len().to_string();
            request
                .header
                .set(b"x-compat-header-count", names.as_bytes());
            (true, 7)
        }

        fn handle_response(&self, req_ctx: i32, _: &Request, response: &Response, is_error: bool) {
            if is_error || req_ctx != 7 {
                return;
            }
            let status = response.status().to_string();
            response.header.set(b"x-compat-status", status.as_bytes());
        }
    }

    pub fn main() {
        log::write(0, b"http-wasm-guest compat plugin starting");
        let config = admin::config().to_vec();
        register(Compat { config });
    }
}

fn main() {
    #[cfg(target_arch = "wasm32")]
    guest::main();
}
