"""OCPP 2.0.1 transactions and authorization end to end: TransactionEvent (E01-E13) with its
start and stop points, Authorize and the cache (C01, C10-C12, C15), RequestStartTransaction and
RequestStopTransaction (F01-F03), Reset with a transaction (B11-B12); tools/sim.py against
tools/csms.py speaking 2.0.1 over a real WebSocket, on CPython and on the MicroPython unix port.
The CSMS checks every frame against the official 2.0.1 schemas; `csms.violations` stays empty."""
import pytest

from tests_host import simproc
from tools.csms import CallErrorReply

pytestmark = pytest.mark.parametrize("runtime", simproc.RUNTIMES)
V201 = ("ocpp2.0.1",)


def events(csms, tx_id=None):
    """[(eventType, triggerReason, seqNo)] of one transaction (the only one if tx_id is None)."""
    txs = csms.transactions
    t = txs[tx_id] if tx_id else (list(txs.values())[0] if len(txs) == 1 else None)
    assert t is not None, txs
    return [(e["eventType"], e["triggerReason"], e["seqNo"]) for e in t["events"]]


def ended(csms):
    return [t for t in csms.transactions.values() if t["events"][-1]["eventType"] == "Ended"]


def _start(runtime, csms, sims):
    mark = csms.mark()
    sim = sims(runtime, server=csms, ocpp="2.0.1")
    csms.wait_action("CP_1", "StatusNotification", count=2, since=mark, timeout=15)
    return sim


def _set(csms, comp, var, value):
    res = csms.call("CP_1", "SetVariables", {"setVariableData": [
        {"component": {"name": comp}, "variable": {"name": var}, "attributeValue": value}]})
    assert res["setVariableResult"][0]["attributeStatus"] == "Accepted", res


def test_card_then_cable_default_points(runtime, csms_factory, sims):
    # TxStartPoint PowerPathClosed: the card, then the cable start it; TxStopPoint
    # EVConnected,Authorized: the same card ends it
    csms = csms_factory(versions=V201)
    sim = _start(runtime, csms, sims)
    sim.cmd("tag 1 CARD")
    auth = csms.wait_action("CP_1", "Authorize")
    assert auth == {"idToken": {"idToken": "CARD", "type": "ISO14443"}}
    sim.cmd("wait 0.3", "plug 1")
    csms.wait_for(lambda: csms.transactions)
    sim.wait_status(lambda s: s["connectors"][1]["status"] == "Charging")
    sim.cmd("wait 1.2", "tag 1 CARD", "wait 0.3", "unplug 1")
    csms.wait_for(lambda: ended(csms), timeout=10)
    (t,) = csms.transactions.values()
    ev = t["events"]
    assert [e["eventType"] for e in ev][0] == "Started" and ev[-1]["eventType"] == "Ended"
    assert [e["seqNo"] for e in ev] == list(range(len(ev)))
    assert ev[0]["triggerReason"] == "CablePluggedIn" and ev[0]["idToken"]["idToken"] == "CARD"
    assert ev[0]["evse"] == {"id": 1, "connectorId": 1}
    assert ("Updated", "ChargingStateChanged") in [(e["eventType"], e["triggerReason"]) for e in ev]
    assert ev[-1]["triggerReason"] == "StopAuthorized"
    assert ev[-1]["transactionInfo"]["stoppedReason"] == "Local"
    ctx = [s["context"] for s in ev[-1]["meterValue"][-1]["sampledValue"]]
    assert ctx and set(ctx) == {"Transaction.End"}
    assert not any(e.get("offline") for e in ev)
    assert csms.violations == []


