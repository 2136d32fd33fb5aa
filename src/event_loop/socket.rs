//! An accepted TCP connection as the loop holds it: a rustix `OwnedFd` that `Connection` can
//! write to. rustix's socket calls are linked anyway; std's `TcpStream` would bring its own
//! accept, socket option and write code.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::SendFlags;

/// What `Connection<S>` needs of its stream: `Write` (reads go through rustix on the fd).
pub(super) struct Socket(pub(super) OwnedFd);

impl io::Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // MSG_NOSIGNAL as std's `TcpStream` sends: a peer gone is an error, never a SIGPIPE.
        Ok(rustix::net::send(&self.0, buf, SendFlags::NOSIGNAL)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
