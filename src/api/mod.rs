//! Routing: one `match` over (method, path), the auth rules, the writes, and the mapping from
//! errors to status codes; the read endpoints' JSON is in `views`. Handlers read `State`; those
//! that need fail2ban either submit a command tagged with the request (`Outcome::Command`)
//! or wait for a shared fetch (`Outcome::Wait`, re-run when the state changes).

mod views;

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Instant;

use crate::context::Context;
use crate::fail2ban::pickle::Value;
use crate::fail2ban::{replies, Error};
use crate::http::{Request, Response};
use crate::json::{self, Obj};
use crate::metrics;
use crate::state::{BanList, BansView, Health, State, Tag};

/// Largest `page_size` a client may ask for.
pub const MAX_PAGE_SIZE: usize = 500;
pub const DEFAULT_PAGE_SIZE: usize = 50;

// The page's assets, gzipped by build.rs: a third of the bytes in the binary and on the wire.
const INDEX_HTML: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/index.html.gz"));
const APP_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/app.js.gz"));
const APP_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/app.css.gz"));
/// Why a client that refuses gzip gets no page: we store no second, uncompressed copy.
const GZIP_ONLY: &[u8] =
    b"this page is stored gzip-compressed: send Accept-Encoding: gzip (curl --compressed)\n";
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// What the router decided.
pub enum Outcome {
    Respond(Response),
    /// Waiting for shared state (a ban-list fetch, room in the command queue); route again
    /// when it changes.
    Wait,
    /// A command tagged `Tag::Request(id)` was submitted; finish with `finish` when it completes.
    Command(Pending),
}

/// What to make of a request's own command when it completes.
#[derive(Debug, Clone)]
pub enum Pending {
    /// A ban (`ban`) or an unban of `ip` in `jail`.
    Write {
        ban: bool,
        jail: String,
        ip: String,
    },
    BannedIp {
        ip: String,
    },
}

/// What a path names; its parameters (jail, address) are read from the path's segments.
#[derive(Clone, Copy)]
enum Route {
    Page,
    Livez,
    Health,
    Metrics,
    Status,
    Jails,
    Jail,
    JailBans,
    JailBan,
    History,
    BannedIp,
}

const READ: &str = "GET, HEAD";

/// What `path` names and the methods it takes (the `Allow` of a 405): one match serves both
/// routing and refusing, where two matches over the same patterns cost 1 KB.
fn lookup(path: &[&str]) -> Option<(Route, &'static str)> {
    // Nested by prefix: string patterns are compared one arm after another, so `api` and `v1`
    // are compared once here rather than once per route.
    let route = match path {
        [] | ["app.js" | "app.css"] => Route::Page,
        ["livez"] => Route::Livez,
        ["health" | "readyz"] => Route::Health,
        ["metrics"] => Route::Metrics,
        ["api", rest @ ..] => match rest {
            ["health"] => Route::Health,
            ["v1", rest @ ..] => match rest {
                ["status"] => Route::Status,
                ["jails"] => Route::Jails,
                ["jails", _] => Route::Jail,
                ["jails", _, "bans"] => return Some((Route::JailBans, "GET, HEAD, POST")),
                ["jails", _, "bans", _] => return Some((Route::JailBan, "DELETE")),
                ["history"] => Route::History,
                ["bans", _] => Route::BannedIp,
                _ => return None,
            },
            _ => return None,
        },
        _ => return None,
    };
    Some((route, READ))
}

/// Whether `route` takes `method` (`read`: it is GET or HEAD): what `lookup`'s `Allow` text
/// lists (a test holds the two together), decided on the route rather than by searching text.
fn takes(route: Route, method: &str, read: bool) -> bool {
    match route {
        Route::JailBans => read || method == "POST",
        Route::JailBan => method == "DELETE",
        _ => read,
    }
}