def test_cable_first_transaction_authorized_later(runtime, csms_factory, sims):
    # TxStartPoint EVConnected: the cable starts it without an idToken, the card authorizes
    # it (Updated, Authorized), the unplug ends it (EVCommunicationLost, EVDisconnected)
    csms = csms_factory(versions=V201)
    sim = _start(runtime, csms, sims)
    _set(csms, "TxCtrlr", "TxStartPoint", "EVConnected")
    sim.cmd("plug 1")
    csms.wait_for(lambda: csms.transactions)
    assert sim.status()["connectors"][1]["relay"] is False  # not authorized: no power
    sim.cmd("tag 1 CARD")
    sim.wait_status(lambda s: s["connectors"][1]["status"] == "Charging")
    sim.cmd("unplug 1")
    csms.wait_for(lambda: ended(csms), timeout=10)
    ev = events(csms)
    assert ev[0] == ("Started", "CablePluggedIn", 0)
    assert ("Updated", "Authorized") in [e[:2] for e in ev]
    assert ev[-1][:2] == ("Ended", "EVCommunicationLost")
    t = list(csms.transactions.values())[0]["events"]
    assert "idToken" not in t[0] and t[-1]["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    assert [e[2] for e in ev] == list(range(len(ev)))
    assert csms.violations == []


def test_remote_start_stop_both_orders(runtime, csms_factory, sims):
    csms = csms_factory(versions=V201)
    sim = _start(runtime, csms, sims)
    call = lambda a, p: csms.call("CP_1", a, p)  # noqa: E731
    # F01: the request first, then the cable
    res = call("RequestStartTransaction", {"evseId": 1, "remoteStartId": 7,
                                           "idToken": {"idToken": "APP", "type": "Central"}})
    assert res == {"status": "Accepted"}
    sim.cmd("plug 1")
    csms.wait_for(lambda: csms.transactions)
    (tid,) = csms.transactions
    first = csms.transactions[tid]["events"][0]
    assert first["transactionInfo"]["remoteStartId"] == 7 and first["triggerReason"] == "RemoteStart"
    assert first["idToken"] == {"idToken": "APP", "type": "Central"}
    sim.wait_status(lambda s: s["connectors"][1]["status"] == "Charging")
    assert call("RequestStopTransaction", {"transactionId": "nope"}) == {"status": "Rejected"}
    assert call("RequestStopTransaction", {"transactionId": tid}) == {"status": "Accepted"}
    csms.wait_for(lambda: ended(csms), timeout=10)
    last = csms.transactions[tid]["events"][-1]
    assert (last["triggerReason"], last["transactionInfo"]["stoppedReason"]) == ("RemoteStop", "Remote")
    sim.cmd("unplug 1")
    # F02: the cable first (TxStartPoint EVConnected), then the request: it authorizes it
    _set(csms, "TxCtrlr", "TxStartPoint", "EVConnected")
    sim.cmd("plug 2")
    csms.wait_for(lambda: len(csms.transactions) == 2)
    tid2 = [t for t in csms.transactions if t != tid][0]
    res = call("RequestStartTransaction", {"evseId": 2, "remoteStartId": 8,
                                           "idToken": {"idToken": "APP2", "type": "Central"}})
    assert res == {"status": "Accepted", "transactionId": tid2}
    sim.wait_status(lambda s: s["connectors"][2]["status"] == "Charging")
    upd = [e for e in csms.transactions[tid2]["events"] if "idToken" in e][0]
    assert upd["triggerReason"] == "RemoteStart" and upd["transactionInfo"]["remoteStartId"] == 8
    # busy EVSE and an unknown one
    assert call("RequestStartTransaction", {"evseId": 2, "remoteStartId": 9,
                                            "idToken": {"idToken": "X", "type": "Central"}})["status"] == "Rejected"
    assert call("RequestStartTransaction", {"evseId": 5, "remoteStartId": 9,
                                            "idToken": {"idToken": "X", "type": "Central"}})["status"] == "Rejected"
    assert csms.violations == []


def test_invalid_card_and_offline_unknown_id(runtime, csms_factory, sims):
    # C01: an Invalid idToken starts nothing; C15: offline, an unknown id is accepted when
    # OfflineTxForUnknownIdEnabled, and the events go later with offline = true, in order
    csms = csms_factory(versions=V201)
    csms.authorize_status["BAD"] = "Invalid"
    sim = _start(runtime, csms, sims)
    sim.cmd("plug 1", "tag 1 BAD")
    csms.wait_action("CP_1", "Authorize")
    sim.cmd("wait 0.5")
    assert sim.status()["connectors"][1]["transaction"] is None and not csms.transactions
    sim.cmd("unplug 1")
    _set(csms, "AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")
    port = csms.port
    csms.stop()
    sim.wait_status(lambda s: not s["online"])
    sim.cmd("plug 2", "tag 2 NEW")
    sim.wait_status(lambda s: s["connectors"][2]["status"] == "Charging")
    sim.cmd("wait 0.5", "tag 2 NEW", "wait 0.3", "unplug 2")
    sim.wait_status(lambda s: s["connectors"][2]["transaction"] is None)
    csms.start(port=port)
    csms.wait_for(lambda: ended(csms), timeout=20)
    ev = list(csms.transactions.values())[0]["events"]
    assert [e["seqNo"] for e in ev] == list(range(len(ev)))
    assert all(e.get("offline") for e in ev)
    assert csms.violations == []


@pytest.mark.parametrize("kind,answer", [("OnIdle", "Scheduled"), ("Immediate", "Accepted")])
def test_reset_with_a_transaction(runtime, csms_factory, sims, kind, answer):
    # B12 OnIdle: Scheduled, the reset waits until the driver ends the transaction;
    # B11 Immediate: the transaction ends at once (ResetCommand, ImmediateReset)
    csms = csms_factory(versions=V201)
    sim = _start(runtime, csms, sims)
    sim.cmd("plug 1", "tag 1 CARD")
    csms.wait_for(lambda: csms.transactions)
    assert csms.call("CP_1", "Reset", {"type": kind}) == {"status": answer}
    if kind == "OnIdle":
        sim.cmd("wait 0.5")
        assert sim.status()["connectors"][1]["transaction"] is not None  # still charging
        sim.cmd("tag 1 CARD")
    csms.wait_for(lambda: ended(csms), timeout=10)
    last = list(csms.transactions.values())[0]["events"][-1]
    assert (last["triggerReason"], last["transactionInfo"]["stoppedReason"]) == (
        ("StopAuthorized", "Local") if kind == "OnIdle" else ("ResetCommand", "ImmediateReset"))
    boot = csms.wait_action("CP_1", "BootNotification", count=2, timeout=30)
    assert boot[1]["reason"] == "RemoteReset"
    assert csms.violations == []


def test_csms_refusing_transaction_events_e13(runtime, csms_factory, sims):
    # E13: a CALLERROR to a TransactionEvent is retried MessageAttempts times, MessageAttempt-
    # Interval x attempt apart, then given up; the next event takes the seqNo it would have had
    csms = csms_factory(versions=V201)
    sim = _start(runtime, csms, sims)
    for var, value in (("MessageAttempts", "3"), ("MessageAttemptInterval", "1")):
        res = csms.call("CP_1", "SetVariables", {"setVariableData": [{
            "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": var, "instance": "TransactionEvent"},
            "attributeValue": value}]})
        assert res["setVariableResult"][0]["attributeStatus"] == "Accepted", res
    refused = []

    def refuse(cp_id, p):
        if p["eventType"] == "Started":
            refused.append(p["seqNo"])
            raise CallErrorReply("InternalError", "database down")
        return csms.default_reply_201(cp_id, "TransactionEvent", p)
    csms.handlers["TransactionEvent"] = refuse
    sim.cmd("plug 1", "tag 1 CARD")
    csms.wait_for(lambda: len(refused) == 3, timeout=15)
    sim.cmd("wait 0.5", "tag 1 CARD")
    csms.wait_for(lambda: ended(csms), timeout=15)
    assert refused == [0, 0, 0]
    ev = events(csms)
    assert ev[0][0] == "Updated" and ev[0][2] == 0 and ev[-1][0] == "Ended"
    assert [e[2] for e in ev] == list(range(len(ev)))
    assert csms.violations == []


