//! `Router`: the compiled routing table of one entrypoint, and `route`, the
//! lookup every request makes.

use std::net::IpAddr;

use http::{HeaderMap, Method, Uri};

use super::frontend::Frontend;
use super::index::Index;
use super::matcher::Request;
use super::path::normalize as normalize_path;
use super::types::{FrontendRules, RouteMatch, RuleError};

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
    /// rules all match) and the path rewrite its modifiers ask for. `client`
    /// is the connection's peer, for `ClientIP` rules.
    pub fn route(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        client: IpAddr,
    ) -> Option<RouteMatch> {
        if self.frontends.is_empty() {
            return None;
        }
        let path = normalize_path(uri.path());
        let request = Request::new(method, &path, uri, headers, client);
        let rank = self.index.best_match(request.host, &path, |rank| {
            self.frontends
                .get(rank as usize)
                .is_some_and(|f| f.matches(&request))
        })?;
        let frontend = self.frontends.get(rank as usize)?;
        Some(RouteMatch {
            frontend: frontend.index,
            rewrite: frontend.modifiers.apply(&path),
            vars: frontend.vars(&request),
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
    pub(super) fn route_linear(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        client: IpAddr,
    ) -> Option<RouteMatch> {
        let path = normalize_path(uri.path());
        let request = Request::new(method, &path, uri, headers, client);
        let frontend = self.frontends.iter().find(|f| f.matches(&request))?;
        Some(RouteMatch {
            frontend: frontend.index,
            rewrite: frontend.modifiers.apply(&path),
            vars: frontend.vars(&request),
        })
    }
}
