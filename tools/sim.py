# A simulated charge point: the mpy_ocpp library with simulated hardware (cable, EV, meter,
# RFID reader), driven by commands on stdin. Runs on CPython and on the MicroPython unix port.
# `sim.py --help` lists the options and the commands. OCPP frames go to stdout ("> " sent,
# "< " received; the AuthorizationKey a ChangeConfiguration sets is shown as "***"), the
# answers to `status` and `help` too; everything else goes to stderr. A mistake on the command
# line is one line on stderr and exit code 2; a bad command on stdin is one line on stderr and
# the simulator goes on; Ctrl-C (SIGINT) closes the link and exits with 130.
import errno
import json
import select
import sys
import time

sys.path.insert(0, (__file__.rsplit("/", 1)[0] if "/" in __file__ else ".") + "/..")

from mpy_ocpp import ChargePoint  # noqa: E402
from mpy_ocpp.chargepoint import MAX_CONNECTORS  # noqa: E402
from mpy_ocpp.compat import log, ticks_add, ticks_diff, ticks_ms, url_quote  # noqa: E402
from mpy_ocpp.rpc import dump  # noqa: E402
from mpy_ocpp.store import Store  # noqa: E402

OPTIONS = """usage: sim.py --url URL --id ID [options]   (commands on stdin: see below)

  --url URL         the CSMS endpoint, ws:// or wss://; the id is appended percent-encoded as
                    the last path segment (ws://127.0.0.1:9000/ocpp -> ws://127.0.0.1:9000/ocpp/CP_1)
  --id ID           the charge box id (also the Basic auth user name)
  --connectors N    connectors, 1 to %d (default 2)
  --state DIR       the charge point's state directory (default state/ID); kept across runs
  --auth-key KEY    AuthorizationKey for Basic auth, stored on the first start in DIR only
  --ca FILE         the CA certificate (PEM or DER) that signed the CSMS's; needed for wss://
  --cert FILE       the charge point's certificate, with --key its private key: Security
  --key FILE        Profile 3 over wss:// (PEM on CPython, DER on MicroPython)
  --wss-url URL     where the charge point goes when the CSMS raises SecurityProfile to 2 or
                    3 (with --ca; 3 with --cert/--key); --url is profile 0 or 1
  --trial SECONDS   how long a new SecurityProfile may take to get online (default 60)
  --signed-meter yes|no  the simulated meters sign their readings (OCMF; the signature is a
                    stand-in: a SHA-256 of the document, no key): signed meter values
  --csr FILE        a certificate signing request (PEM) for the CSMS to sign when it asks
  --csr-key FILE    (ExtendedTriggerMessage SignChargePointCertificate), with its key: the
                    signed certificate and this key are used from the next handshake on
  --power W         what the simulated EV draws while charging, in W (default 11000)
  --ocpp VERSIONS   1.6, 2.0.1, both in the order to offer them (1.6,2.0.1) or auto (the
                    default: 2.0.1,1.6); the CSMS picks one
  -h, --help        this text
""" % MAX_CONNECTORS

# name, arguments, what it does; N is a connector number, 1.. (0: see the text)
COMMANDS = (
    ("plug", "N", "the cable goes into connector N"),
    ("unplug", "N", "the cable comes out of connector N"),
    ("tag", "N IDTAG", "a card (at most 20 characters) at connector N, 0 = wherever it fits"),
    ("token", "N TYPE ID", "OCPP 2.0.1: an idToken of TYPE (ISO14443, KeyCode, Local, NoAuthorization"
     " with ID -...) at connector N"),
    ("evready", "N 0|1", "the EV on connector N asks for power (1, the default) or not (0)"),
    ("power", "N W", "the EV on connector N draws W watts while charging (within the charging limit)"),
    ("fault", "N CODE", "connector N (0: the charge point) reports a ChargePointErrorCode"),
    ("event", "KIND", "a security event of the whitepaper's KIND (e.g. TamperDetectionActivated)"),
    ("pnc", "N EMAID", "ISO 15118 Plug & Charge: the EV at connector N is authorized by its contract"
     " (Authorize over DataTransfer), then charges"),
    ("pncev", "EXI", "ISO 15118: the EV asks for its contract certificate (Get15118EVCertificate, EXI base64)"),
    ("pncocsp", "URL", "ISO 15118: the status of the contract chain (GetCertificateStatus) from responder URL"),
    ("wait", "SECONDS", "take the next command only after SECONDS (the charge point runs on)"),
    ("status", "", "the state of the charge point as one JSON line on stdout"),
    ("help", "", "this list"),
    ("quit", "", "close the link and exit"),
)
TOKEN_TYPES = ("Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress",
               "NoAuthorization")