def test_get_transaction_status_e14(runtime, csms_factory, sims):
    csms = csms_factory(versions=V201)
    sim = _start(runtime, csms, sims)
    status = lambda **p: csms.call("CP_1", "GetTransactionStatus", p)  # noqa: E731
    assert status() == {"messagesInQueue": False}
    assert status(transactionId="nope") == {"ongoingIndicator": False, "messagesInQueue": False}
    for var, value in (("MessageAttempts", "5"), ("MessageAttemptInterval", "2")):
        res = csms.call("CP_1", "SetVariables", {"setVariableData": [{
            "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": var, "instance": "TransactionEvent"},
            "attributeValue": value}]})
        assert res["setVariableResult"][0]["attributeStatus"] == "Accepted", res
    sim.cmd("plug 1", "tag 1 CARD")
    csms.wait_for(lambda: csms.transactions and len(events(csms)) >= 2)  # Started, Charging
    tid = list(csms.transactions)[0]
    assert status(transactionId=tid) == {"ongoingIndicator": True, "messagesInQueue": False}
    refused = []

    def refuse(cp_id, p):  # the Ended event waits on the charge point for its next attempt
        if p["eventType"] == "Ended":
            refused.append(p["seqNo"])
            raise CallErrorReply("InternalError", "database down")
        return csms.default_reply_201(cp_id, "TransactionEvent", p)
    csms.handlers["TransactionEvent"] = refuse
    sim.cmd("tag 1 CARD")
    csms.wait_for(lambda: refused)
    assert status(transactionId=tid) == {"ongoingIndicator": False, "messagesInQueue": True}
    assert status() == {"messagesInQueue": True}
    del csms.handlers["TransactionEvent"]
    csms.wait_for(lambda: ended(csms), timeout=15)
    assert status(transactionId=tid) == {"ongoingIndicator": False, "messagesInQueue": False}
    assert status() == {"messagesInQueue": False}
    assert csms.violations == []


