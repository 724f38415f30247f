//! Traefik 1.7 routing rules, compiled once per config (per entrypoint) and
//! used, lock-free and without allocating, on every request.
//!
//! API (used by `snapshot::compile` and `request::pipeline`):
//!
//! ```ignore
//! let router = Router::compile(&[FrontendRules { priority: 0, rules: vec!["PathPrefix:/zumi01".into()], syntax: RuleSyntax::Traefik1, modifiers: vec![], wants_vars: false }])?;
//! if let Some(m) = router.route(&method, &uri, &headers, client_ip) { /* m.frontend, m.rewrite */ }
//! ```
//!
//! Rules are matched against the request's *normalized* path ([`normalize_path`]):
//! `/zumi01/../admin` is routed as `/admin`. When no modifier applies,
//! `rewrite` is None and the client's raw path is forwarded unchanged.
//!
//! Deliberate differences from Traefik 1.7, all of them for configs that 1.7
//! would reject, mis-split or never match: matcher names are accepted in any
//! case; `,` and `;` inside `{...}` (and inside regex brackets for
//! `HeadersRegexp`) do not split; `AddPrefix` / `ReplacePath*` values are
//! taken whole (1.7 kept the last `,`-piece); a templated `PathPrefixStrip`
//! strips what it matched (1.7 answered 404); literal paths must start with
//! `/`; hosts ignore a trailing dot and `HostRegexp` ignores case; rewritten
//! paths always start with `/`.
//!
//! Traefik 2 and 3's rules (``Host(`a`) && !Path(`/x`)``) compile into the
//! same conditions: a top-level `&&` is the frontend's list, so the index
//! and the matching code are shared; `||` and `!` nest.
//!
//! Modules: `types` (what goes in and out), `table` (`Router`), `rule`
//! (1.7's rule-string syntax), `expr` (2/3's rule syntax), `predicate`
//! (2/3's matchers), `template` (mux `{name:re}` templates), `path`
//! (normalization), `matcher` / `modifier` (semantics of each matcher and
//! modifier), `frontend` (one frontend compiled), `index` (the candidate
//! pre-filter that keeps 1,000 frontends fast), `hosts` (a rule's hosts).

mod expr;
mod frontend;
mod hosts;
mod index;
mod matcher;
mod modifier;
mod path;
mod predicate;
mod rule;
mod table;
mod template;
#[cfg(test)]
mod tests;
mod types;
mod upgrade;

pub use hosts::rule_hosts;
pub use matcher::request_host;
pub use path::normalize as normalize_path;
pub use table::Router;
pub use types::{
    FrontendRules, PathModifier, Rewrite, RouteMatch, RouteVars, RuleError, RuleSyntax, Vars,
};
pub use upgrade::{to_traefik3, Upgraded};
