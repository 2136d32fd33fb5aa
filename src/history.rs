//! Ban and failure history, in memory and bounded: every finished probe hands over each jail's
//! `Total banned` and `Total failed`; the increase since the previous probe is added to the
//! wall-clock bucket the probe ended in, at two resolutions (5-minute buckets for 24 h, 1-hour
//! buckets for 7 days). A counter that drops (fail2ban restarted, jail reloaded) is a reset, as
//! Prometheus's `rate()` reads it: the new value is the increase. A bucket no probe covered stays
//! `null`, so an offline fail2ban shows as a gap, never as a quiet hour.
//!
//! Memory: `MAX_HISTORY_JAILS` jails x (288 + 168) buckets x 2 counts x 4 bytes, allocated once
//! per tracked jail (3,648 bytes of buckets each; `heap_bytes` counts them). A jail not seen by
//! a probe for 7 days is dropped.
//!
//! With `--state-file PATH` the history survives a restart: `save` writes it on SIGTERM (to a
//! temporary file, synced, then renamed over PATH, so a crash mid-write leaves the old file), and
//! `load` reads it at start. The file is a small binary format with a magic line, a version and an
//! FNV-1a checksum; anything wrong with it is an error the caller reports and ignores.

use std::path::Path;
use std::time::SystemTime;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::json::{self, List, Obj};

/// Jails tracked at most; a new jail beyond this evicts the longest-unseen jail no longer in
/// fail2ban, or is not tracked while all tracked jails are live.
pub const MAX_HISTORY_JAILS: usize = 50;
/// A jail fail2ban no longer reports is forgotten after this many seconds (the longest range).
pub const FORGET_AFTER_SECS: i64 = 7 * 86_400;
/// A bucket no probe covered.
const NO_PROBE: u32 = u32::MAX;

/// A range the API serves: its bucket size and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// 288 buckets of 5 minutes.
    Day,
    /// 168 buckets of 1 hour.
    Week,
}

