//! The fail2ban command client: a FIFO of commands over one persistent unix-socket connection,
//! one command in flight (the server is single-threaded anyway), driven by the event loop.
//!
//! ```text
//!   submit() ──► queue ──► (connect if needed) ──► in flight: write request ──► read until
//!                 ▲                                   │  reply + terminator decodes
//!                 └── one retry of a read command ◄───┘  on a stale reused connection
//! ```
//! Nothing here blocks: the socket is non-blocking and `drive` does what the socket allows,
//! then returns. The loop polls `fd()` with `interest()` and wakes at `deadline()`.
//! Identical read-only commands are coalesced: a second `submit` of the same arguments joins the
//! waiters of the one already queued or in flight, so N parked HTTP requests cost one command.
//!
//! Out of scope: deciding *what* to ask (that is `state.rs`) and shaping replies (`replies.rs`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::buffer::spare_capacity;
use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

use super::pickle::{self, Value, TERMINATOR};
use super::replies;
use super::Error;

/// Commands waiting behind the one in flight; past this `submit` answers `Error::Busy`.
pub const MAX_QUEUE: usize = 256;
/// The reply buffer's first capacity, and how much room it grows by at least.
const READ_CHUNK: usize = 64 * 1024;
/// Reply bytes read per `step`: a multi-megabyte reply arrives over several loop turns, and the
/// HTTP connections are served in between.
const MAX_READ_PER_STEP: usize = 4 * READ_CHUNK;
/// Reply buffer capacity kept between commands; larger buffers are freed after use.
const KEEP_REPLY_CAPACITY: usize = 256 * 1024;
/// Tells the server we are leaving; it sends no reply and closes.
const CLOSE_COMMAND: &[u8] = b"<F2B_CLOSE_COMMAND><F2B_END_COMMAND>";

/// A finished command: every waiter that asked for it, and the shared result.
pub struct Completion<T> {
    pub waiters: Vec<T>,
    pub result: Result<Value, Error>,
}

struct Command<T> {
    args: Vec<String>,
    /// The encoded request, terminator included.
    request: Vec<u8>,
    /// Safe to coalesce and to retry once on a stale connection.
    read_only: bool,
    /// Hand back the reply's pickle bytes (`Value::Bytes`) instead of decoding it: for replies
    /// large enough that the caller decodes them more cheaply itself (ban lists).
    raw: bool,
    waiters: Vec<T>,
    retried: bool,
}

struct InFlight<T> {
    command: Command<T>,
    deadline: Instant,
    /// Bytes of `command.request` already written.
    written: usize,
    /// Sent on a connection that had carried earlier commands (it may have died meanwhile).
    reused: bool,
    /// Bytes of a raw reply framed so far (`pickle::scan_from`).
    scanned: usize,
}

pub struct Client<T> {
    path: PathBuf,
    timeout: Duration,
    max_reply: usize,
    stream: Option<OwnedFd>,
    /// Whether `stream` already carried a command.
    stream_used: bool,
    /// Bumped on every successful connect, so callers can do things "once per connection".
    generation: u64,
    /// First in, first out. A `Vec`, not a `VecDeque`: it holds at most `MAX_QUEUE` commands,
    /// so moving them up on a pop costs little, and the ring buffer's code costs more bytes.
    queue: Vec<Command<T>>,
    in_flight: Option<InFlight<T>>,
    /// The reply being read; its capacity never grows beyond `max_reply` + the terminator + 1.
    reply: Vec<u8>,
    /// Decodes every reply in the same buffers (the next `status` poll reuses them).
    decoder: pickle::Decoder,
    /// Commands written to fail2ban since start (observable coalescing).
    pub commands_sent: u64,
    /// Failed connects since start (`f2b_errors{type="socket_conn"}`).
    pub connect_errors: u64,
    /// Commands that failed after being sent (`f2b_errors{type="socket_req"}`).
    pub request_errors: u64,
}

