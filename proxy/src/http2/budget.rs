//! Control-frame budgets for an HTTP/2 connection. Frames that ask the
//! server for work but make no request progress (SETTINGS, PING,
//! WINDOW_UPDATE, PRIORITY, RST_STREAM, empty DATA, CONTINUATION, unknown
//! types) are the floods of CVE-2019-9512/9515/9516/9518 and, for resets,
//! CVE-2023-44487. hyper's h2 answers each of them; without a budget a
//! few connections of them keep every core busy. So `Budgeted` watches
//! the frame headers a client sends (it reads no payload and changes no
//! byte) and, once a connection has spent its budget, ends it with GOAWAY
//! ENHANCE_YOUR_CALM, as nginx and Envoy do.
//!
//! A budget is a token bucket per connection: [`CONTROL`] control frames
//! at once, refilled at [`CONTROL_PER_SEC`] per second, plus credit for
//! progress: every request (HEADERS) earns [`PER_REQUEST`], every DATA
//! frame tollgate sends earns [`PER_DATA_SENT`] (the client's
//! WINDOW_UPDATEs answer them). Resets have their own bucket ([`RESETS`], [`RESETS_PER_SEC`]),
//! which requests do not refill: opening a stream to reset it is the
//! attack. A browser's or gRPC client's ordinary use stays far below.
//!
//! The wrapper sits where hyper reads the connection: on a connection the
//! HTTP/1 lane handed over it first checks for the HTTP/2 preface and
//! steps aside for HTTP/1.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Control frames a connection may send at once (a browser sends a few on
/// connecting; each request earns more).
pub const CONTROL: u32 = 200;
/// Control frames a connection may send per second, sustained.
pub const CONTROL_PER_SEC: u32 = 100;
/// Control frames a request (HEADERS) earns.
pub const PER_REQUEST: u32 = 16;
/// Control frames a DATA frame tollgate sends earns (the client's stream
/// and connection WINDOW_UPDATEs).
pub const PER_DATA_SENT: u32 = 2;
/// How long a connection told to calm down is held, read from no more,
/// before it is closed: a flooder that ignores GOAWAY waits instead of
/// reconnecting at once (nginx's flood handling has the same effect).
pub const TARPIT: std::time::Duration = std::time::Duration::from_secs(1);
/// Resets a connection may send at once.
pub const RESETS: u32 = 500;
/// Resets a connection may send per second, sustained.
pub const RESETS_PER_SEC: u32 = 50;

/// What an HTTP/2 connection starts with (RFC 9113 section 3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The preface's part an HTTP/1 parser reads as a request head (its
/// request line and blank line): what the HTTP/1 lane has read when it
/// hands an h2c connection over.
pub const PREFACE_HEAD: &[u8] = PREFACE.split_at(18).0;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const ENHANCE_YOUR_CALM: u32 = 0xb;

/// A token bucket.
#[derive(Debug)]
struct Bucket {
    tokens: u32,
    cap: u32,
    per_sec: u32,
    refilled: Instant,
}

impl Bucket {
    fn new(cap: u32, per_sec: u32) -> Bucket {
        Bucket {
            tokens: cap,
            cap,
            per_sec,
            refilled: Instant::now(),
        }
    }

    fn credit(&mut self, n: u32) {
        self.tokens = self.tokens.saturating_add(n).min(self.cap);
    }

    /// Spend one token; false when there is none, even after refilling.
    fn spend(&mut self) -> bool {
        if self.tokens == 0 {
            let now = Instant::now();
            let earned = now.duration_since(self.refilled).as_millis() as u64
                * u64::from(self.per_sec)
                / 1000;
            if earned == 0 {
                return false;
            }
            self.credit(earned.min(u64::from(self.cap)) as u32);
            self.refilled = now;
        }
        self.tokens -= 1;
        true
    }
}

/// Where a byte stream is in its frames: a header being gathered, or a
/// payload being skipped.
#[derive(Debug, Default)]
struct Frames {
    head: [u8; 9],
    head_len: usize,
    payload_left: usize,
}

impl Frames {
    fn at_boundary(&self) -> bool {
        self.head_len == 0 && self.payload_left == 0
    }

    /// Walk `bytes`, calling `on_head(type, flags, stream, length)` for
    /// each frame header completed.
    fn walk(&mut self, mut bytes: &[u8], mut on_head: impl FnMut(u8, u8, u32, usize)) {
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let skip = self.payload_left.min(bytes.len());
                self.payload_left -= skip;
                bytes = &bytes[skip..];
                continue;
            }
            let take = (9 - self.head_len).min(bytes.len());
            self.head[self.head_len..self.head_len + take].copy_from_slice(&bytes[..take]);
            self.head_len += take;
            bytes = &bytes[take..];
            if self.head_len == 9 {
                let h = self.head;
                let len = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
                let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
                self.head_len = 0;
                self.payload_left = len;
                on_head(h[3], h[4], stream, len);
            }
        }
    }
}

