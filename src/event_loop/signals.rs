//! The signal pipes: SIGTERM/SIGINT (stop) and SIGHUP (reload) handlers write a byte to a
//! socket pair the loop polls, so a signal is handled in the loop like any readiness.

use std::io::Read;
use std::os::unix::net::UnixStream;

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

/// Empty a signal pipe (several signals may have queued bytes).
pub(super) fn drain(s: &mut UnixStream) {
    let mut buf = [0u8; 64];
    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
}
