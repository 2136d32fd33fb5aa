//! /metrics against a real fail2ban, checked by Prometheus's own tools: `promtool check metrics`
//! on the output, and a real Prometheus server scraping banwatch and answering a query.
//! build/test installs Debian's `prometheus` package (promtool comes with it).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::banwatch::Banwatch;
use common::prometheus::{scratch, tool, Prometheus};
use common::Fail2ban;
use serde_json::Value;

fn promtool_check(text: &str) {
    let mut child = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // promtool's naming lints that the exporter's own names trip; banwatch keeps those names so
    // existing dashboards work (README "Fleets"). Anything else promtool says is a failure.
    const EXPORTER_NAME_LINTS: [&str; 4] = [
        "f2b_errors counter metrics should have \"_total\" suffix",
        "f2b_jail_banned_total non-counter metrics should not have \"_total\" suffix",
        "f2b_jail_count non-histogram and non-summary metrics should not have \"_count\" suffix",
        "f2b_jail_failed_total non-counter metrics should not have \"_total\" suffix",
    ];
    let other: Vec<&str> = said
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !EXPORTER_NAME_LINTS.contains(l))
        .collect();
    assert!(
        other.is_empty(),
        "promtool check metrics: {other:?}\n--- metrics:\n{text}"
    );
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "promtool failed to parse: {said}"
    );
}

fn sample<'a>(text: &'a str, series: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
}

#[test]
fn metrics_are_promtool_clean_and_exporter_compatible() {
    let weird = "q\"uote\\back-é";
    let f2b = Fail2ban::start(&["sshd", weird]);
    f2b.ban_by_failures("sshd", "203.0.113.7");
    let bw = Banwatch::start(f2b.socket(), &["--interval", "1", "--metrics-per-ip", "5"]);
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);
    // Settings arrive after the first status of each jail; bans after a ban-list read.
    bw.wait_for("/metrics", Duration::from_secs(5), |_, b| {
        b.contains("f2b_config_jail_max_retries{jail=\"sshd\"} 3")
    });
    assert_eq!(bw.get("/api/v1/jails/sshd/bans").0, 200);
    let (code, text) = bw.get("/metrics");
    assert_eq!(code, 200);
    promtool_check(&text);

    assert_eq!(sample(&text, "f2b_up"), Some("1"));
    assert_eq!(sample(&text, "f2b_jail_count"), Some("2"));
    assert_eq!(
        sample(&text, "f2b_jail_banned_current{jail=\"sshd\"}"),
        Some("1")
    );
    assert_eq!(
        sample(&text, "f2b_jail_failed_total{jail=\"sshd\"}"),
        Some("3")
    );
    assert_eq!(
        sample(&text, "f2b_config_jail_ban_time{jail=\"sshd\"}"),
        Some("600")
    );
    assert_eq!(
        sample(&text, "f2b_config_jail_find_time{jail=\"sshd\"}"),
        Some("600")
    );
    assert_eq!(
        sample(&text, "f2b_banned_ip{jail=\"sshd\",ip=\"203.0.113.7\"}"),
        Some("1")
    );
    let escaped = "f2b_jail_banned_current{jail=\"q\\\"uote\\\\back-é\"}";
    assert_eq!(sample(&text, escaped), Some("0"), "label escaping: {text}");
    for family in [
        "f2b_errors",
        "f2b_version",
        "banwatch_probe_duration_seconds",
        "banwatch_http_requests_total",
        "banwatch_open_connections",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} missing"
        );
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "{family} has no HELP"
        );
    }
    // The exporter's types, kept exactly (it declares its totals as gauges).
    assert!(text.contains("# TYPE f2b_jail_banned_total gauge"));
    assert!(text.contains("# TYPE f2b_errors counter"));
    let rss: f64 = sample(&text, "process_resident_memory_bytes")
        .unwrap()
        .parse()
        .unwrap();
    assert!(rss > 100_000.0, "{rss}");
    // Seconds written from integers, not floats (issue 14): the start time with exactly three
    // decimals and within the last hour, the last probe's duration a plain decimal (0 until the
    // first probe cycle has finished, which this scrape may precede).
    let start = sample(&text, "process_start_time_seconds").unwrap();
    let (whole, millis) = start.split_once('.').unwrap_or((start, ""));
    assert!(
        millis.len() == 3 && millis.bytes().all(|c| c.is_ascii_digit()),
        "{start}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let whole: u64 = whole.parse().unwrap();
    assert!(whole <= now && now - whole < 3600, "{start}");
    let probe = sample(&text, "banwatch_probe_duration_seconds").unwrap();
    assert!(
        probe.parse::<f64>().is_ok_and(|s| (0.0..60.0).contains(&s)) && !probe.contains('e'),
        "{probe}"
    );
}

