// The simulator page: drives the Sim of runtime.js (mpy_ocpp on MicroPython/WebAssembly) and
// shows what it does. Frames come from a remote peer: they only ever reach the page through
// textContent, never innerHTML.
import { Sim, ERROR_CODES } from "./runtime.js";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const el = (tag, props) => Object.assign(document.createElement(tag), props);
const message = (e) => (e && e.message) || String(e);

const sim = new Sim();
let loaded = false;
let running = false;   // our own start/stop, so the controls follow what the user did
let last = null;       // the last status()
let lastError = "";    // the last thrown error or refused command, until something succeeds

// --- errors ------------------------------------------------------------------------------------

function showError(text) {
  lastError = text || "";
  renderError();
}

// A thrown error wins; otherwise why the link is down (only while it is down).
function renderError() {
  const linkError = last && last.link !== "open" && last.error ? last.error : "";
  $("#error").textContent = lastError || linkError;
}

// Runs a sim call; an exception goes to #error and the result is undefined.
function attempt(fn) {
  try {
    return fn();
  } catch (e) {
    showError(message(e));
    return undefined;
  }
}

// --- control center ----------------------------------------------------------------------------

// The settings' names in sim.start() and saved(), and their inputs.
const FIELDS = { url: "#url", id: "#cbid", key: "#key", ocpp: "#ocpp", connectors: "#connectors" };

function settings() {
  const s = {};
  for (const [name, sel] of Object.entries(FIELDS)) s[name] = $(sel).value.trim();
  return { ...s, key: $("#key").value, connectors: Number(s.connectors) };
}

function fill(saved) {
  for (const [name, sel] of Object.entries(FIELDS)) if (saved[name] != null) $(sel).value = saved[name];
}

function start(opts) {
  try {
    sim.start(opts);
  } catch (e) {
    return showError(message(e));
  }
  running = true;
  showError("");
  buildConnectors(opts.connectors);
  setRunning();
  onStatus(attempt(() => sim.status()) || null);
  refreshConfig();
}

function stop() {
  attempt(() => sim.stop());
  running = false;
  setRunning();
  onStatus(attempt(() => sim.status()) || null);
}

function reset() {
  const id = $("#cbid").value.trim();
  try {
    sim.reset(id);
  } catch (e) {
    return showError(message(e));
  }
  running = false;  // a factory reset stops the charge point first
  setRunning();
  showError("");
  note(`Stored state of ${id || "the charge point"} forgotten`);
  onStatus(attempt(() => sim.status()) || null);
}

// A short-lived remark next to the badges (the loader's place once loading is done).
let noteTimer = 0;
function note(text) {
  const busy = $("#busy");
  busy.textContent = text;
  busy.hidden = false;
  clearTimeout(noteTimer);
  noteTimer = setTimeout(() => (busy.hidden = true), 4000);
}

// Settings are locked while a charge point runs: they are what it was started with.
function setRunning() {
  for (const sel of Object.values(FIELDS)) $(sel).disabled = running;
  $("#connect").disabled = running || !loaded;
  $("#disconnect").disabled = !running;
  $("#reset").disabled = !loaded;
  for (const card of cards.slice(1)) syncControls(card, connectorStatus(card.n));
}

function setBadge(node, text, attr) {
  node.textContent = text;
  node.dataset[attr] = text;
}

function onStatus(s) {
  last = s;
  setBadge($("#link"), (s && s.link) || "off", "link");
  setBadge($("#boot"), (s && s.boot) || "—", "boot");
  $("#version").textContent = (s && s.ocpp) || "—";
  const cp = s && s.connectors && s.connectors[0];
  setBadge($("#cp-status"), (cp && cp.status) || "—", "status");
  if (cp && cp.fault) $("#cp-status").textContent += ` · ${cp.fault}`;
  if (s && s.connectors && s.connectors.length > 1) {
    if (s.connectors.length - 1 !== cards.length - 1) buildConnectors(s.connectors.length - 1);
    for (const c of s.connectors.slice(1)) if (cards[c.id]) updateCard(cards[c.id], c);
    sample(s);
  } else {
    for (const card of cards.slice(1)) updateCard(card, {});  // stopped: no stale values
  }
  renderError();
  if (configStale) refreshConfig();
  if (chartsShown()) drawCharts();
}

