//! The live picture of fail2ban, in plain structs owned by the event loop: health and its
//! transitions, the jail list and counts from the last probe, settings fetched once per jail per
//! fail2ban start, the events ring and the pending-recovery record. It also owns the fail2ban
//! client and decides what to ask it.
//!
//! - `probe.rs`: the probe cycle and what each reply changes.
//! - `bans.rs`: ban lists, fetched on demand with a short cache and read a slice per loop turn.

mod bans;
mod probe;

use std::time::{Duration, Instant, SystemTime};

use crate::fail2ban::client::{Client, Completion};
use crate::fail2ban::pickle::Value;
use crate::fail2ban::replies::JailStatus;
use crate::fail2ban::Error;
use crate::history::History;

pub use bans::{Ban, BanList, BansView};

/// Transitions kept for `/api/v1/status`.
pub const MAX_EVENTS: usize = 50;
/// A write through banwatch this close before fail2ban goes offline is named as the suspected cause.
pub const RECOVERY_WINDOW: Duration = Duration::from_secs(60);

/// A command's arguments. (One function for every command the state sends: a `vec!` of
/// `String`s at each call site costs more code.)
fn words(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

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
    /// A command one HTTP request waits for (writes, `banned IP`), by request id: unique per
    /// request, so a late reply after a 504 cannot answer the connection's next request.
    Request(u64),
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
    /// Oldest first. A `Vec` (at most `MAX_EVENTS`, the oldest removed from the front), as
    /// the client's queue: a `VecDeque` costs more code than the moves.
    pub events: Vec<Event>,
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
            events: Vec::new(),
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
            self.submit(words(&["version"]), Tag::Version);
        }
        self.submit(words(&["status"]), Tag::Status);
    }

    /// The next instant the state needs the loop awake for.
    pub fn deadline(&self) -> Instant {
        match self.client.deadline() {
            Some(d) => d.min(self.probe_due_at),
            None => self.probe_due_at,
        }
    }

    fn submit(&mut self, args: Vec<String>, tag: Tag) {
        self.submit_read(args, false, tag);
    }

    /// `submit`, or with `raw` the reply's pickle bytes (ban lists).
    fn submit_read(&mut self, args: Vec<String>, raw: bool, tag: Tag) {
        if let Err((e, tag)) = self.client.submit_read(args, raw, tag) {
            // Only Busy or Refused can happen here; treat like a failed reply.
            self.on_result(tag, Err(e), Instant::now());
        }
    }

    /// Feed finished commands. Returns the ones HTTP requests wait for, by request id.
    pub fn on_completions(
        &mut self,
        done: Vec<Completion<Tag>>,
        now: Instant,
    ) -> Vec<(u64, Result<Value, Error>)> {
        let mut for_requests = Vec::new();
        for Completion {
            mut waiters,
            result,
        } in done
        {
            // The last waiter takes the result itself: a ban list is not copied for nothing.
            let Some(last) = waiters.pop() else { continue };
            for waiter in waiters {
                self.deliver(waiter, result.clone(), now, &mut for_requests);
            }
            self.deliver(last, result, now, &mut for_requests);
        }
        if self.client.generation() != self.version_generation && self.client.generation() != 0 {
            // A new connection: maybe a new fail2ban. Ask its version once (unless the probe
            // already did on this connection).
            self.version_generation = self.client.generation();
            if self.version.is_some() {
                self.submit(words(&["version"]), Tag::Version);
            }
        }
        for_requests
    }

    /// One waiter's result: to its HTTP request, or to the part of the state that asked.
    fn deliver(
        &mut self,
        waiter: Tag,
        result: Result<Value, Error>,
        now: Instant,
        for_requests: &mut Vec<(u64, Result<Value, Error>)>,
    ) {
        match waiter {
            Tag::Request(id) => for_requests.push((id, result)),
            tag => self.on_result(tag, result, now),
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
            self.events.remove(0);
        }
        self.events.push(Event {
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
        let version = self.version.as_deref().unwrap_or("?");
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
