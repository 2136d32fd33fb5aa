//! The one loop: `poll(2)` over the listener, every HTTP connection (interest derived from its
//! state), the fail2ban connection while a command is in flight, and the signal pipes. The
//! timeout is the nearest deadline (probe, command timeout, request and connection timeouts,
//! watchdog), so an idle banwatch sleeps; it is zero while a ban list is half read (a slice per
//! turn). Nothing here blocks; one thread owns everything through `&mut`.
//!
//! A turn: drive fail2ban, act on passed deadlines, route complete requests, write what is
//! queued, drop finished connections, then sleep in poll and do the reads and accepts it
//! allows. The poll buffers are kept between turns, so a turn allocates nothing of its own.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use log::Level;
use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::SocketFlags;

use crate::api::{self, Outcome, Pending};
use crate::context::Context;
use crate::http::{Connection, Phase, Request, Response};
use crate::sd_notify::Notifier;
use crate::state::{State, Tag};
use crate::timefmt::http_date;

mod signals;
mod socket;

use signals::drain;
pub use signals::{install_signals, Signals};
use socket::Socket;

/// How long in-flight answers may take to finish after SIGTERM/SIGINT.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Connections accepted per loop turn, so a flood cannot starve the others.
const ACCEPTS_PER_TURN: usize = 64;
/// Rounds of drive-and-handle per turn (a completion may submit follow-ups).
const PUMP_ROUNDS: usize = 8;
/// Connections turned away (refused or evicted at `--max-connections`) that still get their
/// 503 written and their input drained before the close, beyond the cap. Past this, a turned
/// away connection gets one write attempt and is closed.
const MAX_LEAVING: usize = 256;

/// After `accept` fails for want of resources (EMFILE and friends), the listener is not polled
/// for this long, or until a connection closes: the backlog keeps it readable, and polling it
/// meanwhile would spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(250);

/// Body of the answer to a connection turned away at `--max-connections`.
const FULL_MESSAGE: &str = "banwatch has too many open connections; retry in a second";

/// An HTTP connection and the request of it that waits for fail2ban, if any.
struct Conn {
    /// Unique for the process's life (shares its counter with request ids).
    id: u64,
    http: Connection<Socket>,
    parked: Option<Parked>,
    /// Turned away at the cap: answered 503 (or closed between requests), now closing; not
    /// counted against `--max-connections`.
    leaving: bool,
}

/// A request waiting for fail2ban.
struct Parked {
    /// What its fail2ban command is tagged with (`Tag::Request`): unique per request, not per
    /// connection, so the late reply to a request that already got its 504 can never answer
    /// the next request of the same connection.
    id: u64,
    request: Request,
    /// When the request arrived: it is answered 504 at `--timeout` after this, whatever its
    /// command's place in the queue.
    at: Instant,
    /// `None`: waits for shared state (route again); `Some`: its own command.
    pending: Option<Pending>,
}

/// The `Date` header, formatted once per second.
struct DateCache {
    second: u64,
    text: String,
}

impl DateCache {
    fn get(&mut self) -> &str {
        let now = SystemTime::now();
        let secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.second != secs {
            self.second = secs;
            self.text = http_date(now);
        }
        &self.text
    }
}

pub struct Server {
    /// A non-blocking listening socket.
    listener: Option<OwnedFd>,
    state: State,
    ctx: Context,
    token_file: Option<PathBuf>,
    max_connections: usize,
    signals: Signals,
    notifier: Option<Notifier>,
    conns: Vec<Conn>,
    next_id: u64,
    date: DateCache,
    shutdown_by: Option<Instant>,
    watchdog: Option<(Duration, Instant)>,
    /// Set when `accept` failed for want of resources: the listener is not polled until then.
    /// Cleared when a connection closes.
    accept_paused_until: Option<Instant>,
    /// The pollfd array, kept (empty) between turns so its allocation is reused.
    poll_buf: Vec<PollFd<'static>>,
    /// Readiness of each connection after a poll, by connection id; kept like `poll_buf`.
    ready: Vec<(u64, PollFlags)>,
}