// --- connector panels --------------------------------------------------------------------------

let cards = [null];   // index = connector id

function connectorStatus(n) {
  return last && last.connectors && last.connectors.find((c) => c.id === n);
}

// Rebuilt only when the count changes, so inputs being used survive a restart.
function buildConnectors(n) {
  n = Math.max(1, Math.min(8, Math.floor(n) || 1));
  if (cards.length - 1 === n) return;
  const panel = $("#connectors-panel");
  const codes = ["NoError", ...ERROR_CODES.filter((c) => c !== "NoError")];
  panel.replaceChildren();
  cards = [null];
  for (let i = 1; i <= n; i++) {
    const root = $("#conn-tpl").content.firstElementChild.cloneNode(true);
    root.dataset.connector = i;
    $(".num", root).textContent = i;
    $(".fault", root).append(...codes.map((c) => new Option(c, c)));
    const card = { n: i, root };
    for (const f of ["status", "tx", "energy", "relay", "limit", "cable", "power-now", "plug", "unplug",
      "evready", "idtag", "kind", "card", "fault", "power", "power-set"]) card[f] = $("." + f, root);
    cards.push(card);
    panel.append(root);
    syncControls(card, null);
  }
  buildCharts(n);
}

const fmtNum = (x) => String(+Number(x).toFixed(1));

function updateCard(card, c) {
  setBadge(card.status, c.status || "—", "status");
  card.root.dataset.status = c.status || "";
  card.tx.textContent = c.transaction == null ? "—" : String(c.transaction);
  card.energy.textContent = c.energy_wh == null ? "—" : `${(c.energy_wh / 1000).toFixed(3)} kWh`;
  const known = c.id != null;
  card.relay.textContent = !known ? "—" : c.relay ? "closed" : "open";
  card.limit.textContent = !known ? "—"
    : c.limit == null ? "none" : `${fmtNum(c.limit)} ${c.limit_unit || "A"}`;
  card.cable.textContent = !known ? "—" : c.plugged ? "plugged" : "unplugged";
  card["power-now"].textContent = known ? `${Math.round(c.power_w || 0)} W` : "—";
  card.evready.checked = c.ev_ready !== false;
  // Inputs the user is holding keep what they show.
  if (document.activeElement !== card.fault) card.fault.value = c.fault || "NoError";
  if (document.activeElement !== card.power && c.rated_w != null) {
    card.power.value = c.rated_w;
    card["power-set"].textContent = `${card.power.value} W`;
  }
  syncControls(card, c);
}

// Commands need a running charge point; plug/unplug offer only the one that applies.
function syncControls(card, c) {
  for (const f of ["evready", "idtag", "kind", "card", "fault", "power"]) card[f].disabled = !running;
  card.kind.hidden = !(last && last.ocpp === "2.0.1");  // 2.0.1 idTokens have a type
  card.plug.disabled = !running || !!(c && c.plugged);
  card.unplug.disabled = !running || !(c && c.plugged);
}

function command(line) {
  const answer = attempt(() => sim.command(line));
  if (answer !== undefined) showError(answer || "");
}

