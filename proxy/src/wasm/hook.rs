//! One request through one plugin: [`Plugin::on_request`] runs the guest's
//! `handle_request` on an instance; if the request goes on, the
//! [`ResponseHook`] it returns keeps that instance until the response comes
//! back for `handle_response` (or, if it never does, finishes it with
//! `is_error = 1` in the background).

use std::future::Future;
use std::sync::Arc;

use http::{Request, Response};

use crate::body::ProxyBody;

use super::body;
use super::exchange::{
    empty_slot, BodySlot, Early, Exchange, Peer, Pending, FEATURE_BUFFER_RESPONSE,
};
use super::failure::Failure;
use super::instance::Guest;
use super::plugin::Plugin;

/// What `on_request` decided.
pub enum Outcome {
    /// Send this request on; give the response to the hook.
    Continue(Request<ProxyBody>, ResponseHook),
    /// Answer with this (the guest's own response, or a 500 if it failed).
    Respond(Response<ProxyBody>),
}

/// What one plugin did with a request's exchange. (`Respond` is the larger
/// variant, but it ends the chain: returned once, not carried along.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Step {
    /// The request goes on (to the next plugin, or upstream); the hook
    /// waits for the response.
    Next(Box<Exchange>, ResponseHook),
    /// Answer with this (the guest's own response, or an error).
    Respond(Response<ProxyBody>),
}

impl Plugin {
    /// Run the guest's `handle_request`. Never panics; a failing guest
    /// yields `Respond` with a 500 (or 413/400 for a body it could not
    /// buffer, 503 when no instance can be started).
    pub fn on_request(
        self: &Arc<Self>,
        req: Request<ProxyBody>,
        peer: impl Into<Peer>,
    ) -> impl Future<Output = Outcome> + Send + '_ {
        // The request goes into its (boxed) exchange before the future is
        // made, so the future holds a pointer, not the request (see `http1`
        // on boxing).
        let exchange = Exchange::of(req, peer.into());
        async move {
            match self.handle_exchange(exchange).await {
                Step::Next(exchange, hook) => Outcome::Continue(exchange.into_request(), hook),
                Step::Respond(resp) => Outcome::Respond(resp),
            }
        }
    }

    /// `handle_request` on an exchange: the chain hands one exchange from
    /// plugin to plugin.
    pub(super) async fn handle_exchange(self: &Arc<Self>, mut exchange: Box<Exchange>) -> Step {
        let mut guest = match self.checkout().await {
            Ok(guest) => guest,
            Err(failure) => return Step::Respond(self.fail(failure, "start")),
        };
        exchange.features = guest.global_features();
        let started = std::time::Instant::now();
        let result = guest.handle_request(exchange).await;
        self.stats
            .request_calls
            .observe(started.elapsed().as_secs_f64());
        match result {
            Err(failure) => {
                drop(guest);
                Step::Respond(self.fail(failure, "handle_request"))
            }
            Ok((ctx_next, mut exchange)) => {
                // `next` is the low 32 bits; the high 32 go back to the
                // guest in handle_response.
                if ctx_next as u32 == 0 {
                    let resp = exchange.into_guest_response();
                    self.pool.give(guest);
                    return Step::Respond(resp);
                }
                let (pending, early) = exchange.pass_on();
                let Some(pending) = pending else {
                    // The guest has no use for the response: done with it.
                    self.pool.give(guest);
                    return Step::Next(exchange, ResponseHook { inner: None, early });
                };
                let hook = ResponseHook {
                    early,
                    inner: Some(Box::new(HookInner {
                        plugin: self.clone(),
                        guest,
                        req_ctx: (ctx_next >> 32) as u32,
                        pending,
                    })),
                };
                Step::Next(exchange, hook)
            }
        }
    }
}

/// Holds the instance that handled a request until the response comes back.
/// If it is dropped unused (the client went away), the guest still gets its
/// `handle_response(is_error = 1)`, in a task, and the instance then goes
/// back to the pool.
#[must_use = "call on_response or on_error so the plugin sees the outcome"]
pub struct ResponseHook {
    inner: Option<Box<HookInner>>,
    /// What the guest committed of the response before passing it on.
    early: Option<Box<Early>>,
}

struct HookInner {
    plugin: Arc<Plugin>,
    guest: Box<Guest>,
    req_ctx: u32,
    pending: Pending,
}

