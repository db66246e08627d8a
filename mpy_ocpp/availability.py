# OCPP 2.0.1 availability, G03-G04: ChangeAvailability of the station, an EVSE or its
# connector (EVSE i is connector i of the firmware API; its one connector is connectorId 1).


def ChangeAvailability(cp, p):
    e = p.get("evse")
    cid = e["id"] if e else 0
    if not 0 <= cid < len(cp.connectors) or (e and e.get("connectorId", 1) != 1) or (e and not cid):
        return {"status": "Rejected"}
    done = cp.set_available(cid, p["operationalStatus"] == "Operative")
    return {"status": "Rejected" if done is None else "Accepted" if done else "Scheduled"}
