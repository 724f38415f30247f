//! The one body type tollgate hands to hyper, in both directions.
//!
//! An enum rather than a boxed trait object: no allocation per request, and
//! every variant streams. `Incoming` is a peer's body passed through frame by
//! frame (the MJPEG webcam case: nothing is buffered); `Full` is a small body
//! tollgate wrote itself (errors, /ping). `ProxyBody` may carry a `Guard`
//! that lives exactly as long as the body is being sent, e.g. a `maxConn`
//! place (`upstream::limit`).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use std::sync::Arc;

use crate::body_cap::{Cap, Overflow};
use crate::http1::client::RawBody;
use crate::http1::response::RawHead;
use crate::http2::StallClock;
use crate::pace::{Pace, Paced};

pub struct ProxyBody {
    kind: Kind,
    /// A request body's size limit (`body_cap`), boxed: rare.
    cap: Option<Box<Cap>>,
    /// Released when the body is dropped (fully sent or abandoned).
    guard: Option<Guard>,
    /// An HTTP/2 stream's stall clock (`http2::stall`), kept up to date
    /// as frames are taken.
    clock: Option<Arc<StallClock>>,
}

/// Whatever must live exactly as long as a body is being sent (a `maxConn`
/// place). Opaque, so that the body type knows nothing of what it guards;
/// boxed, which costs an allocation only for requests that take one.
pub type Guard = Box<dyn Send + Sync>;

/// Errors of any body tollgate relays: a peer's I/O error, or a deadline.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

enum Kind {
    Empty,
    Full(Option<Bytes>),
    Incoming(Incoming),
    /// A client's body held to a minimum rate (`pace`); boxed, as rarer.
    Paced(Box<Paced>),
    /// A backend's response body read straight from its connection
    /// (`http1::client`), which returns the connection itself.
    Raw(RawBody),
    /// A body a wasm plugin buffered or rewrote, with its trailers if any.
    /// (Trailers boxed: a `HeaderMap` inline would double the size of every
    /// body, and so of every request and response moved on the hot path.)
    Buffered(Option<Bytes>, Option<Box<HeaderMap>>),
    /// Bytes a wasm plugin wrote before passing the request on, then the
    /// upstream's body (`wasm::exchange::Early`).
    Prefixed(Box<(Option<Bytes>, ProxyBody)>),
}

impl ProxyBody {
    pub fn empty() -> Self {
        ProxyBody {
            kind: Kind::Empty,
            guard: None,
            clock: None,
            cap: None,
        }
    }

    pub fn full(bytes: impl Into<Bytes>) -> Self {
        ProxyBody {
            kind: Kind::Full(Some(bytes.into())),
            guard: None,
            clock: None,
            cap: None,
        }
    }

    pub fn incoming(body: Incoming) -> Self {
        ProxyBody {
            kind: Kind::Incoming(body),
            guard: None,
            clock: None,
            cap: None,
        }
    }

    /// A client's request body that must keep `rate` bytes per second
    /// after `grace` (`pace`); `pace` says afterwards whether it did not.
    pub fn paced(body: Incoming, rate: u32, grace: std::time::Duration, pace: Arc<Pace>) -> Self {
        ProxyBody {
            kind: Kind::Paced(Box::new(Paced::new(body, rate, grace, pace))),
            guard: None,
            clock: None,
            cap: None,
        }
    }

    pub fn raw(body: RawBody) -> Self {
        ProxyBody {
            kind: Kind::Raw(body),
            guard: None,
            clock: None,
            cap: None,
        }
    }

    /// A whole body held in memory, then its trailers (plugins that buffer).
    pub fn buffered(data: Bytes, trailers: Option<HeaderMap>) -> Self {
        ProxyBody {
            kind: Kind::Buffered(Some(data), trailers.map(Box::new)),
            guard: None,
            clock: None,
            cap: None,
        }
    }

    /// A backend's header lines kept raw for an HTTP/1 client
    /// (`http1::response::Form::PassThrough`); whoever writes the response
    /// head takes them, once.
    /// `head`, then `rest`.
    pub fn prefixed(head: Bytes, rest: ProxyBody) -> Self {
        ProxyBody {
            kind: Kind::Prefixed(Box::new((Some(head), rest))),
            guard: None,
            clock: None,
            cap: None,
        }
    }

