//! The command line: argv (and `BANWATCH_*` env vars for serve options) becomes a plain
//! `Command`, validated in one place. The grammar is lexopt's, reduced to what banwatch has:
//! `--name value`, `--name=value`, `-h`/`-V`, `--` before values; read here in a loop that costs
//! a fraction of that crate's code. Flags win over env vars. Every error is one line that quotes
//! the bad value; `main` prints it and exits 2.

use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::json::Secs;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9191";
pub const DEFAULT_SOCKET: &str = "/var/run/fail2ban/fail2ban.sock";
pub const DEFAULT_CHECK_URL: &str = "http://127.0.0.1:9191/health";

pub const HELP: &str = "\
banwatch: see and check fail2ban: /health, a JSON API, Prometheus metrics, one HTML page

Usage:
  banwatch [serve] [OPTIONS]       run the sidecar (the default)
  banwatch check [--url URL] [--timeout SECS]
                                   GET URL (default http://127.0.0.1:9191/health): exit 0 on 2xx, else 1;
                                   the host is an IP address or localhost (no DNS lookup)
  banwatch query [--socket PATH] [--timeout SECS] [--] ARG...
                                   send one fail2ban command, print the reply as JSON
                                   (exit 0 ok, 1 fail2ban error reply, 2 cannot talk to fail2ban)
  banwatch --help | --version

Serve options (each also from an env var, e.g. BANWATCH_LISTEN; flags win):
  --listen ADDR            address to serve HTTP on [127.0.0.1:9191]
  --socket PATH            fail2ban's control socket [/var/run/fail2ban/fail2ban.sock]
  --interval SECS          probe fail2ban every SECS [5]
  --timeout SECS           per fail2ban command [3]
  --token-file PATH        enables ban/unban; the file holds the bearer token (mode 0600)
  --protect-reads          also require the token for /api, /metrics and the page's data
  --max-connections N      concurrent HTTP connections [64]
  --metrics-per-ip N       export f2b_banned_ip for at most N IPs per jail [0]
  --max-reply-bytes N      largest fail2ban reply accepted [67108864]
  --state-file PATH        keep the ban history across restarts (saved on SIGTERM, read at start)

Logs go to stderr; set RUST_LOG=debug for more. Docs: README.md, docs/openapi.yaml
";

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Serve(ServeConfig),
    Check {
        url: String,
        timeout: Duration,
    },
    Query {
        socket: PathBuf,
        timeout: Duration,
        args: Vec<String>,
    },
    Help,
    Version,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub socket: PathBuf,
    /// Time between probe starts.
    pub interval: Duration,
    /// Per fail2ban command.
    pub timeout: Duration,
    pub token_file: Option<PathBuf>,
    pub protect_reads: bool,
    pub max_connections: usize,
    /// 0 = no per-IP series.
    pub metrics_per_ip: usize,
    /// Bytes.
    pub max_reply: usize,
    /// Where the history is saved on SIGTERM and loaded at start; None keeps it in memory only.
    pub state_file: Option<PathBuf>,
}

/// Upper bound for `--max-connections`: each connection holds up to ~40 KiB of buffers.
pub const MAX_CONNECTIONS_LIMIT: usize = 10_000;

/// The commands, as bits of the set of commands an option belongs to.
const SERVE: u8 = 1;
const CHECK: u8 = 2;
const QUERY: u8 = 4;

/// An option that takes a value: its index in `OPTIONS`.
#[derive(Clone, Copy)]
enum Opt {
    Listen,
    Socket,
    Interval,
    Timeout,
    TokenFile,
    MaxConnections,
    MetricsPerIp,
    MaxReplyBytes,
    StateFile,
    Url,
}