impl Range {
    /// From the `range` query parameter; absent or empty means 24h.
    pub fn parse(text: Option<&str>) -> Result<Range, String> {
        match text {
            None | Some("") | Some("24h") => Ok(Range::Day),
            Some("7d") => Ok(Range::Week),
            Some(other) => {
                let quoted: String = other
                    .chars()
                    .take(32)
                    .flat_map(char::escape_default)
                    .collect();
                Err(format!("range must be 24h or 7d, not '{quoted}'"))
            }
        }
    }
    fn name(self) -> &'static str {
        match self {
            Range::Day => "24h",
            Range::Week => "7d",
        }
    }
    /// seconds
    pub fn bucket_seconds(self) -> i64 {
        match self {
            Range::Day => 300,
            Range::Week => 3600,
        }
    }
    pub fn buckets(self) -> usize {
        match self {
            Range::Day => 288,
            Range::Week => 168,
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

const RANGES: [Range; 2] = [Range::Day, Range::Week];

/// One resolution of one jail: a ring of buckets, slot = absolute bucket number % length.
#[derive(Debug, Clone)]
struct Ring {
    bans: Box<[u32]>,
    failures: Box<[u32]>,
}

impl Ring {
    fn new(range: Range) -> Ring {
        Ring {
            bans: vec![NO_PROBE; range.buckets()].into_boxed_slice(),
            failures: vec![NO_PROBE; range.buckets()].into_boxed_slice(),
        }
    }
}

#[derive(Debug, Clone)]
struct JailHistory {
    name: Box<str>,
    /// (total banned, total failed) at the previous probe; None before the first.
    last: Option<(u64, u64)>,
    /// unix seconds of the last probe that listed this jail
    seen_at: i64,
    rings: [Ring; 2],
}

/// The history of every tracked jail. `newest[r]` is the absolute bucket number (unix seconds /
/// bucket size) of the newest bucket written at range `r`; slots older than the ring length
/// behind it are stale and read as null.
#[derive(Debug, Clone, Default)]
pub struct History {
    jails: Vec<JailHistory>,
    newest: [Option<i64>; 2],
    /// A jail was refused for want of room (logged once).
    warned_full: bool,
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl History {
    /// Take one finished probe: `(jail, total banned, total failed)` for every jail it read.
    pub fn record(&mut self, now: SystemTime, totals: &[(&str, u64, u64)]) {
        let now = unix(now);
        // A clock stepped back writes into the newest bucket: history is never rewritten.
        let bucket: [i64; 2] = RANGES.map(|r| {
            let b = now.div_euclid(r.bucket_seconds());
            self.newest[r.index()].map_or(b, |n| b.max(n))
        });
        for r in RANGES {
            self.advance(r, bucket[r.index()]);
        }
        self.jails.retain(|j| {
            now.saturating_sub(j.seen_at) < FORGET_AFTER_SECS
                || totals.iter().any(|(name, ..)| **name == *j.name)
        });
        for &(name, banned, failed) in totals {
            let Some(jail) = self.jail_mut(name, now, totals) else {
                continue;
            };
            // Like Prometheus's rate(): a counter that went down started again from zero.
            let increase = |now: u64, before: u64| if now >= before { now - before } else { now };
            let (bans, failures) = match jail.last {
                Some((b, f)) => (increase(banned, b), increase(failed, f)),
                None => (0, 0),
            };
            jail.last = Some((banned, failed));
            jail.seen_at = now;
            for r in RANGES {
                let slot = slot(r, bucket[r.index()]);
                let ring = &mut jail.rings[r.index()];
                add(&mut ring.bans[slot], bans);
                add(&mut ring.failures[slot], failures);
            }
        }
    }

    /// Move range `r`'s newest bucket to `bucket`, clearing the slots it passes over.
    fn advance(&mut self, r: Range, bucket: i64) {
        let newest = self.newest[r.index()].unwrap_or(bucket);
        let len = r.buckets() as i64;
        let from = if self.newest[r.index()].is_none() {
            bucket
        } else {
            (newest + 1).max(bucket - len + 1)
        };
        for b in from..=bucket {
            let s = slot(r, b);
            for j in &mut self.jails {
                j.rings[r.index()].bans[s] = NO_PROBE;
                j.rings[r.index()].failures[s] = NO_PROBE;
            }
        }
        self.newest[r.index()] = Some(bucket);
    }

    /// The jail's history, making room for a new one if the limit allows.
    fn jail_mut(
        &mut self,
        name: &str,
        now: i64,
        live: &[(&str, u64, u64)],
    ) -> Option<&mut JailHistory> {
        if let Some(i) = self.jails.iter().position(|j| *j.name == *name) {
            return self.jails.get_mut(i);
        }
        if self.jails.len() >= MAX_HISTORY_JAILS {
            let gone = self
                .jails
                .iter()
                .enumerate()
                .filter(|(_, j)| !live.iter().any(|(n, ..)| **n == *j.name))
                .min_by_key(|(_, j)| j.seen_at)
                .map(|(i, _)| i);
            match gone {
                Some(i) => {
                    self.jails.remove(i);
                }
                None => {
                    if !self.warned_full {
                        self.warned_full = true;
                        log::warn!(
                            "history keeps {MAX_HISTORY_JAILS} jails at most; {name} and later jails have none"
                        );
                    }
                    return None;
                }
            }
        }
        self.jails.push(JailHistory {
            name: name.into(),
            last: None,
            seen_at: now,
            rings: RANGES.map(Ring::new),
        });
        self.jails.last_mut()
    }

    /// Heap bytes held (bucket arrays, names, the jail table): what the README's bound states.
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        let per_jail: usize = RANGES.iter().map(|r| r.buckets() * 2 * 4).sum();
        self.jails.capacity() * std::mem::size_of::<JailHistory>()
            + self
                .jails
                .iter()
                .map(|j| per_jail + j.name.len())
                .sum::<usize>()
    }

    /// The `/api/v1/history` body: the `range`'s buckets ending with the one holding `now`,
    /// oldest first, every jail's arrays the same length.
    pub fn to_json(&self, range: Range, now: SystemTime) -> String {
        let size = range.bucket_seconds();
        let len = range.buckets() as i64;
        let last = unix(now).div_euclid(size);
        let first = last - len + 1;
        let newest = self.newest[range.index()];
        // Written with crate::json, which escapes jail names and writes counts without fmt.
        let mut out = Vec::with_capacity(64 + self.jails.len() * (48 + 2 * 2 * len as usize));
        let mut top = Obj::new(&mut out);
        top.str("range", range.name())
            .uint("bucket_seconds", size as u64);
        crate::timefmt::write_rfc3339_unix(top.key("start"), first * size);
        let mut jails = Obj::new(top.key("jails"));
        for jail in &self.jails {
            let mut one = Obj::new(jails.key(&jail.name));
            let ring = &jail.rings[range.index()];
            for (key, counts) in [("bans", &ring.bans), ("failures", &ring.failures)] {
                let mut list = List::new(one.key(key));
                for b in first..=last {
                    // Slots outside (newest - len, newest] hold other buckets: nobody covered b.
                    let held = newest.is_some_and(|n| b <= n && b > n - len);
                    match counts[slot(range, b)] {
                        c if held && c != NO_PROBE => json::uint(list.item(), u64::from(c)),
                        _ => list.item().extend_from_slice(b"null"),
                    }
                }
                list.end();
            }
            one.end();
        }
        jails.end();
        top.end();
        out.push(b'\n');
        String::from_utf8(out).unwrap_or_default()
    }
}

/// First bytes of a state file; the digit is the format version.
const STATE_MAGIC: &[u8; 8] = b"BWHIST1\n";
/// Longest jail name a state file may hold (fail2ban's names are short; this bounds reading).
const MAX_SAVED_NAME_BYTES: usize = 1024;
/// Largest state file read: the header plus `MAX_HISTORY_JAILS` of the largest jails.
const MAX_STATE_FILE_BYTES: usize =
    8 + 8 + 16 + 4 + MAX_HISTORY_JAILS * (2 + MAX_SAVED_NAME_BYTES + 1 + 24 + (288 + 168) * 2 * 4);

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

impl History {
    /// The state file's bytes: magic, checksum of the rest, then the newest buckets and the jails.
    fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.jails.len() * 3_700 + 32);
        for n in self.newest {
            body.extend_from_slice(&n.unwrap_or(i64::MIN).to_le_bytes());
        }
        let saved = || {
            self.jails
                .iter()
                .filter(|j| j.name.len() <= MAX_SAVED_NAME_BYTES)
        };
        body.extend_from_slice(&(saved().count() as u32).to_le_bytes());
        for j in saved() {
            body.extend_from_slice(&(j.name.len() as u16).to_le_bytes());
            body.extend_from_slice(j.name.as_bytes());
            let (banned, failed) = j.last.unwrap_or((0, 0));
            body.push(u8::from(j.last.is_some()));
            body.extend_from_slice(&banned.to_le_bytes());
            body.extend_from_slice(&failed.to_le_bytes());
            body.extend_from_slice(&j.seen_at.to_le_bytes());
            for ring in &j.rings {
                for v in ring.bans.iter().chain(ring.failures.iter()) {
                    body.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        let mut out = Vec::with_capacity(body.len() + 16);
        out.extend_from_slice(STATE_MAGIC);
        out.extend_from_slice(&fnv1a(&body).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn from_bytes(bytes: &[u8]) -> Result<History, &'static str> {
        let rest = bytes
            .strip_prefix(STATE_MAGIC)
            .ok_or("not a banwatch history file (or another format version)")?;
        let (sum, body) = rest.split_at_checked(8).ok_or(TRUNCATED)?;
        if sum != fnv1a(body).to_le_bytes() {
            return Err("its checksum does not match (truncated or damaged)");
        }
        let mut r = Reader(body);
        let mut newest = [None; 2];
        for n in &mut newest {
            *n = Some(r.i64()?).filter(|&b| b != i64::MIN);
        }
        let count = r.u32()? as usize;
        if count > MAX_HISTORY_JAILS {
            return Err("it holds more jails than banwatch tracks (MAX_HISTORY_JAILS)");
        }
        let mut jails = Vec::with_capacity(count);
        for _ in 0..count {
            let len = usize::from(u16::from_le_bytes(r.array()?));
            let name =
                std::str::from_utf8(r.bytes(len)?).map_err(|_| "a jail name is not UTF-8")?;
            let has_last = r.array::<1>()?[0] == 1;
            let last = (r.u64()?, r.u64()?);
            let seen_at = r.i64()?;
            let mut rings = RANGES.map(Ring::new);
            for ring in &mut rings {
                for v in ring.bans.iter_mut().chain(ring.failures.iter_mut()) {
                    *v = r.u32()?;
                }
            }
            jails.push(JailHistory {
                name: name.into(),
                last: has_last.then_some(last),
                seen_at,
                rings,
            });
        }
        if !r.0.is_empty() {
            return Err("bytes follow the last jail");
        }
        Ok(History {
            jails,
            newest,
            warned_full: false,
        })
    }

    /// Write the history to `path` atomically: a temporary file beside it, synced, renamed over.
    /// Files through rustix here and in `load` (its calls are linked anyway), not std's `File`.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        let result = (|| {
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC;
            let f = rustix::fs::open(&tmp, flags, Mode::from(0o666))?;
            let bytes = self.to_bytes();
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                match rustix::io::write(&f, rest) {
                    Ok(0) => {
                        let why = "failed to write whole buffer";
                        return Err(std::io::Error::new(std::io::ErrorKind::WriteZero, why));
                    }
                    Ok(n) => rest = &rest[n..],
                    Err(Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            rustix::fs::fsync(&f)?;
            rustix::fs::rename(&tmp, path)?;
            // The rename itself is durable once the directory is synced (best effort).
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if let Ok(d) =
                    rustix::fs::open(dir, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                {
                    let _ = rustix::fs::fsync(&d);
                }
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = rustix::fs::unlink(&tmp);
        }
        result
    }

    /// Read a history saved by `save`. `Ok(None)` when there is no file yet; `Err` says what is
    /// wrong with it (the caller reports it and starts empty).
    pub fn load(path: &Path) -> Result<Option<History>, String> {
        let why = |e: Errno| std::io::Error::from(e).to_string();
        let file = match rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(f) => f,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(why(e)),
        };
        // A read loop into one buffer as long as the file, up to one byte more than the largest
        // file, which tells one too large.
        let size = rustix::fs::fstat(&file).map_err(why)?.st_size as u64;
        let mut bytes = vec![0; size.min(MAX_STATE_FILE_BYTES as u64 + 1) as usize];
        let mut len = 0;
        while len < bytes.len() {
            match rustix::io::read(&file, &mut bytes[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(Errno::INTR) => {}
                Err(e) => return Err(why(e)),
            }
        }
        if len > MAX_STATE_FILE_BYTES {
            return Err(format!("it is larger than {MAX_STATE_FILE_BYTES} bytes"));
        }
        History::from_bytes(&bytes[..len])
            .map(Some)
            .map_err(String::from)
    }
}

/// Why a state file is refused when it ends early.
const TRUNCATED: &str = "it is truncated";

/// Reads fixed-size little-endian fields off the front of a byte slice; running out is an error.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let (head, rest) = self.0.split_at_checked(n).ok_or(TRUNCATED)?;
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        self.bytes(N)?.try_into().map_err(|_| TRUNCATED)
    }
    fn u32(&mut self) -> Result<u32, &'static str> {
        self.array().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, &'static str> {
        self.array().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Result<i64, &'static str> {
        self.array().map(i64::from_le_bytes)
    }
}

fn slot(r: Range, bucket: i64) -> usize {
    bucket.rem_euclid(r.buckets() as i64) as usize
}

/// Add to a bucket, turning "no probe" into a count; saturates below the null marker.
fn add(bucket: &mut u32, n: u64) {
    let before = if *bucket == NO_PROBE { 0 } else { *bucket };
    let n = u32::try_from(n).unwrap_or(NO_PROBE - 1);
    *bucket = before.saturating_add(n).min(NO_PROBE - 1);
}

/// A JSON string literal (RFC 8259: quote, backslash and control characters escaped).
#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// 2026-12-02T00:00:00Z
    const DAY: u64 = 1_796_169_600;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(DAY + secs)
    }

    /// The first `n` entries of a jail's array in the JSON (crude, for tests).
    fn series(json: &str, jail: &str, key: &str) -> Vec<Option<u32>> {
        let from = json.find(&format!("\"{jail}\":{{")).expect("jail");
        let rest = &json[from..];
        let start = rest.find(&format!("\"{key}\":[")).expect("key") + key.len() + 4;
        let end = start + rest[start..].find(']').unwrap();
        rest[start..end]
            .split(',')
            .map(|v| v.parse().ok())
            .collect()
    }

    #[test]
    fn json_is_exact_for_a_small_history() {
        let mut h = History::default();
        h.record(at(10), &[("sshd", 5, 20)]);
        h.record(at(310), &[("sshd", 8, 29)]);
        let json = h.to_json(Range::Day, at(620));
        let nulls = |n: usize| vec!["null"; n].join(",");
        let want = format!(
            "{{\"range\":\"24h\",\"bucket_seconds\":300,\"start\":\"2026-12-01T00:15:00Z\",\"jails\":{{\"sshd\":{{\"bans\":[{},0,3,null],\"failures\":[{},0,9,null]}}}}}}\n",
            nulls(285),
            nulls(285)
        );
        assert_eq!(json, want);
        let week = h.to_json(Range::Week, at(620));
        assert!(
            week.starts_with("{\"range\":\"7d\",\"bucket_seconds\":3600,\"start\":\"2026-11-25T01:00:00Z\",\"jails\":{\"sshd\":{\"bans\":[null,"),
            "{week}"
        );
        assert!(week.contains(",3],\"failures\":["), "{week}");
        assert!(week.ends_with(",9]}}}\n"), "{week}");
    }

    #[test]
    fn a_counter_that_drops_counts_as_a_reset() {
        let mut h = History::default();
        h.record(at(0), &[("sshd", 10, 100)]);
        // fail2ban restarted: counters start again; 2 bans since.
        h.record(at(300), &[("sshd", 2, 7)]);
        let json = h.to_json(Range::Day, at(300));
        assert_eq!(series(&json, "sshd", "bans")[286..], [Some(0), Some(2)]);
        assert_eq!(series(&json, "sshd", "failures")[286..], [Some(0), Some(7)]);
    }

    #[test]
    fn buckets_without_a_probe_are_null_and_arrays_align() {
        let mut h = History::default();
        h.record(at(0), &[("sshd", 0, 0)]);
        h.record(at(30), &[("sshd", 1, 3), ("nginx", 4, 4)]);
        // fail2ban offline for 20 minutes: no probe in buckets 1..4.
        h.record(at(1500), &[("sshd", 2, 5), ("nginx", 5, 9)]);
        let json = h.to_json(Range::Day, at(1500));
        let bans = series(&json, "sshd", "bans");
        assert_eq!(bans.len(), 288);
        assert_eq!(bans[282..], [Some(1), None, None, None, None, Some(1)]);
        let nginx = series(&json, "nginx", "bans");
        assert_eq!(nginx.len(), 288);
        assert_eq!(nginx[282..], [Some(0), None, None, None, None, Some(1)]);
        assert_eq!(
            series(&json, "nginx", "failures")[287],
            Some(5),
            "failures are tracked too"
        );
    }

    #[test]
    fn old_buckets_are_overwritten_and_gone_jails_forgotten_after_7_days() {
        let mut h = History::default();
        h.record(at(0), &[("sshd", 0, 0), ("old", 0, 0)]);
        h.record(at(60), &[("sshd", 4, 4), ("old", 1, 1)]);
        // A day later the 5-minute ring has wrapped: the first bucket is out of range.
        h.record(at(86_400), &[("sshd", 5, 5)]);
        let day = h.to_json(Range::Day, at(86_400));
        assert_eq!(series(&day, "sshd", "bans")[..287], vec![None; 287][..]);
        assert_eq!(series(&day, "sshd", "bans")[287], Some(1));
        let week = h.to_json(Range::Week, at(86_400));
        assert_eq!(series(&week, "sshd", "bans")[167 - 24], Some(4));
        assert!(day.contains("\"old\""), "kept while younger than 7 days");
        h.record(at(7 * 86_400 + 60), &[("sshd", 5, 5)]);
        let later = h.to_json(Range::Week, at(7 * 86_400 + 60));
        assert!(!later.contains("\"old\""), "{later}");
        assert_eq!(series(&later, "sshd", "bans")[167], Some(0));
    }

    #[test]
    fn a_clock_stepping_back_writes_into_the_newest_bucket() {
        let mut h = History::default();
        h.record(at(600), &[("sshd", 0, 0)]);
        h.record(at(0), &[("sshd", 3, 3)]);
        let json = h.to_json(Range::Day, at(600));
        assert_eq!(series(&json, "sshd", "bans")[285..], [None, None, Some(3)]);
    }

    #[test]
    fn jails_are_bounded_and_memory_stays_under_the_readme_figure() {
        let mut h = History::default();
        let names: Vec<String> = (0..MAX_HISTORY_JAILS + 5)
            .map(|i| format!("jail-with-a-longish-name-{i:04}"))
            .collect();
        let totals: Vec<(&str, u64, u64)> = names.iter().map(|n| (n.as_str(), 1, 1)).collect();
        h.record(at(0), &totals);
        assert_eq!(h.jails.len(), MAX_HISTORY_JAILS);
        // README "Limits and guarantees": at most 190 KB for 50 jails.
        eprintln!(
            "history for {MAX_HISTORY_JAILS} jails: {} heap bytes, {} bytes saved",
            h.heap_bytes(),
            h.to_bytes().len()
        );
        assert!(h.heap_bytes() <= 190 * 1024, "{}", h.heap_bytes());
        // The unlisted ones leave room for new jails as they go.
        h.record(at(300), &[("new", 0, 0)]);
        assert!(h.jails.iter().any(|j| &*j.name == "new"));
        assert_eq!(h.jails.len(), MAX_HISTORY_JAILS);
    }

    #[test]
    fn names_are_escaped_and_bad_ranges_refused() {
        let mut h = History::default();
        h.record(at(0), &[("q\"uote\\back\n", 0, 0)]);
        let json = h.to_json(Range::Day, at(0));
        assert!(json.contains("\"q\\\"uote\\\\back\\n\":{"), "{json}");
        assert_eq!(Range::parse(None), Ok(Range::Day));
        assert_eq!(Range::parse(Some("7d")), Ok(Range::Week));
        assert_eq!(
            Range::parse(Some("1y\"")),
            Err("range must be 24h or 7d, not '1y\\\"'".into())
        );
    }

    #[test]
    fn a_saved_history_loads_back_the_same() {
        let mut h = History::default();
        h.record(at(0), &[("sshd", 1, 2), ("q\"uote\\é", 0, 0)]);
        h.record(at(900), &[("sshd", 4, 9), ("q\"uote\\é", 1, 1)]);
        let dir = std::env::temp_dir().join(format!("bw-history-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history");
        assert!(matches!(History::load(&path), Ok(None)), "no file yet");
        h.save(&path).unwrap();
        assert!(
            !dir.join("history.tmp").exists(),
            "the temporary file is renamed"
        );
        let back = History::load(&path).unwrap().unwrap();
        for r in RANGES {
            assert_eq!(back.to_json(r, at(1200)), h.to_json(r, at(1200)));
        }
        // The totals carry over: the next probe counts from them, not from scratch.
        let mut next = back.clone();
        next.record(at(1200), &[("sshd", 6, 9)]);
        let json = next.to_json(Range::Day, at(1200));
        assert_eq!(
            series(&json, "sshd", "bans")[283..],
            [Some(0), None, None, Some(3), Some(2)]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_state_file_is_an_error_that_says_why() {
        let mut h = History::default();
        h.record(at(0), &[("sshd", 1, 2)]);
        let good = h.to_bytes();
        assert!(History::from_bytes(&good).is_ok());
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let cases: [(&[u8], &str); 5] = [
            (b"", "not a banwatch history file"),
            (b"{\"jails\":{}}", "not a banwatch history file"),
            (&good[..good.len() - 5], "checksum does not match"),
            (&flipped, "checksum does not match"),
            (&good[..12], "truncated"),
        ];
        for (bytes, why) in cases {
            let err = History::from_bytes(bytes).unwrap_err();
            assert!(err.contains(why), "{err}");
        }
        // A well-formed file that claims too many jails is refused before anything is sized by it.
        let mut body = Vec::new();
        body.extend_from_slice(&i64::MIN.to_le_bytes());
        body.extend_from_slice(&i64::MIN.to_le_bytes());
        body.extend_from_slice(&u32::MAX.to_le_bytes());
        let mut many = STATE_MAGIC.to_vec();
        many.extend_from_slice(&fnv1a(&body).to_le_bytes());
        many.extend_from_slice(&body);
        assert!(History::from_bytes(&many)
            .unwrap_err()
            .contains("more jails than banwatch tracks"));
    }

    #[test]
    fn a_state_file_larger_than_any_history_is_refused() {
        let dir = std::env::temp_dir().join(format!("bw-history-large-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history");
        std::fs::write(&path, vec![b'x'; MAX_STATE_FILE_BYTES + 1]).unwrap();
        let err = History::load(&path).unwrap_err();
        assert!(err.contains("larger than"), "{err}");
        std::fs::write(&path, vec![b'x'; MAX_STATE_FILE_BYTES]).unwrap();
        let err = History::load(&path).unwrap_err();
        assert!(err.contains("not a banwatch history file"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
