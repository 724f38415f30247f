//! The router's interface types: what it is given (`FrontendRules`), what
//! it answers (`RouteMatch`, `Rewrite`) and how it refuses a rule
//! (`RuleError`).

pub use crate::config::model::{PathModifier, RuleSyntax};

/// The rules of one frontend: all of its routes' rule strings (ANDed) and its
/// configured priority (0 = use the rules' total length, as Traefik 1.7,
/// 2 and 3 all do).
#[derive(Debug, Clone)]
pub struct FrontendRules {
    pub priority: i64,
    pub rules: Vec<String>,
    pub syntax: RuleSyntax,
    /// Traefik 2/3 path middlewares, applied with (and in the order of) the
    /// 1.7 rule modifiers: strips, then the prefix added, then replacements.
    pub modifiers: Vec<PathModifier>,
    /// Its backend's URL uses the rule's variables (`{device}`): a match
    /// reports them in `RouteMatch::vars`. Other frontends pay nothing.
    pub wants_vars: bool,
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
    /// The rule's variables, when the frontend wants them
    /// (`FrontendRules::wants_vars`); empty otherwise.
    pub vars: Vars,
}

/// A matched request's template variables (`{device}` in
/// `Host:{device}.cams.example.com`), in rule order, for templated backend
/// URLs. A name given twice keeps its first value. Host values are
/// lower-case.
pub type Vars = Vec<(Box<str>, String)>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// The new path (no query: the caller keeps the client's query).
    pub path: String,
    /// Value for `X-Forwarded-Prefix` when a strip modifier removed a prefix.
    pub forwarded_prefix: Option<String>,
    /// Value for `X-Replaced-Path` when a ReplacePath* modifier ran.
    pub replaced_path: Option<String>,
}

/// A request's route variables while its plugins run: put in the request's
/// extensions before the frontend's plugins (when its backend is
/// templated), read and changed by `tollgate.get_route_var` /
/// `set_route_var`, and taken back out to choose the target. What a plugin
/// sets passes the same allow-list as the rule's values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteVars(pub Vars);
