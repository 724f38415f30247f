//! An open-loop HTTP/1.1 load at a fixed rate, for latency at a load the
//! proxy can carry (suite.sh's scenario 12). Standard library and libc's
//! ppoll only: suite.sh compiles it with `rustc -O`, nothing to install.
//!
//!   rate_client ADDR PATH RATE CONNS SECONDS
//!
//! CONNS keep-alive connections to ADDR (127.0.0.1:PORT) send `GET PATH` on
//! a fixed schedule, RATE requests per second in all, staggered across the
//! connections, for SECONDS; one request in flight per connection. Prints
//! one line of key=value figures: sent, ok, errors, seconds, rate
//! (achieved), p50_us, p90_us, p99_us, p999_us, max_us.
//!
//! Why not wrk: wrk keeps every connection busy (closed loop), so a proxy's
//! latency there is its queue at saturation, the inverse of its throughput.
//! At a fixed rate below saturation the latency is the proxy's own delay and
//! its jitter (a worker busy elsewhere, a late wake-up), which is what a
//! user of a lightly loaded server waits for.
//!
//! One thread drives every connection (nonblocking sockets, one `ppoll`):
//! the load CPU, shared with the backend, then runs two processes, not one
//! thread per connection competing with the backend for it (with 50
//! threads, the backend alone showed an 8 ms p99 at 10,000 requests/s).
//!
//! Latency is from the moment the request was written to the last byte of
//! the response; when the previous response on the connection came back
//! after this request's scheduled time, from the scheduled time instead
//! (the wait it caused is the server's; counting from the late send would
//! hide it: "coordinated omission", as wrk2 corrects it). A wake-up of this
//! client later than the schedule (the load CPU's own delay) is not counted.

