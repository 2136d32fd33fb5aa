//! Time to decode a `get JAIL banip --with-time` reply and to parse its lines (for build/bench
//! investigations; prints, asserts nothing). Usage: ban_lines_bench FILE
use std::time::Instant;
fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: ban_lines_bench FILE");
    let bytes = std::fs::read(path).expect("read");
    let pickle = bytes
        .strip_suffix(banwatch::fail2ban::pickle::TERMINATOR)
        .unwrap_or(&bytes);
    let t = Instant::now();
    let (v, _) = banwatch::fail2ban::pickle::decode(pickle)
        .expect("decode")
        .expect("complete");
    let decoded = t.elapsed();
    let v = banwatch::fail2ban::replies::envelope(v).expect("ok reply");
    let t = Instant::now();
    let n = banwatch::fail2ban::replies::ban_entries(&v, time::UtcOffset::UTC)
        .expect("lines")
        .len();
    println!(
        "{n} lines: decode {decoded:?}, parse lines {:?}",
        t.elapsed()
    );
}
