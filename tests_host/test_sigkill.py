"""The real simulator process killed with SIGKILL at random moments, and the CSMS stopped and
restarted, over a run of charging sessions: in the end the CSMS has every transaction the
charger started exactly once, each stopped, with consistent meter values, and the charger's
journal is empty. On CPython and on the MicroPython unix port."""
import os
import random
import time

import pytest

from tests_host import simproc

SESSIONS = 8


def _wait_settled(csms, state, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        left = [n for n in os.listdir(state) if n.startswith("tx") and n.endswith(".json")]
        if not left and csms.connected("CP_1"):
            return
        time.sleep(0.1)
    raise AssertionError("journal never drained: %s" % os.listdir(state))


def _sessions(runtime, csms, state, rnd, **opts):
    """SESSIONS charging sessions, the simulator SIGKILLed at random and the CSMS restarted
    twice; -> (kills, restarts) once the journal has drained."""
    sim = simproc.Sim(runtime, csms.url, state, **opts)
    csms.wait_action("CP_1", "BootNotification")
    if opts:  # OCPP 2.0.1
        csms.call("CP_1", "SetVariables", {"setVariableData": [
            {"component": {"name": c}, "variable": {"name": v}, "attributeValue": x} for c, v, x in (
                ("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true"),
                ("SampledDataCtrlr", "TxUpdatedInterval", "1"))]})
    else:
        csms.call("CP_1", "ChangeConfiguration", {"key": "AllowOfflineTxForUnknownId", "value": "true"})
        csms.call("CP_1", "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"})
    kills = restarts = 0
    port = csms.port
    for n in range(SESSIONS):
        cid = 1 + n % 2
        tag = "T%d" % n
        sim.cmd("plug %d" % cid, "tag %d %s" % (cid, tag), "wait %.1f" % rnd.uniform(0.5, 1.5),
                "tag %d %s" % (cid, tag), "wait 0.2", "unplug %d" % cid)
        if n in (2, 5):
            time.sleep(rnd.uniform(0, 0.5))
            csms.stop()  # the CSMS goes away for a while
            restarts += 1
            time.sleep(rnd.uniform(0.2, 1.0))
            csms.start(port=port)
        time.sleep(rnd.uniform(0.1, 2.0))
        if rnd.random() < 0.6:
            sim.kill()  # SIGKILL: no shutdown of any kind
            kills += 1
            sim = simproc.Sim(runtime, csms.url, state, **opts)
        else:
            time.sleep(0.5)
    sim.cmd("unplug 1", "unplug 2")
    _wait_settled(csms, state)
    time.sleep(1)
    sim.stop()
    assert kills >= 3 and restarts == 2
    return kills, restarts


@pytest.mark.parametrize("runtime", simproc.RUNTIMES)
def test_sigkill_and_csms_restarts_lose_nothing(runtime, csms, tmp_path):
    rnd = random.Random(1234 if runtime == "cpython" else 4321)
    kills, restarts = _sessions(runtime, csms, str(tmp_path / "state"), rnd)
    txs = [t for _, t in sorted(csms.transactions.items())]
    assert txs
    tags = [t["start"]["idTag"] for t in txs]
    assert len(tags) == len(set(tags)), tags  # no transaction twice
    assert tags == sorted(tags, key=lambda t: int(t[1:]))  # in the order they happened
    for t in txs:
        assert t["stop"] is not None, t["start"]
        start, stop = t["start"]["meterStart"], t["stop"]["meterStop"]
        readings = [int(v["meterValue"][0]["sampledValue"][0]["value"]) for v in t["meter_values"]
                    if v["meterValue"][0]["sampledValue"][0]["measurand"] == "Energy.Active.Import.Register"]
        assert start <= stop and all(start <= r <= stop for r in readings), (t["start"], readings, stop)
    print("%s: %d sessions, %d SIGKILLs, %d CSMS restarts, %d transactions" % (
        runtime, SESSIONS, kills, restarts, len(txs)))
    assert csms.violations == []


@pytest.mark.parametrize("runtime", simproc.RUNTIMES)
def test_sigkill_201_events_once_in_seqno_order(runtime, csms_factory, tmp_path):
    # the same in OCPP 2.0.1: every transaction's TransactionEvents reach the CSMS, in seqNo
    # order without a gap (an event sent again after a kill that came before its answer was
    # saved is the same event, same seqNo), Started first and Ended last
    csms = csms_factory(versions=("ocpp2.0.1",))
    rnd = random.Random(99 if runtime == "cpython" else 77)
    _sessions(runtime, csms, str(tmp_path / "state"), rnd, ocpp="2.0.1")
    txs = list(csms.transactions.values())
    tags = [t["events"][0]["idToken"]["idToken"] for t in txs]
    assert len(tags) == len(set(tags)) and tags == sorted(tags, key=lambda t: int(t[1:])), tags
    for t in txs:
        events = {}
        for e in t["events"]:
            assert events.setdefault(e["seqNo"], e) == e, "seqNo %d used twice" % e["seqNo"]
        assert list(events) == list(range(len(events))), list(events)
        kinds = [e["eventType"] for e in events.values()]
        assert kinds[0] == "Started" and kinds[-1] == "Ended" and "Ended" not in kinds[:-1], kinds
    assert csms.violations == []
