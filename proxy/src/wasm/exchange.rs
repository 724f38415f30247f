//! One request's state while a guest handles it: what the `http_handler`
//! imports read and write. Built from the `Request` before `handle_request`,
//! turned back into a `Request` (or the guest's own `Response`) after it, and
//! rebuilt around the upstream's `Response` for `handle_response`. The
//! client connection it came on is a [`Peer`].
//!
//! Bodies stay what they were (streams) unless the guest reads or writes them:
//! a read buffers the whole body first (bounded by the plugin's body limit),
//! a write replaces it.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};
use http::{request, response, Request, Response, StatusCode, Version};

use crate::body::Guard;
use crate::body::ProxyBody;

/// `enable_features` flags (http-wasm `features`).
pub(crate) const FEATURE_BUFFER_REQUEST: u32 = 1;
pub(crate) const FEATURE_BUFFER_RESPONSE: u32 = 2;
pub(crate) const FEATURE_TRAILERS: u32 = 4;
/// tollgate extension: the guest's `handle_response` does nothing, so do
/// not call it. The instance then goes back to the pool as soon as
/// `handle_request` returns instead of waiting for the upstream. Other hosts
/// ignore the unknown bit and call `handle_response` anyway, harmlessly.
pub(crate) const FEATURE_SKIP_RESPONSE: u32 = 1 << 31;
/// Everything tollgate implements.
pub(crate) const SUPPORTED_FEATURES: u32 =
    FEATURE_BUFFER_REQUEST | FEATURE_BUFFER_RESPONSE | FEATURE_TRAILERS | FEATURE_SKIP_RESPONSE;

/// The client connection a request came on, as plugins see it
/// (`get_source_addr`, and the scheme of `get_uri`).
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub addr: SocketAddr,
    pub tls: bool,
}

impl From<SocketAddr> for Peer {
    fn from(addr: SocketAddr) -> Self {
        Peer { addr, tls: false }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Inside `handle_request`: the request is the guest's to change.
    Request,
    /// Inside `handle_response`: the request has gone upstream (read-only).
    Response,
}

/// A message body as the guest left it.
pub(crate) enum BodySlot {
    /// Untouched: passes through as a stream.
    Stream(ProxyBody),
    /// Read into memory; `pos` is how far the guest has read.
    Buffered {
        data: Bytes,
        pos: usize,
        /// Taken off the stream, to keep the request's `maxConn` place for
        /// as long as the body is being sent.
        permit: Option<Guard>,
    },
    /// Written by the guest.
    Written { data: BytesMut, pos: usize },
}

impl BodySlot {
    pub(crate) fn is_stream(&self) -> bool {
        matches!(self, BodySlot::Stream(_))
    }

    /// Copy up to `limit` unread bytes; (bytes, end of body).
    pub(crate) fn read(&mut self, limit: usize) -> (Bytes, bool) {
        let (data, pos): (&[u8], &mut usize) = match self {
            BodySlot::Stream(_) => return (Bytes::new(), false),
            BodySlot::Buffered { data, pos, .. } => (data, pos),
            BodySlot::Written { data, pos } => (data, pos),
        };
        let start = (*pos).min(data.len());
        let end = start.saturating_add(limit).min(data.len());
        *pos = end;
        (Bytes::copy_from_slice(&data[start..end]), end == data.len())
    }

    /// Append `bytes`; the first write of a handler replaces the body.
    pub(crate) fn write(&mut self, bytes: &[u8], first: bool) {
        match self {
            BodySlot::Written { data, .. } if !first => data.extend_from_slice(bytes),
            _ => {
                *self = BodySlot::Written {
                    data: BytesMut::from(bytes),
                    pos: 0,
                }
            }
        }
    }
}

/// The request as it was handed on, kept for reads in `handle_response`.
pub(crate) struct RequestHead {
    method: http::Method,
    uri: http::Uri,
    version: Version,
    headers: HeaderMap,
}

impl RequestHead {
    fn of(parts: &request::Parts) -> Self {
        RequestHead {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            version: parts.version,
            headers: parts.headers.clone(),
        }
    }

