//! The numbers of the http-wasm `http_handler` ABI, shared by the guest glue
//! and the native test harness so both speak exactly the same protocol.

use std::ops::BitOr;

/// Which header map a header function works on (`header_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum HeaderKind {
    Request = 0,
    Response = 1,
    RequestTrailers = 2,
    ResponseTrailers = 3,
}

/// Which body a body function works on (`body_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum BodyKind {
    Request = 0,
    Response = 1,
}

/// Log levels of the ABI (`log_level`): debug is -1 so that a zeroed value
/// never means "everything".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum LogLevel {
    Debug = -1,
    Info = 0,
    Warn = 1,
    Error = 2,
    None = 3,
}

impl LogLevel {
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

/// Feature flags a guest enables with `enable_features`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Features(pub u32);

impl Features {
    pub const NONE: Features = Features(0);
    /// Keep the request body readable by both the guest and the next handler.
    pub const BUFFER_REQUEST: Features = Features(1);
    /// Hold the whole response so `on_response` can read and rewrite its body.
    pub const BUFFER_RESPONSE: Features = Features(2);
    /// Access to trailers.
    pub const TRAILERS: Features = Features(4);
    /// tollgate extension: do not call `handle_response` (set for you when
    /// `Plugin::WANTS_RESPONSE` is false). Other hosts ignore the bit.
    pub const SKIP_RESPONSE: Features = Features(1 << 31);

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

/// `handle_request`'s result: the request context in the high 32 bits, `next`
/// in the low 32 bits.
pub fn ctx_next(next: bool, ctx: u32) -> i64 {
    if next {
        ((u64::from(ctx) << 32) | 1) as i64
    } else {
        0
    }
}

/// Split a `count_len`/`eof_len` result into (high, low).
pub fn split_u64(value: u64) -> (u32, u32) {
    ((value >> 32) as u32, value as u32)
}

/// Split a NUL-terminated sequence (`"a\0b\0"`) into its items.
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