pub fn route(
    req: &Request,
    state: &mut State,
    ctx: &mut Context,
    request_id: u64,
    asked_at: Instant,
) -> Outcome {
    let mut segments: [Cow<str>; MAX_SEGMENTS] = Default::default();
    let count = match split_path(req.path(), &mut segments) {
        Ok(n) => n,
        Err(msg) => return Outcome::Respond(Response::error(400, msg)),
    };
    let mut seg = [""; MAX_SEGMENTS];
    for (s, decoded) in seg.iter_mut().zip(&segments) {
        *s = decoded;
    }
    let seg = &seg[..count];
    let method = &*req.method;
    let respond = Outcome::Respond;
    let Some((route, allow)) = lookup(seg) else {
        return respond(Response::error(
            404,
            &format!("no such path: {}", req.path()),
        ));
    };
    let read = matches!(method, "GET" | "HEAD");
    if !takes(route, method, read) {
        return respond(
            Response::error(405, &format!("{method} is not allowed here; use {allow}"))
                .header("Allow", allow),
        );
    }
    // The page, liveness and health stay open; every other read obeys --protect-reads.
    if read && !matches!(route, Route::Page | Route::Livez | Route::Health) {
        if let Some(denied) = check_read(req, ctx) {
            return respond(denied);
        }
    }
    match route {
        Route::Page => respond(asset(req, seg)),
        Route::Livez => respond(
            Response::new(200, "application/json", &b"{\"status\":\"pass\"}\n"[..]).no_store(),
        ),
        Route::Health => respond(views::health(state, ctx)),
        Route::Metrics => respond(Response::new(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics::render(state, ctx).into_bytes(),
        )),
        Route::Status => respond(views::status(state, ctx)),
        Route::Jails => respond(views::jails(req, state)),
        Route::Jail => respond(match state.jail(seg[3]) {
            Some(j) => views::jail_detail(state, j),
            None => no_such_jail(state, seg[3]),
        }),
        Route::JailBans if read => bans(req, state, seg[3], asked_at),
        Route::JailBans => write(req, state, ctx, request_id, seg[3], None),
        Route::JailBan => write(req, state, ctx, request_id, seg[3], Some(seg[5])),
        Route::History => respond(history(req, state)),
        Route::BannedIp => banned_ip(state, request_id, seg[3]),
    }
}

/// The most segments a path can have and still name something: the longest route,
/// `/api/v1/jails/{jail}/bans/{ip}`, has six. Longer paths match no route (404), so they
/// are not split further: splitting needs no allocation.
const MAX_SEGMENTS: usize = 8;

/// Split and percent-decode the path into `out` (borrowing where nothing is encoded); returns
/// how many segments it has, at most `MAX_SEGMENTS` (a longer path stops there, with a last
/// segment no route has). Refuses invalid UTF-8 and dot segments (traversal).
fn split_path<'a>(path: &'a str, out: &mut [Cow<'a, str>]) -> Result<usize, &'static str> {
    let mut n = 0;
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let Some(slot) = out.get_mut(n) else {
            out[out.len() - 1] = Cow::Borrowed("/");
            return Ok(n);
        };
        let seg = if raw.contains('%') {
            Cow::Owned(percent_decode(raw).ok_or("the path is not valid percent-encoded UTF-8")?)
        } else {
            Cow::Borrowed(raw)
        };
        if seg == "." || seg == ".." || seg.contains('/') || seg.contains('\0') {
            return Err("the path has a dot segment or an encoded slash");
        }
        *slot = seg;
        n += 1;
    }
    Ok(n)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            // Two hex digits exactly (`+f` is not a number here).
            let hex = |at: usize| char::from(*b.get(at)?).to_digit(16);
            out.push((hex(i + 1)? * 16 + hex(i + 2)?) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query().split('&').find_map(|kv| {
        kv.split_once('=')
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v)
    })
}

/// `Some(response)` when the token is required and missing or wrong.
fn check_read(req: &Request, ctx: &Context) -> Option<Response> {
    if ctx.protect_reads {
        return check_token(req, ctx);
    }
    None
}

