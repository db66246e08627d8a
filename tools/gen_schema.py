"""Generate mpy_ocpp/schema.py (OCPP 1.6) and mpy_ocpp/schema201.py (OCPP 2.0.1) from the
official JSON schemas shipped by the `ocpp` package (CPython, host only).

    .venv/bin/python tools/gen_schema.py            # rewrite both
    .venv/bin/python tools/gen_schema.py --check    # exit 1 if one is out of date

Only what the charge point receives: the requests of the CSMS->CP actions and the responses of
the CP->CSMS actions. Every distinct sub-schema becomes one entry of the constant tuple `T`
(shared ones - idTagInfo, chargingProfile, enums - appear once); entries refer to each other
by index, so the whole table is one constant that mpy-cross freezes into flash. The node
layout is described in mpy_ocpp/validate.py; the kind numbers below must match its consts.
The 2.0.1 schemas' `$ref`s are resolved first (load()); their objects without
`additionalProperties: false` (customData) are open. Every 2.0.1 object has the same optional
`customData`: it is left out of the object nodes and the table names its node once (CUSTOM), as
validate.py expects; 44 copies of the name were about 530 B of .mpy. For 2.0.1 only the actions built so far
have tables (CALLS); ACTIONS names every CSMS->CP action, so that the others are answered
NotSupported rather than NotImplemented.
"""
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "mpy_ocpp" / "schema.py"
OUT_201 = ROOT / "mpy_ocpp" / "schema201.py"

# CSMS -> CP actions of OCPP 1.6 (all profiles): the charge point validates their requests.
CALLS = (
    "CancelReservation", "ChangeAvailability", "ChangeConfiguration", "ClearCache",
    "ClearChargingProfile", "DataTransfer", "GetCompositeSchedule", "GetConfiguration",
    "GetDiagnostics", "GetLocalListVersion", "RemoteStartTransaction", "RemoteStopTransaction",
    "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile", "TriggerMessage",
    "UnlockConnector", "UpdateFirmware",
    # the Security extension (whitepaper ed. 3) built so far: security.py
    "DeleteCertificate", "ExtendedTriggerMessage", "GetInstalledCertificateIds", "InstallCertificate",
    "GetLog", "CertificateSigned", "SignedUpdateFirmware",
)
# CP -> CSMS actions: the charge point validates their responses.
SENT = (
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
    "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
    "StatusNotification", "StopTransaction", "SecurityEventNotification", "LogStatusNotification",
    "SignCertificate", "SignedFirmwareStatusNotification",
)

# OCPP 2.0.1: every CSMS -> CP action; those with tables so far (the use cases built); the
# CP -> CSMS actions the charge point sends, whose responses it checks.
ACTIONS_201 = (
    "CancelReservation", "CertificateSigned", "ChangeAvailability", "ClearCache",
    "ClearChargingProfile", "ClearDisplayMessage", "ClearVariableMonitoring", "CostUpdated",
    "CustomerInformation", "DataTransfer", "DeleteCertificate", "GetBaseReport",
    "GetCertificateStatus", "GetChargingProfiles", "GetCompositeSchedule", "GetDisplayMessages",
    "GetInstalledCertificateIds", "GetLocalListVersion", "GetLog", "GetMonitoringReport",
    "GetReport", "GetTransactionStatus", "GetVariables", "InstallCertificate", "PublishFirmware",
    "RequestStartTransaction", "RequestStopTransaction", "ReserveNow", "Reset", "SendLocalList",
    "SetChargingProfile", "SetDisplayMessage", "SetMonitoringBase", "SetMonitoringLevel",
    "SetNetworkProfile", "SetVariableMonitoring", "SetVariables", "TriggerMessage",
    "UnlockConnector", "UnpublishFirmware", "UpdateFirmware",
)
CALLS_201 = ("ChangeAvailability", "ClearCache", "DataTransfer", "DeleteCertificate", "GetBaseReport",
             "GetInstalledCertificateIds", "GetTransactionStatus", "GetVariables", "InstallCertificate",
             "RequestStartTransaction", "RequestStopTransaction", "Reset", "SetVariables",
             "TriggerMessage", "UnlockConnector")
SENT_201 = ("Authorize", "BootNotification", "DataTransfer", "Heartbeat", "MeterValues",
            "NotifyEvent", "NotifyReport", "SecurityEventNotification", "StatusNotification",
            "TransactionEvent")

ARR, STR, DT, INT, NUM, BOOL, ANY = range(-1, -8, -1)  # = _ARR.._ANY in mpy_ocpp/validate.py
IGNORED = {"$schema", "$id", "title", "description", "javaType", "comment", "default",
           "definitions"}


