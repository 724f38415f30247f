//! A frontend's `middlewares = [...]`: plugins run in order on the request
//! and in reverse order on the response. A plugin that answers stops the
//! request there; the plugins before it still see that answer on its way
//! out (a headers plugin in front of an auth plugin decorates its 401).

use std::future::Future;
use std::sync::Arc;

use http::{Request, Response};

use crate::body::ProxyBody;

use super::exchange::{Exchange, Peer};
use super::hook::{ResponseHook, Step};
use super::plugin::Plugin;

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
        // One exchange for the whole chain, made before the future: the
        // future holds a pointer to it (not the request), and the request
        // is moved into and out of it once, whatever the chain's length.
        let exchange = Exchange::of(req, peer.into());
        async move {
            let mut exchange = exchange;
            // Only plugins that want the response leave a hook: for a chain
            // of auth plugins this stays empty (and unallocated).
            let mut hooks = Vec::new();
            for plugin in &self.plugins {
                match plugin.handle_exchange(exchange).await {
                    Step::Next(next, hook) => {
                        exchange = next;
                        if !hook.is_empty() {
                            hooks.push(hook);
                        }
                    }
                    Step::Respond(resp) if hooks.is_empty() => {
                        return ChainOutcome::Respond(resp);
                    }
                    Step::Respond(resp) => {
                        // Boxed: a rare path, kept out of this future's size.
                        let resp = Box::pin(ChainHook { hooks }.on_response(resp)).await;
                        return ChainOutcome::Respond(resp);
                    }
                }
            }
            ChainOutcome::Continue(exchange.into_request(), ChainHook { hooks })
        }
    }
}

impl ChainHook {
    /// No plugin of the chain waits for the response.
    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

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
