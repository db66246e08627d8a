// The simulator's runtime: MicroPython (webassembly port, from the pinned npm package) running
// tools/sim.py's charge point with the mpy_ocpp library, the same .py files the boards run.
// This file gives it what a board would: a WebSocket (the browser's), a clock tick (the main
// loop, every 20 ms) and flash that survives a power cut (the port's in-memory filesystem,
// copied into localStorage after every step: a reload is a power cut). The page (ui.js) sees
// a Sim: start/stop/command/status/config, and "frame", "log" and "status" events.

export const ERROR_CODES = ["NoError", "ConnectorLockFailure", "EVCommunicationError",
  "GroundFailure", "HighTemperature", "InternalError", "LocalListConflict", "OtherError",
  "OverCurrentFailure", "OverVoltage", "PowerMeterFailure", "PowerSwitchFailure",
  "ReaderFailure", "ResetFailure", "UnderVoltage", "WeakSignal"];

const STEP_MS = 20;
const STATUS_MS = 250;
const FS_KEY = "mpy_ocpp:fs:"; // + a path under /state
const SETTINGS_KEY = "mpy_ocpp:settings";
const CONNECTING = 1, OPEN = 2;

// Why a WebSocket closed, in words: the browser hides the details of a failed handshake
// (refused, TLS, HTTP 401/404) from the page on purpose; its console has them.
function closeReason(e, opened) {
  if (!opened) {
    return "cannot connect to the CSMS (refused, unreachable, an untrusted TLS certificate, " +
      "or the HTTP upgrade was refused, e.g. 401 for a wrong AuthorizationKey: the browser's " +
      "console has the details)";
  }
  if (e.code === 1006) return "the connection to the CSMS was lost";
  return `closed by the CSMS (code ${e.code}${e.reason ? ": " + e.reason : ""})`;
}

