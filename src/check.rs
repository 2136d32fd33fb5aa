//! `banwatch check`: an HTTP GET with no client library, for Docker HEALTHCHECK in images that
//! have no curl. Exit 0 on 2xx, 1 otherwise; one line on stdout either way.
//!
//! In scope: `http://host:port/path` URLs, HTTP/1.0, a total timeout. Out of scope: TLS, redirects,
//! and host names other than `localhost`: a health check talks to its own host, and a DNS resolver
//! would cost the static router build about 12 KB (musl's getaddrinfo and its resolv.conf reader).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::SendFlags;

/// The most of a reply we read: enough for a status line and a health body.
const MAX_REPLY: usize = 64 * 1024;

/// The most of the reply's body the printed line shows.
const MAX_SHOWN_CHARS: usize = 300;

/// `text` on one line: runs of whitespace become one space, cut after `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut left = max;
    for word in text.split_whitespace() {
        let space = (!out.is_empty()).then_some(' ');
        for c in space.into_iter().chain(word.chars()) {
            if left == 0 {
                return out;
            }
            out.push(c);
            left -= 1;
        }
    }
    out
}

/// Returns the line to print and whether the check passed.
pub fn run(url: &str, timeout: Duration) -> (String, bool) {
    match get(url, timeout) {
        Ok((status, body)) => {
            let ok = (200..300).contains(&status);
            (
                format!("{} {status} {url} {body}", if ok { "ok" } else { "fail" }),
                ok,
            )
        }
        Err(e) => (format!("fail {url}: {e}"), false),
    }
}

/// Where `authority` (`127.0.0.1:9191`, `[::1]:9191`, `localhost`, …) points; port 80 if absent.
/// At most two addresses (localhost's), so no `Vec`.
fn addresses(authority: &str) -> Result<[Option<SocketAddr>; 2], String> {
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => {
            let port = p
                .parse::<u16>()
                .map_err(|_| format!("'{p}' in '{authority}' is not a port"))?;
            (h, port)
        }
        _ => (authority, 80),
    };
    if host.eq_ignore_ascii_case("localhost") {
        let at = |ip: IpAddr| Some(SocketAddr::new(ip, port));
        return Ok([
            at(Ipv4Addr::LOCALHOST.into()),
            at(Ipv6Addr::LOCALHOST.into()),
        ]);
    }
    // IPv6 only in brackets, IPv4 only without: `--listen`'s reading of an address.
    match crate::cli::socket_addr(&format!("{host}:{port}")) {
        Some(addr) => Ok([Some(addr), None]),
        None => Err(format!(
            "'{host}' is not an IP address or localhost: banwatch check does not resolve \
             host names; give the address (http://127.0.0.1:9191/health, \
             http://[::1]:9191/health)"
        )),
    }
}

