//! The sidecar, black-box: the real banwatch binary against a real fail2ban-server (or, for a
//! hung server only, the fake socket), driven by curl and raw sockets.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::banwatch::{run, Banwatch};
use common::fake::{FakeFail2ban, Fault};
use common::Fail2ban;

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn health_follows_fail2ban_down_and_back_without_restarting_banwatch() {
    let mut f2b = Fail2ban::start(&["sshd", "nginx"]);
    let bw = Banwatch::start(f2b.socket(), &["--interval", "1", "--timeout", "1"]);

    let (_, body) = bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "pass");
    assert_eq!(v["fail2ban"], "online");
    assert_eq!(v["jails"], 2);
    assert!(
        v["version"]
            .as_str()
            .is_some_and(|s| s.starts_with(|c: char| c.is_ascii_digit())),
        "{v}"
    );
    assert!(
        v["checked_at"].as_str().is_some_and(|s| s.ends_with('Z')),
        "{v}"
    );

    let (_, head) = bw.curl(&["-s", "-o", "/dev/null", "-D", "-", &bw.url("/health")]);
    assert_eq!(
        header(&head, "content-type"),
        Some("application/health+json"),
        "{head}"
    );
    assert_eq!(header(&head, "cache-control"), Some("no-store"), "{head}");
    let (code, head_only) = bw.curl(&["-s", "-I", &bw.url("/health")]);
    assert_eq!(code, 200);
    assert!(
        header(&head_only, "content-length").is_some(),
        "HEAD keeps Content-Length: {head_only}"
    );

    f2b.stop();
    let stopped = Instant::now();
    let (_, body) = bw.wait_for("/health", Duration::from_secs(5), |c, _| c == 503);
    // interval + timeout = 2 s, plus slack for a loaded machine.
    assert!(
        stopped.elapsed() < Duration::from_secs(4),
        "503 took {:?}",
        stopped.elapsed()
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "fail");
    assert_eq!(v["fail2ban"], "offline");
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains(&f2b.socket().display().to_string()),
        "names the socket: {error}"
    );
    assert!(
        error.contains("is fail2ban running"),
        "names the fix: {error}"
    );
    assert!(v["since"].as_str().is_some());

    f2b.start_again();
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);
    let (_, status) = bw.json("/api/v1/status");
    let kinds: Vec<&str> = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["online", "offline", "online"],
        "events newest first: {status}"
    );
}

#[test]
fn a_missing_socket_is_not_fatal_and_health_says_why() {
    let dir = std::env::temp_dir().join(format!("bw-missing-{}", std::process::id()));
    let bw = Banwatch::start(&dir.join("nope.sock"), &["--interval", "1"]);
    let (_, body) = bw.wait_for("/health", Duration::from_secs(5), |c, b| {
        c == 503 && b.contains("offline")
    });
    assert!(
        body.contains("no fail2ban socket at") && body.contains("nope.sock"),
        "{body}"
    );
    assert_eq!(bw.get("/livez").0, 200);
}