def test_invalid_in_the_started_answer_ends_it_e05(runtime, csms_factory, sims):
    # E05: the card was accepted locally (offline, OfflineTxForUnknownIdEnabled), the CSMS
    # answers the Started event's idToken with Invalid: StopTxOnInvalidId ends it, Deauthorized
    csms = csms_factory(versions=V201)
    sim = _start(runtime, csms, sims)
    _set(csms, "AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")
    csms.authorize_status["GONE"] = "Invalid"
    port = csms.port
    csms.stop()
    sim.wait_status(lambda s: not s["online"])
    sim.cmd("plug 1", "tag 1 GONE")
    sim.wait_status(lambda s: s["connectors"][1]["transaction"] is not None)
    csms.start(port=port)
    csms.wait_for(lambda: ended(csms), timeout=20)
    last = list(csms.transactions.values())[0]["events"][-1]
    assert (last["triggerReason"], last["transactionInfo"]["stoppedReason"]) == ("Deauthorized", "DeAuthorized")
    assert sim.status()["connectors"][1]["relay"] is False
    assert csms.violations == []


def test_trigger_transaction_event(runtime, csms_factory, sims):
    csms = csms_factory(versions=V201)
    sim = _start(runtime, csms, sims)
    trig = {"requestedMessage": "TransactionEvent"}
    assert csms.call("CP_1", "TriggerMessage", trig) == {"status": "Rejected"}  # none running
    sim.cmd("plug 2", "tag 2 CARD")
    csms.wait_for(lambda: csms.transactions)
    assert csms.call("CP_1", "TriggerMessage", dict(trig, evse={"id": 2})) == {"status": "Accepted"}
    csms.wait_for(lambda: ("Updated", "Trigger") in [e[:2] for e in events(csms)])
    assert csms.violations == []


def test_clear_cache_c11(runtime, csms_factory, sims):
    # C10/C12: an accepted card is cached and starts offline from the cache; C11: ClearCache
    # empties it, and the same card offline (unknown ids not allowed) then starts nothing
    csms = csms_factory(versions=V201)
    sim = _start(runtime, csms, sims)
    sim.cmd("tag 1 CARD")
    csms.wait_action("CP_1", "Authorize")
    assert csms.call("CP_1", "ClearCache", {}) == {"status": "Accepted"}
    port = csms.port
    csms.stop()
    sim.wait_status(lambda s: not s["online"])
    sim.cmd("unplug 1", "plug 2", "tag 2 CARD", "wait 0.5")
    assert sim.status()["connectors"][2]["transaction"] is None
    csms.start(port=port)
    assert csms.violations == []


