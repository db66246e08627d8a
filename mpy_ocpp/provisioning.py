# OCPP 2.0.1 provisioning, B11-B12: Reset of the station, and the BootNotification reason
# after it (RemoteReset). No transaction runs under 2.0.1 yet, so OnIdle is Immediate for now.
# A reset of one EVSE is Rejected: the firmware API has no EVSE-level restart (on_reset
# restarts the station; it is called with hard=True).
from .compat import ticks_ms
from .connector import later

_REASON = "reset.json"  # the reason of the next boot, written just before the reset


def setup(cp):
    if cp.store.load(_REASON, None, lambda d: d == "RemoteReset"):
        cp.boot_reason = "RemoteReset"
        cp.store.remove(_REASON)


def Reset(cp, p):
    if cp.on_reset is None or "evseId" in p or not cp.store.save(_REASON, "RemoteReset"):
        return {"status": "Rejected"}
    # the hook runs once nothing is owed to the CSMS, or after 15 s
    cp.resetting = [True, later(ticks_ms(), 15), cp.config["ResetRetries"]]
    return {"status": "Accepted"}
