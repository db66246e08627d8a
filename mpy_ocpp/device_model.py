# The OCPP 2.0.1 device model (B05 SetVariables, B06 GetVariables, B07 GetBaseReport with its
# NotifyReports): the components and variables of the use cases built so far, one table in
# flash. A variable's value lives in Config: under the 1.6 key of the same setting where 1.6
# has one (either version may change it, the other sees it), else under a 2.0.1-only key
# (flag V201, added by setup()); a few are read from the charge point ("=name").
# Names are matched case-insensitively; only the Actual attribute exists.
from . import certificates, clock
from .rpc import CallError

# A component's name, then its variables: (variable, variable instance or None, Config key,
# "=computed", or None: the key is the variable's name and instance, joined); _vars() gives
# the rows whole. Each name is written once: a repeated string in a constant tuple is a copy
# in the .mpy.
VARS = (
    "AlignedDataCtrlr",
    ("Interval", None, "ClockAlignedDataInterval"),
    ("Measurands", None, "MeterValuesAlignedData"),
    ("TxEndedMeasurands", None, "StopTxnAlignedData"),
    "AuthCacheCtrlr",
    ("Enabled", None, "AuthorizationCacheEnabled"),
    "AuthCtrlr",
    ("AuthorizeRemoteStart", None, "AuthorizeRemoteTxRequests"),
    ("LocalAuthorizeOffline", None, None),
    ("LocalPreAuthorize", None, None),
    ("OfflineTxForUnknownIdEnabled", None, "AllowOfflineTxForUnknownId"),
    "ChargingStation",
    ("Available", None, "=available"),
    ("AvailabilityState", None, "=state"),
    ("Model", None, "=model"),
    ("VendorName", None, "=vendor"),
    "Connector",
    ("Available", None, "=available"),
    ("AvailabilityState", None, "=state"),
    "DeviceDataCtrlr",
    ("ItemsPerMessage", "GetReport", None),
    ("ItemsPerMessage", "GetVariables", None),
    ("ItemsPerMessage", "SetVariables", None),
    "EVSE",
    ("Available", None, "=available"),
    ("AvailabilityState", None, "=state"),
    "OCPPCommCtrlr",
    ("HeartbeatInterval", None, None),
    ("MessageAttemptInterval", "TransactionEvent", "TransactionMessageRetryInterval"),
    ("MessageAttempts", "TransactionEvent", "TransactionMessageAttempts"),
    ("ResetRetries", None, None),
    ("UnlockOnEVSideDisconnect", None, "UnlockConnectorOnEVSideDisconnect"),
    ("WebSocketPingInterval", None, None),
    "SampledDataCtrlr",
    ("TxEndedMeasurands", None, "StopTxnSampledData"),
    ("TxUpdatedInterval", None, "MeterValueSampleInterval"),
    ("TxUpdatedMeasurands", None, "MeterValuesSampledData"),
    "SecurityCtrlr",
    ("BasicAuthPassword", None, "AuthorizationKey"),
    ("CertificateEntries", None, "=certs"),
    ("Identity", None, "=id"),
    ("OrganizationName", None, None),
    ("SecurityProfile", None, "=profile"),
    "TxCtrlr",
    ("EVConnectionTimeOut", None, "ConnectionTimeOut"),
    ("MaxEnergyOnInvalidId", None, None),
    ("StopTxOnEVSideDisconnect", None, "StopTransactionOnEVSideDisconnect"),
    ("StopTxOnInvalidId", None, "StopTransactionOnInvalidId"),
    ("TxStartPoint", None, None),
    ("TxStopPoint", None, None),
)
_PER_EVSE = ("EVSE", "Connector")  # one instance per EVSE (a Connector: its connector 1)


def _points(v):  # TxStartPoint, TxStopPoint: the values are a constant here, not a global
    items = v.split(",")  # (this module's dict then holds 23 names, and 23 slots, not 29)
    return all([i in ("ParkingBayOccupancy", "EVConnected", "Authorized", "DataSigned", "PowerPathClosed",
                      "EnergyTransfer") for i in items]) and len(set(items)) == len(items)