def test_remote_start_that_timed_out_does_not_mark_the_next_transaction(runtime, csms_factory, sims):
    # a RequestStartTransaction whose cable never came (EVConnectionTimeOut): the next
    # transaction, started by a card, carries no remoteStartId and is not a RemoteStart
    csms = csms_factory(versions=V201)
    sim = _start(runtime, csms, sims)
    _set(csms, "TxCtrlr", "EVConnectionTimeOut", "1")
    assert csms.call("CP_1", "RequestStartTransaction", {"evseId": 1, "remoteStartId": 5, "idToken": {
        "idToken": "APP", "type": "Central"}}) == {"status": "Accepted"}
    sim.cmd("wait 1.5", "plug 1", "tag 1 CARD")
    csms.wait_for(lambda: csms.transactions)
    first = list(csms.transactions.values())[0]["events"][0]
    assert first["idToken"]["idToken"] == "CARD" and first["triggerReason"] == "Authorized"
    assert "remoteStartId" not in first["transactionInfo"]
    assert csms.violations == []


def test_token_types(runtime, csms_factory, sims, tmp_path):
    # a start button (NoAuthorization) starts without an Authorize; a KeyCode, or a local id
    # (C06: type Local, a plate or a ticket the firmware reads), goes to the CSMS with its type;
    # a Central token of a RequestStartTransaction is never cached
    csms = csms_factory(versions=V201)
    sim = _start(runtime, csms, sims)
    sim.cmd("token 1 NoAuthorization -", "plug 1")
    csms.wait_for(lambda: csms.transactions)
    first = list(csms.transactions.values())[0]["events"][0]
    assert first["idToken"] == {"idToken": "", "type": "NoAuthorization"}
    assert csms.received("CP_1", "Authorize") == []
    sim.cmd("token 2 KeyCode 1234", "plug 2")
    assert csms.wait_action("CP_1", "Authorize") == {"idToken": {"idToken": "1234", "type": "KeyCode"}}
    csms.wait_for(lambda: len(csms.transactions) == 2)
    second = [t for t in csms.transactions.values()][1]["events"][0]
    assert second["idToken"] == {"idToken": "1234", "type": "KeyCode"}
    sim.cmd("token 1 NoAuthorization -", "token 2 KeyCode 1234", "unplug 1", "unplug 2")
    csms.wait_for(lambda: len(ended(csms)) == 2, timeout=10)
    sim.cmd("token 1 Local PLATE-42", "plug 1")
    assert csms.wait_action("CP_1", "Authorize", count=2)[1] == {"idToken": {"idToken": "PLATE-42", "type": "Local"}}
    csms.wait_for(lambda: len(csms.transactions) == 3)
    third = [t for t in csms.transactions.values()][2]["events"][0]
    assert third["idToken"] == {"idToken": "PLATE-42", "type": "Local"}
    sim.cmd("token 1 Local PLATE-42", "unplug 1")
    csms.wait_for(lambda: len(ended(csms)) == 3, timeout=10)
    res = csms.call("CP_1", "RequestStartTransaction", {"evseId": 1, "remoteStartId": 1, "idToken": {
        "idToken": "APP", "type": "Central"}})
    assert res == {"status": "Accepted"}
    csms.wait_action("CP_1", "Authorize", count=3)
    sim.cmd("wait 0.3")
    sim.status()
    import json
    import os
    cache = os.path.join(str(tmp_path), "state-CP_1", "authcache.json")
    tags = [e[0] for e in json.load(open(cache))] if os.path.exists(cache) else []
    assert "1234" in tags and "PLATE-42" in tags and "APP" not in tags, tags
    assert csms.violations == []
