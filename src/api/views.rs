//! The read endpoints' JSON, written straight into each response's body with `crate::json`.
//! Keys are in sorted order (what serde_json's map gave the API's first clients). Data from
//! the last probe is served while fail2ban is offline only marked `"stale":true` with its age;
//! with nothing known yet, the answer is the offline 503, never an empty list.

use std::rc::Rc;
use std::time::SystemTime;

use crate::context::{Context, HealthAnswer, HealthKey};
use crate::http::{Request, Response};
use crate::json::{self, List, Obj};
use crate::state::{Ban, Health, Jail, State};
use crate::timefmt::{write_rfc3339, write_rfc3339_unix};

use super::{offline, pagination};

/// How current the served data is: `Ok(None)` when fail2ban answered the last probe,
/// `Ok(Some(age))` for the last known data while it does not (seconds since it stopped
/// answering), or the offline 503 when nothing is known. The one rule for every read.
pub fn freshness(state: &State) -> Result<Option<u64>, Response> {
    if state.health == Health::Online {
        return Ok(None);
    }
    if state.jails.is_empty() {
        return Err(offline(state));
    }
    Ok(Some(age_since(state.since)))
}

fn age_since(t: SystemTime) -> u64 {
    SystemTime::now()
        .duration_since(t)
        .map_or(0, |d| d.as_secs())
}

/// `"checked_at"`: when the last probe finished, or null before the first.
fn checked_at(obj: &mut Obj, state: &State) {
    match state.checked_at {
        Some(t) => write_rfc3339(obj.key("checked_at"), t),
        None => obj.key("checked_at").extend_from_slice(b"null"),
    }
}

/// `"stale":true,"age_s":N` when the data is not current.
fn mark(obj: &mut Obj, age: Option<u64>) {
    if let Some(age) = age {
        obj.bool("stale", true).uint("age_s", age);
    }
}

impl HealthKey {
    fn of(state: &State) -> Self {
        HealthKey {
            health: state.health,
            since: state.since,
            checked_at: state.checked_at,
            jails: state.jails.len(),
            interval: state.interval,
            version: state.version.clone(),
            error: state.error.clone(),
        }
    }
    /// Compared field by field so that a request that finds nothing changed allocates nothing.
    fn is_of(&self, state: &State) -> bool {
        self.health == state.health
            && self.since == state.since
            && self.checked_at == state.checked_at
            && self.jails == state.jails.len()
            && self.interval == state.interval
            && self.version == state.version
            && self.error == state.error
    }
}

/// The health answer, the endpoint monitors hammer: its bytes are written when the state it
/// shows changes and copied out for each request.
pub fn health(state: &State, ctx: &mut Context) -> Response {
    let answer = match &mut ctx.health {
        Some(a) if a.key.is_of(state) => a,
        slot => slot.insert(health_answer(state)),
    };
    let resp = Response::new(
        answer.status,
        "application/health+json",
        Rc::clone(&answer.body),
    )
    .no_store();
    if answer.status == 503 {
        resp.header("Retry-After", answer.retry_after.clone())
    } else {
        resp
    }
}

fn health_answer(state: &State) -> HealthAnswer {
    let mut body = Vec::with_capacity(256);
    let mut obj = Obj::new(&mut body);
    let status = if state.health == Health::Online {
        obj.str("status", "pass")
            .str("fail2ban", "online")
            .opt_str("version", state.version.as_deref())
            .uint("jails", state.jails.len() as u64);
        200
    } else {
        obj.str("status", "fail")
            .str("fail2ban", state.health.as_str())
            .str(
                "error",
                state
                    .error
                    .as_deref()
                    .unwrap_or("no probe of fail2ban has finished yet"),
            );
        write_rfc3339(obj.key("since"), state.since);
        503
    };
    checked_at(&mut obj, state);
    obj.end();
    body.push(b'\n');
    HealthAnswer {
        key: HealthKey::of(state),
        status,
        body: body.into(),
        retry_after: state.interval.as_secs().max(1).to_string(),
    }
}