function wireConnectors() {
  const panel = $("#connectors-panel");
  const which = (e) => {
    const root = e.target.closest("[data-connector]");
    return root && cards[Number(root.dataset.connector)];
  };
  const present = (card) => {
    const tag = card.idtag.value.trim();
    if (!card.kind.hidden) return command(`token ${card.n} ${card.kind.value} ${tag || "-"}`);
    if (!tag) return showError("Type the card's idTag first.");
    command(`tag ${card.n} ${tag}`);
  };
  panel.addEventListener("click", (e) => {
    const card = which(e);
    const button = e.target.closest("button");
    if (!card || !button) return;
    if (button.classList.contains("plug")) command(`plug ${card.n}`);
    else if (button.classList.contains("unplug")) command(`unplug ${card.n}`);
    else if (button.classList.contains("card")) present(card);
  });
  panel.addEventListener("keydown", (e) => {
    const card = which(e);
    if (card && e.key === "Enter" && e.target === card.idtag) present(card);
  });
  panel.addEventListener("input", (e) => {
    const card = which(e);
    if (card && e.target === card.power) card["power-set"].textContent = `${card.power.value} W`;
  });
  panel.addEventListener("change", (e) => {
    const card = which(e);
    if (!card) return;
    if (e.target === card.evready) command(`evready ${card.n} ${card.evready.checked ? 1 : 0}`);
    else if (e.target === card.fault) command(`fault ${card.n} ${card.fault.value}`);
    else if (e.target === card.power) command(`power ${card.n} ${card.power.value}`);
  });
}

// --- message log -------------------------------------------------------------------------------

const MAX_ROWS = 1000;
const calls = new Map();        // dir + message id -> action, to name results and errors
const configCalls = new Set();  // ids of ChangeConfiguration/SetVariables the CSMS sent
let configStale = false;