/// What a client's frames have cost so far.
#[derive(Debug)]
struct Ledger {
    control: Bucket,
    resets: Bucket,
    /// The highest stream a request opened (for GOAWAY).
    last_stream: u32,
    spent: bool,
}

impl Ledger {
    fn new() -> Ledger {
        Ledger {
            control: Bucket::new(CONTROL, CONTROL_PER_SEC),
            resets: Bucket::new(RESETS, RESETS_PER_SEC),
            last_stream: 0,
            spent: false,
        }
    }

    fn inbound(&mut self, kind: u8, flags: u8, stream: u32, len: usize) {
        let paid = match kind {
            DATA if len > 0 || flags & END_STREAM != 0 => true,
            HEADERS => {
                self.last_stream = self.last_stream.max(stream);
                self.control.credit(PER_REQUEST);
                true
            }
            GOAWAY => true,
            RST_STREAM => self.resets.spend(),
            _ => self.control.spend(),
        };
        self.spent |= !paid;
    }

    fn outbound(&mut self, kind: u8) {
        if kind == DATA {
            self.control.credit(PER_DATA_SENT);
        }
    }
}

#[derive(Debug)]
enum State {
    /// Checking the client's first bytes for the HTTP/2 preface.
    Preface(usize),
    /// Watching an HTTP/2 connection.
    Watching,
    /// Not HTTP/2: bytes pass untouched.
    Off,
    /// The budget is spent: writing GOAWAY (bytes written so far).
    Calming(usize),
    /// GOAWAY is out (or could not be): held for [`TARPIT`], then ended.
    Tarpit(Pin<Box<tokio::time::Sleep>>),
    /// Ended.
    Closed,
}

pin_project! {
    /// A client connection hyper serves, with its HTTP/2 frames budgeted.
    pub struct Budgeted<I> {
        #[pin]
        io: I,
        state: State,
        inbound: Frames,
        outbound: Frames,
        ledger: Ledger,
        goaway: [u8; 17],
    }
}

impl<I> Budgeted<I> {
    pub fn new(io: I) -> Self {
        Budgeted {
            io,
            state: State::Preface(0),
            inbound: Frames::default(),
            outbound: Frames::default(),
            ledger: Ledger::new(),
            goaway: [0; 17],
        }
    }
}

fn tarpit() -> State {
    State::Tarpit(Box::pin(tokio::time::sleep(TARPIT)))
}

fn flood() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "HTTP/2 control frames over budget (GOAWAY ENHANCE_YOUR_CALM)",
    )
}

impl<I: AsyncRead + AsyncWrite> Budgeted<I> {
    /// Take note of bytes the client sent; true once the budget is spent.
    fn read_bytes(self: Pin<&mut Self>, mut bytes: &[u8]) -> bool {
        let this = self.project();
        if let State::Preface(seen) = this.state {
            let n = (PREFACE.len() - *seen).min(bytes.len());
            if bytes[..n] != PREFACE[*seen..*seen + n] {
                *this.state = State::Off;
                return false;
            }
            *seen += n;
            bytes = &bytes[n..];
            if *seen < PREFACE.len() {
                return false;
            }
            *this.state = State::Watching;
        }
        if !matches!(this.state, State::Watching) {
            return false;
        }
        let ledger = &mut *this.ledger;
        this.inbound.walk(bytes, |kind, flags, stream, len| {
            ledger.inbound(kind, flags, stream, len)
        });
        if !ledger.spent {
            return false;
        }
        tracing::info!(
            last_stream = ledger.last_stream,
            "HTTP/2 client over its control-frame budget: GOAWAY ENHANCE_YOUR_CALM"
        );
        // GOAWAY goes out only between two of hyper's frames; mid-frame
        // (a client that does not read either) the connection just ends.
        if this.outbound.at_boundary() {
            let mut frame = [0u8; 17];
            frame[..9].copy_from_slice(&[0, 0, 8, GOAWAY, 0, 0, 0, 0, 0]);
            frame[9..13].copy_from_slice(&ledger.last_stream.to_be_bytes());
            frame[13..].copy_from_slice(&ENHANCE_YOUR_CALM.to_be_bytes());
            *this.goaway = frame;
            *this.state = State::Calming(0);
        } else {
            *this.state = tarpit();
        }
        true
    }

