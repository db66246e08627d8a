# The charger: reads config.json, brings the board up, builds the ChargePoint and the
# drivers, and runs them in one loop. On the board, /main.py is `from boards.main import run; run()`.
# Order matters: contactors off first, then the watchdog, then Wi-Fi and NTP, then OCPP. Until
# config.json is read no pin is driven: after a reset every GPIO is an input, and the contactor
# driver must hold itself off then (pull resistor), as the pins float during every boot anyway.
# A mistake in config.json or in the files it names leaves an idle charger (contactors off,
# watchdog fed, no OCPP) that says what is wrong on the console: never a reboot loop.
# Every step of the loop is short (a card read ~10 ms, a Modbus write ~10 ms at 9600 baud, a
# pilot burst 1.1 ms); DNS and the TLS handshake are the longest, far under the watchdog.
# UpdateFirmware: the board module's install hook (esp32_devkit.py: the next OTA partition,
# pico_w.py: an app bundle in a slot) resets into the new app; once the CSMS accepts the
# charge point, board.confirm() keeps it, and a new app that never gets there is rolled back
# at the next reset (then its Installing ends in InstallationFailed, see _rollback).
import json
import sys

import machine

from mpy_ocpp.compat import log, ticks_add, ticks_diff, ticks_ms, url_quote

from boards.drivers import sleep_ms
from boards.drivers.relay import LevelSense, MainsSense, Relay


# feature profiles used when config.json does not name them: those this build has
_CPCERT = "cpcert.pem"  # the charge point certificate the CSMS signed (csms.csr)
PROFILES = ("local_auth_list", "reservation", "smart_charging", "remote_trigger", "firmware_management")


def profiles(names):
    found = []
    for name in names:
        try:
            __import__("mpy_ocpp." + name)
        except ImportError:
            log("profile %s not in this build" % name)
            continue
        found.append(sys.modules["mpy_ocpp." + name])
    return tuple(found)


# config.json's known keys: a type (or a tuple of them), a tuple of the allowed strings, an
# object {key: shape}, or [shape] for a list of them. Others are not looked at.
_N = (int, float)
_B = (bool, int)  # MicroPython's bool is no int
_SHAPE = {
    "board": str, "ntp": (str, type(None)), "vendor": str, "model": str, "state": str,
    "serial": (str, type(None)), "app_dir": str, "watchdog_ms": int, "wifi_wait_ms": int,
    "loop_sleep_ms": int, "pilot_zero": _N, "pilot_scale": _N, "profiles": [str], "pins": {},
    "wifi": {"ssid": str, "password": str, "country": str},
    "csms": {"url": str, "id": str, "authorization_key": str, "ca": str, "client_cert": str,
             "client_key": str, "csr": str, "csr_key": str, "wss_url": str, "timeout": _N},
    "reader": {"type": ("mfrc522", "pn532"), "connector": int, "uid_order": ("msb", "lsb"),
               "uid_case": ("upper", "lower"), "repeat_ms": int, "address": int},
    "modbus": {"baudrate": int, "timeout_ms": int},
    "connectors": [{"feedback": ("level", "mains", None), "feedback_active": int, "relay_active": int,
                    "pilot": _B, "proximity": _B, "cable_current": _N, "max_current": _N,
                    "ventilation": _B,
                    "meter": {"model": ("sdm630", "sdm120", "abb_b23"), "address": int, "interval_ms": int}}],
}


def _check(v, shape, at):
    """ValueError naming the place `at` unless `v` fits `shape` (see _SHAPE)."""
    t = type(shape)
    if t is dict:
        if type(v) is not dict:
            raise ValueError("%s: an object expected" % at)
        for k in shape:
            if k in v:
                _check(v[k], shape[k], at + "." + k)
    elif t is list:
        if type(v) is not list:
            raise ValueError("%s: a list expected" % at)
        for i, x in enumerate(v):
            _check(x, shape[0], "%s[%d]" % (at, i))
    elif t is tuple and type(shape[0]) is str:
        if v not in shape:
            raise ValueError("%s: %r is not one of %s" % (at, v, ", ".join([str(x) for x in shape])))
    elif not isinstance(v, shape):
        raise ValueError("%s: %r is of the wrong type" % (at, v))


def load(path):
    """config.json, checked for shape and types (-> OSError, ValueError)."""
    with open(path) as f:
        cfg = json.load(f)
    _check(cfg, _SHAPE, "config")
    if not cfg.get("csms", {}).get("url") or not cfg["csms"].get("id"):
        raise ValueError("config.csms: url and id are required")
    if ("csr" in cfg["csms"]) != ("csr_key" in cfg["csms"]):
        raise ValueError("config.csms: csr and csr_key go together")
    return cfg


