# The browser simulator's Python side, on the MicroPython webassembly port: tools/sim.py's
# simulated charge point (the mpy_ocpp library unchanged, the same simulated hardware and
# commands) over the browser's WebSocket. runtime.js registers the JS module `bridge` (the
# WebSocket and the page's clock of frames) and calls the functions at the end of this file.
# State lives in /state/<id> on the port's in-memory filesystem; runtime.js copies that
# directory into localStorage after every step, so a reload resumes as a power cut does.
import json

import bridge
import sim
from mpy_ocpp.compat import log, ticks_add, ticks_diff, ticks_ms
from mpy_ocpp.ocpp16 import run_in

_OFF = 0  # bridge.state()
_CONNECTING = 1
_OPEN = 2
LINK = ("off", "connecting", "open")


class BrowserSocket:
    """The transport interface of mpy_ocpp.ws.WebSocket on the browser's WebSocket. The
    browser does the handshake, TLS (with its own trust store), pings and pongs; this class
    adds what the library expects: reconnect with a backoff, the subprotocol offer and check."""

    def __init__(self, url, subprotocols):
        self.url = url
        self.subprotocols = tuple(subprotocols)
        self.subprotocol = None
        self.online = False
        self.error = None
        self._cred = ("", "")
        self._run = False
        self._bo = 1000  # ms, doubles per failure up to a minute
        self._at = 0
        self._was = _OFF

    def connect(self, user=None, password=None):
        self._cred = (user or "", password or "")  # only kept to open the next sockets
        bridge.close()
        self._run = True
        self._bo = 1000
        self._at = ticks_ms()

    def offer(self, subprotocols):
        self.subprotocols = tuple(subprotocols)

    def close(self):
        self._run = False
        self.online = False
        bridge.close()

    def send(self, msg):
        return self.online and bool(bridge.send(msg))

    def poll(self):
        st = bridge.state()
        if st == _OPEN and not self.online:
            p = bridge.protocol()
            if p not in self.subprotocols:  # the browser refuses a protocol we did not offer
                self._down("the CSMS chose no OCPP version (subprotocol %r, offered %s)"
                           % (p, ", ".join(self.subprotocols)))
                return None
            self.online, self.subprotocol, self.error, self._bo = True, p, None, 1000
        elif st == _OFF and (self.online or self._was != _OFF):
            self._down(bridge.error() or "closed")
        self._was = st
        if self.online:
            return bridge.recv()
        if st == _OFF and self._run and ticks_diff(ticks_ms(), self._at) >= 0:
            self._was = _CONNECTING
            bridge.open(self.url, ",".join(self.subprotocols), self._cred[0], self._cred[1])
        return None

    def _down(self, why):
        self.online = False
        self.subprotocol = None
        self.error = why
        bridge.close()
        self._was = _OFF
        self._at = ticks_add(ticks_ms(), self._bo)
        log("link: %s; again in %d s" % (why, self._bo // 1000))
        self._bo = min(self._bo * 2, 60000)


class WebSim(sim.Sim):
    def state_dir(self):
        return "/state/" + self.opts["--id"]

    def link(self, url, versions, profile=None):  # the page's own link only: no profile change
        return None if profile is not None else BrowserSocket(url, [v.SUBPROTOCOL for v in versions])


_sim = None


def start(opts_json):
    """Boot a charge point: {url, id, key, ocpp, connectors} -> "" or what is wrong, in words."""
    global _sim
    stop()
    o = json.loads(opts_json)
    argv = ["sim", "--url", o["url"].strip(), "--id", o["id"].strip(), "--ocpp", o["ocpp"],
            "--connectors", str(o["connectors"])]
    if o.get("key"):
        argv += ["--auth-key", o["key"]]
    try:
        opts = sim.parse_args(argv)
    except sim.Usage as e:
        return str(e).replace("--url", "the URL").replace("--id", "the charge box id")
    if opts["--url"].startswith("wss://"):
        opts["--ca"] = None  # the browser checks the server against its own trust store
    if "/" in opts["--id"] or opts["--id"] in (".", ".."):  # it names the state directory
        return "the charge box id cannot be '.', '..' or contain '/'"
    _sim = WebSim(opts)
    key = o.get("key") or ""  # "" keeps the stored one (sim.py stores --auth-key once only)
    if key and _sim.cp.config.change("AuthorizationKey", key) != "Accepted":
        return "the AuthorizationKey was not accepted"
    return ""


def stop():
    global _sim
    if _sim is not None:
        _sim.cp.transport.close()
        _sim = None


def step():
    """One turn of the firmware's main loop; a few more while frames are waiting."""
    if _sim is not None:
        for _ in range(8):
            _sim.loop()
            if not bridge.pending():
                break


def status():
    if _sim is None:
        return "null"
    s = _sim.status()
    t = _sim.cp.transport
    s["link"] = "open" if t.online else LINK[bridge.state()] if t._run else "off"
    s["error"] = t.error
    s["id"] = _sim.opts["--id"]
    return json.dumps(s)


def command(line):
    if _sim is None:
        return "not started"
    try:
        _sim.do(line)
    except sim.Usage as e:
        return "%s: %s" % (line.strip(), e)
    return ""


def config():
    if _sim is None:
        return "[]"
    out = []
    for k in _sim.cp.config.get_configuration(())["configurationKey"]():
        out.append(k)
    return json.dumps(out)


def set_config(key, value):
    return "not started" if _sim is None else _sim.cp.config.change(key, value)


def schedule(cid):
    sc = _sim and _sim.cp.smart_charging
    if not sc or not 0 < cid < len(_sim.cp.connectors):
        return "null"
    from mpy_ocpp import clock
    return json.dumps(run_in("smart_charging_calls", "composite", sc, _sim.cp.connectors[cid], clock.now(), 86400, False))