#[test]
fn a_hung_fail2ban_gives_503_with_a_timeout_reason_while_livez_stays_fast() {
    let dir = std::env::temp_dir().join(format!("bw-hang-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = FakeFail2ban::start(&dir.join("f2b.sock"), Fault::Hang);
    let bw = Banwatch::start(&fake.path, &["--interval", "1", "--timeout", "1"]);
    let (code, body) = bw.get("/health");
    assert_eq!(code, 503);
    assert!(
        body.contains("\"unknown\""),
        "before the first probe ends: {body}"
    );

    let (_, body) = bw.wait_for("/health", Duration::from_secs(4), |c, b| {
        c == 503 && b.contains("offline")
    });
    assert!(body.contains("did not answer"), "{body}");
    for _ in 0..5 {
        let t = Instant::now();
        let reply = bw.raw(
            b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(2),
        );
        let took = t.elapsed();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(
            took < Duration::from_millis(100),
            "/livez took {took:?} while fail2ban hangs"
        );
    }
}

#[test]
fn a_request_queued_behind_a_hung_fail2ban_gets_its_504_at_timeout_after_it_arrived() {
    let dir = std::env::temp_dir().join(format!("bw-queue-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = FakeFail2ban::start(&dir.join("f2b.sock"), Fault::Hang);
    let timeout = Duration::from_secs(2);
    let bw = Banwatch::start(&fake.path, &["--interval", "60", "--timeout", "2"]);
    // While the first probe hangs (health still unknown), four lookups of different IPs queue
    // behind it, each with its own command: without a deadline of their own the last would
    // wait 5 x --timeout.
    let addr = bw.addr;
    let clients: Vec<_> = (1..=4)
        .map(|i| {
            std::thread::spawn(move || {
                let t = Instant::now();
                let req = format!(
                    "GET /api/v1/bans/192.0.2.{i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                );
                let reply =
                    common::banwatch::raw_exchange(addr, req.as_bytes(), Duration::from_secs(15));
                (t.elapsed(), reply)
            })
        })
        .collect();
    let mut answered = Vec::new();
    for c in clients {
        let (took, reply) = c.join().unwrap();
        answered.push(took);
        assert!(reply.starts_with("HTTP/1.1 504 "), "{reply}");
        assert!(
            took >= timeout - Duration::from_millis(100)
                && took < timeout + Duration::from_millis(1500),
            "504 after {took:?}, not --timeout after the request arrived"
        );
        assert!(reply.contains("did not answer within 2 s"), "{reply}");
    }
    eprintln!("504s of 4 queued requests after {answered:?}");
    // fail2ban (the fake) still hangs; /livez is unaffected.
    assert_eq!(bw.get("/livez").0, 200);
}

#[test]
fn keep_alive_http10_and_pipelining() {
    let f2b = Fail2ban::start(&["sshd"]);
    let bw = Banwatch::start(f2b.socket(), &[]);
    // curl reuses one connection for both transfers: the second makes no new connect.
    let (_, out) = bw.curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        "%{num_connects}\n",
        &bw.url("/livez"),
        &bw.url("/livez"),
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["1", "0"],
        "{out}"
    );

    // HTTP/1.0 without keep-alive: answered, then closed by the server.
    let reply = bw.raw(b"GET /livez HTTP/1.0\r\n\r\n", Duration::from_secs(3));
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(
        reply.contains("Connection: close\r\n") && reply.ends_with("{\"status\":\"pass\"}\n"),
        "{reply}"
    );
    // HTTP/1.0 with keep-alive: the server says so and keeps the connection.
    let reply = bw.raw(
        b"GET /livez HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        Duration::from_millis(600),
    );
    assert!(reply.contains("Connection: keep-alive\r\n"), "{reply}");

    // Three pipelined requests in one write, answered in order.
    let reply = bw.raw(
        b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\nHEAD /livez HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(3),
    );
    let statuses: Vec<&str> = reply
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &reply[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "200", "404"], "{reply}");
    assert_eq!(
        reply.matches("{\"status\":\"pass\"}").count(),
        1,
        "HEAD has no body: {reply}"
    );
    assert!(reply.contains("Date: "), "{reply}");
}

#[test]
fn malformed_requests_get_400_and_oversized_headers_431() {
    let bw = Banwatch::start(std::path::Path::new("/nonexistent/f2b.sock"), &[]);
    let reply = bw.raw(b"GARBAGE\r\n\r\n", Duration::from_secs(2));
    assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
    assert!(reply.contains("Connection: close"), "{reply}");
    let big = format!(
        "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(9000)
    );
    let reply = bw.raw(big.as_bytes(), Duration::from_secs(2));
    assert!(reply.starts_with("HTTP/1.1 431 "), "{reply}");
    let reply = bw.raw(
        b"DELETE /livez HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_millis(500),
    );
    assert!(
        reply.starts_with("HTTP/1.1 405 ") && reply.contains("Allow: GET, HEAD\r\n"),
        "{reply}"
    );
}

#[test]
fn a_hundred_idle_connections_do_not_stop_health() {
    let f2b = Fail2ban::start(&["sshd"]);
    let bw = Banwatch::start(f2b.socket(), &[]);
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);
    let idle: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(bw.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let (code, _) = bw.get("/health");
    assert_eq!(code, 200, "with {} idle connections open", idle.len());
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}

#[test]
fn check_exits_0_on_2xx_and_1_otherwise() {
    let f2b = Fail2ban::start(&["sshd"]);
    let bw = Banwatch::start(f2b.socket(), &[]);
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);
    let out = run(&["check", "--url", &bw.url("/health")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with("ok 200 ") && line.lines().count() == 1,
        "{line}"
    );
    // localhost is the one name check knows without a resolver.
    let by_name = bw.url("/health").replace("127.0.0.1", "localhost");
    let out = run(&["check", "--url", &by_name]);
    assert_eq!(out.status.code(), Some(0), "{by_name}: {out:?}");

    let down = Banwatch::start(std::path::Path::new("/nonexistent/f2b.sock"), &[]);
    let out = run(&["check", "--url", &down.url("/health")]);
    assert_eq!(out.status.code(), Some(1), "503 fails the check: {out:?}");
    let port = common::banwatch::free_port();
    let out = run(&[
        "check",
        "--url",
        &format!("http://127.0.0.1:{port}/health"),
        "--timeout",
        "2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "refused fails the check: {out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("fail "),
        "{out:?}"
    );
}

#[test]
fn exactly_one_thread_while_serving_under_load() {
    let f2b = Fail2ban::start(&["sshd", "nginx"]);
    let bw = Banwatch::start(f2b.socket(), &["--interval", "1"]);
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);
    let url = bw.url("/api/v1/jails");
    let load: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                for _ in 0..30 {
                    common::banwatch::curl(&["-s", &url, &url, &url]);
                }
            })
        })
        .collect();
    let mut samples = 0;
    while load.iter().any(|t| !t.is_finished()) {
        assert_eq!(bw.threads(), 1, "banwatch must have exactly one thread");
        samples += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(samples > 5, "sampled {samples} times");
    assert_eq!(bw.threads(), 1);
}

#[test]
fn idle_means_asleep_only_probe_wakeups() {
    let f2b = Fail2ban::start(&["sshd", "nginx"]);
    let bw = Banwatch::start(f2b.socket(), &["--interval", "5"]);
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);
    std::thread::sleep(Duration::from_secs(1)); // the first cycle's settings fetches finish
    let before = bw.proc_status("voluntary_ctxt_switches");
    std::thread::sleep(Duration::from_secs(10));
    let after = bw.proc_status("voluntary_ctxt_switches");
    // 10 s at --interval 5 is 2-3 probes. Each: the timer, the `status` reply, one reply per
    // jail: 4 wake-ups, doubled for replies that arrive in two reads. A busy loop would be
    // thousands.
    let allowed = 3 * (1 + 1 + 2) * 2;
    let woke = after - before;
    eprintln!("voluntary context switches over 10 s idle: {woke} (allowed {allowed})");
    assert!(woke <= allowed, "{woke} wake-ups in 10 s idle");
}

