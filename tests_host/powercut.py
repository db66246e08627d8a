"""Power-cut harness: a scripted 2-connector session against the real CSMS over a real
WebSocket, where the charge point can lose power at any step or in the middle of any file
write. A cut discards the ChargePoint without any shutdown; a new one is built over the same
state directory and the hardware (cables, meters) carries on, as on a real charger."""
import json
import os
import time

from mpy_ocpp import ChargePoint, ocpp16, ocpp201
from mpy_ocpp.store import Store
from mpy_ocpp.ws import WebSocket


class PowerCut(Exception):
    pass


class CuttingStore(Store):
    """Write number `cut_at` (counted over the whole run) is cut: half of the new file
    (`half`) or the whole new file without the rename, then the power goes."""

    def __init__(self, path, counter, cut_at, half):
        super().__init__(path)
        self.counter, self.cut_at, self.half = counter, cut_at, half

    def write(self, name, data):  # save() comes here too, with a document
        self.counter[0] += 1
        if self.counter[0] == self.cut_at:
            b = data if isinstance(data, bytes) else json.dumps(data).encode()
            with open(self._file(name) + ".tmp", "wb") as f:
                f.write(b[: len(b) // 2] if self.half else b)
            raise PowerCut("during write of " + name)
        return super().write(name, data)


class Gate:
    """The real WebSocket, with the CSMS made unreachable on demand."""

    def __init__(self, url, reachable, subprotocol):
        self.ws = WebSocket(url, subprotocol, backoff_min=0.05, backoff_max=0.2)
        self.reachable = reachable
        self.creds = (None, None)

    def connect(self, user, password):
        self.creds = (user, password)
        if self.reachable:
            self.ws.connect(user, password)

    @property
    def online(self):
        return self.reachable and self.ws.online

    @property
    def error(self):
        return self.ws.error if self.reachable else "CSMS unreachable"

    def poll(self):
        return self.ws.poll() if self.reachable else None

    def send(self, text):
        return self.reachable and self.ws.send(text)

    def close(self):
        self.ws.close()

    def set(self, reachable):
        self.reachable = reachable
        if reachable:
            self.ws.connect(*self.creds)
        else:
            self.ws.close()


class Rig:
    """The charger's hardware: it survives the charge point's power cuts."""

    def __init__(self):
        self.plugged = {1: False, 2: False}
        self.wh = {1: 1000, 2: 50000}
        self.relay = {1: False, 2: False}

    def wire(self, cp):
        for cid in (1, 2):
            c = cp.connectors[cid]
            c.plugged = (lambda i: lambda: self.plugged[i])(cid)
            c.energy = (lambda i: lambda: self.wh[i])(cid)
            c.on_permission = (lambda i: lambda on: self.relay.__setitem__(i, on))(cid)
        cp.on_reset = lambda hard: None

    def run(self):
        """Energy flows where the relay is closed (one step's worth)."""
        for cid in (1, 2):
            if self.relay[cid] and self.plugged[cid]:
                self.wh[cid] += 150


def _tx(cp, cid):
    return cp.connectors[cid].tx


# The session. Each step states an intent and is idempotent: after a cut during a step the
# step runs again, as a driver would present the card again.
STEPS = (
    ("plug 1", lambda s: s.plug(1, True)),
    ("card A at 1 (online)", lambda s: _tx(s.cp, 1) or s.cp.tag(1, "A")),
    ("charge", lambda s: s.rig.run()),
    ("sample 1", lambda s: _tx(s.cp, 1) and s.sample(1)),
    ("CSMS unreachable", lambda s: s.gate.set(False)),
    ("plug 2", lambda s: s.plug(2, True)),
    ("card B at 2 (offline)", lambda s: _tx(s.cp, 2) or s.cp.tag(2, "B")),
    ("charge", lambda s: s.rig.run()),
    ("sample 1", lambda s: _tx(s.cp, 1) and s.sample(1)),
    ("sample 2", lambda s: _tx(s.cp, 2) and s.sample(2)),
    ("card A at 1 again: stop (offline)", lambda s: s.stop(1, "A")),
    ("unplug 1", lambda s: s.plug(1, False)),
    ("plug 1", lambda s: s.plug(1, True)),
    ("card C at 1 (offline)", lambda s: s.start_new(1, "C")),
    ("charge", lambda s: s.rig.run()),
    ("sample 1", lambda s: _tx(s.cp, 1) and s.sample(1)),
    ("card B at 2 again: stop (offline)", lambda s: s.stop(2, "B")),
    ("unplug 2", lambda s: s.plug(2, False)),
    ("CSMS reachable", lambda s: s.gate.set(True)),
    ("charge", lambda s: s.rig.run()),
    ("card C at 1 again: stop (online)", lambda s: s.stop(1, "C")),
    ("unplug 1", lambda s: s.plug(1, False)),
)


class Session:
    def __init__(self, csms, state, cut_step=None, cut_write=None, half=True, version=ocpp16):
        self.csms, self.state, self.version = csms, state, version
        self.cut_step, self.cut_write, self.half = cut_step, cut_write, half
        self.writes = [0]
        self.rig = Rig()
        self.cuts = 0
        self.gate = None
        self.stopped = set()  # cards whose transaction the driver has ended
        self.started = set()

    def boot(self, reachable=True):
        if self.gate:
            self.gate.close()  # the old socket dies with the power (test hygiene only)
        self.gate = Gate(self.csms.url + "/CP_1", reachable, self.version.SUBPROTOCOL)
        store = CuttingStore(self.state, self.writes, self.cut_write, self.half)
        self.cp = ChargePoint("CP_1", self.gate, store, connectors=2, call_timeout=5,
                              versions=(self.version,))
        self.rig.wire(self.cp)

    def plug(self, cid, on):
        self.rig.plugged[cid] = on

    def sample(self, cid):
        self.cp.connectors[cid].sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")

    def stop(self, cid, card):
        self.stopped.add(card)
        tx = _tx(self.cp, cid)
        if tx and tx.id_tag == card:
            self.cp.tag(cid, card)

    def start_new(self, cid, card):
        if card not in self.started and not _tx(self.cp, cid):
            self.cp.tag(cid, card)

    def settle(self, seconds=5.0):
        """Run loop() until the charge point has nothing left to do, or for a moment offline."""
        end = time.monotonic() + seconds
        quiet = 0
        while time.monotonic() < end:
            self.cp.loop()
            cp = self.cp
            if not self.gate.reachable:
                quiet += 1
            elif (cp.accepted and not cp.queue and cp.pending is None and cp._txe is None
                  and not cp.journal.busy()):
                quiet += 1
            else:
                quiet = 0
            if quiet > 20:
                return
            time.sleep(0.0005)
        raise AssertionError("the charge point did not settle")

    def _guarded(self, fn):
        """Run fn; a power cut inside it reboots the charge point and runs fn again."""
        while True:
            try:
                fn()
                self.settle()
                return
            except PowerCut:
                self.cuts += 1
                self.boot(self.gate.reachable)

    def run(self):
        self._guarded(lambda: (self.boot(), self._first_boot()))
        for i, (name, step) in enumerate(STEPS):
            if i == self.cut_step:
                self.cuts += 1
                self.boot(self.gate.reachable)
            self._guarded(lambda: self._step(step))
        self.gate.set(True)
        self._guarded(lambda: None)
        self.settle(5)
        self.gate.close()
        return self

    def _first_boot(self):
        self.settle()
        self.cp.config.change("AllowOfflineTxForUnknownId", "true")
        self.cp.config.change("MeterValueSampleInterval", "0")  # samples are script steps

    def _step(self, step):
        step(self)
        for cid in (1, 2):
            tx = _tx(self.cp, cid)
            if tx:
                self.started.add(tx.id_tag)


def check(csms):
    """Every transaction exactly once, in order, with consistent meter values."""
    txs = [t for _, t in sorted(csms.transactions.items())]
    assert [(t["start"]["connectorId"], t["start"]["idTag"]) for t in txs] == [(1, "A"), (2, "B"), (1, "C")]
    for t in txs:
        assert t["stop"] is not None, t
        start, stop = t["start"]["meterStart"], t["stop"]["meterStop"]
        assert start <= stop
        readings = [int(v["meterValue"][0]["sampledValue"][0]["value"]) for v in t["meter_values"]]
        assert all(start <= r <= stop for r in readings), (start, readings, stop)
        assert readings == sorted(readings)
        for mv in t["stop"].get("transactionData", ()):
            assert start <= int(mv["sampledValue"][0]["value"]) <= stop
    assert csms.violations == []
    return txs


def check_201(csms):
    """check() for OCPP 2.0.1: every transaction's events reach the CSMS once, in seqNo order
    with no gap (a message sent again after a cut that came before its answer was saved is the
    same event with the same seqNo: the CSMS recognises it), Started first, Ended last."""
    txs = list(csms.transactions.values())
    assert [(t["events"][0]["evse"]["id"], t["events"][0]["idToken"]["idToken"]) for t in txs] == [
        (1, "A"), (2, "B"), (1, "C")]
    for t in txs:
        events = {}
        for e in t["events"]:
            if e["seqNo"] in events:
                assert events[e["seqNo"]] == e, "seqNo %d used twice" % e["seqNo"]
            else:
                events[e["seqNo"]] = e
        assert list(events) == list(range(len(events))), list(events)
        ev = list(events.values())
        assert [e["eventType"] for e in ev] == ["Started"] + ["Updated"] * (len(ev) - 2) + ["Ended"]
        wh = [[float(s["value"]) for m in e.get("meterValue", ()) for s in m["sampledValue"]] for e in ev]
        live = sum(wh[:-1], [])  # Ended holds the TxEndedMeasurands of the whole transaction
        assert live and live == sorted(live) and wh[-1] == sorted(wh[-1]), wh
        assert live[0] <= wh[-1][0] and wh[-1][-1] >= live[-1], wh
    assert csms.violations == []
    return txs


def writes_in_a_session(csms, state):
    """How many file writes a whole uncut session makes (the mid-write cut points)."""
    s = Session(csms, os.path.join(state, "count")).run()
    return s.writes[0]
