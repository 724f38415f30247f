//! The parking lot: idle plain HTTP/1.1 keep-alive connections held outside
//! any task. A connection idle past `http1::server::PARK_AFTER` leaves its
//! task and tokio's reactor: the lot keeps its socket in an epoll set of its
//! own (mio) with what the connection needs to go on, boxed, and a deadline
//! (its keep-alive limit). Its first bytes (or the client's FIN) resume it
//! in a new task; the deadline or a stop closes it.
//!
//! Why: an idle connection in a task of its own costs the task, its future
//! and tokio's registration (a 256-byte cache-padded `ScheduledIo`), 3.7
//! KiB in all, where nginx holds 0.6 KiB per idle connection (suite.sh,
//! scenario 9). Parked here it is the socket, a small record and the boxed
//! rest. A device server holds many idle connections: every browser tab on
//! a device's page keeps a few.
//!
//! TLS connections are not parked here (their session state cannot leave
//! the stream); they wait in their task (`http1::server::park`). So an
//! entry point starts its lot with its first plain connection
//! (`entrypoint`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::shutdown::stop_requested;

/// What a parked connection goes on with: called with its socket when the
/// client sends again (or closes); dropped, closing it, at its deadline or
/// a stop.
pub type Resume = Box<dyn FnOnce(TcpStream) + Send>;

/// Where an entry point's connections park (cheap to clone: a channel).
#[derive(Clone)]
pub struct Lot {
    tx: mpsc::UnboundedSender<Arrival>,
}

struct Arrival {
    stream: TcpStream,
    deadline: Instant,
    resume: Resume,
}

struct Parked {
    stream: TcpStream,
    /// Tells this stay from an earlier one in the same slab slot (tokens
    /// and deadlines may outlive their stay).
    stay: u32,
    /// Its deadline (`Deadlines::ms`).
    due: u64,
    resume: Resume,
}

/// The deadlines of a lot's stays, earliest first, in milliseconds after
/// the lot started (16 bytes an entry). A stay that ends early (its client
/// sent again) leaves its entry behind, skipped when it comes due; once
/// such entries outnumber the live ones they are dropped (`compact`), so
/// that connections parking and resuming all the time do not pile them up
/// for a whole keep-alive time.
struct Deadlines {
    epoch: Instant,
    heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
}

impl Deadlines {
    fn new() -> Deadlines {
        Deadlines {
            epoch: Instant::now(),
            heap: BinaryHeap::new(),
        }
    }

    fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_millis() as u64
    }

    fn push(&mut self, due: u64, key: u32, stay: u32) {
        self.heap.push(Reverse((due, key, stay)));
    }

    /// When the earliest entry comes due.
    fn next(&self) -> Option<Instant> {
        self.heap
            .peek()
            .map(|Reverse((due, ..))| self.epoch + Duration::from_millis(*due))
    }

    /// The key and stay of an entry due by `now`, earliest first.
    fn pop_due(&mut self, now: Instant) -> Option<(usize, u32)> {
        let now = self.ms(now);
        let Reverse((due, key, stay)) = *self.heap.peek()?;
        if due > now {
            return None;
        }
        self.heap.pop();
        Some((key as usize, stay))
    }

    /// Keep only the entries of `live` stays (due, key, stay) when the
    /// others outnumber them.
    fn compact(&mut self, live: usize, stays: impl Iterator<Item = (u64, u32, u32)>) {
        if self.heap.len() > 2 * live + 1024 {
            self.heap = stays.map(Reverse).collect();
        }
    }
}

/// Events taken from the epoll set at once.
const EVENTS: usize = 256;

impl Lot {
    /// Start a lot; it closes what it holds and ends when `shutdown` asks
    /// (or when no connection can park in it any more and it is empty).
    /// None when the OS refuses an epoll set: connections then wait in
    /// their tasks.
    pub fn start(shutdown: watch::Receiver<bool>) -> Option<Lot> {
        let poll = match Poll::new() {
            Ok(poll) => poll,
            Err(e) => {
                tracing::warn!(error = %e, "no parking lot for idle connections");
                return None;
            }
        };
        let registry = poll.registry().try_clone().ok()?;
        // SAFETY: the Poll owns its epoll descriptor, and the AsyncFd owns
        // the Poll: the descriptor stays open and unchanged while registered.
        let poll =
            unsafe { AsyncFd::register_with_interest(poll, tokio::io::Interest::READABLE) }.ok()?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(poll, registry, rx, shutdown));
        Some(Lot { tx })
    }

    /// Park `stream` (out of tokio's reactor, non-blocking) until its first
    /// bytes, `deadline` or a stop. A lot that has ended drops it: it only
    /// ends on a stop.
    pub fn park(&self, stream: TcpStream, deadline: Instant, resume: Resume) {
        let _ = self.tx.send(Arrival {
            stream,
            deadline,
            resume,
        });
    }
}

fn token(key: usize, stay: u32) -> Token {
    Token((u64::from(stay) << 32 | key as u64) as usize)
}

fn key_and_stay(token: Token) -> (usize, u32) {
    let t = token.0 as u64;
    ((t & u64::from(u32::MAX)) as usize, (t >> 32) as u32)
}