ERROR_CODES = ("ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature",
               "InternalError", "LocalListConflict", "NoError", "OtherError", "OverCurrentFailure",
               "OverVoltage", "PowerMeterFailure", "PowerSwitchFailure", "ReaderFailure",
               "ResetFailure", "UnderVoltage", "WeakSignal")


def usage():
    lines = [OPTIONS, "commands on stdin, one per line:"]
    for name, args, text in COMMANDS:
        lines.append("  %-16s %s" % ((name + " " + args).strip(), text))
    lines.append("The same card again stops its transaction. CODE (NoError clears the fault):")
    for i in range(0, len(ERROR_CODES), 4):
        lines.append("  " + " ".join(ERROR_CODES[i:i + 4]))
    return "\n".join(lines)


# Feature profiles the simulator runs with, those of them that this build has.
PROFILES = ("local_auth_list", "reservation", "smart_charging", "remote_trigger",
            "firmware_management", "security", "signed_meter_values", "plug_and_charge")


def profiles():
    found = []
    for name in PROFILES:
        try:
            __import__("mpy_ocpp." + name)
        except ImportError as e:
            if name not in str(e):
                raise  # a profile that is there but broken must not pass silently
            continue
        found.append(sys.modules["mpy_ocpp." + name])
    return tuple(found)


def out(line):
    sys.stdout.write(line + "\n")
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()


def redact(m):
    """A received frame as printed: the value of a ChangeConfiguration of AuthorizationKey is
    hidden. Parsed, not searched: JSON may spell the key with escapes."""
    try:
        f = json.loads(m)  # too deep: RecursionError (a RuntimeError) on CPython
        if f[0] == 2 and f[2] == "ChangeConfiguration" and f[3].get("key") == "AuthorizationKey":
            f[3]["value"] = "***"
            return json.dumps(f)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RuntimeError):
        pass  # not such a call: the charge point does not take a key from it either
    return m


class Tap:
    """The transport, with every frame printed."""

    def __init__(self, t):
        self.t = t

    def __getattr__(self, name):
        return getattr(self.t, name)

    def poll(self):
        m = self.t.poll()
        if m is not None:
            out("< " + (redact(m) if type(m) is str else "(%d bytes, too large)" % len(m)))
        return m

    json_frames = True  # frames come as lists (the WebSocket writes them in pieces)

    def send(self, msg):
        ok = self.t.send(msg)
        if ok and type(msg) is str:
            out("> " + msg)
        elif ok:  # printed in pieces too: the sim's heap is what a charger's would be
            sys.stdout.write("> ")
            dump(msg, sys.stdout.write)
            out("")
        return ok


class Hardware:
    """One connector's cable, EV, meter and fault input."""

    def __init__(self, power):
        self.plugged = False
        self.ev_ready = True
        self.fault = None
        self.relay = False
        self.rated = power
        self.limit = None  # A per phase, from Smart Charging
        self.wh = 0.0
        self._t = ticks_ms()

    def tick(self):
        now = ticks_ms()
        self.wh += self.power() * ticks_diff(now, self._t) / 3600000
        self._t = now

    def power(self):
        if not (self.relay and self.plugged and self.ev_ready):
            return 0
        return self.rated if self.limit is None else min(self.rated, int(self.limit * 690))  # 3 x 230 V

    def state(self):
        """What survives a kill of the simulator: the hardware is not the charge point."""
        self.tick()
        return [self.plugged, self.ev_ready, self.fault, self.wh,
                int(time.time()) if self.power() else None, self.rated]

    def restore(self, st):
        self.plugged, self.ev_ready, self.fault, self.wh, since = st[:5]
        self.rated = st[5] if len(st) > 5 else self.rated
        if since is not None:  # the EV drew current until the relay dropped with the power
            self.wh += self.rated * max(0, int(time.time()) - since) / 3600