    /// Write what is left of the GOAWAY, then hold the connection for
    /// [`TARPIT`]; then the error that ends it, for every read and write.
    fn poll_closing(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Error> {
        let mut this = self.project();
        loop {
            match this.state {
                State::Calming(sent) if *sent == this.goaway.len() => {
                    let _ = std::task::ready!(this.io.as_mut().poll_flush(cx));
                    *this.state = tarpit();
                }
                State::Calming(sent) => {
                    let sent = *sent;
                    match std::task::ready!(this.io.as_mut().poll_write(cx, &this.goaway[sent..])) {
                        Ok(n) if n > 0 => *this.state = State::Calming(sent + n),
                        _ => *this.state = tarpit(),
                    }
                }
                State::Tarpit(sleep) => {
                    std::task::ready!(sleep.as_mut().poll(cx));
                    *this.state = State::Closed;
                }
                _ => return Poll::Ready(flood()),
            }
        }
    }

    fn ended(&self) -> bool {
        matches!(
            self.state,
            State::Calming(_) | State::Tarpit(_) | State::Closed
        )
    }

    /// One write (plain or vectored) of `slices`: refused once the
    /// connection is ending; what went out is walked for frame boundaries.
    fn write_with<'a>(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: impl Iterator<Item = &'a [u8]>,
        write: impl FnOnce(Pin<&mut I>, &mut Context<'_>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if self.ended() {
            return self.poll_closing(cx).map(Err);
        }
        let n = std::task::ready!(write(self.as_mut().project().io, cx))?;
        self.wrote(slices, n);
        Poll::Ready(Ok(n))
    }

    fn wrote<'a>(self: Pin<&mut Self>, slices: impl Iterator<Item = &'a [u8]>, mut n: usize) {
        let this = self.project();
        if !matches!(this.state, State::Watching) {
            return;
        }
        let ledger = &mut *this.ledger;
        for bytes in slices {
            let part = &bytes[..n.min(bytes.len())];
            this.outbound
                .walk(part, |kind, _, _, _| ledger.outbound(kind));
            n -= part.len();
            if n == 0 {
                break;
            }
        }
    }
}

impl<I: AsyncRead + AsyncWrite> AsyncRead for Budgeted<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.ended() {
            return self.poll_closing(cx).map(Err);
        }
        let before = buf.filled().len();
        std::task::ready!(self.as_mut().project().io.poll_read(cx, buf))?;
        if matches!(self.state, State::Off) {
            return Poll::Ready(Ok(()));
        }
        if self.as_mut().read_bytes(&buf.filled()[before..]) {
            buf.set_filled(before);
            return self.poll_closing(cx).map(Err);
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncRead + AsyncWrite> AsyncWrite for Budgeted<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_with(cx, std::iter::once(buf), |io, cx| io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let slices = bufs.iter().map(|b| &**b);
        self.write_with(cx, slices, |io, cx| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        out.extend([kind, flags]);
        out.extend(stream.to_be_bytes());
        out.extend(payload);
        out
    }

    #[test]
    fn frames_are_found_across_any_split() {
        let mut bytes = frame(0x6, 0, 0, b"12345678");
        bytes.extend(frame(HEADERS, 0x5, 1, b"abc"));
        bytes.extend(frame(DATA, 0, 1, &[7; 300]));
        for split in 1..bytes.len() {
            let mut frames = Frames::default();
            let mut seen = Vec::new();
            for chunk in bytes.chunks(split) {
                frames.walk(chunk, |k, f, s, l| seen.push((k, f, s, l)));
            }
            assert_eq!(
                seen,
                [(0x6, 0, 0, 8), (HEADERS, 0x5, 1, 3), (DATA, 0, 1, 300)],
                "split {split}"
            );
            assert!(frames.at_boundary());
        }
    }

    #[test]
    fn a_flood_spends_the_budget_and_requests_earn_some_back() {
        let mut ledger = Ledger::new();
        for _ in 0..CONTROL {
            ledger.inbound(0x8, 0, 0, 4);
        }
        assert!(!ledger.spent, "the burst is allowed");
        ledger.inbound(HEADERS, 0x5, 1, 10);
        for _ in 0..PER_REQUEST {
            ledger.inbound(0x8, 0, 0, 4);
        }
        assert!(!ledger.spent, "a request earns {PER_REQUEST}");
        ledger.inbound(0x6, 0, 0, 8);
        assert!(ledger.spent);
        assert_eq!(ledger.last_stream, 1);
    }

    #[test]
    fn resets_are_not_paid_for_by_requests() {
        let mut ledger = Ledger::new();
        for stream in 0..RESETS {
            ledger.inbound(HEADERS, 0x5, stream * 2 + 1, 10);
            ledger.inbound(RST_STREAM, 0, stream * 2 + 1, 4);
        }
        assert!(!ledger.spent);
        ledger.inbound(HEADERS, 0x5, 9999, 10);
        ledger.inbound(RST_STREAM, 0, 9999, 4);
        assert!(ledger.spent);
    }

    #[test]
    fn data_is_progress_but_empty_data_is_not() {
        let mut ledger = Ledger::new();
        for _ in 0..10 * CONTROL {
            ledger.inbound(DATA, 0, 1, 100);
        }
        assert!(!ledger.spent);
        for _ in 0..=CONTROL {
            ledger.inbound(DATA, 0, 1, 0);
        }
        assert!(ledger.spent);
    }

    #[test]
    fn data_sent_pays_for_the_window_updates_it_causes() {
        let mut ledger = Ledger::new();
        for _ in 0..10 * CONTROL {
            ledger.outbound(DATA);
            ledger.inbound(0x8, 0, 1, 4);
            ledger.inbound(0x8, 0, 0, 4);
        }
        assert!(!ledger.spent);
    }
}
