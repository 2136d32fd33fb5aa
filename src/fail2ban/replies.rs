//! Typed views of fail2ban replies. Each view checks the shape it reads and says clearly what it
//! expected and what came, so a new fail2ban version that changes a reply is diagnosed, not
//! misread. The envelope (`(0, value)` / `(1, exception)` / `"ERROR: ..."`) is unwrapped here too.

use std::fmt;

use time::UtcOffset;

use super::pickle::{Call, Value};

/// fail2ban answered with an exception or an error string.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerError {
    /// The exception class name without its module (`UnknownJailException`), or `ERROR` for a
    /// bare error string, or `SHUTDOWN`.
    pub class: String,
    pub args: Vec<Value>,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written piece by piece: a `Vec<String>` and `join` cost more code than this loop.
        write!(f, "{}: ", self.class)?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match a {
                Value::Str(s) => write!(f, "'{}'", s.as_str())?,
                other => f.write_str(&crate::pyjson::to_json(other))?,
            }
        }
        Ok(())
    }
}

/// A reply that decoded but is not the shape a view expects.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeError {
    pub expected: &'static str,
    /// A short rendering of what came instead.
    pub got: String,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, got {}", self.expected, self.got)
    }
}

impl std::error::Error for ShapeError {}

fn shape(expected: &'static str, got: &Value) -> ShapeError {
    let mut text = crate::pyjson::to_json(got);
    if text.len() > 120 {
        let mut end = 117;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    ShapeError {
        expected,
        got: text,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReplyError {
    Server(ServerError),
    Shape(ShapeError),
}

/// Unwrap the reply envelope.
pub fn envelope(v: Value) -> Result<Value, ReplyError> {
    match v {
        Value::Tuple(mut items) if items.len() == 2 => {
            let payload = items.pop().unwrap_or(Value::None);
            match &items[0] {
                Value::Int(0) => Ok(payload),
                Value::Int(1) => Err(ReplyError::Server(exception(payload))),
                code => Err(ReplyError::Shape(shape("return code 0 or 1", code))),
            }
        }
        Value::Str(s) if s.starts_with("ERROR") => Err(ReplyError::Server(ServerError {
            class: "ERROR".into(),
            args: vec![Value::Str(s)],
        })),
        // Matched in place: building a `Value` to compare with would link `Value::eq`.
        Value::List(items) if matches!(items.as_slice(), [Value::Str(s)] if s == "SHUTDOWN") => {
            Err(ReplyError::Server(ServerError {
                class: "SHUTDOWN".into(),
                args: vec![],
            }))
        }
        other => Err(ReplyError::Shape(shape("a (code, value) reply", &other))),
    }
}

fn exception(v: Value) -> ServerError {
    match v {
        Value::Call(call) => {
            let Call { callable, args } = *call;
            match callable {
                Value::Global(g) => ServerError {
                    class: g.name,
                    args,
                },
                other => ServerError {
                    class: crate::pyjson::to_json(&other),
                    args,
                },
            }
        }
        // A bare message string, as anything else, is the one argument.
        other => ServerError {
            class: "Exception".into(),
            args: vec![other],
        },
    }
}

/// The items of a list or tuple.
fn seq<'a>(v: &'a Value, expected: &'static str) -> Result<&'a [Value], ShapeError> {
    match v {
        Value::List(items) | Value::Tuple(items) => Ok(items),
        other => Err(shape(expected, other)),
    }
}

/// In `[('Label', value), ...]`, the value of the first pair labelled `label`, after checking
/// that every item is such a pair. (Read in place: a `Vec` of the pairs costs more code than
/// walking the few items again per label.)
fn labelled<'a>(
    v: &'a Value,
    label: &str,
    expected: &'static str,
) -> Result<Option<&'a Value>, ShapeError> {
    let mut found = None;
    for item in seq(v, expected)? {
        match seq(item, expected)? {
            [Value::Str(l), value] if found.is_none() && l.as_str() == label => found = Some(value),
            [Value::Str(_), _] => {}
            _ => return Err(shape(expected, item)),
        }
    }
    Ok(found)
}

/// `labelled`, where the label must be there.
fn find<'a>(
    v: &'a Value,
    label: &'static str,
    expected: &'static str,
) -> Result<&'a Value, ShapeError> {
    labelled(v, label, expected)?.ok_or(ShapeError {
        expected,
        got: format!("no '{label}'"),
    })
}

