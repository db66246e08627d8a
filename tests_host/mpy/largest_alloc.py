# The largest single allocations the library makes while handling full-size messages, on
# MicroPython (the 32-bit wasm port through tools/wasm/run.mjs; the unix port runs it too).
# Automatic collection is off; each measured operation runs between two heap maps
# (micropython.mem_info(1)) printed between "BEGIN name" and "END name": a block in the second
# map that is not in the first is something the operation allocated (nothing is collected in
# between). tests_host/test_largest_alloc.py reads the maps; the blocks are 16 bytes on a
# 32-bit port. The messages come in as the transport hands them over (a bytearray of UTF-8:
# they are longer than its receive buffer; that buffer is not counted) and go out through a real WebSocket whose socket takes every byte at once.
# `#--- step` lines: run.mjs collects garbage between steps (the unix port has no steps: the
# lines are comments, and the maps still only differ by what the operation allocated).
import gc
import json
import micropython
import sys

gc.disable()


class _Stub:
    pass


for k in ("socket", "select"):  # the wasm port has neither: the Sink below needs no socket
    try:
        __import__(k)
    except ImportError:
        sys.modules[k] = _Stub()
from mpy_ocpp import (ChargePoint, firmware_management, local_auth_list, remote_trigger,  # noqa: E402
                      reservation, smart_charging)
from mpy_ocpp.store import Store  # noqa: E402
from mpy_ocpp.ws import WebSocket  # noqa: E402

print("WORD", 8 if sys.maxsize > 2 ** 32 else 4)
TAG = "04A2B3C4"


def received(doc):  # as the transport hands it over
    t = json.dumps(doc)
    return bytearray(t.encode()) if len(t) > 512 else t


class Sink(WebSocket):
    """A WebSocket online over a socket that takes every byte (no network on wasm)."""

    def connect(self, user=None, password=None):
        pass

    def poll(self):
        return None

    def go(self, on):
        self.online = on
        self._st = 4 if on else 0  # _OPEN / _OFF
        self._wr = self.take
        self.n = 0

    def take(self, mv):
        self.n += len(mv)  # bytes sent (a small int: no allocation)
        return len(mv)


def begin(name):
    print("BEGIN", name)
    micropython.mem_info(1)


def end(name):
    micropython.mem_info(1)
    print("END", name)


STATE = "/tmp/largest_alloc_state"  # emptied first: a fresh charge point
try:
    import os
    for n in os.listdir(STATE):
        os.remove(STATE + "/" + n)
except OSError:
    pass
ws = Sink("ws://csms.invalid/ocpp/CP_1")
cp = ChargePoint("CP_1", ws, Store(STATE), connectors=2,
                 profiles=(local_auth_list, reservation, smart_charging, remote_trigger,
                           firmware_management))
MEASURED = (("Energy.Active.Import.Register", (None,)), ("Power.Active.Import", ("L1", "L2", "L3")),
            ("Current.Import", ("L1", "L2", "L3")), ("Voltage", ("L1-N", "L2-N", "L3-N")),
            ("Frequency", (None,)), ("Power.Factor", (None,)), ("Temperature", (None,)),
            ("SoC", (None,)))


def reading():
    return 230.5


def energy():
    return 123456


for c in cp.connectors[1:]:
    c.plugged = lambda: True
    c.energy = energy
    for m, phases in MEASURED[1:]:
        for p in phases:
            c.measure(m, reading, p)
every = ",".join([m for m, _ in MEASURED])  # 8: MeterValuesSampledDataMaxLength
for k in ("MeterValuesSampledData", "StopTxnSampledData"):
    assert cp.config.change(k, every) == "Accepted", k
assert cp.config.change("AllowOfflineTxForUnknownId", "true") == "Accepted"
assert cp.config.change("MeterValueSampleInterval", "0") == "Accepted"
cp.accepted = True
ws.go(True)
text = None
#--- step
text = received([2, "g1", "GetConfiguration", {}])
#--- step
begin("GetConfiguration")
cp.receive(text)
end("GetConfiguration")
print("SENT GetConfiguration", ws.n)
#--- step
text = received([2, "l1", "SendLocalList", {"listVersion": 1, "updateType": "Full", "localAuthorizationList": [
    {"idTag": "%08X" % (0x04A20000 + i), "idTagInfo": {
        "status": "Accepted", "expiryDate": "2027-12-31T23:59:59Z", "parentIdTag": "GROUP%03d" % (i % 7)}}
    for i in range(50)]}])
print("SIZE SendLocalList", len(text))
#--- step
begin("SendLocalList")
cp.receive(text)
end("SendLocalList")
from mpy_ocpp.local_auth_list_calls import LocalList  # noqa: E402
print("LIST", cp.local_list, LocalList(cp).count)
#--- step
text = received([2, "s1", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {
    "chargingProfileId": 17, "stackLevel": 3, "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute", "validFrom": "2026-12-01T00:00:00Z",
    "validTo": "2027-12-01T00:00:00Z", "chargingSchedule": {
        "duration": 86400, "startSchedule": "2026-12-01T00:00:00Z", "chargingRateUnit": "W",
        "minChargingRate": 1380.5, "chargingSchedulePeriod": [
            {"startPeriod": 3600 * i, "limit": 11000.5 - 100 * i, "numberPhases": 3} for i in range(24)]}}}])
print("SIZE SetChargingProfile", len(text))
#--- step
begin("SetChargingProfile")
cp.receive(text)
end("SetChargingProfile")
print("PROFILES", len(cp.smart_charging.profiles))
#--- step
cp.pending = None
begin("MeterValues")
cp.connectors[2].sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")
cp._send_next(0)
end("MeterValues")
print("SENT MeterValues", cp.pending is not None)
#--- step
cp.pending = None
ws.go(False)  # the transaction runs offline: no answers needed, the journal keeps it all
cp.tag(1, TAG)
for _ in range(3):
    cp.loop()
for _ in range(3):
    cp.connectors[1].sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")
print("TX", cp.connectors[1].tx is not None)
#--- step
begin("StopTransaction")
cp.tag(1, TAG)  # the stop: the journal saves the transaction with its stop data
end("StopTransaction")
print("STOPPED", cp.connectors[1].tx is None)
print("JOURNAL", [(n, len(cp.store.read(n))) for n in cp.store.names("tx")])