/// Every option that takes a value: its name, the commands that accept it, the env var `serve`
/// reads when the flag is absent (`query` reads only BANWATCH_SOCKET, `check` none), and its
/// default ("" for none). One table instead of code per option.
const OPTIONS: [(&str, u8, &str, &str); 10] = [
    ("listen", SERVE, "BANWATCH_LISTEN", DEFAULT_LISTEN),
    ("socket", SERVE | QUERY, "BANWATCH_SOCKET", DEFAULT_SOCKET),
    ("interval", SERVE, "BANWATCH_INTERVAL", "5"),
    ("timeout", SERVE | CHECK | QUERY, "BANWATCH_TIMEOUT", "3"),
    ("token-file", SERVE, "BANWATCH_TOKEN_FILE", ""),
    ("max-connections", SERVE, "BANWATCH_MAX_CONNECTIONS", "64"),
    ("metrics-per-ip", SERVE, "BANWATCH_METRICS_PER_IP", "0"),
    (
        "max-reply-bytes",
        SERVE,
        "BANWATCH_MAX_REPLY_BYTES",
        "67108864",
    ),
    ("state-file", SERVE, "BANWATCH_STATE_FILE", ""),
    ("url", CHECK, "", DEFAULT_CHECK_URL),
];

/// The option values given (a later flag replaces an earlier one), by `Opt`.
struct Values([Option<String>; OPTIONS.len()]);

impl Values {
    /// The value given, or the default.
    fn text(&self, opt: Opt) -> &str {
        self.0[opt as usize]
            .as_deref()
            .unwrap_or(OPTIONS[opt as usize].3)
    }
    /// The value as seconds; an error names the option.
    fn secs(&self, opt: Opt) -> Result<Duration, String> {
        secs(OPTIONS[opt as usize].0, self.text(opt))
    }
    /// A path, None when empty.
    fn path(&self, opt: Opt) -> Option<PathBuf> {
        Some(self.text(opt))
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    }
}

/// Parse argv (without the program name) and the environment.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, String> {
    let mut args = args.into_iter();
    // 0 until a command word is read: serve.
    let mut command = 0;
    let mut values = Values(Default::default());
    let mut protect_reads = false;
    let mut rest: Vec<String> = Vec::new();
    // After `--` every argument is a value.
    let mut options_ended = false;
    let not_utf8 = |v: OsString| format!("not UTF-8: argument is invalid unicode: {v:?}");
    while let Some(arg) = args.next() {
        let bytes = arg.as_bytes();
        if !options_ended && bytes == b"--" {
            options_ended = true;
        } else if !options_ended && bytes.starts_with(b"--") {
            // `--name=value` or `--name value`; the name ends at the first `=`.
            let (name, attached) = match bytes.iter().position(|&b| b == b'=') {
                Some(at) => (&bytes[2..at], Some(OsStr::from_bytes(&bytes[at + 1..]))),
                None => (&bytes[2..], None),
            };
            let name = String::from_utf8_lossy(name);
            match &*name {
                "help" => return Ok(Command::Help),
                "version" => return Ok(Command::Version),
                "protect-reads" => match attached {
                    None => protect_reads = true,
                    Some(v) => {
                        return Err(format!("unexpected argument for option '--{name}': {v:?}"))
                    }
                },
                _ => {
                    let accepted_by = if command == 0 { SERVE } else { command };
                    let Some(i) = OPTIONS
                        .iter()
                        .position(|(n, by, ..)| *n == name && by & accepted_by != 0)
                    else {
                        return Err(format!("unknown option '--{name}' (see banwatch --help)"));
                    };
                    // The next argument is the value whatever it looks like.
                    let value = match attached {
                        Some(v) => v.to_owned(),
                        None => args
                            .next()
                            .ok_or_else(|| format!("missing argument for option '--{name}'"))?,
                    };
                    let value = value
                        .into_string()
                        .map_err(|v| format!("--{name}: {}", not_utf8(v)))?;
                    values.0[i] = Some(value);
                }
            }
        } else if !options_ended && bytes.len() > 1 && bytes[0] == b'-' {
            // Short options: only -h and -V exist, so the first letter decides.
            let c = String::from_utf8_lossy(&bytes[1..])
                .chars()
                .next()
                .unwrap_or_default();
            return match c {
                'h' => Ok(Command::Help),
                'V' => Ok(Command::Version),
                _ => Err(format!("unknown option '-{c}' (see banwatch --help)")),
            };
        } else if command == 0 {
            let v = arg.into_string().map_err(not_utf8)?;
            command = match v.as_str() {
                "serve" => SERVE,
                "check" => CHECK,
                "query" => QUERY,
                "" => return Err("empty argument".into()),
                _ => {
                    return Err(format!(
                        "unknown command '{v}' (expected serve, check or query)"
                    ))
                }
            };
        } else if command == QUERY {
            // The first word of a query starts the fail2ban command: all that follows is taken
            // verbatim, so `banwatch query get sshd banip --with-time` needs no `--`.
            rest.push(arg.into_string().map_err(not_utf8)?);
            rest.extend(args.by_ref().map(|a| a.to_string_lossy().into_owned()));
        } else {
            return Err(format!("unexpected argument '{}'", arg.to_string_lossy()));
        }
    }
    match command {
        CHECK => Ok(Command::Check {
            url: values.text(Opt::Url).into(),
            timeout: values.secs(Opt::Timeout)?,
        }),
        QUERY => {
            if rest.is_empty() {
                return Err("query needs a fail2ban command, e.g. banwatch query status".into());
            }
            let socket = &mut values.0[Opt::Socket as usize];
            if socket.is_none() {
                *socket = env("BANWATCH_SOCKET");
            }
            Ok(Command::Query {
                socket: PathBuf::from(values.text(Opt::Socket)),
                timeout: values.secs(Opt::Timeout)?,
                args: rest,
            })
        }
        _ => {
            // Flags win; otherwise the env var; otherwise the default.
            for (value, (_, by, var, _)) in values.0.iter_mut().zip(OPTIONS) {
                if value.is_none() && by & SERVE != 0 {
                    *value = env(var);
                }
            }
            serve_config(&values, protect_reads, env("BANWATCH_PROTECT_READS")).map(Command::Serve)
        }
    }
}