pub fn int(v: &Value) -> Result<i64, ShapeError> {
    match v {
        Value::Int(n) => Ok(*n),
        Value::Bool(b) => Ok(i64::from(*b)),
        other => Err(shape("an integer", other)),
    }
}

fn count(v: &Value) -> Result<u64, ShapeError> {
    u64::try_from(int(v)?).map_err(|_| shape("a count", v))
}

pub fn string(v: &Value) -> Result<String, ShapeError> {
    match v {
        Value::Str(s) => Ok(s.to_string()),
        other => Err(shape("a string", other)),
    }
}

pub fn string_list(v: &Value) -> Result<Vec<String>, ShapeError> {
    // A loop, not a `collect` into a `Result`: that adapter costs more code.
    let items = seq(v, "a list of strings")?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(string(item)?);
    }
    Ok(out)
}

/// `status`: `[('Number of jail', n), ('Jail list', 'a, b')]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerStatus {
    pub jails: Vec<String>,
}

impl ServerStatus {
    pub fn from_value(v: &Value) -> Result<Self, ShapeError> {
        const WHAT: &str = "a status reply [('Number of jail', n), ('Jail list', '...')]";
        let list = find(v, "Jail list", WHAT)?;
        let list = list.as_str().ok_or_else(|| shape("a string", list))?;
        let mut jails = Vec::new();
        for name in list.split(',').map(str::trim) {
            if !name.is_empty() {
                jails.push(name.to_string());
            }
        }
        Ok(ServerStatus { jails })
    }
}

/// `status JAIL` (full or `short`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JailStatus {
    pub currently_failed: u64,
    pub total_failed: u64,
    /// Log files (file backends).
    pub files: Vec<String>,
    /// Journal matches (systemd backend).
    pub journal_matches: Vec<String>,
    pub currently_banned: u64,
    pub total_banned: u64,
    /// The banned IPs; None for the `short` flavor.
    pub banned: Option<Vec<String>>,
}

impl JailStatus {
    pub fn from_value(v: &Value) -> Result<Self, ShapeError> {
        const WHAT: &str = "a jail status [('Filter', [...]), ('Actions', [...])]";
        // Checked in the order a list of pairs would have been built: the whole top level,
        // then each section as it is found.
        let filter = find(v, "Filter", WHAT)?;
        labelled(filter, "", WHAT)?;
        let actions = find(v, "Actions", WHAT)?;
        labelled(actions, "", WHAT)?;
        let list = |pairs: &Value, label| match labelled(pairs, label, WHAT)? {
            Some(v) => string_list(v).map(Some),
            None => Ok(None),
        };
        Ok(JailStatus {
            currently_failed: count(find(filter, "Currently failed", WHAT)?)?,
            total_failed: count(find(filter, "Total failed", WHAT)?)?,
            files: list(filter, "File list")?.unwrap_or_default(),
            journal_matches: list(filter, "Journal matches")?.unwrap_or_default(),
            currently_banned: count(find(actions, "Currently banned", WHAT)?)?,
            total_banned: count(find(actions, "Total banned", WHAT)?)?,
            banned: list(actions, "Banned IP list")?,
        })
    }
}

/// `banned IP...`: per IP, the jails banning it.
pub fn banned_ips(v: &Value) -> Result<Vec<Vec<String>>, ShapeError> {
    let items = seq(v, "a list of jail lists")?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(string_list(item)?);
    }
    Ok(out)
}

/// One line of `get JAIL banip --with-time`, its address borrowed from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanEntry<'a> {
    pub ip: &'a str,
    /// unix seconds
    pub banned_at: i64,
    /// seconds, -1 = permanent
    pub ban_seconds: i64,
    /// unix seconds; None when permanent
    pub expires_at: Option<i64>,
}

