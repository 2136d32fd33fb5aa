//! One HTTP connection: bounded input and output buffers, the phase it is in, and the deadline
//! that phase implies. Generic over its stream (`Read + Write + AsFd`), so it is unit-tested
//! over `UnixStream::pair()`; the event loop polls `stream()` with `interest()` and calls
//! `read`/`write` when poll says so, `expire` when `deadline()` has passed.
//!
//! ```text
//!          bytes arrive           request complete, routed
//!   Idle ──────────────► Reading ─────────────────────────► answer queued ──► Idle (keep-alive)
//!    │ 30 s: close         │ 10 s: 408          │ needs fail2ban               │ or, to close:
//!    │                     │ too big: 413/414/431 └─► Parked ──► answer queued  ▼
//!    └─────────────────────┴───────────────────────────────────────────► Closing: flush
//!                                                                            │ shut down writing
//!   any phase: output owed and none of it written for 30 s ──► Closed        ▼
//!                                                   Closed ◄── peer's EOF or 2 s ── Lingering
//! ```
//! Lingering reads and drops what the peer still sends after our last answer: closing a
//! socket with unread input sends a reset, and a reset can destroy the answer in the peer's
//! receive buffer before it reads it.

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use rustix::buffer::spare_capacity;
use rustix::event::PollFlags;
use rustix::io::Errno;

use super::request::{parse_request, ParseError, Request, MAX_BODY_BYTES, MAX_HEADER_BYTES};
use super::response::Response;

/// From the first byte of a request to its last header.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A keep-alive connection with nothing to do is closed after this.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection that owes output and writes none of it for this long is closed: its peer has
/// stopped reading. The idle timeout, since a reader this slow is as good as idle.
pub const WRITE_STALL_TIMEOUT: Duration = IDLE_TIMEOUT;
/// How long a closing connection reads and drops what the peer still sends after our last
/// answer, waiting for its EOF.
pub const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// A connection stops reading new requests while this much output is unsent (pipelining
/// backpressure).
pub const MAX_PENDING_OUTPUT: usize = 256 * 1024;
/// Least room offered to a `read(2)`.
const READ_CHUNK: usize = 16 * 1024;
/// Input kept unparsed: one maximal request plus the start of its pipelined successor.
const MAX_INPUT: usize = MAX_HEADER_BYTES + MAX_BODY_BYTES + READ_CHUNK;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Keep-alive, waiting for the first byte of the next request (idle timeout).
    Idle,
    /// Part of a request has arrived (header timeout).
    Reading,
    /// A request waits for fail2ban; nothing more is parsed meanwhile (answers stay in order).
    /// Its deadline is the event loop's (`--timeout` after the request arrived).
    Parked,
    /// Flush what is queued, then linger.
    Closing,
    /// Writing side shut down; drop what the peer still sends until its EOF (linger timeout).
    Lingering,
    /// Done: the event loop drops the connection.
    Closed,
}

pub struct Connection<S> {
    stream: S,
    input: Vec<u8>,
    output: Vec<u8>,
    /// Bytes of `output` already written.
    written: usize,
    phase: Phase,
    /// The idle, header or linger deadline, by phase.
    phase_deadline: Instant,
    /// When output was last written, or became owed: with `WRITE_STALL_TIMEOUT`, bounds a peer
    /// that does not read.
    write_since: Instant,
    /// The peer closed its sending side: answer what is queued, then close.
    peer_done: bool,
    /// At least one answer was queued (an idle connection between requests, not a fresh one).
    answered: bool,
    /// When the connection last made progress (a byte read or an answer queued).
    last_progress: Instant,
}

impl<S: Write + AsFd> Connection<S> {
    pub fn new(stream: S, now: Instant) -> Self {
        Connection {
            stream,
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            phase: Phase::Idle,
            phase_deadline: now + IDLE_TIMEOUT,
            write_since: now,
            peer_done: false,
            answered: false,
            last_progress: now,
        }
    }