    fn into_parts(self) -> request::Parts {
        let (mut parts, ()) = Request::new(()).into_parts();
        parts.method = self.method;
        parts.uri = self.uri;
        parts.version = self.version;
        parts.headers = self.headers;
        parts
    }
}

pub(crate) struct Exchange {
    pub phase: Phase,
    /// Features for this request: the instance's global ones plus those
    /// enabled inside `handle_request`.
    pub features: u32,
    pub client: SocketAddr,
    pub tls: bool,

    pub req: request::Parts,
    pub req_body: BodySlot,
    pub req_trailers: Option<HeaderMap>,

    pub resp: response::Parts,
    pub resp_body: BodySlot,
    pub resp_trailers: Option<HeaderMap>,

    /// Whether the current handler already wrote each body (the first write
    /// of a handler replaces it).
    pub req_written: bool,
    pub resp_written: bool,
    /// The guest set the response status in `handle_request`.
    pub status_set: bool,
}

/// What a guest committed of the response before passing the request on.
/// As on the reference host (net/http, where writing commits the head), a
/// status it set wins over the upstream's, and bytes it wrote go out ahead
/// of the upstream's body. Unlike net/http, the upstream's headers are kept.
/// Response headers it set travel here only when it skips `handle_response`
/// (otherwise `Pending` carries them): either way they win over the
/// upstream's.
pub(crate) struct Early {
    status: Option<StatusCode>,
    body: Option<Bytes>,
    headers: HeaderMap,
}

impl Early {
    pub(crate) fn apply(self, mut resp: Response<ProxyBody>) -> Response<ProxyBody> {
        if let Some(status) = self.status {
            *resp.status_mut() = status;
        }
        overlay(self.headers, resp.headers_mut());
        let Some(head) = self.body.filter(|b| !b.is_empty()) else {
            return resp;
        };
        let extra = head.len() as u64;
        let (mut parts, body) = resp.into_parts();
        let known = http_body::Body::size_hint(&body).exact();
        parts.headers.remove(header::CONTENT_LENGTH);
        if let Some(len) = known {
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len + extra));
        }
        Response::from_parts(parts, ProxyBody::prefixed(head, body))
    }
}

/// What survives between `handle_request` and `handle_response`.
pub(crate) struct Pending {
    features: u32,
    client: SocketAddr,
    tls: bool,
    head: RequestHead,
    /// Response headers the guest set before the request went on.
    early_headers: HeaderMap,
}

impl Pending {
    pub(crate) fn features(&self) -> u32 {
        self.features
    }
}

fn empty_response() -> response::Parts {
    Response::new(()).into_parts().0
}

impl Exchange {
    pub(crate) fn new(
        req: Request<ProxyBody>,
        client: SocketAddr,
        tls: bool,
        features: u32,
    ) -> Box<Self> {
        let (req, body) = req.into_parts();
        Box::new(Exchange {
            phase: Phase::Request,
            features,
            client,
            tls,
            req,
            req_body: BodySlot::Stream(body),
            req_trailers: None,
            resp: empty_response(),
            resp_body: empty_slot(),
            resp_trailers: None,
            req_written: false,
            resp_written: false,
            status_set: false,
        })
    }

    /// A request from `peer` (its scheme counts as TLS too: HTTP/2 over TLS
    /// carries it in the URI).
    pub(crate) fn of(req: Request<ProxyBody>, peer: Peer) -> Box<Self> {
        let tls = peer.tls || req.uri().scheme() == Some(&http::uri::Scheme::HTTPS);
        Exchange::new(req, peer.addr, tls, 0)
    }

    /// `handle_request` returned `next = 0`: the guest's response.
    pub(crate) fn into_guest_response(self: Box<Self>) -> Response<ProxyBody> {
        let this = *self;
        let mut resp = this.resp;
        let body = finish_body(this.resp_body, this.resp_trailers, &mut resp.headers);
        Response::from_parts(resp, body)
    }

