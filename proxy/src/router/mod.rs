//! Traefik 1.7 routing rules, compiled once per config (per entrypoint) and
//! used, lock-free and without allocating, on every request.
//!
//! API CONTRACT (used by runtime::compile and server.rs; keep these signatures):
//!
//! ```ignore
//! let router = Router::compile(&[FrontendRules { priority: 0, rules: vec!["PathPrefix:/zumi01".into()] }])?;
//! if let Some(m) = router.route(&method, &uri, &headers) { /* m.frontend, m.rewrite */ }
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
//! Modules: `rule` (rule-string syntax), `template` (mux `{name:re}`
//! templates), `path` (normalization), `matcher` / `modifier` (semantics of
//! each matcher and modifier), `frontend` (one frontend compiled), `index`
//! (the candidate pre-filter that keeps 1,000 frontends fast).

mod frontend;
mod index;
mod matcher;
mod modifier;
mod path;
mod rule;
mod template;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use http::{HeaderMap, Method, Uri};

use frontend::Frontend;
use index::Index;
use matcher::Request;

/// The rules of one frontend: all of its routes' rule strings (ANDed) and its
/// configured priority (0 = use the rules' total length, as Traefik 1.7).
#[derive(Debug, Clone)]
pub struct FrontendRules {
    pub priority: i64,
    pub rules: Vec<String>,
}

/// A rule that does not compile: which frontend (index into the slice given to
/// `compile`), which of its rules (index into `rules`), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub frontend: usize,
    pub rule: usize,
    pub message: String,
}

/// The outcome of routing one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// Index of the winning frontend in the slice given to `compile`.
    pub frontend: usize,
    /// Set only when a modifier changed the path; None = forward the path as the client sent it.
    pub rewrite: Option<Rewrite>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// The new path (no query: the caller keeps the client's query).
    pub path: String,
    /// Value for `X-Forwarded-Prefix` when a strip modifier removed a prefix.
    pub forwarded_prefix: Option<String>,
    /// Value for `X-Replaced-Path` when a ReplacePath* modifier ran.
    pub replaced_path: Option<String>,
}

/// Compiled routing table for one set of frontends (one entrypoint).
#[derive(Debug, Default)]
pub struct Router {
    /// In priority order: highest priority first, ties by frontend index.
    /// A frontend's position here is its *rank*.
    frontends: Box<[Frontend]>,
    index: Index,
}

impl Router {
    /// Compiles every frontend's rules; reports every rule that does not
    /// compile (not just the first).
    pub fn compile(frontends: &[FrontendRules]) -> Result<Router, Vec<RuleError>> {
        let mut compiled = Vec::with_capacity(frontends.len());
        let mut errors = Vec::new();
        for (index, rules) in frontends.iter().enumerate() {
            match Frontend::compile(index, rules) {
                Ok(frontend) => compiled.push(frontend),
                Err(mut e) => errors.append(&mut e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        compiled.sort_by_key(|f| (std::cmp::Reverse(f.priority), f.index));
        let index = Index::build(&compiled);
        Ok(Router {
            frontends: compiled.into(),
            index,
        })
    }

    /// The frontend for this request (highest priority among those whose
    /// rules all match) and the path rewrite its modifiers ask for.
    pub fn route(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<RouteMatch> {
        if self.frontends.is_empty() {
            return None;
        }
        let path = normalize_path(uri.path());
        let request = Request::new(method, &path, uri, headers);
        let rank = self.index.best_match(request.host, &path, |rank| {
            self.frontends
                .get(rank as usize)
                .is_some_and(|f| f.matches(&request))
        })?;
        let frontend = self.frontends.get(rank as usize)?;
        Some(RouteMatch {
            frontend: frontend.index,
            rewrite: frontend.modifiers.apply(&path),
        })
    }

    /// Number of frontends.
    pub fn len(&self) -> usize {
        self.frontends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frontends.is_empty()
    }

    /// `route` without the index: the reference it must agree with.
    #[cfg(test)]
    fn route_linear(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<RouteMatch> {
        let path = normalize_path(uri.path());
        let request = Request::new(method, &path, uri, headers);
        let frontend = self.frontends.iter().find(|f| f.matches(&request))?;
        Some(RouteMatch {
            frontend: frontend.index,
            rewrite: frontend.modifiers.apply(&path),
        })
    }
}

/// The host a request is for, without port: the URI's authority (HTTP/2
/// `:authority`, or an absolute-form request target, which RFC 9112 says wins
/// over `Host`), else the `Host` header. IPv6 literals keep their brackets.
pub fn request_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    if let Some(host) = uri.host() {
        return Some(host);
    }
    let value = headers.get(http::header::HOST)?.to_str().ok()?.trim();
    let host = if value.starts_with('[') {
        // `[::1]:8080` -> `[::1]`
        value.find(']').map_or(value, |end| &value[..=end])
    } else {
        match value.split_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => value,
        }
    };
    (!host.is_empty()).then_some(host)
}

/// The form of a request path that rules are matched against: unreserved
/// percent-escapes decoded (others kept, upper-case hex), `//` merged, `.`
/// and `..` resolved without climbing above `/`. Borrows when `path` is
/// already normal.
pub fn normalize_path(path: &str) -> Cow<'_, str> {
    path::normalize(path)
}

/// The host names of a frontend's `Host` matchers, lower-case (for ACME
/// `onHostRule`, as Traefik 1.7's `ParseDomains`). Rules that do not parse
/// contribute nothing: `Router::compile` reports them.
pub fn rule_hosts(rules: &[String]) -> Vec<String> {
    let mut hosts = Vec::new();
    for items in rules.iter().filter_map(|r| rule::parse(r).ok()) {
        for item in items.iter().filter(|i| i.matcher == rule::Matcher::Host) {
            for host in rule::split_list(item.value, b',', &[]) {
                let host = template::canonical_host(host);
                if !host.is_empty() && !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
        }
    }
    hosts
}
