//! Runs the real banwatch binary for black-box tests, and talks to it with real clients: curl
//! for ordinary requests, a raw TCP socket where the exact bytes matter (pipelining, malformed
//! input).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_banwatch");

pub struct Banwatch {
    pub child: Child,
    pub addr: SocketAddr,
    /// banwatch's stderr: read by tests that expect a line, shown when a test fails.
    log_path: PathBuf,
}

/// A free loopback port (bound then released; a tiny race that tests can live with).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free port")
}

impl Banwatch {
    /// Start `banwatch serve` on a free port against `socket`, with extra flags, and wait until
    /// `/livez` answers.
    pub fn start(socket: &Path, extra: &[&str]) -> Banwatch {
        Banwatch::start_env(socket, extra, &[])
    }

    pub fn start_env(socket: &Path, extra: &[&str], env: &[(&str, &str)]) -> Banwatch {
        Banwatch::start_bin(Path::new(BIN), socket, extra, env)
    }

    /// Start a given banwatch binary (e.g. the release build, for measurements of the product).
    pub fn start_bin(bin: &Path, socket: &Path, extra: &[&str], env: &[(&str, &str)]) -> Banwatch {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--socket")
            .arg(socket);
        cmd.args(extra).envs(env.iter().copied());
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "warn");
        }
        let log_path = std::env::temp_dir().join(format!(
            "banwatch-{}-{}.log",
            std::process::id(),
            addr.port()
        ));
        let log = std::fs::File::create(&log_path).expect("create banwatch's log file");
        let child = cmd
            .stdin(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn banwatch");
        let mut bw = Banwatch {
            child,
            addr,
            log_path,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = bw.child.try_wait() {
                panic!("banwatch exited at start with {status}:\n{}", bw.log());
            }
            if TcpStream::connect(addr).is_ok() {
                return bw;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("banwatch did not listen on {addr} within 10 s");
    }

    /// What banwatch wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// GET with curl: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        curl(&["-s", &self.url(path)])
    }

    /// curl with arbitrary arguments plus `-w` status; returns (status, body).
    pub fn curl(&self, args: &[&str]) -> (u16, String) {
        curl(args)
    }

    /// GET returning parsed JSON.
    pub fn json(&self, path: &str) -> (u16, serde_json::Value) {
        let (code, body) = self.get(path);
        let v = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"));
        (code, v)
    }

    /// Poll `path` until `pred(status, body)` holds, or panic after `within`.
    pub fn wait_for(
        &self,
        path: &str,
        within: Duration,
        pred: impl Fn(u16, &str) -> bool,
    ) -> (u16, String) {
        let deadline = Instant::now() + within;
        loop {
            let (code, body) = self.get(path);
            if pred(code, &body) {
                return (code, body);
            }
            if Instant::now() > deadline {
                panic!("GET {path}: condition not met within {within:?}; last: {code} {body}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Send raw bytes, read until the server closes or `read_for` passes.
    pub fn raw(&self, bytes: &[u8], read_for: Duration) -> String {
        raw_exchange(self.addr, bytes, read_for)
    }

    /// Number of threads of the process (`/proc/PID/task` entries).
    pub fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// A field of /proc/PID/status, e.g. "voluntary_ctxt_switches" or "VmRSS" (in kB).
    pub fn proc_status(&self, field: &str) -> u64 {
        let text =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{}/status", self.pid()))
    }

    /// SIGTERM and wait (bounded); returns the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("banwatch did not stop within 5 s of SIGTERM");
    }
}

impl Drop for Banwatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("banwatch's log ({}):\n{}", self.addr, self.log());
        }
        let _ = std::fs::remove_file(&self.log_path);
    }
}

pub fn raw_exchange(addr: SocketAddr, bytes: &[u8], read_for: Duration) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(bytes).expect("write");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + read_for;
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Run curl; the last line of its output is the status code (`-w`).
pub fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["--max-time", "15", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl is needed for the tests: apt-get install curl (build/test does it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// Run `banwatch` with arguments (for `query`, `check`).
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run banwatch")
}

/// A bearer-token file holding `token` (and a newline) with permissions `mode`, in a directory
/// of this test binary's own.
pub fn token_file(name: &str, token: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tokens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}
