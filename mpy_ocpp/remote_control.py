# OCPP 2.0.1 remote control: F05 UnlockConnector, F06 TriggerMessage (BootNotification,
# Heartbeat, StatusNotification, MeterValues of AlignedDataCtrlr.Measurands; the messages of
# use cases not built yet: NotImplemented).


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
    else:
        return {"status": "NotImplemented"}
    return {"status": "Accepted"}
