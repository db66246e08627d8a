# OCPP 2.0.1 transactions (E01-E14): the TransactionEvents of a transaction, made from the
# same connector state machine and journal as 1.6's StartTransaction/StopTransaction. The
# charge point names the transaction; the journal keeps its events on flash and gives each
# its seqNo when it is sent (Transaction.seqno counts the answered ones, saved with the
# record), so a power cut or an event given up after MessageAttempts leaves no gap.
import json
import random

from . import clock
from .authorization_cache import same

# 1.6 reasons (what the connector says) -> 2.0.1 stoppedReason (None: the same word),
# triggerReason (None: AbnormalCondition); unlisted: Other, AbnormalCondition
_REASONS = (("Local", None, "StopAuthorized"), ("Remote", None, "RemoteStop"),
            ("EVDisconnected", None, "EVCommunicationLost"), ("DeAuthorized", None, "Deauthorized"),
            ("Timeout", None, "EVConnectTimeout"), ("HardReset", "ImmediateReset", "ResetCommand"),
            ("SoftReset", "ImmediateReset", "ResetCommand"), ("UnlockCommand", "Other", "UnlockCommand"),
            ("EmergencyStop", None, None), ("PowerLoss", None, None), ("Reboot", None, None))
_CONTEXTS = (("Sample.Clock", "MeterValueClock"), ("Trigger", "Trigger"))  # else MeterValuePeriodic


def begins(c, plugged):
    """TxStartPoint: the transaction starts at the first of its points met. A card and a cable
    (PowerPathClosed; EnergyTransfer follows at once) always start one: nothing charges
    without a transaction."""
    p = c.cp.config["TxStartPoint"]
    s = c.session is not None
    return (s and plugged or plugged and "EVConnected" in p or s and "Authorized" in p
            or "ParkingBayOccupancy" in p and c.occupied is not None and c.occupied())


def state(c, status=None):
    """transactionInfo.chargingState from the connector's (1.6) status."""
    plugged = c.plugged() if c.plugged else True
    if c.tx and c.tx.id_tag is None or not plugged or status not in ("Charging", "SuspendedEV", "SuspendedEVSE"):
        return "EVConnected" if plugged else "Idle"
    return status


def sampled(mv):
    """A 1.6 meterValue (metering.py) in 2.0.1's shape: numbers, unitOfMeasure."""
    svs = []
    for s in mv["sampledValue"]:
        if s.get("format"):  # SignedData (signed_meter_values.py): with the register's value
            for t in svs:
                if t["measurand"] == s["measurand"]:
                    t["signedMeterValue"] = json.loads(s["value"])
            continue
        t = {"value": float(s["value"]), "context": s["context"], "measurand": s["measurand"]}
        if "unit" in s:
            t["unitOfMeasure"] = {"unit": s["unit"]}
        if "phase" in s:
            t["phase"] = s["phase"]
        svs.append(t)
    return {"timestamp": mv["timestamp"], "sampledValue": svs}


def _event(c, tx, kind, trigger, ts=None):
    cp = c.cp
    info = {"transactionId": tx.id}
    if cp.tx_state[c.id]:
        info["chargingState"] = cp.tx_state[c.id]
    p = {"eventType": kind, "timestamp": ts or clock.iso(), "triggerReason": trigger, "seqNo": 0,
         "transactionInfo": info, "evse": {"id": c.id, "connectorId": 1}}
    if not cp.online:
        p["offline"] = True
    if _remote(c, tx):  # the first event with the idToken of a RequestStartTransaction (F01-F02)
        info["remoteStartId"] = cp.remote_start[c.id][0]
        cp.remote_start[c.id] = None
    return p


def _remote(c, tx):
    r = c.cp.remote_start[c.id]
    return r is not None and same(r[1], tx.id_tag)


def _token(p, tx, id_tag=None):
    p["idToken"] = {"idToken": id_tag or tx.id_tag, "type": tx.kind or "ISO14443"}