fn check_token(req: &Request, ctx: &Context) -> Option<Response> {
    let Some(token) = &ctx.token else {
        return Some(Response::error(
            403,
            "writes are disabled: start banwatch with --token-file PATH (a file holding the bearer token) to enable them",
        ));
    };
    let given = req
        .authorization
        .as_deref()
        // The scheme is case-insensitive (RFC 9110 11.1).
        .and_then(|a| {
            a.get(..7)
                .filter(|s| s.eq_ignore_ascii_case("bearer "))
                .and(a.get(7..))
        })
        .map(str::trim);
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), token) => None,
        Some(_) => Some(
            Response::error(401, "wrong bearer token")
                .header("WWW-Authenticate", "Bearer realm=\"banwatch\""),
        ),
        None => Some(
            Response::error(401, "missing token: send Authorization: Bearer <token>")
                .header("WWW-Authenticate", "Bearer realm=\"banwatch\""),
        ),
    }
}

/// Compares in time that depends only on the lengths, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

fn asset(req: &Request, seg: &[&str]) -> Response {
    // A 406 before any 304 (RFC 9110 13.2.2: conditions are evaluated on what would be a 2xx).
    if !req.accepts_gzip {
        return Response::new(406, "text/plain; charset=utf-8", GZIP_ONLY)
            .header("Vary", "Accept-Encoding");
    }
    // The ETags, of the bytes sent, are hashed at compile time: an asset request does not hash
    // kilobytes or format.
    const JS: [u8; 18] = etag(APP_JS);
    const CSS: [u8; 18] = etag(APP_CSS);
    const HTML: [u8; 18] = etag(INDEX_HTML);
    let (body, content_type, etag) = match seg {
        ["app.js"] => (APP_JS, "text/javascript; charset=utf-8", &JS),
        ["app.css"] => (APP_CSS, "text/css; charset=utf-8", &CSS),
        _ => (INDEX_HTML, "text/html; charset=utf-8", &HTML),
    };
    let etag = std::str::from_utf8(etag).unwrap_or_default();
    let matches = req
        .if_none_match
        .as_deref()
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let resp = if matches {
        Response::new(304, content_type, &b""[..])
    } else {
        Response::new(200, content_type, body)
    };
    resp.header("Content-Encoding", "gzip")
        .header("Vary", "Accept-Encoding")
        .header("ETag", etag)
        .header("Cache-Control", "no-cache")
        .header("Content-Security-Policy", CSP)
        .header("X-Content-Type-Options", "nosniff")
        .header("Referrer-Policy", "no-referrer")
        .header("X-Frame-Options", "DENY")
}

/// `"<16 hex digits>"`: the quoted FNV-1a hash of `bytes`.
const fn etag(bytes: &[u8]) -> [u8; 18] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h = (h ^ bytes[i] as u64).wrapping_mul(0x100_0000_01b3);
        i += 1;
    }
    let mut out = [b'"'; 18];
    let mut d = 0;
    while d < 16 {
        out[16 - d] = b"0123456789abcdef"[(h >> (4 * d) & 0xf) as usize];
        d += 1;
    }
    out
}

fn history(req: &Request, state: &State) -> Response {
    match crate::history::Range::parse(query_param(req, "range")) {
        Ok(range) => Response::new(
            200,
            "application/json",
            state
                .history
                .to_json(range, std::time::SystemTime::now())
                .into_bytes(),
        )
        .no_store(),
        Err(msg) => Response::error(400, &msg),
    }
}

/// `(page, page_size)` from the query, or a 400 response.
pub(crate) fn pagination(req: &Request) -> Result<(usize, usize), Response> {
    let parse = |name: &str, default: usize, max: usize| match query_param(req, name) {
        None | Some("") => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(Response::error(
                400,
                &format!("{name} must be a whole number from 1 to {max}, not '{v}'"),
            )),
        },
    };
    Ok((
        parse("page", 1, 1_000_000_000)?,
        parse("page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?,
    ))
}

