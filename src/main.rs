//! The process edge: everything happens in `banwatch::main` (src/commands.rs), so the library
//! can keep its modules private and the compiler reports what nothing uses.

fn main() -> std::process::ExitCode {
    banwatch::main()
}