/// Parse `'203.0.113.5 \t2026-11-22 11:59:46 + 600 = 2026-11-22 12:09:46'`, times in the server's
/// local time (`local`).
pub fn parse_ban_line(line: &str, local: UtcOffset) -> Result<BanEntry<'_>, ShapeError> {
    const WHAT: &str = "a ban line 'IP \\tYYYY-MM-DD HH:MM:SS + SECS = YYYY-MM-DD HH:MM:SS'";
    let bad = || ShapeError {
        expected: WHAT,
        got: format!("{line:?}"),
    };
    let (ip, rest) = line.split_once('\t').ok_or_else(bad)?;
    let (start, rest) = rest.split_once(" + ").ok_or_else(bad)?;
    let (secs, _end) = rest.split_once(" = ").ok_or_else(bad)?;
    let banned_at = crate::timefmt::parse_local(start.trim(), i64::from(local.whole_seconds()))
        .ok_or_else(bad)?;
    let ban_seconds: i64 = secs.trim().parse().map_err(|_| bad())?;
    let expires_at = if ban_seconds < 0 {
        None
    } else {
        Some(banned_at.saturating_add(ban_seconds))
    };
    Ok(BanEntry {
        ip: ip.trim(),
        banned_at,
        ban_seconds: ban_seconds.max(-1),
        expires_at,
    })
}

/// The lines of `get JAIL banip --with-time`, each read with `ban_line`. (Not collected into
/// a `Vec<BanEntry>` here: the caller turns each into its own ban at once.)
pub fn ban_lines(v: &Value) -> Result<&[Value], ShapeError> {
    seq(v, "a list of ban lines")
}