def schema_dir(version="1.6"):
    import ocpp

    return Path(ocpp.__file__).parent / ("v16" if version == "1.6" else "v201") / "schemas"


def load(name, version="1.6"):
    """The schema of `name` (an action's request, or "<action>Response"), `$ref`s resolved."""
    if version != "1.6" and not name.endswith("Response"):
        name += "Request"
    doc = json.loads((schema_dir(version) / (name + ".json")).read_text(encoding="utf-8-sig"))
    defs = doc.get("definitions", {})

    def resolve(x):
        if isinstance(x, dict):
            if "$ref" in x:
                ref = x["$ref"]
                if not ref.startswith("#/definitions/") or set(x) - {"$ref", "description"}:
                    raise SystemExit("%s: unsupported $ref %s" % (name, ref))
                return resolve(defs[ref[14:]])
            return {k: resolve(v) for k, v in x.items() if k != "definitions"}
        return [resolve(v) for v in x] if isinstance(x, list) else x
    return resolve(doc)


CUSTOM = "customData"  # 2.0.1: in every object, optional, always the same (checked by node())


def node(s, path, custom=None):
    """The schema `s` as a hashable node; children are nodes too (replaced by indices later).
    custom: a list to hold the customData node, which is then left out of the objects."""
    def take(*keys):
        extra = set(s) - IGNORED - {"type"} - set(keys)
        if extra:
            raise SystemExit("%s: unsupported keywords %s" % (path, sorted(extra)))
        return [s.get(k) for k in keys]

    t = s.get("type")
    if t == "object":
        props, req, add = take("properties", "required", "additionalProperties")
        if add not in (False, None):
            raise SystemExit(path + ": only additionalProperties false or absent is supported")
        if add is None and "additionalProperties" in s:
            raise SystemExit(path + ": additionalProperties null")
        props, req = props or {}, req or []
        if len(set(req)) != len(req) or any(n not in props for n in req):
            raise SystemExit(path + ": bad required list")
        out = [len(req)]
        if custom is not None and path.split(".")[-1] != CUSTOM:
            if CUSTOM not in props or CUSTOM in req:
                raise SystemExit(path + ": no optional customData")
            c = node(props[CUSTOM], path + "." + CUSTOM, custom)
            if custom and custom[0] != c:
                raise SystemExit(path + ": another customData")
            custom[:] = [c]
        for n in req + [n for n in props if n not in req]:
            if n != CUSTOM or custom is None:
                out += [n, node(props[n], path + "." + n, custom)]
        return tuple(out + ([] if add is False else [None]))  # open: even length
    if t == "array":
        items, lo, hi, _ = take("items", "minItems", "maxItems", "additionalItems")
        if not isinstance(items, dict):
            raise SystemExit(path + ": only a single items schema is supported")
        return (ARR, node(items, path + "[]", custom), lo or 0, hi)
    if t == "string":
        # additionalProperties on a string is meaningless (and ignored by draft-04)
        enum, mx, fmt, _ = take("enum", "maxLength", "format", "additionalProperties")
        if enum:
            if mx is not None or fmt or not all(isinstance(e, str) for e in enum):
                raise SystemExit(path + ": unsupported enum")
            return tuple(enum)
        if fmt == "date-time":
            if mx is not None:
                raise SystemExit(path + ": maxLength on a date-time")
            return (DT,)
        if fmt not in (None, "uri"):  # uri: not checked (nor by jsonschema without rfc3987)
            raise SystemExit(path + ": unsupported format " + fmt)
        return (STR, mx)
    if t == "integer":
        lo, hi = take("minimum", "maximum")
        return (INT,) if lo is None and hi is None else (INT, lo, hi)
    if t == "number":
        mul, lo = take("multipleOf", "minimum")
        return (NUM, mul, lo)
    if t == "boolean":
        take()
        return (BOOL,)
    if t is None and not set(s) - IGNORED:  # no type, no constraint: any JSON value
        return (ANY,)
    raise SystemExit("%s: unsupported type %r" % (path, t))


def kind(n):
    return "enum" if type(n[0]) is str else "object" if n[0] >= 0 else n[0]


def children(n):
    k = kind(n)
    return list(n[2:len(n) - (len(n) + 1) % 2:2]) if k == "object" else [n[1]] if k == ARR else []


