//! `banwatch query` against a real fail2ban-server: every command a sidecar uses, error replies,
//! and the exit codes (0 ok, 1 fail2ban error reply, 2 cannot talk to fail2ban).

mod common;

use std::process::Output;

use common::banwatch::{run, BIN};
use common::Fail2ban;
use serde_json::Value;

fn query(f2b: &Fail2ban, args: &[&str]) -> Output {
    let socket = f2b.socket().display().to_string();
    let mut all = vec!["query", "--socket", &socket, "--"];
    all.extend_from_slice(args);
    run(&all)
}

fn ok_json(f2b: &Fail2ban, args: &[&str]) -> Value {
    let out = query(f2b, args);
    assert_eq!(out.status.code(), Some(0), "query {args:?}: {out:?}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("query {args:?}: not JSON: {e}: {out:?}"))
}

#[test]
fn query_speaks_every_sidecar_command_to_a_real_fail2ban() {
    let f2b = Fail2ban::start(&["sshd", "nginx"]);
    assert_eq!(ok_json(&f2b, &["ping"]), "pong");
    let version = ok_json(&f2b, &["version"]);
    assert!(
        version.as_str().is_some_and(|v| v.contains('.')),
        "{version}"
    );

    let status = ok_json(&f2b, &["status"]);
    assert_eq!(
        status[0],
        serde_json::json!(["Number of jail", 2]),
        "{status}"
    );
    let mut jails: Vec<&str> = status[1][1].as_str().unwrap().split(", ").collect();
    jails.sort();
    assert_eq!(
        (status[1][0].as_str(), jails),
        (Some("Jail list"), vec!["nginx", "sshd"])
    );

    f2b.ban_by_failures("sshd", "203.0.113.7");
    let full = ok_json(&f2b, &["status", "sshd"]);
    let actions = &full[1][1];
    assert_eq!(
        actions[0],
        serde_json::json!(["Currently banned", 1]),
        "{full}"
    );
    assert_eq!(
        actions[2],
        serde_json::json!(["Banned IP list", ["203.0.113.7"]]),
        "{full}"
    );
    let short = ok_json(&f2b, &["status", "sshd", "short"]);
    assert_eq!(
        short[1][1].as_array().unwrap().len(),
        2,
        "short has no ban list: {short}"
    );

    let banned = ok_json(&f2b, &["banned"]);
    let mut per_jail: Vec<String> = banned
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.to_string())
        .collect();
    per_jail.sort();
    assert_eq!(
        per_jail,
        [r#"{"nginx":[]}"#, r#"{"sshd":["203.0.113.7"]}"#],
        "{banned}"
    );

    let with_time = ok_json(&f2b, &["get", "sshd", "banip", "--with-time"]);
    let line = with_time[0].as_str().unwrap();
    assert!(
        line.starts_with("203.0.113.7 \t") && line.contains(" + 600 = "),
        "{line}"
    );

    assert_eq!(ok_json(&f2b, &["set", "nginx", "banip", "198.51.100.9"]), 1);
    assert_eq!(
        ok_json(&f2b, &["set", "nginx", "banip", "198.51.100.9"]),
        0,
        "already banned"
    );
    assert!(f2b.client(&["status", "nginx"]).contains("198.51.100.9"));
    assert_eq!(
        ok_json(&f2b, &["set", "nginx", "unbanip", "198.51.100.9"]),
        1
    );
    assert!(!f2b.client(&["status", "nginx"]).contains("198.51.100.9"));
    assert_eq!(ok_json(&f2b, &["get", "sshd", "maxretry"]), 3);
}

#[test]
fn an_unknown_jail_exits_1_with_the_exception_class() {
    let f2b = Fail2ban::start(&["sshd"]);
    let out = query(&f2b, &["status", "nosuchjail"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"error": {"class": "UnknownJailException", "args": ["nosuchjail"]}})
    );
}

#[test]
fn a_wrong_socket_path_exits_2_with_a_clear_message() {
    let out = run(&["query", "--socket", "/nonexistent/fail2ban.sock", "ping"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no fail2ban socket at /nonexistent/fail2ban.sock")
            && err.contains("--socket"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_socket_path_naming_a_file_or_a_directory_says_it_is_not_a_socket() {
    let dir = std::env::temp_dir().join(format!("bw-notsock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("fail2ban.conf");
    std::fs::write(&file, "not a socket").unwrap();
    for (path, kind) in [(&file, "a regular file"), (&dir, "a directory")] {
        let out = run(&["query", "--socket", path.to_str().unwrap(), "ping"]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("{} is {kind}, not a socket", path.display()))
                && err.contains("--socket")
                && !err.contains("stale"),
            "{err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_argument_holding_the_terminator_is_refused_before_sending() {
    let f2b = Fail2ban::start(&["sshd"]);
    let out = query(&f2b, &["set", "sshd", "banip", "1.2.3.4<F2B_END_COMMAND>"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not sent"),
        "{out:?}"
    );
    assert!(!f2b.client(&["status", "sshd"]).contains("1.2.3.4"));
}

#[test]
fn a_socket_without_permission_exits_2_and_names_the_fix() {
    if !rustix::process::geteuid().is_root() {
        panic!("this test runs the client as `nobody` against a root-owned socket: run the tests as root (CI does)");
    }
    let f2b = Fail2ban::start(&["sshd"]);
    // The binary must be reachable by `nobody`: copy it to a world-readable place.
    let dir = std::env::temp_dir().join(format!("bw-perm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("banwatch");
    std::fs::copy(BIN, &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The socket's directory must be traversable so that the failure is the socket's own mode.
    let sock = f2b.socket().to_path_buf();
    let mut d = sock.parent();
    while let Some(p) = d {
        let mode = std::fs::metadata(p).unwrap().permissions().mode();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode | 0o011)).ok();
        d = p.parent();
    }
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(&bin)
        .args(["query", "--socket"])
        .arg(&sock)
        .arg("ping")
        .output()
        .expect("setpriv (util-linux) runs the client as nobody");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("permission denied")
            && err.contains("run banwatch as root or as the socket's owner"),
        "{err}"
    );
}