const pad = (n, w = 2) => String(n).padStart(w, "0");
const clock = (t) =>
  `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
const CONFIG_ACTIONS = ["ChangeConfiguration", "SetVariables"];

function onFrame({ time, dir, text }) {
  let msg = null;
  try {
    msg = JSON.parse(text);
  } catch { /* shown raw */ }
  let action = "", kind = "RAW", body = text, error = false;
  if (Array.isArray(msg) && [2, 3, 4].includes(msg[0])) {
    const id = String(msg[1]);
    if (msg[0] === 2) {
      action = String(msg[2]);
      kind = "CALL";
      body = msg[3];
      calls.set(dir + id, action);
      if (calls.size > 500) calls.delete(calls.keys().next().value);  // unanswered calls
      if (dir === "in" && CONFIG_ACTIONS.includes(action)) configCalls.add(id);
    } else {
      // A result answers the call that went the other way.
      const key = (dir === "out" ? "in" : "out") + id;
      action = calls.get(key) || "";
      calls.delete(key);
      kind = msg[0] === 3 ? "RESULT" : "ERROR";
      body = msg[0] === 3 ? msg[2] : { errorCode: msg[2], errorDescription: msg[3], errorDetails: msg[4] };
      error = msg[0] === 4;
      // The configuration changed once the answer is out; the runtime may apply it just after.
      if (dir === "out" && configCalls.delete(id)) {
        configStale = true;
        setTimeout(refreshConfig, 0);
      }
    }
  }
  const row = el("tr", { className: error ? "frame callerror" : "frame" });
  row.dataset.action = action;
  row.dataset.dir = dir;
  row.dataset.kind = kind;
  const one = typeof body === "string" ? body : JSON.stringify(body) ?? "";
  const pretty = typeof body === "string" ? body : JSON.stringify(body, null, 2) ?? "";
  row.title = kind === "RAW" ? "not an OCPP-J message" : `message id ${msg[1]}`;
  const shownAction = action || (kind === "RAW" ? "" : "?");  // "?": a result to no call we saw
  addRow(row, time, [dir === "out" ? "→" : "←", shownAction, kind], one, pretty);
}

function onLog({ time, text }) {
  const row = el("tr", { className: "lib" });
  addRow(row, time, ["", "", "log"], String(text), String(text));
}

function addRow(row, time, cells, one, pretty) {
  const scroller = $("#log-scroll");
  const atEnd = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 24;
  for (const text of [clock(time instanceof Date ? time : new Date()), ...cells]) {
    row.insertCell().textContent = text;
  }
  const payload = row.insertCell();
  payload.className = "payload";
  payload.textContent = one;
  row.one = one;
  row.pretty = pretty;
  row.hidden = !shown(row);
  const body = $("#log tbody");
  body.append(row);
  while (body.rows.length > MAX_ROWS) body.rows[0].remove();
  $("#log-count").textContent = `${body.rows.length} rows`;
  if (atEnd) scroller.scrollTop = scroller.scrollHeight;
}

// The filter matches actions; library lines have none, so a filter hides them.
function shown(row) {
  const filter = $("#log-filter").value.trim().toLowerCase();
  if (row.classList.contains("lib")) return !filter && $("#log-lib").checked;
  return !filter || row.dataset.action.toLowerCase().includes(filter);
}

function wireLog() {
  const refilter = () => $$("#log tbody tr").forEach((r) => (r.hidden = !shown(r)));
  $("#log-filter").addEventListener("input", refilter);
  $("#log-lib").addEventListener("change", refilter);
  $("#log-clear").addEventListener("click", () => {
    $("#log tbody").replaceChildren();
    $("#log-count").textContent = "";
  });
  // One line by default; a click shows the payload pretty-printed (selecting text does not).
  $("#log tbody").addEventListener("click", (e) => {
    const row = e.target.closest("tr");
    if (!row || String(getSelection())) return;
    const open = row.classList.toggle("open");
    row.cells[row.cells.length - 1].textContent = open ? row.pretty : row.one;
  });
}

// --- configuration -----------------------------------------------------------------------------

// Updates rows in place, leaving alone the row that holds the focus (the user is editing it)
// unless `force` says that row may change too (after its own Set).
function refreshConfig(force = false) {
  configStale = false;
  if (!loaded || (!running && !last)) return;  // nothing booted yet
  const list = attempt(() => sim.config());
  if (!Array.isArray(list)) return;
  const body = $("#config tbody");
  const old = new Map([...body.rows].map((r) => [r.dataset.key, r]));
  const busy = force ? null : document.activeElement && body.contains(document.activeElement)
    ? document.activeElement.closest("tr") : null;
  let after = null;  // keeps the runtime's order for new rows
  for (const item of list) {
    let row = old.get(item.key);
    old.delete(item.key);
    const value = item.value == null ? "" : String(item.value);
    if (row && row !== busy && row.readonly !== !!item.readonly) {
      const fresh = configRow(item, value);
      row.replaceWith(fresh);
      row = fresh;
    } else if (!row) {
      row = configRow(item, value);
      after ? after.after(row) : body.prepend(row);
    } else if (row !== busy) {
      const cell = $(".value", row);
      cell.dataset.value = value;
      if (row.readonly) cell.textContent = value;
      else $("input", cell).value = value;
      row.classList.remove("edited");
    }
    after = row;
  }
  for (const row of old.values()) if (row !== busy) row.remove();
}

function configRow(item, value) {
  const row = el("tr");
  row.dataset.key = item.key;
  row.readonly = !!item.readonly;
  row.insertCell().textContent = item.key;
  const cell = row.insertCell();
  cell.className = "value";
  cell.dataset.value = value;
  row.insertCell().append(el("span", { className: row.readonly ? "access ro" : "access",
    textContent: row.readonly ? "read-only" : "read-write" }));
  const act = row.insertCell();
  if (row.readonly) {
    cell.textContent = value;
  } else {
    const input = el("input", { value, spellcheck: false });
    input.setAttribute("aria-label", item.key);
    cell.append(input);
    act.append(el("button", { type: "button", className: "set", textContent: "Set" }),
      el("span", { className: "answer" }));
  }
  return row;
}

function setConfig(row) {
  const input = $(".value input", row), answer = $(".answer", row);
  const result = attempt(() => sim.setConfig(row.dataset.key, input.value));
  answer.textContent = result === undefined ? "" : String(result);
  answer.dataset.answer = answer.textContent;
  if (result !== undefined) showError("");
  refreshConfig(true);
}

function wireConfig() {
  const body = $("#config tbody");
  body.addEventListener("click", (e) => {
    if (e.target.classList.contains("set")) setConfig(e.target.closest("tr"));
  });
  body.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target.matches(".value input")) setConfig(e.target.closest("tr"));
  });
  body.addEventListener("input", (e) => {
    const row = e.target.closest("tr");
    row.classList.toggle("edited", e.target.value !== $(".value", row).dataset.value);
  });
  // Catch up on what changed while the row was being edited.
  body.addEventListener("focusout", () => setTimeout(() => {
    if (!body.contains(document.activeElement)) refreshConfig();
  }, 0));
  $("#config-refresh").addEventListener("click", () => refreshConfig(true));
}

// --- charts ------------------------------------------------------------------------------------

const PAST = 10 * 60e3, FUTURE = 10 * 60e3;  // the x axis: 10 min of samples, 10 min of schedule
const VOLTS = 230 * 3;                        // A -> W: 230 V on 3 phases, as the simulator's EV
const css = getComputedStyle(document.documentElement);
const colour = (name) => css.getPropertyValue(name).trim();
let charts = [null];  // index = connector id: {canvas, label, samples, schedule, fetched, limitKey}

function buildCharts(n) {
  const box = $("#charts");
  box.replaceChildren();
  charts = [null];
  for (let i = 1; i <= n; i++) {
    const root = $("#chart-tpl").content.firstElementChild.cloneNode(true);
    root.dataset.chart = i;
    $(".num", root).textContent = i;
    box.append(root);
    charts.push({ canvas: $("canvas", root), label: $(".lim-label", root), samples: [],
      schedule: null, fetched: 0, limitKey: "" });
  }
}

const toWatts = (value, unit) => (value == null ? null : unit === "W" ? value : value * VOLTS);

function sample(s) {
  const now = Date.now();
  for (const c of s.connectors.slice(1)) {
    const ch = charts[c.id];
    if (!ch) continue;
    const point = { t: now, p: c.power_w || 0, e: (c.energy_wh || 0) / 1000,
      l: toWatts(c.limit, c.limit_unit) };
    const prev = ch.samples[ch.samples.length - 1];
    if (prev && now - prev.t < 200) ch.samples[ch.samples.length - 1] = point;
    else ch.samples.push(point);
    while (ch.samples[0].t < now - PAST) ch.samples.shift();
    const key = `${c.limit}|${c.limit_unit}`;
    if (key !== ch.limitKey) [ch.limitKey, ch.fetched] = [key, 0];  // fetch the schedule anew
    ch.label.textContent = c.limit == null ? "Limit (none)"
      : c.limit_unit === "W" ? `Limit ${fmtNum(c.limit)} W`
      : `Limit ${fmtNum(c.limit)} A = ${fmtNum(toWatts(c.limit, "A") / 1000)} kW`;
  }
}

const chartsShown = () => !$("#panel-charts").hidden;

function drawCharts() {
  const now = Date.now();
  charts.slice(1).forEach((ch, i) => {
    if (running && now - ch.fetched > 10e3) {
      ch.fetched = now;
      ch.schedule = attempt(() => sim.schedule(i + 1)) || null;
    }
    drawChart(ch, now);
  });
}

// Round numbers for an axis: lo..hi in about `count` steps of 1, 2 or 5 × 10^k.
function niceScale(lo, hi, count = 4) {
  const raw = (hi - lo) / count || 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  return { lo: Math.floor(lo / step) * step, hi: Math.ceil(hi / step) * step || step, step };
}

// The schedule as [start ms, end ms, W] steps; the last one runs to its duration or on.
function scheduleSteps(sch) {
  if (!sch || !Array.isArray(sch.chargingSchedulePeriod)) return [];
  const start = Date.parse(sch.startSchedule) || Date.now();
  const end = sch.duration ? start + sch.duration * 1e3 : Infinity;
  const periods = [...sch.chargingSchedulePeriod].sort((a, b) => a.startPeriod - b.startPeriod);
  return periods.map((p, i) => [start + p.startPeriod * 1e3,
    i + 1 < periods.length ? start + periods[i + 1].startPeriod * 1e3 : end,
    toWatts(p.limit, sch.chargingRateUnit)]);
}

function drawChart(ch, now) {
  const cv = ch.canvas, w = cv.clientWidth, h = cv.clientHeight, dpr = devicePixelRatio || 1;
  if (!w || !h) return;  // the tab is hidden
  if (cv.width !== Math.round(w * dpr)) cv.width = Math.round(w * dpr);
  if (cv.height !== Math.round(h * dpr)) cv.height = Math.round(h * dpr);
  const g = cv.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = "11px system-ui, sans-serif";
  const L = 44, R = 50, T = 10, B = 22, t0 = now - PAST, t1 = now + FUTURE, midY = T + (h - T - B) / 2;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (w - L - R);
  const data = ch.samples, steps = scheduleSteps(ch.schedule).filter((s) => s[1] > t0 && s[0] < t1);
  const c = connectorStatus(charts.indexOf(ch));
  const P = niceScale(0, 1.05 * Math.max(1000, (c && c.rated_w) || 0,
    ...data.map((d) => Math.max(d.p, d.l || 0)), ...steps.map((s) => s[2] || 0)));
  const es = data.length ? data.map((d) => d.e) : [0, 1];
  const E = niceScale(Math.min(...es), Math.max(...es, Math.min(...es) + 0.1));
  const yP = (v) => T + (1 - v / P.hi) * (h - T - B);
  const yE = (v) => T + (1 - (v - E.lo) / (E.hi - E.lo)) * (h - T - B);
  const line = (from, to, y) => { g.beginPath(); g.moveTo(from, y); g.lineTo(to, y); g.stroke(); };
  const vline = (xx) => { g.beginPath(); g.moveTo(xx, T); g.lineTo(xx, h - B); g.stroke(); };
  const label = (text, xx, angle) => {
    g.save(); g.translate(xx, midY); g.rotate(angle); g.fillText(text, 0, 0); g.restore();
  };

  // Grid and axes: power on the left (kW), energy on the right (kWh), minutes from now below.
  g.strokeStyle = colour("--grid");
  g.fillStyle = colour("--muted");
  g.lineWidth = 1;
  g.textBaseline = "middle";
  g.textAlign = "right";
  for (let v = 0; v <= P.hi + 1e-9; v += P.step) {
    line(L, w - R, Math.round(yP(v)) + 0.5);
    g.fillText(fmtNum(v / 1000), L - 6, yP(v));
  }
  g.textAlign = "left";
  for (let v = E.lo; v <= E.hi + 1e-9; v += E.step) g.fillText(String(+v.toFixed(3)), w - R + 6, yE(v));
  g.textAlign = "center";
  label("kW", 11, -Math.PI / 2);
  label("kWh", w - 8, Math.PI / 2);
  g.textBaseline = "top";
  for (let m = -10; m <= 10; m += 5) {
    const xx = Math.round(x(now + m * 60e3)) + 0.5;
    g.fillText(m ? `${m > 0 ? "+" : "−"}${Math.abs(m)} min` : "now", xx, h - B + 6);
    if (m) vline(xx);
  }
  g.strokeStyle = colour("--axis");
  g.strokeRect(L + 0.5, T + 0.5, w - L - R, h - T - B);

  // Samples in runs, broken where they stop (charge point stopped, page in the background).
  const runs = [];
  for (const d of data) {
    const run = runs[runs.length - 1];
    if (run && d.t - run[run.length - 1].t < 5e3) run.push(d); else runs.push([d]);
  }
  const path = (run, y) => run.forEach((d, i) => (i ? g.lineTo(x(d.t), y(d)) : g.moveTo(x(d.t), y(d))));
  for (const run of runs) {
    g.beginPath();
    path(run, (d) => yP(d.p));
    g.strokeStyle = g.fillStyle = colour("--c-power"); g.lineWidth = 2; g.stroke();
    g.lineTo(x(run[run.length - 1].t), yP(0)); g.lineTo(x(run[0].t), yP(0));
    g.globalAlpha = 0.12; g.fill(); g.globalAlpha = 1;
    g.beginPath();
    path(run, (d) => yE(d.e));
    g.strokeStyle = colour("--c-energy"); g.lineWidth = 1.5; g.stroke();
  }

  // The limit as it was (solid steps), the schedule as it will be (dashed steps).
  g.strokeStyle = colour("--c-limit"); g.lineWidth = 2;
  g.beginPath();
  for (const run of runs) {
    let prev = null;
    for (const d of run) {
      if (prev != null && d.l != null) g.lineTo(x(d.t), yP(prev)), g.lineTo(x(d.t), yP(d.l));
      else if (d.l != null) g.moveTo(x(d.t), yP(d.l));
      prev = d.l;
    }
  }
  g.stroke();
  g.setLineDash([6, 4]);
  g.beginPath();
  steps.forEach(([a, b, v], i) => {
    if (v == null) return;
    const joined = i && steps[i - 1][1] === a && steps[i - 1][2] != null;
    joined ? g.lineTo(x(Math.max(a, t0)), yP(v)) : g.moveTo(x(Math.max(a, t0)), yP(v));
    g.lineTo(x(Math.min(b, t1)), yP(v));
  });
  g.stroke();

  // Now: the border between what happened and what is planned.
  g.strokeStyle = colour("--axis"); g.lineWidth = 1; g.setLineDash([2, 3]);
  vline(Math.round(x(now)) + 0.5);
  g.setLineDash([]);
  g.fillStyle = colour("--muted"); g.textBaseline = "middle";
  const empty = running ? "waiting for samples…" : "no samples: connect first";
  if (!data.length) g.fillText(empty, x(now - PAST / 2), midY);
  if (!steps.length) g.fillText("no charging schedule", x(now + FUTURE / 2), midY);
}

// --- tabs and start-up -------------------------------------------------------------------------

function showTab(name) {
  for (const tab of $$(".tab")) {
    const on = tab.dataset.tab === name;
    tab.classList.toggle("active", on);
    tab.setAttribute("aria-selected", on);
    $(`#panel-${tab.dataset.tab}`).hidden = !on;
  }
  if (name === "log") $("#log-scroll").scrollTop = $("#log-scroll").scrollHeight;
  if (name === "charts") drawCharts();
}