def _text(path):
    with open(path) as f:
        return f.read()


def board_class(cfg):
    name = cfg.get("board", "esp32_devkit")
    if name == "esp32_devkit":
        from boards.esp32_devkit import BOARD
    elif name == "pico_w":
        from boards.pico_w import BOARD
    else:
        raise ValueError("unknown board %s (esp32_devkit or pico_w)" % name)
    return BOARD


def board_for(cfg):
    return board_class(cfg)(cfg)


class Outlet:
    """One connector's hardware: contactor (+ feedback), control pilot, meter."""

    def __init__(self, board, cfg, n, stop_ms=3000):
        sfx = "" if n == 1 else str(n)  # pins of connector 2 are "relay2", "cp_pwm2", ...
        on = cfg.get("relay_active", 1)
        relay = board.pin("relay" + sfx, machine.Pin.OUT, value=1 - on)  # off, before anything else
        fb = cfg.get("feedback")
        sense = None
        if fb:
            p = board.pin("relay_fb" + sfx, machine.Pin.IN)
            sense = MainsSense(p) if fb == "mains" else LevelSense(p, cfg.get("feedback_active", 0))
        self.relay = Relay(relay, sense, on)
        self.pilot = None
        self.meter = None
        self.cfg = cfg
        self.sfx = sfx
        self.stop_ms = stop_ms
        self.permitted = False
        self._open_at = None

    def start(self, board, bus):
        """Everything but the contactor (already off): pilot, meter."""
        cfg, sfx = self.cfg, self.sfx
        if cfg.get("pilot", True):
            from boards.drivers.pilot import Pilot
            pp = board.adc("pp_adc" + sfx) if cfg.get("proximity", True) and board.has("pp_adc" + sfx) else None
            self.pilot = Pilot(board.pwm("cp_pwm" + sfx), board.adc("cp_adc" + sfx), pp,
                               zero=board.cfg.get("pilot_zero", board.PILOT_ZERO),
                               scale=board.cfg.get("pilot_scale", board.PILOT_SCALE),
                               max_amps=cfg.get("max_current", 32), cable=cfg.get("cable_current"),
                               ventilation=cfg.get("ventilation", False))
        m = cfg.get("meter")
        if m and bus is not None:
            from boards.drivers.meters import Meter
            self.meter = Meter(m["model"], m.get("address", 1), m.get("interval_ms", 1000))
            bus.add(self.meter)

    def wire(self, c):
        """Connect the library's connector `c` to this hardware."""
        p, m = self.pilot, self.meter
        if p:
            c.plugged = p.plugged
            c.ev_ready = p.ev_ready
            c.evse_ready = p.evse_ready
            c.on_limit = p.set_limit  # A (None = no limit): the PWM offers min(cable, max, limit)
            c.measure("Current.Offered", p.current_offered)
        if m:
            c.energy = m.energy
            c.power = m.power
            names = [f[3] for b in m.map for f in b[3]]
            for i, ph in ((1, "L1"), (2, "L2"), (3, "L3")):
                if "v%d" % i in names:
                    c.measure("Voltage", self._reader("v%d" % i), ph + "-N")
                    c.measure("Current.Import", self._reader("a%d" % i), ph)
        sources = [s.error for s in (self.relay, p, m) if s]
        c.error = lambda: _first(sources)
        c.on_permission = self.permit

    def _reader(self, name):
        return lambda: self.meter.get(name)

    def permit(self, on):
        self.permitted = on
        if self.pilot:
            self.pilot.enabled = on
        if not on:
            # give the EV `stop_ms` to stop drawing (PWM gone -> state B) before opening
            self._open_at = ticks_add(ticks_ms(), self.stop_ms) if self.relay.on else None

    def poll(self, now):
        p = self.pilot
        if p:
            p.poll(now)
        ready = p is None or p.ev_ready()
        if p and p.state == "A":
            self.relay.clear()  # a new EV gets a new try after "contactor did not close"
        if self.permitted:
            self.relay.set(ready)
        elif self.relay.on and (not ready or self._open_at is None or ticks_diff(now, self._open_at) >= 0):
            self.relay.set(False)
        self.relay.poll(now)


def _first(sources):
    for f in sources:
        e = f()
        if e is not None:
            return e
    return None