fn no_such_jail(state: &State, jail: &str) -> Response {
    if state.health != Health::Online {
        return offline(state);
    }
    Response::error(
        404,
        &format!("no jail named '{jail}' (jails: {})", names(state)),
    )
}

/// The jail names, comma-separated, pushed one by one: no `Vec` to collect them into first.
fn names(state: &State) -> String {
    let mut out = String::new();
    for (i, j) in state.jails.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&j.name);
    }
    out
}

/// The one rule for asking fail2ban on a client's behalf (writes, `banned`): not while it is
/// known to be offline (the offline 503 says why). While the first probe is still running the
/// command queues behind it with its own deadline; a write also needs its jail to be known.
fn known_offline(state: &State) -> Option<Response> {
    (state.health == Health::Offline).then(|| offline(state))
}

pub(crate) fn offline(state: &State) -> Response {
    let why = state
        .error
        .as_deref()
        .unwrap_or("no probe of fail2ban has finished yet");
    Response::error(503, &format!("fail2ban is offline: {why}"))
        .header("Retry-After", state.interval.as_secs().max(1).to_string())
}

fn bans(req: &Request, state: &mut State, jail: &str, asked_at: Instant) -> Outcome {
    let (page, size) = match pagination(req) {
        Ok(p) => p,
        Err(r) => return Outcome::Respond(r),
    };
    let Some(j) = state.jail(jail) else {
        return Outcome::Respond(no_such_jail(state, jail));
    };
    let age = match views::freshness(state) {
        Ok(age) => age,
        Err(r) => return Outcome::Respond(r),
    };
    // Offline, the last list fetched is served (marked stale) however old: it cannot be
    // refreshed, and a 503 would hide what is known.
    if let (Some(_), BanList::Ready { bans, .. }) = (age, &j.bans) {
        return Outcome::Respond(views::bans_page(bans, page, size, age));
    }
    match state.bans(jail, asked_at, Instant::now()) {
        BansView::Ready(bans) => Outcome::Respond(views::bans_page(bans, page, size, age)),
        BansView::Wait => Outcome::Wait,
        BansView::Failed(e) => Outcome::Respond(error_response(e)),
        BansView::Offline => Outcome::Respond(offline(state)),
        BansView::NoSuchJail => Outcome::Respond(no_such_jail(state, jail)),
    }
}

/// Map a fail2ban error to the answer a client sees: a table of status and retry hint, then
/// one formatting of the error for all of them.
pub fn error_response(e: &Error) -> Response {
    let (status, prefix, retry_after) = match e {
        Error::Timeout { .. } => (504, "", None),
        Error::Busy => (503, "", Some("1")),
        Error::Refused(_) => (400, "", None),
        Error::Server(s) if s.class == "UnknownJailException" => (404, "", None),
        Error::Server(_) | Error::Shape(_) => (502, "", None),
        _ => (503, "fail2ban is offline: ", Some("5")),
    };
    let resp = Response::error(status, &format!("{prefix}{e}"));
    match retry_after {
        Some(secs) => resp.header("Retry-After", secs),
        None => resp,
    }
}

/// An IPv4 or IPv6 address, optionally with a CIDR prefix length. Returns the canonical text.
pub fn validate_ip(text: &str) -> Result<String, String> {
    let bad = || {
        // At most 64 characters of it, escaped; built only when it is refused.
        let mut quoted = String::new();
        for c in text.chars().take(64) {
            quoted.extend(c.escape_default());
        }
        format!("'{quoted}' is not an IPv4 or IPv6 address or CIDR range")
    };
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| bad())?;
    match prefix {
        None => Ok(ip.to_string()),
        Some(p) => {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            // All digits and at most the length: a usize read (linked for the paging) will do.
            match p.parse::<usize>() {
                Ok(n) if n <= max && p.bytes().all(|b| b.is_ascii_digit()) => {
                    Ok(format!("{ip}/{n}"))
                }
                _ => Err(bad()),
            }
        }
    }
}

