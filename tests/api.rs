//! JSON API v1 against a real fail2ban: shapes and status codes, ban/unban with a token,
//! errors, coalescing of concurrent ban-list reads, and a jail with 10,000 bans.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::banwatch::{curl, run, Banwatch};
use common::Fail2ban;
use serde_json::{json, Value};

const TOKEN: &str = "s3cret-token-for-tests";

fn token_file(name: &str, mode: u32) -> PathBuf {
    common::banwatch::token_file(name, TOKEN, mode)
}

fn online(bw: &Banwatch) {
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);
}

fn auth() -> String {
    format!("Authorization: Bearer {TOKEN}")
}

fn post_ban(bw: &Banwatch, jail: &str, body: &str, headers: &[&str]) -> (u16, Value) {
    let url = bw.url(&format!("/api/v1/jails/{jail}/bans"));
    let mut args = vec![
        "-s",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
    ];
    for h in headers {
        args.extend_from_slice(&["-H", h]);
    }
    args.push(&url);
    let (code, body) = curl(&args);
    (
        code,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}")),
    )
}

fn query_status(f2b: &Fail2ban, jail: &str) -> String {
    let socket = f2b.socket().display().to_string();
    String::from_utf8(run(&["query", "--socket", &socket, "status", jail]).stdout).unwrap()
}