impl Server {
    pub fn new(
        listener: OwnedFd,
        state: State,
        ctx: Context,
        token_file: Option<PathBuf>,
        max_connections: usize,
        signals: Signals,
    ) -> Self {
        let watchdog = crate::sd_notify::watchdog_interval().map(|every| (every, Instant::now()));
        Server {
            listener: Some(listener),
            state,
            ctx,
            token_file,
            max_connections,
            signals,
            notifier: Notifier::from_env(),
            conns: Vec::new(),
            next_id: 1,
            date: DateCache {
                second: u64::MAX,
                text: String::new(),
            },
            shutdown_by: None,
            watchdog,
            accept_paused_until: None,
            poll_buf: Vec::new(),
            ready: Vec::new(),
        }
    }

    /// What the loop knew when it stopped (the history to save, say).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Run until SIGTERM/SIGINT and the grace period are over.
    pub fn run(&mut self) -> Result<(), Errno> {
        if let Some(n) = &self.notifier {
            n.ready();
        }
        loop {
            let now = Instant::now();
            self.state.tick(now);
            self.pump(now);
            self.expire(now);
            self.state.read_ban_lists();
            self.process(now);
            self.pump(now);
            self.process(now);
            self.flush(now);
            if let Some(by) = self.shutdown_by {
                let busy = self
                    .conns
                    .iter()
                    .any(|c| c.parked.is_some() || c.http.interest().contains(PollFlags::OUT));
                if !busy || now >= by {
                    self.state.client.close();
                    return Ok(());
                }
            }
            if let Some((every, last)) = self.watchdog {
                if now >= last + every {
                    if let Some(n) = &self.notifier {
                        n.watchdog();
                    }
                    self.watchdog = Some((every, now));
                }
            }
            self.wait(now)?;
        }
    }

    /// Write what every connection has queued, then drop the finished ones.
    fn flush(&mut self, now: Instant) {
        for c in &mut self.conns {
            if !c.http.write(now) {
                c.parked = None;
                c.http.abort();
            }
        }
        let open_before = self.conns.len();
        self.conns.retain(|c| !c.http.finished());
        if self.conns.len() != open_before {
            self.forget_gone_waiters();
            self.accept_paused_until = None;
        }
        self.ctx.open_connections = self.conns.len();
    }

    /// The nearest deadline of anything in the loop.
    fn next_deadline(&self, now: Instant) -> Instant {
        let mut deadline = self.state.deadline();
        if self.state.reading_ban_lists() {
            // More of a ban list to read next turn, after whatever is ready now.
            deadline = now;
        }
        let answer_within = self.state.client.timeout();
        for c in &self.conns {
            if let Some(d) = c.http.deadline() {
                deadline = deadline.min(d);
            }
            if let Some(p) = &c.parked {
                deadline = deadline.min(p.at + answer_within);
            }
        }
        if let Some(by) = self.shutdown_by {
            deadline = deadline.min(by);
        }
        if let Some((every, last)) = self.watchdog {
            deadline = deadline.min(last + every);
        }
        // A pause that is over stays recorded (so a lasting EMFILE is logged once) but is no
        // deadline any more.
        if let Some(until) = self.accept_paused_until.filter(|&until| until > now) {
            deadline = deadline.min(until);
        }
        deadline
    }

