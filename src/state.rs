//! The live picture of fail2ban, in plain structs owned by the event loop: health and its
//! transitions, the jail list and counts from the last probe, settings fetched once per jail per
//! fail2ban start, ban lists fetched on demand with a short cache (an arrived list is read into
//! bans `BAN_READ_SLICE` at a time, so a 50,000-line list never holds the loop for long), the
//! events ring and the pending-recovery record. It also owns the fail2ban client and decides
//! what to ask it.
//!
//! Probe cycle (every `--interval`): `status`, then `status JAIL short` for each jail (full
//! `status JAIL` on servers older than 0.10.6), `version` once per connection, settings once per
//! jail per connection. A cycle never overlaps the previous one.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use crate::fail2ban::client::{Client, Completion};
use crate::fail2ban::pickle::{NotFast, StrListReader, Value};
use crate::fail2ban::replies::{self, JailStatus, ServerStatus};
use crate::fail2ban::Error;
use crate::history::History;

/// Transitions kept for `/api/v1/status`.
pub const MAX_EVENTS: usize = 50;
/// A write through banwatch this close before fail2ban goes offline is named as the suspected cause.
pub const RECOVERY_WINDOW: Duration = Duration::from_secs(60);
/// Work spent turning an arrived ban list into bans per loop turn; the rest waits for the next
/// turn, so other requests are answered in between (a 50,000-line list takes ~20 ms in all).
pub const BAN_READ_SLICE: Duration = Duration::from_millis(1);
/// Ban lines read between two looks at the clock.
const LINES_PER_CLOCK_READ: usize = 128;