use std::env;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: rate_client ADDR PATH RATE CONNS SECONDS");
        return ExitCode::from(2);
    }
    let (addr, path) = (&args[1], &args[2]);
    let (rate, conns, seconds): (f64, usize, f64) =
        match (args[3].parse(), args[4].parse(), args[5].parse()) {
            (Ok(r), Ok(c), Ok(s)) if r > 0.0 && c > 0 && s > 0.0 => (r, c, s),
            _ => {
                eprintln!("RATE, CONNS and SECONDS must be positive numbers");
                return ExitCode::from(2);
            }
        };
    // Timed waits end up to 50 µs late by default (the timer slack), which
    // would bunch the schedule; 1 ns makes them as punctual as the kernel can.
    set_timer_slack_ns(1);

    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: tollgate-rate-client\r\n\r\n")
            .into_bytes();
    // Each connection sends every `interval`; connection i starts i/RATE
    // after the first, so that the whole load is evenly spread.
    let interval = Duration::from_secs_f64(conns as f64 / rate);
    let per_conn = (seconds * rate / conns as f64).floor() as u32;
    let streams: Result<Vec<TcpStream>, String> = (0..conns).map(|_| connect(addr)).collect();
    let streams = match streams {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rate_client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now() + Duration::from_millis(100);
    let mut clients: Vec<Client> = streams
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            Client::new(
                s,
                start + Duration::from_secs_f64(i as f64 / rate),
                interval,
            )
        })
        .collect();

    let mut latencies: Vec<u64> = Vec::with_capacity(conns * per_conn as usize);
    let mut failures = Failures::default();
    let mut fds: Vec<PollFd> = Vec::with_capacity(conns);
    let mut polled: Vec<usize> = Vec::with_capacity(conns);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // Send every request that is due on a connection free for it.
        let now = Instant::now();
        let mut next_due: Option<Instant> = None;
        let mut running = false;
        for c in clients.iter_mut().filter(|c| c.sent < per_conn) {
            running = true;
            if c.waiting.is_some() {
                continue;
            }
            if c.scheduled > now {
                next_due = Some(next_due.map_or(c.scheduled, |d| d.min(c.scheduled)));
                continue;
            }
            // Late because of the server (the previous response came after
            // this request's time): count from the schedule; late because
            // this client woke late: from the send.
            let from = if c.previous_done > c.scheduled {
                c.scheduled
            } else {
                Instant::now()
            };
            c.sent += 1;
            match c.stream.write(&request) {
                Ok(n) if n == request.len() => c.waiting = Some(from),
                // A request this small goes into an empty socket buffer
                // whole, or the connection is broken.
                Ok(n) => {
                    failures.add(format!("wrote {n} of {} bytes", request.len()));
                    c.restart(addr);
                }
                Err(e) => {
                    failures.add(format!("write: {e}"));
                    c.restart(addr);
                }
            }
        }
        let waiting = clients.iter().any(|c| c.waiting.is_some());
        if !running && !waiting {
            break;
        }

        // Wait for answers, or until the next request is due.
        fds.clear();
        polled.clear();
        for (i, c) in clients.iter().enumerate() {
            if c.waiting.is_some() {
                fds.push(PollFd {
                    fd: c.stream.as_raw_fd(),
                    events: POLLIN,
                    revents: 0,
                });
                polled.push(i);
            }
        }
        let timeout = next_due.map(|d| d.saturating_duration_since(Instant::now()));
        if timeout == Some(Duration::ZERO) {
            continue;
        }
        if let Err(e) = poll(&mut fds, timeout.unwrap_or(Duration::from_secs(10))) {
            eprintln!("rate_client: ppoll: {e}");
            return ExitCode::FAILURE;
        }
        if next_due.is_none() && fds.iter().all(|f| f.revents == 0) {
            eprintln!("rate_client: no answer within 10 s");
            return ExitCode::FAILURE;
        }
        for (f, &i) in fds.iter().zip(&polled) {
            if f.revents == 0 {
                continue;
            }
            let c = &mut clients[i];
            match c.read_response(&mut buf) {
                Ok(false) => {}
                Ok(true) => {
                    let done = Instant::now();
                    let from = c.waiting.take().expect("polled only while waiting");
                    latencies.push((done - from).as_nanos() as u64);
                    c.previous_done = done;
                    c.schedule_next();
                }
                Err(e) => {
                    failures.add(e);
                    c.restart(addr);
                }
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let errors = failures.count;
    if let Some(e) = &failures.first {
        eprintln!("rate_client: {errors} errors, the first: {e}");
    }
    latencies.sort_unstable();
    let q = |f: f64| -> f64 {
        match latencies.len() {
            0 => 0.0,
            n => latencies[((n as f64 * f) as usize).min(n - 1)] as f64 / 1000.0,
        }
    };
    println!(
        "sent={} ok={} errors={} seconds={:.3} rate={:.0} p50_us={:.1} p90_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1}",
        latencies.len() as u64 + errors,
        latencies.len(),
        errors,
        elapsed,
        latencies.len() as f64 / elapsed,
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        latencies.last().map_or(0.0, |&l| l as f64 / 1000.0),
    );
    if latencies.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Requests that failed: how many, and why the first did.
#[derive(Default)]
struct Failures {
    count: u64,
    first: Option<String>,
}

impl Failures {
    fn add(&mut self, why: String) {
        self.count += 1;
        self.first.get_or_insert(why);
    }
}

/// One connection and where it is in its schedule.
struct Client {
    stream: TcpStream,
    /// Its first request's time, and the time between two.
    first: Instant,
    interval: Duration,
    /// When its next request is due.
    scheduled: Instant,
    /// Requests sent (or failed) so far.
    sent: u32,
    /// A request in flight, and the instant its latency counts from.
    waiting: Option<Instant>,
    /// When the last response arrived.
    previous_done: Instant,
    /// The response read so far: bytes, and its whole length once the head
    /// has been read.
    filled: usize,
    need: Option<usize>,
}

impl Client {
    fn new(stream: TcpStream, first: Instant, interval: Duration) -> Client {
        Client {
            stream,
            first,
            interval,
            scheduled: first,
            sent: 0,
            waiting: None,
            previous_done: first,
            filled: 0,
            need: None,
        }
    }

    /// The next request is due one interval after the last one sent was.
    fn schedule_next(&mut self) {
        self.scheduled = self.first + self.interval * self.sent;
    }

    /// After a failed request: a new connection for the next one, at its
    /// time (or the same error again then, if none can be made).
    fn restart(&mut self, addr: &str) {
        self.waiting = None;
        self.filled = 0;
        self.need = None;
        if let Ok(s) = connect(addr) {
            self.stream = s;
        }
        self.schedule_next();
    }

    /// Reads what has arrived: true once the whole response is in (a 200
    /// with a Content-Length body; anything else is an error).
    fn read_response(&mut self, buf: &mut [u8]) -> Result<bool, String> {
        loop {
            if self.filled == buf.len() {
                return Err("response larger than the read buffer".into());
            }
            match self.stream.read(&mut buf[self.filled..]) {
                Ok(0) => return Err("connection closed before the response ended".into()),
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("read: {e}")),
            }
            if self.need.is_none() {
                if let Some(end) = find(&buf[..self.filled], b"\r\n\r\n") {
                    self.need = Some(end + 4 + content_length(&buf[..end])?);
                }
            }
            match self.need {
                Some(total) if self.filled == total => {
                    self.filled = 0;
                    self.need = None;
                    return Ok(true);
                }
                Some(total) if self.filled > total => return Err("bytes after the response".into()),
                _ => {}
            }
        }
    }
}

/// The body's length of a 200 response's head.
fn content_length(head: &[u8]) -> Result<usize, String> {
    let head = std::str::from_utf8(head).map_err(|_| "head not UTF-8")?;
    if !head.starts_with("HTTP/1.1 200 ") {
        return Err(format!("status line {:?}", head.lines().next()));
    }
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .ok_or_else(|| "response without Content-Length".into())
}

fn connect(addr: &str) -> Result<TcpStream, String> {
    let s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    s.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(s)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// libc's ppoll and prctl, declared here: std has no binding and this file
// must compile with rustc alone.
#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}
#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}
const POLLIN: i16 = 1;
extern "C" {
    fn ppoll(
        fds: *mut PollFd,
        nfds: std::ffi::c_ulong,
        timeout: *const Timespec,
        sigmask: *const std::ffi::c_void,
    ) -> i32;
    fn prctl(option: i32, ...) -> i32;
}

/// Waits until one of `fds` is readable or `timeout` has passed.
fn poll(fds: &mut [PollFd], timeout: Duration) -> std::io::Result<()> {
    let ts = Timespec {
        tv_sec: timeout.as_secs() as i64,
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs for the
    // call's duration, `ts` a valid timespec; a null sigmask leaves the
    // signal mask alone.
    let r = unsafe {
        ppoll(
            fds.as_mut_ptr(),
            fds.len() as std::ffi::c_ulong,
            &ts,
            std::ptr::null(),
        )
    };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

fn set_timer_slack_ns(ns: u64) {
    const PR_SET_TIMERSLACK: i32 = 29;
    // SAFETY: prctl(PR_SET_TIMERSLACK, ns) reads one integer argument and
    // changes only this thread's timer slack.
    unsafe {
        prctl(PR_SET_TIMERSLACK, ns as std::ffi::c_ulong);
    }
}
