//! The probe cycle (every `--interval`): `status`, then `status JAIL short` for each jail (full
//! `status JAIL` on servers older than 0.10.6), `version` once per connection, settings once per
//! jail per connection. A cycle never overlaps the previous one. Each reply lands in one handler
//! below, which updates the state and decides what to ask next.

use std::time::{Instant, SystemTime};

use super::{words, BanList, Health, Jail, Setting, Settings, State, Tag};
use crate::fail2ban::pickle::Value;
use crate::fail2ban::replies::{self, JailStatus, ServerStatus};
use crate::fail2ban::Error;

impl State {
    /// Hand a finished command's result to the part of the state that asked for it.
    pub(super) fn on_result(&mut self, tag: Tag, result: Result<Value, Error>, now: Instant) {
        match tag {
            Tag::Version => self.on_version(result),
            Tag::Status => self.on_status(result, now),
            Tag::JailStatus { jail, in_cycle } => self.on_jail_status(jail, in_cycle, result, now),
            Tag::Setting { jail, setting } => self.on_setting(&jail, setting, result),
            Tag::Bans { jail } => self.on_bans(jail, result, now),
            Tag::Request(_) => {}
        }
    }

    fn on_version(&mut self, result: Result<Value, Error>) {
        match result.and_then(|v| replies::string(&v).map_err(Error::Shape)) {
            Ok(version) => {
                // `short` arrived in 0.10.6 and, on the 0.11 branch, in 0.11.2.
                let in_0_11_before_short = version_at_least(&version, (0, 11, 0))
                    && !version_at_least(&version, (0, 11, 2));
                self.short_status = version_at_least(&version, (0, 10, 6)) && !in_0_11_before_short;
                self.with_time = version_at_least(&version, (0, 11, 1));
                self.version = Some(version);
                self.version_generation = self.client.generation();
            }
            Err(e) => log::debug!("version: {e}"),
        }
    }

