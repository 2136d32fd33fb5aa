//! systemd's notify protocol without libsystemd: `READY=1` once listening,
//! `WATCHDOG=1` from the loop when `WatchdogSec=` is set, `STOPPING=1` on shutdown. Each is one
//! datagram to `$NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace). Sends never block
//! and never fail the process: without systemd they are simply not made.

use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::net::{AddressFamily, SendFlags, SocketAddrUnix, SocketFlags, SocketType};

/// Through rustix, whose socket calls the fail2ban client links anyway (std's `UnixDatagram` and
/// `SocketAddr` would bring their own).
pub struct Notifier {
    socket: OwnedFd,
    addr: SocketAddrUnix,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`; `None` when unset or unusable.
    pub fn from_env() -> Option<Notifier> {
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        let path = path.to_str()?;
        let addr = match path.strip_prefix('@') {
            Some(name) => SocketAddrUnix::new_abstract_name(name.as_bytes()),
            None => SocketAddrUnix::new(path),
        };
        Notifier::to(addr.ok()?)
    }

    /// An unbound, non-blocking datagram socket that sends to `addr`.
    fn to(addr: SocketAddrUnix) -> Option<Notifier> {
        let socket = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )
        .ok()?;
        Some(Notifier { socket, addr })
    }

    fn send(&self, message: &str) {
        let flags = SendFlags::NOSIGNAL;
        if let Err(e) = rustix::net::sendto(&self.socket, message.as_bytes(), flags, &self.addr) {
            log::debug!("sd_notify {message}: {e}");
        }
    }

    pub fn ready(&self) {
        self.send("READY=1\nSTATUS=serving");
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }
}

/// How often to ping the watchdog: half of `$WATCHDOG_USEC`, if it is set for this process.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var_os("WATCHDOG_USEC")?.to_str()?.parse().ok()?;
    if let Some(pid) = std::env::var_os("WATCHDOG_PID").and_then(|p| p.into_string().ok()) {
        // Read as u64 like the interval (one parser linked); a value past u32 is no pid of ours
        // either way.
        if pid.parse::<u64>().ok()? != u64::from(std::process::id()) {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    fn receive(listener: &UnixDatagram) -> String {
        listener
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut buf = [0u8; 256];
        let n = listener.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn notifies_a_path_socket_and_an_abstract_one() {
        let dir = std::env::temp_dir().join(format!("bw-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::to(SocketAddrUnix::new(&path).unwrap()).unwrap();
        n.ready();
        assert_eq!(receive(&listener), "READY=1\nSTATUS=serving");
        n.watchdog();
        assert_eq!(receive(&listener), "WATCHDOG=1");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("banwatch-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        let n = Notifier::to(SocketAddrUnix::new_abstract_name(name.as_bytes()).unwrap()).unwrap();
        n.stopping();
        assert_eq!(receive(&listener), "STOPPING=1");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
