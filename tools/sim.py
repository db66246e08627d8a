# A simulated charge point: the mpy_ocpp library with simulated hardware (cable, EV, meter,
# RFID reader), driven by commands on stdin. Runs on CPython and on the MicroPython unix port.
#
#   sim.py --url ws://HOST:PORT/PATH --id CP_1 [--connectors 2] [--state DIR]
#          [--auth-key KEY] [--ca FILE] [--power W]
#
# Commands, one per line: plug N, unplug N, tag N IDTAG, evready N 0|1, fault N CODE
# (fault N NoError clears it), wait SECONDS, status, quit. OCPP frames go to stdout
# ("> " sent, "< " received), everything else to stderr.
import json
import select
import sys
import time

sys.path.insert(0, (__file__.rsplit("/", 1)[0] if "/" in __file__ else ".") + "/..")

from mpy_ocpp import ChargePoint  # noqa: E402
from mpy_ocpp.compat import log, ticks_add, ticks_diff, ticks_ms  # noqa: E402
from mpy_ocpp.store import Store  # noqa: E402
from mpy_ocpp.ws import WebSocket  # noqa: E402


# Feature profiles the simulator runs with, those of them that this build has.
PROFILES = ("local_auth_list", "reservation", "smart_charging", "remote_trigger",
            "firmware_management")


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


class Tap:
    """The transport, with every frame printed."""

    def __init__(self, t):
        self.t = t

    def __getattr__(self, name):
        return getattr(self.t, name)

    def poll(self):
        m = self.t.poll()
        if m is not None:
            out("< " + (m if type(m) is str else "(%d bytes, too large)" % len(m)))
        return m

    def send(self, text):
        ok = self.t.send(text)
        if ok:
            out("> " + text)
        return ok


class Hardware:
    """One connector's cable, EV, meter and fault input."""

    def __init__(self, power):
        self.plugged = False
        self.ev_ready = True
        self.fault = None
        self.relay = False
        self.rated = power
        self.wh = 0.0
        self._t = ticks_ms()

    def tick(self):
        now = ticks_ms()
        self.wh += self.power() * ticks_diff(now, self._t) / 3600000
        self._t = now

    def power(self):
        return self.rated if self.relay and self.plugged and self.ev_ready else 0

    def state(self):
        """What survives a kill of the simulator: the hardware is not the charge point."""
        self.tick()
        return [self.plugged, self.ev_ready, self.fault, self.wh,
                int(time.time()) if self.power() else None]

    def restore(self, st):
        self.plugged, self.ev_ready, self.fault, self.wh, since = st
        if since is not None:  # the EV drew current until the relay dropped with the power
            self.wh += self.rated * max(0, int(time.time()) - since) / 3600


def parse_args(argv):
    opts = {"--connectors": "2", "--power": "11000", "--state": None, "--auth-key": None, "--ca": None}
    i = 1
    while i < len(argv):
        if argv[i] not in opts and argv[i] not in ("--url", "--id") or i + 1 >= len(argv):
            raise SystemExit("usage: sim.py --url URL --id ID [--connectors N] [--state DIR] "
                             "[--auth-key KEY] [--ca FILE] [--power W]")
        opts[argv[i]] = argv[i + 1]
        i += 2
    if "--url" not in opts or "--id" not in opts:
        raise SystemExit("sim.py: --url and --id are required")
    return opts


class Sim:
    def __init__(self, opts):
        self.opts = opts
        self.hw = [Hardware(int(opts["--power"])) for _ in range(int(opts["--connectors"]) + 1)]
        self.reboot = False
        self.store = Store(opts["--state"] or "state/" + opts["--id"])
        for hw, st in zip(self.hw, self.store.load("simhw.json", ())):
            hw.restore(st)
        self.boot()

    def save_hw(self):
        self.store.save("simhw.json", [hw.state() for hw in self.hw])

    def boot(self):
        o = self.opts
        url = o["--url"].rstrip("/") + "/" + o["--id"]
        ws = WebSocket(url, ca=o["--ca"], log=log)
        store = self.store
        if o["--auth-key"] is not None and not store.read("config.json"):
            store.save("config.json", {"AuthorizationKey": o["--auth-key"]})
        cp = self.cp = ChargePoint(o["--id"], Tap(ws), store, connectors=len(self.hw) - 1,
                                   vendor="mpy_ocpp", model="sim", profiles=profiles(),
                                   firmwareVersion="sim-1")
        cp.on_reset = self.on_reset
        cp.on_data_transfer = lambda vendor, msg, data: ("Accepted", data)

        def install(path):  # a simulated install: say what would be flashed
            with open(path, "rb") as f:
                log("firmware: installing %s, %d bytes" % (path, len(f.read())))
            return True
        if cp.firmware:
            cp.firmware.install = install
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
            c.on_unlock = lambda: True

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
        w = line.split()
        if not w:
            return True
        cmd, args = w[0], w[1:]
        try:
            hw = self.hw[int(args[0])] if args and cmd != "wait" else None
            if cmd == "plug":
                hw.plugged = True
            elif cmd == "unplug":
                hw.plugged = False
            elif cmd == "tag":
                self.cp.tag(int(args[0]), args[1])
            elif cmd == "evready":
                hw.tick()
                hw.ev_ready = args[1] == "1"
            elif cmd == "fault":
                hw.fault = None if args[1] == "NoError" else args[1]
            elif cmd == "status":
                out(json.dumps(self.status()))
            elif cmd == "quit":
                return False
            elif cmd != "wait":
                log("unknown command: " + line.strip())
            if hw is not None:
                self.save_hw()
        except (IndexError, ValueError):
            log("bad command: " + line.strip())
        return True

    def status(self):
        cs = []
        for c, hw in zip(self.cp.connectors, self.hw):
            cs.append({"id": c.id, "status": c.status, "plugged": hw.plugged, "ev_ready": hw.ev_ready,
                       "relay": hw.relay, "energy_wh": int(hw.wh), "power_w": hw.power(),
                       "transaction": c.tx.id if c.tx else None, "limit": c.limit})
        return {"online": self.cp.online, "accepted": self.cp.accepted, "connectors": cs}


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


def main():
    sim = Sim(parse_args(sys.argv))
    lines = Lines()
    wait_until = None
    while True:
        sim.loop()
        if wait_until is not None:
            if ticks_diff(ticks_ms(), wait_until) < 0:
                time.sleep(0.005)  # the firmware's main loop may rest; loop() itself never does
                continue
            wait_until = None
        line = lines.next()
        if line is None:
            continue
        if not line:  # end of input: keep running until quit or a signal
            time.sleep(0.005)
        elif line.startswith("wait"):
            try:
                wait_until = ticks_add(ticks_ms(), int(float(line.split()[1]) * 1000))
            except (IndexError, ValueError):
                log("bad command: " + line.strip())
        elif not sim.command(line):
            break
    sim.cp.transport.close()

if __name__ == "__main__":
    main()