    /// `handle_request` returned `next = 1`. Settles what this guest did to
    /// the request, so that the next plugin of the chain (or the upstream)
    /// sees it as it will go on; takes what `handle_response` will need
    /// (unless the guest skips it); and clears this guest's per-request
    /// state. The exchange itself goes on to the next plugin: a request is
    /// moved into and out of an exchange once per chain, not per plugin.
    pub(crate) fn pass_on(&mut self) -> (Option<Pending>, Option<Box<Early>>) {
        let features = self.features;
        let skips_response = features & FEATURE_SKIP_RESPONSE != 0;
        let mut early_headers = std::mem::take(&mut self.resp.headers);
        let headers_early = skips_response && !early_headers.is_empty();
        let early = (self.status_set || self.resp_written || headers_early).then(|| {
            let body = match std::mem::replace(&mut self.resp_body, empty_slot()) {
                BodySlot::Written { data, .. } if self.resp_written => Some(data.freeze()),
                _ => None,
            };
            Box::new(Early {
                status: self.status_set.then_some(self.resp.status),
                body,
                headers: if skips_response {
                    std::mem::take(&mut early_headers)
                } else {
                    HeaderMap::new()
                },
            })
        });
        // An untouched body (auth plugins, header rewrites) stays as it is.
        if !self.req_body.is_stream() {
            self.settle_request_body();
        }
        let pending = (!skips_response).then(|| Pending {
            features,
            client: self.client,
            tls: self.tls,
            head: RequestHead::of(&self.req),
            early_headers,
        });
        self.features = 0;
        // As `empty_response()` leaves it: a guest sets only the status and
        // the headers (taken above) of a response it does not send.
        self.resp.status = StatusCode::OK;
        self.resp_body = empty_slot();
        self.resp_trailers = None;
        self.req_written = false;
        self.resp_written = false;
        self.status_set = false;
        (pending, early)
    }

    /// What a guest did to the request body, as the next one (or the
    /// upstream) is to see it.
    fn settle_request_body(&mut self) {
        let features = self.features;
        let slot = match std::mem::replace(&mut self.req_body, empty_slot()) {
            // A guest that read the body without `buffer_request` consumed
            // what it read, as with a stream: only the rest goes on. The
            // next guest reads the body from its start.
            BodySlot::Buffered { data, pos, permit } => {
                let data = if features & FEATURE_BUFFER_REQUEST == 0 && pos > 0 {
                    data.slice(pos.min(data.len())..)
                } else {
                    data
                };
                BodySlot::Buffered {
                    data,
                    pos: 0,
                    permit,
                }
            }
            other => other,
        };
        fix_framing(&slot, self.req_trailers.is_some(), &mut self.req.headers);
        self.req_body = match slot {
            BodySlot::Written { data, .. } => BodySlot::Buffered {
                data: data.freeze(),
                pos: 0,
                permit: None,
            },
            other => other,
        };
    }

    /// The request to send upstream, once every plugin has passed it on
    /// (`pass_on` has fixed its framing).
    pub(crate) fn into_request(self: Box<Self>) -> Request<ProxyBody> {
        // Moved out whole: cheaper than replacing fields with empty ones
        // (callgrind: 394 vs 492 instructions).
        let this = *self;
        Request::from_parts(this.req, into_body(this.req_body, this.req_trailers))
    }

    /// Around the upstream's response, for `handle_response`. Response
    /// headers the guest set before passing the request on win over the
    /// upstream's. `body` is already buffered when `buffer_response` is on.
    pub(crate) fn for_response(
        pending: Pending,
        mut resp: response::Parts,
        body: BodySlot,
        trailers: Option<HeaderMap>,
    ) -> Box<Self> {
        overlay(pending.early_headers, &mut resp.headers);
        Box::new(Exchange {
            phase: Phase::Response,
            features: pending.features,
            client: pending.client,
            tls: pending.tls,
            req: pending.head.into_parts(),
            req_body: empty_slot(),
            req_trailers: None,
            resp,
            resp_body: body,
            resp_trailers: trailers,
            req_written: false,
            resp_written: false,
            status_set: false,
        })
    }

    /// The response after `handle_response`.
    pub(crate) fn into_final_response(self: Box<Self>) -> Response<ProxyBody> {
        let this = *self;
        let mut resp = this.resp;
        let body = finish_body(this.resp_body, this.resp_trailers, &mut resp.headers);
        Response::from_parts(resp, body)
    }

    /// The `host` the guest sees: the header, or HTTP/2's `:authority`.
    pub(crate) fn request_host(&self) -> Option<HeaderValue> {
        if let Some(h) = self.req.headers.get(header::HOST) {
            return Some(h.clone());
        }
        self.req
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    }
}