class Charger:
    def __init__(self, cfg):
        """The board and the contactors, driven off; start() brings up the rest."""
        self.cfg = cfg
        board = self.board = board_for(cfg)
        conns = cfg.get("connectors") or [{}]
        self.outlets = [Outlet(board, c, i + 1) for i, c in enumerate(conns)]

    def start(self, app=None):
        cfg, board = self.cfg, self.board
        board.app = app
        board.watchdog(cfg.get("watchdog_ms", board.WDT_MS))
        for k in ("ca", "client_cert", "client_key", "csr", "csr_key"):  # missing: say so now, not at each TLS try
            f = cfg["csms"].get(k)
            try:
                if f:
                    open(f, "rb").close()
            except OSError:
                raise ValueError("config.csms.%s: cannot read %s" % (k, f))
        board.led(100, ticks_ms())
        board.wifi(cfg.get("wifi_wait_ms", 15000))
        board.ntp()
        self.bus = self._bus()
        for o in self.outlets:
            o.start(board, self.bus)
        self.reader = self._reader()
        self.cp = self._chargepoint()
        self.stopped = False
        self.confirmed = False

    def _bus(self):
        if not any(c.get("meter") for c in self.cfg.get("connectors") or ()):
            return None
        from boards.drivers.modbus import Master
        m = self.cfg.get("modbus", {})
        baud = m.get("baudrate", 9600)
        b = self.board
        return Master(b.uart(baud), baud, b.pin("rs485_de", machine.Pin.OUT) if b.has("rs485_de") else None,
                      m.get("timeout_ms", 200))

    def _reader(self):
        r = self.cfg.get("reader")
        if not r:
            return None
        b = self.board
        fmt = {"order": r.get("uid_order", "msb"), "case": r.get("uid_case", "upper"),
               "repeat_ms": r.get("repeat_ms", 2000)}
        if r.get("type", "mfrc522") == "pn532":
            from boards.drivers.pn532 import PN532
            return PN532(b.i2c(), r.get("address", 0x24), **fmt)
        from boards.drivers.mfrc522 import MFRC522
        rst = b.pin("rfid_rst", machine.Pin.OUT, value=1) if b.has("rfid_rst") else None
        return MFRC522(b.spi(), b.pin("rfid_cs", machine.Pin.OUT, value=1), rst, **fmt)

    def _chargepoint(self):
        from mpy_ocpp import ChargePoint, __version__
        from mpy_ocpp.store import Store
        cfg, b = self.cfg, self.board
        cs = cfg["csms"]
        cp_id = cs["id"]
        store = Store(cfg.get("state", "/ocpp"))
        rolled_back = _rollback(store, b)
        key = cs.get("authorization_key")
        saved = store.load("config.json", {}, lambda d: type(d) is dict)
        # first boot only: later the CSMS owns the key (secret.json keeps it if config.json goes)
        if key and "AuthorizationKey" not in saved and store.read("secret.json") is None:
            saved["AuthorizationKey"] = key
            store.save("config.json", saved)
        self.cert = (cs.get("client_cert"), cs.get("client_key"))
        if cs.get("csr") and store.read(_CPCERT):  # the CSMS signed csr: that certificate now
            self.cert = (store.path + "/" + _CPCERT, cs["csr_key"])
        ws = self._ws(cs["url"], *self.cert)
        boot = {"firmwareVersion": "mpy_ocpp-%s/%s" % (__version__, b.NAME),
                "chargePointSerialNumber": cfg.get("serial") or b.unique_id()}
        meters = [c["meter"]["model"] for c in cfg.get("connectors") or () if c.get("meter")]
        if meters:
            boot["meterType"] = meters[0]
        cp = ChargePoint(cp_id, ws, store, connectors=len(self.outlets), vendor=cfg.get("vendor", "mpy_ocpp"),
                         model=cfg.get("model", b.NAME), profiles=profiles(cfg.get("profiles", PROFILES)), **boot)
        for o, c in zip(self.outlets, cp.connectors[1:]):
            o.wire(c)
        if self.reader:
            cp.connectors[0].error = self.reader.error
        cp.on_reset = self._reset
        if getattr(cp, "security", None):
            cp.security.transport = self._profile
        if getattr(cp, "security", None) and cs.get("csr"):  # a key pair made at the factory
            cp.security.csr = lambda: _text(cs["csr"])
            cp.security.on_certificate = lambda chain: self._certificate(store, chain)
        if getattr(cp, "firmware", None):  # the Firmware Management profile is on
            if rolled_back:
                cp.firmware.rolled_back()
            b.ota(cp.firmware, lambda: self._reset(True))
        return cp

    def _ws(self, url, cert=None, key=None):
        from mpy_ocpp.ws import WebSocket
        cs = self.cfg["csms"]
        return WebSocket(url.rstrip("/") + "/" + url_quote(cs["id"]), ca=cs.get("ca"), cert=cert, key=key,
                         timeout=cs.get("timeout", 5), log=log)

    def _profile(self, n):
        """The transport for Security Profile n when the CSMS raises it: csms.url for 1,
        csms.wss_url for 2 and, with a client certificate, 3; else None (Rejected)."""
        cs = self.cfg["csms"]
        if n == 1:
            return self._ws(cs["url"])
        if not cs.get("wss_url") or n == 3 and not self.cert[0]:
            return None
        return self._ws(cs["wss_url"], *(self.cert if n == 3 else ()))

    def _certificate(self, store, chain):
        """CertificateSigned: the leaf, with csr_key, is the client certificate from the next
        handshake on, and after a reboot (kept in the state directory, written atomically)."""
        if not store.write(_CPCERT, chain.encode()):
            return False
        self.cert = (store.path + "/" + _CPCERT, self.cfg["csms"]["csr_key"])
        self.cp.transport.use_cert(*self.cert)
        return True

    def _reset(self, hard):
        for o in self.outlets:
            o.relay.set(False)
        self.stopped = True
        machine.reset()

    def step(self):
        now = ticks_ms()
        b = self.board
        b.feed()
        b.wifi_poll(now)
        cp = self.cp
        cp.loop()
        if cp.accepted and not self.confirmed:  # the app works: Wi-Fi, TLS, OCPP
            self.confirmed = True
            b.confirm()
        for o in self.outlets:
            o.poll(now)
        if self.bus:
            self.bus.poll(now)
        if self.reader:
            tag = self.reader.poll(now)
            if tag:
                log("card %s" % tag)
                cp.tag(self.cfg["reader"].get("connector", 0 if len(self.outlets) > 1 else 1), tag)
        b.led(self._pattern(), now)

    def _pattern(self):
        cp = self.cp
        if not cp.online:
            return 250  # fast blink: no CSMS
        for c in cp.connectors:
            if c.status == "Faulted":
                return 100
        for c in cp.connectors[1:]:
            if c.tx:
                return 1000  # slow blink: charging session
        return 1 if cp.accepted else 500


