# OCPP 2.0.1 remote control: F01-F04 RequestStartTransaction and RequestStopTransaction (the
# cable before or after the request: a transaction that TxStartPoint EVConnected started is
# authorized by the request), F05 UnlockConnector, F06 TriggerMessage (BootNotification,
# Heartbeat, StatusNotification, MeterValues of AlignedDataCtrlr.Measurands, TransactionEvent
# Updated of the running transactions; the messages of
# use cases not built yet: NotImplemented).
from .compat import log


def RequestStartTransaction(cp, p):
    t = p["idToken"]
    tag, kind = t["idToken"], t["type"]
    cid = p.get("evseId")
    c = cp._connector_for(0, tag) if cid is None else cp.connectors[cid] if 0 < cid < len(
        cp.connectors) else None
    if c is None or c.session or c.tx and c.tx.id_tag is not None or not c.operative or c.status == "Faulted":
        return {"status": "Rejected"}
    if "chargingProfile" in p:
        log("RequestStartTransaction: its charging profile is ignored (no 2.0.1 smart charging)")
    g = p.get("groupIdToken")
    cp.remote_start[c.id] = (p["remoteStartId"], tag)  # for the event that uses this idToken
    if cp.config["AuthorizeRemoteTxRequests"]:
        cp.authorize(tag, lambda info: c.authorized(tag, info, kind), kind)
    else:
        c.authorized(tag, {"status": "Accepted", "parentIdTag": g["idToken"]} if g else {"status": "Accepted"}, kind)
    res = {"status": "Accepted"}
    if c.tx:
        res["transactionId"] = c.tx.id  # F02: the cable came first
    return res



def UnlockConnector(cp, p):
    cid = p["evseId"]
    if not 0 < cid < len(cp.connectors) or p["connectorId"] != 1:
        return {"status": "UnknownConnector"}
    c = cp.connectors[cid]
    if c.tx:
        return {"status": "OngoingAuthorizedTransaction"}
    if c.on_unlock is None:
        return {"status": "UnlockFailed"}
    return {"status": "Unlocked" if c.on_unlock() else "UnlockFailed"}


def TriggerMessage(cp, p):
    return cp.trigger(_trigger, p)


def _trigger(cp, p):
    what = p["requestedMessage"]
    e = p.get("evse")
    cid = e["id"] if e else None
    if cid is not None and not (0 < cid < len(cp.connectors) and e.get("connectorId", 1) == 1):
        return {"status": "Rejected"}
    if what == "BootNotification":
        if cp.accepted:  # F06.FR.17: the last one was Accepted
            return {"status": "Rejected"}
        cp.boot_reason = "Triggered"
        cp.boot_notification()
    elif what == "Heartbeat":
        cp.heartbeat()
    elif what == "StatusNotification":
        for c in cp.connectors[1:] if cid is None else (cp.connectors[cid],):
            if c.status:
                cp.evse_status[c.id] = None  # sent even if the CSMS has it already
                cp.status_notification(c.id, c.status, c.reported_error)
    elif what == "MeterValues":
        sent = False
        for c in cp.connectors if cid is None else (cp.connectors[cid],):
            sent = c.sample("MeterValuesAlignedData", None, "Trigger") or sent
        if not sent:
            return {"status": "Rejected"}  # no meter there
    elif what == "TransactionEvent":
        sent = False
        for c in cp.connectors[1:] if cid is None else (cp.connectors[cid],):
            if c.tx:
                sent = cp.v.triggered(c, c.tx)
        if not sent:
            return {"status": "Rejected"}  # no transaction there
    else:
        return {"status": "NotImplemented"}
    return {"status": "Accepted"}


def RequestStopTransaction(cp, p):
    return {"status": cp.remote_stop(p["transactionId"])}