#[test]
fn offline_metrics_say_down_and_count_errors() {
    let mut f2b = Fail2ban::start(&["sshd"]);
    f2b.ban_by_failures("sshd", "203.0.113.7");
    let bw = Banwatch::start(f2b.socket(), &["--interval", "1", "--metrics-per-ip", "5"]);
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);
    // A fetched ban list stays cached after fail2ban stops; its per-IP series must not.
    bw.wait_for("/api/v1/jails/sshd/bans", Duration::from_secs(5), |_, b| {
        b.contains("203.0.113.7")
    });
    f2b.stop();
    let (_, text) = bw.wait_for("/metrics", Duration::from_secs(5), |_, b| {
        b.contains("\nf2b_up 0\n")
    });
    promtool_check(&text);
    let errors: u64 = sample(&text, "f2b_errors{type=\"socket_conn\"}")
        .unwrap()
        .parse()
        .unwrap();
    assert!(errors >= 1, "{text}");
    assert!(
        !text.contains("f2b_jail_banned_current{"),
        "no stale per-jail series while down: {text}"
    );
    assert!(
        !text.contains("f2b_banned_ip{"),
        "no stale per-IP series while down: {text}"
    );
}

/// The first result's value of an instant query, once `want` holds for it.
fn first_value(
    prom: &Prometheus,
    q: &str,
    within: Duration,
    want: impl Fn(&str) -> bool,
) -> String {
    let value = |r: &[Value]| {
        r.first()
            .and_then(|x| x["value"][1].as_str())
            .map(str::to_string)
    };
    value(&prom.query(q, within, |r| value(r).is_some_and(|v| want(&v)))).unwrap()
}

fn start_prometheus(target: &str) -> Prometheus {
    Prometheus::start(
        scratch("prom"),
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: banwatch\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
}

#[test]
fn a_real_prometheus_scrapes_what_banwatch_reports() {
    let mut f2b = Fail2ban::start(&["sshd", "nginx"]);
    f2b.ban_by_failures("sshd", "203.0.113.7");
    f2b.ban_by_failures("sshd", "203.0.113.8");
    let bw = Banwatch::start(f2b.socket(), &["--interval", "1"]);
    bw.wait_for("/api/v1/jails", Duration::from_secs(10), |_, b| {
        b.contains("\"currently_banned\":2")
    });
    let prom = start_prometheus(&bw.addr.to_string());
    let banned = first_value(
        &prom,
        "f2b_jail_banned_current{jail=\"sshd\"}",
        Duration::from_secs(30),
        |_| true,
    );
    let (_, jails) = bw.json("/api/v1/jails");
    let sshd = jails["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "sshd")
        .unwrap();
    assert_eq!(
        banned,
        sshd["currently_banned"].to_string(),
        "prometheus and banwatch agree"
    );
    assert_eq!(
        first_value(
            &prom,
            "up{job=\"banwatch\"}",
            Duration::from_secs(5),
            |_| true
        ),
        "1"
    );

    f2b.stop();
    first_value(&prom, "f2b_up", Duration::from_secs(20), |v| v == "0");
}