def build(version="1.6"):
    """The table T (most referenced nodes first, then the roots in CALLS + SENT order), the
    index of the first root, for each node the property names it is used for, and the index of
    the customData node (2.0.1) or None."""
    calls, sent = (CALLS, SENT) if version == "1.6" else (CALLS_201, SENT_201)
    custom = None if version == "1.6" else []
    roots = [node(load(a, version), a, custom) for a in calls] + [
        node(load(a + "Response", version), a + "Response", custom) for a in sent]
    uses = Counter()
    keys = {}
    if custom:  # first in T: index 0
        uses[custom[0]] = 1 << 20
        keys[custom[0]] = {CUSTOM}

    def count(n):
        for i, c in enumerate(children(n)):
            uses[c] += 1
            keys.setdefault(c, set()).add(n[1 + 2 * i] if kind(n) == "object" else "items")
            if uses[c] == 1:
                count(c)

    for r in [custom[0]] + roots if custom else roots:
        count(r)
    inner = sorted(uses, key=lambda n: (-uses[n], repr(n)))  # repr: stable order
    index = {n: i for i, n in enumerate(inner)}

    def flat(n):
        k = kind(n)
        if k == ARR:
            return (ARR, index[n[1]]) + n[2:]
        if k != "object":
            return n
        out = [n[0]]
        for i in range(1, len(n) - 1, 2):
            out += [n[i], index[n[i + 1]]]
        return tuple(out + ([None] if len(n) % 2 == 0 else []))

    # roots are never shared: T[first + i] belongs to action i even if two schemas are equal
    return ([flat(n) for n in inner + roots], len(inner), [keys[n] for n in inner],
            0 if custom else None)


def describe(n):
    k = kind(n)
    return k if type(k) is str else ("array", "string", "date-time", "integer", "number",
                                     "boolean", "any")[-1 - k]


def wrap(n, width=99):
    """Source lines of node n: a tuple, an object's name/child pairs kept together."""
    parts = [repr(x) for x in n]
    if len(parts) == 1:
        return ["    (%s,)," % parts[0]]
    if kind(n) == "object":
        parts = parts[:1] + ["%s, %s" % p for p in zip(parts[1::2], parts[2::2])] + parts[1 + 2 * ((len(parts) - 1) // 2):]
    lines = ["    ("]
    for p in parts:
        if len(lines[-1]) + len(p) + 2 > width:
            lines.append("     ")
        lines[-1] += p + ", "
    return [ln.rstrip() for ln in lines[:-1]] + [lines[-1][:-2] + "),"]


def render(version="1.6"):
    calls, sent = (CALLS, SENT) if version == "1.6" else (CALLS_201, SENT_201)
    table, first, keys, cd = build(version)
    lines = [
        "# Generated by tools/gen_schema.py from the OCPP %s JSON schemas of the `ocpp`" % version,
        "# package - do not edit. Regenerate: .venv/bin/python tools/gen_schema.py",
        "# Node layout: see mpy_ocpp/validate.py. All tables are constants (no heap when frozen).",
        "# T[%d + i] is the request of CALLS[i], then come the responses of _SENT." % first,
        "",
    ]
    if version != "1.6":
        lines += ["# every CSMS->CP action of OCPP %s (unknown ones are NotImplemented)" % version,
                  "ACTIONS = ("] + ["    %r," % a for a in ACTIONS_201] + [")"]
    lines += ["# CSMS->CP actions the charge point %s (their requests are in T)"
              % ("knows" if version == "1.6" else "checks so far"), "CALLS = ("]
    lines += ["    %r," % a for a in calls]
    lines += [")", "# CP->CSMS actions whose responses (\"<name>Response\") are in T", "_SENT = ("]
    lines += ["    %r," % a for a in sent]
    lines += [")", "# T[CUSTOM]: the customData any 2.0.1 object may hold, left out of the object nodes",
              "CUSTOM = %r" % cd, "", "T = ("]
    names = list(calls) + [a + "Response" for a in sent]
    for i, n in enumerate(table):
        if i < first:
            used = sorted(keys[i])
            what = "%s: %s" % (describe(n), ", ".join(used[:4]) + (", ..." if used[4:] else ""))
        else:
            what = names[i - first]
        lines.append("    # %d %s" % (i, what))
        lines += wrap(n)
    lines += [
        ")",
        "",
        "",
        "def spec(name):",
        "    \"\"\"The root node of the request `name` or of the response `name + 'Response'`,",
        "    or None.\"\"\"",
        "    if name in CALLS:",
        "        return T[%d + CALLS.index(name)]" % first,
        "    if name.endswith(\"Response\"):",
        "        n = len(name) - 8",
        "        for i in range(len(_SENT)):",
        "            if len(_SENT[i]) == n and name.startswith(_SENT[i]):",
        "                return T[%d + i]" % (first + len(calls)),
        "    return None",
        "",
    ]
    return "\n".join(lines)


def main():
    stale = False
    for version, out in (("1.6", OUT), ("2.0.1", OUT_201)):
        text = render(version)
        if "--check" in sys.argv:
            stale = stale or not out.exists() or out.read_text() != text
        else:
            out.write_text(text)
    sys.exit(1 if stale else 0)


if __name__ == "__main__":
    main()
