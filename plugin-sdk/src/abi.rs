//! The numbers of the http-wasm `http_handler` ABI, shared by the guest glue
//! and the native test harness so both speak exactly the same protocol.
//!
//! Each item mirrors a constant or encoding of the
//! [http-wasm handler ABI](https://http-wasm.io/http-handler-abi/). Plugins
//! mostly need [`Features`] (from [`Plugin::features`](crate::Plugin::features)
//! or [`Request::enable_features`](crate::Request::enable_features)) and
//! [`LogLevel`]; the rest is for the SDK's glue and the test harness.

use std::ops::BitOr;

/// Which header map a header function works on: `header_kind` of the
/// http-wasm handler ABI. [`Request::headers`](crate::Request::headers) and
/// the like pick it for you.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum HeaderKind {
    /// The request's headers (`header_kind_request`, 0).
    Request = 0,
    /// The response's headers (`header_kind_response`, 1).
    Response = 1,
    /// The request's trailers (`header_kind_request_trailers`, 2): needs
    /// [`Features::TRAILERS`].
    RequestTrailers = 2,
    /// The response's trailers (`header_kind_response_trailers`, 3): needs
    /// [`Features::TRAILERS`].
    ResponseTrailers = 3,
}

/// Which body a body function works on: `body_kind` of the http-wasm
/// handler ABI. [`Request::body`](crate::Request::body) and
/// [`Response::body`](crate::Response::body) pick it for you.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum BodyKind {
    /// The request body (`body_kind_request`, 0).
    Request = 0,
    /// The response body (`body_kind_response`, 1).
    Response = 1,
}

/// Log levels of the ABI (`log_level`): debug is -1 so that a zeroed value
/// never means "everything". Levels order from [`Debug`](LogLevel::Debug)
/// (most detail) to [`None`](LogLevel::None). Pass one to [`crate::log`], or
/// use the [`debug!`](crate::debug), [`info!`](crate::info),
/// [`warn!`](crate::warn) and [`error!`](crate::error) macros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum LogLevel {
    /// Detail for debugging (`log_level_debug`, -1). tollgate keeps these
    /// only when its `tollgate::plugin` log target is at debug level (e.g.
    /// `RUST_LOG=info,tollgate::plugin=debug`).
    Debug = -1,
    /// Normal operation (`log_level_info`, 0).
    Info = 0,
    /// Something unexpected that the plugin handled (`log_level_warn`, 1).
    Warn = 1,
    /// A failure (`log_level_error`, 2).
    Error = 2,
    /// Log nothing (`log_level_none`, 3): tollgate drops messages at this
    /// level and reports it as never enabled.
    None = 3,
}

impl LogLevel {
    /// The level for an ABI `log_level` number: anything below 0 is
    /// [`Debug`](LogLevel::Debug), anything above 2 is [`None`](LogLevel::None).
    pub fn from_i32(level: i32) -> LogLevel {
        match level {
            i32::MIN..=-1 => LogLevel::Debug,
            0 => LogLevel::Info,
            1 => LogLevel::Warn,
            2 => LogLevel::Error,
            _ => LogLevel::None,
        }
    }
}

/// Feature flags a guest enables with `enable_features` (the `features`
/// bit flags of the http-wasm handler ABI). Combine them with `|`:
///
/// ```
/// use tollgate_plugin_sdk::Features;
///
/// let wanted = Features::BUFFER_REQUEST | Features::TRAILERS;
/// assert!(wanted.contains(Features::TRAILERS));
/// assert!(!wanted.contains(Features::BUFFER_RESPONSE));
/// assert_eq!(wanted.0, 5);
/// ```
///
/// Ask for them for every request in [`Plugin::features`](crate::Plugin::features),
/// or for one request with [`Request::enable_features`](crate::Request::enable_features).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Features(
    /// The raw bits, as passed to and returned by `enable_features`.
    pub u32,
);

impl Features {
    /// No feature (0): what [`Plugin::features`](crate::Plugin::features)
    /// returns by default.
    pub const NONE: Features = Features(0);
    /// Keep the request body readable by both the guest and the next handler
    /// (`feature_buffer_request`, 1).
    pub const BUFFER_REQUEST: Features = Features(1);
    /// Hold the whole response so `on_response` can read and rewrite its body
    /// (`feature_buffer_response`, 2).
    pub const BUFFER_RESPONSE: Features = Features(2);
    /// Access to trailers (`feature_trailers`, 4): without it tollgate reads
    /// trailers as empty, and changing them is an ABI misuse that fails the
    /// request.
    pub const TRAILERS: Features = Features(4);
    /// tollgate extension: do not call `handle_response` (set for you when
    /// `Plugin::WANTS_RESPONSE` is false). Other hosts ignore the bit.
    pub const SKIP_RESPONSE: Features = Features(1 << 31);

    /// Whether every bit of `other` is set in `self` (always true for
    /// [`Features::NONE`]).
    pub fn contains(self, other: Features) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Features {
    type Output = Features;
    fn bitor(self, rhs: Features) -> Features {
        Features(self.0 | rhs.0)
    }
}

/// `handle_request`'s result (`ctx_next` of the http-wasm handler ABI): the
/// request context in the high 32 bits, `next` in the low 32 bits. With
/// `next` false the result is 0: the context is dropped, since
/// `handle_response` will not run. The SDK builds it from [`crate::Flow`].
pub fn ctx_next(next: bool, ctx: u32) -> i64 {
    if next {
        ((u64::from(ctx) << 32) | 1) as i64
    } else {
        0
    }
}

/// Split a `count_len`/`eof_len` result of the http-wasm handler ABI into
/// (high, low) 32-bit halves: (count, length) for the header functions,
/// (end of body, length) for `read_body`.
pub fn split_u64(value: u64) -> (u32, u32) {
    ((value >> 32) as u32, value as u32)
}

/// Split a NUL-terminated sequence (`"a\0b\0"`), the ABI's encoding of
/// header names and values, into its items. Bytes after the last NUL are
/// ignored; an empty input is an empty sequence. [`Headers`](crate::Headers)
/// does this for you.
pub fn split_nul_terminated(buf: &[u8]) -> Vec<Vec<u8>> {
    let mut items = Vec::new();
    let mut rest = buf;
    while let Some(end) = rest.iter().position(|&b| b == 0) {
        items.push(rest[..end].to_vec());
        rest = &rest[end + 1..];
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctx_next_packs_context_high() {
        assert_eq!(ctx_next(true, 0), 1);
        assert_eq!(ctx_next(true, 16), 68719476737);
        assert_eq!(ctx_next(false, 16), 0);
    }

    #[test]
    fn nul_terminated_sequences() {
        assert_eq!(
            split_nul_terminated(b"Date\0Etag\0"),
            vec![b"Date".to_vec(), b"Etag".to_vec()]
        );
        assert!(split_nul_terminated(b"").is_empty());
        assert_eq!(split_nul_terminated(b"\0"), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn log_levels_from_abi_numbers() {
        assert_eq!(LogLevel::from_i32(-1), LogLevel::Debug);
        assert_eq!(LogLevel::from_i32(2), LogLevel::Error);
        assert_eq!(LogLevel::from_i32(42), LogLevel::None);
    }
}
