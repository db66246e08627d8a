"""idTags are CiString20 (OCPP 1.6 §7, IdToken): a card read as "ABC123" is the tag a CSMS
wrote as "abc123". tools/sim.py against tools/csms.py over a real WebSocket, on CPython and
on the MicroPython unix port: the same card in another case stops the transaction it started
(remotely), the local list and the Authorization Cache find a tag in any case offline, and a
reservation takes its tag in any case. What goes on the wire is the text as read."""
import pytest

from tests_host import simproc

pytestmark = pytest.mark.parametrize("runtime", simproc.RUNTIMES)


def authorized(csms):
    return [p["idTag"] for p in csms.received("CP_1", "Authorize")]


def test_tags_match_whatever_their_case(runtime, csms, sims):
    sim = sims(runtime, booted=True)
    call = lambda action, p: csms.call("CP_1", action, p)  # noqa: E731
    # a remote start for "remote01": the driver's card, read in upper case, ends it
    assert call("RemoteStartTransaction", {"connectorId": 1, "idTag": "remote01"}) == {"status": "Accepted"}
    sim.cmd("plug 1")
    start = csms.wait_action("CP_1", "StartTransaction")
    assert start["idTag"] == "remote01"
    sim.cmd("tag 1 REMOTE01")
    stop = csms.wait_action("CP_1", "StopTransaction")
    assert (stop["reason"], stop["idTag"]) == ("Local", "REMOTE01")
    assert authorized(csms) == ["remote01"]  # AuthorizeRemoteTxRequests; the stop asks none
    sim.cmd("unplug 1")
    # a reservation for "resv-7" lets "RESV-7" charge there, and no one else
    assert call("ReserveNow", {"connectorId": 2, "expiryDate": "2099-01-01T00:00:00Z",
                               "idTag": "resv-7", "reservationId": 5}) == {"status": "Accepted"}
    sim.cmd("plug 2", "tag 2 OTHER", "wait 0.5")
    assert not sim.status()["connectors"][2]["relay"]
    sim.cmd("tag 2 RESV-7")
    start = csms.wait_action("CP_1", "StartTransaction", count=2)[1]
    assert (start["connectorId"], start["idTag"], start["reservationId"]) == (2, "RESV-7", 5)
    sim.cmd("tag 2 Resv-7")
    csms.wait_action("CP_1", "StopTransaction", count=2)
    sim.cmd("unplug 2")
    # the list holds "abc123", the cache learns "Card9" (its Authorize): offline, both are
    # found in another case
    assert call("SendLocalList", {"listVersion": 1, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "abc123", "idTagInfo": {"status": "Accepted"}}]}) == {"status": "Accepted"}
    sim.cmd("plug 1", "tag 1 Card9")
    csms.wait_action("CP_1", "StartTransaction", count=3)
    sim.cmd("tag 1 CARD9")
    csms.wait_action("CP_1", "StopTransaction", count=3)
    sim.cmd("unplug 1")
    port = csms.port
    csms.stop()
    sim.wait_status(lambda s: not s["online"])
    sim.cmd("plug 1", "tag 1 ABC123", "plug 2", "tag 2 card9")
    sim.wait_status(lambda s: s["connectors"][1]["relay"] and s["connectors"][2]["relay"])
    csms.start(port=port)
    starts = csms.wait_action("CP_1", "StartTransaction", count=5, timeout=30)[3:]
    assert sorted([(p["connectorId"], p["idTag"]) for p in starts]) == [(1, "ABC123"), (2, "card9")]
    assert authorized(csms) == ["remote01", "OTHER", "RESV-7", "Card9"]
    assert csms.violations == []
