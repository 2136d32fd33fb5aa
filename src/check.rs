//! `banwatch check`: a blocking HTTP GET with only std, for Docker HEALTHCHECK in images that have
//! no curl. Exit 0 on 2xx, 1 otherwise; one line on stdout either way.
//!
//! In scope: `http://host:port/path` URLs, HTTP/1.0, a total timeout. Out of scope: TLS, redirects.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The most of a reply we read: enough for a status line and a health body.
const MAX_REPLY: u64 = 64 * 1024;

/// Returns the line to print and whether the check passed.
pub fn run(url: &str, timeout: Duration) -> (String, bool) {
    match get(url, timeout) {
        Ok((status, body)) => {
            let ok = (200..300).contains(&status);
            let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
            let body: String = body.chars().take(300).collect();
            (
                format!("{} {status} {url} {body}", if ok { "ok" } else { "fail" }),
                ok,
            )
        }
        Err(e) => (format!("fail {url}: {e}"), false),
    }
}

fn get(url: &str, timeout: Duration) -> Result<(u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs are supported, not '{url}'"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let deadline = Instant::now() + timeout;
    let addrs: Vec<_> = host_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{authority}': {e}"))?
        .collect();
    let mut last = String::from("no address");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("timed out after {} s", crate::json::Secs(timeout)));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(mut s) => {
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1));
                s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
                s.set_write_timeout(Some(left)).map_err(|e| e.to_string())?;
                let req = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: banwatch-check\r\n\r\n");
                s.write_all(req.as_bytes())
                    .map_err(|e| format!("sending: {e}"))?;
                let mut reply = Vec::new();
                s.take(MAX_REPLY)
                    .read_to_end(&mut reply)
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                            format!("timed out after {} s", crate::json::Secs(timeout))
                        }
                        _ => format!("reading: {e}"),
                    })?;
                let text = String::from_utf8_lossy(&reply);
                let status = text
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse::<u16>().ok())
                    .ok_or("not an HTTP reply")?;
                let body = text
                    .split_once("\r\n\r\n")
                    .map(|(_, b)| b.to_string())
                    .unwrap_or_default();
                return Ok((status, body));
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}
