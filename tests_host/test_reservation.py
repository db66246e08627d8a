"""The Reservation profile end to end: tools/sim.py (which loads mpy_ocpp.reservation) against
tools/csms.py over a real WebSocket, on CPython and on the MicroPython unix port.
Unit tests: tests_host/mpy/test_reservation_mp.py."""
import datetime

import pytest

from tests_host import simproc
from tests_host.simproc import statuses

pytestmark = pytest.mark.parametrize("runtime", simproc.RUNTIMES)


def reserve(csms, cid, tag, rid, seconds=600, parent=None):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    p = {"connectorId": cid, "expiryDate": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "idTag": tag,
         "reservationId": rid}
    if parent:
        p["parentIdTag"] = parent
    return csms.call("CP_1", "ReserveNow", p)["status"]


def cancel(csms, rid):
    return csms.call("CP_1", "CancelReservation", {"reservationId": rid})["status"]


def test_reserve_use_cancel_expire_and_answers(runtime, csms, run):
    sim = run(runtime)
    conf = csms.call("CP_1", "GetConfiguration", {"key": ["ReserveConnectorZeroSupported",
                                                          "SupportedFeatureProfiles"]})
    keys = {k["key"]: (k["readonly"], k["value"]) for k in conf["configurationKey"]}
    assert keys["ReserveConnectorZeroSupported"] == (True, "true")
    assert "Reservation" in keys["SupportedFeatureProfiles"][1].split(",")
    # connector 1 for ME (or its group): others are refused, ME starts with the reservationId
    assert reserve(csms, 1, "ME", 11, parent="GROUP") == "Accepted"
    csms.wait_for(lambda: statuses(csms, 1)[-1] == "Reserved")
    assert reserve(csms, 1, "YOU", 12) == "Occupied"
    assert reserve(csms, 3, "YOU", 12) == "Rejected"
    sim.cmd("plug 1", "tag 1 YOU")
    csms.wait_action("CP_1", "Authorize", where=lambda p: p["idTag"] == "YOU")
    sim.cmd("wait 0.3")
    assert sim.status()["connectors"][1]["transaction"] is None
    assert csms.call("CP_1", "RemoteStartTransaction", {"connectorId": 1, "idTag": "YOU"}) == {
        "status": "Rejected"}
    csms.authorize_status["KID"] = {"status": "Accepted", "parentIdTag": "GROUP"}
    sim.cmd("tag 1 KID")
    start = csms.wait_action("CP_1", "StartTransaction")
    assert start["idTag"] == "KID" and start["reservationId"] == 11
    assert cancel(csms, 11) == "Rejected"  # used up
    assert reserve(csms, 1, "ME", 13) == "Occupied"  # a transaction runs there
    # cancel, and expiry, give connector 2 back
    assert reserve(csms, 2, "ME", 14) == "Accepted"
    csms.wait_for(lambda: statuses(csms, 2)[-1] == "Reserved")
    assert cancel(csms, 14) == "Accepted"
    csms.wait_for(lambda: statuses(csms, 2)[-1] == "Available")
    mark = csms.mark()
    assert reserve(csms, 2, "ME", 15, seconds=2) == "Accepted"
    csms.wait_for(lambda: statuses(csms, 2, mark) == ["Reserved", "Available"], timeout=15)
    assert cancel(csms, 15) == "Rejected"
    # Faulted and Unavailable connectors take no reservation
    sim.cmd("fault 2 GroundFailure")
    csms.wait_for(lambda: statuses(csms, 2)[-1] == "Faulted")
    assert reserve(csms, 2, "ME", 16) == "Faulted"
    sim.cmd("fault 2 NoError")
    csms.wait_for(lambda: statuses(csms, 2)[-1] == "Available")
    assert csms.call("CP_1", "ChangeAvailability", {"connectorId": 2, "type": "Inoperative"})
    csms.wait_for(lambda: statuses(csms, 2)[-1] == "Unavailable")
    assert reserve(csms, 2, "ME", 16) == "Unavailable"
    assert csms.violations == []


def test_connector_zero_and_persistence(runtime, csms, run):
    sim = run(runtime)
    assert reserve(csms, 0, "ZED", 21) == "Accepted"
    sim.cmd("wait 0.3")
    assert statuses(csms, 1)[-1] == statuses(csms, 2)[-1] == "Available"  # two free, one held
    sim.cmd("plug 1", "tag 1 OTHER")
    csms.wait_action("CP_1", "StartTransaction")
    csms.wait_for(lambda: statuses(csms, 2)[-1] == "Reserved")  # the last free one is held
    assert reserve(csms, 0, "ZED2", 22) == "Occupied"
    # held across a restart of the charge point
    sim.stop()
    mark = csms.mark()
    sim = run(runtime)
    sim.cmd("plug 1")  # a new process: the cable goes in again
    csms.wait_for(lambda: "Reserved" in statuses(csms, 2, mark))
    sim.cmd("plug 2", "tag 2 THIRD")
    csms.wait_action("CP_1", "Authorize", where=lambda p: p["idTag"] == "THIRD", since=mark)
    sim.cmd("wait 0.3")
    assert sim.status()["connectors"][2]["transaction"] is None
    sim.cmd("tag 2 ZED")
    start = csms.wait_action("CP_1", "StartTransaction", since=mark)
    assert start["idTag"] == "ZED" and start["reservationId"] == 21 and start["connectorId"] == 2
    assert cancel(csms, 21) == "Rejected"
    assert csms.violations == []