    /// Sleep in poll until something is ready or the nearest deadline, then do the reads,
    /// writes and accepts it allows.
    fn wait(&mut self, now: Instant) -> Result<(), Errno> {
        let wait = self.next_deadline(now).saturating_duration_since(now);
        // Round up so we do not wake a hair early and spin once more.
        let wait = wait + Duration::from_micros(if wait.is_zero() { 0 } else { 500 });
        let timeout = crate::fdio::timespec(wait);

        let mut fds: Vec<PollFd<'_>> = std::mem::take(&mut self.poll_buf);
        fds.push(PollFd::new(&self.signals.stop, PollFlags::IN));
        fds.push(PollFd::new(&self.signals.reload, PollFlags::IN));
        let paused = self.accept_paused_until.is_some_and(|until| now < until);
        let listening = self
            .listener
            .as_ref()
            .filter(|_| self.shutdown_by.is_none() && !paused);
        if let Some(l) = listening {
            fds.push(PollFd::new(l, PollFlags::IN));
        }
        let fail2ban_fd = self.state.client.fd();
        if let Some(fd) = &fail2ban_fd {
            fds.push(PollFd::new(fd, self.state.client.interest()));
        }
        let first_conn = fds.len();
        for c in &self.conns {
            fds.push(PollFd::new(c.http.stream(), c.http.interest()));
        }
        let polled = rustix::event::poll(&mut fds, Some(&timeout));
        let stop = !fds[0].revents().is_empty();
        let reload = !fds[1].revents().is_empty();
        let accept = listening.is_some() && !fds[2].revents().is_empty();
        self.ready.clear();
        self.ready.extend(
            self.conns
                .iter()
                .zip(&fds[first_conn..])
                .map(|(c, f)| (c.id, f.revents())),
        );
        self.poll_buf = recycle(fds);
        match polled {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }

        let now = Instant::now();
        if stop {
            drain(&mut self.signals.stop);
            self.begin_shutdown(now);
        }
        if reload {
            drain(&mut self.signals.reload);
            self.reload_token();
        }
        // Readiness first, while the connections are still where poll saw them; accepting may
        // evict and reorder.
        let ready = std::mem::take(&mut self.ready);
        let mut from = 0;
        for &(id, flags) in &ready {
            if flags.is_empty() {
                continue;
            }
            let Some(at) = locate(&self.conns, from, id) else {
                continue;
            };
            from = at + 1;
            if apply_ready(&mut self.conns[at], flags, now) && flags.contains(PollFlags::IN) {
                // Answer what just arrived at once: this answer leaves before the next
                // connection is even read, so the peer can go on meanwhile.
                self.serve(at, now);
                let c = &mut self.conns[at];
                if !c.http.write(now) {
                    c.parked = None;
                    c.http.abort();
                }
            }
        }
        self.ready = ready;
        if accept {
            self.accept(now);
        }
        Ok(())
    }

    fn begin_shutdown(&mut self, now: Instant) {
        if self.shutdown_by.is_some() {
            return;
        }
        note(
            Level::Info,
            format_args!(
                "stopping: finishing answers in flight (at most {} s)",
                SHUTDOWN_GRACE.as_secs()
            ),
        );
        if let Some(n) = &self.notifier {
            n.stopping();
        }
        self.shutdown_by = Some(now + SHUTDOWN_GRACE);
        self.listener = None;
        for c in &mut self.conns {
            if c.http.phase() == Phase::Idle {
                c.http.close();
            }
        }
    }

    fn reload_token(&mut self) {
        let Some(path) = &self.token_file else {
            note(
                Level::Info,
                format_args!("SIGHUP: no --token-file, nothing to reload"),
            );
            return;
        };
        match crate::token::read_token_file(path) {
            Ok(t) => {
                self.ctx.token = Some(t);
                note(
                    Level::Info,
                    format_args!("SIGHUP: token reloaded from {}", path.display()),
                );
            }
            Err(e) => note(
                Level::Error,
                format_args!("SIGHUP: keeping the old token: {e}"),
            ),
        }
    }

