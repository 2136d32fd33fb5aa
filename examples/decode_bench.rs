//! Decode speed of one captured reply, for build/bench-decode (not a test: it prints, asserts
//! nothing). Every iteration builds the whole `Value` tree of the reply and drops it, as
//! `pickle.loads` does; the `Decoder` is reused across iterations as the fail2ban client reuses
//! its own. Usage: decode_bench FILE [ITERATIONS]
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: decode_bench FILE [ITERATIONS]");
    let iterations: u32 = args.next().map_or(200, |n| n.parse().expect("iterations"));
    let bytes = std::fs::read(&path).expect("read the reply");
    let pickle = bytes
        .strip_suffix(banwatch::fail2ban::pickle::TERMINATOR)
        .unwrap_or(&bytes);
    let mut decoder = banwatch::fail2ban::pickle::Decoder::default();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..iterations {
            let v = decoder.decode(std::hint::black_box(pickle));
            std::hint::black_box(v).expect("decodes").expect("complete");
        }
        best = best.min(t.elapsed().as_secs_f64() / f64::from(iterations));
    }
    println!("{:.1}", best * 1e6);
}
