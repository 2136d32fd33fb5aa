//! The shipped binary's size is held under a budget: a stripped x86_64 glibc release build may
//! not grow past the number in `build/size-budget` (the one place it is written). Size is
//! deterministic for a toolchain, so this can fail only when the code or the toolchain grew;
//! `build/size` then shows which crate and which functions the bytes went to.

use std::path::Path;

/// The budget file's number: its one line that is not a comment.
fn budget(text: &str) -> Option<u64> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?
        .parse()
        .ok()
}

#[test]
fn the_stripped_release_binary_fits_its_budget() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("build/size-budget")).unwrap();
    let budget = budget(&text).expect("build/size-budget holds one number of bytes");
    let release = root.join("target/release/banwatch");
    let size = match std::fs::metadata(&release) {
        Ok(m) => m.len(),
        Err(e) => panic!(
            "{}: {e}: build it with `cargo build --release` (build/test does it first) or run build/size",
            release.display()
        ),
    };
    assert!(
        size <= budget,
        "{} is {size} bytes, {} over the budget of {budget} in build/size-budget: run build/size to see where the bytes went",
        release.display(),
        size - budget
    );
}

#[test]
fn the_budget_file_is_read_as_one_number() {
    assert_eq!(budget("# bytes\n\n480000\n"), Some(480_000));
    assert_eq!(budget("# only a comment\n"), None);
    assert_eq!(budget("48O000\n"), None);
}