    pub fn take_raw_head(&mut self) -> Option<Box<RawHead>> {
        match &mut self.kind {
            Kind::Raw(body) => body.take_head(),
            _ => None,
        }
    }

    /// Move the guard out, to put it on a body that replaces this one.
    pub fn take_guard(&mut self) -> Option<Guard> {
        self.guard.take()
    }

    /// Keep `clock` (an HTTP/2 stream's, `http2::stall`) up to date: from
    /// now on, the body waits on its sender until a poll finds it waiting
    /// on its own source.
    pub fn watched(mut self, clock: Option<Arc<StallClock>>) -> Self {
        if let Some(clock) = &clock {
            clock.owed();
        }
        self.clock = clock;
        self
    }

    /// End the body in an error, and mark `overflow`, once more than
    /// `max` bytes went through (`body_cap`).
    pub fn cap(&mut self, max: u64, overflow: Arc<Overflow>) {
        self.cap = Some(Box::new(Cap::new(max, overflow)));
    }

    /// Keep `guard` too, until this body is finished or dropped.
    pub fn add_guard(&mut self, guard: Guard) {
        self.guard = Some(match self.guard.take() {
            None => guard,
            Some(old) => Box::new((old, guard)),
        });
    }

    /// Keep `guard` until this body is finished or dropped.
    pub fn with_guard(mut self, guard: Option<Guard>) -> Self {
        self.set_guard(guard);
        self
    }

    /// `with_guard`, in place.
    pub fn set_guard(&mut self, guard: Option<Guard>) {
        self.guard = guard;
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let polled = this.kind.poll_frame(cx);
        if let (Some(cap), Poll::Ready(Some(Ok(frame)))) = (&mut this.cap, &polled) {
            let len = frame.data_ref().map_or(0, Bytes::len);
            if let Err(too_large) = cap.take(len) {
                return Poll::Ready(Some(Err(Box::new(too_large))));
            }
        }
        if let Some(clock) = &this.clock {
            match polled {
                Poll::Ready(Some(Ok(_))) => clock.owed(),
                _ => clock.waiting(),
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.kind.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.kind.size_hint()
    }
}

impl Kind {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Kind::Incoming(body) => Pin::new(body).poll_frame(cx).map_err(|e| e.into()),
            Kind::Paced(body) => body.poll_frame(cx),
            Kind::Raw(body) => Pin::new(body).poll_frame(cx).map_err(|e| e.into()),
            Kind::Buffered(data, trailers) => match data.take() {
                Some(d) if !d.is_empty() => Poll::Ready(Some(Ok(Frame::data(d)))),
                _ => Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(*t)))),
            },
            Kind::Prefixed(parts) => match parts.0.take() {
                Some(head) => Poll::Ready(Some(Ok(Frame::data(head)))),
                None => Pin::new(&mut parts.1).poll_frame(cx),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Kind::Empty => true,
            Kind::Full(data) => data.is_none(),
            Kind::Incoming(body) => body.is_end_stream(),
            Kind::Paced(body) => body.is_end_stream(),
            Kind::Raw(body) => body.is_end_stream(),
            Kind::Buffered(data, trailers) => {
                data.as_ref().is_none_or(Bytes::is_empty) && trailers.is_none()
            }
            Kind::Prefixed(parts) => parts.0.is_none() && parts.1.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(Some(d)) => SizeHint::with_exact(d.len() as u64),
            Kind::Full(None) => SizeHint::with_exact(0),
            Kind::Incoming(body) => body.size_hint(),
            Kind::Paced(body) => body.size_hint(),
            Kind::Raw(body) => body.size_hint(),
            Kind::Buffered(data, _) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Prefixed(parts) => {
                let head = parts.0.as_ref().map_or(0, |h| h.len() as u64);
                let rest = parts.1.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower() + head);
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper + head);
                }
                hint
            }
        }
    }
}
