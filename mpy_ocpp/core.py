# The Core profile's operations initiated by the CSMS. Each function is named after its OCPP
# action and returns the answer's payload (or raises rpc.CallError).
from .compat import ticks_ms
from .ocpp16 import run_in
from .connector import later
from .rpc import CallError

PROFILE = "Core"


def _connector(cp, cid, zero=False):
    if cid < (0 if zero else 1) or cid >= len(cp.connectors):
        return None
    return cp.connectors[cid]


def ChangeAvailability(cp, p):
    cid = p["connectorId"]
    if _connector(cp, cid, True) is None:
        return {"status": "Rejected"}
    done = cp.set_available(cid, p["type"] == "Operative")
    return {"status": "Rejected" if done is None else "Accepted" if done else "Scheduled"}


def ChangeConfiguration(cp, p):
    return {"status": cp.config.change(p["key"], p["value"])}


def ClearCache(cp, p):  # authorization_cache's (2.0.1's C11 too), loaded for it
    return run_in("authorization_cache", "ClearCache", cp, p)


def DataTransfer(cp, p):
    return cp.data_transfer_in(p)


def GetConfiguration(cp, p):
    keys = p.get("key")
    if keys and len(keys) > cp.config["GetConfigurationMaxKeys"]:
        raise CallError("OccurenceConstraintViolation", "More keys than GetConfigurationMaxKeys")
    return cp.config.get_configuration(keys)


def RemoteStartTransaction(cp, p):
    cid = p.get("connectorId")
    tag = p["idTag"]
    if cid is None:
        c = cp._connector_for(0, tag)
    else:
        c = _connector(cp, cid)
    if c is None or c.tx or c.session or not c.operative or c.status == "Faulted":
        return {"status": "Rejected"}
    r = cp.reservation
    if r and r.reserved(c.id) and not r.allows(c.id, tag, None):
        return {"status": "Rejected"}
    if ("chargingProfile" in p and "SmartCharging" in cp.config["SupportedFeatureProfiles"]
            and not run_in("smart_charging_calls", "remote_start", cp, c, p["chargingProfile"])):
        return {"status": "Rejected"}  # e.g. not a TxProfile
    if cp.config["AuthorizeRemoteTxRequests"]:
        cp.authorize(tag, lambda info: c.authorized(tag, info))
    else:
        c.begin(tag)
    return {"status": "Accepted"}


def RemoteStopTransaction(cp, p):
    return {"status": cp.remote_stop(p["transactionId"])}


def Reset(cp, p):
    if cp.on_reset is None:
        return {"status": "Rejected"}
    hard = p["type"] == "Hard"
    cp.security_event("ResetOrReboot", p["type"])
    for c in cp.connectors:
        c.end("HardReset" if hard else "SoftReset")
    # the hook runs once the StopTransactions are out, or after 15 s
    cp.resetting = [hard, later(ticks_ms(), 15), cp.config["ResetRetries"]]
    return {"status": "Accepted"}


def UnlockConnector(cp, p):
    c = _connector(cp, p["connectorId"])
    return {"status": c.unlock() if c else "NotSupported"}