/// Who is waiting for a fail2ban command.
#[derive(Debug, Clone, PartialEq)]
pub enum Tag {
    Version,
    Status,
    /// `in_cycle`: part of a probe cycle (vs. a refresh after a write).
    JailStatus {
        jail: String,
        in_cycle: bool,
    },
    Setting {
        jail: String,
        setting: Setting,
    },
    Bans {
        jail: String,
    },
    /// A command an HTTP connection waits for (writes, `banned IP`).
    Conn(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    BanTime,
    FindTime,
    MaxRetry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No probe has finished yet.
    Unknown,
    Online,
    Offline,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Online => "online",
            Health::Offline => "offline",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub at: SystemTime,
    /// "online", "offline" or "recovered".
    pub kind: &'static str,
    pub reason: String,
    /// The write made through banwatch shortly before fail2ban went offline, if any.
    pub suspected_cause: Option<String>,
}

#[derive(Debug, Clone)]
pub struct WriteRecord {
    /// e.g. "ban 203.0.113.5 in sshd".
    pub what: String,
    pub at: SystemTime,
}

#[derive(Debug, Clone)]
pub struct PendingRecovery {
    pub write: WriteRecord,
    pub offline_at: SystemTime,
}

/// Settings of a jail; `None` until fetched (or when fail2ban refused to say).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// seconds, -1 = permanent
    pub bantime: Option<i64>,
    /// seconds
    pub findtime: Option<i64>,
    pub maxretry: Option<i64>,
}

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

    /// Whether `Display` writes exactly `text` (checked in a stack buffer: this runs for every
    /// line of a 50,000-ban list).
    fn displays_as(&self, text: &str) -> bool {
        use std::io::Write;
        let mut buf = [0u8; 64];
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        let written = write!(cursor, "{self}").is_ok();
        let len = cursor.position() as usize;
        written && &buf[..len] == text.as_bytes()
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

#[derive(Debug, Clone)]
pub struct Jail {
    pub name: String,
    /// From the last probe; None until the first `status JAIL` answer.
    pub status: Option<JailStatus>,
    pub settings: Settings,
    /// The client generation the settings were fetched on (refetched on a new connection).
    settings_generation: u64,
    pub bans: BanList,
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

pub struct State {
    pub client: Client<Tag>,
    pub interval: Duration,
    pub started_at: SystemTime,
    pub health: Health,
    /// When `health` last changed.
    pub since: SystemTime,
    /// Why fail2ban is offline (with the fix), or None.
    pub error: Option<String>,
    /// When the last probe cycle finished.
    pub checked_at: Option<SystemTime>,
    pub version: Option<String>,
    version_generation: u64,
    pub jails: Vec<Jail>,
    pub events: VecDeque<Event>,
    pub last_write: Option<WriteRecord>,
    pub pending_recovery: Option<PendingRecovery>,
    /// `status JAIL short` works (0.10.6+ / 0.11.2+); decided from the version, per connection.
    short_status: bool,
    /// `get JAIL banip --with-time` works (0.11.1+).
    with_time: bool,
    pub probe_due_at: Instant,
    probe_started: Option<Instant>,
    /// Jail statuses still outstanding in the current cycle.
    probe_outstanding: usize,
    pub last_probe_duration: Option<Duration>,
    /// Ban-list commands sent (coalescing is observable here).
    pub ban_list_fetches: u64,
    /// Bans and failures per time bucket, fed by every probe that ends online.
    pub history: History,
}

impl State {
    pub fn new(client: Client<Tag>, interval: Duration, now: Instant) -> Self {
        State {
            client,
            interval,
            started_at: SystemTime::now(),
            health: Health::Unknown,
            since: SystemTime::now(),
            error: None,
            checked_at: None,
            version: None,
            version_generation: u64::MAX,
            jails: Vec::new(),
            events: VecDeque::new(),
            last_write: None,
            pending_recovery: None,
            short_status: true,
            with_time: true,
            probe_due_at: now,
            probe_started: None,
            probe_outstanding: 0,
            last_probe_duration: None,
            ban_list_fetches: 0,
            history: History::default(),
        }
    }

    pub fn jail(&self, name: &str) -> Option<&Jail> {
        self.jails.iter().find(|j| j.name == name)
    }

    /// Start a probe cycle if one is due and none is running.
    pub fn tick(&mut self, now: Instant) {
        if now < self.probe_due_at || self.probe_started.is_some() {
            return;
        }
        self.probe_due_at = now + self.interval;
        self.probe_started = Some(now);
        if self.version.is_none() {
            // First contact (or back from offline): learn what we talk to before judging it.
            self.submit(vec!["version".into()], Tag::Version);
        }
        self.submit(vec!["status".into()], Tag::Status);
    }

    /// The next instant the state needs the loop awake for.
    pub fn deadline(&self) -> Instant {
        match self.client.deadline() {
            Some(d) => d.min(self.probe_due_at),
            None => self.probe_due_at,
        }
    }

    fn submit(&mut self, args: Vec<String>, tag: Tag) {
        if let Err(e) = self.client.submit(args, true, tag.clone()) {
            // Only Busy or Refused can happen here; treat like a failed reply.
            self.on_result(tag, Err(e), Instant::now());
        }
    }

    /// Feed finished commands. Returns the ones HTTP connections wait for.
    pub fn on_completions(
        &mut self,
        done: Vec<Completion<Tag>>,
        now: Instant,
    ) -> Vec<(u64, Result<Value, Error>)> {
        let mut for_connections = Vec::new();
        for c in done {
            let mut result = Some(c.result);
            let last = c.waiters.len().saturating_sub(1);
            for (i, waiter) in c.waiters.into_iter().enumerate() {
                // The last waiter takes the result itself: a ban list is not copied for nothing.
                let result = if i == last {
                    result.take()
                } else {
                    result.clone()
                };
                let Some(result) = result else { break };
                match waiter {
                    Tag::Conn(id) => for_connections.push((id, result)),
                    tag => self.on_result(tag, result, now),
                }
            }
        }
        if self.client.generation() != self.version_generation && self.client.generation() != 0 {
            // A new connection: maybe a new fail2ban. Ask its version once (unless the probe
            // already did on this connection).
            self.version_generation = self.client.generation();
            if self.version.is_some() {
                self.submit(vec!["version".into()], Tag::Version);
            }
        }
        for_connections
    }

    fn on_result(&mut self, tag: Tag, result: Result<Value, Error>, now: Instant) {
        match tag {
            Tag::Version => match result.and_then(|v| replies::string(&v).map_err(Error::Shape)) {
                Ok(version) => {
                    // `short` arrived in 0.10.6 and, on the 0.11 branch, in 0.11.2.
                    let in_0_11_before_short = version_at_least(&version, (0, 11, 0))
                        && !version_at_least(&version, (0, 11, 2));
                    self.short_status =
                        version_at_least(&version, (0, 10, 6)) && !in_0_11_before_short;
                    self.with_time = version_at_least(&version, (0, 11, 1));
                    self.version = Some(version);
                    self.version_generation = self.client.generation();
                }
                Err(e) => log::debug!("version: {e}"),
            },
            Tag::Status => {
                match result.and_then(|v| ServerStatus::from_value(&v).map_err(Error::Shape)) {
                    Ok(status) => {
                        self.set_online(now);
                        self.jails.retain(|j| status.jails.contains(&j.name));
                        for name in &status.jails {
                            if self.jail(name).is_none() {
                                self.jails.push(Jail {
                                    name: name.clone(),
                                    status: None,
                                    settings: Settings::default(),
                                    settings_generation: 0,
                                    bans: BanList::NotFetched,
                                });
                            }
                        }
                        // Keep fail2ban's order.
                        self.jails
                            .sort_by_key(|j| status.jails.iter().position(|n| *n == j.name));
                        self.probe_outstanding = status.jails.len();
                        for name in status.jails {
                            self.request_jail_status(name, true);
                        }
                        self.maybe_finish_cycle(now);
                    }
                    Err(e) => {
                        self.set_offline(&e);
                        self.probe_outstanding = 0;
                        self.maybe_finish_cycle(now);
                    }
                }
            }
            Tag::JailStatus { jail, in_cycle } => {
                match result.and_then(|v| JailStatus::from_value(&v).map_err(Error::Shape)) {
                    Ok(status) => {
                        let generation = self.client.generation();
                        let mut fetch_settings = false;
                        if let Some(j) = self.jails.iter_mut().find(|j| j.name == jail) {
                            j.status = Some(status);
                            if j.settings_generation != generation {
                                j.settings_generation = generation;
                                fetch_settings = true;
                            }
                        }
                        if fetch_settings {
                            for (word, setting) in [
                                ("bantime", Setting::BanTime),
                                ("findtime", Setting::FindTime),
                                ("maxretry", Setting::MaxRetry),
                            ] {
                                let tag = Tag::Setting {
                                    jail: jail.clone(),
                                    setting,
                                };
                                self.submit(vec!["get".into(), jail.clone(), word.into()], tag);
                            }
                        }
                    }
                    Err(Error::Server(e))
                        if self.short_status && e.class != "UnknownJailException" =>
                    {
                        // An old server that does not take the `short` flavor: fall back for good.
                        log::info!(
                            "`status {jail} short` refused ({e}); using the full `status JAIL`"
                        );
                        self.short_status = false;
                        self.request_jail_status(jail, in_cycle);
                        return;
                    }
                    Err(e) if e.is_transport() => {
                        self.set_offline(&e);
                        if in_cycle {
                            // fail2ban is unreachable or hung: do not spend a timeout per jail.
                            self.client.cancel_unsent(|t| {
                                matches!(t, Tag::JailStatus { in_cycle: true, .. })
                            });
                            self.probe_outstanding = 0;
                            self.maybe_finish_cycle(now);
                            return;
                        }
                    }
                    Err(e) => log::debug!("status {jail}: {e}"),
                }
                if in_cycle {
                    self.probe_outstanding = self.probe_outstanding.saturating_sub(1);
                    self.maybe_finish_cycle(now);
                }
            }
            Tag::Setting { jail, setting } => {
                let value = result.and_then(|v| replies::int(&v).map_err(Error::Shape));
                if let Err(e) = &value {
                    log::debug!("settings of {jail}: {e}");
                }
                if let Some(j) = self.jails.iter_mut().find(|j| j.name == jail) {
                    let slot = match setting {
                        Setting::BanTime => &mut j.settings.bantime,
                        Setting::FindTime => &mut j.settings.findtime,
                        Setting::MaxRetry => &mut j.settings.maxretry,
                    };
                    *slot = value.ok();
                }
            }
            Tag::Bans { jail } => {
                let list = match result {
                    Ok(Value::Bytes(raw)) if self.with_time => read_ban_list(raw, now),
                    Ok(v) => parse_status_bans(&v).map(|bans| BanList::Ready {
                        bans,
                        fetched_at: now,
                    }),
                    Err(e) => Err(e),
                };
                match list {
                    Err(Error::Server(e))
                        if self.with_time && e.class != "UnknownJailException" =>
                    {
                        log::info!(
                            "`get {jail} banip --with-time` refused ({e}); using `status {jail}`"
                        );
                        self.with_time = false;
                        self.fetch_bans(&jail);
                    }
                    other => {
                        if let Some(j) = self.jails.iter_mut().find(|j| j.name == jail) {
                            j.bans =
                                other.unwrap_or_else(|error| BanList::Failed { error, at: now });
                        }
                    }
                }
            }
            Tag::Conn(_) => {}
        }
    }

    fn request_jail_status(&mut self, jail: String, in_cycle: bool) {
        let mut args = vec!["status".to_string(), jail.clone()];
        if self.short_status {
            args.push("short".into());
        }
        self.submit(args, Tag::JailStatus { jail, in_cycle });
    }

    fn maybe_finish_cycle(&mut self, now: Instant) {
        if self.probe_outstanding == 0 {
            if let Some(started) = self.probe_started.take() {
                self.last_probe_duration = Some(now.saturating_duration_since(started));
                let checked_at = SystemTime::now();
                self.checked_at = Some(checked_at);
                if self.health == Health::Online {
                    let totals: Vec<(&str, u64, u64)> = self
                        .jails
                        .iter()
                        .filter_map(|j| {
                            let s = j.status.as_ref()?;
                            Some((j.name.as_str(), s.total_banned, s.total_failed))
                        })
                        .collect();
                    self.history.record(checked_at, &totals);
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

    /// Refresh one jail's counts now (after a write).
    pub fn refresh_jail(&mut self, jail: &str) {
        if let Some(j) = self.jails.iter_mut().find(|j| j.name == jail) {
            j.bans = BanList::NotFetched;
        }
        self.request_jail_status(jail.to_string(), false);
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
            let args = vec![
                "get".into(),
                jail.into(),
                "banip".into(),
                "--with-time".into(),
            ];
            if let Err(e) = self.client.submit_raw(args, tag.clone()) {
                self.on_result(tag, Err(e), Instant::now());
            }
        } else {
            self.submit(vec!["status".into(), jail.into()], tag);
        }
    }

    /// Remember a successful write for the pending-recovery check.
    pub fn note_write(&mut self, what: String) {
        self.last_write = Some(WriteRecord {
            what,
            at: SystemTime::now(),
        });
    }

    fn push_event(&mut self, kind: &'static str, reason: String, suspected_cause: Option<String>) {
        if self.events.len() == MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(Event {
            at: SystemTime::now(),
            kind,
            reason,
            suspected_cause,
        });
    }

    fn set_online(&mut self, _now: Instant) {
        if self.health == Health::Online {
            return;
        }
        let was = self.health;
        self.health = Health::Online;
        self.since = SystemTime::now();
        self.error = None;
        let version = self.version.clone().unwrap_or_else(|| "?".into());
        log::info!(
            "fail2ban is online (version {version}, {} was {})",
            self.client.path().display(),
            was.as_str()
        );
        self.push_event(
            "online",
            format!("fail2ban answered (was {})", was.as_str()),
            None,
        );
        if let Some(p) = self.pending_recovery.take() {
            log::info!("fail2ban recovered after `{}`", p.write.what);
            self.push_event(
                "recovered",
                format!("fail2ban is back after `{}`", p.write.what),
                Some(p.write.what),
            );
        }
    }

    fn set_offline(&mut self, error: &Error) {
        let reason = error.to_string();
        self.error = Some(reason.clone());
        if self.health == Health::Offline {
            return;
        }
        self.health = Health::Offline;
        self.since = SystemTime::now();
        // A version seen on the old connection may not be the next server's.
        self.version = None;
        let suspect = self
            .last_write
            .clone()
            .filter(|w| w.at.elapsed().map_or(true, |age| age <= RECOVERY_WINDOW));
        match &suspect {
            Some(w) => log::warn!(
                "fail2ban went offline: {reason} (within 60 s of `{}` via banwatch)",
                w.what
            ),
            None => log::warn!("fail2ban went offline: {reason}"),
        }
        self.push_event("offline", reason, suspect.as_ref().map(|w| w.what.clone()));
        if let Some(write) = suspect {
            self.pending_recovery = Some(PendingRecovery {
                write,
                offline_at: self.since,
            });
        }
        for j in &mut self.jails {
            if matches!(j.bans, BanList::Fetching) {
                j.bans = BanList::NotFetched;
            }
        }
    }

    /// Sum of the counts over jails.
    pub fn totals(&self) -> [u64; 4] {
        let mut t = [0u64; 4];
        for s in self.jails.iter().filter_map(|j| j.status.as_ref()) {
            t[0] += s.currently_failed;
            t[1] += s.total_failed;
            t[2] += s.currently_banned;
            t[3] += s.total_banned;
        }
        t
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
fn parse_status_bans(v: &Value) -> Result<Vec<Ban>, Error> {
    let status = JailStatus::from_value(v).map_err(Error::Shape)?;
    let bans = status.banned.unwrap_or_default();
    Ok(bans.iter().map(|ip| Ban::new(ip, None, None)).collect())
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
    let bans = replies::ban_entries(&list, local_offset()).map_err(Error::Shape)?;
    Ok(bans.iter().map(Ban::from).collect())
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

/// Compare a fail2ban version such as "1.0.2" or "0.11.2.dev1" with (major, minor, patch).
pub fn version_at_least(version: &str, want: (u32, u32, u32)) -> bool {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty());
    let mut next = || {
        parts
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    (next(), next(), next()) >= want
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
                "../tests/data/1.0.2-py3.11/get_banip_with_time.bin"
            )),
            strip(include_bytes!(
                "../tests/data/1.1.1-py3.11/get_banip_with_time.bin"
            )),
            strip(include_bytes!(
                "../tests/data/0.11.2-py2.7/get_banip_with_time.bin"
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
            "../tests/data/1.0.2-py3.11/get_nonexistent_jail_banip.bin"
        )))
        .0;
        assert!(
            matches!(err, Err(Error::Server(ref e)) if e.class == "UnknownJailException"),
            "{err:?}"
        );
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_at_least("1.0.2", (0, 10, 6)));
        assert!(version_at_least("0.10.6", (0, 10, 6)));
        assert!(!version_at_least("0.10.5", (0, 10, 6)));
        assert!(version_at_least("0.11.2", (0, 11, 1)));
        assert!(!version_at_least("0.9.7", (0, 10, 6)));
    }
}
