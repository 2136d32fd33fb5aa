//! What the modules that use rustix's sockets and poll directly (instead of std's `TcpStream`,
//! whose code then stays out of the binary) share: a poll timeout from a `Duration`, and a
//! non-blocking TCP socket for an address.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::event::Timespec;
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

/// `wait` as poll's timeout.
pub fn timespec(wait: Duration) -> Timespec {
    Timespec {
        tv_sec: wait.as_secs() as i64,
        tv_nsec: i64::from(wait.subsec_nanos()),
    }
}

/// A non-blocking, close-on-exec TCP socket of `addr`'s family.
pub fn tcp_socket(addr: &SocketAddr) -> Result<OwnedFd, Errno> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    rustix::net::socket_with(family, SocketType::STREAM, flags, None)
}
