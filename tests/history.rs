//! `/api/v1/history` against a real fail2ban: bans and failures made through fail2ban's own log
//! lines appear in the buckets, a fail2ban restart (counters back to zero) counts as a reset and
//! not as a negative or huge jump, and the endpoint keeps the API's rules (bad range 400, HEAD,
//! `--protect-reads`).

mod common;

use std::time::Duration;

use common::banwatch::{curl, Banwatch};
use common::Fail2ban;
use serde_json::Value;

/// Sum of a jail's non-null buckets, and whether any bucket is non-null.
fn sum(v: &Value, jail: &str, key: &str) -> (u64, bool) {
    let arr = v["jails"][jail][key]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let covered = arr.iter().any(|b| !b.is_null());
    (arr.iter().filter_map(Value::as_u64).sum(), covered)
}

fn history(bw: &Banwatch, query: &str) -> Value {
    let (code, v) = bw.json(&format!("/api/v1/history{query}"));
    assert_eq!(code, 200, "{v}");
    v
}

fn wait_history(bw: &Banwatch, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = history(bw, "");
        if pred(&v) {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "history: {what} not seen within 20 s; last: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn history_counts_bans_and_failures_and_reads_a_restart_as_a_reset() {
    let mut f2b = Fail2ban::start(&["sshd", "nginx"]);
    let bw = Banwatch::start(f2b.socket(), &["--interval", "1", "--timeout", "2"]);
    // The first probe is the baseline; only what happens after it is counted.
    wait_history(&bw, "a covered bucket", |v| sum(v, "sshd", "bans").1);

    f2b.ban_by_failures("sshd", "203.0.113.7");
    let v = wait_history(&bw, "1 ban and 3 failures in sshd", |v| {
        sum(v, "sshd", "bans").0 == 1 && sum(v, "sshd", "failures").0 == 3
    });
    assert_eq!(v["range"], "24h");
    assert_eq!(v["bucket_seconds"], 300);
    let start = v["start"].as_str().unwrap();
    assert!(
        start.ends_with(":00Z") && start[14..16].parse::<u32>().unwrap() % 5 == 0,
        "start is a 5-minute boundary: {start}"
    );
    for jail in ["sshd", "nginx"] {
        for key in ["bans", "failures"] {
            assert_eq!(v["jails"][jail][key].as_array().unwrap().len(), 288);
        }
    }
    assert_eq!(sum(&v, "nginx", "bans"), (0, true));
    // The newest bucket is the one now is in: probed, so not null.
    assert!(!v["jails"]["sshd"]["bans"][287].is_null(), "{v}");

    // fail2ban restarts: its totals start again from zero. One more ban after that is one more,
    // not a drop of one and not a jump of the old total.
    // The logs are emptied so the new fail2ban does not read the old failures again.
    for i in 0..2 {
        std::fs::write(f2b.dir.join(format!("logs/jail{i}.log")), "").unwrap();
    }
    f2b.start_again();
    // A probe of the restarted fail2ban (totals 0) is in before the next ban.
    bw.wait_for("/api/v1/jails", Duration::from_secs(15), |c, b| {
        let v: Value = serde_json::from_str(b).unwrap_or_default();
        let items = v["items"].as_array().cloned().unwrap_or_default();
        c == 200
            && items
                .iter()
                .any(|j| j["name"] == "sshd" && j["total_failed"] == 0)
    });
    f2b.ban_by_failures("sshd", "203.0.113.8");
    wait_history(&bw, "2 bans and 6 failures after the restart", |v| {
        sum(v, "sshd", "bans").0 == 2 && sum(v, "sshd", "failures").0 == 6
    });

    let week = history(&bw, "?range=7d");
    assert_eq!(week["bucket_seconds"], 3600);
    assert!(
        week["start"].as_str().unwrap().ends_with(":00:00Z"),
        "{week}"
    );
    assert_eq!(week["jails"]["sshd"]["bans"].as_array().unwrap().len(), 168);
    assert_eq!(sum(&week, "sshd", "bans").0, 2);
}

#[test]
fn history_refuses_bad_ranges_answers_head_and_honours_protect_reads() {
    let f2b = Fail2ban::start(&["sshd"]);
    let token = common::banwatch::token_file("history", "s3cret-token", 0o600);
    let bw = Banwatch::start(
        f2b.socket(),
        &[
            "--interval",
            "1",
            "--token-file",
            token.to_str().unwrap(),
            "--protect-reads",
        ],
    );
    let url = bw.url("/api/v1/history");
    let auth = "Authorization: Bearer s3cret-token";

    let (code, body) = curl(&["-s", &url]);
    assert_eq!(code, 401, "{body}");
    let (code, body) = curl(&["-s", "-H", auth, &url]);
    assert_eq!(code, 200, "{body}");
    assert!(body.starts_with("{\"range\":\"24h\",\"bucket_seconds\":300,\"start\":\""));

    let (code, body) = curl(&["-s", "-H", auth, &format!("{url}?range=1y")]);
    assert_eq!(code, 400);
    assert_eq!(body, "{\"error\":\"range must be 24h or 7d, not '1y'\"}\n");

    let (code, head) = curl(&["-s", "-I", "-H", auth, &format!("{url}?range=7d")]);
    assert_eq!(code, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let (code, _) = curl(&["-s", "-X", "POST", "-H", auth, &url]);
    assert_eq!(code, 405);
}

#[test]
fn a_state_file_keeps_the_history_across_a_restart_and_a_damaged_one_is_reported_and_ignored() {
    let f2b = Fail2ban::start(&["sshd"]);
    let dir = std::env::temp_dir().join(format!("bw-history-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("history");
    let args = ["--interval", "1", "--state-file", state.to_str().unwrap()];

    let mut bw = Banwatch::start(f2b.socket(), &args);
    wait_history(&bw, "a covered bucket", |v| sum(v, "sshd", "bans").1);
    f2b.ban_by_failures("sshd", "203.0.113.7");
    wait_history(&bw, "1 ban", |v| sum(v, "sshd", "bans").0 == 1);
    assert_eq!(bw.stop(), Some(0));
    assert!(state.exists(), "SIGTERM saves the history");

    // Restarted: the ban is still in the history at once, and is not counted twice once the
    // first probe compares fail2ban's totals with the saved ones.
    let bw = Banwatch::start(f2b.socket(), &args);
    let v = history(&bw, "");
    assert_eq!(sum(&v, "sshd", "bans").0, 1, "{v}");
    assert_eq!(sum(&v, "sshd", "failures").0, 3, "{v}");
    std::thread::sleep(Duration::from_millis(2500));
    let v = history(&bw, "");
    assert_eq!(sum(&v, "sshd", "bans").0, 1, "{v}");
    drop(bw);

    // A damaged file: reported on stderr, ignored, and banwatch serves (then saves a good one).
    std::fs::write(&state, b"BWHIST1\n this is not what banwatch wrote").unwrap();
    let stderr_path = dir.join("stderr");
    let port = common::banwatch::free_port();
    let mut child = std::process::Command::new(common::banwatch::BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--socket",
        ])
        .arg(f2b.socket())
        .args(args)
        .env("RUST_LOG", "warn")
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/v1/history");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (code, body) = curl(&["-s", &url]);
        if code == 200 && body.contains("\"sshd\"") {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no history: {code} {body}"
        );
        assert!(child.try_wait().unwrap().is_none(), "banwatch exited");
        std::thread::sleep(Duration::from_millis(100));
    };
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(sum(&v, "sshd", "bans").0, 0, "a fresh history: {v}");
    let said = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(
        said.contains(&format!(
            "ignoring the saved history in {}: its checksum does not match",
            state.display()
        )),
        "{said}"
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    assert!(std::fs::read(&state).unwrap().starts_with(b"BWHIST1\n"));
    let _ = std::fs::remove_dir_all(&dir);
}