fn write(
    req: &Request,
    state: &mut State,
    ctx: &Context,
    request_id: u64,
    jail: &str,
    ip: Option<&str>,
) -> Outcome {
    if let Some(denied) = check_token(req, ctx) {
        return Outcome::Respond(denied);
    }
    let ip_text = match ip {
        Some(ip) => ip.to_string(),
        None => match json::object_str_member(&req.body, "ip") {
            Ok(Some(s)) => s,
            Ok(None) => {
                return Outcome::Respond(Response::error(
                    400,
                    "the body must be {\"ip\": \"<address or CIDR>\"}",
                ))
            }
            Err(json::NotJson) => {
                return Outcome::Respond(Response::error(
                    400,
                    "the body must be JSON: {\"ip\": \"<address or CIDR>\"}",
                ))
            }
        },
    };
    let ip = match validate_ip(&ip_text) {
        Ok(ip) => ip,
        Err(msg) => return Outcome::Respond(Response::error(400, &msg)),
    };
    if let Some(offline) = known_offline(state) {
        return Outcome::Respond(offline);
    }
    if state.jail(jail).is_none() {
        return Outcome::Respond(no_such_jail(state, jail));
    }
    let ban = req.method == "POST";
    let word = if ban { "banip" } else { "unbanip" };
    let pending = Pending::Write {
        ban,
        jail: jail.into(),
        ip: ip.clone(),
    };
    let args = vec!["set".into(), jail.into(), word.into(), ip];
    match state.client.submit(args, false, Tag::Request(request_id)) {
        Ok(()) => Outcome::Command(pending),
        // A full queue is backpressure, not an answer: wait for room (bounded by the request's
        // own --timeout deadline in the event loop).
        Err(Error::Busy) => Outcome::Wait,
        Err(e) => Outcome::Respond(error_response(&e)),
    }
}

fn banned_ip(state: &mut State, request_id: u64, ip: &str) -> Outcome {
    let ip = match validate_ip(ip) {
        Ok(ip) => ip,
        Err(msg) => return Outcome::Respond(Response::error(400, &msg)),
    };
    if let Some(offline) = known_offline(state) {
        return Outcome::Respond(offline);
    }
    match state.client.submit(
        vec!["banned".into(), ip.clone()],
        true,
        Tag::Request(request_id),
    ) {
        Ok(()) => Outcome::Command(Pending::BannedIp { ip }),
        Err(Error::Busy) => Outcome::Wait,
        Err(e) => Outcome::Respond(error_response(&e)),
    }
}

