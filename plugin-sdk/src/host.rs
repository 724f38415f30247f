//! The host as the plugin sees it: one object-safe trait with a method per
//! `http_handler` import. Inside wasm it is the real ABI (`ffi.rs`); under
//! `cargo test` it is [`crate::testing::TestHost`]. Plugin code only ever
//! holds a `&dyn Host` through [`crate::Request`] and [`crate::Response`], so
//! the same code runs in both places.

use crate::abi::{BodyKind, Features, HeaderKind, LogLevel};

/// The host functions of the http-wasm handler ABI (the `http_handler`
/// imports), one method each, as safe Rust.
///
/// Plugin code does not call it directly: [`crate::Request`] and
/// [`crate::Response`] wrap it, and the SDK passes them to
/// [`Plugin::on_request`](crate::Plugin::on_request) and
/// [`Plugin::on_response`](crate::Plugin::on_response). Getters that the ABI
/// answers through a `buf`/`buf_limit` pair (retrying with a bigger buffer
/// when needed) return owned values here, and NUL-terminated lists come back
/// already split. Breaking one of the ABI's rules (say, changing the
/// request in `on_response`) makes tollgate fail the request, and
/// [`crate::testing::TestHost`] panic.
pub trait Host {
    /// The plugin's configuration: `get_config` of the ABI. The JSON of a
    /// `[plugins.NAME.config]` table, or a `config = "..."` string as
    /// written; empty when there is none.
    fn config(&self) -> Vec<u8>;
    /// Enable features; returns every feature now enabled: `enable_features`
    /// of the ABI. At instance start they apply to every request; during a
    /// request, to that request only.
    fn enable_features(&self, features: Features) -> Features;
    /// Whether the host keeps messages at `level`: `log_enabled` of the ABI.
    fn log_enabled(&self, level: LogLevel) -> bool;
    /// Log `message` at `level`: `log` of the ABI. A message the host cannot
    /// log is dropped, never an error.
    fn log(&self, level: LogLevel, message: &str);

    /// The request method, e.g. `GET`: `get_method` of the ABI.
    fn method(&self) -> String;
    /// Change the request method: `set_method` of the ABI. Request phase
    /// only; an empty or invalid method is an ABI misuse.
    fn set_method(&self, method: &str);
    /// Path and query, percent-encoded as received, e.g. `/a%20b?x=1`:
    /// `get_uri` of the ABI. Never empty (at least `/`).
    fn uri(&self) -> String;
    /// Replace the path and query: `set_uri` of the ABI. Request phase only;
    /// an empty `uri` means `/`.
    fn set_uri(&self, uri: &str);
    /// `HTTP/1.1`, `HTTP/2.0`, ...: `get_protocol_version` of the ABI.
    fn protocol_version(&self) -> String;
    /// `ip:port` of the client, `[v6]:port` for IPv6: `get_source_addr` of
    /// the ABI.
    fn source_addr(&self) -> String;
    /// `http` or `https` as tollgate received the request. A tollgate
    /// extension of the ABI: inside wasm, [`crate::Request::scheme`] calls the
    /// `tollgate.get_scheme` import directly, so a plugin that never asks
    /// does not import it and stays loadable by other http-wasm hosts. Only
    /// the native test host implements this method.
    #[cfg(not(target_arch = "wasm32"))]
    fn scheme(&self) -> String;
    /// A route variable (`{device}` of the frontend's rule, or one a plugin
    /// set). A tollgate extension, imported only when called, as `scheme`.
    #[cfg(not(target_arch = "wasm32"))]
    fn route_var(&self, name: &str) -> Option<String>;
    /// Set a route variable, for a templated backend's target. A tollgate
    /// extension, imported only when called, as `scheme`.
    #[cfg(not(target_arch = "wasm32"))]
    fn set_route_var(&self, name: &str, value: &str);

    /// Header names, lowercase: `get_header_names` of the ABI, its
    /// NUL-terminated list split into names.
    fn header_names(&self, kind: HeaderKind) -> Vec<String>;
    /// Every value of `name` (case-insensitive), in order; empty if there
    /// is none: `get_header_values` of the ABI, its NUL-terminated list
    /// split into values.
    fn header_values(&self, kind: HeaderKind, name: &str) -> Vec<Vec<u8>>;
    /// The first value of `name`: what most plugins want, in one host call
    /// and one allocation inside wasm.
    fn header_value(&self, kind: HeaderKind, name: &str) -> Option<Vec<u8>> {
        self.header_values(kind, name).into_iter().next()
    }
    /// The first value of `name` into `buf` (replacing its contents);
    /// false if there is none. With a buffer kept across requests, reading
    /// a header allocates nothing.
    fn header_value_into(&self, kind: HeaderKind, name: &str, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        match self.header_value(kind, name) {
            Some(v) => {
                buf.extend_from_slice(&v);
                true
            }
            None => false,
        }
    }
    /// Replace every value of `name` with `value`: `set_header_value` of the
    /// ABI. Request headers and trailers change only in the request phase;
    /// trailers need [`Features::TRAILERS`].
    fn set_header(&self, kind: HeaderKind, name: &str, value: &[u8]);
    /// Add a value for `name`, keeping the others: `add_header_value` of the
    /// ABI. Same rules as [`Host::set_header`].
    fn add_header(&self, kind: HeaderKind, name: &str, value: &[u8]);
    /// Remove every value of `name`: `remove_header` of the ABI. Same rules
    /// as [`Host::set_header`].
    fn remove_header(&self, kind: HeaderKind, name: &str);

    /// Read up to `buf.len()` bytes; returns (bytes read, end of body):
    /// `read_body` of the ABI. `buf` must not be empty (the ABI traps on a
    /// zero `buf_limit`; [`crate::Body::read`] guards against it).
    fn read_body(&self, kind: BodyKind, buf: &mut [u8]) -> (usize, bool);
    /// Append to the body; the first write in a handler replaces it:
    /// `write_body` of the ABI. The request body only in the request phase.
    fn write_body(&self, kind: BodyKind, data: &[u8]);

    /// The response status code: `get_status_code` of the ABI.
    fn status_code(&self) -> u16;
    /// Set the response status code: `set_status_code` of the ABI. Outside
    /// 100 to 999 it is an ABI misuse.
    fn set_status_code(&self, status: u16);
}