/// One item of `ban_lines`.
pub fn ban_line(line: &Value, local: UtcOffset) -> Result<BanEntry<'_>, ShapeError> {
    parse_ban_line(
        line.as_str().ok_or_else(|| shape("a ban line", line))?,
        local,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fail2ban::pickle::{decode, TERMINATOR};

    fn reply(bytes: &[u8]) -> Result<Value, ReplyError> {
        let bytes = bytes.strip_suffix(TERMINATOR).unwrap_or(bytes);
        envelope(decode(bytes).unwrap().unwrap().0)
    }

    #[test]
    fn status_lists_jails_in_fail2ban_order() {
        let v = reply(include_bytes!("../../tests/data/1.0.2-py3.11/status.bin")).unwrap();
        assert_eq!(
            ServerStatus::from_value(&v).unwrap().jails,
            ["test1", "test2"]
        );
    }

    #[test]
    fn full_and_short_jail_status() {
        let full = reply(include_bytes!(
            "../../tests/data/1.0.2-py3.11/status_jail.bin"
        ))
        .unwrap();
        let s = JailStatus::from_value(&full).unwrap();
        assert_eq!((s.currently_banned, s.total_banned), (1, 1));
        assert_eq!(s.banned.as_deref(), Some(&["203.0.113.5".to_string()][..]));
        let short = reply(include_bytes!(
            "../../tests/data/1.0.2-py3.11/status_jail_short.bin"
        ))
        .unwrap();
        let s = JailStatus::from_value(&short).unwrap();
        assert_eq!((s.currently_failed, s.total_failed, s.banned), (2, 5, None));
        assert_eq!(s.files.len(), 1);
        let py2 = reply(include_bytes!(
            "../../tests/data/0.11.2-py2.7/status_jail.bin"
        ))
        .unwrap();
        assert_eq!(
            JailStatus::from_value(&py2).unwrap().banned.unwrap(),
            ["203.0.113.5"]
        );
    }

    #[test]
    fn banned_and_ban_lines() {
        let v = reply(include_bytes!(
            "../../tests/data/1.0.2-py3.11/banned_two_ips.bin"
        ))
        .unwrap();
        assert_eq!(
            banned_ips(&v).unwrap(),
            vec![vec!["test1".to_string()], vec![]]
        );
        let e = parse_ban_line(
            "203.0.113.5 \t2026-11-22 11:59:46 + 600 = 2026-11-22 12:09:46",
            UtcOffset::UTC,
        )
        .unwrap();
        assert_eq!(
            (e.ip, e.ban_seconds, e.expires_at.map(|x| x - e.banned_at)),
            ("203.0.113.5", 600, Some(600))
        );
        let p = parse_ban_line(
            "2001:db8::1 \t2026-11-22 11:59:46 + -1 = 9999-12-31 23:59:59",
            UtcOffset::UTC,
        )
        .unwrap();
        assert_eq!((p.ban_seconds, p.expires_at), (-1, None));
        assert!(parse_ban_line("garbage", UtcOffset::UTC)
            .unwrap_err()
            .to_string()
            .contains("\"garbage\""));
    }

    #[test]
    fn errors_become_typed_server_errors() {
        let e = reply(include_bytes!(
            "../../tests/data/1.0.2-py3.11/status_nonexistent_jail.bin"
        ))
        .unwrap_err();
        assert_eq!(
            e,
            ReplyError::Server(ServerError {
                class: "UnknownJailException".into(),
                args: vec![Value::Str("nosuchjail".into())]
            })
        );
        let e = reply(include_bytes!(
            "../../tests/data/0.11.2-py2.7/invalid_command.bin"
        ))
        .unwrap_err();
        assert!(
            matches!(e, ReplyError::Server(ServerError { ref class, .. }) if class == "Exception")
        );
        let e = reply(include_bytes!(
            "../../tests/data/1.0.2-py3.11/x_get_bantime_evformula_unpicklable.bin"
        ))
        .unwrap_err();
        assert!(matches!(e, ReplyError::Server(ServerError { ref class, .. }) if class == "ERROR"));
    }

    #[test]
    fn server_errors_read_like_python_with_args_quoted_or_as_json() {
        let e = ServerError {
            class: "ValueError".into(),
            args: vec![Value::Str("x".into()), Value::Int(3), Value::None],
        };
        assert_eq!(e.to_string(), "ValueError: 'x', 3, null");
        let bare = ServerError {
            class: "SHUTDOWN".into(),
            args: vec![],
        };
        assert_eq!(bare.to_string(), "SHUTDOWN: ");
    }

    #[test]
    fn a_shutdown_list_is_a_server_error_and_nothing_like_it_is() {
        let shutdown = |text: &str| envelope(Value::List(vec![Value::Str(text.into())]));
        assert!(matches!(
            shutdown("SHUTDOWN"),
            Err(ReplyError::Server(ServerError { ref class, ref args })) if class == "SHUTDOWN" && args.is_empty()
        ));
        assert!(matches!(shutdown("SHUTDOWNS"), Err(ReplyError::Shape(_))));
        assert!(matches!(
            envelope(Value::List(vec![
                Value::Str("SHUTDOWN".into()),
                Value::None
            ])),
            Err(ReplyError::Shape(_))
        ));
    }

    #[test]
    fn a_malformed_jail_status_names_its_first_fault() {
        let s = |t: &str| Value::Str(t.into());
        let pair = |l: &str, v: Value| Value::Tuple(vec![s(l), v]);
        let got = |v: Vec<Value>| JailStatus::from_value(&Value::List(v)).unwrap_err().got;
        let empty = || Value::List(vec![]);
        // A bad item of the filter section comes before a missing actions section.
        let bad_filter = Value::List(vec![pair("x", Value::Int(1)), Value::Int(5)]);
        assert_eq!(got(vec![pair("Filter", bad_filter)]), "5");
        // A bad top-level item comes before anything is looked up.
        assert_eq!(got(vec![pair("Filter", empty()), Value::Int(7)]), "7");
        assert_eq!(got(vec![pair("Filter", empty())]), "no 'Actions'");
        let both = vec![pair("Filter", empty()), pair("Actions", empty())];
        assert_eq!(got(both), "no 'Currently failed'");
    }

    #[test]
    fn unexpected_shapes_say_what_was_expected() {
        let e = JailStatus::from_value(&Value::Int(3)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a jail status [('Filter', [...]), ('Actions', [...])], got 3"
        );
    }
}
