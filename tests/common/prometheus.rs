//! A real Prometheus server (Debian's `prometheus` package, which build/test installs) in a
//! scratch directory, and its HTTP query API, for the metrics and fleet tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::banwatch::{curl, free_port};

/// The path of a tool from the `prometheus` package.
pub fn tool(name: &str) -> String {
    let p = format!("/usr/bin/{name}");
    if !Path::new(&p).exists() {
        panic!("{p} is missing: apt-get install prometheus (build/test installs it)");
    }
    p
}

/// A fresh directory under cargo's scratch space for test binaries.
pub fn scratch(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Prometheus {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Prometheus {
    /// Start Prometheus in `dir` (which holds whatever the config refers to) with `config` as its
    /// `prometheus.yml`. The directory is removed when the server is dropped.
    pub fn start(dir: PathBuf, config: &str) -> Prometheus {
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let child = Command::new(tool("prometheus"))
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("start prometheus");
        Prometheus { child, port, dir }
    }

    /// An instant query's results, polled until `want` holds them (bounded).
    pub fn query(&self, q: &str, within: Duration, want: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let url = format!("http://127.0.0.1:{}/api/v1/query", self.port);
        let mut last = String::new();
        while Instant::now() < deadline {
            let (code, body) = curl(&["-s", "--data-urlencode", &format!("query={q}"), &url]);
            if code == 200 {
                let v: Value = serde_json::from_str(&body).unwrap();
                let results = v["data"]["result"].as_array().cloned().unwrap_or_default();
                if want(&results) {
                    return results;
                }
                last = body;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(10).collect();
        panic!("prometheus query {q}: no wanted answer within {within:?}; last: {last}\n{tail:?}");
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
