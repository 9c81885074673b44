// KubePulse fleet UI. Plain JavaScript, no dependencies. Every value from the API (target names,
// labels, explanations) is user-controlled text: it is only ever set with textContent or as an
// attribute value, never parsed as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const el = (id) => document.getElementById(id);
const state = {
  pollMs: 2000, feedbackEnabled: false,
  offset: 0, limit: 50, matched: 0, timer: null, route: null, rows: [],
};

function make(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

async function getJson(url) {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  if (!res.ok) {
    let message = res.status + " " + res.statusText;
    try { message = (await res.json()).message || message; } catch (_) { /* not JSON */ }
    const err = new Error(message);
    err.status = res.status;
    throw err;
  }
  return res.json();
}

const pct = (p) => (p === null || p === undefined ? "–" : (100 * p).toFixed(0) + "%");
function duration(secs) {
  if (secs === null || secs === undefined) return "–";
  const s = Math.max(0, Math.round(secs));
  if (s < 90) return "~" + s + " s";
  if (s < 5400) return "~" + Math.round(s / 60) + " min";
  return "~" + (s / 3600).toFixed(1) + " h";
}
function compact(v) {
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e9) return (v / 1e9).toPrecision(3) + "G";
  if (a >= 1e6) return (v / 1e6).toPrecision(3) + "M";
  if (a >= 1e4) return (v / 1e3).toPrecision(3) + "k";
  if (a < 0.01) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}
function clock(t) {
  return new Date(t * 1000).toISOString().slice(11, 19) + " UTC";
}
const STATE_TEXT = { in_progress: "incident in progress", firing: "firing", ok: "ok", stale: "stale" };

// ---------- fleet view ----------

function filters() {
  const q = new URLSearchParams();
  const add = (key, id) => { const v = el(id).value; if (v) q.set(key, v); };
  add("namespace", "f-namespace"); add("issue_type", "f-type"); add("state", "f-state"); add("search", "f-search");
  q.set("offset", String(state.offset)); q.set("limit", String(state.limit));
  return q;
}

function syncOptions(select, values) {
  const have = Array.from(select.options).slice(1).map((o) => o.value);
  if (have.length === values.length && have.every((v, i) => v === values[i])) return;
  const chosen = select.value;
  while (select.options.length > 1) select.remove(1);
  for (const v of values) select.add(new Option(v === "" ? "(none)" : v, v));
  select.value = values.includes(chosen) ? chosen : "";
}