#[test]
fn read_endpoints_have_the_documented_shapes() {
    let f2b = Fail2ban::start(&["sshd", "nginx"]);
    f2b.ban_by_failures("sshd", "203.0.113.7");
    let bw = Banwatch::start(f2b.socket(), &["--interval", "1"]);
    online(&bw);
    bw.wait_for("/api/v1/jails", Duration::from_secs(5), |_, b| {
        b.contains("\"currently_banned\":1")
    });

    let (code, s) = bw.json("/api/v1/status");
    assert_eq!(code, 200);
    assert_eq!(s["fail2ban"]["state"], "online");
    assert_eq!(s["jails"], json!(["nginx", "sshd"]), "fail2ban's own order");
    assert_eq!(s["totals"]["currently_banned"], 1);
    assert!(
        s["events"].is_array() && s["pending_recovery"].is_null(),
        "{s}"
    );
    assert_eq!(s["banwatch"]["writes_enabled"], false);
    assert!(s["banwatch"]["uptime_s"].is_u64());

    let (code, j) = bw.json("/api/v1/jails");
    assert_eq!(code, 200);
    assert_eq!(
        j["pagination"],
        json!({"page": 1, "page_size": 50, "total": 2, "total_pages": 1})
    );
    assert_eq!(
        j["items"][1],
        json!({"name": "sshd", "currently_failed": 0, "total_failed": 3, "currently_banned": 1, "total_banned": 1})
    );
    let (_, p2) = bw.json("/api/v1/jails?page=2&page_size=1");
    assert_eq!(p2["items"][0]["name"], "sshd");
    assert_eq!(p2["pagination"]["total_pages"], 2);
    for bad in ["page=0", "page_size=501", "page_size=abc", "page=-1"] {
        let (code, body) = bw.json(&format!("/api/v1/jails?{bad}"));
        assert_eq!(code, 400, "{bad}: {body}");
        assert!(body["error"].as_str().is_some());
    }

    let detail = bw
        .wait_for("/api/v1/jails/sshd", Duration::from_secs(5), |_, b| {
            b.contains("\"maxretry\":3")
        })
        .1;
    let d: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(
        (d["bantime"].clone(), d["findtime"].clone()),
        (json!(600), json!(600))
    );
    assert!(
        std::path::Path::new(d["files"][0].as_str().unwrap()).starts_with(&f2b.dir),
        "the jail's log: {d}"
    );

    let (code, bans) = bw.json("/api/v1/jails/sshd/bans");
    assert_eq!(code, 200, "{bans}");
    let ban = &bans["items"][0];
    assert_eq!(ban["ip"], "203.0.113.7");
    assert_eq!(ban["ban_seconds"], 600);
    let (at, exp) = (
        ban["banned_at"].as_str().unwrap(),
        ban["expires_at"].as_str().unwrap(),
    );
    let parse = |s: &str| {
        let local = s.strip_suffix('Z').expect("UTC").replace('T', " ");
        banwatch::timefmt::parse_local(&local, 0).expect("RFC 3339")
    };
    assert_eq!(parse(exp) - parse(at), 600, "{ban}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let age = now - parse(at);
    assert!(
        (0..120).contains(&age),
        "banned_at is now-ish in UTC, not local time: {ban}"
    );

    let (code, b) = bw.json("/api/v1/bans/203.0.113.7");
    assert_eq!(
        (code, b),
        (200, json!({"ip": "203.0.113.7", "jails": ["sshd"]}))
    );
    let (code, b) = bw.json("/api/v1/bans/192.0.2.1");
    assert_eq!((code, b), (200, json!({"ip": "192.0.2.1", "jails": []})));

    assert_eq!(bw.json("/api/v1/jails/nosuch").0, 404);
    assert_eq!(bw.json("/api/v1/jails/nosuch/bans").0, 404);
    assert_eq!(bw.json("/api/v1/bans/not-an-ip").0, 400);
    assert_eq!(bw.json("/api/v1/nothing").0, 404);
}

/// A real fail2ban with one jail `sshd` and banwatch on it with writes enabled.
fn with_writes(token_name: &str) -> (Fail2ban, Banwatch) {
    let f2b = Fail2ban::start(&["sshd"]);
    let token = token_file(token_name, 0o600);
    let bw = Banwatch::start(f2b.socket(), &["--token-file", token.to_str().unwrap()]);
    online(&bw);
    (f2b, bw)
}

#[test]
fn ban_and_unban_through_the_api_reach_fail2ban() {
    let (f2b, bw) = with_writes("ok");
    let (code, v) = post_ban(&bw, "sshd", r#"{"ip":"203.0.113.5"}"#, &[&auth()]);
    assert_eq!(
        (code, v),
        (
            201,
            json!({"jail": "sshd", "ip": "203.0.113.5", "banned": true})
        )
    );
    assert!(query_status(&f2b, "sshd").contains("203.0.113.5"));
    let (code, v) = post_ban(&bw, "sshd", r#"{"ip":"203.0.113.5"}"#, &[&auth()]);
    assert_eq!(
        (code, v["banned"].clone()),
        (201, json!(false)),
        "already banned is fail2ban's own answer"
    );
    // The jail's counts refresh right after the write.
    bw.wait_for("/api/v1/jails/sshd", Duration::from_secs(2), |_, b| {
        b.contains("\"currently_banned\":1")
    });

    let url = bw.url("/api/v1/jails/sshd/bans/203.0.113.5");
    let (code, body) = curl(&["-s", "-X", "DELETE", "-H", &auth(), &url]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"jail": "sshd", "ip": "203.0.113.5", "unbanned": true})
    );
    assert!(!query_status(&f2b, "sshd").contains("203.0.113.5"));
    let (code, body) = curl(&["-s", "-X", "DELETE", "-H", &auth(), &url]);
    assert_eq!(
        (code, body.contains("\"unbanned\":false")),
        (200, true),
        "{body}"
    );

    let (_, s) = bw.json("/api/v1/status");
    assert_eq!(s["banwatch"]["writes_enabled"], true);
}

#[test]
fn write_errors_are_clear_and_change_nothing() {
    let (f2b, bw) = with_writes("ok2");
    let (code, v) = post_ban(&bw, "sshd", r#"{"ip":"203.0.113.6"}"#, &[]);
    assert_eq!(code, 401, "{v}");
    let (code, v) = post_ban(
        &bw,
        "sshd",
        r#"{"ip":"203.0.113.6"}"#,
        &["Authorization: Bearer wrong"],
    );
    assert_eq!(code, 401, "{v}");
    for bad in [
        "not-an-ip",
        "1.2.3.4; rm -rf /",
        "1.2.3.4<F2B_END_COMMAND>",
        "203.0.113.0/33",
    ] {
        let body = json!({ "ip": bad }).to_string();
        let (code, v) = post_ban(&bw, "sshd", &body, &[&auth()]);
        assert_eq!(code, 400, "{bad}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains("not an IPv4 or IPv6"),
            "{v}"
        );
    }
    let (code, v) = post_ban(&bw, "sshd", "not json", &[&auth()]);
    assert_eq!(code, 400, "{v}");
    let (code, v) = post_ban(&bw, "nosuch", r#"{"ip":"203.0.113.6"}"#, &[&auth()]);
    assert_eq!(code, 404, "{v}");
    let status = query_status(&f2b, "sshd");
    assert!(
        !status.contains("203.0.113.6") && !status.contains("not-an-ip"),
        "nothing reached fail2ban: {status}"
    );

    let (code, head) = headers(&bw, "PUT", "/api/v1/jails/sshd/bans", &[]);
    assert_eq!(code, 405);
    assert!(
        head.to_ascii_lowercase().contains("allow: get, head, post"),
        "{head}"
    );
    let (code, head) = headers(&bw, "POST", "/api/v1/jails/sshd/bans", &["-H", &auth()]);
    assert_eq!(code, 400, "{head}");
    let (code, head) = headers(&bw, "POST", "/api/v1/jails/sshd/bans", &["-d", "{}"]);
    assert_eq!(code, 401);
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{head}"
    );
}

/// (status, response headers) of a request made with curl.
fn headers(bw: &Banwatch, method: &str, path: &str, extra: &[&str]) -> (u16, String) {
    let url = bw.url(path);
    let mut args = vec!["-s", "-o", "/dev/null", "-D", "-", "-X", method];
    args.extend_from_slice(extra);
    args.push(&url);
    curl(&args)
}

#[test]
fn writes_are_403_without_a_token_file() {
    let f2b = Fail2ban::start(&["sshd"]);
    let bw = Banwatch::start(f2b.socket(), &[]);
    online(&bw);
    let (code, v) = post_ban(&bw, "sshd", r#"{"ip":"203.0.113.8"}"#, &[&auth()]);
    assert_eq!(code, 403);
    assert!(
        v["error"].as_str().unwrap().contains("--token-file"),
        "says how to enable writes: {v}"
    );
}

#[test]
fn protect_reads_guards_api_and_metrics_but_never_health() {
    let f2b = Fail2ban::start(&["sshd"]);
    let tf = token_file("reads", 0o600);
    let bw = Banwatch::start(
        f2b.socket(),
        &["--token-file", tf.to_str().unwrap(), "--protect-reads"],
    );
    online(&bw);
    for path in [
        "/api/v1/status",
        "/api/v1/jails",
        "/metrics",
        "/api/v1/jails/sshd/bans",
    ] {
        assert_eq!(bw.get(path).0, 401, "{path}");
        assert_eq!(curl(&["-s", "-H", &auth(), &bw.url(path)]).0, 200, "{path}");
    }
    assert_eq!(bw.get("/health").0, 200);
    assert_eq!(bw.get("/livez").0, 200);
}

#[test]
fn unsafe_token_files_are_refused_at_startup() {
    let world = token_file("world", 0o644);
    let out = run(&[
        "serve",
        "--socket",
        "/nonexistent",
        "--listen",
        "127.0.0.1:0",
        "--token-file",
        world.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("chmod 600 {}", world.display())),
        "{err}"
    );
    let empty = token_file("empty", 0o600);
    std::fs::write(&empty, "\n").unwrap();
    let out = run(&[
        "serve",
        "--socket",
        "/nonexistent",
        "--listen",
        "0.0.0.0:0",
        "--token-file",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("empty"),
        "{out:?}"
    );
}

#[test]
fn fifty_concurrent_ban_list_reads_cost_one_fail2ban_command() {
    let f2b = Fail2ban::start(&["sshd"]);
    f2b.ban_by_failures("sshd", "203.0.113.9");
    // A long interval: no probe runs during the burst, and the cache cannot expire in it.
    let bw = Banwatch::start(f2b.socket(), &["--interval", "60"]);
    online(&bw);
    let before = bw.json("/api/v1/status").1["banwatch"]["ban_list_fetches"]
        .as_u64()
        .unwrap();
    let url = bw.url("/api/v1/jails/sshd/bans");
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || curl(&["-s", &url]))
        })
        .collect();
    for c in clients {
        let (code, body) = c.join().unwrap();
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("203.0.113.9"), "{body}");
    }
    let after = bw.json("/api/v1/status").1["banwatch"]["ban_list_fetches"]
        .as_u64()
        .unwrap();
    assert_eq!(
        after - before,
        1,
        "50 concurrent reads of one jail's bans must share one fail2ban command"
    );
}

