//! Scale: 100,000 bans across two jails of a real fail2ban (50,000 each, banned 10,000 per
//! command), both ban lists fetched through the API. Peak RSS must stay at or below 16 MB with
//! glibc's default settings (the shipped service files also set `MALLOC_MMAP_THRESHOLD_`, which
//! only lowers the steady RSS afterwards: README "Limits and guarantees"); page 1 and the last
//! page must be right. Timings are printed, not asserted (build/bench measures them).
//! Idle: the same release binary against a real fail2ban, settled, stays under an RSS ceiling.
//! The ceilings are about the shipped binary, so these run the release build (build/test makes
//! it).

mod common;

use std::time::{Duration, Instant};

use common::banwatch::{run, Banwatch};
use common::Fail2ban;

const RSS_CEILING_KB: u64 = 16 * 1024;
/// Idle VmRSS of the glibc release build, settled. About 1.8 MB of a Rust binary's RSS is the
/// dynamic loader's and libc's shared file pages, whose count moves with the page cache (the
/// kernel maps up to 64 KiB around each page touched), so this bound has room for that noise.
const IDLE_RSS_CEILING_KB: u64 = 2400;
/// Idle anonymous memory (heap, stack, relocated data): the part banwatch's own buffers move,
/// and steady from run to run. Read buffers on the stack once kept ~140 kB more resident here.
const IDLE_ANON_CEILING_KB: u64 = 200;
/// How long banwatch idles before it is measured: two probes at `--interval 5`.
const IDLE_SETTLE: Duration = Duration::from_secs(11);

#[test]
fn a_hundred_thousand_bans_fit_in_16_mb() {
    let f2b = Fail2ban::start(&["sshd", "nginx"]);
    let socket = f2b.socket().display().to_string();
    for (jail, base) in [("sshd", 0u32), ("nginx", 0x8000)] {
        for chunk in 0..5u32 {
            let ips: Vec<String> = (1..=10_000u32)
                .map(|i| format!("2001:db8:{:x}::{i:x}", base + chunk))
                .collect();
            let mut args = vec![
                "query",
                "--socket",
                &socket,
                "--timeout",
                "120",
                "--",
                "set",
                jail,
                "banip",
            ];
            args.extend(ips.iter().map(String::as_str));
            let out = run(&args);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                "10000",
                "{out:?}"
            );
        }
    }
    let release = release_build();
    let bw = Banwatch::start_bin(
        &release,
        f2b.socket(),
        &["--interval", "5", "--timeout", "60"],
        &[],
    );
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);
    for jail in ["sshd", "nginx"] {
        let t = Instant::now();
        let (_, first) = bw.json(&format!("/api/v1/jails/{jail}/bans?page=1&page_size=500"));
        eprintln!("{jail}: first fetch of 50,000 bans {:?}", t.elapsed());
        assert_eq!(
            first["pagination"]["total"], 50_000,
            "{}",
            first["pagination"]
        );
        let t = Instant::now();
        let (_, last) = bw.json(&format!("/api/v1/jails/{jail}/bans?page=100&page_size=500"));
        eprintln!("{jail}: page 100 from the cache {:?}", t.elapsed());
        assert_eq!(last["items"].as_array().map(Vec::len), Some(500));
    }
    let peak = bw.proc_status("VmHWM");
    let now = bw.proc_status("VmRSS");
    eprintln!("RSS with 100,000 bans cached: {now} kB, peak {peak} kB");
    assert!(
        peak <= RSS_CEILING_KB,
        "peak RSS {peak} kB is over {RSS_CEILING_KB} kB"
    );
    assert_eq!(bw.threads(), 1);
}

