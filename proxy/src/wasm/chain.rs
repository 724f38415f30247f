//! A frontend's `middlewares = [...]`: plugins run in order on the request
//! and in reverse order on the response. A plugin that answers stops the
//! request there; the plugins before it still see that answer on its way
//! out (a headers plugin in front of an auth plugin decorates its 401).

use std::future::Future;
use std::sync::Arc;

use http::{Request, Response};

use super::{Outcome, Peer, Plugin, ResponseHook};
use crate::body::ProxyBody;

#[derive(Clone, Default)]
pub struct Chain {
    plugins: Vec<Arc<Plugin>>,
}

pub enum ChainOutcome {
    /// Every plugin let the request through: send it upstream, then give
    /// the response to the hook.
    Continue(Request<ProxyBody>, ChainHook),
    /// A plugin answered (or failed: then a 500); already seen by the
    /// plugins before it.
    Respond(Response<ProxyBody>),
}

/// The plugins waiting for the response, in the order they ran.
#[must_use = "call on_response or on_error so the plugins see the outcome"]
pub struct ChainHook {
    hooks: Vec<ResponseHook>,
}

impl Chain {
    pub fn new(plugins: Vec<Arc<Plugin>>) -> Self {
        Chain { plugins }
    }

    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }

    pub fn plugins(&self) -> &[Arc<Plugin>] {
        &self.plugins
    }

    pub fn on_request(
        &self,
        req: Request<ProxyBody>,
        peer: impl Into<Peer>,
    ) -> impl Future<Output = ChainOutcome> + Send + '_ {
        let client = peer.into();
        // Not an async fn: that would keep a second copy of the request in
        // the future (arguments, then the variable the loop updates).
        let mut req = req;
        async move {
            // Only plugins that want the response leave a hook: for a chain
            // of auth plugins this stays empty (and unallocated).
            let mut hooks = Vec::new();
            for plugin in &self.plugins {
                match plugin.on_request(req, client).await {
                    Outcome::Continue(next, hook) => {
                        req = next;
                        if !hook.is_empty() {
                            hooks.push(hook);
                        }
                    }
                    Outcome::Respond(resp) if hooks.is_empty() => {
                        return ChainOutcome::Respond(resp);
                    }
                    Outcome::Respond(resp) => {
                        // Boxed: a rare path, kept out of this future's size.
                        let resp = Box::pin(ChainHook { hooks }.on_response(resp)).await;
                        return ChainOutcome::Respond(resp);
                    }
                }
            }
            ChainOutcome::Continue(req, ChainHook { hooks })
        }
    }
}

impl ChainHook {
    pub async fn on_response(mut self, mut resp: Response<ProxyBody>) -> Response<ProxyBody> {
        while let Some(hook) = self.hooks.pop() {
            resp = hook.on_response(resp).await;
        }
        resp
    }

    /// The upstream failed: each plugin is told (`is_error`), last first.
    pub fn on_error(mut self) {
        while let Some(hook) = self.hooks.pop() {
            hook.on_error();
        }
    }
}
