# Offline-first transactions, plain asserts: run on MicroPython by tools/mptest.py and on
# CPython by pytest. The end-to-end proof is tests_host/test_powercut.py and test_sigkill.py.
import json
import os
import time

from mpy_ocpp import ChargePoint, clock
from mpy_ocpp.compat import ticks_diff, ticks_ms
from mpy_ocpp.store import Store
from tests_host.mpy.fakes import Link, state_dir


def _dir():
    return state_dir("journal")


class Csms:
    """Answers the calls the charge point sends over a Link, like a patient CSMS."""

    def __init__(self, link):
        self.link = link
        self.tx = 100
        self.answers = {}  # action -> payload, None (CALLERROR) or "silent"

    def step(self, cp):
        cp.loop()
        p = cp.pending
        if p is None or not self.link.online:
            return
        action = p[1][1]
        res = self.answers.get(action, 0)
        if res == "silent":
            return
        if res == 0:
            res = self.default(action, p[1][2])
        if res is None:
            self.link.inbox.append(json.dumps([4, p[0], "InternalError", "", {}]))
        else:
            self.link.inbox.append(json.dumps([3, p[0], res]))
        cp.loop()

    def default(self, action, payload):
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": clock.iso(clock.now()), "interval": 300}
        if action == "StartTransaction":
            self.tx += 1
            return {"transactionId": self.tx, "idTagInfo": {"status": "Accepted"}}
        if action in ("Authorize", "StopTransaction"):
            return {"idTagInfo": {"status": "Accepted"}}
        return {}

    def run(self, cp, n=30):
        for _ in range(n):
            self.step(cp)


def _calls(link, action):
    return [m[3] for m in link.sent if m[0] == 2 and m[2] == action]


def _charger(state=None, link=None, **kw):
    link = link or Link()
    cp = ChargePoint("CP_1", link, Store(state or _dir()), connectors=2, **kw)
    hw = {"plugged": {1: False, 2: False}, "wh": {1: 10, 2: 20}}
    for cid in (1, 2):
        c = cp.connectors[cid]
        c.plugged = (lambda i: lambda: hw["plugged"][i])(cid)
        c.energy = (lambda i: lambda: hw["wh"][i])(cid)
    return cp, link, hw


def _online(**kw):
    cp, link, hw = _charger(**kw)
    csms = Csms(link)
    csms.run(cp)
    assert cp.accepted
    return cp, link, hw, csms


def test_retry_schedule_waits_n_times_the_interval_and_survives_a_reboot():
    cp, link, hw, csms = _online()
    cp.config.change("TransactionMessageAttempts", "3")
    cp.config.change("TransactionMessageRetryInterval", "1")
    csms.answers["StartTransaction"] = None
    hw["plugged"][1] = True
    cp.connectors[1].begin("A")
    t0 = ticks_ms()
    while len(_calls(link, "StartTransaction")) < 2:
        csms.step(cp)
        assert ticks_diff(ticks_ms(), t0) < 3000
    assert ticks_diff(ticks_ms(), t0) >= 1000  # attempt 2 waited 1 × interval
    csms.step(cp)  # attempt 2 refused too: tries = 2, attempt 3 due in 2 × interval
    state = cp.store.path
    cp2, link2, hw2 = _charger(state)  # power cut
    tx = cp2.journal.txs[0]
    assert tx.tries == 2 and tx.due > clock.now()
    hw2["plugged"][1] = True
    csms2 = Csms(link2)
    csms2.answers["StartTransaction"] = None
    t1 = ticks_ms()
    while cp2.journal.txs:
        csms2.step(cp2)
        assert ticks_diff(ticks_ms(), t1) < 4000
    assert ticks_diff(ticks_ms(), t1) >= 1000  # still waited after the reboot
    assert len(_calls(link2, "StartTransaction")) == 1  # the third and last attempt
    assert cp2.connectors[1].tx is None  # given up: the charge stops


def test_offline_authorization_keys():
    cp, link, hw, csms = _online()
    hw["plugged"][1] = hw["plugged"][2] = True
    cp.remember("KNOWN", {"status": "Accepted"})
    link.online = False
    cp.loop()
    cp.config.change("LocalAuthorizeOffline", "false")
    cp.tag(1, "KNOWN")
    cp.loop()
    assert cp.connectors[1].tx is None
    cp.config.change("LocalAuthorizeOffline", "true")
    cp.tag(1, "KNOWN")
    cp.loop()
    assert cp.connectors[1].tx is not None
    cp.tag(2, "STRANGER")
    cp.loop()
    assert cp.connectors[2].tx is None
    cp.config.change("AllowOfflineTxForUnknownId", "true")
    cp.tag(2, "STRANGER")
    cp.loop()
    assert cp.connectors[2].tx is not None