/// Turn a request's own command result into its answer.
pub fn finish(pending: &Pending, result: Result<Value, Error>, state: &mut State) -> Response {
    let value = match result {
        Ok(v) => v,
        Err(e) => return error_response(&e),
    };
    match pending {
        Pending::Write { ban, jail, ip } => {
            let ban = *ban;
            let n = match replies::int(&value) {
                Ok(n) => n,
                Err(e) => return error_response(&Error::Shape(e)),
            };
            let verb = if ban { "ban" } else { "unban" };
            let what = format!("{verb} {ip} in {jail}");
            log::info!("{what}: fail2ban answered {n}");
            state.note_write(what);
            state.refresh_jail(jail);
            let mut body = Vec::with_capacity(96);
            let mut obj = Obj::new(&mut body);
            if ban {
                obj.bool("banned", n > 0);
            }
            obj.str("ip", ip).str("jail", jail);
            if !ban {
                obj.bool("unbanned", n > 0);
            }
            obj.end();
            Response::json(if ban { 201 } else { 200 }, body)
        }
        Pending::BannedIp { ip } => match replies::banned_ips(&value) {
            Ok(lists) => {
                let jails = lists.into_iter().next().unwrap_or_default();
                let mut body = Vec::with_capacity(64);
                let mut obj = Obj::new(&mut body);
                obj.str("ip", ip);
                json::strs(obj.key("jails"), jails.iter().map(String::as_str));
                obj.end();
                Response::json(200, body)
            }
            Err(e) => error_response(&Error::Shape(e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways between the router and docs/openapi.yaml: every documented path is routed,
    /// every route is reached by a documented path, and each listed path is documented.
    #[test]
    fn the_router_and_the_openapi_spec_name_the_same_paths() {
        let spec = include_str!("../../docs/openapi.yaml");
        let documented: Vec<&str> = spec
            .lines()
            .filter_map(|l| l.strip_prefix("  /")?.strip_suffix(':'))
            .collect();
        assert!(
            documented.len() >= 10,
            "no paths read from the spec: {documented:?}"
        );
        // The match has no wildcard: a new Route fails to compile until it is placed here.
        let index = |r: Route| match r {
            Route::Page => 0,
            Route::Livez => 1,
            Route::Health => 2,
            Route::Metrics => 3,
            Route::Status => 4,
            Route::Jails => 5,
            Route::Jail => 6,
            Route::JailBans => 7,
            Route::JailBan => 8,
            Route::History => 9,
            Route::BannedIp => 10,
        };
        let mut reached = [false; 11];
        for path in &documented {
            let seg: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            let (route, _) =
                lookup(&seg).unwrap_or_else(|| panic!("/{path} is documented, not routed"));
            reached[index(route)] = true;
        }
        assert!(
            reached.iter().all(|r| *r),
            "a route no documented path reaches: {reached:?}"
        );
        for path in [
            "",
            "app.js",
            "app.css",
            "livez",
            "health",
            "readyz",
            "api/health",
            "metrics",
            "api/v1/status",
            "api/v1/jails",
            "api/v1/jails/{jail}",
            "api/v1/jails/{jail}/bans",
            "api/v1/jails/{jail}/bans/{ip}",
            "api/v1/bans/{ip}",
            "api/v1/history",
        ] {
            assert!(
                documented.contains(&path),
                "/{path} is routed, not documented"
            );
        }
    }

    #[test]
    fn ip_validation_accepts_addresses_and_cidr_only() {
        assert_eq!(validate_ip("203.0.113.5").unwrap(), "203.0.113.5");
        assert_eq!(validate_ip("2001:db8::1").unwrap(), "2001:db8::1");
        assert_eq!(validate_ip("198.51.100.0/24").unwrap(), "198.51.100.0/24");
        for bad in [
            "not-an-ip",
            "1.2.3.4; rm -rf /",
            "1.2.3.4<F2B_END_COMMAND>",
            "1.2.3.4/33",
            "1.2.3.4/+1",
            "",
            " 1.2.3.4",
        ] {
            assert!(validate_ip(bad).is_err(), "{bad}");
        }
    }

    fn split(path: &str) -> Result<Vec<String>, &'static str> {
        let mut out: [Cow<str>; MAX_SEGMENTS] = Default::default();
        let n = split_path(path, &mut out)?;
        Ok(out[..n].iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn dot_segments_and_bad_utf8_are_refused() {
        assert!(split("/%2e%2e/etc").is_err());
        assert!(split("/a/%ff").is_err());
        assert!(split("/a%2fb").is_err());
        assert_eq!(
            split("/api/v1/jails/my%20jail").unwrap(),
            ["api", "v1", "jails", "my jail"]
        );
    }

    #[test]
    fn a_path_longer_than_any_route_ends_in_a_segment_no_route_has() {
        assert_eq!(split("/1/2/3/4/5/6/7/8").unwrap().len(), MAX_SEGMENTS);
        let long = split("/api/v1/jails/j/bans/1.2.3.4/7/8/9/10").unwrap();
        assert_eq!(long.len(), MAX_SEGMENTS);
        assert_eq!(long[MAX_SEGMENTS - 1], "/");
    }

    #[test]
    fn a_route_takes_exactly_the_methods_its_allow_header_lists() {
        let paths: [&[&str]; 15] = [
            &[],
            &["app.js"],
            &["app.css"],
            &["livez"],
            &["health"],
            &["readyz"],
            &["api", "health"],
            &["metrics"],
            &["api", "v1", "status"],
            &["api", "v1", "jails"],
            &["api", "v1", "jails", "j"],
            &["api", "v1", "jails", "j", "bans"],
            &["api", "v1", "jails", "j", "bans", "1.2.3.4"],
            &["api", "v1", "history"],
            &["api", "v1", "bans", "1.2.3.4"],
        ];
        for path in paths {
            let (route, allow) = lookup(path).unwrap();
            for method in [
                "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get",
            ] {
                let listed = allow.split(", ").any(|m| m == method);
                let read = matches!(method, "GET" | "HEAD");
                assert_eq!(takes(route, method, read), listed, "{method} {path:?}");
            }
        }
        assert!(lookup(&["api", "v1"]).is_none());
        assert!(lookup(&["api", "v1", "jails", "j", "bans", "1.2.3.4", "x"]).is_none());
    }

    #[test]
    fn etags_are_the_quoted_fnv1a_in_hex() {
        assert_eq!(&etag(b""), b"\"cbf29ce484222325\"");
        assert_eq!(&etag(b"a"), b"\"af63dc4c8601ec8c\"");
    }

    #[test]
    fn assets_are_deterministic_gzip_and_refused_without_it() {
        // build.rs's header: no mtime, no name, OS unknown, so the bytes and ETags are the
        // same on every build of the same assets.
        for body in [INDEX_HTML, APP_JS, APP_CSS] {
            assert_eq!(body[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
        }
        let get = |accepts_gzip: bool, if_none_match: Option<&str>| {
            let req = Request {
                method: "GET".into(),
                target: "/app.js".into(),
                minor_version: 1,
                keep_alive: true,
                authorization: None,
                if_none_match: if_none_match.map(Into::into),
                accepts_gzip,
                body: Vec::new(),
            };
            asset(&req, &["app.js"])
        };
        let ok = get(true, None);
        assert_eq!((ok.status, &ok.body[..]), (200, APP_JS));
        let header = |r: &Response, name: &str| {
            r.headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        };
        assert_eq!(header(&ok, "Content-Encoding").as_deref(), Some("gzip"));
        let tag = header(&ok, "ETag").unwrap();
        assert_eq!(tag.as_bytes(), etag(APP_JS));
        let not_modified = get(true, Some(&tag));
        assert_eq!(not_modified.status, 304);
        assert_eq!(
            header(&not_modified, "Vary").as_deref(),
            Some("Accept-Encoding")
        );
        // Even with a matching ETag: the representation it names is one the client refuses.
        let refused = get(false, Some(&tag));
        assert_eq!((refused.status, &refused.body[..]), (406, GZIP_ONLY));
    }

    #[test]
    fn a_percent_escape_is_two_hex_digits() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        for bad in ["%+f", "%-1", "% f", "%f", "%"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let ctx = Context::new(Some(b"t0k".to_vec()), false, 0);
        let with = |auth: &str| Request {
            method: "POST".into(),
            target: "/".into(),
            minor_version: 1,
            keep_alive: true,
            authorization: Some(auth.into()),
            if_none_match: None,
            accepts_gzip: true,
            body: Vec::new(),
        };
        for ok in ["Bearer t0k", "bearer t0k", "BEARER t0k"] {
            assert!(check_token(&with(ok), &ctx).is_none(), "{ok}");
        }
        for bad in ["Basic t0k", "Bearer", "Bearer t0K", "Bearert0k"] {
            assert_eq!(
                check_token(&with(bad), &ctx).map(|r| r.status),
                Some(401),
                "{bad}"
            );
        }
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
