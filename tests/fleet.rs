//! Fleets, tested with Prometheus's own tools: `contrib/prometheus/` passes `promtool check
//! config`, `check rules` and its alert unit tests (`promtool test rules`), and those unit tests
//! fail when a rule is broken; a real Prometheus, run with that very scrape config (targets
//! swapped), scrapes three banwatch instances watching one fail2ban and sums them.
//! build/test installs Debian's `prometheus` package (the server and promtool).

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::banwatch::Banwatch;
use common::prometheus::{scratch, tool, Prometheus};
use common::Fail2ban;
use serde_json::Value;

const CONTRIB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/prometheus");

fn promtool(args: &[&str], dir: &Path) -> Output {
    Command::new(tool("promtool"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool")
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A fresh directory under the test target dir.
#[test]
fn contrib_prometheus_passes_promtool_checks_and_alert_unit_tests() {
    let dir = Path::new(CONTRIB);
    for args in [
        &["check", "config", "prometheus.yml"][..],
        &["check", "rules", "banwatch.rules.yml"],
        &["test", "rules", "banwatch.rules.test.yml"],
    ] {
        let out = promtool(args, dir);
        assert!(
            out.status.success(),
            "promtool {args:?} failed:\n{}",
            said(&out)
        );
    }
}

#[test]
fn the_alert_unit_tests_fail_when_a_rule_is_broken() {
    let rules = std::fs::read_to_string(Path::new(CONTRIB).join("banwatch.rules.yml")).unwrap();
    let tests =
        std::fs::read_to_string(Path::new(CONTRIB).join("banwatch.rules.test.yml")).unwrap();
    let breakages = [
        // fail2ban down: alerting at the first failed probe instead of after 2 minutes.
        ("expr: f2b_up == 0\n        for: 2m", "expr: f2b_up == 0\n        for: 0m"),
        // banwatch down: `up` of any job (a node exporter's) would page about banwatch.
        ("up{job=\"banwatch\"} == 0", "up == 0"),
        // ban spike: without the comparison with the day, a busy jail alerts all day.
        (
            "\n          and\n          rate(f2b_jail_banned_total[10m]) > 3 * rate(f2b_jail_banned_total[1d])",
            "",
        ),
        // ban spike: without the floor, 15 bans at once on a quiet jail alert.
        ("increase(f2b_jail_banned_total[10m]) >= 20", "increase(f2b_jail_banned_total[10m]) >= 0"),
    ];
    for (i, (from, to)) in breakages.iter().enumerate() {
        assert!(rules.contains(from), "the rules no longer contain {from:?}");
        let dir = scratch(&format!("fleet-broken{i}"));
        std::fs::write(dir.join("banwatch.rules.yml"), rules.replace(from, to)).unwrap();
        std::fs::write(dir.join("banwatch.rules.test.yml"), &tests).unwrap();
        let out = promtool(&["test", "rules", "banwatch.rules.test.yml"], &dir);
        assert!(
            !out.status.success(),
            "the unit tests pass with {from:?} broken into {to:?}:\n{}",
            said(&out)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// contrib/prometheus/prometheus.yml with these targets and 1 s intervals, and its rules.
fn start_prometheus(targets: &[String]) -> Prometheus {
    let dir = scratch("fleet-prometheus");
    let example = std::fs::read_to_string(Path::new(CONTRIB).join("prometheus.yml")).unwrap();
    let example_targets = "['router1:9191', 'web1:9191', 'web2:9191']";
    assert!(example.contains(example_targets), "{example}");
    let quoted: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    let config = example
        .replace(example_targets, &format!("[{}]", quoted.join(", ")))
        .replace("interval: 15s", "interval: 1s");
    std::fs::copy(
        Path::new(CONTRIB).join("banwatch.rules.yml"),
        dir.join("banwatch.rules.yml"),
    )
    .unwrap();
    Prometheus::start(dir, &config)
}

fn number(result: &Value) -> f64 {
    result["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

#[test]
fn a_real_prometheus_sums_three_banwatch_instances_on_one_fail2ban() {
    let f2b = Fail2ban::start(&["sshd", "nginx"]);
    f2b.ban_by_failures("sshd", "203.0.113.7");
    f2b.ban_by_failures("sshd", "203.0.113.8");
    f2b.ban_by_failures("nginx", "198.51.100.9");
    let fleet: Vec<Banwatch> = (0..3)
        .map(|_| Banwatch::start(f2b.socket(), &["--interval", "1"]))
        .collect();
    // One instance's own value, from its /metrics.
    let (_, metrics) = fleet[0].wait_for("/metrics", Duration::from_secs(10), |_, b| {
        b.contains("f2b_jail_banned_current{jail=\"sshd\"} 2")
            && b.contains("f2b_jail_banned_current{jail=\"nginx\"} 1")
    });
    let one: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("f2b_jail_banned_current{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(one, 3.0, "{metrics}");

    let targets: Vec<String> = fleet.iter().map(|b| b.addr.to_string()).collect();
    let prom = start_prometheus(&targets);
    let up = prom.query(
        "count(up{job=\"banwatch\"} == 1)",
        Duration::from_secs(30),
        |r| r.first().map(number) == Some(3.0),
    );
    assert_eq!(number(&up[0]), 3.0);
    let sum = prom.query(
        "sum(f2b_jail_banned_current)",
        Duration::from_secs(30),
        |r| r.first().map(number) == Some(3.0 * one),
    );
    assert_eq!(number(&sum[0]), 3.0 * one);
    // Per instance the same picture: three series of 3, one per banwatch.
    let per_instance = prom.query(
        "sum by (instance) (f2b_jail_banned_current)",
        Duration::from_secs(10),
        |r| r.len() == 3,
    );
    for r in &per_instance {
        assert_eq!(number(r), one, "{r}");
    }
    // The rules loaded from the example fire nothing on a healthy fleet.
    let alerts = prom.query("ALERTS", Duration::from_secs(5), |_| true);
    assert!(alerts.is_empty(), "{alerts:?}");
}
