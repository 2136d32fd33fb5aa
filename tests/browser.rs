//! The status page in a real browser (Debian's chromium, headless) against banwatch and a real
//! fail2ban with two jails and one ban: the rendered DOM after the first refresh shows both jails,
//! the banned IP and "online"; after fail2ban stops, "offline". Screenshots (desktop and 375 px,
//! light and dark) are saved under target/ for people to look at. Also checks the page's headers
//! (CSP without unsafe-inline, ETag and 304) and its size budget.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::banwatch::{curl, Banwatch};
use common::Fail2ban;

const CHROMIUM: &str = "/usr/bin/chromium";

fn chromium(extra: &[&str], url: &str) -> String {
    if !Path::new(CHROMIUM).exists() {
        panic!("{CHROMIUM} is missing: apt-get install chromium (build/test installs it)");
    }
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("chromium-{}-{run}", std::process::id()));
    let out = Command::new("timeout")
        .arg("90")
        .arg(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=6000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text_of(dom: &str) -> String {
    // Crude but enough: drop tags, keep text.
    let mut out = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_page_shows_jails_bans_and_state_in_a_real_browser() {
    let mut f2b = Fail2ban::start(&["sshd", "nginx"]);
    f2b.ban_by_failures("sshd", "203.0.113.7");
    let bw = Banwatch::start(f2b.socket(), &["--interval", "1", "--timeout", "1"]);
    bw.wait_for("/api/v1/jails", Duration::from_secs(10), |_, b| {
        b.contains("\"currently_banned\":1")
    });

    let dom = chromium(&["--dump-dom"], &bw.url("/"));
    let text = text_of(&dom);
    for want in ["sshd", "nginx", "203.0.113.7", "fail2ban online", "1.0.2"] {
        assert!(
            text.contains(want),
            "the page does not show {want:?}:\n{text}"
        );
    }
    assert!(!text.contains("banwatch unreachable"), "{text}");

    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    for (name, size, dark) in [
        ("desktop", "1280,900", false),
        ("phone", "375,800", false),
        ("dark", "1280,900", true),
    ] {
        let shot = target.join(format!("page-{name}.png"));
        let _ = std::fs::remove_file(&shot);
        let mut args = vec![
            format!("--window-size={size}"),
            format!("--screenshot={}", shot.display()),
            "--hide-scrollbars".into(),
        ];
        if dark {
            args.push("--force-dark-mode".into());
            args.push("--blink-settings=preferredColorScheme=0".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        chromium(&args, &bw.url("/"));
        assert!(
            std::fs::metadata(&shot)
                .map(|m| m.len() > 10_000)
                .unwrap_or(false),
            "no screenshot {}",
            shot.display()
        );
    }

    f2b.stop();
    bw.wait_for("/health", Duration::from_secs(5), |c, _| c == 503);
    let text = text_of(&chromium(&["--dump-dom"], &bw.url("/")));
    assert!(
        text.contains("fail2ban offline"),
        "after fail2ban stopped:\n{text}"
    );
    assert!(
        text.contains("is fail2ban running"),
        "the reason is shown:\n{text}"
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
    let total: usize = ["/", "/app.js", "/app.css"]
        .iter()
        .map(|p| bw.get(p).1.len())
        .sum();
    assert!(
        total <= 24 * 1024,
        "page budget is 24 KB, the page is {total} bytes"
    );
    let (_, html) = bw.get("/");
    assert!(
        !html.contains("<script>")
            && !html.contains(" style=")
            && !html.contains("http://")
            && !html.contains("https://"),
        "no inline code or external assets"
    );
}
