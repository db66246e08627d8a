"""Issue 9, the protocol end to end against tools/csms.py over a real WebSocket, on CPython and
on the MicroPython unix port: a CSMS that stops answering, an absurd currentTime, a
StartTransaction answer that contradicts the Local Authorization List, "any connector" around
reservations, reservations ending by clock changes and faults, TriggerMessage while Pending.
Unit tests on both runtimes: tests_host/mpy/test_hostile_mp.py, test_journal_mp.py,
test_local_auth_list_mp.py, test_reservation_mp.py, test_core_mp.py."""
import datetime
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests_host import simproc
from tests_host.simproc import statuses
from tools.csms import NO_REPLY

ROOT = Path(__file__).resolve().parent.parent
RUNTIMES = pytest.mark.parametrize("runtime", simproc.RUNTIMES)


def iso(seconds=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def reserve(csms, cid, tag, rid, seconds=600):
    return csms.call("CP_1", "ReserveNow", {"connectorId": cid, "expiryDate": iso(seconds),
                                            "idTag": tag, "reservationId": rid})["status"]


def _wait_line(proc, lines, want, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(line.startswith(want) for line in lines):
            return
        assert proc.poll() is None, "driver exited:\n" + "\n".join(lines)
        time.sleep(0.05)
    raise AssertionError("no %r from the driver:\n%s" % (want, "\n".join(lines)))


@RUNTIMES
def test_silent_csms_gets_the_transaction_once_it_answers_again(runtime, csms, tmp_path):
    # connected, never answering: no attempt is spent, the link is made again, and the
    # transaction reaches the CSMS exactly once when it answers again
    exe = sys.executable if runtime == "cpython" else simproc.MICROPYTHON
    env = dict(os.environ, PYTHONPATH=str(ROOT), MICROPYPATH=".frozen:" + str(ROOT))
    flag = str(tmp_path / "flag")
    proc = subprocess.Popen([exe, str(ROOT / "tests_host/mpy/silent_csms.py"), csms.url,
                             str(tmp_path / "state"), flag], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    threading.Thread(target=lambda: [lines.append(x.rstrip()) for x in proc.stdout],
                     daemon=True).start()
    try:
        _wait_line(proc, lines, "READY", 20)
        silent = lambda cp_id, payload: NO_REPLY  # noqa: E731
        for action in ("StartTransaction", "StopTransaction", "MeterValues", "StatusNotification",
                       "Heartbeat", "Authorize", "BootNotification"):
            csms.handlers[action] = silent
        links = csms.connect_count("CP_1")
        open(flag + ".silent", "w").close()
        csms.wait_action("CP_1", "StartTransaction", count=2, timeout=30)  # sent, not answered
        assert csms.connect_count("CP_1") >= links + 2  # a new link after each silence
        assert csms.transactions == {}
        csms.handlers.clear()
        open(flag + ".answer", "w").close()
        _wait_line(proc, lines, "OK", 40)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    (tx_id, tx), = csms.transactions.items()
    assert lines[-1] == "OK %d" % tx_id
    assert tx["starts"] == 1 and tx["stops"] == 1 and tx["stop"]["meterStop"] == 1000
    assert csms.violations == []


@RUNTIMES
def test_absurd_current_time_leaves_the_clock_alone(runtime, csms, run):
    sim = run(runtime)
    csms.current_time = "9999-12-31T23:59:59+14:00"
    assert csms.call("CP_1", "TriggerMessage", {"requestedMessage": "Heartbeat"})
    csms.wait_action("CP_1", "Heartbeat")
    sim.cmd("wait 0.3")
    m = csms.mark()
    sim.cmd("fault 1 GroundFailure")
    p = csms.wait_action("CP_1", "StatusNotification", since=m)
    year = datetime.datetime.now(datetime.timezone.utc).year
    assert p["timestamp"][:4] in (str(year), str(year + 1))  # (a test run across New Year)
    assert any("refused" in line for line in sim.err)
    assert [v for v in csms.violations if " out: " not in v] == []  # (its own currentTime)


@RUNTIMES
def test_start_transaction_answer_contradicting_the_list(runtime, csms, run):
    sim = run(runtime)
    assert csms.call("CP_1", "ChangeConfiguration", {"key": "LocalPreAuthorize", "value": "true"})
    assert csms.call("CP_1", "SendLocalList", {"listVersion": 1, "updateType": "Full",
                                               "localAuthorizationList": [
                                                   {"idTag": "LISTED", "idTagInfo": {"status": "Accepted"}}]})
    csms.start_status["LISTED"] = "Blocked"
    sim.cmd("plug 1", "tag 1 LISTED")
    csms.wait_action("CP_1", "StartTransaction")
    cp0 = lambda: [p["errorCode"] for p in csms.received("CP_1", "StatusNotification")  # noqa: E731
                   if p["connectorId"] == 0]
    csms.wait_for(lambda: cp0()[-2:] == ["LocalListConflict", "NoError"])
    assert csms.received("CP_1", "Authorize") == []  # the list alone started it
    assert csms.violations == []


@RUNTIMES
def test_any_connector_respects_reservations(runtime, csms, run):
    sim = run(runtime)
    assert reserve(csms, 1, "ME", 1) == "Accepted"
    csms.wait_for(lambda: statuses(csms, 1)[-1:] == ["Reserved"])
    sim.cmd("plug 1")  # plugged connectors go first, but this one is held for ME
    assert csms.call("CP_1", "RemoteStartTransaction", {"idTag": "YOU"}) == {"status": "Accepted"}
    sim.cmd("plug 2")
    start = csms.wait_action("CP_1", "StartTransaction")
    assert start["connectorId"] == 2 and start["idTag"] == "YOU"
    sim.cmd("tag 0 ME")
    start = csms.wait_action("CP_1", "StartTransaction", count=2)[1]
    assert start["connectorId"] == 1 and start["reservationId"] == 1
    sim.cmd("tag 0 ME", "tag 0 YOU", "unplug 1", "unplug 2")  # both stop
    csms.wait_action("CP_1", "StopTransaction", count=2)
    # connector 0: one connector is held for Z, the other may go to anyone
    sim.wait_status(lambda s: not any(c["transaction"] for c in s["connectors"][1:]))
    csms.wait_for(lambda: statuses(csms, 1)[-1:] == statuses(csms, 2)[-1:] == ["Available"],
                  timeout=15)
    assert reserve(csms, 0, "Z", 2) == "Accepted"
    sim.cmd("tag 0 OTHER")
    csms.wait_action("CP_1", "Authorize", where=lambda p: p["idTag"] == "OTHER")
    sim.cmd("plug 1")
    start = csms.wait_action("CP_1", "StartTransaction", count=3)[2]
    assert start["idTag"] == "OTHER" and start["connectorId"] == 1
    m = csms.mark()
    assert csms.call("CP_1", "RemoteStartTransaction", {"idTag": "THIRD"}) == {"status": "Rejected"}
    sim.cmd("tag 0 THIRD")
    sim.cmd("tag 0 Z")
    csms.wait_action("CP_1", "Authorize", where=lambda p: p["idTag"] == "Z")
    sim.cmd("plug 2")
    start = csms.wait_action("CP_1", "StartTransaction", since=m)
    assert start["idTag"] == "Z" and start["connectorId"] == 2 and start["reservationId"] == 2
    assert [p["idTag"] for p in csms.received("CP_1", "Authorize", m)] == ["Z"]  # THIRD: no room
    assert csms.violations == []


@RUNTIMES
def test_reservations_end_by_clock_and_by_faults(runtime, csms, run):
    sim = run(runtime, connectors=3)
    assert reserve(csms, 1, "A", 1, seconds=3600) == "Accepted"
    assert reserve(csms, 2, "B", 2) == "Accepted"
    assert reserve(csms, 3, "C", 3) == "Accepted"
    csms.wait_for(lambda: [statuses(csms, i)[-1:] for i in (1, 2, 3)] == [["Reserved"]] * 3)
    # the CSMS sets the clock two hours on: reservation 1 is past its expiry (2 and 3 follow)
    csms.current_time = iso(7200)
    assert csms.call("CP_1", "TriggerMessage", {"requestedMessage": "Heartbeat"})
    csms.wait_for(lambda: [statuses(csms, i)[-1:] for i in (1, 2, 3)] == [["Available"]] * 3)
    csms.current_time = None
    assert csms.call("CP_1", "TriggerMessage", {"requestedMessage": "Heartbeat"})
    sim.cmd("wait 0.3")
    assert csms.call("CP_1", "CancelReservation", {"reservationId": 1}) == {"status": "Rejected"}
    # a fault on the connector, Unavailable, and a fault of the charge point end one each
    assert reserve(csms, 1, "A", 4) == reserve(csms, 2, "B", 5) == reserve(csms, 3, "C", 6) == "Accepted"
    csms.wait_for(lambda: [statuses(csms, i)[-1:] for i in (1, 2, 3)] == [["Reserved"]] * 3)
    sim.cmd("fault 1 GroundFailure")
    csms.wait_for(lambda: statuses(csms, 1)[-1:] == ["Faulted"])
    sim.cmd("fault 1 NoError")
    csms.wait_for(lambda: statuses(csms, 1)[-1:] == ["Available"])
    assert csms.call("CP_1", "ChangeAvailability", {"connectorId": 2, "type": "Inoperative"})
    csms.wait_for(lambda: statuses(csms, 2)[-1:] == ["Unavailable"])
    assert csms.call("CP_1", "ChangeAvailability", {"connectorId": 2, "type": "Operative"})
    csms.wait_for(lambda: statuses(csms, 2)[-1:] == ["Available"])
    assert statuses(csms, 3)[-1] == "Reserved"
    sim.cmd("fault 0 OtherError")
    csms.wait_for(lambda: statuses(csms, 0)[-1:] == ["Faulted"])
    sim.cmd("fault 0 NoError")
    csms.wait_for(lambda: statuses(csms, 3)[-1:] == ["Available"])
    for rid in (4, 5, 6):
        assert csms.call("CP_1", "CancelReservation", {"reservationId": rid}) == {"status": "Rejected"}
    assert csms.violations == []


@RUNTIMES
def test_triggered_messages_are_sent_while_pending(runtime, csms, sims):
    csms.boot_status = "Pending"
    csms.boot_retry_interval = 300
    sim = sims(runtime)
    sim.cmd("wait 0.5")
    assert csms.received("CP_1", "StatusNotification") == []
    call = lambda p: csms.call("CP_1", "TriggerMessage", p)  # noqa: E731
    assert call({"requestedMessage": "StatusNotification", "connectorId": 2}) == {"status": "Accepted"}
    assert csms.wait_action("CP_1", "StatusNotification")["connectorId"] == 2
    assert call({"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
    csms.wait_action("CP_1", "Heartbeat")
    sim.cmd("wait 0.5")
    assert [p["connectorId"] for p in csms.received("CP_1", "StatusNotification")] == [2]
    assert not sim.status()["accepted"]
    csms.boot_status = "Accepted"
    assert call({"requestedMessage": "BootNotification"}) == {"status": "Accepted"}
    csms.wait_for(lambda: sorted(p["connectorId"] for p in csms.received(
        "CP_1", "StatusNotification")) == [0, 1, 2])  # 2: sent when triggered
    assert csms.violations == []