def test_local_pre_authorize_starts_without_asking():
    cp, link, hw, csms = _online()
    hw["plugged"][1] = True
    cp.remember("KNOWN", {"status": "Accepted"})
    cp.config.change("LocalPreAuthorize", "true")
    cp.tag(1, "KNOWN")
    csms.run(cp)
    assert cp.connectors[1].tx is not None and not _calls(link, "Authorize")


def test_silent_csms_authorize_times_out_into_the_offline_rules():
    cp, link, hw, csms = _online(auth_timeout=1)
    hw["plugged"][1] = True
    cp.config.change("AllowOfflineTxForUnknownId", "true")
    csms.answers["Authorize"] = "silent"
    cp.tag(1, "NEW")
    t0 = ticks_ms()
    while cp.connectors[1].tx is None:
        csms.step(cp)
        assert ticks_diff(ticks_ms(), t0) < 3000
    assert ticks_diff(ticks_ms(), t0) >= 1000 and _calls(link, "Authorize")


def test_silent_csms_never_costs_a_transaction_message_an_attempt():
    # §4.10 counts error answers; a timeout is none: the link is made again and the message
    # goes again on it, however long the CSMS stays silent (issue 9)
    cp, link, hw, csms = _online(call_timeout=1)
    cp.config.change("TransactionMessageAttempts", "1")  # one error answer would end it
    links = []
    link.connect = lambda user, password: links.append(user)
    for action in ("StartTransaction", "StopTransaction"):
        csms.answers[action] = "silent"
    hw["plugged"][1] = True
    cp.connectors[1].begin("A")
    t0 = ticks_ms()
    while len(_calls(link, "StartTransaction")) < 3:
        csms.step(cp)
        assert ticks_diff(ticks_ms(), t0) < 6000
    tx = cp.connectors[1].tx
    assert tx is not None and tx.tries == 0 and not tx.lost and tx.msgs[0][1] == "StartTransaction"
    assert len(links) >= 2  # each silence: a new link
    cp.connectors[1].end()
    while len(_calls(link, "StartTransaction")) < 4:
        csms.step(cp)
        assert ticks_diff(ticks_ms(), t0) < 9000
    del csms.answers["StartTransaction"]
    while tx.id is None:
        csms.step(cp)
        assert ticks_diff(ticks_ms(), t0) < 12000
    n = len(_calls(link, "StopTransaction"))
    while len(_calls(link, "StopTransaction")) < n + 2:  # the Stop is silent twice as well
        csms.step(cp)
        assert ticks_diff(ticks_ms(), t0) < 16000
    assert tx.tries == 0 and cp.journal.txs == [tx] and tx.msgs[0][1] == "StopTransaction"
    del csms.answers["StopTransaction"]
    csms.run(cp, 5)
    assert cp.journal.txs == [] and _calls(link, "StopTransaction")[-1]["transactionId"] == tx.id
    # an error answer still counts: the one attempt is used up
    hw["plugged"][2] = True
    csms.answers["StartTransaction"] = None
    cp.connectors[2].begin("B")
    csms.run(cp, 10)
    assert cp.connectors[2].tx is None and cp.journal.txs == []


def test_offline_meter_values_bounded_newest_kept_and_sent_with_the_id():
    cp, link, hw, csms = _online()
    hw["plugged"][1] = True
    link.online = False
    cp.loop()
    cp.config.change("AllowOfflineTxForUnknownId", "true")
    cp.tag(1, "A")
    cp.loop()
    c = cp.connectors[1]
    for i in range(10):
        hw["wh"][1] = 100 + i
        c.sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")
    assert [m[1] for m in c.tx.msgs].count("MeterValues") == 6
    link.online = True
    csms.run(cp, 40)
    mvs = _calls(link, "MeterValues")
    assert [int(m["meterValue"][0]["sampledValue"][0]["value"]) for m in mvs] == list(range(104, 110))
    assert {m["transactionId"] for m in mvs} == {csms.tx}