#[test]
fn idle_rss_stays_under_its_ceiling() {
    let f2b = Fail2ban::start(&["sshd", "nginx"]);
    let bw = Banwatch::start_bin(&release_build(), f2b.socket(), &["--interval", "5"], &[]);
    // As a monitor sees it: /health answered, probes running, then quiet.
    bw.wait_for("/health", Duration::from_secs(10), |c, _| c == 200);
    std::thread::sleep(IDLE_SETTLE);
    let (rss, anon) = (bw.proc_status("VmRSS"), bw.proc_status("RssAnon"));
    eprintln!("idle RSS {rss} kB, of it anonymous {anon} kB");
    assert!(
        anon <= IDLE_ANON_CEILING_KB,
        "idle anonymous RSS {anon} kB is over {IDLE_ANON_CEILING_KB} kB"
    );
    assert!(
        rss <= IDLE_RSS_CEILING_KB,
        "idle RSS {rss} kB is over {IDLE_RSS_CEILING_KB} kB"
    );
}

fn release_build() -> std::path::PathBuf {
    let release = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/banwatch");
    assert!(
        release.exists(),
        "{} is missing: cargo build --release (build/test does it first)",
        release.display()
    );
    release
}

/// Keep-alive `/health` requests whose heap allocations are counted (beyond a run of one).
const COUNTED_REQUESTS: usize = 1000;

/// Heap blocks the release binary allocates over its whole run under valgrind's dhat, after
/// `requests` keep-alive `/health` requests on one connection against `socket`.
fn heap_blocks(socket: &std::path::Path, requests: usize, tag: &str) -> u64 {
    let valgrind = std::process::Command::new("valgrind")
        .arg("--version")
        .output();
    assert!(
        valgrind.is_ok_and(|o| o.status.success()),
        "valgrind is missing: apt-get install valgrind (build/test installs it)"
    );
    let dir = std::env::temp_dir().join(format!("bw-allocs-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wrapper = dir.join("banwatch");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec valgrind --tool=dhat --dhat-out-file={} {} \"$@\"\n",
            dir.join("dhat.json").display(),
            release_build().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    // One probe at start, none while the requests run: the count is the requests'.
    let mut bw = Banwatch::start_bin(&wrapper, socket, &["--interval", "3600"], &[]);
    bw.wait_for("/health", Duration::from_secs(30), |c, _| c == 200);
    let url = bw.url("/health");
    let urls = vec![url.as_str(); requests];
    let mut args = vec!["-s", "-o", "/dev/null", "-w", "%{http_code}\n"];
    args.extend(urls);
    let out = std::process::Command::new("curl")
        .args(&args)
        .output()
        .unwrap();
    let codes = String::from_utf8_lossy(&out.stdout);
    assert_eq!(codes.lines().filter(|c| *c == "200").count(), requests);
    bw.stop();
    let log = bw.log();
    let _ = std::fs::remove_dir_all(&dir);
    // "Total:     12,345 bytes in 678 blocks"
    log.lines()
        .find_map(|l| {
            l.split_once("Total:")?
                .1
                .split_once(" in ")?
                .1
                .strip_suffix(" blocks")
        })
        .map(|n| n.trim().replace(',', "").parse().unwrap())
        .unwrap_or_else(|| panic!("no dhat total in banwatch's log:\n{log}"))
}

/// nginx answers from pools it reuses; banwatch's /health answer is shared from the last
/// state change and its path is split on the stack, so a request allocates only the copy of
/// its target (it may wait, parked, while its buffer is reused).
#[test]
fn a_health_request_allocates_at_most_once() {
    let f2b = Fail2ban::start(&["sshd"]);
    let one = heap_blocks(f2b.socket(), 1, "one");
    let many = heap_blocks(f2b.socket(), 1 + COUNTED_REQUESTS, "many");
    let per_request = many.saturating_sub(one) as f64 / COUNTED_REQUESTS as f64;
    println!("heap allocations per /health request: {per_request:.2} ({one} -> {many} blocks)");
    assert!(
        per_request <= 1.05,
        "{per_request:.2} allocations per /health request ({one} blocks after 1, {many} after {})",
        1 + COUNTED_REQUESTS
    );
}
