//! Log lines to stderr, `[2026-12-02T14:37:27Z WARN  banwatch::state] message`, the format
//! env_logger wrote here (UTC, whole seconds), for a fraction of its bytes (~30 KB). `RUST_LOG`
//! picks the level: `error`, `warn`, `info` (the default), `debug`, `trace` or `off`, and
//! `module=level` directives for one module and those below it (the longest match wins), e.g.
//! `RUST_LOG=warn,banwatch::event_loop=debug`. Words it does not know are ignored. Each line is
//! one write with `write_all`, which the commands also use for stdout: no std stdio buffers.

use std::os::fd::BorrowedFd;

use log::{LevelFilter, Log, Metadata, Record};
use rustix::io::Errno;

/// Most `module=level` directives kept from `RUST_LOG`; the rest are ignored.
const MAX_DIRECTIVES: usize = 16;

struct Stderr {
    default: LevelFilter,
    /// (module prefix, level); the longest matching prefix applies. Slices of the `RUST_LOG`
    /// value, which lives as long as the process (as the logger does), not copies of it.
    modules: Vec<(&'static str, LevelFilter)>,
}

/// The levels `spec` (a `RUST_LOG` value) asks for: the default and per-module ones.
fn parse(spec: &'static str) -> (LevelFilter, Vec<(&'static str, LevelFilter)>) {
    let mut default = LevelFilter::Info;
    let mut modules = Vec::new();
    for directive in spec.split(',').map(str::trim) {
        match directive.split_once('=') {
            Some((module, level)) => {
                if let (Ok(level), true) = (level.trim().parse(), modules.len() < MAX_DIRECTIVES) {
                    modules.push((module.trim(), level));
                }
            }
            None => {
                if let Ok(level) = directive.parse() {
                    default = level;
                }
            }
        }
    }
    (default, modules)
}

impl Stderr {
    fn level(&self, target: &str) -> LevelFilter {
        // A scan rather than a sorted list: a sort instantiation costs ~3 KB of code.
        self.modules
            .iter()
            .filter(|(m, _)| {
                target
                    .strip_prefix(m)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
            })
            .max_by_key(|(m, _)| m.len())
            .map_or(self.default, |(_, l)| *l)
    }
}

impl Log for Stderr {
    fn enabled(&self, meta: &Metadata) -> bool {
        meta.level() <= self.level(meta.target())
    }
    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            let now = crate::timefmt::rfc3339(std::time::SystemTime::now());
            write_stderr(&format!(
                "[{now} {:<5} {}] {}\n",
                record.level(),
                record.target(),
                record.args()
            ));
        }
    }
    fn flush(&self) {}
}

/// Write `text` to stderr as `eprint!` would: see `write_all`.
pub fn write_stderr(text: &str) {
    write_all(rustix::stdio::stderr(), "stderr", text);
}

/// Write all of `text` to stdout or stderr (`name`) as `print!` and `eprint!` do (a closed
/// descriptor swallows it, any other failure panics with their message), in plain write calls:
/// std's buffered stdio machinery is then not linked.
pub fn write_all(fd: BorrowedFd, name: &str, text: &str) {
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        match rustix::io::write(fd, rest) {
            Ok(0) => panic!("failed printing to {name}: failed to write whole buffer"),
            Ok(n) => rest = &rest[n..],
            Err(Errno::INTR) => {}
            Err(Errno::BADF) => return,
            Err(e) => panic!("failed printing to {name}: {}", std::io::Error::from(e)),
        }
    }
}

/// Install the logger with the levels of `RUST_LOG` (`info` when unset).
pub fn init() {
    let spec = std::env::var_os("RUST_LOG").and_then(|s| s.into_string().ok());
    let (default, modules) = parse(spec.map_or("", |s| &*s.leak()));
    let max = modules.iter().map(|(_, l)| *l).fold(default, Ord::max);
    // Leaked for the process's life, as `set_boxed_logger` would (`init` runs once).
    if log::set_logger(Box::leak(Box::new(Stderr { default, modules }))).is_ok() {
        log::set_max_level(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_levels_and_module_directives() {
        let logger = |spec: &'static str| {
            let (default, modules) = parse(spec);
            Stderr { default, modules }
        };
        assert_eq!(logger("").level("banwatch"), LevelFilter::Info);
        assert_eq!(logger("warn").level("banwatch::state"), LevelFilter::Warn);
        assert_eq!(logger("TRACE").level("x"), LevelFilter::Trace);
        assert_eq!(logger("off").level("x"), LevelFilter::Off);
        assert_eq!(logger("bogus").level("x"), LevelFilter::Info);
        let l = logger("warn,banwatch::event_loop=debug,banwatch=info");
        assert_eq!(l.level("banwatch::event_loop"), LevelFilter::Debug);
        assert_eq!(l.level("banwatch::state"), LevelFilter::Info);
        assert_eq!(l.level("banwatchx"), LevelFilter::Warn);
        assert_eq!(l.level("rustix"), LevelFilter::Warn);
    }
}