    /// Accept what the backlog holds (bounded per turn). At `--max-connections`, make room by
    /// turning away the connection that has waited longest for a request (idle keep-alive or a
    /// stalled sender, the slowloris shape); when every connection is busy, turn away the
    /// newcomer. Turned away means answered 503 with Retry-After (or, between two requests of
    /// a keep-alive connection, closed) and its input drained before the close, so no client
    /// sees a reset instead of an answer.
    fn accept(&mut self, now: Instant) {
        let Some(listener) = &self.listener else {
            return;
        };
        let mut leaving = self.conns.iter().filter(|c| c.leaving).count();
        let mut active = self.conns.len() - leaving;
        for _ in 0..ACCEPTS_PER_TURN {
            // Born non-blocking, so no second call to make it so.
            let stream = match rustix::net::accept_with(
                listener,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            ) {
                Ok(stream) => stream,
                Err(Errno::AGAIN) => break,
                Err(Errno::INTR) => continue,
                Err(e) => {
                    // EMFILE and friends: leave the rest in the backlog until a connection
                    // closes or the pause is over.
                    if self.accept_paused_until.is_none() {
                        note(
                            Level::Warn,
                            format_args!("accept: {e} (not accepting for a while)"),
                        );
                    }
                    self.accept_paused_until = Some(now + ACCEPT_PAUSE);
                    break;
                }
            };
            let _ = rustix::net::sockopt::set_tcp_nodelay(&stream, true);
            let mut conn = Conn {
                id: self.next_id,
                http: Connection::new(Socket(stream), now),
                parked: None,
                leaving: false,
            };
            self.next_id += 1;
            let newcomer = conn.id;
            if active >= self.max_connections {
                let victim = self
                    .conns
                    .iter_mut()
                    .filter(|c| !c.leaving && c.http.evictable(now))
                    .min_by_key(|c| c.http.last_progress());
                let turned_away = match victim {
                    Some(v) => v,
                    None => &mut conn,
                };
                turn_away(turned_away, now, &mut self.date, &mut self.ctx.stats);
                leaving += 1;
                if turned_away.id != newcomer {
                    active -= 1;
                }
                if leaving > MAX_LEAVING {
                    // Too many already closing: one write attempt, then close.
                    let _ = turned_away.http.write(now);
                    turned_away.http.abort();
                    leaving -= 1;
                }
            }
            if !conn.http.finished() {
                if !conn.leaving {
                    active += 1;
                }
                self.conns.push(conn);
            }
        }
    }

    /// Drive the fail2ban client and hand results to the state and to waiting connections.
    fn pump(&mut self, now: Instant) {
        for _ in 0..PUMP_ROUNDS {
            let mut done = Vec::new();
            self.state.client.drive(now, &mut done);
            if done.is_empty() {
                return;
            }
            for (id, result) in self.state.on_completions(done, now) {
                let waiting = |c: &Conn| c.parked.as_ref().is_some_and(|p| p.id == id);
                let Some(i) = self.conns.iter().position(waiting) else {
                    continue;
                };
                let Some(parked) = self.conns[i].parked.take() else {
                    continue;
                };
                let Some(pending) = parked.pending else {
                    continue;
                };
                let resp = api::finish(&pending, result, &mut self.state);
                self.answer(i, Some(&parked.request), &resp, now);
            }
        }
    }

    /// Deadlines: a parked request gets its 504 at `--timeout` after it arrived (its unsent
    /// command is dropped); connections act on their own timeouts.
    fn expire(&mut self, now: Instant) {
        let answer_within = self.state.client.timeout();
        for i in 0..self.conns.len() {
            let c = &mut self.conns[i];
            if let Some(p) = c.parked.take_if(|p| now >= p.at + answer_within) {
                let id = p.id;
                self.state
                    .client
                    .cancel_unsent(&mut |t| matches!(t, Tag::Request(w) if *w == id));
                let resp = Response::error(
                    504,
                    &format!(
                        "fail2ban did not answer within {} s of this request: it is hung or busy (raise --timeout if it is just slow)",
                        crate::json::Secs(answer_within)
                    ),
                );
                self.answer(i, Some(&p.request), &resp, now);
            }
            let c = &mut self.conns[i];
            if c.http.deadline().is_some_and(|d| now >= d) {
                if let Some(status) = c.http.expire(now, self.date.get()) {
                    self.ctx.stats.count(status);
                }
            }
        }
    }

    /// Parse and route every complete request; re-route requests parked on shared state.
    fn process(&mut self, now: Instant) {
        for i in 0..self.conns.len() {
            self.serve(i, now);
        }
    }