def started(c, tx):
    tx.id = "%x-%08x" % (clock.now(), random.getrandbits(32))
    c.cp.tx_state[c.id] = state(c)
    plugged = c.plugged() if c.plugged else True
    if not _remote(c, tx):
        c.cp.remote_start[c.id] = None  # a request whose idToken never came to a transaction
    trigger = ("RemoteStart" if c.cp.remote_start[c.id] else "Authorized"
               if c.session and (c.cable_first or not plugged) else "CablePluggedIn" if plugged
               else "EVDetected")
    p = _event(c, tx, "Started", trigger, tx.start)
    if tx.id_tag is not None:
        _token(p, tx)
    if tx.data:
        p["meterValue"] = [sampled(tx.data[0])]
    return "TransactionEvent", p


def stopped(c, tx, reason, id_tag):
    stop, trigger = "Other", "AbnormalCondition"
    for r in _REASONS:
        if r[0] == reason:
            stop, trigger = r[1] or reason, r[2] or trigger
    c.cp.tx_state[c.id] = state(c)
    p = _event(c, tx, "Ended", trigger)
    p["transactionInfo"]["stoppedReason"] = stop
    if id_tag and id_tag != tx.id_tag:
        _token(p, tx, id_tag)
    if tx.data:  # in 2.0.1's shape: the 1.6 one is let go (the record keeps the event)
        p["meterValue"] = [sampled(m) for m in tx.data]
        tx.data = []
    return "TransactionEvent", p


def lost(tx):
    """The Ended event of a transaction whose record was lost (journal._lost: its seqNo is set
    above any the CSMS had); what it owed and its meter readings are gone."""
    return "TransactionEvent", {
        "eventType": "Ended", "timestamp": clock.iso(), "triggerReason": "AbnormalCondition", "seqNo": 0,
        "offline": True, "transactionInfo": {"transactionId": tx.id, "stoppedReason": "Other"},
        "evse": {"id": tx.connector_id, "connectorId": 1}}


def metered(c, tx, mv):  # a MeterValues outside a transaction (J01), an Updated event in one
    if tx is None:
        return "MeterValues", {"evseId": c.id, "meterValue": [sampled(mv)]}
    ctx = mv["sampledValue"][0]["context"]
    trigger = "MeterValuePeriodic"
    for k, t in _CONTEXTS:
        if k == ctx:
            trigger = t
    p = _event(c, tx, "Updated", trigger)
    p["meterValue"] = [sampled(mv)]
    return "TransactionEvent", p


def authorized(c, tx, id_tag, parent, kind):
    """A transaction started before its idToken (TxStartPoint EVConnected, ParkingBayOccupancy)
    is authorized now."""
    tx.id_tag, tx.parent, tx.kind = id_tag, parent, kind
    p = _event(c, tx, "Updated", "RemoteStart" if _remote(c, tx) else "Authorized")
    _token(p, tx)
    c.cp.journal.push(tx, "TransactionEvent", p)


def triggered(c, tx):
    """F06: an Updated event of a running transaction, triggerReason Trigger."""
    return c.cp.journal.push(tx, "TransactionEvent", _event(c, tx, "Updated", "Trigger")) or True


def changed(c, status):
    """An Updated event when the chargingState changes (the status reported, E02)."""
    tx = c.tx
    s = state(c, status)
    if tx and s != c.cp.tx_state[c.id]:
        c.cp.tx_state[c.id] = s
        c.cp.journal.push(tx, "TransactionEvent", _event(c, tx, "Updated", "ChargingStateChanged"))


def GetTransactionStatus(cp, p):
    """E14: does the transaction (any, without an id) still owe the CSMS messages (the one in
    flight counts), and is it ongoing. An unknown id: neither."""
    tid = p.get("transactionId")
    if tid is None:
        return {"messagesInQueue": cp.journal.busy()}
    return {"ongoingIndicator": any([c.tx is not None and c.tx.id == tid for c in cp.connectors]),
            "messagesInQueue": any([t.id == tid and t.msgs for t in cp.journal.txs])}
