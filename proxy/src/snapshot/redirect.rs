//! `[entryPoints.X.redirect]` compiled: where every request of an entrypoint
//! is sent instead of being routed (the answer itself: `request::redirect`).

use regex::Regex;

use super::slot::Slot;

#[derive(Debug)]
pub struct RedirectRule {
    pub target: Target,
    pub permanent: bool,
}

#[derive(Debug)]
pub enum Target {
    /// Another entrypoint: its scheme, and its port as bound at run time
    /// (`configured_port` until the listener reports it).
    EntryPoint {
        slot: Slot,
        https: bool,
        configured_port: Option<u16>,
    },
    /// Rewrite `scheme://host/path?query` with a regex.
    Regex { regex: Regex, replacement: String },
}
