//! Where the time goes when a `get JAIL banip --with-time` reply arrives (for build/bench
//! investigations; prints, asserts nothing): framing it (`scan`), reading its strings
//! (`StrListReader`), parsing the lines, and the full tree decode the reader spares.
//! Usage: ban_lines_bench FILE
use std::time::Instant;

use banwatch::fail2ban::parse_ban_line;
use banwatch::fail2ban::pickle::{decode, scan, StrListReader, TERMINATOR};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: ban_lines_bench FILE");
    let bytes = std::fs::read(path).expect("read");
    let pickle = bytes.strip_suffix(TERMINATOR).unwrap_or(&bytes);
    let t = Instant::now();
    scan(pickle).expect("scan").expect("complete");
    let scanned = t.elapsed();
    let t = Instant::now();
    let mut reader = StrListReader::new(pickle).expect("a (0, [str, ...]) reply");
    let mut n = 0;
    while reader.next(pickle).expect("fast shape").is_some() {
        n += 1;
    }
    let read = t.elapsed();
    let t = Instant::now();
    let mut reader = StrListReader::new(pickle).expect("a (0, [str, ...]) reply");
    while let Some(line) = reader.next(pickle).expect("fast shape") {
        parse_ban_line(line, time::UtcOffset::UTC).expect("a ban line");
    }
    let parsed = t.elapsed();
    let t = Instant::now();
    decode(pickle).expect("decode").expect("complete");
    let decoded = t.elapsed();
    println!(
        "{n} lines: scan {scanned:?}, read strings {read:?}, read + parse lines {parsed:?} \
         ({:.2} µs a line); a full tree decode would take {decoded:?}",
        parsed.as_secs_f64() * 1e6 / n.max(1) as f64
    );
}
