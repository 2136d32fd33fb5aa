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
    let long_uri = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000));
    let cases: Vec<(&str, Vec<u8>, &str, bool)> = vec![
        ("two Content-Length", b"POST /api/v1/jails/x/bans HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}".to_vec(), "400", true),
        ("Content-Length with Transfer-Encoding", b"POST /api/v1/jails/x/bans HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}".to_vec(), "400", true),
        ("obs-fold header", b"GET /livez HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n".to_vec(), "400", true),
        ("invalid UTF-8 in the path", b"GET /api/v1/jails/%ff%fe HTTP/1.1\r\n\r\n".to_vec(), "400", false),
        ("raw invalid UTF-8 in the path", b"GET /api/\xff\xfe HTTP/1.1\r\n\r\n".to_vec(), "400", true),
        ("percent-encoded traversal", b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n\r\n".to_vec(), "400", false),
        ("very long URI", long_uri.into_bytes(), "414", true),
        ("NUL byte", b"GET /livez\0 HTTP/1.1\r\n\r\n".to_vec(), "400", true),
        ("NUL in a header", b"GET /livez HTTP/1.1\r\nX-A: a\0b\r\n\r\n".to_vec(), "400", true),
        ("lowercase method", b"get /livez HTTP/1.1\r\n\r\n".to_vec(), "405", false),
        ("unknown version", b"GET /livez HTTP/9.9\r\n\r\n".to_vec(), "400", true),
        ("body over 16 KiB", format!("POST /api/v1/jails/x/bans HTTP/1.1\r\nContent-Length: {}\r\n\r\n", 17 * 1024).into_bytes(), "413", true),
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
    let (line, closed) = exchange(&bw, b"POST /x HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\nGET /livez HTTP/1.1\r\n\r\n");
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
    let request = b"GET /health HTTP/1.1\r\nX-Slow: ";
    let mut worst = Duration::ZERO;
    for round in 0..4 {
        // Every slow connection sends one more header byte, then a fresh client asks /health.
        for s in &mut slow {
            let _ = s.write_all(&request[round % request.len()..round % request.len() + 1]);
        }
        std::thread::sleep(Duration::from_millis(500));
        let t = Instant::now();
        let reply = bw.raw(
            b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
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

#[test]
fn when_full_the_longest_idle_connection_makes_room() {
    let bw = Banwatch::start(
        Path::new("/nonexistent/f2b.sock"),
        &["--max-connections", "8"],
    );
    let _idle: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(bw.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..5 {
        assert_eq!(bw.get("/livez").0, 200);
    }
}

#[test]
fn a_thousand_concurrent_bans_are_each_acknowledged_or_refused_and_none_is_lost_or_invented() {
    let f2b = Fail2ban::start(&["sshd"]);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, "load-test-token\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let bw = Banwatch::start(
        f2b.socket(),
        &[
            "--token-file",
            token.to_str().unwrap(),
            "--max-connections",
            "1100",
            "--timeout",
            "30",
        ],
    );
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);

    let addr = bw.addr;
    let clients: Vec<_> = (1..=1000u32)
        .map(|i| {
            std::thread::spawn(move || {
                let ip = format!("2001:db8:1::{i:x}");
                let body = format!("{{\"ip\":\"{ip}\"}}");
                let req = format!(
                    "POST /api/v1/jails/sshd/bans HTTP/1.1\r\nAuthorization: Bearer load-test-token\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let mut s = TcpStream::connect(addr).expect("connect");
                s.write_all(req.as_bytes()).expect("send");
                s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
                let mut reply = String::new();
                let _ = s.read_to_string(&mut reply);
                (ip, reply)
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
    assert!(
        other.is_empty(),
        "every answer is a 201 or a clear 503: {:?}",
        &other[..other.len().min(3)]
    );
    eprintln!(
        "1000 concurrent bans: {} acknowledged, {refused} refused with 503",
        acknowledged.len()
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
}
