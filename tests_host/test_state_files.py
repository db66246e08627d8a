"""State files against the real CSMS (tools/csms.py, Basic auth: Security Profile 1) over a
real WebSocket, in-process on CPython: every file the library persists is bad at once (a
wrong shape, wrong types, cut short, garbage), the charger boots with no exception, one log
line per file set aside, connects with its AuthorizationKey from the copy that survived and
runs a session. A started transaction whose record (or the index of started transactions)
is damaged gets exactly one StopTransaction. The boards' own state file (the Pico W's
slot.json) is checked too. The same checks on both runtimes: tests_host/mpy/test_state_files_mp.py."""
import json
import os
import threading
import time

import pytest

from mpy_ocpp import ChargePoint
from mpy_ocpp.store import Store
from mpy_ocpp.ws import WebSocket
from tests_host.mpy.test_state_files_mp import CASES, GARBAGE, KEY, PROFILES

KEY2 = "fedcba9876543210fedcba9876543210"
TYPES = {  # a wrong type inside the right shape, per file (config.json: the key is dropped)
    "config.json": {"HeartbeatInterval": 5},
    "secret.json": {"#": 1, "AuthorizationKey": 5},
    "availability.json": [True, "x"],
    "authcache.json": [["A", "Accepted", "never", None]],
    "reservations.json": [["1", 1, "A", None, 5]],
    "smart_charging.json": [[1, 0, 0, 0, 0, 0, None, None, 100, None, "no", None, [[0, 160, None]], None]],
    "firmware.json": ["get", 5, 0, 1, 1],
    "started.json": [["1", 5, 1, "A", 10]],
    "secevents.json": [["ResetOrReboot", 5, None]],
}


def bad(name, kind):
    good, bads = [(g, b) for n, g, b in CASES if n == name][0]
    if kind == "shape":
        return bads[0]
    if kind == "types":
        if name == "tx1.json":
            return json.dumps(json.loads(good)[:9] + [None] + json.loads(good)[10:]).encode()  # seq
        if name == "locallist.bin":
            return bads[0]  # a status byte out of range
        return json.dumps(TYPES[name]).encode()
    return good[:len(good) // 2] if kind == "truncated" else GARBAGE[1]


class Charger:
    """A ChargePoint over a real WebSocket with simulated cables and meters."""

    def __init__(self, csms, state):
        self.ws = WebSocket(csms.url + "/CP_1", backoff_min=0.05, backoff_max=0.2)
        self.cp = cp = ChargePoint("CP_1", self.ws, Store(state), connectors=2, profiles=PROFILES)
        self.plugged = {1: False, 2: False}
        for cid in (1, 2):
            c = cp.connectors[cid]
            c.plugged = (lambda i: lambda: self.plugged[i])(cid)
            c.energy = (lambda i: lambda: 1000 * i)(cid)

    def run(self, until, seconds=10):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.cp.loop()
            if until():
                return
            time.sleep(0.001)
        raise AssertionError("not reached in %s s" % seconds)

    def settle(self, seconds=0.5):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.cp.loop()
            time.sleep(0.001)

    def start(self, cid=1, tag="A"):
        self.plugged[cid] = True
        self.cp.tag(cid, tag)
        self.run(lambda: self.cp.connectors[cid].tx and self.cp.connectors[cid].tx.id)
        return self.cp.connectors[cid].tx.id

    def off(self):
        self.ws.close()  # the socket dies with the power (test hygiene only)


def accepted_with(csms, key):
    hs = [h for h in csms.handshakes if h["accepted"]]
    return hs and hs[-1]["user"] == "CP_1" and hs[-1]["password"] == key.encode()


@pytest.mark.parametrize("survivor", ["secret.json", "config.json"])
@pytest.mark.parametrize("kind", ["shape", "types", "truncated", "garbage"])
def test_every_file_bad_then_a_session_with_the_key(csms_factory, tmp_path, capsys, kind, survivor):
    csms = csms_factory(auth={"CP_1": KEY})
    st = Store(str(tmp_path))
    st.save(survivor, {"#": 1, "AuthorizationKey": KEY})
    names = [n for n, _, _ in CASES if n != survivor]
    for n in names:
        st.write(n, bad(n, kind))
    capsys.readouterr()
    ch = Charger(csms, str(tmp_path))
    ch.run(lambda: ch.cp.accepted)
    assert accepted_with(csms, KEY)
    tid = ch.start()
    ch.cp.tag(1, "A")
    ch.run(lambda: csms.transactions[tid]["stop"] is not None and not ch.cp.journal.txs)
    ch.settle()
    ch.off()
    assert csms.transactions[tid]["stops"] == 1 and csms.violations == []
    log = capsys.readouterr().err
    assert "Traceback" not in log
    set_aside = sorted(n[:-4] for n in os.listdir(tmp_path) if n.endswith(".bad"))
    expected = sorted(n for n in names if not (kind == "types" and n == "config.json"))
    assert set_aside == expected
    for n in expected:
        assert log.count("store: %s is corrupt" % n) == 1, (n, log)
    if kind == "types" and survivor != "config.json":
        assert log.count("config: stored HeartbeatInterval ignored") == 1
    # both copies of the key are whole again
    assert st.load("secret.json") == {"#": 1, "AuthorizationKey": KEY}
    assert st.load("config.json")["AuthorizationKey"] == KEY


@pytest.mark.parametrize("damage", ["config.json", "secret.json"])
def test_a_key_set_by_the_csms_survives_a_corrupt_file(csms_factory, tmp_path, damage):
    csms = csms_factory(auth={"CP_1": KEY})
    Store(str(tmp_path)).save("config.json", {"AuthorizationKey": KEY})  # as boards/main.py seeds it
    ch = Charger(csms, str(tmp_path))
    ch.run(lambda: ch.cp.accepted)
    csms.auth["CP_1"] = KEY2
    answer = []
    t = threading.Thread(target=lambda: answer.append(csms.call(
        "CP_1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": KEY2})))
    t.start()
    ch.run(lambda: answer and accepted_with(csms, KEY2) and ch.cp.online)
    t.join()
    assert answer == [{"status": "Accepted"}]
    ch.off()
    Store(str(tmp_path)).write(damage, b"\x00garbage")
    ch = Charger(csms, str(tmp_path))
    ch.run(lambda: ch.cp.accepted)
    assert accepted_with(csms, KEY2)
    ch.off()
    assert csms.violations == []