function b64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function unb64(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export class Sim extends EventTarget {
  constructor() {
    super();
    this.ws = null;
    this.inbox = [];
    this.link = { state: 0, error: null, protocol: "" };
    this.boot = null;
    this.bootId = null;
    this.timer = null;
    this.lastStatus = 0;
    this.files = new Map(); // path -> base64 content, as in localStorage
    this.running = false;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  async load() {
    const { loadMicroPython } = await import("/mp/micropython.mjs");
    const logLine = (text) => this.emit("log", { time: new Date(), text });
    this.mp = await loadMicroPython({ stdout: logLine, stderr: logLine, linebuffer: true });
    const names = await (await fetch("/py/index.json")).json();
    const texts = await Promise.all(names.map(async (n) => {
      const r = await fetch("/py/" + n);
      if (!r.ok) throw new Error(`cannot load ${n}: HTTP ${r.status}`);
      return r.text();
    }));
    names.forEach((n, i) => {
      this.mp.FS.mkdirTree("/lib/" + n.split("/").slice(0, -1).join("/"));
      this.mp.FS.writeFile("/lib/" + n, texts[i]);
    });
    this.restoreFlash();
    this.mp.registerJsModule("bridge", this.bridge());
    this.py = this.mp.pyimport("websim");
  }

  // -- the transport the Python side polls (websim.BrowserSocket)

  bridge() {
    return {
      open: (url, protocols, user, password) => this.open(url, protocols, user, password),
      close: () => this.closeSocket(),
      send: (text) => {
        if (!this.ws || this.link.state !== OPEN) return false;
        this.ws.send(text);
        this.frame("out", text);
        return true;
      },
      recv: () => (this.inbox.length ? this.inbox.shift() : null),
      pending: () => this.inbox.length,
      state: () => this.link.state,
      error: () => this.link.error,
      protocol: () => this.link.protocol,
    };
  }

  open(url, protocols, user, password) {
    this.closeSocket();
    let ws;
    try {
      const u = new URL(url);
      if (user) { // Basic auth: the only way a page can give credentials to a WebSocket
        u.username = encodeURIComponent(user);
        u.password = encodeURIComponent(password);
      }
      ws = new WebSocket(u.href, protocols ? protocols.split(",") : []);
    } catch (e) {
      this.link = { state: 0, error: `the URL is not usable: ${e.message}`, protocol: "" };
      return;
    }
    let opened = false;
    this.ws = ws;
    this.link = { state: CONNECTING, error: null, protocol: "" };
    ws.onopen = () => {
      if (ws !== this.ws) return;
      opened = true;
      this.link = { state: OPEN, error: null, protocol: ws.protocol };
    };
    ws.onmessage = (e) => {
      if (ws !== this.ws || typeof e.data !== "string") return; // OCPP-J is text only
      this.inbox.push(e.data);
      this.frame("in", e.data);
    };
    ws.onclose = (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.inbox.length = 0;
      this.link = { state: 0, error: closeReason(e, opened), protocol: "" };
    };
  }

  closeSocket() {
    const ws = this.ws;
    this.ws = null;
    this.inbox.length = 0;
    this.link = { state: 0, error: this.link.error, protocol: "" };
    if (ws) ws.close(1000);
  }

  frame(dir, text) {
    try { // the BootNotification status, for the page
      const f = JSON.parse(text);
      if (f[0] === 2 && f[2] === "BootNotification" && dir === "out") this.bootId = f[1];
      else if (f[0] === 3 && f[1] === this.bootId) this.boot = f[2].status;
    } catch (e) { /* not JSON: the log shows it raw */ }
    this.emit("frame", { time: new Date(), dir, text });
  }

  // -- flash: /state in the port's filesystem, mirrored in localStorage

  restoreFlash() {
    const FS = this.mp.FS;
    const keys = [];
    for (let i = 0; i < localStorage.length; i++) keys.push(localStorage.key(i));
    for (const key of keys.filter((k) => k.startsWith(FS_KEY))) {
      const path = key.slice(FS_KEY.length);
      const data = localStorage.getItem(key);
      try { // what another page or a hand in the devtools left there may be anything
        if (!/^\/state\/[^/]+\/[^/]+$/.test(path) || path.includes("/..")) throw new Error("not a state file");
        FS.mkdirTree(path.split("/").slice(0, -1).join("/"));
        FS.writeFile(path, unb64(data));
        this.files.set(path, data);
      } catch (e) { // dropped: the library finds the file missing, as after a flash erase
        localStorage.removeItem(key);
        this.emit("log", { time: new Date(), text: `browser storage: ${path} was damaged (${e.message}), dropped` });
      }
    }
  }

  // Called after every step: localStorage then holds what the filesystem held between two
  // loop() calls, never a write half done (a reload only happens between tasks).
  syncFlash() {
    const FS = this.mp.FS;
    const seen = new Set();
    const walk = (dir) => {
      let names;
      try { names = FS.readdir(dir); } catch (e) { return; }
      for (const n of names) {
        if (n === "." || n === "..") continue;
        const p = dir + "/" + n;
        if (FS.isDir(FS.stat(p).mode)) { walk(p); continue; }
        seen.add(p);
        const data = b64(FS.readFile(p));
        if (this.files.get(p) !== data) {
          try {
            localStorage.setItem(FS_KEY + p, data);
            this.files.set(p, data);
          } catch (e) {
            this.emit("log", { time: new Date(), text: `browser storage refused ${p}: ${e.message}` });
          }
        }
      }
    };
    walk("/state");
    for (const p of [...this.files.keys()]) {
      if (!seen.has(p)) {
        localStorage.removeItem(FS_KEY + p);
        this.files.delete(p);
      }
    }
  }

  // -- what the page uses

  saved() {
    try { return JSON.parse(localStorage.getItem(SETTINGS_KEY)); } catch (e) { return null; }
  }

  start(settings) {
    const s = { url: String(settings.url || ""), id: String(settings.id || ""),
      key: String(settings.key || ""), ocpp: String(settings.ocpp || "auto"),
      connectors: Number(settings.connectors) || 1 };
    this.stop();
    this.boot = null;
    this.link = { state: 0, error: null, protocol: "" };
    const err = this.py.start(JSON.stringify(s));
    if (err) throw new Error(err);
    this.running = true;
    localStorage.setItem(SETTINGS_KEY, JSON.stringify({ ...s, running: true }));
    this.timer = setInterval(() => this.step(), STEP_MS);
    this.emit("status", this.status());
  }

  step() {
    try {
      this.py.step();
    } catch (e) { // a bug in the library or the simulator: show it, keep the page alive
      this.emit("log", { time: new Date(), text: `error: ${e.message}` });
    }
    this.syncFlash();
    const now = Date.now();
    if (now - this.lastStatus >= STATUS_MS) {
      this.lastStatus = now;
      this.emit("status", this.status());
    }
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.py) return;
    this.py.stop();
    this.syncFlash();
    if (this.running) {
      this.running = false;
      const s = this.saved();
      if (s) localStorage.setItem(SETTINGS_KEY, JSON.stringify({ ...s, running: false }));
    }
    this.emit("status", this.status());
  }

  // Forget the stored state of the charge box id in the control center (a factory reset).
  reset(id) {
    const s = this.saved();
    id = id || (s && s.id);
    this.stop();
    if (!id) return;
    const dir = "/state/" + id + "/";
    for (const p of [...this.files.keys()]) {
      if (p.startsWith(dir)) {
        this.mp.FS.unlink(p);
        localStorage.removeItem(FS_KEY + p);
        this.files.delete(p);
      }
    }
  }

  command(line) {
    const err = this.py.command(line);
    this.emit("status", this.status());
    return err;
  }

  status() {
    const s = this.py ? JSON.parse(this.py.status()) : null;
    if (s) {
      s.boot = this.boot;
      for (const c of s.connectors) c.limit_unit = c.limit === null ? null : "A";
    }
    return s;
  }

  config() {
    return JSON.parse(this.py.config());
  }

  setConfig(key, value) {
    const r = this.py.set_config(String(key), String(value));
    this.emit("status", this.status());
    return r;
  }

  schedule(connectorId) {
    return JSON.parse(this.py.schedule(connectorId));
  }
}
