//! Ban lists: fetched only when a client asks, cached for `--interval`, one command however
//! many requests wait. An arrived `banip --with-time` reply is read into bans `BAN_READ_SLICE`
//! at a time, so a 50,000-line list never holds the loop for long. Bans are kept small and off
//! the heap: 100,000 of them must fit a router.

use std::time::{Duration, Instant};

use super::{words, Health, State, Tag};
use crate::fail2ban::pickle::{NotFast, StrListReader, Value};
use crate::fail2ban::replies::{self, JailStatus};
use crate::fail2ban::Error;

/// Work spent turning an arrived ban list into bans per loop turn; the rest waits for the next
/// turn, so other requests are answered in between (a 50,000-line list takes ~20 ms in all).
pub const BAN_READ_SLICE: Duration = Duration::from_millis(1);
/// Ban lines read between two looks at the clock.
const LINES_PER_CLOCK_READ: usize = 128;

/// One banned address, kept small and off the heap: 100,000 of them must fit a router.
#[derive(Debug, Clone, PartialEq)]
pub struct Ban {
    pub host: Host,
    /// unix seconds; `UNKNOWN_TIME` on servers without `banip --with-time`
    banned_at: i64,
    /// seconds, -1 = permanent; `UNKNOWN_SECONDS` when unknown
    ban_seconds: i32,
}

const UNKNOWN_TIME: i64 = i64::MIN;
const UNKNOWN_SECONDS: i32 = i32::MIN;

/// What fail2ban banned: an address (with a CIDR prefix, 255 = none) when its text round-trips
/// exactly, else the text itself (fail2ban bans whatever it is given).
#[derive(Debug, Clone, PartialEq)]
pub enum Host {
    Ip(std::net::IpAddr, u8),
    Text(Box<str>),
}

impl Host {
    fn parse(text: &str) -> Host {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, p.parse::<u8>().ok()),
            None => (text, Some(255)),
        };
        match (addr.parse::<std::net::IpAddr>(), prefix) {
            (Ok(ip), Some(prefix)) if Host::Ip(ip, prefix).displays_as(text) => {
                Host::Ip(ip, prefix)
            }
            _ => Host::Text(text.into()),
        }
    }

    /// Whether `Display` writes exactly `text`, compared as it is written (this runs for every
    /// line of a 50,000-ban list: no buffer, no allocation).
    fn displays_as(&self, text: &str) -> bool {
        /// What is left of `text` to match; `None` once a piece did not match.
        struct Rest<'a>(Option<&'a [u8]>);
        impl std::fmt::Write for Rest<'_> {
            fn write_str(&mut self, piece: &str) -> std::fmt::Result {
                self.0 = self.0.and_then(|rest| rest.strip_prefix(piece.as_bytes()));
                Ok(())
            }
        }
        let mut rest = Rest(Some(text.as_bytes()));
        let _ = std::fmt::write(&mut rest, format_args!("{self}"));
        rest.0 == Some(b"")
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Ip(ip, 255) => write!(f, "{ip}"),
            Host::Ip(ip, prefix) => write!(f, "{ip}/{prefix}"),
            Host::Text(t) => f.write_str(t),
        }
    }
}

impl From<&replies::BanEntry<'_>> for Ban {
    fn from(e: &replies::BanEntry<'_>) -> Ban {
        Ban::new(e.ip, Some(e.banned_at), Some(e.ban_seconds))
    }
}

