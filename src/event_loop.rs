//! The one loop: `poll(2)` over the listener, every HTTP connection (interest derived from its
//! state), the fail2ban connection while a command is in flight, and the signal pipes. The
//! timeout is the nearest deadline (probe, command timeout, connection timeouts, watchdog), so an
//! idle banwatch sleeps; it is zero while a ban list is half read (a slice per turn). Nothing
//! here blocks; one thread owns everything through `&mut`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::api::{self, Outcome, Pending};
use crate::context::Context;
use crate::context::HttpStats;
use crate::http::{Connection, Phase, Request, Response};
use crate::sd_notify::Notifier;
use crate::state::State;
use crate::timefmt::http_date;

/// How long in-flight answers may take to finish after SIGTERM/SIGINT.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Connections accepted per loop turn, so a flood cannot starve the others.
const ACCEPTS_PER_TURN: usize = 64;
/// Rounds of drive-and-handle per turn (a completion may submit follow-ups).
const PUMP_ROUNDS: usize = 8;

/// Body of the answer to a connection beyond `--max-connections` (written once, then closed).
const FULL_BODY: &str =
    "{\"error\":\"banwatch has too many open connections; retry in a second\"}\n";

struct Client {
    http: Connection,
    parked: Option<Parked>,
}

/// A request waiting for fail2ban.
struct Parked {
    request: Request,
    at: Instant,
    /// `None`: waits for shared state (route again); `Some`: its own command.
    pending: Option<Pending>,
}

pub struct Signals {
    pub stop: UnixStream,
    pub reload: UnixStream,
}

/// Install SIGTERM/SIGINT (stop) and SIGHUP (reload) handlers that write to pipes we poll.
pub fn install_signals() -> std::io::Result<Signals> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let (stop, stop_w) = UnixStream::pair()?;
    let (reload, reload_w) = UnixStream::pair()?;
    for s in [&stop, &stop_w, &reload, &reload_w] {
        s.set_nonblocking(true)?;
    }
    signal_hook::low_level::pipe::register(SIGTERM, stop_w.try_clone()?)?;
    signal_hook::low_level::pipe::register(SIGINT, stop_w)?;
    signal_hook::low_level::pipe::register(SIGHUP, reload_w)?;
    Ok(Signals { stop, reload })
}

pub struct Server {
    pub listener: Option<TcpListener>,
    pub state: State,
    pub ctx: Context,
    pub token_file: Option<PathBuf>,
    pub max_connections: usize,
    pub signals: Signals,
    pub notifier: Option<Notifier>,
    clients: Vec<Client>,
    next_id: u64,
    date: (u64, String),
    shutdown_by: Option<Instant>,
    watchdog: Option<(Duration, Instant)>,
}