impl ResponseHook {
    /// Run the guest's `handle_response` on the upstream's response and
    /// return what the client should get. Never panics; a failing guest
    /// turns the response into a 500.
    pub async fn on_response(mut self, resp: Response<ProxyBody>) -> Response<ProxyBody> {
        let resp = match self.early.take() {
            Some(early) => early.apply(resp),
            None => resp,
        };
        let Some(inner) = self.inner.take() else {
            return resp;
        };
        // Boxed: a hook without a guest (an auth plugin's) must not make
        // every caller's future large (see `http1` on boxing).
        Box::pin(inner.respond(resp)).await
    }

    /// Whether no guest waits for the response (the plugin skips
    /// responses) and the guest committed nothing of it: `on_response` then
    /// returns the response as it is.
    pub fn is_empty(&self) -> bool {
        self.inner.is_none() && self.early.is_none()
    }

    /// The upstream failed; tollgate answers with its own error. The guest
    /// is told (`is_error = 1`) in the background.
    pub fn on_error(mut self) {
        if let Some(inner) = self.inner.take() {
            inner.finish_with_error();
        }
    }
}

impl Drop for ResponseHook {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.finish_with_error();
        }
    }
}

impl HookInner {
    async fn respond(self: Box<Self>, resp: Response<ProxyBody>) -> Response<ProxyBody> {
        let HookInner {
            plugin,
            mut guest,
            req_ctx,
            pending,
        } = *self;
        let (parts, body) = resp.into_parts();
        let (slot, trailers) = if pending.features() & FEATURE_BUFFER_RESPONSE != 0 {
            match body::collect(body, plugin.shared.max_body).await {
                Ok(c) => (
                    BodySlot::Buffered {
                        data: c.data,
                        pos: 0,
                        permit: c.permit,
                    },
                    c.trailers,
                ),
                Err(e) => {
                    // The guest never ran: the instance is fine.
                    let failure = match e {
                        body::CollectError::TooLarge => {
                            Failure::ResponseBodyTooLarge(plugin.shared.max_body)
                        }
                        body::CollectError::Failed(why) => Failure::ResponseBody(why),
                    };
                    let resp = plugin.fail(failure, "buffering the response");
                    let ex =
                        Exchange::for_response(pending, resp_parts_of(&resp), empty_slot(), None);
                    finish_in_background(plugin, guest, ex, req_ctx);
                    return resp;
                }
            }
        } else {
            (BodySlot::Stream(body), None)
        };
        let exchange = Exchange::for_response(pending, parts, slot, trailers);
        let started = std::time::Instant::now();
        let result = guest.handle_response(exchange, req_ctx, false).await;
        plugin
            .stats
            .response_calls
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(exchange) => {
                let resp = exchange.into_final_response();
                plugin.pool.give(guest);
                resp
            }
            Err(failure) => {
                drop(guest);
                plugin.fail(failure, "handle_response")
            }
        }
    }

    fn finish_with_error(self: Box<Self>) {
        let HookInner {
            plugin,
            guest,
            req_ctx,
            pending,
        } = *self;
        let (parts, ()) = Response::new(()).into_parts();
        let ex = Exchange::for_response(pending, parts, empty_slot(), None);
        finish_in_background(plugin, guest, ex, req_ctx);
    }
}

fn resp_parts_of(resp: &Response<ProxyBody>) -> http::response::Parts {
    let (mut parts, ()) = Response::new(()).into_parts();
    parts.status = resp.status();
    parts.headers = resp.headers().clone();
    parts
}

/// `handle_response(is_error = 1)` off the request path; the instance goes
/// back to the pool if the guest handles it cleanly. Without a runtime
/// (shutdown) the instance is simply dropped.
fn finish_in_background(
    plugin: Arc<Plugin>,
    mut guest: Box<Guest>,
    ex: Box<Exchange>,
    req_ctx: u32,
) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    handle.spawn(async move {
        match guest.handle_response(ex, req_ctx, true).await {
            Ok(_) => plugin.pool.give(guest),
            Err(failure) => {
                drop(guest);
                plugin.stats.failed(&failure);
                tracing::warn!(plugin = %plugin.shared.name, cause = %failure,
                    "plugin failed in handle_response after an upstream error; instance discarded");
            }
        }
    });
}
