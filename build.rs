//! Build script: gzips the status page's three assets (assets/) into OUT_DIR, where
//! src/api/mod.rs embeds them with `include_bytes!`. Stored compressed they take ~7 KB of the
//! binary instead of ~21 KB, and cross a slow router link compressed; every browser accepts gzip.
//!
//! The output is deterministic (same assets, same bytes, same ETag): the 10-byte gzip header is
//! written here with MTIME 0 and OS 255 ("unknown"), then miniz_oxide's raw deflate stream at its
//! best level, then the CRC32 and length of the input (RFC 1952).
//!
//! It also links the release binary without unwind tables (build/no-unwind-tables.ld): with
//! panic = "abort" nothing unwinds, and the tables were 58 KB of the stripped x86_64 binary (a
//! tenth of it). A panic still prints its message and location; only `RUST_BACKTRACE`'s frames
//! go, which a stripped binary printed as bare addresses. Builds that unwind (tests, debug)
//! keep them.

use std::path::{Path, PathBuf};

/// The assets, by file name under assets/; each becomes `OUT_DIR/<name>.gz`.
const ASSETS: [&str; 3] = ["index.html", "app.js", "app.css"];

/// miniz_oxide's levels run 0..=10; 10 is its slowest and smallest, fine for ~21 KB once a build.
const LEVEL: u8 = 10;

fn main() {
    unwind_tables();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for name in ASSETS {
        let src = Path::new("assets").join(name);
        println!("cargo:rerun-if-changed={}", src.display());
        let raw = std::fs::read(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        let dst = out.join(format!("{name}.gz"));
        std::fs::write(&dst, gzip(&raw)).unwrap_or_else(|e| panic!("{}: {e}", dst.display()));
    }
}

/// Drops the unwind tables from release binaries, which Cargo.toml builds with panic = "abort"
/// (the build script's CARGO_CFG_PANIC is the target's default, not the profile's), on Linux,
/// linked by a cc-style driver: GNU ld and LLD both take the script's INSERT.
fn unwind_tables() {
    let var = |name| std::env::var(name).unwrap_or_default();
    if var("PROFILE") != "release" || var("CARGO_CFG_TARGET_OS") != "linux" {
        return;
    }
    let script = Path::new(&var("CARGO_MANIFEST_DIR")).join("build/no-unwind-tables.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-Wl,--no-eh-frame-hdr");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
}

/// One gzip member (RFC 1952) holding `data`.
fn gzip(data: &[u8]) -> Vec<u8> {
    // ID1 ID2, CM 8 (deflate), FLG 0 (no name, no comment), MTIME 0 (none: deterministic),
    // XFL 2 (slowest compression), OS 255 (unknown).
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255];
    out.extend(miniz_oxide::deflate::compress_to_vec(data, LEVEL));
    out.extend(crc32(data).to_le_bytes());
    // ISIZE is the input length modulo 2^32 by definition, so the truncation is the format's.
    out.extend((data.len() as u32).to_le_bytes());
    out
}

/// CRC-32 (IEEE 802.3, reflected, the one gzip uses), bit by bit: no table for ~21 KB of input.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}