# config's kinds and flags as constants of this module: the table is one constant in flash
# (built from imported names, it would take heap), and no imported name takes a global's slot
_BOOL = const(0)
_INT = const(1)
_STR = const(2)
_MEASURANDS = const(3)
_MEMBERS = const(6)
_RO = const(1)
_WO = const(2)
_RO_V201 = const(1 | 16)  # RO | V201
_V201 = const(16)
_KEYS = (("ItemsPerMessageGetReport", _INT, _RO_V201, 8), ("ItemsPerMessageGetVariables", _INT, _RO_V201, 16),
         ("ItemsPerMessageSetVariables", _INT, _RO_V201, 16), ("TxStartPoint", _MEMBERS, _V201, "PowerPathClosed"),
         ("TxStopPoint", _MEMBERS, _V201, "EVConnected,Authorized"), ("OrganizationName", _STR, _V201, ""))


def setup(cp):
    """The 2.0.1-only values, before Config.load() reads the stored ones."""
    cfg = cp.config
    cfg.add(_KEYS)
    cfg.checks["TxStartPoint"] = cfg.checks["TxStopPoint"] = _points


def _vars():  # (component, variable, instance, key) of each variable, in table order
    for r in VARS:
        if type(r) is str:
            c = r
        else:
            yield c, r[0], r[1], r[2] or (r[0] + r[1] if r[1] else r[0])


def _same(a, b):  # case-insensitive, None = absent
    return a is b or (a is not None and b is not None and a.lower() == b.lower())


def _find(cp, comp, var):
    """(row, evse id or 0) for a component and a variable of a request, else the status."""
    name, e = comp["name"], comp.get("evse")
    evse = e["id"] if e else 0
    known = False
    for r in _vars():
        if not _same(r[0], name) or _same(r[0], "Connector") and e and e.get("connectorId", 1) != 1:
            continue
        if (r[0] in _PER_EVSE) != (0 < evse < len(cp.connectors)) or comp.get("instance") is not None:
            continue
        known = True
        if _same(r[1], var["name"]) and _same(r[2], var.get("instance")):
            return r, evse
    return "UnknownVariable" if known else "UnknownComponent"


def _value(cp, r, evse):
    """The value's text (None: write-only)."""
    k = r[3]
    if k == "=available":
        return "true"
    if k == "=state":
        s = cp.connectors[evse].status or "Available"
        return "Occupied" if s in ("Preparing", "Charging", "SuspendedEV", "SuspendedEVSE",
                                   "Finishing") else s
    if k == "=model" or k == "=vendor":
        return cp.boot["chargePointModel" if k == "=model" else "chargePointVendor"]
    if k == "=id":
        return cp.id
    if k == "=certs":
        return str(len(certificates.installed(cp)))
    if k == "=profile":  # 1: Basic auth over ws://, 2: over wss://, 3: a client certificate
        t = cp.transport
        return "3" if getattr(t, "client_cert", False) else "2" if getattr(t, "ctx", None) else "1"
    e = cp.config.find(k)
    if e[2] & _WO:
        return None
    v = cp.config.value(e)
    return ("true" if v else "false") if e[1] == _BOOL else str(v)


def _too_many(cp, items, what):
    if len(items) > cp.config["ItemsPerMessage" + what]:
        raise CallError("OccurenceConstraintViolation", "More than ItemsPerMessage%s" % what)


def _result(d, status):
    out = {"attributeStatus": status, "component": d["component"], "variable": d["variable"]}
    if "attributeType" in d:
        out["attributeType"] = d["attributeType"]
    return out


