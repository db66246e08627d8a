# A flash write that fails (ENOSPC: the filesystem is full) never raises out of the library,
# loses nothing it can keep, and the CSMS gets the refusal status of what could not be stored.
# Plain asserts: run on MicroPython by tools/mptest.py and on CPython by pytest. The end-to-end
# proof against the real CSMS is tests_host/test_flash_full.py.
import json
import os

from mpy_ocpp import (ChargePoint, chargepoint, clock, config, connector, firmware_management,
                      firmware_management_calls, http,
                      journal, local_auth_list, local_auth_list_calls, reservation, smart_charging)
from mpy_ocpp import store as store_mod
from mpy_ocpp.store import Store
from tests_host.mpy.fakes import Link, state_dir

PROFILES = (local_auth_list, reservation, smart_charging, firmware_management)
_OPEN = open
_OS = os
LOG = []
# the *_calls modules: imported here, so that ChargePoint uses (and keeps) these (ocpp16.load)
_LOGGED = (store_mod, config, journal, connector, chargepoint, local_auth_list_calls, firmware_management_calls)


class _Failing:
    """A file on a full filesystem: a part of what is written lands, then ENOSPC."""

    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, data):
        self.f.write(data[:len(data) // 2])
        raise OSError(28)  # ENOSPC

    def seek(self, *a):
        return self.f.seek(*a)

    def close(self):
        self.f.close()


class Full:
    """The flash fills up after `room` more files opened for writing (None: never), for every
    module that writes files; `failed` counts the writes refused. undo() ends it; the log lines
    of the library go to LOG meanwhile."""

    MODS = (store_mod, local_auth_list_calls, firmware_management_calls, http)

    def __init__(self, room=0):
        self.room = room
        self.failed = 0
        for m in self.MODS:
            m.open = self.open
        self.logs = [m.log for m in _LOGGED]
        del LOG[:]
        for m in _LOGGED:
            m.log = lambda *a: LOG.append(" ".join([str(x) for x in a]))

    def open(self, path, mode="r"):
        f = _OPEN(path, mode)
        if "w" not in mode or self.room is None:
            return f
        if self.room > 0:
            self.room -= 1
            return f
        self.failed += 1
        return _Failing(f)

    def undo(self):
        for m in self.MODS:
            m.open = _OPEN
        for m, f in zip(_LOGGED, self.logs):
            m.log = f


def _lines(text):
    return [x for x in LOG if text in x]


def _files(d):
    return sorted(os.listdir(d))


def test_a_refused_write_keeps_the_old_document_and_no_tmp():
    d = state_dir("full")
    st = Store(d)
    assert st.save("a.json", {"v": 1}) is True
    full = Full()
    try:
        assert st.save("a.json", {"v": 2}) is False
        assert st.save("b.json", [1, 2, 3]) is False  # a first write: no file at all
        assert st.load("a.json") == {"v": 1} and st.load("b.json", "none") == "none"
        assert _files(d) == ["a.json"]  # no .tmp left to be read back at boot
        assert len(_lines("store: a.json not written")) == 1
        assert len(_lines("store: b.json not written")) == 1 and full.failed == 2
        full.room = None  # room again
        assert st.save("a.json", {"v": 3}) and st.save("b.json", [4])
        assert st.load("a.json") == {"v": 3} and st.load("b.json") == [4]
        assert _files(d) == ["a.json", "b.json"]
    finally:
        full.undo()


def test_no_memory_while_writing_keeps_the_old_document():
    d = state_dir("nomem")
    st = Store(d)
    assert st.save("a.json", {"v": 1}) is True
    real = store_mod.dump
    tries = []

    def tight(data, out, short):  # no free block for a piece longer than 64 characters
        tries.append(short)
        if short > 64:
            raise MemoryError
        real(data, out, short)
    store_mod.dump = tight
    try:
        assert st.save("a.json", {"v": 2, "w": "x" * 300}) is True and tries == [512, 64]
        assert st.load("a.json") == {"v": 2, "w": "x" * 300}

        def none(data, out, short):
            raise MemoryError
        store_mod.dump = none
        assert st.save("a.json", {"v": 3}) is False  # not even so: refused, nothing raised
        assert st.load("a.json") == {"v": 2, "w": "x" * 300} and _files(d) == ["a.json"]
        assert len(_lines("store: a.json not written")) == 1
    finally:
        store_mod.dump = real


class _NoRename:
    """littlefs can refuse a rename too (no block for its metadata)."""

    def rename(self, a, b):
        raise OSError(28)

    def remove(self, p):
        _OS.remove(p)

    def listdir(self, p):
        return _OS.listdir(p)

    def stat(self, p):
        return _OS.stat(p)


def test_a_refused_rename_answers_what_is_read_back():
    d = state_dir("full")
    st = Store(d)
    st.save("a.json", {"v": 1})
    full = Full(None)
    store_mod.os = _NoRename()
    try:
        # the old file goes (the FAT way), the complete .tmp is what read() gives: stored
        assert st.save("a.json", {"v": 2}) is True and st.load("a.json") == {"v": 2}
        assert st.save("a.json", {"v": 3}) is True and st.load("a.json") == {"v": 3}
        assert len(_lines("store: a.json not written")) == 2
    finally:
        store_mod.os = _OS
        full.undo()
    assert st.save("a.json", {"v": 4}) and _files(d) == ["a.json"] and st.load("a.json") == {"v": 4}


def _boot(d, link):
    cp = ChargePoint("CP_1", link, Store(d), connectors=2, profiles=PROFILES)
    hw = {"plugged": {1: False, 2: False}, "wh": {1: 10, 2: 20}}
    for cid in (1, 2):
        c = cp.connectors[cid]
        c.plugged = (lambda i: lambda: hw["plugged"][i])(cid)
        c.energy = (lambda i: lambda: hw["wh"][i])(cid)
    cp.events = []
    cp.on_authorize = lambda cid, tag, status: cp.events.append((cid, tag, status))
    return cp, hw


class Csms:
    """Answers the charge point's calls over the Link and asks it things."""

    def __init__(self, link):
        self.link = link
        self.tx = 100
        self.n = 0

    def run(self, cp, n=20):
        for _ in range(n):
            cp.loop()
            p = cp.pending
            if p is None:
                continue
            action = p[1][1]
            res = {}
            if action == "BootNotification":
                res = {"status": "Accepted", "currentTime": clock.iso(clock.now()), "interval": 300}
            elif action == "StartTransaction":
                self.tx += 1
                res = {"transactionId": self.tx, "idTagInfo": {"status": "Accepted"}}
            elif action in ("Authorize", "StopTransaction"):
                res = {"idTagInfo": {"status": "Accepted"}}
            self.link.inbox.append(json.dumps([3, p[0], res]))

    def ask(self, cp, action, payload):
        self.n += 1
        mid = "q%d" % self.n
        self.link.inbox.append(json.dumps([2, mid, action, payload]))
        while self.link.inbox:
            cp.loop()
        for m in self.link.sent:
            if m[1] == mid:
                assert m[0] == 3, m
                return m[2]
        raise AssertionError("no answer to " + action)

    def calls(self, action):
        return [m[3] for m in self.link.sent if m[0] == 2 and m[2] == action]


def _requests(cp, csms, rid, avail="Inoperative"):
    """The CSMS asks for a change of every kind of stored state; the statuses."""
    exp = clock.iso(clock.now() + 3600)
    prof = {"chargingProfileId": rid, "stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile",
            "chargingProfileKind": "Absolute", "chargingSchedule": {
                "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}}
    ask = csms.ask
    return [
        ask(cp, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"})["status"],
        ask(cp, "ChangeConfiguration", {"key": "AuthorizationKey", "value": "k" * 32})["status"],
        ask(cp, "SendLocalList", {"listVersion": rid, "updateType": "Full", "localAuthorizationList": [
            {"idTag": "L", "idTagInfo": {"status": "Accepted"}}]})["status"],
        ask(cp, "ReserveNow", {"connectorId": 2, "expiryDate": exp, "idTag": "R", "reservationId": rid})["status"],
        ask(cp, "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": prof})["status"],
        ask(cp, "ChangeAvailability", {"connectorId": 2, "type": avail})["status"],
    ]


def test_a_full_flash_from_the_first_write_then_room_again():
    d = state_dir("full")
    Store(d).save("config.json", {"AuthorizationKey": "f" * 32})  # boot writes secret.json
    full = Full()
    try:
        link = Link()
        cp, hw = _boot(d, link)  # no exception from the constructor
        assert _lines("store: secret.json not written")
        assert cp.config["AuthorizationKey"] == "f" * 32
        csms = Csms(link)
        csms.run(cp)
        assert cp.accepted
        # a transaction whose StartTransaction cannot be written is refused like a full journal
        hw["plugged"][1] = True
        assert cp.tag(1, "A")
        csms.run(cp)
        assert cp.events == [(1, "A", "Accepted"), (1, "A", "JournalFull")]
        assert cp.connectors[1].tx is None and not cp.connectors[1].permitted
        assert cp.journal.txs == [] and csms.calls("StartTransaction") == []
        assert _lines("store: tx1.json not written") and _lines("transaction refused, the journal is full")
        # what the CSMS asks to store is refused, and nothing changes
        assert _requests(cp, csms, 5) == ["Rejected", "Rejected", "Failed", "Rejected", "Rejected", "Rejected"]
        v = cp.config
        assert v["HeartbeatInterval"] == 300 and v["AuthorizationKey"] == "f" * 32
        assert cp.local_list is None
        assert cp.reservation is None and cp.smart_charging is None
        assert cp.connectors[2].available
        # no diagnostics file can be made: none is announced, no part of one stays
        assert csms.ask(cp, "GetDiagnostics", {"location": "http://127.0.0.1:1/"}) == {}
        assert len(_lines("diagnostics hook failed")) == 1
        assert [n for n in _files(d) if n.endswith(".txt") or n.endswith(".tmp")] == []
        # one log line per refused write (the diagnostics one above)
        assert len(_lines("not written")) == full.failed - 1
        csms.run(cp)
        # the owner allows charging when the journal cannot take it: charged and reported while powered
        v.values["AllowChargingWhenJournalFull"] = True
        cp.tag(1, "A")
        csms.run(cp)
        tx = cp.connectors[1].tx
        assert tx and tx.id == 101 and cp.connectors[1].permitted
        cp.connectors[1].sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")
        cp.tag(1, "A")
        csms.run(cp)
        assert len(csms.calls("StartTransaction")) == 1 and len(csms.calls("StopTransaction")) == 1
        assert len(csms.calls("MeterValues")) == 1 and cp.journal.txs == []
        assert "tx1.json" not in _files(d) and "tx2.json" not in _files(d)
        assert len(_lines("not written")) == full.failed - 1
        v.values["AllowChargingWhenJournalFull"] = False
        # room again: the same requests are stored
        full.room = None
        assert _requests(cp, csms, 6, "Operative") == ["Accepted"] * 6  # (a reservation ends when Inoperative)
        assert cp.config["AuthorizationKey"] == "k" * 32 and local_auth_list_calls.lookup(cp, "L")
        assert len(cp.reservation.items) == 1 and len(cp.smart_charging.profiles) == 1
        csms.run(cp)
        hw["plugged"][1] = False
        csms.run(cp)
        hw["plugged"][1] = True
        cp.tag(1, "B")
        csms.run(cp)
        assert cp.connectors[1].tx.id == 102 and "tx3.json" in _files(d)
    finally:
        full.undo()
    link2 = Link()
    cp2, hw2 = _boot(d, link2)  # what was stored is what the CSMS was told
    assert cp2.config["HeartbeatInterval"] == 60 and cp2.config["AuthorizationKey"] == "k" * 32
    assert cp2.local_list == 6 and len(cp2.reservation.items) == 1
    assert "availability.json" in _files(d) and len(cp2.smart_charging.profiles) == 1
    assert [t.id for t in cp2.journal.txs] == [102]


def test_the_flash_fills_during_a_transaction():
    link = Link()
    d = state_dir("full")
    cp, hw = _boot(d, link)
    csms = Csms(link)
    csms.run(cp)
    hw["plugged"][1] = True
    cp.tag(1, "A")
    csms.run(cp)
    assert cp.connectors[1].tx.id == 101
    full = Full()
    try:
        c = cp.connectors[1]
        for _ in range(3):  # MeterValues: sent, not stored
            hw["wh"][1] += 100
            c.sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")
            csms.run(cp, 5)
        link.online = False  # offline too: kept in RAM until the link is back
        cp.loop()
        hw["wh"][1] += 100
        c.sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")
        cp.tag(1, "A")
        cp.loop()
        assert c.tx is None and len(cp.journal.txs) == 1
        link.online = True
        csms.run(cp, 40)
        assert len(csms.calls("StartTransaction")) == 1
        stops = csms.calls("StopTransaction")
        assert len(stops) == 1 and stops[0]["meterStop"] == 410 and stops[0]["transactionId"] == 101
        assert len(csms.calls("MeterValues")) == 4 and cp.journal.txs == []
        assert full.failed >= 5 and len(_lines("not written")) == full.failed
        assert "tx1.json" not in _files(d)  # a stopped transaction's record goes all the same
    finally:
        full.undo()


def test_firmware_download_and_install_record_on_a_full_flash():
    from tests_host.mpy.test_http_mp import DATA, Server

    srv = Server()
    srv.routes["/fw.bin"] = ("len", DATA)
    link = Link()
    d = state_dir("full")
    cp, hw = _boot(d, link)
    csms = Csms(link)
    csms.run(cp)
    f = cp.firmware
    installs = []
    f.install = lambda path: installs.append(path) or True
    full = Full()

    def statuses():
        return [m["status"] for m in csms.calls("FirmwareStatusNotification")]

    def until(done):
        for _ in range(3000):
            srv.step()
            csms.run(cp, 1)
            if done():
                return
        raise AssertionError(statuses())
    try:
        at = clock.iso(clock.now())
        csms.ask(cp, "UpdateFirmware", {"location": srv.url("/fw.bin"), "retrieveDate": at, "retries": 0})
        until(lambda: "DownloadFailed" in statuses())  # the image cannot be written
        assert statuses() == ["Downloading", "DownloadFailed"] and installs == []
        assert _lines("store: firmware.json not written")
        full.room = 3  # firmware.json "get" twice and the image, then full: no "install" record
        csms.ask(cp, "UpdateFirmware", {"location": srv.url("/fw.bin"), "retrieveDate": at, "retries": 0})
        until(lambda: "InstallationFailed" in statuses())
        # a reboot would not know the image was installed: it is not (no reinstall loop)
        assert statuses()[2:] == ["Downloading", "Downloaded", "InstallationFailed"] and installs == []
        assert [n for n in _files(d) if n.startswith("firmware.bin")] == [] and not f.installing
    finally:
        full.undo()
        srv.close()
