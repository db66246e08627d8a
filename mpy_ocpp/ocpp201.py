# OCPP 2.0.1: what ChargePoint asks of the protocol version it runs (as ocpp16.py). Built so far:
# B01-B03 (BootNotification and what its status allows), B05-B07 (the device model, in
# device_model.py), B11-B12 (Reset: provisioning.py), C01/C05/C06/C10-C12/C15 (Authorize and the
# shared cache and offline rules, C11 ClearCache), E01-E14 (TransactionEvent and
# GetTransactionStatus: transactions.py), F01-F06 (remote_control.py), G01 (StatusNotification
# per EVSE), G02 (Heartbeat), G03-G04 (availability.py), J01-J02, M03-M05 (certificates.py),
# P01-P02 (DataTransfer). Every other CSMS->CP action is answered NotSupported.
# Connector i of ChargePoint is EVSE i with its one connector (connectorId 1).
from . import availability, certificates, clock, device_model, provisioning, remote_control, transactions
from .authorization_cache import AuthorizationCache as cache, ClearCache  # noqa: F401 (cache(cp): one use)
from . import schema201 as schema
from .transactions import authorized, begins, changed, lost, metered, sampled, started, stopped, triggered  # noqa: F401

SUBPROTOCOL = "ocpp2.0.1"
VERSION = "2.0.1"
TX_ID = str  # the charge point names its transactions
ACTIONS = schema.ACTIONS
# the modules with a handler per action, those with a setup() first (one action, one module);
# their names go again: the slots they leave are reused, so this module's dict stays at 29
# slots (37 with a global per module: 64 B more of heap)
_BLOCKS = (certificates, device_model, provisioning, availability, remote_control, transactions)
del availability, certificates, device_model, provisioning, remote_control, transactions


def select(cp):
    n = len(cp.connectors)
    cp.evse_status = [None] * n  # the connectorStatus last queued per EVSE
    cp.tx_state = [None] * n  # the chargingState last sent per EVSE
    cp.remote_start = [None] * n  # (remoteStartId, idToken) of the EVSE's last RequestStartTransaction
    cp.problem = [None] * n  # the error code last reported by NotifyEvent per EVSE (0: the station)
    cp.event_id = 0


def setup(cp):
    for m in _BLOCKS[:3]:  # certificates, device_model, provisioning
        m.setup(cp)


def handler(cp, action):
    if action == "DataTransfer":
        return type(cp).data_transfer_in
    if action == "ClearCache":  # C11
        return ClearCache
    for m in _BLOCKS:  # called with action names of ACTIONS only: never a helper
        f = getattr(m, action, None)
        if f:
            return f
    return None


def code(c):
    if c == "FormationViolation":
        return "FormatViolation"
    if c == "OccurenceConstraintViolation":
        return "OccurrenceConstraintViolation"
    return c


def boot(cp):
    b = cp.boot
    cs = {"model": b["chargePointModel"], "vendorName": b["chargePointVendor"]}
    for k, n in (("chargePointSerialNumber", "serialNumber"), ("firmwareVersion", "firmwareVersion")):
        if k in b:
            cs[n] = b[k]
    if "iccid" in b or "imsi" in b:
        cs["modem"] = {n: b[n] for n in ("iccid", "imsi") if n in b}
    return {"reason": cp.boot_reason, "chargingStation": cs}


def authorize(id_tag, kind):
    return {"idToken": {"idToken": id_tag, "type": kind}}


def id_info(res):
    """C01: an idTokenInfo as the 1.6 idTagInfo the cache and the connectors know."""
    i = res["idTokenInfo"]
    info = {"status": i["status"]}
    if "cacheExpiryDateTime" in i:
        info["expiryDate"] = i["cacheExpiryDateTime"]
    if "groupIdToken" in i:
        info["parentIdTag"] = i["groupIdToken"]["idToken"]
    return info


def status(cp, cid, status, err):
    """-> the StatusNotification of EVSE cid, or None: the station itself (0) has none, and
    the 1.6 statuses that all mean Occupied are one. An error code comes and goes as a
    NotifyEvent (2.0.1's StatusNotification has none)."""
    code = err if type(err) is str else err and err[0]
    if (code or "NoError") != (cp.problem[cid] or "NoError"):
        _problem(cp, cid, code if code != "NoError" else None, err)
    if cid:
        changed(cp.connectors[cid], status)
    s = "Occupied" if status in ("Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing") else status
    if cid == 0 or cp.evse_status[cid] == s:
        return None
    cp.evse_status[cid] = s
    return {"timestamp": clock.iso(), "connectorStatus": s, "evseId": cid, "connectorId": 1}


def _problem(cp, cid, code, err):
    """N07/G05-style HardWiredNotification: the Problem variable of the EVSE's connector (of
    the station for 0) becomes true with the 1.6 error code as techCode (info, vendorErrorCode
    as techInfo), or false (cleared) once the firmware reports NoError again."""
    old, cp.problem[cid] = cp.problem[cid], code
    now = clock.now()
    cp.event_id = max(cp.event_id + 1, now)  # unique across reboots while the clock is set
    e = {"eventId": cp.event_id, "timestamp": clock.iso(), "trigger": "Delta",
         "actualValue": "true" if code else "false", "techCode": (code or old)[:50],
         "eventNotificationType": "HardWiredNotification", "variable": {"name": "Problem"},
         "component": {"name": "Connector", "evse": {"id": cid, "connectorId": 1}} if cid
         else {"name": "ChargingStation"}}
    if code is None:
        e["cleared"] = True
    elif type(err) is not str:
        info = " ".join([x for x in err[1:3] if x])
        if info:
            e["techInfo"] = info[:500]
    tx = cp.connectors[cid].tx
    if tx is not None:
        e["transactionId"] = tx.id
    cp.call("NotifyEvent", {"generatedAt": e["timestamp"], "seqNo": 0, "eventData": [e]})
