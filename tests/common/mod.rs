//! Test harness: a real, private fail2ban-server (Debian's package, unpacked into
//! target/fail2ban by build/fetch-fail2ban) with its own socket, config and logs, jails that use
//! a no-op action (nothing on the machine is ever blocked), failures made by appending lines to
//! the jails' logs. Each instance lives in its own directory; tests run in parallel.

#![allow(dead_code)]

pub mod banwatch;
pub mod fake;
pub mod prometheus;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

/// Where build/fetch-fail2ban unpacks Debian's package.
fn package_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fail2ban");
    if !root.join("usr/bin/fail2ban-server").exists() {
        panic!(
            "fail2ban is not unpacked in {}: run build/fetch-fail2ban (build/test does it)",
            root.display()
        );
    }
    root
}

/// Per-jail settings.
#[derive(Clone, Debug)]
pub struct JailOpts {
    pub bantime: i64,
    pub maxretry: u32,
}

impl Default for JailOpts {
    fn default() -> Self {
        JailOpts {
            bantime: 600,
            maxretry: 3,
        }
    }
}

pub struct Fail2ban {
    pub dir: PathBuf,
    socket: PathBuf,
    jails: Vec<(String, JailOpts)>,
    child: Option<Child>,
}

impl Fail2ban {
    /// Start a private fail2ban-server with these jails (bantime 600, maxretry 3) and wait until
    /// every jail is configured.
    pub fn start(jails: &[&str]) -> Fail2ban {
        Fail2ban::start_with(
            &jails
                .iter()
                .map(|j| (*j, JailOpts::default()))
                .collect::<Vec<_>>(),
        )
    }

    pub fn start_with(jails: &[(&str, JailOpts)]) -> Fail2ban {
        let n = INSTANCES.fetch_add(1, Ordering::SeqCst);
        // Short: a unix socket path must fit in 108 bytes.
        let dir = std::env::temp_dir().join(format!("bwf2b-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for sub in ["conf/filter.d", "conf/action.d", "logs", "run"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let mut f2b = Fail2ban {
            socket: dir.join("run/f2b.sock"),
            dir,
            jails: jails
                .iter()
                .map(|(n, o)| (n.to_string(), o.clone()))
                .collect(),
            child: None,
        };
        f2b.write_config();
        f2b.spawn();
        f2b
    }

    fn write_config(&self) {
        let d = &self.dir;
        fs::write(
            d.join("conf/fail2ban.conf"),
            format!(
                "[Definition]\nloglevel = INFO\nlogtarget = {log}\nsocket = {sock}\npidfile = {pid}\ndbfile = :memory:\n",
                log = d.join("fail2ban.log").display(),
                sock = self.socket.display(),
                pid = d.join("run/f2b.pid").display()
            ),
        )
        .unwrap();
        fs::write(
            d.join("conf/filter.d/test.conf"),
            "[Definition]\nfailregex = ^\\s*auth failure from <HOST>\\s*$\ndatepattern = {NONE}\n",
        )
        .unwrap();
        fs::write(
            d.join("conf/action.d/noop.conf"),
            "[Definition]\nactionstart =\nactionstop =\nactioncheck =\nactionban =\nactionunban =\n",
        )
        .unwrap();
        let mut jail_conf =
            String::from("[DEFAULT]\nbackend = polling\nusedns = no\nfindtime = 600\nfilter = test\naction = noop\n");
        for (name, opts) in &self.jails {
            let log = self.log_path(name);
            fs::File::create(&log).unwrap();
            jail_conf.push_str(&format!(
                "\n[{name}]\nenabled = true\nlogpath = {}\nbantime = {}\nmaxretry = {}\n",
                log.display(),
                opts.bantime,
                opts.maxretry
            ));
        }
        fs::write(d.join("conf/jail.conf"), jail_conf).unwrap();
    }

    fn log_path(&self, jail: &str) -> PathBuf {
        // Jail names may hold characters unfit for file names: number the logs instead.
        let i = self
            .jails
            .iter()
            .position(|(n, _)| n == jail)
            .unwrap_or_else(|| panic!("no jail {jail}"));
        self.dir.join(format!("logs/jail{i}.log"))
    }

    fn spawn(&mut self) {
        let root = package_root();
        let out = fs::File::create(self.dir.join("fail2ban.out")).unwrap();
        let child = Command::new("python3")
            .env("PYTHONPATH", root.join("usr/lib/python3/dist-packages"))
            .arg(root.join("usr/bin/fail2ban-server"))
            .args(["-f", "-x", "-c"])
            .arg(self.dir.join("conf"))
            .arg("-s")
            .arg(&self.socket)
            .arg("-p")
            .arg(self.dir.join("run/f2b.pid"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("python3 is needed to run fail2ban-server");
        self.child = Some(child);
        self.wait_ready();
    }

    /// Until `status` lists every jail (the package's own client, independent of banwatch).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.socket.exists() {
                let out = self.client_raw(&["status"]);
                if self.jails.iter().all(|(n, _)| out.contains(n.as_str())) {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("fail2ban-server exited with {status}:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "fail2ban-server did not configure its jails within 20 s:\n{}",
            self.logs()
        );
    }

    fn logs(&self) -> String {
        let read = |f: &str| fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        let log = read("fail2ban.log");
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        format!(
            "{}\n{}",
            read("fail2ban.out"),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Append `times` failure lines for `ip` to the jail's log.
    pub fn fail(&self, jail: &str, ip: &str, times: usize) {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(self.log_path(jail))
            .unwrap();
        for _ in 0..times {
            writeln!(f, "auth failure from {ip}").unwrap();
        }
    }

    /// Fail `maxretry` times and wait (bounded) until fail2ban has banned the IP.
    pub fn ban_by_failures(&self, jail: &str, ip: &str) {
        let maxretry = self
            .jails
            .iter()
            .find(|(n, _)| n == jail)
            .map(|(_, o)| o.maxretry)
            .unwrap_or(3);
        self.fail(jail, ip, maxretry as usize);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.client(&["status", jail]).contains(ip) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "fail2ban did not ban {ip} in {jail} within 15 s:\n{}",
            self.logs()
        );
    }

    fn client_raw(&self, args: &[&str]) -> String {
        let root = package_root();
        let out = Command::new("python3")
            .env("PYTHONPATH", root.join("usr/lib/python3/dist-packages"))
            .arg(root.join("usr/bin/fail2ban-client"))
            .arg("-c")
            .arg(self.dir.join("conf"))
            .arg("-s")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run fail2ban-client");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    /// The package's own fail2ban-client, for assertions that do not trust banwatch.
    pub fn client(&self, args: &[&str]) -> String {
        self.client_raw(args)
    }

    /// SIGTERM and wait until the process is gone and its socket removed.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_file(&self.socket);
    }

    /// Start again on the same socket path and config (a new socket file, as after a restart).
    pub fn start_again(&mut self) {
        self.stop();
        self.spawn();
    }

    /// SIGKILL: the socket file stays behind, stale (ECONNREFUSED).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Fail2ban {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Tests are over: no need for a graceful stop.
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
