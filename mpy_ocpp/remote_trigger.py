# Remote Trigger profile (OCPP 1.6 §5.17): the CSMS asks for a message now.
PROFILE = "RemoteTrigger"


def TriggerMessage(cp, p):
    return cp.trigger(_trigger, p)


def _trigger(cp, p):
    what = p["requestedMessage"]
    cid = p.get("connectorId")
    if cid is not None and not 0 <= cid < len(cp.connectors):
        return {"status": "Rejected"}
    scope = cp.connectors if cid is None else (cp.connectors[cid],)
    if what == "BootNotification":
        cp.boot_notification()
    elif what == "Heartbeat":
        cp.heartbeat()
    elif what == "StatusNotification":
        for c in scope:
            if c.status:
                cp.status_notification(c.id, c.status, c.reported_error)
    elif what == "MeterValues":
        sent = False
        for c in scope:
            sent = c.sample("MeterValuesSampledData", None, "Trigger") or sent
        if not sent:
            return {"status": "Rejected"}  # no meter there
    else:
        fw = cp.firmware
        if fw is None:
            return {"status": "NotImplemented"}
        m = fw.machine()  # let go at the next loop() if nothing runs
        if what == "FirmwareStatusNotification":
            m.notify_firmware(fw)
        else:
            m.notify_diagnostics(fw)
    return {"status": "Accepted"}