#[test]
fn ten_thousand_bans_page_correctly_and_jails_stay_fast() {
    let f2b = Fail2ban::start(&["sshd", "nginx"]);
    // Documentation range only (2001:db8::/32).
    let ips: Vec<String> = (1..=10_000).map(|i| format!("2001:db8::{i:x}")).collect();
    let mut args = vec!["set", "sshd", "banip"];
    args.extend(ips.iter().map(String::as_str));
    let socket = f2b.socket().display().to_string();
    let mut q = vec!["query", "--socket", &socket, "--timeout", "60", "--"];
    q.extend(args);
    let out = run(&q);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "10000",
        "{out:?}"
    );

    let bw = Banwatch::start(f2b.socket(), &["--interval", "2", "--timeout", "10"]);
    online(&bw);
    // Start the big fetch and, while it runs, ask for the jail list.
    let url = bw.url("/api/v1/jails/sshd/bans?page=1&page_size=500");
    let fetch = std::thread::spawn(move || curl(&["-s", &url]));
    std::thread::sleep(Duration::from_millis(30));
    let mut slowest = Duration::ZERO;
    while !fetch.is_finished() {
        let t = Instant::now();
        let reply = bw.raw(
            b"GET /api/v1/jails HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        );
        slowest = slowest.max(t.elapsed());
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    }
    eprintln!("slowest /api/v1/jails while the 10k list was fetched: {slowest:?}");
    assert!(slowest < Duration::from_millis(500), "{slowest:?}");
    let (code, first) = fetch.join().unwrap();
    assert_eq!(code, 200);
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(
        first["pagination"],
        json!({"page": 1, "page_size": 500, "total": 10000, "total_pages": 20})
    );
    let mut seen: Vec<String> = Vec::new();
    for page in 1..=20 {
        let (_, v) = bw.json(&format!(
            "/api/v1/jails/sshd/bans?page={page}&page_size=500"
        ));
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 500, "page {page}");
        seen.extend(items.iter().map(|i| i["ip"].as_str().unwrap().to_string()));
    }
    let (_, past) = bw.json("/api/v1/jails/sshd/bans?page=21&page_size=500");
    assert_eq!(past["items"], json!([]));
    seen.sort();
    let mut want = ips.clone();
    want.sort();
    assert_eq!(seen, want, "every ban exactly once across the pages");
}