def ecdsa():
    """A check of ECDSA/SHA-256 signatures (certificates.signed's `verify`) from the
    `cryptography` package, on CPython; None where it is missing (MicroPython): what such a key
    signed is refused, as on a board without an ECDSA hook."""
    try:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, utils
        from cryptography.hazmat.primitives.serialization import load_der_public_key
    except ImportError:
        return None

    def verify(alg, digest, sig, spki):
        try:
            load_der_public_key(bytes(spki)).verify(bytes(sig), bytes(digest), ec.ECDSA(utils.Prehashed(hashes.SHA256())))
            return True
        except Exception:
            return False
    return verify


def read(path):
    with open(path, "rb") as f:
        return f.read()


def versions_for(vs):
    """The version modules for --ocpp ("1.6", "2.0.1"), in the order offered."""
    names = [{"1.6": "ocpp16", "2.0.1": "ocpp201"}[v] for v in vs]
    for n in names:
        __import__("mpy_ocpp." + n)
    return tuple([sys.modules["mpy_ocpp." + n] for n in names])


class Usage(Exception):
    """A user's mistake: one line on stderr (then exit code 2 on the command line)."""


def parse_args(argv):
    opts = {"--connectors": "2", "--power": "11000", "--state": None, "--auth-key": None,
            "--ca": None, "--cert": None, "--key": None, "--url": None, "--id": None,
            "--csr": None, "--csr-key": None, "--wss-url": None, "--trial": "60",
            "--signed-meter": "no",
            "--ocpp": "auto"}
    args = []
    for a in argv[1:]:  # --opt=value is --opt value
        args += a.split("=", 1) if a.startswith("--") and "=" in a else [a]
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-h", "--help"):
            out(usage())
            sys.exit(0)
        if a not in opts:
            raise Usage("unknown option %s" % a)
        if i + 1 >= len(args):
            raise Usage("%s needs a value" % a)
        opts[a] = args[i + 1]
        i += 2
    if not opts["--url"] or not opts["--id"]:
        raise Usage("--url and --id are required")
    scheme = opts["--url"].split("://", 1)[0]
    if scheme not in ("ws", "wss") or "://" not in opts["--url"]:
        raise Usage("--url must start with ws:// or wss://")
    if scheme == "wss" and not opts["--ca"]:
        raise Usage("wss:// needs --ca FILE, the CA certificate that signed the CSMS's")
    w = opts["--wss-url"]
    if w is not None and (not w.startswith("wss://") or not opts["--ca"]):
        raise Usage("--wss-url must start with wss:// and needs --ca FILE")
    for a, b in (("--cert", "--key"), ("--csr", "--csr-key")):
        if (opts[a] is None) != (opts[b] is None):
            raise Usage("%s and %s go together" % (a, b))
    for k in ("--ca", "--cert", "--key", "--csr", "--csr-key"):
        if opts[k]:
            try:
                open(opts[k], "rb").close()
            except OSError as e:
                raise Usage("%s %s: cannot read it (%s)" % (k, opts[k], e))
    vs = "2.0.1,1.6" if opts["--ocpp"] == "auto" else opts["--ocpp"]
    vs = vs.split(",")
    if not vs or len(set(vs)) != len(vs) or [v for v in vs if v not in ("1.6", "2.0.1")]:
        raise Usage("--ocpp: 1.6, 2.0.1, both (2.0.1,1.6) or auto, not %s" % opts["--ocpp"])
    opts["--ocpp"] = vs
    opts["--connectors"] = number(opts["--connectors"], "--connectors", 1, MAX_CONNECTORS, int)
    opts["--power"] = number(opts["--power"], "--power", 0, 1000000, int)
    opts["--trial"] = number(opts["--trial"], "--trial", 1, 86400, int)
    if opts["--signed-meter"] not in ("yes", "no"):
        raise Usage("--signed-meter: yes or no")
    return opts


def number(text, what, low, high, kind):
    """`text` as a `kind` number from low to high, else a one-line error (Usage)."""
    try:
        n = kind(text)
    except ValueError:
        n = None
    if n is None or not low <= n <= high:  # NaN fails the comparison too
        raise Usage("%s: %s is not a number from %s to %s" % (what, text, low, high))
    return n