pub fn status(state: &State, ctx: &Context) -> Response {
    let mut body = Vec::with_capacity(1024);
    let mut top = Obj::new(&mut body);
    let uptime = age_since(state.started_at);
    let mut b = Obj::new(top.key("banwatch"));
    b.uint("ban_list_fetches", state.ban_list_fetches)
        .uint("fail2ban_commands", state.client.commands_sent);
    json::secs(b.key("interval_s"), state.interval);
    match state.last_probe_duration {
        Some(d) => json::secs(b.key("probe_duration_s"), d),
        None => b.key("probe_duration_s").extend_from_slice(b"null"),
    }
    b.bool("reads_protected", ctx.protect_reads)
        .uint("uptime_s", uptime)
        .str("version", env!("CARGO_PKG_VERSION"))
        .bool("writes_enabled", ctx.token.is_some())
        .end();
    let mut events = List::new(top.key("events"));
    for e in state.events.iter().rev() {
        let mut o = Obj::new(events.item());
        write_rfc3339(o.key("at"), e.at);
        o.str("kind", e.kind)
            .str("reason", &e.reason)
            .opt_str("suspected_cause", e.suspected_cause.as_deref())
            .end();
    }
    events.end();
    let mut f = Obj::new(top.key("fail2ban"));
    checked_at(&mut f, state);
    f.opt_str("error", state.error.as_deref())
        .bool("online", state.health == Health::Online);
    write_rfc3339(f.key("since"), state.since);
    f.str("state", state.health.as_str())
        .opt_str("version", state.version.as_deref())
        .end();
    json::strs(
        top.key("jails"),
        state.jails.iter().map(|j| j.name.as_str()),
    );
    match &state.pending_recovery {
        Some(p) => {
            let mut o = Obj::new(top.key("pending_recovery"));
            write_rfc3339(o.key("at"), p.write.at);
            write_rfc3339(o.key("offline_at"), p.offline_at);
            o.str("write", &p.write.what).end();
        }
        None => top.key("pending_recovery").extend_from_slice(b"null"),
    }
    let [cf, tf, cb, tb] = state.totals();
    Obj::new(top.key("totals"))
        .uint("currently_banned", cb)
        .uint("currently_failed", cf)
        .uint("total_banned", tb)
        .uint("total_failed", tf)
        .end();
    // The state itself says offline; the mark says the jails and totals are the last known.
    let age = (state.health != Health::Online).then(|| age_since(state.since));
    mark(&mut top, age);
    top.end();
    Response::json(200, body).no_store()
}

/// `{"items":[...],"pagination":{...}}` of one page of `total` items, item `i` written by
/// `item(out, i)`: an index and a `dyn` closure, so jails and bans share one copy of this.
fn page_of(
    total: usize,
    page: usize,
    page_size: usize,
    age: Option<u64>,
    item: &dyn Fn(&mut Vec<u8>, usize),
) -> Response {
    let start = (page - 1).saturating_mul(page_size).min(total);
    let end = start.saturating_add(page_size).min(total);
    let mut body = Vec::with_capacity(64 + (end - start) * 128);
    let mut top = Obj::new(&mut body);
    let mut list = List::new(top.key("items"));
    for i in start..end {
        item(list.item(), i);
    }
    list.end();
    Obj::new(top.key("pagination"))
        .uint("page", page as u64)
        .uint("page_size", page_size as u64)
        .uint("total", total as u64)
        .uint("total_pages", total.div_ceil(page_size) as u64)
        .end();
    mark(&mut top, age);
    top.end();
    Response::json(200, body)
}