@pytest.mark.parametrize("damage", ["garbage", "missing", "shape", "types"])
def test_a_damaged_record_of_a_started_transaction_gets_exactly_one_stop(csms, tmp_path, damage):
    ch = Charger(csms, str(tmp_path))
    ch.run(lambda: ch.cp.accepted)
    tid = ch.start()
    ch.off()  # the power goes while charging, and the record is damaged
    if damage == "missing":
        os.remove(tmp_path / "tx1.json")
    else:
        Store(str(tmp_path)).write("tx1.json", bad("tx1.json", damage))
    ch = Charger(csms, str(tmp_path))
    ch.plugged[1] = True
    ch.run(lambda: csms.transactions[tid]["stop"] is not None and not ch.cp.journal.txs)
    ch.settle()
    ch.off()
    t = csms.transactions[tid]
    assert t["stops"] == 1 and len(csms.transactions) == 1 and t["starts"] == 1
    assert t["stop"]["meterStop"] == t["start"]["meterStart"] and t["stop"]["reason"] == "Other"
    assert Store(str(tmp_path)).load("started.json") == []
    assert csms.violations == []


@pytest.mark.parametrize("damage", ["garbage", "missing", "shape", "types"])
def test_a_damaged_index_still_gives_exactly_one_stop(csms, tmp_path, damage):
    ch = Charger(csms, str(tmp_path))
    ch.run(lambda: ch.cp.accepted)
    tid = ch.start()
    ch.off()
    if damage == "missing":
        os.remove(tmp_path / "started.json")
    else:
        Store(str(tmp_path)).write("started.json", bad("started.json", damage))
    ch = Charger(csms, str(tmp_path))
    ch.plugged[1] = True
    ch.run(lambda: ch.cp.online and ch.cp.connectors[1].tx and ch.cp.connectors[1].status == "Charging")
    ch.cp.tag(1, "A")
    ch.run(lambda: csms.transactions[tid]["stop"] is not None and not ch.cp.journal.txs)
    ch.settle()
    ch.off()
    t = csms.transactions[tid]
    assert t["stops"] == 1 and t["starts"] == 1 and t["stop"]["reason"] == "Local"
    assert Store(str(tmp_path)).load("started.json") == []
    assert csms.violations == []


# the boards' state files (CPython with the stubbed machine module)


@pytest.mark.parametrize("doc", [b"[]", b"5", b'{"run": 5}', b'{"run": "../x"}', b'{"new": ["a"]}',
                                 b'{"run": "a", "x": "b"}', b"\xff", b'{"run": "a"'])
def test_pico_w_bad_slot_file_runs_the_built_in_app(tmp_path, capsys, doc):
    from tests_host import boardsim  # noqa: F401  (stubs first on sys.path)
    from boards.pico_w import PicoW
    cfg = {"board": "pico_w", "app_dir": str(tmp_path / "app"), "state": str(tmp_path / "state")}
    Store(cfg["app_dir"]).write("slot.json", doc)
    capsys.readouterr()
    assert PicoW.chain(cfg, "config.json", None) is None
    assert os.listdir(tmp_path / "app") == ["slot.json.bad"]
    assert capsys.readouterr().err.count("slot.json is corrupt") == 1
