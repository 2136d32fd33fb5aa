// banwatch status page: polls the JSON API, renders with textContent only (jail names and IPs
// come from the network), backs off when banwatch is unreachable. No framework, no build step.
"use strict";
const REFRESH = 5000, MAX_BACKOFF = 60000, PAGE_SIZE = 50;
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("banwatch-token") || "";
let status = null, openJail = null, page = 1, backoff = 0, lastOk = 0, timer = 0, writes = false;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (token) headers.Authorization = "Bearer " + token;
  const r = await fetch(path, Object.assign({}, opts, { headers, cache: "no-store" }));
  let body = null;
  try { body = await r.json(); } catch (_) { body = null; }
  if (r.status === 401) askToken(body && body.error);
  return { ok: r.ok, status: r.status, body };
}

function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? s + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago" : Math.round(s / 3600) + " h ago";
}

function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

function askToken(why) {
  $("token-form").hidden = false;
  $("token-note").textContent = why || "This banwatch needs a token.";
}

function renderState(s) {
  const f = s.fail2ban;
  const box = $("state");
  box.className = "state " + f.state;
  $("state-word").textContent = f.state;
  let detail = "";
  if (f.state === "offline") detail = (f.error || "") + " · since " + when(f.since);
  else if (f.state === "online") detail = "since " + when(f.since);
  else detail = "waiting for the first answer from fail2ban";
  $("state-detail").textContent = detail;
  $("version").textContent = f.version || "–";
  $("jail-count").textContent = s.jails.length;
  $("banned-total").textContent = s.totals.currently_banned;
  $("bw-version").textContent = s.banwatch.version;
  writes = s.banwatch.writes_enabled;
  if (writes && !token) askToken("Writes are enabled: a token lets you ban and unban.");
  const ev = $("events");
  ev.replaceChildren();
  if (s.pending_recovery) {
    const li = el("li", "pending recovery: fail2ban went offline at " + when(s.pending_recovery.offline_at) +
      " after " + s.pending_recovery.write + " (via banwatch)", "warn");
    ev.append(li);
  }
  for (const e of s.events) {
    const li = el("li", null, e.kind);
    li.append(el("time", when(e.at)), " ", el("b", e.kind), " ", e.reason || "");
    if (e.suspected_cause) li.append(el("span", " · suspected cause: " + e.suspected_cause, "warn"));
    ev.append(li);
  }
  if (!s.events.length && !s.pending_recovery) ev.append(el("li", "no events yet", "muted"));
}

function renderJails(items) {
  const tb = document.querySelector("#jails tbody");
  tb.replaceChildren();
  for (const j of items) {
    const tr = el("tr");
    const th = el("th");
    th.scope = "row";
    const b = el("button", j.name, "link");
    b.type = "button";
    b.setAttribute("aria-pressed", String(j.name === openJail));
    b.addEventListener("click", () => { openJail = j.name; page = 1; refresh(); });
    th.append(b);
    tr.append(th);
    for (const k of ["currently_failed", "total_failed", "currently_banned", "total_banned"]) {
      tr.append(el("td", j[k] === null ? "–" : j[k], "num"));
    }
    tb.append(tr);
  }
  if (!items.length) {
    const tr = el("tr"), td = el("td", "no jails", "muted");
    td.colSpan = 5;
    tr.append(td);
    tb.append(tr);
  }
  // Open the first jail with bans, so the page shows bans without a click.
  if (!openJail || !items.some((j) => j.name === openJail)) {
    const busy = items.find((j) => j.currently_banned > 0) || items[0];
    openJail = busy ? busy.name : null;
  }
}

async function renderBans() {
  const sec = $("bans");
  if (!openJail) { sec.hidden = true; return; }
  const r = await api("/api/v1/jails/" + encodeURIComponent(openJail) + "/bans?page=" + page + "&page_size=" + PAGE_SIZE);
  sec.hidden = false;
  $("bans-jail").textContent = openJail;
  $("ban-form").hidden = !writes;
  const tb = document.querySelector("#ban-table tbody");
  tb.replaceChildren();
  if (!r.ok) {
    const tr = el("tr"), td = el("td", (r.body && r.body.error) || "HTTP " + r.status, "warn");
    td.colSpan = 4;
    tr.append(td);
    tb.append(tr);
    return;
  }
  for (const b of r.body.items) {
    const tr = el("tr");
    tr.append(el("td", b.ip, "ip"), el("td", when(b.banned_at)),
      el("td", b.ban_seconds === -1 ? "permanent" : when(b.expires_at)));
    const td = el("td", null, "act");
    if (writes) {
      const u = el("button", "Unban");
      u.type = "button";
      u.setAttribute("aria-label", "Unban " + b.ip);
      u.addEventListener("click", () => write("DELETE", "/api/v1/jails/" + encodeURIComponent(openJail) +
        "/bans/" + encodeURIComponent(b.ip)));
      td.append(u);
    }
    tr.append(td);
    tb.append(tr);
  }
  if (!r.body.items.length) {
    const tr = el("tr"), td = el("td", "no bans", "muted");
    td.colSpan = 4;
    tr.append(td);
    tb.append(tr);
  }
  const p = r.body.pagination;
  $("page").textContent = "page " + p.page + " of " + Math.max(1, p.total_pages) + " (" + p.total + " bans)";
  $("prev").disabled = p.page <= 1;
  $("next").disabled = p.page >= p.total_pages;
}

async function write(method, path, body) {
  const msg = $("ban-msg");
  msg.textContent = "";
  const r = await api(path, { method, body: body ? JSON.stringify(body) : undefined,
    headers: body ? { "Content-Type": "application/json" } : {} });
  if (!r.ok) msg.textContent = (r.body && r.body.error) || "HTTP " + r.status;
  else msg.textContent = method === "DELETE" ? (r.body.unbanned ? "unbanned " : "was not banned: ") + r.body.ip
    : (r.body.banned ? "banned " : "already banned: ") + r.body.ip;
  refresh();
}

async function refresh() {
  clearTimeout(timer);
  try {
    const [s, j] = await Promise.all([api("/api/v1/status"), api("/api/v1/jails?page_size=500")]);
    if (s.ok) {
      status = s.body;
      renderState(status);
      // Offline with nothing known yet, the jail list is a 503: the state still shows.
      renderJails(j.ok ? j.body.items : []);
      await renderBans();
    }
    backoff = 0;
    lastOk = Date.now();
    $("banner").hidden = true;
  } catch (_) {
    backoff = Math.min(MAX_BACKOFF, backoff ? backoff * 2 : REFRESH * 2);
    const b = $("banner");
    b.hidden = false;
    b.textContent = "banwatch unreachable, retrying in " + Math.round(backoff / 1000) + " s";
  }
  timer = setTimeout(refresh, backoff || REFRESH);
}

setInterval(() => {
  $("updated").textContent = lastOk ? "updated " + ago(Date.now() - lastOk) : "not updated yet";
}, 1000);

document.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem("banwatch-token", token);
    $("token-form").hidden = true;
    refresh();
  });
  $("ban-form").addEventListener("submit", (e) => {
    e.preventDefault();
    write("POST", "/api/v1/jails/" + encodeURIComponent(openJail) + "/bans", { ip: $("ban-ip").value.trim() });
  });
  $("prev").addEventListener("click", () => { page = Math.max(1, page - 1); renderBans(); });
  $("next").addEventListener("click", () => { page += 1; renderBans(); });
  refresh();
});