impl Server {
    pub fn new(
        listener: TcpListener,
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
            clients: Vec::new(),
            next_id: 1,
            date: (u64::MAX, String::new()),
            shutdown_by: None,
            watchdog,
        }
    }

    /// Run until SIGTERM/SIGINT and the grace period are over.
    pub fn run(&mut self) -> std::io::Result<()> {
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
            for c in &mut self.clients {
                if !c.http.write_to_socket() {
                    c.parked = None;
                    c.http.abort();
                }
            }
            let stats_before = self.clients.len();
            self.clients.retain(|c| !c.http.finished());
            if self.clients.len() != stats_before {
                self.forget_gone_waiters();
            }
            self.ctx.open_connections = self.clients.len();
            if let Some(by) = self.shutdown_by {
                let busy = self
                    .clients
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

    /// Sleep in poll until something is ready or the nearest deadline, then do the reads,
    /// writes and accepts it allows.
    fn wait(&mut self, now: Instant) -> std::io::Result<()> {
        let mut deadline = self.state.deadline();
        if self.state.reading_ban_lists() {
            // More of a ban list to read next turn, after whatever is ready now.
            deadline = now;
        }
        for c in &self.clients {
            if let Some(d) = c.http.deadline() {
                deadline = deadline.min(d);
            }
        }
        if let Some(by) = self.shutdown_by {
            deadline = deadline.min(by);
        }
        if let Some((every, last)) = self.watchdog {
            deadline = deadline.min(last + every);
        }
        let wait = deadline.saturating_duration_since(now);
        // Round up so we do not wake a hair early and spin once more.
        let wait = wait + Duration::from_micros(if wait.is_zero() { 0 } else { 500 });
        let timeout = Timespec {
            tv_sec: wait.as_secs() as i64,
            tv_nsec: i64::from(wait.subsec_nanos()),
        };

        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(self.clients.len() + 4);
        fds.push(PollFd::new(&self.signals.stop, PollFlags::IN));
        fds.push(PollFd::new(&self.signals.reload, PollFlags::IN));
        let listening = self
            .listener
            .as_ref()
            .filter(|_| self.shutdown_by.is_none());
        if let Some(l) = listening {
            fds.push(PollFd::new(l, PollFlags::IN));
        }
        let fail2ban_fd = self.state.client.fd();
        if let Some(fd) = &fail2ban_fd {
            fds.push(PollFd::new(fd, self.state.client.interest()));
        }
        let first_client = fds.len();
        for c in &self.clients {
            fds.push(PollFd::new(&c.http.stream, c.http.interest()));
        }
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let stop = !fds[0].revents().is_empty();
        let reload = !fds[1].revents().is_empty();
        let accept = listening.is_some() && !fds[2].revents().is_empty();
        let ready: Vec<PollFlags> = fds[first_client..].iter().map(|f| f.revents()).collect();
        drop(fds);

        let now = Instant::now();
        if stop {
            drain(&mut self.signals.stop);
            self.begin_shutdown(now);
        }
        if reload {
            drain(&mut self.signals.reload);
            self.reload_token();
        }
        if accept {
            self.accept(now);
        }
        for (c, flags) in self.clients.iter_mut().zip(ready) {
            let read_ok = !flags.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR)
                || c.http.read_from_socket(now);
            let ok = read_ok && (!flags.contains(PollFlags::OUT) || c.http.write_to_socket());
            if !ok {
                c.parked = None;
                c.http.abort();
            }
        }
        Ok(())
    }

    fn begin_shutdown(&mut self, now: Instant) {
        if self.shutdown_by.is_some() {
            return;
        }
        log::info!(
            "stopping: finishing answers in flight (at most {} s)",
            SHUTDOWN_GRACE.as_secs()
        );
        if let Some(n) = &self.notifier {
            n.stopping();
        }
        self.shutdown_by = Some(now + SHUTDOWN_GRACE);
        self.listener = None;
        for c in &mut self.clients {
            if c.http.phase == Phase::Idle {
                c.http.phase = Phase::Closing;
            }
        }
    }

    fn reload_token(&mut self) {
        let Some(path) = &self.token_file else {
            log::info!("SIGHUP: no --token-file, nothing to reload");
            return;
        };
        match crate::token::read_token_file(path) {
            Ok(t) => {
                self.ctx.token = Some(t);
                log::info!("SIGHUP: token reloaded from {}", path.display());
            }
            Err(e) => log::error!("SIGHUP: keeping the old token: {e}"),
        }
    }

    fn accept(&mut self, now: Instant) {
        let Some(listener) = &self.listener else {
            return;
        };
        for _ in 0..ACCEPTS_PER_TURN {
            match listener.accept() {
                Ok((stream, _)) => {
                    if self.clients.len() >= self.max_connections {
                        // Full: make room by closing the connection that has waited longest for a
                        // request (idle keep-alive or a stalled sender, the slowloris shape). Only
                        // when every connection is busy answering is the newcomer refused.
                        let victim = (0..self.clients.len())
                            .filter(|&i| self.clients[i].http.evictable())
                            .min_by_key(|&i| self.clients[i].http.last_progress);
                        match victim {
                            Some(i) => {
                                self.clients.swap_remove(i);
                            }
                            None => {
                                refuse_full(stream);
                                self.ctx.stats.count(503);
                                continue;
                            }
                        }
                    }
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let id = self.next_id;
                    self.next_id += 1;
                    self.clients.push(Client {
                        http: Connection::new(id, stream, now),
                        parked: None,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and friends: leave the rest in the backlog until a connection closes.
                    log::warn!("accept: {e}");
                    break;
                }
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
                let Some(c) = self.clients.iter_mut().find(|c| c.http.id == id) else {
                    continue;
                };
                let Some(parked) = c.parked.take() else {
                    continue;
                };
                let Some(pending) = parked.pending else {
                    continue;
                };
                let resp = api::finish(&pending, result, &mut self.state);
                answer(
                    c,
                    Some(&parked.request),
                    &resp,
                    now,
                    &mut self.date,
                    &mut self.ctx.stats,
                );
            }
        }
    }

    /// Timeouts of connections: 408 mid-request, silent close when idle.
    fn expire(&mut self, now: Instant) {
        for c in &mut self.clients {
            match c.http.deadline() {
                Some(d) if now >= d => match c.http.phase {
                    Phase::Reading => {
                        let resp = Response::error(408, "request headers took too long").closing();
                        answer(c, None, &resp, now, &mut self.date, &mut self.ctx.stats);
                    }
                    _ => c.http.phase = Phase::Closing,
                },
                _ => {}
            }
        }
    }

    /// Parse and route every complete request; re-route requests parked on shared state.
    fn process(&mut self, now: Instant) {
        for i in 0..self.clients.len() {
            loop {
                let c = &mut self.clients[i];
                if let Some(p) = &c.parked {
                    if p.pending.is_some() {
                        break;
                    }
                    let (req, at) = (p.request.clone(), p.at);
                    match api::route(&req, &mut self.state, &mut self.ctx, c.http.id, at) {
                        Outcome::Wait => break,
                        Outcome::Respond(resp) => {
                            let c = &mut self.clients[i];
                            c.parked = None;
                            answer(
                                c,
                                Some(&req),
                                &resp,
                                now,
                                &mut self.date,
                                &mut self.ctx.stats,
                            );
                        }
                        Outcome::Command(pending) => {
                            if let Some(p) = &mut self.clients[i].parked {
                                p.pending = Some(pending);
                            }
                            break;
                        }
                    }
                    continue;
                }
                let req = match c.http.next_request() {
                    Ok(Some(req)) => req,
                    Ok(None) => break,
                    Err(e) => {
                        let resp = Response::error(e.status(), &e.message()).closing();
                        answer(c, None, &resp, now, &mut self.date, &mut self.ctx.stats);
                        break;
                    }
                };
                let id = c.http.id;
                match api::route(&req, &mut self.state, &mut self.ctx, id, now) {
                    Outcome::Respond(resp) => answer(
                        &mut self.clients[i],
                        Some(&req),
                        &resp,
                        now,
                        &mut self.date,
                        &mut self.ctx.stats,
                    ),
                    Outcome::Wait => {
                        let c = &mut self.clients[i];
                        c.http.park();
                        c.parked = Some(Parked {
                            request: req,
                            at: now,
                            pending: None,
                        });
                        break;
                    }
                    Outcome::Command(pending) => {
                        let c = &mut self.clients[i];
                        c.http.park();
                        c.parked = Some(Parked {
                            request: req,
                            at: now,
                            pending: Some(pending),
                        });
                        break;
                    }
                }
            }
        }
    }

    /// Queued (unsent) commands of connections that are gone are dropped, so a ban nobody waits
    /// for any more is never sent (what was acknowledged is exactly what was done).
    fn forget_gone_waiters(&mut self) {
        let alive: Vec<u64> = self.clients.iter().map(|c| c.http.id).collect();
        self.state
            .client
            .cancel_unsent(|t| matches!(t, crate::state::Tag::Conn(id) if !alive.contains(id)));
    }
}

fn answer(
    c: &mut Client,
    req: Option<&Request>,
    resp: &Response,
    now: Instant,
    date: &mut (u64, String),
    stats: &mut HttpStats,
) {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if date.0 != secs {
        *date = (secs, http_date(SystemTime::now()));
    }
    stats.count(resp.status);
    if let Some(r) = req {
        log::debug!("{} {} -> {}", r.method, r.target, resp.status);
    }
    c.http.respond(req, resp, now, &date.1);
}

fn refuse_full(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(true);
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n",
        FULL_BODY.len()
    );
    // A fresh socket's send buffer always takes these ~200 bytes; if not, the peer gets a close.
    let _ = stream.write(format!("{head}{FULL_BODY}").as_bytes());
}

fn drain(s: &mut UnixStream) {
    let mut buf = [0u8; 64];
    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
}