    /// Parse and route the complete requests of connection `i`, or re-route its request parked
    /// on shared state.
    fn serve(&mut self, i: usize, now: Instant) {
        loop {
            let c = &mut self.conns[i];
            // A request waiting on shared state is routed again (it moves out and back in, no
            // copy per turn); else the next complete request, if nothing else is parked.
            let (mut p, fresh) = match c.parked.take_if(|p| p.pending.is_none()) {
                Some(p) => (p, false),
                None if c.parked.is_some() => break,
                None => match c.http.next_request() {
                    Ok(Some(request)) => {
                        self.next_id += 1;
                        let p = Parked {
                            id: self.next_id - 1,
                            request,
                            at: now,
                            pending: None,
                        };
                        (p, true)
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let resp = Response::error(e.status(), &e.message()).closing();
                        self.answer(i, None, &resp, now);
                        break;
                    }
                },
            };
            match api::route(&p.request, &mut self.state, &mut self.ctx, p.id, p.at) {
                Outcome::Respond(resp) => {
                    self.answer(i, Some(&p.request), &resp, now);
                    continue;
                }
                Outcome::Wait => {}
                Outcome::Command(pending) => p.pending = Some(pending),
            }
            let c = &mut self.conns[i];
            if fresh {
                c.http.park();
            }
            c.parked = Some(p);
            break;
        }
    }

    /// Queue `resp` on connection `i`, counted in the status statistics.
    fn answer(&mut self, i: usize, req: Option<&Request>, resp: &Response, now: Instant) {
        self.ctx.stats.count(resp.status);
        if let Some(r) = req {
            note(
                Level::Debug,
                format_args!("{} {} -> {}", r.method, r.target, resp.status),
            );
        }
        self.conns[i].http.respond(req, resp, now, self.date.get());
    }

    /// Queued (unsent) commands of requests nobody waits for any more (their connection is
    /// gone) are dropped, so such a ban is never sent (what was acknowledged is exactly what was
    /// done).
    fn forget_gone_waiters(&mut self) {
        let conns = &self.conns;
        let waited_for = |id: u64| {
            conns
                .iter()
                .any(|c| c.parked.as_ref().is_some_and(|p| p.id == id))
        };
        self.state
            .client
            .cancel_unsent(&mut |t| matches!(t, Tag::Request(id) if !waited_for(*id)));
    }
}

/// Log a line of the loop at `level`: one `log` call site for them all, rather than a record
/// built at each (the target, `banwatch::event_loop`, is the same).
fn note(level: Level, args: std::fmt::Arguments) {
    log::log!(level, "{args}");
}

/// Where connection `id` is now: usually at or after `from` (nothing moved since poll, and
/// readiness is in poll order), else anywhere. Poll's flags thus never land on another
/// connection, even if the vector changed since the poll.
fn locate(conns: &[Conn], from: usize, id: u64) -> Option<usize> {
    conns
        .get(from..)
        .and_then(|rest| rest.iter().position(|c| c.id == id))
        .map(|offset| from + offset)
        .or_else(|| conns.iter().position(|c| c.id == id))
}

/// Do the read and write poll allows; false (and the connection aborted) on a socket error.
fn apply_ready(c: &mut Conn, flags: PollFlags, now: Instant) -> bool {
    let read_ok =
        !flags.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) || c.http.read(now);
    let ok = read_ok && (!flags.contains(PollFlags::OUT) || c.http.write(now));
    if !ok {
        c.parked = None;
        c.http.abort();
    }
    ok
}

/// Answer 503 + Retry-After and close (or just close a keep-alive connection between two
/// requests, which owes nobody an answer); the connection then lingers as `leaving`.
fn turn_away(
    c: &mut Conn,
    now: Instant,
    date: &mut DateCache,
    stats: &mut crate::context::HttpStats,
) {
    c.leaving = true;
    if c.http.between_requests() {
        c.http.close();
        return;
    }
    let resp = Response::error(503, FULL_MESSAGE)
        .header("Retry-After", "1")
        .closing();
    stats.count(503);
    c.http.respond(None, &resp, now, date.get());
}