async function main() {
  sim.addEventListener("frame", (e) => onFrame(e.detail));
  sim.addEventListener("log", (e) => onLog(e.detail));
  sim.addEventListener("status", (e) => onStatus(e.detail));
  wireConnectors();
  wireLog();
  wireConfig();
  for (const tab of $$(".tab")) tab.addEventListener("click", () => showTab(tab.dataset.tab));
  $("#control").addEventListener("submit", (e) => {
    e.preventDefault();
    if (!running) start(settings());
  });
  $("#disconnect").addEventListener("click", stop);
  $("#reset").addEventListener("click", reset);
  // Before a start the panels preview the count asked for.
  $("#connectors").addEventListener("input", () => {
    const n = Number($("#connectors").value);
    if (!running && n >= 1 && n <= 8) buildConnectors(n);
  });
  addEventListener("resize", () => chartsShown() && drawCharts());
  buildConnectors(Number($("#connectors").value) || 2);
  setRunning();

  try {
    await sim.load();
  } catch (e) {
    $("#busy").textContent = "MicroPython did not load";
    return showError(message(e));
  }
  loaded = true;
  $("#busy").hidden = true;
  setRunning();
  const saved = attempt(() => sim.saved());
  if (saved) {
    fill(saved);
    buildConnectors(saved.connectors || 2);
    if (saved.running) start(settings());
  }
}

main();
