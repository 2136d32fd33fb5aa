//! The signal pipes: SIGTERM/SIGINT (stop) and SIGHUP (reload) handlers write a byte to a pipe
//! the loop polls, so a signal is handled in the loop like any readiness.

use std::os::fd::{AsRawFd, OwnedFd};

use rustix::pipe::PipeFlags;

/// The read ends of the pipes. Plain pipes through rustix (linked anyway) rather than std's
/// `UnixStream` pairs, which cost more code.
pub struct Signals {
    pub stop: OwnedFd,
    pub reload: OwnedFd,
}

/// Install SIGTERM/SIGINT (stop) and SIGHUP (reload) handlers that write to pipes we poll.
pub fn install_signals() -> std::io::Result<Signals> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    // Non-blocking at both ends: a full pipe drops a wake-up, never blocks a handler or the loop.
    let flags = PipeFlags::NONBLOCK | PipeFlags::CLOEXEC;
    let (stop, stop_w) = rustix::pipe::pipe_with(flags)?;
    let (reload, reload_w) = rustix::pipe::pipe_with(flags)?;
    // SIGTERM and SIGINT share one write end: registered by number for SIGTERM, and owned
    // (kept open for the process's life) by SIGINT's registration, rather than a duplicate.
    signal_hook::low_level::pipe::register_raw(SIGTERM, stop_w.as_raw_fd())?;
    signal_hook::low_level::pipe::register(SIGINT, stop_w)?;
    signal_hook::low_level::pipe::register(SIGHUP, reload_w)?;
    Ok(Signals { stop, reload })
}

/// Empty a signal pipe (several signals may have queued bytes).
pub(super) fn drain(pipe: &mut OwnedFd) {
    let mut buf = [0u8; 64];
    while matches!(rustix::io::read(&*pipe, &mut buf), Ok(n) if n > 0) {}
}