    fn on_status(&mut self, result: Result<Value, Error>, now: Instant) {
        match result.and_then(|v| ServerStatus::from_value(&v).map_err(Error::Shape)) {
            Ok(status) => {
                self.set_online(now);
                // Fail2ban's jails in fail2ban's order, keeping what is known of each; jails it
                // no longer lists are dropped. (A rebuild, not a sort: a sort instantiates ~6 KB.)
                let mut known = std::mem::take(&mut self.jails);
                for name in &status.jails {
                    let jail = match known.iter().position(|j| j.name == *name) {
                        Some(i) => known.swap_remove(i),
                        None => Jail {
                            name: name.clone(),
                            status: None,
                            settings: Settings::default(),
                            settings_generation: 0,
                            bans: BanList::NotFetched,
                        },
                    };
                    self.jails.push(jail);
                }
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

    fn on_jail_status(
        &mut self,
        jail: String,
        in_cycle: bool,
        result: Result<Value, Error>,
        now: Instant,
    ) {
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
                        self.submit(words(&["get", &jail, word]), tag);
                    }
                }
            }
            Err(Error::Server(e)) if self.short_status && e.class != "UnknownJailException" => {
                // An old server that does not take the `short` flavor: fall back for good.
                log::info!("`status {jail} short` refused ({e}); using the full `status JAIL`");
                self.short_status = false;
                self.request_jail_status(jail, in_cycle);
                return;
            }
            Err(e) if e.is_transport() => {
                self.set_offline(&e);
                if in_cycle {
                    // fail2ban is unreachable or hung: do not spend a timeout per jail.
                    self.client.cancel_unsent(&mut |t| {
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

    fn on_setting(&mut self, jail: &str, setting: Setting, result: Result<Value, Error>) {
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

    fn request_jail_status(&mut self, jail: String, in_cycle: bool) {
        let args = if self.short_status {
            words(&["status", &jail, "short"])
        } else {
            words(&["status", &jail])
        };
        self.submit(args, Tag::JailStatus { jail, in_cycle });
    }

    fn maybe_finish_cycle(&mut self, now: Instant) {
        if self.probe_outstanding == 0 {
            if let Some(started) = self.probe_started.take() {
                self.last_probe_duration = Some(now.saturating_duration_since(started));
                let checked_at = SystemTime::now();
                self.checked_at = Some(checked_at);
                if self.health == Health::Online {
                    let mut totals = Vec::with_capacity(self.jails.len());
                    for j in &self.jails {
                        if let Some(s) = &j.status {
                            totals.push((j.name.as_str(), s.total_banned, s.total_failed));
                        }
                    }
                    self.history.record(checked_at, &totals);
                }
            }
        }
    }

    /// Refresh one jail's counts now (after a write).
    pub fn refresh_jail(&mut self, jail: &str) {
        if let Some(j) = self.jails.iter_mut().find(|j| j.name == jail) {
            j.bans = BanList::NotFetched;
        }
        self.request_jail_status(jail.to_string(), false);
    }
}

/// Compare a fail2ban version such as "1.0.2" or "0.11.2.dev1" with (major, minor, patch): its
/// first three runs of digits, a missing or overflowing one read as 0. (A byte loop: `split`
/// with a closure and `parse` cost more code.)
pub fn version_at_least(version: &str, want: (u32, u32, u32)) -> bool {
    let mut parts = [Some(0u32); 3];
    let (mut started, mut in_digits) = (0, false);
    for b in version.bytes() {
        if !b.is_ascii_digit() {
            in_digits = false;
            continue;
        }
        if !in_digits {
            if started == parts.len() {
                break;
            }
            started += 1;
            in_digits = true;
        }
        let part = &mut parts[started - 1];
        *part = part.and_then(|n| n.checked_mul(10)?.checked_add(u32::from(b - b'0')));
    }
    let [major, minor, patch] = parts.map(|p| p.unwrap_or(0));
    (major, minor, patch) >= want
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A `status` reply listing these jails.
    fn status_reply(jails: &str) -> Value {
        let pair = |label: &str, v: Value| Value::Tuple(vec![Value::Str(label.into()), v]);
        Value::List(vec![
            pair(
                "Number of jail",
                Value::Int(jails.split(", ").count() as i64),
            ),
            pair("Jail list", Value::Str(jails.into())),
        ])
    }

    #[test]
    fn jails_follow_fail2bans_order_and_keep_what_is_known_of_them() {
        let client = crate::fail2ban::client::Client::new(
            "/nonexistent/f2b.sock".into(),
            Duration::from_secs(1),
            1 << 20,
        );
        let now = Instant::now();
        let mut state = State::new(client, Duration::from_secs(5), now);
        state.on_result(Tag::Status, Ok(status_reply("sshd, nginx, postfix")), now);
        let names = |s: &State| s.jails.iter().map(|j| j.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&state), ["sshd", "nginx", "postfix"]);
        state.jails[2].settings.maxretry = Some(7);
        // A reload: nginx is gone, a new jail comes first, postfix keeps its settings.
        state.on_result(Tag::Status, Ok(status_reply("apache, postfix, sshd")), now);
        assert_eq!(names(&state), ["apache", "postfix", "sshd"]);
        assert_eq!(state.jails[1].settings.maxretry, Some(7));
        assert_eq!(state.jails[0].settings.maxretry, None);
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_at_least("1.0.2", (0, 10, 6)));
        assert!(version_at_least("0.10.6", (0, 10, 6)));
        assert!(!version_at_least("0.10.5", (0, 10, 6)));
        assert!(version_at_least("0.11.2", (0, 11, 1)));
        assert!(!version_at_least("0.9.7", (0, 10, 6)));
        assert!(version_at_least("v0.11.2.dev1", (0, 11, 2)));
        assert!(version_at_least("1", (0, 10, 6)));
        assert!(!version_at_least("", (0, 0, 1)));
        // A part too large for u32 reads as 0, as a failed parse did.
        assert!(!version_at_least("0.99999999999.9", (0, 1, 0)));
        assert!(version_at_least("0.99999999999.9", (0, 0, 9)));
        assert!(!version_at_least("1.2.3.4", (1, 2, 4)));
    }
}
