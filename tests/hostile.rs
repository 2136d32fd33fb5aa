//! Hostile HTTP and writes under load: slowloris, request-smuggling shapes and other malformed
//! requests (each must get the right 4xx, and the connection closed where the standard says
//! so), and 1,000 concurrent bans where what fail2ban holds afterwards must equal exactly what
//! banwatch acknowledged.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::banwatch::{Banwatch, BIN};
use common::Fail2ban;

/// Send `request`, read until the server closes (or 2 s); return (status line, closed by server).
fn exchange(bw: &Banwatch, request: &[u8]) -> (String, bool) {
    let mut s = TcpStream::connect(bw.addr).unwrap();
    s.write_all(request).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    let text = String::from_utf8_lossy(&out).into_owned();
    (text.lines().next().unwrap_or("").to_string(), closed)
}

#[test]
fn malformed_and_smuggling_shaped_requests_get_the_right_4xx() {
    let bw = Banwatch::start(Path::new("/nonexistent/f2b.sock"), &[]);
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000));
    let cases: Vec<(&str, Vec<u8>, &str, bool)> = vec![
        ("two Content-Length", b"POST /api/v1/jails/x/bans HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}".to_vec(), "400", true),
        ("Content-Length with Transfer-Encoding", b"POST /api/v1/jails/x/bans HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}".to_vec(), "400", true),
        ("obs-fold header", b"GET /livez HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n".to_vec(), "400", true),
        ("invalid UTF-8 in the path", b"GET /api/v1/jails/%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "400", false),
        ("raw invalid UTF-8 in the path", b"GET /api/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "400", true),
        ("percent-encoded traversal", b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "400", false),
        ("very long URI", long_uri.into_bytes(), "414", true),
        ("NUL byte", b"GET /livez\0 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "400", true),
        ("NUL in a header", b"GET /livez HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n".to_vec(), "400", true),
        ("lowercase method", b"get /livez HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "405", false),
        ("unknown version", b"GET /livez HTTP/9.9\r\n\r\n".to_vec(), "400", true),
        ("body over 16 KiB", format!("POST /api/v1/jails/x/bans HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", 17 * 1024).into_bytes(), "413", true),
    ];
    for (name, request, status, must_close) in cases {
        let (line, closed) = exchange(&bw, &request);
        assert!(
            line.starts_with(&format!("HTTP/1.1 {status} ")),
            "{name}: got {line:?}"
        );
        if must_close {
            assert!(closed, "{name}: the server must close the connection");
        }
    }
    // A request-smuggling attempt must not leave a second request behind on the connection.
    let (line, closed) = exchange(&bw, b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\nGET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(line.starts_with("HTTP/1.1 400") && closed, "{line}");
}

#[test]
fn slowloris_does_not_stop_a_fresh_client() {
    let f2b = Fail2ban::start(&["sshd"]);
    let bw = Banwatch::start(f2b.socket(), &["--max-connections", "1100"]);
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);
    let mut slow: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(bw.addr).expect("connect (raise ulimit -n?)"))
        .collect();
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut worst = Duration::ZERO;
    for round in 0..4 {
        // Every slow connection sends one more header byte, then a fresh client asks /health.
        for s in &mut slow {
            let _ = s.write_all(&request[round % request.len()..round % request.len() + 1]);
        }
        std::thread::sleep(Duration::from_millis(500));
        let t = Instant::now();
        let reply = bw.raw(
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(3),
        );
        let took = t.elapsed();
        worst = worst.max(took);
        assert!(reply.starts_with("HTTP/1.1 200"), "round {round}: {reply}");
    }
    eprintln!("slowloris: 1000 slow connections, worst fresh /health {worst:?}");
    assert!(
        worst < Duration::from_millis(100),
        "a fresh /health took {worst:?} beside 1000 slow connections"
    );
    assert_eq!(bw.threads(), 1);
}

/// `reply` with the Date value replaced by `D`, for byte-exact comparisons.
fn undated(reply: &str) -> String {
    reply
        .split("\r\n")
        .map(|l| {
            if l.starts_with("Date: ") {
                "Date: D"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[test]
fn http_details_byte_exact() {
    let token = common::banwatch::token_file("details", "t0k", 0o600);
    let bw = Banwatch::start(
        Path::new("/nonexistent/f2b.sock"),
        &["--token-file", token.to_str().unwrap()],
    );
    let ask = |req: &str| undated(&bw.raw(req.as_bytes(), Duration::from_secs(2)));
    let error = |status: &str, message: &str| {
        let body = format!("{{\"error\":\"{message}\"}}\n");
        format!(
            "HTTP/1.1 {status}\r\nDate: D\r\nServer: banwatch\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };

    // A 304 has no Content-Length (and no body).
    let head = ask("GET /app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("ETag: "))
        .expect("app.js has an ETag")
        .to_string();
    let reply = ask(&format!(
        "GET /app.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n"
    ));
    assert!(
        reply.starts_with("HTTP/1.1 304 Not Modified\r\n"),
        "{reply}"
    );
    assert!(!reply.contains("Content-Length"), "{reply}");
    assert!(reply.ends_with("\r\n\r\n"), "no body: {reply}");

    assert_eq!(
        ask("POST /api/v1/jails/sshd/bans HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}"),
        error(
            "400 Bad Request",
            "malformed request: Content-Length is not a number"
        )
    );
    assert_eq!(
        ask("GET /livez HTTP/1.1\r\n\r\n"),
        error(
            "400 Bad Request",
            "malformed request: HTTP/1.1 request without a Host header"
        )
    );
    assert_eq!(
        ask("GET http://x/livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        "HTTP/1.1 200 OK\r\nDate: D\r\nServer: banwatch\r\nContent-Type: application/json\r\nContent-Length: 18\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{\"status\":\"pass\"}\n"
    );
    let reply = ask("GET /api/v1/jails/a%+f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(
        reply.starts_with("HTTP/1.1 400 "),
        "%+f is no escape: {reply}"
    );

    // The scheme is case-insensitive: a lowercase `bearer` passes the token check (and then
    // meets the missing fail2ban), a wrong token does not.
    let ban = |auth: &str| {
        ask(&format!(
            "POST /api/v1/jails/sshd/bans HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 18\r\nConnection: close\r\n\r\n{{\"ip\":\"192.0.2.1\"}}"
        ))
    };
    let reply = ban("bearer t0k");
    assert!(reply.starts_with("HTTP/1.1 503 "), "{reply}");
    let reply = ban("BEARER nope");
    assert!(reply.starts_with("HTTP/1.1 401 "), "{reply}");
}

/// CPU time (user + system) banwatch has used, from /proc/PID/stat.
fn cpu_time(bw: &Banwatch) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", bw.pid())).unwrap();
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|v| v.parse().unwrap())
        .collect();
    let tck = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse::<u64>().ok())
        .unwrap_or(100);
    Duration::from_millis((f[0] + f[1]) * 1000 / tck)
}

fn open_fds(bw: &Banwatch) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", bw.pid()))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn clients_that_never_read_neither_pin_the_cpu_nor_stay_open() {
    let bw = Banwatch::start(
        Path::new("/nonexistent/f2b.sock"),
        &["--max-connections", "4"],
    );
    std::thread::sleep(Duration::from_millis(300));
    let fds = open_fds(&bw);
    // Three clients pipeline far more than the socket buffers hold in answers, and never read.
    let requests = "GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2000);
    let stalled: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = TcpStream::connect(bw.addr).unwrap();
            s.set_nonblocking(true).unwrap();
            let mut sent = 0;
            let until = Instant::now() + Duration::from_secs(2);
            while sent < requests.len() && Instant::now() < until {
                match s.write(&requests.as_bytes()[sent..]) {
                    Ok(n) => sent += n,
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            s
        })
        .collect();
    let stalled_at = Instant::now();
    let cpu_before = cpu_time(&bw);
    // 20 s: past the 10 s header timeout that used to start the spin.
    let mut worst = Duration::ZERO;
    while stalled_at.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_secs(2));
        let t = Instant::now();
        let reply = bw.raw(
            b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(2),
        );
        worst = worst.max(t.elapsed());
        assert!(
            reply.starts_with("HTTP/1.1 200"),
            "a newcomer is served: {reply}"
        );
    }
    let used = cpu_time(&bw) - cpu_before;
    eprintln!("3 never-reading clients: {used:?} CPU in 20 s, worst /livez {worst:?}");
    assert!(used < Duration::from_millis(500), "{used:?} CPU in 20 s");
    assert!(worst < Duration::from_millis(100), "/livez took {worst:?}");
    // Closed once no write progress for the idle timeout (30 s).
    let closed_by = stalled_at + Duration::from_secs(30 + 5);
    while open_fds(&bw) > fds {
        assert!(
            Instant::now() < closed_by,
            "stalled readers still open after 35 s: {} fds, {fds} before",
            open_fds(&bw)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(stalled);
}

#[test]
fn out_of_file_descriptors_banwatch_neither_spins_nor_stops_accepting() {
    let bw = Banwatch::start(
        Path::new("/nonexistent/f2b.sock"),
        &["--max-connections", "1000"],
    );
    std::thread::sleep(Duration::from_millis(300));
    let limit = open_fds(&bw) + 4;
    let pid = bw.pid().to_string();
    let set = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={limit}:{limit}")])
        .status()
        .expect("prlimit (util-linux) is needed");
    assert!(set.success());
    // More connections than descriptors: the rest wait in the backlog, accept(2) says EMFILE.
    let waiting: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(bw.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_time(&bw);
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_time(&bw) - before;
    eprintln!("out of descriptors: {used:?} CPU in 3 s");
    assert!(used < Duration::from_millis(300), "{used:?} CPU in 3 s");
    drop(waiting);
    bw.wait_for("/livez", Duration::from_secs(5), |c, _| c == 200);
}

#[test]
fn when_full_the_longest_idle_connection_makes_room() {
    let bw = Banwatch::start(
        Path::new("/nonexistent/f2b.sock"),
        &["--max-connections", "8"],
    );
    // Oldest first, with gaps so their ages differ for sure.
    let mut idle: Vec<TcpStream> = (0..8)
        .map(|_| {
            let s = TcpStream::connect(bw.addr).unwrap();
            std::thread::sleep(Duration::from_millis(30));
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let full = "HTTP/1.1 503 Service Unavailable\r\nDate: D\r\nServer: banwatch\r\nContent-Type: application/json\r\nContent-Length: 70\r\nConnection: close\r\nRetry-After: 1\r\n\r\n{\"error\":\"banwatch has too many open connections; retry in a second\"}\n";
    for evicted in 0..5 {
        assert_eq!(bw.get("/livez").0, 200);
        // The oldest remaining one was turned away, with a 503 and an EOF...
        let s = &mut idle[evicted];
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        assert_eq!(undated(&reply), full, "connection {evicted}");
        // ...and every younger one is still open.
        for (i, s) in idle.iter_mut().enumerate().skip(evicted + 1) {
            s.set_nonblocking(true).unwrap();
            let mut b = [0u8; 1];
            let e = s.read(&mut b).expect_err("still open, nothing to read");
            assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "connection {i}");
        }
        // Full again, with the youngest connection yet.
        idle.push(TcpStream::connect(bw.addr).unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn pipelined_requests_are_answered_in_order_across_accepts_that_evict() {
    let bw = Banwatch::start(
        Path::new("/nonexistent/f2b.sock"),
        &["--max-connections", "4"],
    );
    let _idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(bw.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    // The pipelining connection is the newest, so the last in banwatch's list: an eviction
    // moves it in place of the evicted one.
    let mut p = TcpStream::connect(bw.addr).unwrap();
    p.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut newcomers = Vec::new();
    let mut got = Vec::new();
    for round in 0..20 {
        let batch: String = (0..5)
            .map(|k| format!("GET /livez?n={round}-{k} HTTP/1.1\r\nHost: x\r\n\r\n"))
            .collect();
        // Requests and a newcomer at the same moment: one poll sees both.
        p.write_all(batch.as_bytes()).unwrap();
        newcomers.push(TcpStream::connect(bw.addr).unwrap());
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        while reply
            .windows(17)
            .filter(|w| w == b"{\"status\":\"pass\"}")
            .count()
            < 5
        {
            let n = p.read(&mut buf).expect("answers within 5 s");
            assert!(n > 0, "round {round}: the pipelining connection was closed");
            reply.extend_from_slice(&buf[..n]);
        }
        got.push(
            String::from_utf8(reply)
                .unwrap()
                .matches("HTTP/1.1 200 OK")
                .count(),
        );
    }
    assert_eq!(got, vec![5; 20]);
}

/// `n` concurrent bans of distinct IPs at `--max-connections cap`: every client reads an answer,
/// a 201 or a 503 with Retry-After (no reset, no broken pipe), and fail2ban holds exactly the
/// acknowledged IPs. Returns (acknowledged, refused).
fn concurrent_bans(n: u32, cap: &str) -> (usize, usize) {
    let f2b = Fail2ban::start(&["sshd"]);
    let token = common::banwatch::token_file(&format!("load-{cap}"), "load-test-token", 0o600);
    let bw = Banwatch::start(
        f2b.socket(),
        &[
            "--token-file",
            token.to_str().unwrap(),
            "--max-connections",
            cap,
            "--timeout",
            "30",
        ],
    );
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);

    let addr = bw.addr;
    let started = Instant::now();
    let clients: Vec<_> = (1..=n)
        .map(|i| {
            std::thread::spawn(move || {
                let ip = format!("2001:db8:1::{i:x}");
                let body = format!("{{\"ip\":\"{ip}\"}}");
                let req = format!(
                    "POST /api/v1/jails/sshd/bans HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer load-test-token\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let mut s = TcpStream::connect(addr).expect("connect");
                if let Err(e) = s.write_all(req.as_bytes()) {
                    return (ip, format!("send: {e}"));
                }
                s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
                let mut reply = String::new();
                match s.read_to_string(&mut reply) {
                    Ok(_) => (ip, reply),
                    Err(e) => (ip, format!("{reply}read: {e}")),
                }
            })
        })
        .collect();
    let mut acknowledged = BTreeSet::new();
    let (mut refused, mut other) = (0, Vec::new());
    for c in clients {
        let (ip, reply) = c.join().unwrap();
        if reply.starts_with("HTTP/1.1 201") && reply.contains("\"banned\":true") {
            acknowledged.insert(ip);
        } else if reply.starts_with("HTTP/1.1 503") && reply.contains("Retry-After:") {
            refused += 1;
        } else {
            other.push((ip, reply));
        }
    }
    eprintln!(
        "{n} concurrent bans at --max-connections {cap}: {} acknowledged, {refused} refused with 503, {} other, in {:?}",
        acknowledged.len(),
        other.len(),
        started.elapsed()
    );
    assert!(
        other.is_empty(),
        "every answer is a 201 or a clear 503, {} are not: {:?}",
        other.len(),
        &other[..other.len().min(3)]
    );
    assert!(!acknowledged.is_empty());

    let socket = f2b.socket().display().to_string();
    let out = std::process::Command::new(BIN)
        .args(["query", "--socket", &socket, "get", "sshd", "banip"])
        .output()
        .unwrap();
    let banned: Vec<String> = serde_json::from_slice(&out.stdout).expect("banip list");
    let banned: BTreeSet<String> = banned.into_iter().collect();
    assert_eq!(
        banned, acknowledged,
        "fail2ban holds exactly the bans banwatch acknowledged"
    );
    (acknowledged.len(), refused)
}

#[test]
fn a_thousand_concurrent_bans_are_each_acknowledged_or_refused_and_none_is_lost_or_invented() {
    let (acknowledged, _) = concurrent_bans(1000, "1100");
    assert_eq!(
        acknowledged, 1000,
        "below the cap, every ban is acknowledged"
    );
}

#[test]
fn a_thousand_concurrent_bans_at_the_default_cap_each_read_an_answer() {
    concurrent_bans(1000, "64");
}
