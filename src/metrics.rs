//! Prometheus text format 0.0.4, rendered from the last probe (no fail2ban round trip per
//! scrape). The `f2b_*` names and types are exactly fail2ban-prometheus-exporter's, so its
//! Grafana dashboards work unchanged; banwatch's own series are `banwatch_*` and `process_*`.

use std::fmt::Write;
use std::time::SystemTime;

use crate::context::Context;
use crate::state::{BanList, Health, State};

/// Append a label value escaped: backslash, double quote and newline. Straight into the
/// output, not into a `String` of its own per sample.
fn escape_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `name{jail="<escaped>"} `: the start of a per-jail sample, its value written after.
fn jail_label(out: &mut String, name: &str, jail: &str) {
    out.push_str(name);
    out.push_str("{jail=\"");
    escape_label(out, jail);
    out.push_str("\"} ");
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

pub fn render(state: &State, ctx: &Context) -> String {
    let mut out = String::with_capacity(2048 + state.jails.len() * 600);
    let up = state.health == Health::Online;
    family(
        &mut out,
        "f2b_up",
        "gauge",
        "Whether fail2ban answered the last probe (1) or not (0).",
    );
    let _ = writeln!(out, "f2b_up {}", u8::from(up));
    family(
        &mut out,
        "f2b_errors",
        "counter",
        "Errors talking to fail2ban, by type.",
    );
    // banwatch never reads fail2ban's database; the series exists because the exporter has it.
    let _ = writeln!(out, "f2b_errors{{type=\"db\"}} 0");
    let _ = writeln!(
        out,
        "f2b_errors{{type=\"socket_conn\"}} {}",
        state.client.connect_errors
    );
    let _ = writeln!(
        out,
        "f2b_errors{{type=\"socket_req\"}} {}",
        state.client.request_errors
    );
    family(
        &mut out,
        "f2b_jail_count",
        "gauge",
        "Number of jails fail2ban reports.",
    );
    let _ = writeln!(
        out,
        "f2b_jail_count {}",
        if up { state.jails.len() } else { 0 }
    );
    type Pick = fn(&crate::fail2ban::replies::JailStatus) -> u64;
    let per_jail: [(&str, &str, Pick); 4] = [
        (
            "f2b_jail_failed_current",
            "Failures currently counted in the jail.",
            |s| s.currently_failed,
        ),
        (
            "f2b_jail_failed_total",
            "Failures counted since the jail started.",
            |s| s.total_failed,
        ),
        (
            "f2b_jail_banned_current",
            "IPs currently banned in the jail.",
            |s| s.currently_banned,
        ),
        (
            "f2b_jail_banned_total",
            "Bans since the jail started.",
            |s| s.total_banned,
        ),
    ];
    for (name, help, pick) in per_jail {
        // The exporter declares these totals as gauges too; kept so dashboards and rules match.
        family(&mut out, name, "gauge", help);
        if up {
            for j in &state.jails {
                if let Some(s) = &j.status {
                    jail_label(&mut out, name, &j.name);
                    let _ = writeln!(out, "{}", pick(s));
                }
            }
        }
    }
    type Conf = fn(&crate::state::Settings) -> Option<i64>;
    let config: [(&str, &str, Conf); 3] = [
        (
            "f2b_config_jail_ban_time",
            "The jail's bantime in seconds (-1 = permanent).",
            |s| s.bantime,
        ),
        (
            "f2b_config_jail_find_time",
            "The jail's findtime in seconds.",
            |s| s.findtime,
        ),
        ("f2b_config_jail_max_retries", "The jail's maxretry.", |s| {
            s.maxretry
        }),
    ];
    for (name, help, pick) in config {
        family(&mut out, name, "gauge", help);
        if up {
            for j in &state.jails {
                if let Some(v) = pick(&j.settings) {
                    jail_label(&mut out, name, &j.name);
                    let _ = writeln!(out, "{v}");
                }
            }
        }
    }
    // Like the per-jail series, per-IP ones are absent while fail2ban is down: a cached ban
    // list would otherwise report bans nobody can confirm.
    if ctx.metrics_per_ip > 0 {
        family(
            &mut out,
            "f2b_banned_ip",
            "gauge",
            "Banned IPs, at most --metrics-per-ip per jail, from the last ban-list fetch.",
        );
        for j in state.jails.iter().filter(|_| up) {
            if let BanList::Ready { bans, .. } = &j.bans {
                for b in bans.iter().take(ctx.metrics_per_ip) {
                    out.push_str("f2b_banned_ip{jail=\"");
                    escape_label(&mut out, &j.name);
                    out.push_str("\",ip=\"");
                    escape_label(&mut out, &b.host.to_string());
                    out.push_str("\"} 1\n");
                }
            }
        }
    }
    family(
        &mut out,
        "f2b_version",
        "gauge",
        "Versions of banwatch (as the exporter) and fail2ban.",
    );
    out.push_str(concat!(
        "f2b_version{exporter=\"banwatch-",
        env!("CARGO_PKG_VERSION"),
        "\",fail2ban=\""
    ));
    escape_label(&mut out, state.version.as_deref().unwrap_or(""));
    out.push_str("\"} 1\n");
    family(
        &mut out,
        "banwatch_probe_duration_seconds",
        "gauge",
        "How long the last probe cycle took.",
    );
    let _ = writeln!(
        out,
        "banwatch_probe_duration_seconds {}",
        crate::json::Secs(state.last_probe_duration.unwrap_or_default())
    );
    family(
        &mut out,
        "banwatch_fail2ban_commands_total",
        "counter",
        "Commands banwatch sent to fail2ban.",
    );
    let _ = writeln!(
        out,
        "banwatch_fail2ban_commands_total {}",
        state.client.commands_sent
    );
    family(
        &mut out,
        "banwatch_http_requests_total",
        "counter",
        "HTTP answers by status code.",
    );
    for (code, n) in &ctx.stats.by_code {
        let _ = writeln!(out, "banwatch_http_requests_total{{code=\"{code}\"}} {n}");
    }
    family(
        &mut out,
        "banwatch_open_connections",
        "gauge",
        "Open HTTP connections.",
    );
    let _ = writeln!(out, "banwatch_open_connections {}", ctx.open_connections);
    family(
        &mut out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    let _ = writeln!(out, "process_resident_memory_bytes {}", resident_bytes());
    family(
        &mut out,
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the unix epoch in seconds.",
    );
    let start = state
        .started_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    // Rounded to milliseconds in integers, as `{:.3}` of the seconds as f64 did (issue 14).
    let ms = start.as_secs() * 1000 + u64::from(start.subsec_nanos() + 500_000) / 1_000_000;
    let _ = writeln!(
        out,
        "process_start_time_seconds {}.{:03}",
        ms / 1000,
        ms % 1000
    );
    out
}

/// RSS from /proc/self/statm (pages * page size); 0 where there is no procfs.
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    // The kernel writes statm's fields with one space between them.
    let pages: u64 = statm
        .split(' ')
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * rustix::param::page_size() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_escape_quotes_backslashes_and_newlines() {
        let mut out = String::new();
        escape_label(&mut out, "a\"b\\c\nd é");
        assert_eq!(out, "a\\\"b\\\\c\\nd é");
    }
}
