//! The real host: the `http_handler` imports, and the exports' glue. Only
//! compiled for wasm32.

use std::cell::UnsafeCell;

use crate::abi::{split_nul_terminated, split_u64, BodyKind, Features, HeaderKind, LogLevel};
use crate::glue::{self, Handler};
use crate::host::Host;
use crate::Plugin;

mod raw {
    #[link(wasm_import_module = "http_handler")]
    extern "C" {
        pub fn log(level: i32, message: *const u8, message_len: u32);
        pub fn log_enabled(level: i32) -> u32;
        pub fn get_config(buf: *mut u8, buf_limit: u32) -> u32;
        pub fn enable_features(features: u32) -> u32;
        pub fn get_method(buf: *mut u8, buf_limit: u32) -> u32;
        pub fn set_method(method: *const u8, method_len: u32);
        pub fn get_uri(buf: *mut u8, buf_limit: u32) -> u32;
        pub fn set_uri(uri: *const u8, uri_len: u32);
        pub fn get_protocol_version(buf: *mut u8, buf_limit: u32) -> u32;
        pub fn get_source_addr(buf: *mut u8, buf_limit: u32) -> u32;
        pub fn get_header_names(kind: u32, buf: *mut u8, buf_limit: u32) -> u64;
        pub fn get_header_values(
            kind: u32,
            name: *const u8,
            name_len: u32,
            buf: *mut u8,
            buf_limit: u32,
        ) -> u64;
        pub fn set_header_value(
            kind: u32,
            name: *const u8,
            name_len: u32,
            value: *const u8,
            value_len: u32,
        );
        pub fn add_header_value(
            kind: u32,
            name: *const u8,
            name_len: u32,
            value: *const u8,
            value_len: u32,
        );
        pub fn remove_header(kind: u32, name: *const u8, name_len: u32);
        pub fn read_body(kind: u32, buf: *mut u8, buf_limit: u32) -> u64;
        pub fn write_body(kind: u32, body: *const u8, body_len: u32);
        pub fn get_status_code() -> u32;
        pub fn set_status_code(status_code: u32);
    }

    #[link(wasm_import_module = "tollgate")]
    extern "C" {
        pub fn get_scheme(buf: *mut u8, buf_limit: u32) -> u32;
        pub fn get_route_var(name: *const u8, name_len: u32, buf: *mut u8, buf_limit: u32) -> i64;
        pub fn set_route_var(name: *const u8, name_len: u32, value: *const u8, value_len: u32);
    }
}

/// Call a `buf`/`buf_limit` getter: try a small buffer, and if the value is
/// longer (the host then wrote nothing and returned the length), retry once
/// with exactly that much room.
fn read_with(get: impl Fn(*mut u8, u32) -> u64) -> (u32, Vec<u8>) {
    let mut buf = Vec::new();
    let high = read_into(&mut buf, get);
    (high, buf)
}

/// `read_with` into `buf` (its contents replaced, its allocation reused):
/// returns the high 32 bits of the result (a count, for header values).
fn read_into(buf: &mut Vec<u8>, get: impl Fn(*mut u8, u32) -> u64) -> u32 {
    buf.clear();
    buf.reserve(256);
    let (mut high, mut len) = split_u64(get(buf.as_mut_ptr(), buf.capacity() as u32));
    if len as usize > buf.capacity() {
        buf.reserve_exact(len as usize);
        (high, len) = split_u64(get(buf.as_mut_ptr(), buf.capacity() as u32));
        if len as usize > buf.capacity() {
            // Changed between the two calls: treat as empty rather than read
            // past what the host wrote.
            return 0;
        }
    }
    // SAFETY: the host wrote `len` (<= capacity) bytes at `buf`.
    unsafe { buf.set_len(len as usize) };
    high
}

fn read_string(get: impl Fn(*mut u8, u32) -> u32) -> String {
    let (_, bytes) = read_with(|buf, limit| u64::from(get(buf, limit)));
    String::from_utf8_lossy(&bytes).into_owned()
}

pub(crate) fn log(level: LogLevel, message: &str) {
    unsafe { raw::log(level as i32, message.as_ptr(), message.len() as u32) }
}

pub(crate) fn log_enabled(level: LogLevel) -> bool {
    unsafe { raw::log_enabled(level as i32) == 1 }
}

pub(crate) fn scheme() -> String {
    read_string(|buf, limit| unsafe { raw::get_scheme(buf, limit) })
}

