//! Fault injection. With a real fail2ban: killed with -9 (stale socket), restarted, its socket
//! path taken over by another server, permission denied. With the fake socket, for what the real
//! server cannot do on demand: garbage, a truncated reply then EOF, a reply over the limit, one
//! byte per second. For every fault: /health turns 503 with the reason within timeout +
//! interval, /livez and cached reads keep answering, banwatch recovers by itself once fail2ban
//! is healthy, and no thread, file descriptor or memory is left behind.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::banwatch::Banwatch;
use common::fake::{FakeFail2ban, Fault};
use common::Fail2ban;

const INTERVAL: &str = "1";
const TIMEOUT: &str = "1";
/// timeout + interval, plus slack for a loaded CI machine.
const DETECT_WITHIN: Duration = Duration::from_secs(5);

fn open_fds(bw: &Banwatch) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", bw.pid()))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The fd count once the test's own HTTP connections have been closed on the server's side too
/// (a connection curl just closed may still be open there for a moment).
fn settled_fds(bw: &Banwatch) -> usize {
    let mut last = open_fds(bw);
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(100));
        let now = open_fds(bw);
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// The checks every fault shares: 503 with `reason` in time, livez and cached reads meanwhile.
fn expect_fault(bw: &Banwatch, reason: &str) {
    let t = Instant::now();
    let (_, body) = bw.wait_for("/health", DETECT_WITHIN, |c, b| {
        c == 503 && b.contains(reason)
    });
    assert!(body.contains("\"offline\""), "{body}");
    eprintln!("fault '{reason}' reported after {:?}", t.elapsed());
    let log = bw.log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("fail2ban went offline")),
        "the transition is logged once as a warning: {log}"
    );
    for _ in 0..3 {
        let t = Instant::now();
        let reply = bw.raw(
            b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(2),
        );
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "/livez took {:?} during '{reason}'",
            t.elapsed()
        );
    }
    let (code, jails) = bw.get("/api/v1/jails");
    assert_eq!(code, 200, "cached reads keep answering: {jails}");
    assert!(
        jails.contains("sshd"),
        "the last known jails are still served: {jails}"
    );
    assert_eq!(bw.threads(), 1);
}

fn expect_recovery(bw: &Banwatch) {
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);
    assert_eq!(bw.threads(), 1);
}

#[test]
fn killed_restarted_and_replaced_real_fail2ban() {
    let mut f2b = Fail2ban::start(&["sshd"]);
    let bw = Banwatch::start(
        f2b.socket(),
        &["--interval", INTERVAL, "--timeout", TIMEOUT],
    );
    expect_recovery(&bw);
    let fds = settled_fds(&bw);
    let rss = bw.proc_status("VmRSS");

    for round in 0..3 {
        // kill -9: the socket file stays, nobody listens: ECONNREFUSED.
        f2b.kill9();
        assert!(f2b.socket().exists(), "a stale socket is left behind");
        expect_fault(&bw, "connection refused");
        f2b.start_again();
        expect_recovery(&bw);

        // A graceful restart, with a new socket file at the same path.
        f2b.start_again();
        expect_recovery(&bw);

        // The path taken over by something that is not fail2ban, then fail2ban again.
        f2b.stop();
        let fake = FakeFail2ban::start(f2b.socket(), Fault::Garbage);
        expect_fault(&bw, "garbage reply");
        drop(fake);
        f2b.start_again();
        expect_recovery(&bw);
        eprintln!(
            "round {round}: fds {} (start {fds}), RSS {} kB (start {rss} kB)",
            open_fds(&bw),
            bw.proc_status("VmRSS")
        );
    }
    let after = settled_fds(&bw);
    assert!(after <= fds, "file descriptors grew from {fds} to {after}");
    let rss_after = bw.proc_status("VmRSS");
    assert!(
        rss_after <= rss + 512,
        "RSS grew from {rss} kB to {rss_after} kB"
    );
}