function sparkline(values) {
  const w = 120, h = 24;
  const box = svg("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, class: "spark", "aria-hidden": "true" });
  const line = svg("polyline", { fill: "none", class: "spark-line" });
  box.appendChild(line);
  updateSparkline(box, values);
  return box;
}

function updateSparkline(box, values) {
  const w = 120, h = 24, n = values.length;
  const pts = values.map((p, i) => {
    const x = n > 1 ? (i * (w - 2)) / (n - 1) + 1 : w / 2;
    const y = h - 1 - p * (h - 2);
    return x.toFixed(1) + "," + y.toFixed(1);
  });
  box.firstChild.setAttribute("points", pts.join(" "));
}

function newRow() {
  const tr = make("tr");
  const link = make("a");
  const cells = {
    target: make("td"), state: make("td"), type: make("td"),
    prob: make("td", { class: "num" }), eta: make("td", { class: "num" }), since: make("td"), spark: make("td"),
  };
  cells.target.appendChild(link);
  const badge = make("span", { class: "badge" });
  cells.state.appendChild(badge);
  const spark = sparkline([]);
  cells.spark.appendChild(spark);
  for (const c of Object.values(cells)) tr.appendChild(c);
  return { tr, link, badge, cells, spark };
}

function renderFleet(page) {
  el("source").textContent = (page.source ? page.source + " · " : "") + "cluster time " + clock(page.now) +
    " · threshold " + pct(page.threshold) + " · horizon " + duration(page.horizon_seconds);
  syncOptions(el("f-namespace"), page.namespaces);
  syncOptions(el("f-type"), page.issue_types);
  const c = page.counts;
  el("counts").textContent = `${page.matched} of ${page.total} targets · ${c.in_progress || 0} incidents in progress · ` +
    `${c.firing || 0} firing · ${c.ok || 0} ok · ${c.stale || 0} stale`;
  state.matched = page.matched;
  const body = el("fleet-rows");
  // Rows are kept and updated in place: no re-render of the table each cycle.
  while (state.rows.length < page.targets.length) {
    const r = newRow();
    state.rows.push(r);
    body.appendChild(r.tr);
  }
  state.rows.forEach((r, i) => {
    const t = page.targets[i];
    r.tr.hidden = !t;
    if (!t) return;
    r.tr.dataset.state = t.state;
    r.link.textContent = t.target;
    r.link.setAttribute("href", "#/target/" + encodeURIComponent(t.target));
    r.badge.textContent = STATE_TEXT[t.state] || t.state;
    r.badge.className = "badge " + t.state;
    r.cells.type.textContent = t.issue_type;
    r.cells.prob.textContent = pct(t.probability);
    r.cells.eta.textContent = t.eta_seconds === null ? "–" : duration(t.eta_seconds);
    r.cells.since.textContent = clock(t.since);
    updateSparkline(r.spark, t.sparkline);
  });
  const first = page.matched === 0 ? 0 : page.offset + 1;
  el("page-info").textContent = `${first}–${Math.min(page.offset + page.limit, page.matched)} of ${page.matched}`;
  el("prev").disabled = page.offset === 0;
  el("next").disabled = page.offset + page.limit >= page.matched;
}

// ---------- target view ----------

function chart(box, series, opts) {
  const W = 720, H = opts.height || 200, L = 56, R = 8, T = 8, B = 24;
  box.replaceChildren();
  box.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const pts = series.filter((p) => p.v !== null && p.v !== undefined);
  const ts = series.map((p) => p.t);
  if (ts.length === 0) {
    box.appendChild(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "axis" }, "no data yet"));
    return;
  }
  const t0 = Math.min(...ts), t1 = Math.max(...ts, t0 + 1);
  let lo = opts.min, hi = opts.max;
  if (lo === undefined || hi === undefined) {
    const vs = pts.map((p) => p.v);
    if (opts.band) vs.push(opts.band.low, opts.band.high);
    lo = vs.length ? Math.min(...vs) : 0; hi = vs.length ? Math.max(...vs) : 1;
    if (hi - lo < 1e-9) { hi += Math.abs(hi) * 0.05 + 1e-6; lo -= Math.abs(lo) * 0.05 + 1e-6; }
  }
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  for (const s of opts.shade || []) {
    const a = Math.max(s.start, t0), b = Math.min(s.end === null ? t1 : s.end, t1);
    if (b >= a) box.appendChild(svg("rect", { x: x(a), y: T, width: Math.max(2, x(b) - x(a)), height: H - T - B, class: "shade" }));
  }
  if (opts.band) {
    const top = y(Math.min(hi, opts.band.high)), bottom = y(Math.max(lo, opts.band.low));
    if (bottom > top) box.appendChild(svg("rect", { x: L, y: top, width: W - L - R, height: bottom - top, class: "band" }));
  }
  box.appendChild(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis-line" }));
  for (const v of [lo, hi]) {
    box.appendChild(svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", class: "axis" }, opts.fmt ? opts.fmt(v) : compact(v)));
  }
  box.appendChild(svg("text", { x: L, y: H - 6, class: "axis" }, clock(t0)));
  box.appendChild(svg("text", { x: W - R, y: H - 6, "text-anchor": "end", class: "axis" }, clock(t1)));
  if (opts.threshold !== undefined) {
    box.appendChild(svg("line", { x1: L, y1: y(opts.threshold), x2: W - R, y2: y(opts.threshold), class: "threshold" }));
  }
  // One polyline per run of known values (gaps stay gaps).
  let run = [];
  const flush = () => {
    if (run.length) box.appendChild(svg("polyline", { points: run.join(" "), class: "series" }));
    run = [];
  };
  for (const p of series) {
    if (p.v === null || p.v === undefined) { flush(); continue; }
    run.push(x(p.t).toFixed(1) + "," + y(p.v).toFixed(1));
  }
  flush();
}

function episodeShades(history) {
  const out = [];
  let open = null;
  for (const p of history) {
    if (p.state === "in_progress" && !open) open = { start: p.t, end: null };
    if (p.state !== "in_progress" && open) { open.end = p.t; out.push(open); open = null; }
  }
  if (open) out.push(open);
  return out;
}

// The headers of a request made with the operator token: the token, and the name the operator gave
// (recorded as who sent it unless a signing-in proxy names the user).
function operatorHeaders(token, extra) {
  const headers = Object.assign({ Authorization: "Bearer " + token }, extra);
  const user = el("user-input").value.trim();
  if (user) headers["X-KubePulse-User"] = user;
  return headers;
}

async function sendFeedback(target, episode, verdict, button) {
  const token = el("token-input").value.trim();
  const status = el("feedback-status");
  if (!token) { status.textContent = "Enter the operator token (top of the page) to send feedback."; return; }
  button.disabled = true;
  try {
    const res = await fetch("/api/v1/feedback", {
      method: "POST",
      headers: operatorHeaders(token, { "Content-Type": "application/json" }),
      body: JSON.stringify({ target, issue_type: episode.issue_type, start: episode.start, end: episode.end, verdict }),
    });
    const body = await res.json();
    status.textContent = res.ok ? `Recorded: ${verdict.replace("_", " ")} (${body.file}, by ${body.who}).`
      : `Not recorded: ${body.message}`;
  } catch (e) {
    status.textContent = "Not recorded: " + e.message;
  } finally {
    button.disabled = false;
  }
}

function renderEpisodes(d) {
  const list = el("episodes");
  list.replaceChildren();
  if (d.episodes.length === 0) list.appendChild(make("li", {}, "No alert or incident in the kept history."));
  for (const e of d.episodes) {
    const li = make("li");
    const what = e.kind === "incident" ? "Incident" : "Alert";
    li.appendChild(make("span", {}, `${what} · ${e.issue_type} · ${clock(e.start)} → ${e.end === null ? "now" : clock(e.end)}`));
    if (state.feedbackEnabled && e.issue_type !== "normal") {
      for (const [verdict, label] of [["confirmed", "Confirmed"], ["false_alarm", "False alarm"]]) {
        const b = make("button", { type: "button", class: "feedback", "data-verdict": verdict }, label);
        b.setAttribute("aria-label", `${label}: ${what.toLowerCase()} at ${clock(e.start)}`);
        b.addEventListener("click", () => sendFeedback(d.summary.target, e, verdict, b));
        li.appendChild(b);
      }
    }
    list.appendChild(li);
  }
}

function renderTarget(d) {
  const s = d.summary;
  // Opened straight from an alert's link, the fleet (which fills the header) was never loaded.
  if (!el("source").textContent || el("source").textContent.startsWith("Cannot reach")) {
    el("source").textContent = "threshold " + pct(d.threshold) + " · horizon " + duration(d.horizon_seconds);
  }
  el("target-title").textContent = s.target;
  el("target-status").textContent = `${STATE_TEXT[s.state] || s.state} since ${clock(s.since)} · ` +
    `probability ${pct(s.probability)} · type ${s.issue_type} · ETA ${duration(s.eta_seconds)}`;
  chart(el("prob-chart"), d.history.map((p) => ({ t: p.t, v: p.p })), {
    min: 0, max: 1, threshold: d.threshold, shade: episodeShades(d.history), fmt: (v) => pct(v),
  });
  el("explanation").textContent = d.advice.explanation || "No evidence yet (no explained prediction).";
  el("description").textContent = d.advice.description || "No issue predicted.";
  const actions = el("actions");
  actions.replaceChildren(...d.advice.actions.map((a) => make("li", {}, a)));
  const key = JSON.stringify(d.episodes) + state.feedbackEnabled;
  if (el("episodes").dataset.key !== key) { renderEpisodes(d); el("episodes").dataset.key = key; }
  const box = el("features");
  box.replaceChildren();
  if (d.features.length === 0) box.appendChild(make("p", { class: "muted" }, "No explained prediction yet."));
  for (const f of d.features) {
    const fig = make("figure", { class: "feature" });
    const sign = f.contribution >= 0 ? "+" : "−";
    const cap = make("figcaption");
    cap.appendChild(make("strong", {}, f.label));
    cap.appendChild(make("span", { class: "muted" },
      ` · value ${f.value === null ? "missing" : compact(f.value)} · ${sign}${Math.abs(100 * f.contribution).toFixed(1)} points of probability`));
    fig.appendChild(cap);
    if (f.metric) {
      const c = svg("svg", { class: "chart small", role: "img", "aria-label": `History of ${f.metric} with its baseline band` });
      chart(c, f.points.map(([t, v]) => ({ t, v })), { height: 120, band: f.band || undefined });
      fig.appendChild(c);
      fig.appendChild(make("p", { class: "muted" }, f.metric + (f.band ? " · shaded: its normal band from its own trailing baseline" : "")));
    }
    box.appendChild(fig);
  }
}

// ---------- remediation: the agent's proposals and decisions (watch --remediate) ----------

const MIB = 1024 * 1024;
const mib = (b) => Math.ceil(b / MIB) + " MiB";

// One line for an action of the agent (its JSON: `action` names the kind, the rest its fields).
function describeAction(a) {
  if (!a) return "no action";
  const parts = [String(a.action || "action").replace(/_/g, " ")];
  if (a.container !== undefined) parts.push("container " + a.container);
  if (a.node !== undefined) parts.push("node " + a.node);
  if (a.from_bytes !== undefined) parts.push(mib(a.from_bytes) + " → " + mib(a.to_bytes));
  else if (a.to_bytes !== undefined) parts.push("to " + mib(a.to_bytes));
  if (a.from !== undefined) parts.push(a.from + " → " + a.to);
  else if (a.to !== undefined) parts.push("to " + a.to);
  if (a.text !== undefined) parts.push(a.text);
  return parts.join(" · ");
}

const STATUS_TEXT = {
  pending: "awaiting approval", approved: "approved, applied at the agent's next cycle", denied: "denied",
  expired: "expired", applied: "applied", failed: "approved, applying it failed",
};

const OUTCOME_TEXT = { apply: "applied", awaiting_approval: "awaiting approval" };

async function sendVerdict(id, approve, button) {
  const token = el("token-input").value.trim();
  const status = el("remediation-status");
  const verb = approve ? "approve" : "deny";
  if (!token) { status.textContent = `Enter the operator token (top of the page) to ${verb} an action.`; return; }
  button.disabled = true;
  try {
    const res = await fetch(`/api/v1/actions/${encodeURIComponent(String(id))}/${verb}`, {
      method: "POST",
      headers: operatorHeaders(token, { Accept: "application/json" }),
    });
    let body = {};
    try { body = await res.json(); } catch (_) { /* not JSON */ }
    status.textContent = res.ok
      ? `Action ${id} ${body.status === "approved" ? "approved: applied at the agent's next cycle" : "denied: it will not be applied"}` +
        ` (by ${body.decided_by || "you"}).`
      : `Action ${id} not ${approve ? "approved" : "denied"}: ${body.message || res.status + " " + res.statusText}`;
    // The list shows the new status at once.
    el("proposals").dataset.key = "";
    await refreshRemediation(route().name, true);
  } catch (e) {
    status.textContent = `Action ${id} not ${approve ? "approved" : "denied"}: ` + e.message;
  } finally {
    button.disabled = false;
  }
}

// Consecutive decisions that say the same thing (the agent decides every cycle while a target stays
// alarmed: "awaiting approval", "skipped (cooldown)") as one entry: the latest, how many, since when.
function groupRepeats(decisions) {
  const out = [];
  for (const r of decisions) {
    const key = JSON.stringify([r.outcome, r.reason, r.action, r.approved_by]);
    const last = out[out.length - 1];
    if (last && last.key === key) { last.r = r; last.count += 1; continue; }
    out.push({ key, r, count: 1, first: r.at });
  }
  return out;
}

function renderRemediation(target, actions, error) {
  const note = el("remediation"), proposals = el("proposals"), decisions = el("decisions");
  if (error !== undefined || actions === null) {
    note.textContent = error !== undefined
      ? "The remediation agent's API cannot be read: " + error
      : "No remediation agent is connected to this UI: proposals and approve/deny appear here when " +
        "watch runs it (--remediate) in approve mode.";
    proposals.replaceChildren(); decisions.replaceChildren();
    proposals.dataset.key = ""; el("decisions-title").hidden = true;
    return;
  }
  const mine = actions.pending.filter((p) => p.decision && p.decision.target === target).reverse();
  const recent = groupRepeats(actions.recent.filter((r) => r.target === target)).slice(-8).reverse();
  // The kubectl command of a proposal: its audit line's, while the recent decisions hold it.
  const commands = new Map();
  for (const r of actions.recent) {
    if (r.approval_id !== undefined && typeof r.command === "string") commands.set(r.approval_id, r.command);
  }
  const key = JSON.stringify([target, mine, recent]);
  if (proposals.dataset.key === key) return;
  proposals.dataset.key = key;
  note.textContent = mine.length === 0 ? "The agent has proposed no action on this target." :
    "Actions the agent proposes wait for an approval (the operator token, top of the page).";
  proposals.replaceChildren();
  for (const p of mine) {
    const li = make("li", { "data-id": String(p.id), "data-status": p.status });
    const open = p.status === "pending" && actions.now < p.expires_at;
    const who = p.decided_by ? ` by ${p.decided_by}` : "";
    li.appendChild(make("span", {},
      `#${p.id} · ${describeAction(p.decision.action)} · proposed ${clock(p.created_at)} · ` +
      `${open ? "awaiting approval, expires " + clock(p.expires_at) : (STATUS_TEXT[p.status] || p.status) + who}`));
    if (commands.has(p.id)) li.appendChild(make("code", { class: "command" }, commands.get(p.id)));
    if (open) {
      for (const [approve, label] of [[true, "Approve"], [false, "Deny"]]) {
        const b = make("button", { type: "button", class: approve ? "approve" : "deny", "data-verdict": approve ? "approve" : "deny" }, label);
        b.setAttribute("aria-label", `${label} action ${p.id}: ${describeAction(p.decision.action)}`);
        b.addEventListener("click", () => sendVerdict(p.id, approve, b));
        li.appendChild(b);
      }
    }
    proposals.appendChild(li);
  }
  decisions.replaceChildren();
  el("decisions-title").hidden = recent.length === 0;
  for (const { r, count, first } of recent) {
    const reason = r.reason ? " (" + String(r.reason).replace(/_/g, " ") + ")" : "";
    const by = r.approved_by ? " · approved by " + r.approved_by : "";
    const outcome = OUTCOME_TEXT[r.outcome] || String(r.outcome).replace(/_/g, " ");
    const repeats = count > 1 ? ` · ${count} times since ${clock(first)}` : "";
    decisions.appendChild(make("li", { "data-outcome": String(r.outcome), "data-count": String(count) },
      `${clock(r.at)} · ${outcome}${reason} · ${describeAction(r.action)}${by}${repeats}`));
  }
}

async function refreshRemediation(target, available) {
  if (!available) { renderRemediation(target, null); return; }
  let actions;
  try {
    actions = await getJson("/api/v1/actions");
  } catch (e) {
    renderRemediation(target, null, e.status === 404 ? "this server has no /api/v1/actions" : e.message);
    return;
  }
  renderRemediation(target, actions);
}

// ---------- routing and polling ----------

function route() {
  const m = location.hash.match(/^#\/target\/(.+)$/);
  return m ? { view: "target", name: decodeURIComponent(m[1]) } : { view: "fleet" };
}

async function refresh() {
  clearTimeout(state.timer);
  const r = route();
  el("fleet-view").hidden = r.view !== "fleet";
  el("target-view").hidden = r.view !== "target";
  try {
    if (r.view === "fleet") {
      renderFleet(await getJson("/api/v1/fleet?" + filters().toString()));
    } else {
      const d = await getJson("/api/v1/target?name=" + encodeURIComponent(r.name));
      renderTarget(d);
      await refreshRemediation(d.summary.target, d.remediation_available);
    }
  } catch (e) {
    el("source").textContent = "Cannot reach the server: " + e.message;
  }
  state.timer = setTimeout(refresh, state.pollMs);
}

async function start() {
  try {
    const cfg = await getJson("/api/v1/ui");
    state.pollMs = Math.max(250, cfg.poll_ms);
    state.feedbackEnabled = cfg.feedback_enabled;
  } catch (_) { /* defaults */ }
  const saved = sessionStorage.getItem("kubepulse-token");
  if (saved) el("token-input").value = saved;
  el("token-input").addEventListener("change", (e) => sessionStorage.setItem("kubepulse-token", e.target.value));
  const user = sessionStorage.getItem("kubepulse-user");
  if (user) el("user-input").value = user;
  el("user-input").addEventListener("change", (e) => sessionStorage.setItem("kubepulse-user", e.target.value));
  for (const id of ["f-namespace", "f-type", "f-state", "f-search"]) {
    el(id).addEventListener("input", () => { state.offset = 0; refresh(); });
  }
  el("filters").addEventListener("submit", (e) => e.preventDefault());
  el("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); refresh(); });
  el("next").addEventListener("click", () => { state.offset += state.limit; refresh(); });
  window.addEventListener("hashchange", () => {
    el("episodes").dataset.key = ""; el("proposals").dataset.key = ""; el("remediation-status").textContent = "";
    refresh();
  });
  refresh();
}

document.addEventListener("DOMContentLoaded", start);