def _rollback(store, board):
    """True if an update rebooted into a new app but the old one runs (the new one did not
    confirm itself before a reset): its Installing then ends in InstallationFailed."""
    to = store.load("ota.json", None, lambda v: type(v) is str)  # the slot or partition label
    if to is None:
        return False
    store.remove("ota.json")
    if to == board.running():
        return False
    log("firmware: %s did not start, %s runs again" % (to, board.running()))
    return True


def run(path="config.json", stop=None, app=None):
    """Run the charger from `path` until `stop()` is true (forever on a board). `app`: (slot,
    on trial) when the board's chain() started this module out of an installed app bundle.
    -> the Charger, or None if it could not start (it idled until `stop()`)."""
    ch = None
    try:
        ch = Charger(load(path))  # the contactors are off from here on
        if app is None:
            r = _chain(ch.cfg, path, stop)
            if r is not None:
                return r
        ch.start(app)
    except Exception as e:  # noqa: BLE001 - a mistake in the files: idle, never a reboot loop
        _idle(ch and ch.board, stop, "%s: %s: %s" % (path, type(e).__name__, e))
        return None
    rest = ch.cfg.get("loop_sleep_ms", 5)
    try:
        while not ch.stopped and (stop is None or not stop()):
            ch.step()
            sleep_ms(rest)
    finally:  # a crash in the loop (a bug) opens the contactors before the board resets
        for o in ch.outlets:
            o.relay.set(False)
        ch.cp.transport.close()
    return ch


def _chain(cfg, path, stop):
    try:
        return board_class(cfg).chain(cfg, path, stop)
    except Exception as e:  # noqa: BLE001 - a broken app bundle: the built-in app runs
        log("app bundle: %r; the built-in app runs" % (e,))
        return None


def _idle(board, stop, why):
    """No OCPP, the contactors stay off, the watchdog (if it runs) is fed; the reason is
    repeated every minute for whoever opens the console. Fix the file and reset."""
    n = 0
    while stop is None or not stop():
        if n % 600 == 0:
            log("charger not started: %s" % why)
        n += 1
        if board:
            board.feed()
        sleep_ms(100)


if __name__ == "__main__":
    run()