impl<T> Client<T> {
    pub fn new(path: PathBuf, timeout: Duration, max_reply: usize) -> Self {
        Client {
            path,
            timeout,
            max_reply,
            stream: None,
            stream_used: false,
            generation: 0,
            queue: Vec::new(),
            in_flight: None,
            reply: Vec::new(),
            decoder: pickle::Decoder::default(),
            commands_sent: 0,
            connect_errors: 0,
            request_errors: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Increases with every new connection to fail2ban.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Queue a command. `read_only` commands with the same arguments as one already queued or in
    /// flight share it. Refuses arguments fail2ban would misparse and a full queue.
    pub fn submit(&mut self, args: Vec<String>, read_only: bool, waiter: T) -> Result<(), Error> {
        self.submit_command(args, read_only, false, waiter)
            .map_err(|(e, _)| e)
    }

    /// Queue a read, as `submit`; with `raw`, the completion carries the reply's raw pickle
    /// bytes as `Value::Bytes` (checked complete, not decoded; the envelope is the caller's to
    /// read). A refused command hands its waiter back with the error, so the caller need not
    /// keep a copy of it.
    pub fn submit_read(
        &mut self,
        args: Vec<String>,
        raw: bool,
        waiter: T,
    ) -> Result<(), (Error, T)> {
        self.submit_command(args, true, raw, waiter)
    }

    fn submit_command(
        &mut self,
        args: Vec<String>,
        read_only: bool,
        raw: bool,
        waiter: T,
    ) -> Result<(), (Error, T)> {
        if read_only {
            if let Some(f) = self
                .in_flight
                .as_mut()
                .filter(|f| f.command.read_only && f.command.raw == raw && f.command.args == args)
            {
                f.command.waiters.push(waiter);
                return Ok(());
            }
            if let Some(c) = self
                .queue
                .iter_mut()
                .find(|c| c.read_only && c.raw == raw && c.args == args)
            {
                c.waiters.push(waiter);
                return Ok(());
            }
        }
        if self.queue.len() >= MAX_QUEUE {
            return Err((Error::Busy, waiter));
        }
        let request = match pickle::encode_command(&args) {
            Ok(request) => request,
            Err(e) => return Err((Error::Refused(e.to_string()), waiter)),
        };
        self.queue.push(Command {
            args,
            request,
            read_only,
            raw,
            waiters: vec![waiter],
            retried: false,
        });
        Ok(())
    }

    /// Drop queued (not yet sent) commands whose waiters all gave up.
    /// (`dyn`: three callers, one copy of the code.)
    pub fn cancel_unsent(&mut self, gave_up: &mut dyn FnMut(&T) -> bool) {
        for c in self.queue.iter_mut() {
            c.waiters.retain(|w| !gave_up(w));
        }
        self.queue.retain(|c| !c.waiters.is_empty());
    }

    /// The socket to poll, only while a command is in flight (an idle connection is not watched:
    /// its death is noticed when the next command is sent).
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.in_flight.as_ref()?;
        self.stream.as_ref().map(|s| s.as_fd())
    }

    pub fn interest(&self) -> PollFlags {
        match &self.in_flight {
            Some(f) if f.written < f.command.request.len() => PollFlags::OUT,
            Some(_) => PollFlags::IN,
            None => PollFlags::empty(),
        }
    }

    /// When the command in flight times out.
    pub fn deadline(&self) -> Option<Instant> {
        self.in_flight.as_ref().map(|f| f.deadline)
    }

    /// Do all the I/O the socket allows right now; push finished commands to `done`.
    pub fn drive(&mut self, now: Instant, done: &mut Vec<Completion<T>>) {
        loop {
            if self.in_flight.is_none() && !self.start_next(now, done) {
                return;
            }
            match self.step(now) {
                Step::Wait => return,
                Step::Finished(result) => {
                    if let Some(f) = self.in_flight.take() {
                        done.push(Completion {
                            waiters: f.command.waiters,
                            result,
                        });
                    }
                }
                Step::Failed(err, retry_safe) => {
                    self.drop_connection();
                    self.request_errors += 1;
                    let Some(mut f) = self.in_flight.take() else {
                        return;
                    };
                    if retry_safe && f.reused && !f.command.retried {
                        // The connection had died while idle (fail2ban restarted): the command never
                        // reached a live server, so send it once more on a fresh connection.
                        log::debug!(
                            "retrying `{}` on a fresh connection: {err}",
                            f.command.args.join(" ")
                        );
                        f.command.retried = true;
                        self.queue.insert(0, f.command);
                        continue;
                    }
                    done.push(Completion {
                        waiters: f.command.waiters,
                        result: Err(err),
                    });
                }
            }
        }
    }

    /// Pop the next command and put it in flight, connecting first if needed. False when there is
    /// nothing to do (empty queue, or the connect failed and every queued command got the error).
    fn start_next(&mut self, now: Instant, done: &mut Vec<Completion<T>>) -> bool {
        if self.queue.is_empty() {
            return false;
        }
        if self.stream.as_ref().is_some_and(peer_gone) {
            self.drop_connection();
        }
        if self.stream.is_none() {
            match connect(&self.path) {
                Ok(fd) => {
                    self.stream = Some(fd);
                    self.stream_used = false;
                    self.generation += 1;
                }
                Err(errno) => {
                    self.connect_errors += 1;
                    let err = connect_error(&self.path, errno);
                    for c in std::mem::take(&mut self.queue) {
                        done.push(Completion {
                            waiters: c.waiters,
                            result: Err(err.clone()),
                        });
                    }
                    return false;
                }
            }
        }
        if self.queue.is_empty() {
            return false;
        }
        let command = self.queue.remove(0);
        self.reply.clear();
        self.commands_sent += 1;
        self.in_flight = Some(InFlight {
            command,
            deadline: now + self.timeout,
            written: 0,
            reused: self.stream_used,
            scanned: 0,
        });
        self.stream_used = true;
        true
    }

    /// Advance the command in flight.
    fn step(&mut self, now: Instant) -> Step {
        let (Some(f), Some(fd)) = (self.in_flight.as_mut(), self.stream.as_ref()) else {
            return Step::Wait;
        };
        while f.written < f.command.request.len() {
            match rustix::io::write(fd, &f.command.request[f.written..]) {
                Ok(n) => f.written += n,
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return timeout_or_wait(f, now, self.timeout),
                Err(e) => return Step::Failed(self.io_error("sending a command", Some(e)), true),
            }
        }
        let mut budget = MAX_READ_PER_STEP;
        // One byte past the largest reply: a reply over the limit is caught with the buffer at
        // this bound (not a read beyond it).
        let bound = self.max_reply.saturating_add(TERMINATOR.len() + 1);
        while budget > 0 {
            make_room(&mut self.reply, bound);
            let room = self.reply.capacity() - self.reply.len();
            match rustix::io::read(fd, spare_capacity(&mut self.reply)) {
                Ok(0) => {
                    let retry_safe = f.command.read_only && self.reply.is_empty();
                    return Step::Failed(self.io_error("waiting for a reply", None), retry_safe);
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    if self.reply.len() > self.max_reply.saturating_add(TERMINATOR.len()) {
                        return Step::Failed(
                            Error::TooLarge {
                                limit: self.max_reply,
                            },
                            false,
                        );
                    }
                    if n < room {
                        // Poll is level-triggered: the rest, if any, is read at the next
                        // readiness (no read just to see EAGAIN).
                        break;
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => break,
                Err(e) => {
                    let retry_safe = f.command.read_only && self.reply.is_empty();
                    return Step::Failed(self.io_error("waiting for a reply", Some(e)), retry_safe);
                }
            }
        }
        let garbage = |detail: String| {
            Step::Failed(
                Error::Garbage {
                    path: self.path.clone(),
                    detail,
                },
                false,
            )
        };
        // Raw replies (ban lists) are only framed here, as they arrive (a few MB must not be
        // walked in one turn); their reader decodes them.
        let framed = f
            .command
            .raw
            .then(|| pickle::scan_from(&self.reply, &mut f.scanned));
        if let Some(Err(e)) = &framed {
            return garbage(e.to_string());
        }
        // The terminator may also occur inside a pickled string: only the pickle's own framing
        // tells.
        if self.reply.ends_with(TERMINATOR) {
            let read = match framed {
                Some(end) => end.map(|end| end.map(|used| (None, used))),
                None => self
                    .decoder
                    .decode(&self.reply)
                    .map(|done| done.map(|(value, used)| (Some(value), used))),
            };
            match read {
                Ok(Some((value, used))) if used + TERMINATOR.len() == self.reply.len() => {
                    return Step::Finished(match value {
                        None => {
                            // The buffer itself goes to the caller: no copy of a big list.
                            let mut bytes = std::mem::take(&mut self.reply);
                            bytes.truncate(used);
                            Ok(Value::Bytes(bytes))
                        }
                        Some(value) => {
                            if self.reply.capacity() > KEEP_REPLY_CAPACITY {
                                // Do not keep megabytes for the next 200-byte `status` reply.
                                self.reply = Vec::new();
                            }
                            replies::envelope(value).map_err(Error::from)
                        }
                    });
                }
                Ok(Some((_, used))) => {
                    return garbage(format!(
                        "{} stray bytes after the reply",
                        self.reply.len() - used
                    ))
                }
                Ok(None) => {}
                Err(e) => return garbage(e.to_string()),
            }
        }
        timeout_or_wait(f, now, self.timeout)
    }

    fn io_error(&self, what: &'static str, errno: Option<Errno>) -> Error {
        Error::Io {
            path: self.path.clone(),
            what,
            errno,
        }
    }

    fn drop_connection(&mut self) {
        self.stream = None;
        self.reply = Vec::new();
    }

    /// Leave politely when idle (the server then closes its side); a plain close when busy.
    pub fn close(&mut self) {
        if let (Some(fd), None) = (self.stream.as_ref(), self.in_flight.as_ref()) {
            let _ = rustix::io::write(fd, CLOSE_COMMAND);
        }
        self.drop_connection();
    }
}

enum Step {
    Wait,
    Finished(Result<Value, Error>),
    /// The error, and whether a read-only command may be retried on a new connection.
    Failed(Error, bool),
}

/// Room for the next read straight into `reply`'s spare capacity (no intermediate buffer, so no
/// stack array is copied through or kept resident). Room below a quarter chunk is grown, by
/// doubling so a multi-megabyte reply is not copied chunk by chunk (and a small reply never
/// grows the buffer at all), the capacity never past `bound`. `reply` is shorter than `bound`
/// (longer replies have failed), so there is always room.
fn make_room(reply: &mut Vec<u8>, bound: usize) {
    if reply.capacity() - reply.len() >= READ_CHUNK / 4 {
        return;
    }
    let want = (2 * reply.capacity())
        .max(reply.len() + READ_CHUNK)
        .min(bound);
    if want > reply.capacity() {
        reply.reserve_exact(want - reply.len());
    }
}

fn timeout_or_wait<T>(f: &InFlight<T>, now: Instant, timeout: Duration) -> Step {
    if now >= f.deadline {
        let command = f.command.args.join(" ");
        return Step::Failed(
            Error::Timeout {
                command,
                after: timeout,
            },
            false,
        );
    }
    Step::Wait
}

fn connect(path: &Path) -> Result<OwnedFd, Errno> {
    let addr = SocketAddrUnix::new(path).map_err(|_| Errno::NAMETOOLONG)?;
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::connect(&fd, &addr)?;
    Ok(fd)
}

/// Why `connect` failed. Linux answers ECONNREFUSED for a regular file or a directory as for a
/// stale socket, so the path is looked at before blaming fail2ban.
fn connect_error(path: &Path, errno: Errno) -> Error {
    if matches!(errno, Errno::CONNREFUSED | Errno::NOTSOCK) {
        use std::os::unix::fs::FileTypeExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let kind = meta.file_type();
            if !kind.is_socket() {
                let kind = if kind.is_dir() {
                    "a directory"
                } else if kind.is_file() {
                    "a regular file"
                } else {
                    "not a socket file"
                };
                return Error::NotASocket {
                    path: path.to_path_buf(),
                    kind,
                };
            }
        }
    }
    Error::Connect {
        path: path.to_path_buf(),
        errno,
    }
}

/// An idle connection whose peer has closed (fail2ban restarted) polls readable or hung up.
fn peer_gone(fd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(n) if n > 0)
}

/// Send one command and wait for its reply, for the CLI (`banwatch query`). It drives the same
/// client the server uses, so the CLI exercises the same code path.
///
/// `tag` is any value of the tag type `serve` uses, so that the binary holds one copy of the
/// client's code, not a second one for a unit tag (about 5 KB).
pub fn query<T>(
    path: &Path,
    args: Vec<String>,
    timeout: Duration,
    max_reply: usize,
    tag: T,
) -> Result<Value, Error> {
    let mut client: Client<T> = Client::new(path.to_path_buf(), timeout, max_reply);
    client.submit(args, false, tag)?;
    let mut done = Vec::new();
    loop {
        client.drive(Instant::now(), &mut done);
        if let Some(c) = done.pop() {
            client.close();
            return c.result;
        }
        let (Some(fd), Some(deadline)) = (client.fd(), client.deadline()) else {
            continue;
        };
        let wait = deadline.saturating_duration_since(Instant::now());
        let ts = crate::fdio::timespec(wait);
        let mut fds = [PollFd::new(&fd, client.interest())];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => {
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    what: "polling",
                    errno: Some(e),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};

    /// `(0, 'pong')` pickled at protocol 2, then the terminator.
    const PONG: &[u8] = b"\x80\x02K\x00X\x04\x00\x00\x00pong\x86.<F2B_END_COMMAND>";

    /// A listening socket in a fresh temp dir; the client connects to it without an accept
    /// (the backlog takes the connection), so one thread plays both sides.
    fn server(name: &str) -> (UnixListener, PathBuf) {
        let dir = std::env::temp_dir().join(format!("bw-client-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f2b.sock");
        (UnixListener::bind(&path).unwrap(), path)
    }

    /// Read one whole command (up to the terminator) as the server.
    fn command(peer: &mut UnixStream) -> Vec<u8> {
        let mut got = Vec::new();
        let mut b = [0u8; 1024];
        while !got.ends_with(TERMINATOR) {
            let n = peer.read(&mut b).unwrap();
            assert!(n > 0, "client closed");
            got.extend_from_slice(&b[..n]);
        }
        got
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_reply_buffer_doubles_and_never_grows_past_its_bound() {
        let bound = 5 * READ_CHUNK + 7;
        let mut reply = Vec::new();
        let mut capacities = Vec::new();
        while reply.len() < bound {
            make_room(&mut reply, bound);
            assert!(reply.capacity() > reply.len(), "room for a read");
            assert!(reply.capacity() <= bound);
            capacities.push(reply.capacity());
            reply.resize(reply.capacity(), b'x');
        }
        let c = READ_CHUNK;
        assert_eq!(capacities, [c, 2 * c, 4 * c, bound]);
    }

    #[test]
    fn one_read_per_readiness_unless_the_room_filled() {
        let (listener, path) = server("one-read");
        let t = Instant::now();
        let mut c: Client<u32> = Client::new(path, Duration::from_secs(3), 1 << 20);
        c.submit(args(&["ping"]), true, 1).unwrap();
        let mut done = Vec::new();
        c.drive(t, &mut done);
        let (mut peer, _) = listener.accept().unwrap();
        command(&mut peer);
        // Half a reply, then the server's EOF: one read takes the half; a second one, to see
        // EAGAIN, would have seen the EOF and failed the command in this same turn.
        peer.write_all(&PONG[..8]).unwrap();
        drop(peer);
        c.drive(t, &mut done);
        assert!(done.is_empty(), "no second read after a short one");
        c.drive(t, &mut done);
        assert!(matches!(&done[0].result, Err(Error::Io { .. })));
    }

    #[test]
    fn a_reply_over_the_limit_fails_as_too_large() {
        let (listener, path) = server("too-large");
        let t = Instant::now();
        let mut c: Client<u32> = Client::new(path, Duration::from_secs(3), 1000);
        c.submit(args(&["ping"]), true, 1).unwrap();
        let mut done = Vec::new();
        c.drive(t, &mut done);
        let (mut peer, _) = listener.accept().unwrap();
        command(&mut peer);
        peer.write_all(&[b'X'; 5000]).unwrap();
        c.drive(t, &mut done);
        assert!(
            matches!(&done[0].result, Err(Error::TooLarge { limit: 1000 })),
            "{:?}",
            done[0].result.as_ref().err()
        );
    }

    #[test]
    fn identical_reads_share_one_command_and_every_waiter_gets_the_reply() {
        let (listener, path) = server("coalesce");
        let t = Instant::now();
        let mut c: Client<u32> = Client::new(path, Duration::from_secs(3), 1 << 20);
        c.submit(args(&["ping"]), true, 1).unwrap();
        c.submit(args(&["ping"]), true, 2).unwrap();
        let mut done = Vec::new();
        c.drive(t, &mut done);
        let (mut peer, _) = listener.accept().unwrap();
        assert_eq!(command(&mut peer), encode(&["ping"]));
        assert_eq!(c.interest(), PollFlags::IN);
        peer.write_all(PONG).unwrap();
        c.drive(t, &mut done);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].waiters, [1, 2]);
        assert!(matches!(&done[0].result, Ok(Value::Str(s)) if s == "pong"));
        assert_eq!(c.commands_sent, 1);
        assert_eq!(c.deadline(), None, "nothing in flight");
    }

    fn encode(a: &[&str]) -> Vec<u8> {
        pickle::encode_command(a).unwrap()
    }

    #[test]
    fn an_unsent_command_nobody_waits_for_is_never_sent() {
        let (listener, path) = server("cancel");
        let t = Instant::now();
        let mut c: Client<u32> = Client::new(path, Duration::from_secs(3), 1 << 20);
        let mut done = Vec::new();
        c.submit(args(&["set", "j", "banip", "192.0.2.1"]), false, 1)
            .unwrap();
        c.drive(t, &mut done);
        c.submit(args(&["set", "j", "banip", "192.0.2.2"]), false, 2)
            .unwrap();
        c.submit(args(&["set", "j", "banip", "192.0.2.3"]), false, 3)
            .unwrap();
        c.cancel_unsent(&mut |w| *w == 2);
        let (mut peer, _) = listener.accept().unwrap();
        assert_eq!(
            command(&mut peer),
            encode(&["set", "j", "banip", "192.0.2.1"])
        );
        peer.write_all(PONG).unwrap();
        c.drive(t, &mut done);
        assert_eq!(
            command(&mut peer),
            encode(&["set", "j", "banip", "192.0.2.3"]),
            "the cancelled .2 is skipped"
        );
        peer.write_all(PONG).unwrap();
        c.drive(t, &mut done);
        let waiters: Vec<u32> = done.iter().flat_map(|d| d.waiters.clone()).collect();
        assert_eq!(waiters, [1, 3]);
        assert_eq!(c.commands_sent, 2);
    }

    #[test]
    fn a_command_in_flight_times_out_at_its_deadline_and_the_next_is_sent_fresh() {
        let (listener, path) = server("timeout");
        let t = Instant::now();
        let timeout = Duration::from_secs(3);
        let mut c: Client<u32> = Client::new(path, timeout, 1 << 20);
        let mut done = Vec::new();
        c.submit(args(&["status"]), true, 1).unwrap();
        c.drive(t, &mut done);
        assert_eq!(c.deadline(), Some(t + timeout));
        c.drive(t + timeout - Duration::from_millis(1), &mut done);
        assert!(done.is_empty());
        c.drive(t + timeout, &mut done);
        assert!(
            matches!(&done[0].result, Err(Error::Timeout { command, .. }) if command == "status")
        );
        assert_eq!(c.fd().map(|_| ()), None, "connection dropped");
        // The next command goes out on a new connection.
        c.submit(args(&["ping"]), true, 2).unwrap();
        c.drive(t + timeout, &mut done);
        let _first = listener.accept().unwrap();
        let (mut second, _) = listener.accept().unwrap();
        assert_eq!(command(&mut second), encode(&["ping"]));
        assert_eq!(c.generation(), 2);
    }

    #[test]
    fn a_full_queue_refuses_with_busy_and_a_missing_socket_fails_every_queued_command() {
        let dir = std::env::temp_dir().join(format!("bw-client-none-{}", std::process::id()));
        let mut c: Client<usize> = Client::new(dir.join("nope.sock"), Duration::from_secs(1), 1024);
        for i in 0..MAX_QUEUE {
            c.submit(args(&["set", "j", "banip", &i.to_string()]), false, i)
                .unwrap();
        }
        assert!(matches!(
            c.submit(args(&["ping"]), false, MAX_QUEUE),
            Err(Error::Busy)
        ));
        let mut done = Vec::new();
        c.drive(Instant::now(), &mut done);
        assert_eq!(done.len(), MAX_QUEUE);
        assert!(done
            .iter()
            .all(|d| matches!(d.result, Err(Error::Connect { .. }))));
        assert_eq!(c.connect_errors, 1);
    }
}
