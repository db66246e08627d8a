# OCPP 2.0.1 provisioning, B11-B12: Reset of the station, and the BootNotification reason
# after it (RemoteReset). Immediate ends the transactions (ImmediateReset) and resets once
# their events are out (or after 15 s); OnIdle answers Scheduled while a transaction runs and
# resets when the last one has ended. A reset of one EVSE is Rejected: the firmware API has no
# EVSE-level restart (on_reset restarts the station; it is called with hard=True).
from .compat import ticks_ms
from .connector import later

_REASON = "reset.json"  # the reason of the next boot, written just before the reset


def setup(cp):
    cp.boot_reason = "PowerUp"  # the BootNotification reason (a board may set another after)
    if cp.store.load(_REASON, None, lambda d: d == "RemoteReset"):
        cp.boot_reason = "RemoteReset"
        cp.store.remove(_REASON)


def Reset(cp, p):
    if cp.on_reset is None or "evseId" in p or not cp.store.save(_REASON, "RemoteReset"):
        return {"status": "Rejected"}
    cp.security_event("ResetOrReboot", p["type"])  # critical: kept on flash across the reset
    busy = False
    for c in cp.connectors:
        if p["type"] == "Immediate":
            c.end("HardReset")
        busy = busy or c.tx is not None
    # the hook runs once no transaction runs and nothing is owed to the CSMS, or 15 s later
    cp.resetting = [True, None if busy else later(ticks_ms(), 15), cp.config["ResetRetries"]]
    return {"status": "Scheduled" if busy else "Accepted"}