class Sim:
    def __init__(self, opts):
        self.opts = opts
        self.hw = [Hardware(opts["--power"]) for _ in range(opts["--connectors"] + 1)]
        self.reboot = False
        self.wait_until = None
        self.store = Store(self.state_dir())
        try:
            for hw, st in zip(self.hw, self.store.load("simhw.json", ())):
                hw.restore(st)
        except (TypeError, ValueError):
            log("simhw.json: not the simulated hardware's state, ignored")
        self.boot()

    def state_dir(self):
        return self.opts["--state"] or "state/" + self.opts["--id"]

    def link(self, url, versions, profile=None):
        """The transport to the CSMS (the browser's simulator gives its own); with `profile`,
        the one for that Security Profile, or None (cp.security.transport)."""
        from mpy_ocpp.ws import WebSocket  # here: a port without sockets runs the rest
        o = self.opts
        tls = profile is not None and profile >= 2
        if tls and not o["--wss-url"] or profile == 3 and not o["--cert"]:
            return None
        if tls:
            url = o["--wss-url"].rstrip("/") + "/" + url_quote(o["--id"])
        three = profile is None or profile == 3
        return Tap(WebSocket(url, subprotocol=[v.SUBPROTOCOL for v in versions], ca=o["--ca"],
                             cert=o["--cert"] if three else None, key=o["--key"] if three else None, log=log))

    def save_hw(self):
        self.store.save("simhw.json", [hw.state() for hw in self.hw])

    def boot(self):
        o = self.opts
        url = o["--url"].rstrip("/") + "/" + url_quote(o["--id"])
        versions = versions_for(o["--ocpp"])
        store = self.store
        if o["--auth-key"] is not None and not store.read("config.json"):
            store.save("config.json", {"AuthorizationKey": o["--auth-key"]})
        cp = self.cp = ChargePoint(o["--id"], self.link(url, versions), store, connectors=o["--connectors"],
                                   vendor="mpy_ocpp", model="sim", profiles=profiles(),
                                   versions=versions, firmwareVersion="sim-1")
        cp.on_reset = self.on_reset
        cp.on_authorize = lambda cid, tag, status: log("card %s at connector %d: %s" % (tag, cid, status))
        cp.on_data_transfer = lambda vendor, msg, data: ("Accepted", data)

        def install(path):  # a simulated install: say what would be flashed
            with open(path, "rb") as f:
                log("firmware: installing %s, %d bytes" % (path, len(f.read())))
            return True
        if cp.firmware:
            cp.firmware.install = install
        if cp.security:
            cp.security.verify = ecdsa()
            cp.security.transport = lambda level: self.link(url, versions, level)
            cp.security.trial = o["--trial"]
        if cp.security and o["--csr"]:
            cp.security.csr = lambda: read(o["--csr"]).decode()
            cp.security.on_certificate = self._certificate
        if getattr(cp, "pnc", None) and o["--csr"]:  # the same request serves the V2G certificate
            cp.pnc.csr = cp.security.csr
            cp.pnc.on_certificate = lambda chain: log("pnc: the ISO 15118 stack took its certificate") or True
        for c, hw in zip(cp.connectors, self.hw):
            c.error = self._error(hw)
            if c.id == 0:
                continue
            hw.relay = False
            c.plugged = self._get(hw, "plugged")
            c.ev_ready = self._get(hw, "ev_ready")
            c.energy = self._energy(hw)
            c.power = hw.power
            c.on_permission = self._relay(hw)
            c.on_limit = self._limit(hw)
            if o["--signed-meter"] == "yes":
                c.measure("SignedData", self._ocmf(c.id, hw))
            c.on_unlock = lambda: True

    def _certificate(self, chain):
        """The CSMS signed the request: the chain, with the request's key, is the client
        certificate of the next handshakes (the charge point reconnects)."""
        path = self.state_dir() + "/cpcert.pem"
        with open(path, "w") as f:
            f.write(chain)
        self.cp.transport.use_cert(path, self.opts["--csr-key"])
        log("security: the CSMS signed our certificate (%s)" % path)
        return True

    def _get(self, hw, name):
        return lambda: getattr(hw, name)

    def _energy(self, hw):
        def read():
            hw.tick()
            return int(hw.wh)
        return read

    def _relay(self, hw):
        def set_relay(on):
            hw.tick()
            hw.relay = on
            self.save_hw()
        return set_relay

    def _ocmf(self, cid, hw):
        """The simulated meter's signed reading: an OCMF document (OCMF|payload|signature)
        whose signature is a stand-in, the SHA-256 of the payload (this meter has no key)."""
        import hashlib
        from binascii import b2a_base64, hexlify
        from mpy_ocpp.clock import iso

        def read(context):
            hw.tick()
            tx = {"Transaction.Begin": "B", "Transaction.End": "E"}.get(context, "T")
            payload = json.dumps({"FV": "1.0", "GI": "mpy_ocpp sim", "GS": "%s-%d" % (self.opts["--id"], cid),
                                  "RD": [{"TM": iso(), "TX": tx, "RV": round(hw.wh / 1000, 3), "RI": "01-00:98.08.00.FF",
                                          "RU": "kWh", "ST": "G"}]})
            sd = hexlify(hashlib.sha256(payload.encode()).digest()).decode()
            doc = "OCMF|%s|%s" % (payload, json.dumps({"SA": "SHA-256 (stand-in)", "SD": sd}))
            return (b2a_base64(doc.encode()).decode().strip(), "SHA-256 (stand-in)", "OCMF",
                    "SIM-KEY-" + self.opts["--id"])
        return read

    def _limit(self, hw):
        def set_limit(amps):
            hw.tick()
            hw.limit = amps
        return set_limit

    def _error(self, hw):
        return lambda: hw.fault

    def on_reset(self, hard):
        log("reset (%s): rebooting the simulated charge point" % ("hard" if hard else "soft"))
        self.reboot = True

    def loop(self):
        self.cp.loop()
        if self.reboot:
            self.reboot = False
            self.cp.transport.close()
            self.boot()

    def command(self, line):
        """Run one command line; False once it is quit. A mistake is one line on stderr."""
        try:
            return self.do(line)
        except Usage as e:
            log("%s: %s (help lists the commands)" % (line.strip(), e))
            return True

    def do(self, line):
        """command() for a caller that shows the mistake itself: Usage if it is one."""
        w = line.split()
        if w:
            self._command(w[0], self._args(w))
        return not w or w[0] != "quit"

    def _args(self, w):
        """The arguments of command line `w`, checked: connector numbers as ints."""
        for name, spec, _ in COMMANDS:
            if name == w[0]:
                break
        else:
            raise Usage("unknown command")
        spec = spec.split()
        if len(w) - 1 != len(spec):
            raise Usage("expected: %s %s" % (name, " ".join(spec)))
        args = w[1:]
        if spec and spec[0] == "N":
            low = 0 if name in ("tag", "token", "fault") else 1
            args[0] = number(args[0], "connector", low, len(self.hw) - 1, int)
        if ("IDTAG" in spec or "EMAID" in spec) and len(args[1]) > 20:
            raise Usage("an idTag has at most 20 characters")
        if "TYPE" in spec and (args[1] not in TOKEN_TYPES or len(args[2]) > 36):
            raise Usage("TYPE is one of %s; an ID has at most 36 characters" % ", ".join(TOKEN_TYPES))
        if "0|1" in spec and args[1] not in ("0", "1"):
            raise Usage("0 or 1 expected")
        if "CODE" in spec and args[1] not in ERROR_CODES:
            raise Usage("CODE is one of " + ", ".join(ERROR_CODES))
        if "KIND" in spec and len(args[0]) > 50 or "EXI" in spec and len(args[0]) > 5600 or (
                "URL" in spec and len(args[0]) > 512):
            raise Usage("a KIND has at most 50 characters")
        if "W" in spec:
            args[1] = number(args[1], "W", 0, 1000000, int)
        if "SECONDS" in spec:
            args[0] = number(args[0], "SECONDS", 0, 86400, float)
        return args

    def _command(self, cmd, args):
        hw = self.hw[args[0]] if args and cmd not in ("wait", "tag", "token", "event", "pnc", "pncev", "pncocsp") else None
        if cmd == "plug":
            hw.plugged = True
        elif cmd == "unplug":
            hw.plugged = False
        elif cmd == "tag":
            self.cp.tag(args[0], args[1])
        elif cmd == "token":
            self.cp.tag(args[0], "" if args[2] == "-" else args[2], args[1])
        elif cmd == "evready":
            hw.tick()
            hw.ev_ready = args[1] == "1"
        elif cmd == "power":
            hw.tick()
            hw.rated = args[1]
        elif cmd == "fault":
            hw.fault = None if args[1] == "NoError" else args[1]
        elif cmd == "event":
            self.cp.security_event(args[0])
        elif cmd == "pnc":
            self._pnc(args[0], args[1])
        elif cmd == "pncocsp":
            self._need_pnc().certificate_status(self._ocsp(args[0]), lambda r: log(
                "pnc: certificate status: %s" % (r and r.get("status"))))
        elif cmd == "pncev":
            self._need_pnc().ev_certificate("urn:iso:15118:2:2013:MsgDef", "Install", args[0],
                                            lambda r: log("pnc: EV certificate: %s" % (r and r.get("status"))))
        elif cmd == "wait":
            self.wait_until = ticks_add(ticks_ms(), int(args[0] * 1000))
        elif cmd == "status":
            out(json.dumps(self.status()))
        elif cmd == "help":
            out(usage())
        if hw is not None:
            self.save_hw()

    def _need_pnc(self):
        if not getattr(self.cp, "pnc", None):
            raise Usage("no plug_and_charge in this build")
        return self.cp.pnc

    def _ocsp(self, url=None):
        """The EV's contract chain as the stack would describe it: here the first installed
        MORootCertificate (OCSPRequestDataType), or None."""
        from mpy_ocpp.certificates import installed
        for e in installed(self.cp):
            if e[0] == "MORootCertificate":
                return {"hashAlgorithm": "SHA256", "issuerNameHash": e[1], "issuerKeyHash": e[2],
                        "serialNumber": e[3], "responderURL": url or "http://ocsp.example/"}
        return None

    def _pnc(self, cid, emaid):
        def done(r):
            status = r and r.get("idTokenInfo", {}).get("status")
            log("pnc: contract %s at connector %d: %s" % (emaid, cid, status))
            if status == "Accepted":
                self.cp.connectors[cid].begin(emaid, None, "eMAID")
        h = self._ocsp()
        self._need_pnc().authorize(emaid, [h] if h else None, done)

    def status(self):
        cs = []
        for c, hw in zip(self.cp.connectors, self.hw):
            cs.append({"id": c.id, "status": c.status, "plugged": hw.plugged, "ev_ready": hw.ev_ready,
                       "relay": hw.relay, "energy_wh": int(hw.wh), "power_w": hw.power(),
                       "rated_w": hw.rated, "fault": hw.fault,
                       "transaction": c.tx.id if c.tx else None, "limit": c.limit})
        return {"online": self.cp.online, "accepted": self.cp.accepted, "ocpp": self.cp.version,
                "connectors": cs}