#[test]
fn permission_denied_names_the_fix_and_recovers_when_access_is_granted() {
    use std::os::unix::fs::PermissionsExt;
    if !rustix::process::geteuid().is_root() {
        panic!("this test runs banwatch as `nobody` against a root-owned socket: run the tests as root (CI does)");
    }
    let f2b = Fail2ban::start(&["sshd"]);
    // Let `nobody` reach the socket's directory and the binary, so that only the socket's own
    // mode (0700, root) stands in the way.
    let mut d = f2b.socket().parent();
    while let Some(p) = d {
        let mode = std::fs::metadata(p).unwrap().permissions().mode();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode | 0o011)).ok();
        d = p.parent();
    }
    let dir = std::env::temp_dir().join(format!("bw-perm-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.join("banwatch");
    std::fs::copy(common::banwatch::BIN, &bin).unwrap();
    let port = common::banwatch::free_port();
    let mut child = std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(&bin)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--interval",
            "1",
            "--socket",
        ])
        .arg(f2b.socket())
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("setpriv (util-linux)");
    let url = format!("http://127.0.0.1:{port}/health");
    let wait = |want: u16, needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (code, body) = common::banwatch::curl(&["-s", &url]);
            if code == want && body.contains(needle) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "wanted {want} with {needle:?}, last {code} {body}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let body = wait(503, "permission denied");
    assert!(
        body.contains("run banwatch as root or as the socket's owner"),
        "{body}"
    );
    // Grant access: banwatch gets in on its next probe, without a restart.
    std::fs::set_permissions(f2b.socket(), std::fs::Permissions::from_mode(0o777)).unwrap();
    wait(200, "\"online\"");
    let _ = child.kill();
    let _ = child.wait();
}

/// A real fail2ban first (so there is cached state), then the fake at its path, then the real one.
fn fake_fault(fault: Fault, reason: &str, extra: &[&str]) {
    let mut f2b = Fail2ban::start(&["sshd"]);
    let mut args = vec!["--interval", INTERVAL, "--timeout", TIMEOUT];
    args.extend_from_slice(extra);
    let bw = Banwatch::start(f2b.socket(), &args);
    expect_recovery(&bw);
    let fds = settled_fds(&bw);
    f2b.stop();
    let fake = FakeFail2ban::start(f2b.socket(), fault);
    expect_fault(&bw, reason);
    drop(fake);
    f2b.start_again();
    expect_recovery(&bw);
    // The fake's connection is gone once the real server answers on a new one.
    let after = settled_fds(&bw);
    assert!(
        after <= fds,
        "file descriptors grew from {fds} to {after} after '{reason}'"
    );
}

#[test]
fn a_garbage_reply() {
    fake_fault(Fault::Garbage, "garbage reply", &[]);
}

#[test]
fn a_truncated_reply_then_eof() {
    fake_fault(Fault::TruncatedThenEof, "closed the connection", &[]);
}

#[test]
fn a_reply_larger_than_the_limit() {
    fake_fault(
        Fault::Oversized(100_000),
        "exceeded the 4096-byte limit",
        &["--max-reply-bytes", "4096"],
    );
}

#[test]
fn a_server_that_answers_one_byte_per_second() {
    fake_fault(Fault::Slow, "did not answer", &[]);
}

#[test]
fn a_missing_socket_dir_is_waited_for() {
    let f2b = Fail2ban::start(&["sshd"]);
    let dir = std::env::temp_dir().join(format!("bw-late-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bw = Banwatch::start(&dir.join("f2b.sock"), &["--interval", INTERVAL]);
    bw.wait_for("/health", DETECT_WITHIN, |c, b| {
        c == 503 && b.contains("no fail2ban socket")
    });
    assert!(!Path::new(&dir).exists(), "banwatch does not create it");
    assert_eq!(bw.get("/livez").0, 200);
    // The directory appears, with the (real) server's socket in it: banwatch finds it.
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::symlink(f2b.socket(), dir.join("f2b.sock")).unwrap();
    expect_recovery(&bw);
    let _ = std::fs::remove_dir_all(&dir);
}