/// The read endpoints that show fail2ban's data (issue 13, item 8).
const DATA_READS: [&str; 4] = [
    "/api/v1/jails",
    "/api/v1/jails/sshd",
    "/api/v1/jails/sshd/bans",
    "/api/v1/status",
];

#[test]
fn offline_reads_are_marked_stale_or_refused_never_empty() {
    // fail2ban answered once, then stopped: the last known data, marked stale with its age.
    let mut f2b = Fail2ban::start(&["sshd"]);
    f2b.ban_by_failures("sshd", "203.0.113.7");
    let bw = Banwatch::start(f2b.socket(), &["--interval", "1"]);
    online(&bw);
    bw.wait_for("/api/v1/jails/sshd/bans", Duration::from_secs(5), |c, b| {
        c == 200 && b.contains("203.0.113.7")
    });
    for path in DATA_READS {
        let (code, v) = bw.json(path);
        assert_eq!(code, 200, "{path}: {v}");
        assert!(v.get("stale").is_none(), "online {path} is not stale: {v}");
    }
    let socket = f2b.socket().to_path_buf();
    f2b.stop();
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 503);
    std::thread::sleep(Duration::from_millis(1100));
    for path in DATA_READS {
        let (code, v) = bw.json(path);
        assert_eq!(code, 200, "{path}: {v}");
        assert_eq!(v["stale"], true, "offline {path}: {v}");
        assert!(v["age_s"].as_u64().is_some_and(|a| a >= 1), "{path}: {v}");
    }
    let (code, b) = bw.json("/api/v1/bans/203.0.113.7");
    assert_eq!(code, 503, "{b}");

    // Started while fail2ban is stopped: nothing is known, so 503 with the reason, never an
    // empty list.
    let never = Banwatch::start(&socket, &["--interval", "1"]);
    never.wait_for("/health", Duration::from_secs(10), |c, _| c == 503);
    for path in [
        "/api/v1/jails",
        "/api/v1/jails/sshd",
        "/api/v1/jails/sshd/bans",
        "/api/v1/bans/203.0.113.7",
    ] {
        let (code, v) = never.json(path);
        assert_eq!(code, 503, "{path}: {v}");
        let error = v["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with("fail2ban is offline: ") && error.contains("socket"),
            "{path}: {v}"
        );
    }
    let (code, s) = never.json("/api/v1/status");
    assert_eq!((code, s["fail2ban"]["online"].clone()), (200, json!(false)));
    assert_eq!(s["stale"], true, "{s}");
}