pub(crate) fn route_var(name: &str) -> Option<String> {
    let get = |buf: *mut u8, limit: u32| unsafe {
        raw::get_route_var(name.as_ptr(), name.len() as u32, buf, limit)
    };
    // -1: no such variable; else the length, as for the ABI's getters.
    if get(core::ptr::null_mut(), 0) < 0 {
        return None;
    }
    let (_, bytes) = read_with(|buf, limit| get(buf, limit).max(0) as u64);
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

pub(crate) fn set_route_var(name: &str, value: &str) {
    unsafe {
        raw::set_route_var(
            name.as_ptr(),
            name.len() as u32,
            value.as_ptr(),
            value.len() as u32,
        )
    }
}

/// The host behind the imports; stateless.
struct WasmHost;

impl Host for WasmHost {
    fn config(&self) -> Vec<u8> {
        read_with(|buf, limit| u64::from(unsafe { raw::get_config(buf, limit) })).1
    }

    fn enable_features(&self, features: Features) -> Features {
        Features(unsafe { raw::enable_features(features.0) })
    }

    fn log_enabled(&self, level: LogLevel) -> bool {
        log_enabled(level)
    }

    fn log(&self, level: LogLevel, message: &str) {
        log(level, message)
    }

    fn method(&self) -> String {
        read_string(|buf, limit| unsafe { raw::get_method(buf, limit) })
    }

    fn set_method(&self, method: &str) {
        unsafe { raw::set_method(method.as_ptr(), method.len() as u32) }
    }

    fn uri(&self) -> String {
        read_string(|buf, limit| unsafe { raw::get_uri(buf, limit) })
    }

    fn set_uri(&self, uri: &str) {
        unsafe { raw::set_uri(uri.as_ptr(), uri.len() as u32) }
    }

    fn protocol_version(&self) -> String {
        read_string(|buf, limit| unsafe { raw::get_protocol_version(buf, limit) })
    }

    fn source_addr(&self) -> String {
        read_string(|buf, limit| unsafe { raw::get_source_addr(buf, limit) })
    }

    fn header_names(&self, kind: HeaderKind) -> Vec<String> {
        let (_, bytes) =
            read_with(|buf, limit| unsafe { raw::get_header_names(kind as u32, buf, limit) });
        split_nul_terminated(&bytes)
            .into_iter()
            .map(|n| String::from_utf8_lossy(&n).into_owned())
            .collect()
    }

    fn header_values(&self, kind: HeaderKind, name: &str) -> Vec<Vec<u8>> {
        if name.is_empty() {
            return Vec::new();
        }
        let (_, bytes) = read_with(|buf, limit| unsafe {
            raw::get_header_values(kind as u32, name.as_ptr(), name.len() as u32, buf, limit)
        });
        split_nul_terminated(&bytes)
    }

    fn header_value(&self, kind: HeaderKind, name: &str) -> Option<Vec<u8>> {
        let mut buf = Vec::new();
        self.header_value_into(kind, name, &mut buf).then_some(buf)
    }

    fn header_value_into(&self, kind: HeaderKind, name: &str, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        if name.is_empty() {
            return false;
        }
        let count = read_into(buf, |buf, limit| unsafe {
            raw::get_header_values(kind as u32, name.as_ptr(), name.len() as u32, buf, limit)
        });
        if count == 0 {
            buf.clear();
            return false;
        }
        // The first of the NUL-terminated values, in place.
        match buf.iter().position(|&b| b == 0) {
            Some(end) => {
                buf.truncate(end);
                true
            }
            None => {
                buf.clear();
                false
            }
        }
    }

    fn set_header(&self, kind: HeaderKind, name: &str, value: &[u8]) {
        unsafe {
            raw::set_header_value(
                kind as u32,
                name.as_ptr(),
                name.len() as u32,
                value.as_ptr(),
                value.len() as u32,
            )
        }
    }

    fn add_header(&self, kind: HeaderKind, name: &str, value: &[u8]) {
        unsafe {
            raw::add_header_value(
                kind as u32,
                name.as_ptr(),
                name.len() as u32,
                value.as_ptr(),
                value.len() as u32,
            )
        }
    }

    fn remove_header(&self, kind: HeaderKind, name: &str) {
        unsafe { raw::remove_header(kind as u32, name.as_ptr(), name.len() as u32) }
    }

    fn read_body(&self, kind: BodyKind, buf: &mut [u8]) -> (usize, bool) {
        let (eof, len) =
            split_u64(unsafe { raw::read_body(kind as u32, buf.as_mut_ptr(), buf.len() as u32) });
        ((len as usize).min(buf.len()), eof == 1)
    }

    fn write_body(&self, kind: BodyKind, data: &[u8]) {
        unsafe { raw::write_body(kind as u32, data.as_ptr(), data.len() as u32) }
    }

    fn status_code(&self) -> u16 {
        unsafe { raw::get_status_code() as u16 }
    }

    fn set_status_code(&self, status: u16) {
        unsafe { raw::set_status_code(u32::from(status)) }
    }
}

/// The started plugin. A plain static rather than a `thread_local!`: a
/// command module runs its destructors when `_start` returns, and the plugin
/// must outlive `main` to serve requests.
struct Slot(UnsafeCell<Option<Box<dyn Handler>>>);

// SAFETY: wasm32-wasip1 modules are single-threaded; the host never calls
// into an instance concurrently.
unsafe impl Sync for Slot {}

static PLUGIN: Slot = Slot(UnsafeCell::new(None));

fn with_plugin<R>(f: impl FnOnce(&mut dyn Handler) -> R) -> Option<R> {
    // SAFETY: single-threaded, and handlers are never re-entered (the host
    // does not call exports from inside an import).
    let slot = unsafe { &mut *PLUGIN.0.get() };
    slot.as_deref_mut().map(f)
}

/// `main` of the plugin module, run by `_start` when tollgate starts an
/// instance.
pub fn main<P: Plugin>() {
    match glue::start::<P>(&WasmHost) {
        Ok(plugin) => {
            // SAFETY: see `with_plugin`.
            unsafe { *PLUGIN.0.get() = Some(Box::new(plugin)) };
        }
        Err(message) => {
            log(LogLevel::Error, &message);
            // A non-zero exit makes the host refuse the module with `message`.
            std::process::exit(1);
        }
    }
}

/// The `handle_request` export of the http-wasm handler ABI (wired up by
/// `export_plugin!`): runs `Plugin::on_request` and returns its `ctx_next`.
pub fn handle_request() -> i64 {
    // Not started (no `main` ran): let requests through untouched.
    with_plugin(|p| p.handle_request(&WasmHost)).unwrap_or(1)
}

/// The `handle_response` export of the http-wasm handler ABI (wired up by
/// `export_plugin!`): runs `Plugin::on_response` with the host's `reqCtx` and
/// `isError`. Does nothing if the plugin never started.
pub fn handle_response(req_ctx: i32, is_error: i32) {
    with_plugin(|p| p.handle_response(&WasmHost, req_ctx as u32, is_error != 0));
}
