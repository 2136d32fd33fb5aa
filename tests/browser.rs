//! The status page in a real browser (Debian's chromium, headless) against banwatch and a real
//! fail2ban with two jails and one ban: once rendered, the page shows both jails, the banned IP,
//! "online" and the ban in the history chart; at a phone's 390 px the page does not scroll
//! sideways and the chart is drawn to the card's width; with fail2ban hung (SIGSTOP) and after it
//! stops, "offline" and why, history kept. Screenshots at 1280x900 and 390x844, online and hung
//! (and dark), are saved under target/page-*.png for people to look at. Also checks the page's
//! headers (CSP without unsafe-inline, ETag and 304) and its size budget.
//!
//! Chromium is driven by tests/browser/cdp.py over the DevTools pipe: headless Chromium will not
//! size a window under 500 px, so the phone viewport is set by device-metrics emulation.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::banwatch::{curl, Banwatch};
use common::Fail2ban;
use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";

/// What the page showed at a viewport: the text, the DOM, and its scroll and client widths.
struct Rendered {
    text: String,
    dom: String,
    scroll_width: u64,
    client_width: u64,
}

/// Open `url` at `width`x`height`, wait until the JS expression `ready` holds, and report;
/// with `shot`, also save a screenshot as target/page-{shot}.png.
fn render(
    url: &str,
    width: u32,
    height: u32,
    ready: &str,
    shot: Option<&str>,
    dark: bool,
) -> Rendered {
    if !Path::new(CHROMIUM).exists() {
        panic!("{CHROMIUM} is missing: apt-get install chromium (build/test installs it)");
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/cdp.py");
    let mut cmd = Command::new("timeout");
    cmd.arg("90").arg("python3").arg(script).args([
        url,
        &width.to_string(),
        &height.to_string(),
        ready,
    ]);
    let shot_path = shot
        .map(|name| Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/page-{name}.png")));
    if let Some(p) = &shot_path {
        let _ = std::fs::remove_file(p);
        cmd.arg("--screenshot").arg(p);
    }
    if dark {
        cmd.arg("--dark");
    }
    let out = cmd.output().expect("run python3 tests/browser/cdp.py");
    assert!(
        out.status.success(),
        "chromium via cdp.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(p) = &shot_path {
        assert!(
            std::fs::metadata(p)
                .map(|m| m.len() > 10_000)
                .unwrap_or(false),
            "no screenshot {}",
            p.display()
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout).expect("cdp.py prints JSON");
    Rendered {
        text: v["text"]
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        dom: v["dom"].as_str().unwrap_or_default().to_string(),
        scroll_width: v["scroll_width"].as_u64().unwrap_or(u64::MAX),
        client_width: v["client_width"].as_u64().unwrap_or(0),
    }
}

/// The page has rendered jails, history and this fail2ban state.
fn ready(state: &str) -> String {
    format!(
        "document.getElementById('state-word').textContent === '{state}' && \
         document.querySelector('#jails tbody button') && \
         document.querySelector('#hist-chart svg')"
    )
}

/// The `width` attribute of the history chart's `<svg>`.
fn chart_width(dom: &str) -> u32 {
    let chart = &dom[dom.find("id=\"hist-chart\"").expect("the chart box")..];
    let svg = &chart[chart.find("<svg").expect("an svg chart")..];
    let w = &svg[svg.find("width=\"").expect("svg width") + 7..];
    w[..w.find('"').unwrap()].parse().expect("a number")
}

/// The page fits the viewport: nothing makes it scroll sideways.
fn assert_no_sideways_scroll(r: &Rendered, what: &str) {
    assert!(
        r.scroll_width <= r.client_width,
        "{what}: the page is {} px wide in a {} px viewport",
        r.scroll_width,
        r.client_width
    );
}

#[test]
fn the_page_shows_jails_bans_history_and_state_in_a_real_browser() {
    let mut f2b = Fail2ban::start(&["sshd", "nginx"]);
    let bw = Banwatch::start(f2b.socket(), &["--interval", "1", "--timeout", "1"]);
    // The first probe is history's baseline: ban after it, so the chart has a bar to show.
    bw.wait_for("/api/v1/history", Duration::from_secs(10), |_, b| {
        b.contains("0],\"failures\"")
    });
    f2b.ban_by_failures("sshd", "203.0.113.7");
    bw.wait_for("/api/v1/jails", Duration::from_secs(10), |_, b| {
        b.contains("\"currently_banned\":1")
    });
    bw.wait_for("/api/v1/history", Duration::from_secs(10), |_, b| {
        b.contains(",1],\"failures\"") || b.contains(",1,")
    });
    let url = bw.url("/");

    let desktop = render(&url, 1280, 900, &ready("online"), Some("desktop"), false);
    for want in [
        "sshd",
        "nginx",
        "203.0.113.7",
        "fail2ban online",
        "1.0.2",
        "1 ban, 3 failures in all jails over the last 24 hours (5-minute bars",
    ] {
        assert!(
            desktop.text.contains(want),
            "the page does not show {want:?}:\n{}",
            desktop.text
        );
    }
    assert!(
        !desktop.text.contains("banwatch unreachable"),
        "{}",
        desktop.text
    );
    assert_eq!(
        desktop.dom.matches("class=\"bar\"").count(),
        1,
        "one bucket with bans is one bar:\n{}",
        desktop.dom
    );
    assert!(
        desktop.dom.contains("class=\"gap\""),
        "the buckets before banwatch started are shaded as no data"
    );
    assert!(
        chart_width(&desktop.dom) > 600,
        "the chart uses a desktop's width"
    );
    assert_no_sideways_scroll(&desktop, "1280 px");

    // On a phone the chart is drawn to the card's width and the page does not scroll sideways.
    let phone = render(&url, 390, 844, &ready("online"), Some("phone"), false);
    let width = chart_width(&phone.dom);
    assert!(
        (200..=390 - 2 * 16).contains(&width),
        "chart {width} px wide at 390 px"
    );
    assert_no_sideways_scroll(&phone, "390 px");
    render(&url, 1280, 900, &ready("online"), Some("dark"), true);

    // fail2ban hung (SIGSTOP): the page still loads, shows why, and keeps the history.
    let _ = Command::new("kill")
        .args(["-STOP", &f2b.pid().to_string()])
        .status();
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 503);
    for (name, width, height) in [("desktop-hung", 1280, 900), ("phone-hung", 390, 844)] {
        let hung = render(&url, width, height, &ready("offline"), Some(name), false);
        assert!(
            hung.text.contains("fail2ban offline") && hung.text.contains("1 ban, 3 failures"),
            "with fail2ban hung:\n{}",
            hung.text
        );
        assert_no_sideways_scroll(&hung, name);
    }
    let _ = Command::new("kill")
        .args(["-CONT", &f2b.pid().to_string()])
        .status();

    f2b.stop();
    bw.wait_for("/health", Duration::from_secs(5), |c, b| {
        c == 503 && b.contains("is fail2ban running")
    });
    let gone = render(&url, 1280, 900, &ready("offline"), None, false);
    assert!(
        gone.text.contains("is fail2ban running"),
        "the reason is shown after fail2ban stopped:\n{}",
        gone.text
    );
}

#[test]
fn the_page_is_small_strict_and_cacheable() {
    let bw = Banwatch::start(Path::new("/nonexistent/f2b.sock"), &[]);
    let (code, head) = curl(&["-s", "-o", "/dev/null", "-D", "-", &bw.url("/")]);
    assert_eq!(code, 200);
    let head_l = head.to_ascii_lowercase();
    let csp = head_l
        .lines()
        .find(|l| l.starts_with("content-security-policy:"))
        .expect("a CSP header");
    assert!(
        csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline")
            && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(
        head_l.contains("x-content-type-options: nosniff")
            && head_l.contains("referrer-policy: no-referrer"),
        "{head}"
    );
    assert!(
        head_l.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("ETag: "))
        .expect("an ETag")
        .trim()
        .to_string();
    let (code, _) = curl(&[
        "-s",
        "-o",
        "/dev/null",
        "-H",
        &format!("If-None-Match: {etag}"),
        &bw.url("/"),
    ]);
    assert_eq!(code, 304);
    // The budget is for the page's own bytes, decoded: what the browser has to run.
    let get = |path: &str| curl(&["-s", "--compressed", &bw.url(path)]);
    let total: usize = ["/", "/app.js", "/app.css"]
        .iter()
        .map(|p| get(p).1.len())
        .sum();
    assert!(
        total <= 24 * 1024,
        "page budget is 24 KB, the page is {total} bytes"
    );
    let (_, html) = get("/");
    assert!(
        !html.contains("<script>")
            && !html.contains(" style=")
            && !html.contains("http://")
            && !html.contains("https://"),
        "no inline code or external assets"
    );
}

/// The assets are stored gzip-compressed: `curl --compressed` (as every browser) gets exactly
/// the files under assets/, smaller on the wire; a client that refuses gzip gets a 406 that
/// says what to send; a client that sends no Accept-Encoding takes any coding (RFC 9110 12.5.3).
#[test]
fn the_page_is_served_gzip_compressed_and_refused_to_identity_only_clients() {
    let bw = Banwatch::start(Path::new("/nonexistent/f2b.sock"), &[]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = |head: &str, name: &str| {
        head.lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    for (path, file) in [
        ("/", "index.html"),
        ("/app.js", "app.js"),
        ("/app.css", "app.css"),
    ] {
        let want = std::fs::read_to_string(root.join("assets").join(file)).unwrap();
        let (code, body) = curl(&["-s", "--compressed", &bw.url(path)]);
        assert_eq!(code, 200, "{path}");
        assert!(
            body == want,
            "{path}: curl --compressed did not get the bytes of assets/{file}"
        );
        for (method, accept) in [
            ("-G", "Accept-Encoding: gzip, deflate, br"),
            ("-I", "Accept-Encoding: gzip, deflate, br"),
            // No Accept-Encoding at all (curl drops a header given without a value).
            ("-G", "Accept-Encoding:"),
        ] {
            let (code, head) = curl(&[
                "-s",
                "-o",
                "/dev/null",
                "-D",
                "-",
                method,
                "-H",
                accept,
                &bw.url(path),
            ]);
            assert_eq!(code, 200, "{method} {path} with {accept:?}");
            assert_eq!(header(&head, "Content-Encoding"), "gzip", "{head}");
            assert_eq!(header(&head, "Vary"), "Accept-Encoding", "{head}");
            let sent: usize = header(&head, "Content-Length").parse().unwrap();
            assert!(
                sent < want.len() / 2,
                "{path}: {sent} bytes on the wire for {} bytes of assets/{file}",
                want.len()
            );
        }
    }
    let refusal =
        "this page is stored gzip-compressed: send Accept-Encoding: gzip (curl --compressed)\n";
    for accept in [
        "identity",
        "gzip;q=0, identity",
        "GZIP; q=0.000, br",
        "*;q=0",
        "br, deflate",
        "",
    ] {
        for path in ["/", "/app.js", "/app.css"] {
            let (code, body) = curl(&[
                "-s",
                "-H",
                // A header with an empty value is sent as `Name;` to curl.
                &if accept.is_empty() {
                    "Accept-Encoding;".to_string()
                } else {
                    format!("Accept-Encoding: {accept}")
                },
                &bw.url(path),
            ]);
            assert_eq!(code, 406, "{path} with Accept-Encoding: {accept:?}");
            assert_eq!(body, refusal, "{path} with Accept-Encoding: {accept:?}");
        }
    }
}
