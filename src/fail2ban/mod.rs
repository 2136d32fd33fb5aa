//! Everything that speaks to fail2ban's control socket: the pickle codec (`pickle`), typed
//! views of replies (`replies`) and the non-blocking command client (`client`).
//!
//! `Error` is the one error type of this layer. Its `Display` is what users read in `/health`
//! and on stderr, so each variant names the cause *and the fix*.

pub(crate) mod client;
pub mod pickle;
pub(crate) mod replies;

// What tests, benches and fuzz targets read replies with.
pub use replies::{envelope, parse_ban_line, JailStatus};

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Why a fail2ban command did not produce a value.
#[derive(Debug, Clone)]
pub enum Error {
    /// `connect(2)` on the socket failed.
    Connect {
        path: PathBuf,
        errno: rustix::io::Errno,
    },
    /// `--socket` names something that exists but is no socket (a file, a directory).
    NotASocket { path: PathBuf, kind: &'static str },
    /// The connection failed while a command was in flight (reset, EOF, write error).
    Io {
        path: PathBuf,
        what: &'static str,
        errno: Option<rustix::io::Errno>,
    },
    /// No complete reply within the per-command timeout.
    Timeout { command: String, after: Duration },
    /// The bytes were not a pickle we can decode.
    Garbage { path: PathBuf, detail: String },
    /// The reply grew beyond the configured cap; the connection was dropped.
    TooLarge { limit: usize },
    /// fail2ban answered with an exception (`(1, exc)`) or an `ERROR: ...` string.
    Server(replies::ServerError),
    /// The reply decoded, but not into the shape this command returns.
    Shape(replies::ShapeError),
    /// The command itself was refused before it was sent (e.g. an argument held the terminator).
    Refused(String),
    /// banwatch's queue of fail2ban commands is full.
    Busy,
}

impl Error {
    /// True when the error says fail2ban is unreachable or broken (as opposed to a reply that
    /// merely refused this one command, like an unknown jail).
    pub fn is_transport(&self) -> bool {
        !matches!(self, Error::Server(_) | Error::Refused(_) | Error::Busy)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use rustix::io::Errno;
        match self {
            Error::Connect { path, errno } => {
                let p = path.display();
                match *errno {
                    Errno::NOENT => write!(
                        f,
                        "no fail2ban socket at {p}: is fail2ban running, and is --socket the right path?"
                    ),
                    Errno::ACCESS | Errno::PERM => write!(
                        f,
                        "permission denied on {p}: run banwatch as root or as the socket's owner"
                    ),
                    Errno::CONNREFUSED => write!(
                        f,
                        "connection refused on {p}: a stale socket, fail2ban is not running (did it die?)"
                    ),
                    Errno::AGAIN => write!(
                        f,
                        "fail2ban at {p} is not accepting connections (its backlog is full): it may be hung"
                    ),
                    e => write!(f, "cannot connect to {p}: {e}"),
                }
            }
            Error::NotASocket { path, kind } => write!(
                f,
                "{} is {kind}, not a socket: point --socket at fail2ban's socket (`socket` in fail2ban.conf)",
                path.display()
            ),
            Error::Io { path, what, errno } => match errno {
                Some(e) => write!(f, "fail2ban connection on {} failed while {what}: {e}", path.display()),
                None => write!(
                    f,
                    "fail2ban closed the connection on {} while {what}: it may have stopped or restarted",
                    path.display()
                ),
            },
            Error::Timeout { command, after } => write!(
                f,
                "fail2ban did not answer `{command}` within {} s: it is hung or busy (raise --timeout if it is just slow)",
                crate::json::Secs(*after)
            ),
            Error::Garbage { path, detail } => write!(
                f,
                "garbage reply on {}: {detail}: is that really fail2ban's socket?",
                path.display()
            ),
            Error::TooLarge { limit } => {
                write!(f, "fail2ban's reply exceeded the {limit}-byte limit; the connection was dropped")
            }
            Error::Server(e) => write!(f, "fail2ban refused the command: {e}"),
            Error::Shape(e) => write!(f, "unexpected reply from fail2ban: {e}"),
            Error::Refused(why) => write!(f, "command not sent: {why}"),
            Error::Busy => write!(f, "too many fail2ban commands queued; retry shortly"),
        }
    }
}

impl std::error::Error for Error {}

impl From<replies::ReplyError> for Error {
    fn from(e: replies::ReplyError) -> Self {
        match e {
            replies::ReplyError::Server(s) => Error::Server(s),
            replies::ReplyError::Shape(s) => Error::Shape(s),
        }
    }
}
