//! What can go wrong in a guest call: the errors the host raises inside a
//! call ([`DeadlineExceeded`], [`HostError`]), and [`Failure`], what a call
//! (or starting an instance) ended with, with the status the client gets.

use std::fmt;
use std::time::Duration;

use crate::error::ProxyError;
use wasmtime::Trap;
use wasmtime_wasi::I32Exit;

use super::state::HostState;

/// Raised by the epoch callback once the call's deadline has passed.
#[derive(Debug)]
pub(crate) struct DeadlineExceeded;

impl fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline exceeded")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// Raised by the `http_handler` imports.
#[derive(Debug)]
pub(crate) enum HostError {
    /// The guest broke an ABI rule (the spec's "trap on misuse").
    Misuse(String),
    RequestBodyTooLarge(usize),
    RequestBody(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Misuse(m) => write!(f, "ABI misuse: {m}"),
            HostError::RequestBodyTooLarge(limit) => {
                write!(
                    f,
                    "request body larger than the plugin's buffer limit ({limit} bytes)"
                )
            }
            HostError::RequestBody(e) => write!(f, "reading the request body: {e}"),
        }
    }
}

impl std::error::Error for HostError {}

pub(crate) fn misuse(message: impl Into<String>) -> wasmtime::Error {
    wasmtime::Error::new(HostError::Misuse(message.into()))
}

/// Why a guest call (or starting an instance) failed.
#[derive(Debug)]
pub(crate) enum Failure {
    Deadline(Duration),
    OutOfMemory(usize),
    Trap(String),
    Exit(i32),
    Misuse(String),
    RequestBodyTooLarge(usize),
    RequestBody(String),
    ResponseBodyTooLarge(usize),
    ResponseBody(String),
    /// No instance slot free (too many instances alive at once).
    Capacity(String),
    Start(String),
}

/// What a failure is counted as (`tollgate_plugin_failures_total{kind}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The guest trapped, exited or broke the ABI.
    Trap,
    /// Its call ran past the deadline.
    Deadline,
    /// It wanted more memory than its limit.
    Memory,
    /// A body it could not buffer, or no instance could be started.
    Other,
}

impl FailureKind {
    pub const ALL: [FailureKind; 4] = [
        FailureKind::Trap,
        FailureKind::Deadline,
        FailureKind::Memory,
        FailureKind::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Trap => "trap",
            FailureKind::Deadline => "deadline",
            FailureKind::Memory => "memory",
            FailureKind::Other => "other",
        }
    }
}

impl Failure {
    pub(crate) fn kind(&self) -> FailureKind {
        match self {
            Failure::Trap(_) | Failure::Exit(_) | Failure::Misuse(_) => FailureKind::Trap,
            Failure::Deadline(_) => FailureKind::Deadline,
            Failure::OutOfMemory(_) => FailureKind::Memory,
            Failure::RequestBodyTooLarge(_)
            | Failure::RequestBody(_)
            | Failure::ResponseBodyTooLarge(_)
            | Failure::ResponseBody(_)
            | Failure::Capacity(_)
            | Failure::Start(_) => FailureKind::Other,
        }
    }

    /// The failure as the proxy's error (`crate::error` maps it to the
    /// client's status: 413/400 for a request body the plugin could not
    /// buffer, 502 for a response body, 503 when no instance can start,
    /// 500 for a guest that failed).
    pub(crate) fn to_error(&self) -> ProxyError {
        let why = self.to_string();
        match self {
            Failure::RequestBodyTooLarge(_) => ProxyError::PayloadTooLarge(why),
            Failure::RequestBody(_) => ProxyError::BadRequest(why),
            Failure::ResponseBodyTooLarge(_) | Failure::ResponseBody(_) => {
                ProxyError::BadGateway(why)
            }
            Failure::Capacity(_) => ProxyError::Unavailable(why),
            _ => ProxyError::Internal(why),
        }
    }

    /// What a failed call's error means, given the state it left.
    pub(crate) fn classify(
        error: wasmtime::Error,
        state: &HostState,
        timeout: Duration,
    ) -> Failure {
        for cause in error.chain() {
            if cause.is::<DeadlineExceeded>() {
                return Failure::Deadline(timeout);
            }
            if let Some(host) = cause.downcast_ref::<HostError>() {
                return match host {
                    HostError::Misuse(m) => Failure::Misuse(m.clone()),
                    HostError::RequestBodyTooLarge(l) => Failure::RequestBodyTooLarge(*l),
                    HostError::RequestBody(e) => Failure::RequestBody(e.clone()),
                };
            }
            if let Some(exit) = cause.downcast_ref::<I32Exit>() {
                return Failure::Exit(exit.0);
            }
        }
        if state.limits.hit {
            return Failure::OutOfMemory(state.limits.memory);
        }
        if let Some(trap) = error.downcast_ref::<Trap>() {
            let backtrace = error
                .chain()
                .skip(1)
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            return Failure::Trap(if backtrace.is_empty() {
                trap.to_string()
            } else {
                format!("{trap} ({backtrace})")
            });
        }
        Failure::Trap(format!("{error:#}"))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Deadline(t) => write!(f, "deadline of {t:?} exceeded"),
            Failure::OutOfMemory(l) => write!(f, "out of memory (limit {} MiB)", l >> 20),
            Failure::Trap(t) => write!(f, "trap: {t}"),
            Failure::Exit(code) => write!(f, "guest exited with status {code}"),
            Failure::Misuse(m) => write!(f, "ABI misuse: {m}"),
            Failure::RequestBodyTooLarge(l) => {
                write!(f, "request body over the buffer limit of {l} bytes")
            }
            Failure::RequestBody(e) => write!(f, "reading the request body: {e}"),
            Failure::ResponseBodyTooLarge(l) => {
                write!(f, "response body over the buffer limit of {l} bytes")
            }
            Failure::ResponseBody(e) => write!(f, "reading the response body: {e}"),
            Failure::Capacity(e) => write!(f, "no instance available: {e}"),
            Failure::Start(e) => write!(f, "{e}"),
        }
    }
}
