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


@pytest.mark.parametrize("runtime", simproc.RUNTIMES)
def test_sigkill_and_csms_restarts_lose_nothing(runtime, csms, tmp_path):
    rnd = random.Random(1234 if runtime == "cpython" else 4321)
    state = str(tmp_path / "state")
    sim = simproc.Sim(runtime, csms.url, state)
    csms.wait_action("CP_1", "BootNotification")
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
            sim = simproc.Sim(runtime, csms.url, state)
        else:
            time.sleep(0.5)
    sim.cmd("unplug 1", "unplug 2")
    _wait_settled(csms, state)
    time.sleep(1)
    sim.stop()
    txs = [t for _, t in sorted(csms.transactions.items())]
    assert kills >= 3 and restarts == 2 and txs
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