/// The reply's status and its body on one line (`one_line`).
fn get(url: &str, timeout: Duration) -> Result<(u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs are supported, not '{url}'"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let deadline = Instant::now() + timeout;
    let addrs = addresses(authority)?;
    let timed_out = || format!("timed out after {} s", crate::json::Secs(timeout));
    let mut last = String::from("no address");
    for addr in addrs.into_iter().flatten() {
        if deadline.saturating_duration_since(Instant::now()).is_zero() {
            return Err(timed_out());
        }
        let s = match connect(&addr, deadline) {
            Ok(s) => s,
            Err(e) => {
                last = format!("cannot connect to {addr}: {e}");
                continue;
            }
        };
        // Each read or write may wait this long, as a socket timeout would let it.
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let req = format!(
            "GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: banwatch-check\r\n\r\n"
        );
        let mut sent = 0;
        while sent < req.len() {
            // MSG_NOSIGNAL, as std's TcpStream sends.
            match rustix::net::send(&s, &req.as_bytes()[sent..], SendFlags::NOSIGNAL) {
                Ok(n) => sent += n,
                Err(Errno::AGAIN) if ready(&s, PollFlags::OUT, left) => {}
                Err(Errno::INTR) => {}
                Err(e) => return Err(format!("sending: {}", std::io::Error::from(e))),
            }
        }
        let mut reply = vec![0; MAX_REPLY];
        let mut len = 0;
        while len < MAX_REPLY {
            match rustix::io::read(&s, &mut reply[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(Errno::AGAIN) if ready(&s, PollFlags::IN, left) => {}
                Err(Errno::AGAIN) => return Err(timed_out()),
                Err(Errno::INTR) => {}
                Err(e) => return Err(format!("reading: {}", std::io::Error::from(e))),
            }
        }
        let text = String::from_utf8_lossy(&reply[..len]);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or("not an HTTP reply")?;
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        return Ok((status, one_line(body, MAX_SHOWN_CHARS)));
    }
    Err(last)
}

/// A non-blocking TCP socket connected to `addr` by `deadline`; the errors read as std's
/// `TcpStream::connect_timeout` words them. Through rustix, whose socket calls the fail2ban client
/// links anyway.
fn connect(addr: &SocketAddr, deadline: Instant) -> std::io::Result<OwnedFd> {
    let s = crate::fdio::tcp_socket(addr)?;
    match rustix::net::connect(&s, addr) {
        Ok(()) => return Ok(s),
        Err(Errno::INPROGRESS) => {}
        Err(e) => return Err(e.into()),
    }
    let left = deadline.saturating_duration_since(Instant::now());
    if !ready(&s, PollFlags::OUT, left) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connection timed out",
        ));
    }
    match rustix::net::sockopt::socket_error(&s)? {
        Ok(()) => Ok(s),
        Err(e) => Err(e.into()),
    }
}

/// Whether `fd` became ready for `flags` (or failed) within `wait`.
fn ready(fd: &OwnedFd, flags: PollFlags, wait: Duration) -> bool {
    let until = Instant::now() + wait;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut fds = [PollFd::new(fd, flags)];
        let ts = crate::fdio::timespec(left);
        match rustix::event::poll(&mut fds, Some(&ts)) {
            // Woken early or interrupted: look at the clock again.
            Ok(0) | Err(Errno::INTR) => {}
            // Ready, or poll failed: the next call on `fd` says which.
            _ => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(authority: &str) -> Vec<String> {
        addresses(authority)
            .unwrap()
            .iter()
            .flatten()
            .map(|a| a.to_string())
            .collect()
    }

    #[test]
    fn the_body_is_shown_on_one_line_and_cut() {
        assert_eq!(
            one_line(" {\"a\":\n  1,\t\"b\": 2}\n", 300),
            "{\"a\": 1, \"b\": 2}"
        );
        assert_eq!(one_line("ééé é", 4), "ééé ");
        assert_eq!(one_line("", 300), "");
    }

    #[test]
    fn literals_and_localhost_need_no_resolver() {
        assert_eq!(addrs("127.0.0.1:9191"), ["127.0.0.1:9191"]);
        assert_eq!(addrs("10.0.0.1"), ["10.0.0.1:80"]);
        assert_eq!(addrs("[::1]:9191"), ["[::1]:9191"]);
        assert_eq!(addrs("[fe80::1]"), ["[fe80::1]:80"]);
        assert_eq!(addrs("LocalHost:8080"), ["127.0.0.1:8080", "[::1]:8080"]);
    }

    #[test]
    fn names_and_bad_ports_are_refused_with_what_to_do() {
        let e = addresses("banwatch.example:9191").unwrap_err();
        assert!(e.contains("does not resolve host names"), "{e}");
        assert!(addresses("::1:9191").is_err(), "IPv6 without brackets");
        assert!(addresses("[127.0.0.1]:80").is_err(), "IPv4 in brackets");
        let e = addresses("127.0.0.1:http").unwrap_err();
        assert!(e.contains("is not a port"), "{e}");
        assert!(addresses("127.0.0.1:65536").is_err());
    }
}