/// An emptied poll buffer with its borrows' lifetime forgotten, so its allocation serves the
/// next turn. (`filter_map` to nothing collects in place: no new allocation.)
// `filter` cannot change the element type, which is the point here.
#[allow(clippy::unnecessary_filter_map)]
fn recycle(mut fds: Vec<PollFd<'_>>) -> Vec<PollFd<'static>> {
    fds.clear();
    fds.into_iter().filter_map(|_| None).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::unix::net::UnixStream;

    /// `n` connections (ids 1..=n) with their peers, over loopback TCP.
    fn conns(n: u64, now: Instant) -> (Vec<Conn>, Vec<TcpStream>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        (1..=n)
            .map(|id| {
                let peer = TcpStream::connect(addr).unwrap();
                let (ours, _) = listener.accept().unwrap();
                ours.set_nonblocking(true).unwrap();
                let conn = Conn {
                    id,
                    http: Connection::new(Socket(ours.into()), now),
                    parked: None,
                    leaving: false,
                };
                (conn, peer)
            })
            .unzip()
    }

    #[test]
    fn readiness_lands_on_the_connection_it_was_polled_for_after_an_eviction() {
        let now = Instant::now();
        let (mut conns, mut peers) = conns(3, now);
        peers[2]
            .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let ready = [
            (1, PollFlags::empty()),
            (2, PollFlags::empty()),
            (3, PollFlags::IN),
        ];
        // An eviction between poll and dispatch moves connection 3 into slot 0.
        conns.swap_remove(0);
        let mut from = 0;
        for &(id, flags) in &ready {
            let at = locate(&conns, from, id);
            if let Some(at) = at {
                from = at + 1;
                assert!(apply_ready(&mut conns[at], flags, now));
            }
        }
        assert_eq!(conns[0].id, 3);
        let req = conns[0].http.next_request().unwrap();
        assert_eq!(req.map(|r| r.target).as_deref(), Some("/livez"));
    }

    #[test]
    fn the_poll_buffer_keeps_its_allocation_between_turns() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut kept: Vec<PollFd<'static>> = Vec::with_capacity(16);
        let at = kept.as_ptr() as usize;
        for _turn in 0..3 {
            let mut fds: Vec<PollFd<'_>> = kept;
            fds.push(PollFd::new(&a, PollFlags::IN));
            fds.push(PollFd::new(&b, PollFlags::IN));
            kept = recycle(fds);
            assert_eq!((kept.as_ptr() as usize, kept.capacity()), (at, 16));
            assert!(kept.is_empty());
        }
    }

    #[test]
    fn turned_away_a_fresh_connection_reads_503_and_a_keep_alive_one_just_eof() {
        let now = Instant::now();
        let (mut conns, mut peers) = conns(2, now);
        let mut date = DateCache {
            second: u64::MAX,
            text: String::new(),
        };
        let mut stats = crate::context::HttpStats::default();
        // Connection 2 has been answered once and waits for its next request.
        peers[1]
            .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(conns[1].http.read(now));
        let req = conns[1].http.next_request().unwrap().unwrap();
        let ok = Response::new(200, "text/plain", &b"ok"[..]);
        conns[1].http.respond(Some(&req), &ok, now, "D");
        assert!(conns[1].http.write(now));
        let mut first = [0u8; 256];
        let n = peers[1].read(&mut first).unwrap();
        assert!(first[..n].ends_with(b"ok"));

        for c in &mut conns {
            turn_away(c, now, &mut date, &mut stats);
            assert!(c.leaving);
            assert!(c.http.write(now));
        }
        assert_eq!(stats.by_code, [(503, 1)]);
        let mut fresh = String::new();
        peers[0].read_to_string(&mut fresh).unwrap();
        assert!(
            fresh.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{fresh}"
        );
        assert!(fresh.contains("\r\nRetry-After: 1\r\n"), "{fresh}");
        let mut kept_alive = String::new();
        peers[1].read_to_string(&mut kept_alive).unwrap();
        assert_eq!(
            kept_alive, "",
            "between requests: an EOF, no unasked answer"
        );
    }
}
