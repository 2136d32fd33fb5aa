//! The commands behind the process edge: parse the command line, run `serve`, `check` or
//! `query`, map the outcome to an exit code. Exit codes: 0 success; 1 a check failed or fail2ban
//! answered with an error; 2 usage errors, startup errors, or fail2ban cannot be reached (`query`).

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::time::Instant;

use log::Level;

use crate::cli::{self, Command, ServeConfig};
use crate::context::Context;
use crate::event_loop::{self, Server};
use crate::fail2ban::{client, Error};
use crate::state::State;

/// Run banwatch with the process's arguments and environment.
pub fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os().skip(1), |k| {
        std::env::var_os(k)?.into_string().ok()
    }) {
        Ok(c) => c,
        Err(e) => {
            crate::logger::write_stderr(&format!("banwatch: {e}\n"));
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            print(cli::HELP);
            ExitCode::SUCCESS
        }
        Command::Version => {
            print(concat!("banwatch ", env!("CARGO_PKG_VERSION"), "\n"));
            ExitCode::SUCCESS
        }
        Command::Check { url, timeout } => {
            let (mut line, ok) = crate::check::run(&url, timeout);
            line.push('\n');
            print(&line);
            ExitCode::from(if ok { 0 } else { 1 })
        }
        Command::Query {
            socket,
            timeout,
            args,
        } => query(&socket, args, timeout),
        Command::Serve(config) => match serve(config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                crate::logger::write_stderr(&format!("banwatch: {e}\n"));
                ExitCode::from(2)
            }
        },
    }
}

/// Write `text` to stdout as `print!` would: see `logger::write_all`.
fn print(text: &str) {
    crate::logger::write_all(rustix::stdio::stdout(), "stdout", text);
}

fn query(socket: &std::path::Path, args: Vec<String>, timeout: std::time::Duration) -> ExitCode {
    let max = crate::fail2ban::pickle::DEFAULT_MAX_REPLY;
    match client::query(socket, args, timeout, max, crate::state::Tag::Status) {
        Ok(value) => {
            let mut json = crate::pyjson::to_json(&value);
            json.push('\n');
            print(&json);
            ExitCode::SUCCESS
        }
        Err(Error::Server(e)) => {
            let mut out = Vec::new();
            let mut obj = crate::json::Obj::new(&mut out);
            crate::pyjson::server_error(obj.key("error"), &e);
            obj.end();
            out.push(b'\n');
            // Valid UTF-8 (the JSON writer writes only `str`s and ASCII): checked as the
            // history's writer does, not through the lossy decoder, which nothing else links.
            print(&String::from_utf8(out).unwrap_or_default());
            ExitCode::from(1)
        }
        Err(e) => {
            crate::logger::write_stderr(&format!("banwatch: {e}\n"));
            ExitCode::from(2)
        }
    }
}

/// A non-blocking listener on `addr`, set up as std's `TcpListener::bind` does it (SO_REUSEADDR,
/// a backlog of 128), through rustix, whose socket calls are linked anyway.
fn listen(addr: SocketAddr) -> std::io::Result<OwnedFd> {
    let fd = crate::fdio::tcp_socket(&addr)?;
    rustix::net::sockopt::set_socket_reuseaddr(&fd, true)?;
    rustix::net::bind(&fd, &addr)?;
    rustix::net::listen(&fd, 128)?;
    Ok(fd)
}

/// Log a line of `serve` at `level`: one `log` call site for them all, rather than a record
/// built at each (the target, `banwatch::commands`, is the same).
fn note(level: Level, args: std::fmt::Arguments) {
    log::log!(level, "{args}");
}

fn serve(config: ServeConfig) -> Result<(), String> {
    crate::logger::init();
    let token = match &config.token_file {
        Some(path) => Some(crate::token::read_token_file(path)?),
        None => None,
    };
    let listener = listen(config.listen).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "{} is in use: another banwatch or exporter on it? use --listen ADDR to pick another",
            config.listen
        ),
        std::io::ErrorKind::PermissionDenied => {
            format!(
                "cannot bind {}: permission denied (ports below 1024 need root)",
                config.listen
            )
        }
        _ => format!("cannot listen on {}: {e}", config.listen),
    })?;
    let signals = event_loop::install_signals().map_err(|e| format!("signal handlers: {e}"))?;
    let fail2ban = client::Client::new(config.socket, config.timeout, config.max_reply);
    let mut state = State::new(fail2ban, config.interval, Instant::now());
    if let Some(path) = &config.state_file {
        // A history that cannot be read is reported and replaced, never a reason not to start.
        match crate::history::History::load(path) {
            Ok(Some(history)) => {
                note(
                    Level::Info,
                    format_args!("history read from {}", path.display()),
                );
                state.history = history;
            }
            Ok(None) => note(
                Level::Info,
                format_args!("no saved history at {} yet", path.display()),
            ),
            Err(why) => note(
                Level::Warn,
                format_args!(
                    "ignoring the saved history in {}: {why}; starting with an empty one",
                    path.display()
                ),
            ),
        }
    }
    let ctx = Context::new(token, config.protect_reads, config.metrics_per_ip);
    note(
        Level::Info,
        format_args!(
            "banwatch {} listening on http://{} for fail2ban at {} (writes {})",
            env!("CARGO_PKG_VERSION"),
            config.listen,
            state.client.path().display(),
            if ctx.token.is_some() {
                "enabled"
            } else {
                "disabled"
            }
        ),
    );
    let mut server = Server::new(
        listener,
        state,
        ctx,
        config.token_file,
        config.max_connections,
        signals,
    );
    server.run().map_err(|e| format!("event loop: {e}"))?;
    if let Some(path) = &config.state_file {
        match server.state().history.save(path) {
            Ok(()) => note(
                Level::Info,
                format_args!("history saved to {}", path.display()),
            ),
            Err(e) => note(
                Level::Warn,
                format_args!("could not save the history to {}: {e}", path.display()),
            ),
        }
    }
    note(Level::Info, format_args!("stopped"));
    Ok(())
}