class Lines:
    """Lines from stdin without blocking: raw reads after poll(), no hidden buffering."""

    def __init__(self):
        self.raw = getattr(sys.stdin.buffer, "raw", sys.stdin.buffer)
        self.poller = select.poll()
        self.poller.register(sys.stdin, select.POLLIN)
        self.buf = b""
        self.eof = False
        self.chunk = bytearray(1)

    def next(self):
        """One line, None if none is complete yet, "" at end of input."""
        wait = 5
        while b"\n" not in self.buf and not self.eof and self.poller.poll(wait):
            wait = 0
            # one byte at a time: MicroPython's readinto() blocks until the buffer is full
            if not self.raw.readinto(self.chunk):
                self.eof = True
                self.poller.unregister(sys.stdin)
            else:
                self.buf += self.chunk
        i = self.buf.find(b"\n")
        if i < 0:
            if not self.eof:
                return None
            i = len(self.buf) - 1
        line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
        return line.decode()


def run(sim):
    lines = Lines()
    try:
        while True:
            sim.loop()
            if sim.wait_until is not None:
                if ticks_diff(ticks_ms(), sim.wait_until) < 0:
                    time.sleep(0.005)  # the firmware's main loop may rest; loop() itself never does
                    continue
                sim.wait_until = None
            line = lines.next()
            if line is None:
                continue
            if not line:  # end of input: keep running until quit or a signal
                time.sleep(0.005)
            elif not sim.command(line):
                break
    finally:
        sim.cp.transport.close()


def main():
    try:
        try:
            sim = Sim(parse_args(sys.argv))
        except Usage as e:
            log("sim.py: %s (sim.py --help)" % e)
            sys.exit(2)
        except (OSError, ValueError) as e:  # the CA file, the state directory, the URL's port
            a = e.args[0] if len(e.args) == 1 else None  # MicroPython: OSError(20) says "20"
            log("sim.py: cannot start (check --url, --ca, --state): %s" % (
                errno.errorcode.get(a, "errno %d" % a) if type(a) is int else e))
            sys.exit(2)
        run(sim)
    except KeyboardInterrupt:
        log("sim.py: interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