def GetVariables(cp, p):
    items = p["getVariableData"]
    _too_many(cp, items, "GetVariables")
    out = []
    for d in items:
        f = _find(cp, d["component"], d["variable"])
        v = None
        if type(f) is str:
            status = f
        elif d.get("attributeType", "Actual") != "Actual":
            status = "NotSupportedAttributeType"
        else:
            v = _value(cp, f[0], f[1])
            status = "Rejected" if v is None else "Accepted"
        r = _result(d, status)
        if v is not None:
            r["attributeValue"] = v[:2500]
        out.append(r)
    return {"getVariableResult": out}


def SetVariables(cp, p):
    items = p["setVariableData"]
    _too_many(cp, items, "SetVariables")
    out = []
    for d in items:
        f = _find(cp, d["component"], d["variable"])
        if type(f) is str:
            status = f
        elif d.get("attributeType", "Actual") != "Actual":
            status = "NotSupportedAttributeType"
        elif f[0][3][0] == "=":
            status = "Rejected"  # read from the charge point: read-only
        elif f[0][1] == "BasicAuthPassword" and not 16 <= len(d["attributeValue"]) <= 40:
            status = "Rejected"  # 2.0.1's passwordString; 1.6's AuthorizationKey has no such rule
        else:
            status = cp.config.set(cp.config.find(f[0][3]), d["attributeValue"])
        out.append(_result(d, status))
    return {"setVariableResult": out}


def _rows(cp, base):
    """(row, evse) of a report, in table order, EVSE components once per EVSE."""
    n = len(cp.connectors)
    for r in _vars():
        if base == "SummaryInventory" and r[1] != "AvailabilityState":
            continue
        if base == "ConfigurationInventory" and (r[3][0] == "=" or cp.config.find(r[3])[2] & _RO):
            continue
        for evse in range(1, n) if r[0] in _PER_EVSE else (0,):
            yield r, evse


def _item(cp, r, evse):
    comp = {"name": r[0]}
    if evse:
        comp["evse"] = {"id": evse, "connectorId": 1} if r[0] == "Connector" else {"id": evse}
    var = {"name": r[1]}
    if r[2]:
        var["instance"] = r[2]
    computed = r[3][0] == "="
    e = None if computed else cp.config.find(r[3])
    flags = _RO if computed else e[2]
    attr = {"type": "Actual", "mutability": "WriteOnly" if flags & _WO else "ReadOnly" if flags & _RO
            else "ReadWrite", "persistent": not computed, "constant": r[3] in ("=model", "=vendor")}
    v = _value(cp, r, evse)
    if v is not None:
        attr["value"] = v[:2500]
    kind = (_BOOL if r[3] == "=available" else _INT if r[3] in ("=certs", "=profile") else _STR
            if computed else e[1])
    return {"component": comp, "variable": var, "variableAttribute": [attr],
            "variableCharacteristics": {"dataType": _data_type(kind), "supportsMonitoring": False}}


def _data_type(kind):
    if kind == _BOOL:
        return "boolean"
    if kind == _INT:
        return "integer"
    return "MemberList" if kind == _MEASURANDS or kind == _MEMBERS else "string"


def GetBaseReport(cp, p):
    _report(cp, p["requestId"], p["reportBase"], 0)
    return {"status": "Accepted"}


def _report(cp, rid, base, seq):
    """NotifyReport number seq of the report: ItemsPerMessageGetReport items; the next part
    is queued when this one is answered (or given up), so one part is queued at a time, and
    its items are made while it is written (rpc.dump), one at a time."""
    per = cp.config["ItemsPerMessageGetReport"]
    lo, hi = seq * per, (seq + 1) * per
    n = 0
    for _ in _rows(cp, base):
        n += 1

    def items():
        i = 0
        for r, evse in _rows(cp, base):
            if lo <= i < hi:
                yield _item(cp, r, evse)
            i += 1
    more = n > hi
    p = {"requestId": rid, "generatedAt": clock.iso(), "seqNo": seq, "tbc": more, "reportData": items}
    cp.call("NotifyReport", p, (lambda res: _report(cp, rid, base, seq + 1)) if more else None)
