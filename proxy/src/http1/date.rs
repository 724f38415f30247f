//! The `Date` header value (RFC 9110 section 6.6.1), formatted at most once a
//! second per thread: hyper does the same for the responses it writes.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    static CACHED: RefCell<(u64, [u8; 29])> = const { RefCell::new((0, [0; 29])) };
}

/// Call `f` with the current date, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn with_now<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHED.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            let text = httpdate::fmt_http_date(now);
            if text.len() == 29 {
                cached.1.copy_from_slice(text.as_bytes());
                cached.0 = secs;
            }
        }
        f(&cached.1)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_an_http_date() {
        let text = super::with_now(|d| String::from_utf8(d.to_vec()).unwrap());
        assert!(httpdate::parse_http_date(&text).is_ok(), "{text}");
    }
}