/// `protect_reads_env` counts only when the flag is absent.
fn serve_config(
    values: &Values,
    protect_reads_flag: bool,
    protect_reads_env: Option<String>,
) -> Result<ServeConfig, String> {
    let listen_text = values.text(Opt::Listen);
    let listen = socket_addr(listen_text).ok_or_else(|| {
        format!("--listen: '{listen_text}' is not an address like 127.0.0.1:9191 or [::1]:9191")
    })?;
    let protect_reads = protect_reads_flag
        || match protect_reads_env.as_deref() {
            None | Some("") | Some("0") | Some("false") | Some("no") => false,
            Some("1") | Some("true") | Some("yes") => true,
            Some(v) => {
                return Err(format!(
                    "BANWATCH_PROTECT_READS: '{v}' is not true or false"
                ))
            }
        };
    let token_file = values.path(Opt::TokenFile);
    if protect_reads && token_file.is_none() {
        return Err("--protect-reads needs --token-file (the token readers must present)".into());
    }
    let count = |opt: Opt, min: usize, max: usize| {
        count(OPTIONS[opt as usize].0, values.text(opt), min, max)
    };
    Ok(ServeConfig {
        listen,
        socket: PathBuf::from(values.text(Opt::Socket)),
        interval: values.secs(Opt::Interval)?,
        timeout: values.secs(Opt::Timeout)?,
        token_file,
        protect_reads,
        max_connections: count(Opt::MaxConnections, 1, MAX_CONNECTIONS_LIMIT)?,
        metrics_per_ip: count(Opt::MetricsPerIp, 0, 100_000)?,
        max_reply: count(Opt::MaxReplyBytes, 1024, 1 << 30)?,
        state_file: values.path(Opt::StateFile),
    })
}

/// `IPv4:port` or `[IPv6]:port` (with an optional `%scope`): what std's `SocketAddr` parser
/// accepts, through the `IpAddr` parser the API links anyway.
pub fn socket_addr(text: &str) -> Option<SocketAddr> {
    // Digits only, as that parser reads a port or scope: no sign, leading zeros allowed.
    let decimal = |text: &str| {
        text.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| text.parse::<u32>().ok())?
    };
    let (host, port) = text.rsplit_once(':')?;
    let port = u16::try_from(decimal(port)?).ok()?;
    let bracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    let (ip, scope) = match bracketed {
        None => (host, 0),
        Some(inner) => match inner.split_once('%') {
            None => (inner, 0),
            Some((ip, scope)) => (ip, decimal(scope)?),
        },
    };
    match ip.parse().ok()? {
        IpAddr::V4(ip) if bracketed.is_none() => Some(SocketAddr::V4(SocketAddrV4::new(ip, port))),
        IpAddr::V6(ip) if bracketed.is_some() => {
            Some(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope)))
        }
        _ => None,
    }
}