/// Response headers a guest set in `handle_request` over the upstream's:
/// each name it set replaces the upstream's values of that name.
fn overlay(guest: HeaderMap, upstream: &mut HeaderMap) {
    let mut last = None;
    for (name, value) in guest {
        // `None` names continue the previous name's values.
        let name = match name {
            Some(n) => {
                upstream.remove(&n);
                last = Some(n.clone());
                n
            }
            None => match &last {
                Some(n) => n.clone(),
                None => continue,
            },
        };
        upstream.append(name, value);
    }
}

/// `Content-Length` (and `Transfer-Encoding`) for a body the guest read or
/// wrote: what `finish_body` will send.
fn fix_framing(slot: &BodySlot, has_trailers: bool, headers: &mut HeaderMap) {
    match slot {
        BodySlot::Stream(_) => {}
        BodySlot::Buffered { data, .. } => {
            // Unchanged unless a guest consumed part of it.
            if headers.contains_key(header::CONTENT_LENGTH) {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(data.len()));
            }
        }
        BodySlot::Written { data, .. } => {
            headers.remove(header::TRANSFER_ENCODING);
            if has_trailers {
                // Trailers need a chunked (HTTP/1) or open-ended body.
                headers.remove(header::CONTENT_LENGTH);
            } else {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(data.len()));
            }
        }
    }
}

/// The slot as a body to send, fixing `Content-Length` when the guest
/// changed the body.
fn finish_body(slot: BodySlot, trailers: Option<HeaderMap>, headers: &mut HeaderMap) -> ProxyBody {
    fix_framing(&slot, trailers.is_some(), headers);
    into_body(slot, trailers)
}

/// The slot as a body to send, its headers already fixed.
fn into_body(slot: BodySlot, trailers: Option<HeaderMap>) -> ProxyBody {
    match slot {
        BodySlot::Stream(body) => body,
        BodySlot::Buffered { data, permit, .. } => {
            ProxyBody::buffered(data, trailers).with_guard(permit)
        }
        BodySlot::Written { data, .. } => ProxyBody::buffered(data.freeze(), trailers),
    }
}

pub(crate) fn empty_slot() -> BodySlot {
    BodySlot::Written {
        data: BytesMut::new(),
        pos: 0,
    }
}

/// `StatusCode` from the ABI's `u32`, for `set_status_code`.
pub(crate) fn status_from(code: u32) -> Option<StatusCode> {
    u16::try_from(code)
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
}

/// `HTTP/1.1` etc. for `get_protocol_version`.
pub(crate) fn version_text(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_reads_in_chunks_and_writes_replace_then_append() {
        let mut slot = BodySlot::Buffered {
            data: Bytes::from_static(b"abcdef"),
            pos: 0,
            permit: None,
        };
        assert_eq!(slot.read(4), (Bytes::from_static(b"abcd"), false));
        assert_eq!(slot.read(4), (Bytes::from_static(b"ef"), true));
        assert_eq!(slot.read(4), (Bytes::new(), true));
        slot.write(b"x", true);
        slot.write(b"y", false);
        assert_eq!(slot.read(10), (Bytes::from_static(b"xy"), true));
        slot.write(b"z", true);
        assert_eq!(slot.read(10), (Bytes::from_static(b"z"), true));
    }

    #[test]
    fn early_response_headers_override_upstream() {
        let req = Request::builder()
            .uri("/a")
            .body(ProxyBody::empty())
            .unwrap();
        let mut ex = Exchange::new(req, "127.0.0.1:1".parse().unwrap(), false, 0);
        ex.resp
            .headers
            .append("x-a", HeaderValue::from_static("guest1"));
        ex.resp
            .headers
            .append("x-a", HeaderValue::from_static("guest2"));
        let pending = ex.pass_on().0.unwrap();
        let (mut upstream, ()) = Response::new(()).into_parts();
        upstream
            .headers
            .insert("x-a", HeaderValue::from_static("upstream"));
        upstream
            .headers
            .insert("x-b", HeaderValue::from_static("kept"));
        let ex = Exchange::for_response(
            pending,
            upstream,
            BodySlot::Stream(ProxyBody::empty()),
            None,
        );
        let values: Vec<_> = ex.resp.headers.get_all("x-a").iter().collect();
        assert_eq!(values, ["guest1", "guest2"]);
        assert_eq!(ex.resp.headers["x-b"], "kept");
    }
}