impl Ban {
    fn new(ip: &str, banned_at: Option<i64>, ban_seconds: Option<i64>) -> Ban {
        Ban {
            host: Host::parse(ip),
            banned_at: banned_at.unwrap_or(UNKNOWN_TIME),
            ban_seconds: ban_seconds
                .and_then(|s| i32::try_from(s.max(-1)).ok())
                .unwrap_or(UNKNOWN_SECONDS),
        }
    }
    pub fn banned_at(&self) -> Option<i64> {
        (self.banned_at != UNKNOWN_TIME).then_some(self.banned_at)
    }
    /// seconds, -1 = permanent
    pub fn ban_seconds(&self) -> Option<i64> {
        (self.ban_seconds != UNKNOWN_SECONDS).then_some(i64::from(self.ban_seconds))
    }
    /// None when permanent or unknown.
    pub fn expires_at(&self) -> Option<i64> {
        match (self.banned_at(), self.ban_seconds()) {
            (Some(at), Some(secs)) if secs >= 0 => Some(at.saturating_add(secs)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum BanList {
    NotFetched,
    Fetching,
    /// The reply arrived; it becomes bans a slice per loop turn (`State::read_ban_lists`).
    Reading(Box<BanReading>),
    Ready {
        bans: Vec<Ban>,
        fetched_at: Instant,
    },
    Failed {
        error: Error,
        at: Instant,
    },
}

/// A ban-list reply half turned into bans.
#[derive(Debug, Clone)]
pub struct BanReading {
    raw: Vec<u8>,
    reader: StrListReader,
    bans: Vec<Ban>,
    /// The server's UTC offset, which its ban lines are written in.
    offset: time::UtcOffset,
    arrived_at: Instant,
}

/// What an HTTP request sees when it asks for a jail's ban list.
pub enum BansView<'a> {
    Ready(&'a [Ban]),
    Wait,
    Failed(&'a Error),
    /// fail2ban is known to be offline: answer 503 without asking.
    Offline,
    NoSuchJail,
}

impl State {
    pub(super) fn on_bans(&mut self, jail: String, result: Result<Value, Error>, now: Instant) {
        let list = match result {
            Ok(Value::Bytes(raw)) if self.with_time => read_ban_list(raw, now),
            Ok(v) => match parse_status_bans(&v) {
                Ok(bans) => Ok(BanList::Ready {
                    bans,
                    fetched_at: now,
                }),
                Err(e) => Err(Error::Shape(e)),
            },
            Err(e) => Err(e),
        };
        match list {
            Err(Error::Server(e)) if self.with_time && e.class != "UnknownJailException" => {
                log::info!("`get {jail} banip --with-time` refused ({e}); using `status {jail}`");
                self.with_time = false;
                self.fetch_bans(&jail);
            }
            other => {
                if let Some(j) = self.jails.iter_mut().find(|j| j.name == jail) {
                    j.bans = other.unwrap_or_else(|error| BanList::Failed { error, at: now });
                }
            }
        }
    }

    /// Go on turning arrived ban lists into bans, for at most `BAN_READ_SLICE`.
    pub fn read_ban_lists(&mut self) {
        let until = Instant::now() + BAN_READ_SLICE;
        for j in &mut self.jails {
            if let BanList::Reading(r) = &mut j.bans {
                match r.step(until) {
                    Some(done) => j.bans = done,
                    None => return,
                }
            }
        }
    }

    /// A ban list is half read: the loop must not sleep.
    pub fn reading_ban_lists(&self) -> bool {
        self.jails
            .iter()
            .any(|j| matches!(j.bans, BanList::Reading(_)))
    }

    /// The jail's ban list for a request parked at `asked_at`: cached for at most `--interval`,
    /// fetched on demand, one command however many requests wait.
    pub fn bans(&mut self, jail: &str, asked_at: Instant, now: Instant) -> BansView<'_> {
        let interval = self.interval;
        let Some(idx) = self.jails.iter().position(|j| j.name == jail) else {
            return BansView::NoSuchJail;
        };
        let refetch = match &self.jails[idx].bans {
            BanList::Ready { fetched_at, .. } => {
                now.saturating_duration_since(*fetched_at) >= interval
            }
            BanList::Fetching | BanList::Reading(_) => false,
            BanList::Failed { at, .. } => *at < asked_at,
            BanList::NotFetched => true,
        };
        if refetch {
            if self.health == Health::Offline {
                return BansView::Offline;
            }
            self.jails[idx].bans = BanList::Fetching;
            self.fetch_bans(jail);
        }
        match &self.jails.get(idx).map(|j| &j.bans) {
            Some(BanList::Ready { bans, .. }) => BansView::Ready(bans),
            Some(BanList::Failed { error, .. }) => BansView::Failed(error),
            Some(_) => BansView::Wait,
            None => BansView::NoSuchJail,
        }
    }

    fn fetch_bans(&mut self, jail: &str) {
        self.ban_list_fetches += 1;
        let tag = Tag::Bans { jail: jail.into() };
        if self.with_time {
            self.submit_read(words(&["get", jail, "banip", "--with-time"]), true, tag);
        } else {
            self.submit(words(&["status", jail]), tag);
        }
    }
}

/// Bytes a ban line takes in the pickle (~62 of text, 3 of opcodes): sizes the `Vec<Ban>` once.
const BYTES_PER_BAN_LINE: usize = 64;

/// The UTC offset fail2ban writes its ban lines in (the same machine's, or UTC if unknown).
fn local_offset() -> time::UtcOffset {
    time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC)
}

/// Start reading a `banip --with-time` reply: a list to read over loop turns, or, for error
/// replies and shapes `StrListReader` does not take, the outcome at once.
fn read_ban_list(raw: Vec<u8>, now: Instant) -> Result<BanList, Error> {
    match StrListReader::new(&raw) {
        Ok(reader) => Ok(BanList::Reading(Box::new(BanReading {
            bans: Vec::with_capacity(raw.len() / BYTES_PER_BAN_LINE),
            raw,
            reader,
            offset: local_offset(),
            arrived_at: now,
        }))),
        Err(NotFast) => parse_whole_ban_list(&raw).map(|bans| BanList::Ready {
            bans,
            fetched_at: now,
        }),
    }
}

/// Ban lists of servers without `banip --with-time`: the addresses of a full `status JAIL`.
fn parse_status_bans(v: &Value) -> Result<Vec<Ban>, replies::ShapeError> {
    let status = JailStatus::from_value(v)?;
    let ips = status.banned.unwrap_or_default();
    // A loop like `parse_whole_ban_list`'s, not `collect`: one way of filling a `Vec<Ban>`.
    let mut bans = Vec::with_capacity(ips.len());
    for ip in &ips {
        bans.push(Ban::new(ip, None, None));
    }
    Ok(bans)
}

/// A `banip --with-time` reply `StrListReader` does not take (an error reply, another shape),
/// decoded whole.
fn parse_whole_ban_list(raw: &[u8]) -> Result<Vec<Ban>, Error> {
    let shape = |got: String| {
        Error::Shape(replies::ShapeError {
            expected: "a list of ban lines",
            got,
        })
    };
    let value = match crate::fail2ban::pickle::decode(raw) {
        Ok(Some((value, _))) => value,
        Ok(None) => return Err(shape("an incomplete pickle".into())),
        Err(e) => return Err(shape(e.to_string())),
    };
    let list = replies::envelope(value)?;
    ban_lines(&list).map_err(Error::Shape)
}

/// The bans of a list of ban lines. (Its own function: a `ShapeError` is a smaller error to
/// pass up line by line than an `Error`.)
fn ban_lines(list: &Value) -> Result<Vec<Ban>, replies::ShapeError> {
    let lines = replies::ban_lines(list)?;
    let offset = local_offset();
    let mut bans = Vec::with_capacity(lines.len());
    for line in lines {
        bans.push(Ban::from(&replies::ban_line(line, offset)?));
    }
    Ok(bans)
}

impl BanReading {
    /// Read lines until `until`. `None` while lines remain, else the finished list.
    fn step(&mut self, until: Instant) -> Option<BanList> {
        loop {
            for _ in 0..LINES_PER_CLOCK_READ {
                let line = match self.reader.next(&self.raw) {
                    Ok(Some(line)) => line,
                    Ok(None) => {
                        let mut bans = std::mem::take(&mut self.bans);
                        bans.shrink_to_fit();
                        return Some(BanList::Ready {
                            bans,
                            fetched_at: self.arrived_at,
                        });
                    }
                    // A shape only the full decoder reads (shared strings, say): exact, in one go.
                    Err(NotFast) => {
                        self.bans = Vec::new();
                        return Some(match parse_whole_ban_list(&self.raw) {
                            Ok(bans) => BanList::Ready {
                                bans,
                                fetched_at: self.arrived_at,
                            },
                            Err(error) => BanList::Failed {
                                error,
                                at: self.arrived_at,
                            },
                        });
                    }
                };
                match replies::parse_ban_line(line, self.offset) {
                    Ok(e) => self.bans.push(Ban::from(&e)),
                    Err(e) => {
                        return Some(BanList::Failed {
                            error: Error::Shape(e),
                            at: self.arrived_at,
                        })
                    }
                }
            }
            if Instant::now() >= until {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_keep_fail2bans_text_exactly() {
        for text in [
            "203.0.113.7",
            "2001:db8::1",
            "198.51.100.0/24",
            "2001:db8::/32",
        ] {
            assert!(matches!(Host::parse(text), Host::Ip(..)), "{text}");
            assert_eq!(Host::parse(text).to_string(), text);
        }
        // Not canonical, or not an address at all: kept as text, never rewritten.
        for text in ["2001:DB8::1", "203.000.113.7", "not-an-ip", "10.0.0.0/x"] {
            assert_eq!(Host::parse(text), Host::Text(text.into()), "{text}");
        }
    }

    /// Read a `banip --with-time` reply as the loop does, one smallest slice per turn: the bans
    /// (or the error) and how many turns it took.
    fn read_all(raw: &[u8]) -> (Result<Vec<Ban>, Error>, usize) {
        let now = Instant::now();
        let mut list = read_ban_list(raw.to_vec(), now);
        let mut turns = 1;
        while let Ok(BanList::Reading(r)) = &mut list {
            // `until` already past: each turn reads `LINES_PER_CLOCK_READ` lines, no more.
            if let Some(done) = r.step(now) {
                list = Ok(done);
            }
            turns += 1;
        }
        match list {
            Ok(BanList::Ready { bans, .. }) => (Ok(bans), turns),
            Ok(BanList::Failed { error, .. }) | Err(error) => (Err(error), turns),
            Ok(other) => panic!("not read: {other:?}"),
        }
    }

    /// `(0, [lines])` as CPython writes it at protocol 5 (batches of 1,000 per `APPENDS`),
    /// with `share` making every other line a memo reference to the one before (same object).
    fn pickled_lines(lines: &[String], share: bool) -> Vec<u8> {
        let mut p = vec![0x80, 5, b'K', 0, b']', 0x94];
        let mut memo = 1u32;
        for batch in lines.chunks(1000) {
            p.push(b'(');
            for (i, line) in batch.iter().enumerate() {
                if share && i % 2 == 1 {
                    p.push(b'j'); // LONG_BINGET of the previous line
                    p.extend_from_slice(&(memo - 1).to_le_bytes());
                    continue;
                }
                p.push(0x8c);
                p.push(line.len() as u8);
                p.extend_from_slice(line.as_bytes());
                p.push(0x94);
                memo += 1;
            }
            p.push(b'e');
        }
        p.extend_from_slice(&[0x86, 0x94, b'.']);
        p
    }

    #[test]
    fn a_big_ban_list_is_read_over_many_turns_and_every_line_arrives() {
        let lines: Vec<String> = (0..2500u32)
            .map(|i| {
                format!(
                    "2001:db8::{i:x} \t2026-11-22 11:53:52 + {} = 2026-11-22 12:03:52",
                    600 + i
                )
            })
            .collect();
        let (bans, turns) = read_all(&pickled_lines(&lines, false));
        let bans = bans.unwrap();
        assert_eq!(bans.len(), 2500);
        assert!(
            turns > 2500 / LINES_PER_CLOCK_READ,
            "read in {turns} turns: one slice must not take the whole list"
        );
        for (i, b) in bans.iter().enumerate() {
            assert_eq!(b.host.to_string(), format!("2001:db8::{i:x}"));
            assert_eq!(b.ban_seconds(), Some(600 + i as i64));
        }
        // A shape only the full decoder reads (the same string object twice) gives the same list.
        let (shared, _) = read_all(&pickled_lines(&lines, true));
        let shared = shared.unwrap();
        assert_eq!(shared.len(), 2500);
        for (i, b) in shared.iter().enumerate() {
            assert_eq!(b.host, bans[i - i % 2].host);
        }
    }

    #[test]
    fn ban_lists_read_from_raw_replies_of_python_3_and_2() {
        let strip = |b: &'static [u8]| {
            b.strip_suffix(crate::fail2ban::pickle::TERMINATOR)
                .unwrap_or(b)
        };
        for raw in [
            strip(include_bytes!(
                "../../tests/data/1.0.2-py3.11/get_banip_with_time.bin"
            )),
            strip(include_bytes!(
                "../../tests/data/1.1.1-py3.11/get_banip_with_time.bin"
            )),
            strip(include_bytes!(
                "../../tests/data/0.11.2-py2.7/get_banip_with_time.bin"
            )),
        ] {
            let bans = read_all(raw).0.unwrap();
            assert_eq!(bans.len(), 1);
            assert_eq!(bans[0].host.to_string(), "203.0.113.5");
            assert_eq!(bans[0].ban_seconds(), Some(600));
            assert_eq!(
                bans[0]
                    .expires_at()
                    .zip(bans[0].banned_at())
                    .map(|(e, b)| e - b),
                Some(600)
            );
        }
        let err = read_all(strip(include_bytes!(
            "../../tests/data/1.0.2-py3.11/get_nonexistent_jail_banip.bin"
        )))
        .0;
        assert!(
            matches!(err, Err(Error::Server(ref e)) if e.class == "UnknownJailException"),
            "{err:?}"
        );
    }
}