/// Shortest `--interval` and `--timeout` in milliseconds: anything shorter would keep a router
/// busy probing.
const MIN_MILLIS: u64 = 100;
/// Longest `--interval` and `--timeout` in milliseconds: a day.
const MAX_MILLIS: u64 = 86_400_000;

/// Seconds as a decimal ("3", "0.5") from `MIN_MILLIS` to `MAX_MILLIS`, to the millisecond.
fn secs(name: &str, text: &str) -> Result<Duration, String> {
    match millis(text.trim()) {
        Some(ms) if (MIN_MILLIS..=MAX_MILLIS).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(format!(
            "--{name}: '{text}' is not a number of seconds from {} to {} (to the millisecond)",
            Secs(Duration::from_millis(MIN_MILLIS)),
            Secs(Duration::from_millis(MAX_MILLIS))
        )),
    }
}

/// The milliseconds in decimal seconds: digits, optionally `.` and up to three more digits
/// (further ones only if zeros: a value is never rounded into another). Integers only, since
/// core's float parsing costs ~17 KB (issue 14).
fn millis(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !digits(whole) || !digits(fraction) {
        return None;
    }
    let mut ms = 0u64;
    for c in whole.bytes() {
        ms = ms.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    ms = ms.checked_mul(1000)?;
    for (c, unit) in fraction
        .bytes()
        .zip([100, 10, 1].into_iter().chain(std::iter::repeat(0)))
    {
        if unit == 0 && c != b'0' {
            return None;
        }
        ms += u64::from(c - b'0') * unit;
    }
    Some(ms)
}

fn count(name: &str, text: &str, min: usize, max: usize) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "--{name}: '{text}' is not a whole number from {min} to {max}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from), |_| None)
    }

    #[test]
    fn bare_banwatch_serves_with_defaults() {
        let Ok(Command::Serve(c)) = run(&[]) else {
            panic!("expected serve")
        };
        assert_eq!(c.listen.to_string(), "127.0.0.1:9191");
        assert_eq!(c.interval, Duration::from_secs(5));
        assert_eq!(c.max_connections, 64);
    }

    #[test]
    fn flags_win_over_env() {
        let env = |k: &str| (k == "BANWATCH_LISTEN").then(|| "127.0.0.1:1".to_string());
        let Ok(Command::Serve(c)) = parse(["--listen", "127.0.0.1:2"].map(OsString::from), env)
        else {
            panic!()
        };
        assert_eq!(c.listen.port(), 2);
        let Ok(Command::Serve(c)) = parse(Vec::<OsString>::new(), env) else {
            panic!()
        };
        assert_eq!(c.listen.port(), 1);
    }

    #[test]
    fn bad_values_are_one_line_errors_that_quote_the_value() {
        for (args, needle) in [
            (&["--interval", "zero"][..], "'zero'"),
            (&["--listen", "nowhere"][..], "'nowhere'"),
            (&["--max-connections", "0"][..], "'0'"),
            (&["--bogus"][..], "'--bogus'"),
            (&["frobnicate"][..], "'frobnicate'"),
            (&["--protect-reads"][..], "--token-file"),
            (
                &["--timeout", "0"][..],
                "'0' is not a number of seconds from 0.1 to 86400",
            ),
            (&["--interval", "0.01"][..], "from 0.1 to 86400"),
            (&["--timeout", "86401"][..], "from 0.1 to 86400"),
            (&["--interval", "NaN"][..], "'NaN'"),
            (&["--interval", "inf"][..], "'inf'"),
            (&["--interval", "1e3"][..], "'1e3'"),
            (&["--interval", "-1"][..], "'-1'"),
            (&["--interval", "."][..], "'.'"),
            (&["--interval", "1.2.3"][..], "'1.2.3'"),
            (&["--timeout", "0.0999"][..], "from 0.1 to 86400"),
            (&["--timeout", "0.1001"][..], "to the millisecond"),
            (&["--timeout", "86400.001"][..], "from 0.1 to 86400"),
            (
                &["--timeout", "99999999999999999999"][..],
                "from 0.1 to 86400",
            ),
        ] {
            let err = run(args).expect_err("must fail");
            assert!(
                err.contains(needle) && !err.contains('\n'),
                "{args:?}: {err}"
            );
        }
    }

    #[test]
    fn seconds_are_read_to_the_millisecond_without_rounding() {
        for (text, ms) in [
            ("0.1", 100),
            (" 3 ", 3000),
            ("0.5", 500),
            (".25", 250),
            ("5.", 5000),
            ("1.234", 1234),
            ("1.2340000", 1234),
            ("007", 7000),
            ("86400", 86_400_000),
            ("86400.000", 86_400_000),
        ] {
            assert_eq!(
                secs("timeout", text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for text in [
            "",
            ".",
            "1.2345",
            "0.09",
            "86400.001",
            "1e2",
            "+1",
            "1,5",
            "٣",
        ] {
            assert!(secs("timeout", text).is_err(), "{text}");
        }
    }

    #[test]
    fn query_takes_the_rest_verbatim() {
        let c = run(&[
            "query",
            "--socket",
            "/s",
            "--",
            "get",
            "sshd",
            "banip",
            "--with-time",
        ])
        .unwrap();
        let Command::Query { socket, args, .. } = c else {
            panic!()
        };
        assert_eq!(socket, PathBuf::from("/s"));
        assert_eq!(args, ["get", "sshd", "banip", "--with-time"]);
        let Command::Query { args, .. } = run(&["query", "status", "sshd"]).unwrap() else {
            panic!()
        };
        assert_eq!(args, ["status", "sshd"]);
    }
    #[test]
    fn listen_addresses_are_read_as_std_reads_a_socket_address() {
        for text in [
            "127.0.0.1:9191",
            "0.0.0.0:0",
            "1.2.3.4:080",
            "1.2.3.4:65535",
            "1.2.3.4:65536",
            "1.2.3.4:+80",
            "1.2.3.4:",
            "1.2.3.4",
            ":80",
            "1.2.3:80",
            "01.2.3.4:80",
            "1.2.3.4:80:80",
            "1.2.3.4 :80",
            "[::1]:9191",
            "[::1]",
            "::1:80",
            "[::1]:",
            "[::]:1",
            "[fe80::1%2]:80",
            "[fe80::1%]:80",
            "[fe80::1%x]:80",
            "[fe80::1%4294967296]:80",
            "[fe80::1%+2]:80",
            "[::ffff:1.2.3.4]:80",
            "[1.2.3.4]:80",
            "[[::1]]:80",
            "[::1]]:80",
            "[::1:80",
            "localhost:80",
            "",
            "[]:80",
        ] {
            assert_eq!(socket_addr(text), text.parse().ok(), "{text}");
        }
    }

    #[test]
    fn the_grammar_and_messages_are_lexopts() {
        use std::os::unix::ffi::OsStringExt;
        for (args, want) in [
            (
                &["--interval"][..],
                "missing argument for option '--interval'",
            ),
            (
                &["--protect-reads=1"][..],
                "unexpected argument for option '--protect-reads': \"1\"",
            ),
            (&["--listen", "--", "x"][..], "unknown command 'x'"),
            (&["--", "-h"][..], "unknown command '-h'"),
            (&["-xh"][..], "unknown option '-x'"),
            (&["---"][..], "unknown option '---'"),
            (&["check", "--", "--url"][..], "unexpected argument '--url'"),
        ] {
            let err = run(args).expect_err("must fail");
            assert!(err.starts_with(want), "{args:?}: {err}");
        }
        assert_eq!(run(&["-hx"]), Ok(Command::Help));
        assert_eq!(run(&["--version=2"]), Ok(Command::Version));
        let Ok(Command::Check { url, .. }) = run(&["check", "--url=a=b"]) else {
            panic!()
        };
        assert_eq!(url, "a=b");
        let Ok(Command::Query { args, .. }) = run(&["query", "--", "--", "-h"]) else {
            panic!()
        };
        assert_eq!(args, ["--", "-h"]);
        let bad = |b: &[u8]| OsString::from_vec(b.to_vec());
        for (args, want) in [
            (
                vec![bad(b"--listen=\xff")],
                "--listen: not UTF-8: argument is invalid unicode: \"\\xFF\"",
            ),
            (vec![bad(b"-\xffh")], "unknown option '-\u{fffd}'"),
            (
                vec![bad(b"--li\xffsten")],
                "unknown option '--li\u{fffd}sten'",
            ),
        ] {
            let err = parse(args.clone(), |_| None).expect_err("must fail");
            assert!(err.starts_with(want), "{args:?}: {err}");
        }
    }
}