/// Take the stay `stay` in slot `key` out of the lot, if it is still there.
fn unpark(parked: &mut Slab<Parked>, registry: &Registry, key: usize, stay: u32) -> Option<Parked> {
    if parked.get(key).is_none_or(|p| p.stay != stay) {
        return None;
    }
    let p = parked.remove(key);
    deregister(registry, &p.stream);
    Some(p)
}

fn deregister(registry: &Registry, stream: &TcpStream) {
    let _ = registry.deregister(&mut SourceFd(&stream.as_raw_fd()));
}

async fn run(
    mut poll: AsyncFd<Poll>,
    registry: Registry,
    mut arrivals: mpsc::UnboundedReceiver<Arrival>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut parked: Slab<Parked> = Slab::new();
    let mut deadlines = Deadlines::new();
    let mut events = Events::with_capacity(EVENTS);
    let mut ready = Vec::new();
    let mut stays: u32 = 0;
    let mut open = true;
    loop {
        let next = deadlines.next();
        tokio::select! {
            biased;
            () = stop_requested(&mut shutdown) => return,
            arrival = arrivals.recv(), if open => match arrival {
                Some(a) => {
                    stays = stays.wrapping_add(1);
                    let entry = parked.vacant_entry();
                    let key = entry.key();
                    let Ok(key32) = u32::try_from(key) else {
                        (a.resume)(a.stream);
                        continue;
                    };
                    let fd = a.stream.as_raw_fd();
                    match registry.register(&mut SourceFd(&fd), token(key, stays), Interest::READABLE) {
                        Ok(()) => {
                            let due = deadlines.ms(a.deadline);
                            entry.insert(Parked { stream: a.stream, stay: stays, due, resume: a.resume });
                            deadlines.push(due, key32, stays);
                        }
                        // Not parked: on its way again at once (it reads or waits in its task).
                        Err(_) => (a.resume)(a.stream),
                    }
                }
                None => open = false,
            },
            result = readable(&mut poll, &mut events, &mut ready) => {
                if let Err(e) = result {
                    // The epoll set failed: let every connection go on in its task.
                    tracing::warn!(error = %e, "parking lot failed; resuming its connections");
                    for p in parked.drain() {
                        deregister(&registry, &p.stream);
                        (p.resume)(p.stream);
                    }
                    return;
                }
                for (key, stay) in ready.drain(..) {
                    if let Some(p) = unpark(&mut parked, &registry, key, stay) {
                        (p.resume)(p.stream);
                    }
                }
            },
            () = sleep_until(next) => {
                let now = Instant::now();
                while let Some((key, stay)) = deadlines.pop_due(now) {
                    if unpark(&mut parked, &registry, key, stay).is_some() {
                        // Dropped: its socket closes.
                        tracing::debug!("idle connection closed");
                    }
                }
            }
        }
        deadlines.compact(
            parked.len(),
            parked.iter().map(|(key, p)| (p.due, key as u32, p.stay)),
        );
        if !open && parked.is_empty() {
            return;
        }
        // Room a burst needed goes back (tens of thousands of idle connections
        // may have parked at once).
        if parked.is_empty() && parked.capacity() > 1024 {
            parked.shrink_to_fit();
            deadlines.heap.shrink_to_fit();
        }
    }
}

/// Waits for the epoll set to have events; their connections' keys in
/// `ready`.
async fn readable(
    poll: &mut AsyncFd<Poll>,
    events: &mut Events,
    ready: &mut Vec<(usize, u32)>,
) -> io::Result<()> {
    let mut guard = poll.readable_mut().await?;
    loop {
        guard.get_inner_mut().poll(events, Some(Duration::ZERO))?;
        if events.is_empty() {
            guard.clear_ready();
            return Ok(());
        }
        ready.extend(events.iter().map(|e| key_and_stay(e.token())));
        if ready.len() >= EVENTS {
            // Serve these first; the set is still readable.
            return Ok(());
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_come_due_in_order_and_only_when_due() {
        let mut d = Deadlines::new();
        d.push(300, 1, 7);
        d.push(100, 2, 8);
        d.push(200, 3, 9);
        assert_eq!(d.next(), Some(d.epoch + Duration::from_millis(100)));
        let at = |ms| d.epoch + Duration::from_millis(ms);
        let t = at(250);
        assert_eq!(d.pop_due(t), Some((2, 8)));
        assert_eq!(d.pop_due(t), Some((3, 9)));
        assert_eq!(d.pop_due(t), None, "300 ms is not due at 250");
        assert_eq!(d.heap.len(), 1);
    }

    #[test]
    fn entries_of_ended_stays_are_dropped_once_they_outnumber_the_live_ones() {
        let mut d = Deadlines::new();
        for stay in 0..2000u32 {
            d.push(u64::from(stay), 0, stay);
        }
        // Few left behind: kept (they are skipped when due).
        d.compact(1000, std::iter::empty());
        assert_eq!(d.heap.len(), 2000);
        // Two live stays among 2000 entries: only theirs remain.
        d.compact(2, [(5, 0, 5), (1500, 0, 1500)].into_iter());
        assert_eq!(d.heap.len(), 2);
        let late = d.epoch + Duration::from_secs(10);
        assert_eq!(d.pop_due(late), Some((0, 5)));
        assert_eq!(d.pop_due(late), Some((0, 1500)));
    }
}