/// A jail's fields in sorted order; `detail` adds the settings and log sources among them.
fn jail_fields(obj: &mut Obj, j: &Jail, detail: bool) {
    let s = j.status.as_ref();
    if detail {
        obj.opt_int("bantime", j.settings.bantime);
    }
    obj.opt_uint("currently_banned", s.map(|s| s.currently_banned))
        .opt_uint("currently_failed", s.map(|s| s.currently_failed));
    if detail {
        let strs = |obj: &mut Obj, key, v: Option<&Vec<String>>| match v {
            Some(v) => json::strs(obj.key(key), v.iter().map(String::as_str)),
            None => obj.key(key).extend_from_slice(b"null"),
        };
        strs(obj, "files", s.map(|s| &s.files));
        obj.opt_int("findtime", j.settings.findtime);
        strs(obj, "journal_matches", s.map(|s| &s.journal_matches));
        obj.opt_int("maxretry", j.settings.maxretry);
    }
    obj.str("name", &j.name)
        .opt_uint("total_banned", s.map(|s| s.total_banned))
        .opt_uint("total_failed", s.map(|s| s.total_failed));
}

pub fn jails(req: &Request, state: &State) -> Response {
    let (page, size) = match pagination(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let age = match freshness(state) {
        Ok(age) => age,
        Err(r) => return r,
    };
    page_of(state.jails.len(), page, size, age, &|out, i| {
        let mut obj = Obj::new(out);
        jail_fields(&mut obj, &state.jails[i], false);
        obj.end();
    })
}

pub fn jail_detail(state: &State, j: &Jail) -> Response {
    let age = match freshness(state) {
        Ok(age) => age,
        Err(r) => return r,
    };
    let mut body = Vec::with_capacity(512);
    let mut obj = Obj::new(&mut body);
    jail_fields(&mut obj, j, true);
    mark(&mut obj, age);
    obj.end();
    Response::json(200, body)
}

/// A page of a ban list; `age` from `freshness`, taken before the list was borrowed.
pub fn bans_page(bans: &[Ban], page: usize, size: usize, age: Option<u64>) -> Response {
    page_of(bans.len(), page, size, age, &|out, i| {
        let b = &bans[i];
        let mut obj = Obj::new(out);
        obj.opt_int("ban_seconds", b.ban_seconds());
        match b.banned_at() {
            Some(t) => write_rfc3339_unix(obj.key("banned_at"), t),
            None => obj.key("banned_at").extend_from_slice(b"null"),
        }
        match b.expires_at() {
            Some(t) => write_rfc3339_unix(obj.key("expires_at"), t),
            None => obj.key("expires_at").extend_from_slice(b"null"),
        }
        obj.str("ip", &b.host.to_string()).end();
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn state() -> State {
        let client = crate::fail2ban::client::Client::new(
            "/nonexistent/f2b.sock".into(),
            Duration::from_secs(1),
            1024,
        );
        State::new(client, Duration::from_secs(5), Instant::now())
    }

    #[test]
    fn health_bytes_are_written_once_per_state_change() {
        let mut state = state();
        let mut ctx = Context::new(None, false, 0);
        let first = health(&state, &mut ctx);
        assert_eq!(first.status, 503);
        let built = ctx.health.as_ref().unwrap().body.as_ptr();
        let again = health(&state, &mut ctx);
        assert_eq!(again.body, first.body);
        assert_eq!(
            ctx.health.as_ref().unwrap().body.as_ptr(),
            built,
            "an unchanged state reuses the written bytes"
        );
        state.health = Health::Online;
        state.version = Some("1.0.2".into());
        let online = health(&state, &mut ctx);
        assert_eq!(online.status, 200);
        let text = String::from_utf8(online.body.to_vec()).unwrap();
        assert!(
            text.starts_with(
                "{\"status\":\"pass\",\"fail2ban\":\"online\",\"version\":\"1.0.2\",\"jails\":0,\"checked_at\":null}"
            ),
            "{text}"
        );
        state.checked_at = Some(SystemTime::UNIX_EPOCH);
        let checked = health(&state, &mut ctx);
        assert!(
            String::from_utf8_lossy(&checked.body)
                .contains("\"checked_at\":\"1970-01-01T00:00:00Z\""),
            "a new probe time is shown"
        );
    }
}
