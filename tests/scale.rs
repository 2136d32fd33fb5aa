//! Scale: 100,000 bans across two jails of a real fail2ban (50,000 each, banned 10,000 per
//! command), both ban lists fetched through the API. Peak RSS must stay at or below 16 MB with
//! glibc's default settings (the shipped service files also set `MALLOC_MMAP_THRESHOLD_`, which
//! only lowers the steady RSS afterwards: README "Limits and guarantees"); page 1 and the last
//! page must be right. Timings are printed, not asserted (build/bench measures them).
//! The ceiling is about the shipped binary, so this runs the release build (build/test makes it).

mod common;

use std::time::{Duration, Instant};

use common::banwatch::{run, Banwatch};
use common::Fail2ban;

const RSS_CEILING_KB: u64 = 16 * 1024;

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
    let release = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/banwatch");
    assert!(
        release.exists(),
        "{} is missing: cargo build --release (build/test does it first)",
        release.display()
    );
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
