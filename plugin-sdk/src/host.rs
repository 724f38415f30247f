//! The host as the plugin sees it: one object-safe trait with a method per
//! `http_handler` import. Inside wasm it is the real ABI (`ffi.rs`); under
//! `cargo test` it is [`crate::testing::TestHost`]. Plugin code only ever
//! holds a `&dyn Host` through [`crate::Request`] and [`crate::Response`], so
//! the same code runs in both places.

use crate::abi::{BodyKind, Features, HeaderKind, LogLevel};

pub trait Host {
    /// The plugin's configuration (JSON written by tollgate from the TOML table).
    fn config(&self) -> Vec<u8>;
    /// Enable features; returns every feature now enabled.
    fn enable_features(&self, features: Features) -> Features;
    fn log_enabled(&self, level: LogLevel) -> bool;
    fn log(&self, level: LogLevel, message: &str);

    fn method(&self) -> String;
    fn set_method(&self, method: &str);
    /// Path and query, percent-encoded as received, e.g. `/a%20b?x=1`.
    fn uri(&self) -> String;
    fn set_uri(&self, uri: &str);
    /// `HTTP/1.1`, `HTTP/2.0`, ...
    fn protocol_version(&self) -> String;
    /// `ip:port` of the client, `[v6]:port` for IPv6.
    fn source_addr(&self) -> String;
    /// `http` or `https` as tollgate received the request. A tollgate
    /// extension of the ABI: inside wasm, [`crate::Request::scheme`] calls the
    /// `tollgate.get_scheme` import directly, so a plugin that never asks
    /// does not import it and stays loadable by other http-wasm hosts. Only
    /// the native test host implements this method.
    #[cfg(not(target_arch = "wasm32"))]
    fn scheme(&self) -> String;

    /// Header names, lowercase.
    fn header_names(&self, kind: HeaderKind) -> Vec<String>;
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
    fn set_header(&self, kind: HeaderKind, name: &str, value: &[u8]);
    fn add_header(&self, kind: HeaderKind, name: &str, value: &[u8]);
    fn remove_header(&self, kind: HeaderKind, name: &str);

    /// Read up to `buf.len()` bytes; returns (bytes read, end of body).
    fn read_body(&self, kind: BodyKind, buf: &mut [u8]) -> (usize, bool);
    /// Append to the body; the first write in a handler replaces it.
    fn write_body(&self, kind: BodyKind, data: &[u8]);

    fn status_code(&self) -> u16;
    fn set_status_code(&self, status: u16);
}