    pub fn stream(&self) -> &S {
        &self.stream
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// When the connection last made progress (a byte read or an answer queued).
    pub fn last_progress(&self) -> Instant {
        self.last_progress
    }

    fn owes_output(&self) -> bool {
        self.written < self.output.len()
    }

    fn unsent(&self) -> usize {
        self.output.len() - self.written
    }

    /// Poll interest, derived from state every time (never stored).
    pub fn interest(&self) -> PollFlags {
        let mut flags = PollFlags::empty();
        if self.owes_output() {
            flags |= PollFlags::OUT;
        }
        let reading = match self.phase {
            Phase::Idle | Phase::Reading => !self.peer_done && self.unsent() < MAX_PENDING_OUTPUT,
            Phase::Lingering => true,
            Phase::Parked | Phase::Closing | Phase::Closed => false,
        };
        if reading {
            flags |= PollFlags::IN;
        }
        flags
    }

    /// The nearest deadline of this connection, if any. Once `expire` has run at or after it,
    /// it is never returned again: the connection has moved on (or closed).
    pub fn deadline(&self) -> Option<Instant> {
        let stall = self
            .owes_output()
            .then(|| self.write_since + WRITE_STALL_TIMEOUT);
        let phase = match self.phase {
            // A connection that still writes is not idle, and a request held back by output
            // backpressure is not slow: the stall deadline rules.
            Phase::Idle | Phase::Reading if self.owes_output() => None,
            Phase::Idle | Phase::Reading | Phase::Lingering => Some(self.phase_deadline),
            Phase::Parked | Phase::Closing | Phase::Closed => None,
        };
        match (stall, phase) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Act on passed deadlines: close a stalled writer, an idle connection or a lingering one;
    /// answer 408 to a request whose headers took too long. Returns the status it answered.
    pub fn expire(&mut self, now: Instant, date: &str) -> Option<u16> {
        if self.owes_output() && now >= self.write_since + WRITE_STALL_TIMEOUT {
            self.abort();
            return None;
        }
        if now < self.phase_deadline {
            return None;
        }
        match self.phase {
            Phase::Idle if !self.owes_output() => self.phase = Phase::Closed,
            Phase::Lingering => self.phase = Phase::Closed,
            Phase::Reading if !self.owes_output() => {
                let resp = Response::error(408, "request headers took too long").closing();
                self.respond(None, &resp, now, date);
                return Some(408);
            }
            _ => {}
        }
        None
    }

    /// True when the event loop should drop the connection.
    pub fn finished(&self) -> bool {
        self.phase == Phase::Closed
            || (self.peer_done
                && matches!(self.phase, Phase::Idle | Phase::Reading)
                && !self.owes_output()
                && self.input.is_empty())
    }

    /// Read once: poll is level-triggered, so what is left is reported next turn. Reads again
    /// only when a read filled all the room it was given (more is surely there). False on a
    /// fatal error.
    pub fn read(&mut self, now: Instant) -> bool {
        if self.phase == Phase::Lingering {
            // Read and drop (`close` emptied the input): our answer is out, only the peer's EOF
            // matters.
            let read = read_once(&self.stream, &mut self.input);
            self.input.clear();
            return match read {
                Ok((0, _)) => {
                    self.phase = Phase::Closed;
                    true
                }
                Ok(_) => true,
                Err(e) => e == Errno::AGAIN || e == Errno::INTR,
            };
        }
        while self.input.len() < MAX_INPUT {
            match read_once(&self.stream, &mut self.input) {
                Ok((0, _)) => {
                    self.peer_done = true;
                    return true;
                }
                Ok((_, filled)) => {
                    self.last_progress = now;
                    if self.phase == Phase::Idle {
                        self.phase = Phase::Reading;
                        self.phase_deadline = now + HEADER_TIMEOUT;
                    }
                    if !filled {
                        return true;
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return true,
                Err(_) => return false,
            }
        }
        true
    }

    /// Write what the socket takes; a closing connection that has written everything shuts down
    /// its writing side and lingers. False on a fatal error.
    pub fn write(&mut self, now: Instant) -> bool {
        while self.owes_output() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return false,
                Ok(n) => {
                    self.written += n;
                    self.write_since = now;
                    if self.owes_output() {
                        // A short write: the socket buffer is full, the next write would block.
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if would_block(&e) => break,
                Err(_) => return false,
            }
        }
        if self.owes_output() {
            return true;
        }
        if !self.output.is_empty() {
            self.output.clear();
            self.written = 0;
            if self.output.capacity() > MAX_PENDING_OUTPUT {
                self.output = Vec::new();
            }
            if self.phase == Phase::Idle {
                self.phase_deadline = now + IDLE_TIMEOUT;
            }
        }
        if self.phase == Phase::Closing {
            if self.peer_done {
                self.phase = Phase::Closed;
            } else {
                // Our EOF tells the peer the answer is complete; what it still sends is drained.
                let _ = rustix::net::shutdown(&self.stream, rustix::net::Shutdown::Write);
                self.phase = Phase::Lingering;
                self.phase_deadline = now + LINGER_TIMEOUT;
            }
        }
        true
    }

    /// The next complete request, if any (only when not parked or closing).
    pub fn next_request(&mut self) -> Result<Option<Request>, ParseError> {
        if !matches!(self.phase, Phase::Idle | Phase::Reading) || self.input.is_empty() {
            return Ok(None);
        }
        if self.unsent() >= MAX_PENDING_OUTPUT {
            return Ok(None);
        }
        match parse_request(&self.input)? {
            Some((req, used)) => {
                self.input.drain(..used);
                if self.input.is_empty() && self.input.capacity() > READ_CHUNK {
                    // A big body is done with: an idle connection keeps one chunk at most.
                    self.input = Vec::new();
                }
                Ok(Some(req))
            }
            None if self.peer_done => Err(ParseError::Malformed("connection closed mid-request")),
            None => Ok(None),
        }
    }

    pub fn park(&mut self) {
        self.phase = Phase::Parked;
    }

    /// Queue a response to `req` (`None`: to no request, so close after it), and move to the
    /// next phase.
    pub fn respond(&mut self, req: Option<&Request>, resp: &Response, now: Instant, date: &str) {
        let (head_only, keep_alive, minor) = match req {
            Some(r) => (r.is_head(), r.keep_alive, r.minor_version),
            None => (false, false, 1),
        };
        if !self.owes_output() {
            self.write_since = now;
        }
        resp.write_to(&mut self.output, head_only, keep_alive, minor, date);
        self.answered = true;
        self.last_progress = now;
        if !keep_alive || resp.close {
            self.close();
        } else if self.input.is_empty() {
            self.phase = Phase::Idle;
            self.phase_deadline = now + IDLE_TIMEOUT;
        } else {
            // A pipelined request has (partly) arrived already.
            self.phase = Phase::Reading;
            self.phase_deadline = now + HEADER_TIMEOUT;
        }
    }

    /// May be closed to make room for a new connection: waiting for (more of) a request, owing
    /// the peer nothing, and quiet since before `now` (so a connection accepted or read in this
    /// very wake-up, whose request is not parsed yet, is not thrown out unanswered).
    pub fn evictable(&self, now: Instant) -> bool {
        matches!(self.phase, Phase::Idle | Phase::Reading)
            && !self.owes_output()
            && self.last_progress < now
    }

    /// Between two requests of a keep-alive connection: closing it needs no answer.
    pub fn between_requests(&self) -> bool {
        self.answered && self.phase == Phase::Idle && self.input.is_empty()
    }

    /// Flush what is queued, then linger and close. Unparsed input is dropped.
    pub fn close(&mut self) {
        self.phase = Phase::Closing;
        self.input.clear();
    }

    /// The socket failed or the peer stalled: drop everything and close.
    pub fn abort(&mut self) {
        self.input.clear();
        self.output.clear();
        self.written = 0;
        self.phase = Phase::Closed;
    }
}

/// One `read(2)` straight into `input`'s spare capacity: no intermediate buffer, so no stack
/// array is copied through, and an idle process keeps no such pages resident. Room below a
/// quarter chunk is topped up by a chunk (not on every partial request, which would reallocate
/// each time), so the capacity, and `input`, stay under `MAX_INPUT + READ_CHUNK` (reads happen
/// below `MAX_INPUT`). Returns the bytes read and whether they filled the room.
fn read_once(stream: &impl AsFd, input: &mut Vec<u8>) -> Result<(usize, bool), Errno> {
    if input.capacity() - input.len() < READ_CHUNK / 4 {
        input.reserve_exact(READ_CHUNK);
    }
    let room = input.capacity() - input.len();
    let n = rustix::io::read(stream, spare_capacity(input))?;
    Ok((n, n == room))
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    fn pair(now: Instant) -> (Connection<UnixStream>, UnixStream) {
        let (ours, peer) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        peer.set_nonblocking(true).unwrap();
        (Connection::new(ours, now), peer)
    }

    /// Everything the peer can read now.
    fn peer_reads(peer: &mut UnixStream) -> String {
        let mut out = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            match peer.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    const OK: &str = "HTTP/1.1 200 OK\r\nDate: D\r\nServer: banwatch\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";

    fn ok() -> Response {
        Response::new(200, "text/plain", &b"ok"[..])
    }

    #[test]
    fn a_request_split_across_reads_is_parsed_once_complete() {
        let t = Instant::now();
        let (mut c, mut peer) = pair(t);
        peer.write_all(b"GET /a HTTP/1.1\r\nHo").unwrap();
        assert!(c.read(t));
        assert_eq!(c.next_request(), Ok(None));
        assert_eq!(c.phase(), Phase::Reading);
        assert_eq!(c.deadline(), Some(t + HEADER_TIMEOUT));
        peer.write_all(b"st: x\r\n\r\n").unwrap();
        assert!(c.read(t));
        let req = c.next_request().unwrap().unwrap();
        assert_eq!(req.target, "/a");
        c.respond(Some(&req), &ok(), t, "D");
        assert!(c.write(t));
        assert_eq!(peer_reads(&mut peer), OK);
        assert_eq!(c.phase(), Phase::Idle);
    }

    #[test]
    fn one_read_per_readiness_unless_the_room_filled() {
        let t = Instant::now();
        let (mut c, mut peer) = pair(t);
        // A request and the peer's EOF: one read takes the request; a second one, to see
        // EAGAIN, would have seen the EOF.
        peer.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        peer.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(c.read(t));
        assert!(!c.peer_done, "no second read after a short one");
        assert!(c.next_request().unwrap().is_some());
        assert!(c.read(t));
        assert!(c.peer_done, "the EOF, at the next readiness");

        // A body bigger than the room offered: the filled room calls for another read at once.
        let (mut c, mut peer) = pair(t);
        let big = format!(
            "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY_BYTES}\r\n\r\n{}",
            "b".repeat(MAX_BODY_BYTES)
        );
        peer.write_all(big.as_bytes()).unwrap();
        assert!(c.read(t));
        assert_eq!(c.input.len(), big.len());
        assert!(c.input.capacity() < MAX_INPUT + READ_CHUNK);
        assert!(c.next_request().unwrap().is_some());
        assert_eq!(c.input.capacity(), 0, "a big buffer is not kept idle");
    }

    #[test]
    fn pipelined_requests_are_answered_in_order_byte_exact() {
        let t = Instant::now();
        let (mut c, mut peer) = pair(t);
        peer.write_all(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.0\r\n\r\n")
            .unwrap();
        assert!(c.read(t));
        let mut targets = Vec::new();
        while let Some(req) = c.next_request().unwrap() {
            targets.push(req.target.clone());
            c.respond(Some(&req), &ok(), t, "D");
        }
        assert_eq!(targets, ["/1", "/2", "/3"]);
        assert_eq!(
            c.phase(),
            Phase::Closing,
            "HTTP/1.0 without keep-alive closes"
        );
        assert!(c.write(t));
        assert_eq!(c.phase(), Phase::Lingering);
        let head = OK.strip_suffix("ok").unwrap();
        let last = OK.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n");
        assert_eq!(peer_reads(&mut peer), format!("{OK}{head}{last}"));
        // Our writing side is shut: the peer saw EOF above. Its EOF ends the lingering.
        drop(peer);
        assert!(c.read(t));
        assert!(c.finished());
    }

    #[test]
    fn a_peer_that_does_not_read_is_backpressured_then_closed_and_its_deadline_not_repeated() {
        let t = Instant::now();
        let (mut c, mut peer) = pair(t);
        let body = vec![b'x'; 64 * 1024];
        let big = Response::new(200, "text/plain", body);
        let get = b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
        // Answer pipelined requests while the peer reads nothing.
        let mut answered = 0;
        for _ in 0..64 {
            if !c.interest().contains(PollFlags::IN) {
                break;
            }
            peer.write_all(get).unwrap();
            assert!(c.read(t));
            while let Some(req) = c.next_request().unwrap() {
                c.respond(Some(&req), &big, t, "D");
                answered += 1;
            }
            assert!(c.write(t));
        }
        assert!(answered < 64, "reading stops while output is owed");
        assert_eq!(
            c.interest(),
            PollFlags::OUT,
            "no IN past MAX_PENDING_OUTPUT"
        );
        peer.write_all(get).unwrap();
        assert!(c.read(t));
        assert_eq!(
            c.next_request(),
            Ok(None),
            "no new request while backpressured"
        );
        let stall = t + WRITE_STALL_TIMEOUT;
        assert_eq!(c.deadline(), Some(stall));

        // Progress moves the stall deadline on.
        let _ = peer_reads(&mut peer);
        let later = t + Duration::from_secs(5);
        assert!(c.write(later));
        assert!(c.deadline().is_some_and(|d| d > stall));

        // No progress for the stall timeout: closed, and no deadline is returned again.
        let end = c.deadline().unwrap();
        assert_eq!(c.expire(end, "D"), None);
        assert!(c.finished());
        assert_eq!(c.deadline(), None);
    }

    #[test]
    fn every_expired_deadline_moves_on() {
        let t = Instant::now();
        // Idle: closed.
        let (mut c, _peer) = pair(t);
        let d = c.deadline().unwrap();
        assert_eq!(d, t + IDLE_TIMEOUT);
        assert_eq!(c.expire(d, "D"), None);
        assert!(c.finished() && c.deadline().is_none());

        // Reading too long: a 408, then a deadline in the future (the write stall).
        let (mut c, mut peer) = pair(t);
        peer.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        assert!(c.read(t));
        let d = c.deadline().unwrap();
        assert_eq!(c.expire(d, "D"), Some(408));
        assert!(c.deadline().is_some_and(|next| next > d));
        assert!(c.write(d));
        assert!(peer_reads(&mut peer).starts_with("HTTP/1.1 408 Request Timeout\r\n"));
        // Lingering until the peer's EOF, or the linger timeout.
        assert_eq!(c.phase(), Phase::Lingering);
        let d2 = c.deadline().unwrap();
        assert_eq!(d2, d + LINGER_TIMEOUT);
        c.expire(d2, "D");
        assert!(c.finished() && c.deadline().is_none());
    }

    #[test]
    fn only_a_quiet_connection_waiting_for_a_request_is_evictable() {
        let t = Instant::now();
        let later = t + Duration::from_millis(1);
        let (mut c, mut peer) = pair(t);
        assert!(!c.evictable(t), "accepted in this very wake-up");
        assert!(c.evictable(later));
        assert!(
            !c.between_requests(),
            "fresh: it is owed an answer when turned away"
        );
        peer.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert!(c.read(later));
        assert!(!c.evictable(later), "read in this wake-up, not yet parsed");
        let req = c.next_request().unwrap().unwrap();
        c.park();
        assert!(!c.evictable(later + Duration::from_secs(1)));
        c.respond(Some(&req), &ok(), later, "D");
        assert!(!c.evictable(later + Duration::from_secs(1)), "owes output");
        assert!(c.write(later));
        assert!(c.evictable(later + Duration::from_secs(1)));
        assert!(c.between_requests());
    }
}
