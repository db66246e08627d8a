# OCPP 2.0.1 transactions whose journal record is damaged, plain asserts: run on MicroPython by
# tools/mptest.py and on CPython by pytest, against a fake transport (a power cut at every
# step and inside every write, against the real CSMS, is tests_host/test_powercut.py).
# The index (started.json) holds each transaction the CSMS has answered an event of: a lost
# record still gets its Ended event, with a seqNo above every one the CSMS has had.
import json
import os

from mpy_ocpp import ChargePoint, ocpp201
from mpy_ocpp.store import Store
from tests_host.mpy.fakes import Link, answer, state_dir


def _boot(d, link):
    cp = ChargePoint("CP_1", link, Store(d), connectors=2, versions=(ocpp201,))
    hw = {"plugged": {1: False, 2: False}}
    for cid in (1, 2):
        c = cp.connectors[cid]
        c.plugged = (lambda i: lambda: hw["plugged"][i])(cid)
        c.energy = (lambda i: lambda: 1000 * i)(cid)
    return cp, hw


def _answer(cp, link, n=40):
    answer(cp, link, {"Authorize": {"idTokenInfo": {"status": "Accepted"}}}, n)


def _events(link):
    return [m[3] for m in link.sent if m[0] == 2 and m[2] == "TransactionEvent"]


def _read(d, name):
    with open(d + "/" + name) as f:
        return json.load(f)


def _charging(d, link, n=2):
    """Connector 1 charging, its Started and n Updated events answered."""
    cp, hw = _boot(d, link)
    _answer(cp, link)
    hw["plugged"][1] = True
    cp.tag(1, "A")
    _answer(cp, link)
    c = cp.connectors[1]
    for _ in range(n):
        c.sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")
        _answer(cp, link)
    return cp, hw


def test_a_transaction_whose_record_is_lost_still_ends_once_with_a_seqno_above_the_others():
    for damage in (None, b"", b"[1, 2]", b"\xff"):
        d = state_dir("lost201")
        link = Link()
        cp, hw = _charging(d, link)
        tx = cp.connectors[1].tx
        sent = [e["seqNo"] for e in _events(link)]
        assert _read(d, "started.json") == [[1, tx.id, 1, "A", 1000, 1]]  # written at the first answer
        link.online = False  # one more event owed, never sent: it goes with the record
        cp.connectors[1].sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")
        cp.loop()
        if damage is None:
            os.remove(d + "/tx1.json")
        else:
            Store(d).write("tx1.json", damage)
        link = Link()
        cp, hw = _boot(d, link)
        _answer(cp, link)
        ended = _events(link)
        assert len(ended) == 1, (damage, ended)
        e = ended[0]
        assert e["eventType"] == "Ended" and e["transactionInfo"] == {"transactionId": tx.id, "stoppedReason": "Other"}
        assert e["triggerReason"] == "AbnormalCondition" and e["evse"] == {"id": 1, "connectorId": 1}
        assert max(sent) < e["seqNo"] <= max(sent) + 32, (sent, e["seqNo"])
        assert cp.connectors[1].tx is None and not cp.journal.txs
        assert _read(d, "started.json") == []


def test_the_index_keeps_up_with_a_long_transaction():
    d = state_dir("long201")
    link = Link()
    cp, hw = _charging(d, link, 40)
    sent = [e["seqNo"] for e in _events(link)]
    assert max(sent) > 40 and _read(d, "started.json")[0][5] == 33  # rewritten every 32 answers
    os.remove(d + "/tx1.json")
    link = Link()
    cp, hw = _boot(d, link)
    _answer(cp, link)
    assert max(sent) < [e["seqNo"] for e in _events(link)][0] <= max(sent) + 32


def test_an_event_answered_just_before_a_cut_is_not_sent_again():
    """The cut came after the index was written and before the record was: the index's seqNo
    says the Started event was answered."""
    d = state_dir("cut201")
    link = Link()
    cp, hw = _boot(d, link)
    _answer(cp, link)
    hw["plugged"][1] = True
    cp.tag(1, "A")
    for _ in range(10):  # Authorize answered, the Started event sent, not yet answered
        cp.loop()
        p = cp.pending
        if p and p[1][1] == "TransactionEvent":
            break
        if p:
            link.inbox.append(json.dumps([3, p[0], {"idTokenInfo": {"status": "Accepted"}}]))
    record = Store(d).read("tx1.json")
    link.inbox.append(json.dumps([3, cp.pending[0], {}]))
    cp.loop()
    assert cp.connectors[1].tx.seqno == 1
    Store(d).write("tx1.json", record)  # the record as it was before the answer
    link = Link()
    cp, hw = _boot(d, link)
    hw["plugged"][1] = True
    _answer(cp, link)
    assert cp.connectors[1].tx.seqno >= 1
    again = _events(link)
    assert [e for e in again if e["eventType"] == "Started"] == []
    assert [e["seqNo"] for e in again] == list(range(1, 1 + len(again)))