def test_full_journal_refuses_or_charges_unreported_when_allowed():
    cp, link, hw, csms = _online(journal_size=1)
    refused = []
    cp.on_authorize = lambda cid, tag, status: refused.append(status)
    hw["plugged"][1] = True
    link.online = False
    cp.loop()
    cp.config.change("AllowOfflineTxForUnknownId", "true")
    cp.tag(1, "A")
    cp.loop()
    cp.tag(1, "A")  # stopped, but not yet reported: the record stays
    cp.loop()
    cp.tag(1, "B")
    cp.loop()
    assert cp.connectors[1].tx is None and refused[-1] == "JournalFull"
    cp.config.change("AllowChargingWhenJournalFull", "true")
    cp.tag(1, "B")
    cp.loop()
    c = cp.connectors[1]
    assert c.tx is not None and c.permitted and c.tx.unreported
    cp.tag(1, "B")
    cp.loop()
    link.online = True
    csms.run(cp, 40)
    assert [s["idTag"] for s in _calls(link, "StartTransaction")] == ["A"]  # B never reported
    assert not cp.journal.txs


def test_corrupt_and_half_written_records_are_set_aside():
    cp, link, hw, csms = _online()
    hw["plugged"][1] = hw["plugged"][2] = True
    link.online = False
    cp.loop()
    cp.config.change("AllowOfflineTxForUnknownId", "true")
    cp.tag(1, "A")
    cp.tag(2, "B")
    cp.loop()
    store = cp.store
    store.write("tx7.json", b'[1, "garbage"')  # bit rot
    with open(store.path + "/tx8.json.tmp", "wb") as f:  # a cut while creating a record
        f.write(b'[2, "C", null, 3')
    store.write("tx9.json", b'{"a": 1}')  # valid JSON, not a record
    cp2, link2, hw2 = _charger(store.path)
    assert sorted(t.id_tag for t in cp2.journal.txs) == ["A", "B"]
    names = os.listdir(store.path)
    assert "tx7.json.bad" in names and "tx8.json.bad" in names and "tx9.json.bad" in names
    assert cp2.connectors[1].tx.id_tag == "A" and cp2.connectors[2].tx.id_tag == "B"


def test_reboot_resumes_a_running_transaction_or_stops_it_if_the_ev_left():
    cp, link, hw, csms = _online()
    hw["plugged"][1] = hw["plugged"][2] = True
    cp.tag(1, "A")
    cp.tag(2, "B")
    csms.run(cp, 40)
    assert cp.connectors[1].status == "Charging" and cp.connectors[2].status == "Charging"
    # power cut; while it is off the EV at connector 2 leaves
    cp2, link2, hw2 = _charger(cp.store.path)
    hw2["plugged"][1] = True
    hw2["wh"][2] = 25
    csms2 = Csms(link2)
    csms2.run(cp2, 40)
    st = {s["connectorId"]: s["status"] for s in _calls(link2, "StatusNotification")}
    assert st[1] == "Charging" and st[2] == "Available"
    stop = _calls(link2, "StopTransaction")
    assert len(stop) == 1 and stop[0]["reason"] == "PowerLoss" and stop[0]["meterStop"] == 25
    assert stop[0]["transactionId"] == cp.connectors[2].tx.id
    assert cp2.connectors[1].tx.id == cp.connectors[1].tx.id and cp2.connectors[1].permitted


def test_timestamps_taken_before_the_clock_is_known_are_fixed_when_sent():
    known, offset = clock.known, clock.offset
    try:
        clock.known = False
        clock.offset = -400000000  # an RTC years behind, as after a board's first power-up
        cp, link, hw = _charger()
        link.online = False
        hw["plugged"][1] = True
        cp.config.change("AllowOfflineTxForUnknownId", "true")
        cp.loop()
        cp.tag(1, "A")
        cp.loop()
        assert cp.connectors[1].tx.start[0] == "?"
        time.sleep(1)
        link.online = True
        csms = Csms(link)
        real = clock.iso(int(time.time()))  # the CSMS knows the time
        csms.answers["BootNotification"] = {"status": "Accepted", "currentTime": real, "interval": 300}
        csms.run(cp, 40)
        start = _calls(link, "StartTransaction")[0]
        t = clock.parse(start["timestamp"])
        assert start["timestamp"][0] != "?" and abs(t - (clock.parse(real) - 1)) <= 2
    finally:
        clock.known, clock.offset = known, offset
