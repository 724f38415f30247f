//! A request body's largest size (`[backends.X.buffering]
//! maxRequestBodyBytes`, `request::limit::cap_body`). A declared length over
//! it is refused before anything is sent; a body without one (chunked,
//! HTTP/2) is counted as it streams, and once over it ends in an error: the
//! backend sees an incomplete request, never a complete wrong one, and the
//! client gets 413 (`Overflow::hit`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether a request's body went over its cap.
#[derive(Debug, Default)]
pub struct Overflow {
    hit: AtomicBool,
}

impl Overflow {
    pub fn hit(&self) -> bool {
        self.hit.load(Ordering::Relaxed)
    }

    pub(crate) fn set(&self) {
        self.hit.store(true, Ordering::Relaxed);
    }
}

/// The body went over its cap.
#[derive(Debug)]
pub struct BodyTooLarge(pub u64);

impl std::fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "request body over maxRequestBodyBytes ({})", self.0)
    }
}

impl std::error::Error for BodyTooLarge {}

/// What is left of a capped body's allowance.
#[derive(Debug)]
pub struct Cap {
    pub max: u64,
    pub left: u64,
    pub overflow: Arc<Overflow>,
}

impl Cap {
    pub fn new(max: u64, overflow: Arc<Overflow>) -> Cap {
        Cap {
            max,
            left: max,
            overflow,
        }
    }

    /// Take `len` bytes from the allowance; an error once it is spent.
    pub fn take(&mut self, len: usize) -> Result<(), BodyTooLarge> {
        match self.left.checked_sub(len as u64) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => {
                self.overflow.set();
                Err(BodyTooLarge(self.max))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_is_spent_then_refused() {
        let overflow = Arc::new(Overflow::default());
        let mut cap = Cap::new(10, overflow.clone());
        assert!(cap.take(6).is_ok());
        assert!(cap.take(4).is_ok());
        assert!(!overflow.hit());
        assert!(cap.take(1).is_err());
        assert!(overflow.hit());
    }
}
