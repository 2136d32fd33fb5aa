// banwatch status page: polls the JSON API, renders with textContent only (jail names and IPs
// come from the network), backs off when banwatch is unreachable. No framework, no build step.
"use strict";
const REFRESH = 5000, MAX_BACKOFF = 60000, PAGE_SIZE = 50, HISTORY_EVERY = 30000;
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("banwatch-token") || "";
let status = null, openJail = null, page = 1, backoff = 0, lastOk = 0, timer = 0, writes = false;
let hist = null, histRange = "24h", histJail = "", histAt = 0;

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

// History: bans per bucket drawn as bars in an inline SVG; buckets no probe covered (null) are
// shaded, so fail2ban being offline reads as a gap and never as a quiet hour.
async function loadHistory(force) {
  if (!force && Date.now() - histAt < HISTORY_EVERY) return;
  const r = await api("/api/v1/history?range=" + histRange);
  if (!r.ok) {
    $("hist-summary").textContent = (r.body && r.body.error) || "history: HTTP " + r.status;
    return;
  }
  hist = r.body;
  histAt = Date.now();
  drawHistory();
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

// Bans and failures per bucket, of one jail or summed over all; null where no jail has data.
function sums(h, jail) {
  const names = jail ? [jail].filter((n) => h.jails[n]) : Object.keys(h.jails);
  const n = names.length ? h.jails[names[0]].bans.length : (h.range === "7d" ? 168 : 288);
  const bans = new Array(n).fill(null), fails = new Array(n).fill(null);
  for (const name of names) {
    const j = h.jails[name];
    j.bans.forEach((v, i) => { if (v !== null) bans[i] = (bans[i] || 0) + v; });
    j.failures.forEach((v, i) => { if (v !== null) fails[i] = (fails[i] || 0) + v; });
  }
  return { bans, fails };
}

function niceMax(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function drawHistory() {
  if (!hist) return;
  const pick = $("hist-jail"), names = Object.keys(hist.jails);
  if ([...pick.options].slice(1).map((o) => o.value).join("\n") !== names.join("\n")) {
    pick.replaceChildren(el("option", "all jails"));
    pick.options[0].value = "";
    for (const n of names) { const o = el("option", n); o.value = n; pick.append(o); }
  }
  if (histJail && !hist.jails[histJail]) histJail = "";
  pick.value = histJail;
  const box = $("hist-chart");
  const W = Math.max(200, Math.floor(box.clientWidth)), H = 160, L = 30, R = 4, T = 8, B = 20;
  const { bans, fails } = sums(hist, histJail);
  const n = bans.length, step = (W - L - R) / n, secs = hist.bucket_seconds;
  const start = Date.parse(hist.start), at = (i) => new Date(start + i * secs * 1000);
  const top = niceMax(Math.max(1, ...bans.filter((v) => v !== null)));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const chart = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img",
    "aria-labelledby": "hist-summary" });
  // Runs of null buckets, one shaded band each.
  for (let i = 0; i < n; i++) {
    if (bans[i] !== null) continue;
    let k = i;
    while (k + 1 < n && bans[k + 1] === null) k++;
    const g = svg("rect", { class: "gap", x: L + i * step, y: T, width: (k - i + 1) * step, height: H - T - B });
    g.append(svg("title", {}, "no data " + at(i).toLocaleString() + " – " + at(k + 1).toLocaleString()));
    chart.append(g);
    if ((k - i + 1) * step > 80) {
      chart.append(svg("text", { class: "gap-label", x: L + (i + (k - i + 1) / 2) * step, y: (H - B + T) / 2,
        "text-anchor": "middle" }, "no data"));
    }
    i = k;
  }
  const axis = svg("g", { class: "axis" });
  for (const v of Number.isInteger(top / 2) ? [0, top / 2, top] : [0, top]) {
    axis.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end" }, String(v)));
  }
  // Time ticks on local boundaries: every 3 h (24 h range) or at midnight (7 d range).
  let lastX = -1e9;
  for (let i = 0; i <= n; i++) {
    const d = at(i), x = L + i * step;
    const tick = histRange === "7d" ? d.getHours() === 0 : d.getMinutes() === 0 && d.getHours() % 3 === 0;
    if (!tick || x - lastX < 44 || x > W - R - 16) continue;
    lastX = x;
    const label = histRange === "7d" ? d.toLocaleDateString([], { weekday: "short", day: "numeric" })
      : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    axis.append(svg("line", { x1: x, x2: x, y1: H - B, y2: H - B + 4 }),
      svg("text", { x, y: H - 5, "text-anchor": "middle" }, label));
  }
  chart.append(axis);
  bans.forEach((v, i) => {
    if (!v) return;
    const b = svg("rect", { class: "bar", x: L + i * step, y: y(v), width: Math.max(1, step - (step > 3 ? 1 : 0)),
      height: H - B - y(v) });
    b.append(svg("title", {}, at(i).toLocaleString() + ": " + v + (v === 1 ? " ban" : " bans")));
    chart.append(b);
  });
  box.replaceChildren(chart);
  const total = (a) => a.reduce((s, v) => s + (v || 0), 0), missing = bans.filter((v) => v === null).length;
  const tb = total(bans), tf = total(fails);
  $("hist-summary").textContent = tb + (tb === 1 ? " ban, " : " bans, ") + tf + (tf === 1 ? " failure" : " failures") +
    " in " + (histJail || "all jails") + " over the last " + (histRange === "7d" ? "7 days" : "24 hours") +
    " (" + (secs >= 3600 ? secs / 3600 + "-hour" : secs / 60 + "-minute") + " bars" + (missing ? "; shaded: no data for " + missing + " of " + n : "") + ")";
}

function setRange(r) {
  histRange = r;
  $("range-24h").setAttribute("aria-pressed", String(r === "24h"));
  $("range-7d").setAttribute("aria-pressed", String(r === "7d"));
  loadHistory(true);
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
      await Promise.all([renderBans(), loadHistory(false)]);
    }
    backoff = 0;
    lastOk = Date.now();
    showUpdated();
    $("banner").hidden = true;
  } catch (_) {
    backoff = Math.min(MAX_BACKOFF, backoff ? backoff * 2 : REFRESH * 2);
    const b = $("banner");
    b.hidden = false;
    b.textContent = "banwatch unreachable, retrying in " + Math.round(backoff / 1000) + " s";
  }
  timer = setTimeout(refresh, backoff || REFRESH);
}

function showUpdated() {
  $("updated").textContent = lastOk ? "updated " + ago(Date.now() - lastOk) : "not updated yet";
}
setInterval(showUpdated, 1000);

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
  $("range-24h").addEventListener("click", () => setRange("24h"));
  $("range-7d").addEventListener("click", () => setRange("7d"));
  $("hist-jail").addEventListener("change", (e) => { histJail = e.target.value; drawHistory(); });
  window.addEventListener("resize", drawHistory);
  $("prev").addEventListener("click", () => { page = Math.max(1, page - 1); renderBans(); });
  $("next").addEventListener("click", () => { page += 1; renderBans(); });
  refresh();
});
