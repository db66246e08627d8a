# The Reservation profile's calls from the CSMS (reservation.py has the state). Imported for
# one call and let go (ocpp16.run_in): nothing here takes heap while the charger idles.
from . import clock


def ReserveNow(cp, p):
    r = cp.reservation
    cid = p["connectorId"]
    exp = clock.parse(p["expiryDate"])
    if (not 0 <= cid < len(cp.connectors) or exp is None or exp <= clock.now()
            or (cid == 0 and not cp.config["ReserveConnectorZeroSupported"])):
        return {"status": "Rejected"}
    old = r._find(p["reservationId"])
    if old:  # the same reservationId replaces it (kept if the new one cannot be made)
        r.items.remove(old)
    status = _state(r, cid)
    if status == "Accepted":
        r.items.append([p["reservationId"], cid, p["idTag"], p.get("parentIdTag"), exp])
        if not r._save():  # not on flash: it would vanish at a reboot
            r.items.pop()
            status = "Rejected"
    if old and status != "Accepted":
        r.items.append(old)
    r._schedule()
    return {"status": status}


def CancelReservation(cp, p):
    return {"status": "Accepted" if cp.reservation.cancel(p["reservationId"]) else "Rejected"}


def _state(r, cid):
    cs = r.cp.connectors
    c = cs[cid]
    if c.status == "Faulted" or cs[0].status == "Faulted":
        return "Faulted"
    if not c.operative:
        return "Unavailable"
    if cid:  # free, and not the one a connector 0 reservation still needs
        ok = r._free(c) and r._count_free(cid) >= r._zero()
        return "Accepted" if ok else "Occupied"
    for c in cs[1:]:
        if c.operative:
            return "Accepted" if r._count_free(0) > r._zero() else "Occupied"
    return "Unavailable"