#[test]
fn sigterm_stops_cleanly_with_exit_0() {
    let mut bw = Banwatch::start(std::path::Path::new("/nonexistent/f2b.sock"), &[]);
    assert_eq!(bw.get("/livez").0, 200);
    assert_eq!(bw.stop(), Some(0));
}

#[test]
fn bad_flags_print_one_line_and_exit_2() {
    let out = run(&["--interval", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("'soon'"), "{err}");
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).lines().count() <= 30,
        "--help fits one screen"
    );
}

#[test]
fn a_port_in_use_is_a_clear_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&["serve", "--listen", &addr, "--socket", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use") && err.contains("--listen"), "{err}");
}

#[test]
fn tells_systemd_ready_and_pings_the_watchdog() {
    use std::os::unix::net::UnixDatagram;
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixDatagram::bind(&path).unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut bw = Banwatch::start_env(
        std::path::Path::new("/nonexistent/f2b.sock"),
        &[],
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let mut buf = [0u8; 128];
    let mut said = Vec::new();
    let t = Instant::now();
    while said
        .iter()
        .filter(|m: &&String| m.as_str() == "WATCHDOG=1")
        .count()
        < 2
        && t.elapsed() < Duration::from_secs(3)
    {
        if let Ok(n) = listener.recv(&mut buf) {
            said.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    assert!(said[0].starts_with("READY=1"), "{said:?}");
    assert!(
        said.iter().filter(|m| *m == "WATCHDOG=1").count() >= 2,
        "watchdog pings every WATCHDOG_USEC/2: {said:?}"
    );
    assert_eq!(bw.stop(), Some(0));
    let mut rest = Vec::new();
    while let Ok(n) = listener.recv(&mut buf) {
        rest.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(rest.iter().any(|m| m == "STOPPING=1"), "{rest:?}");
}
