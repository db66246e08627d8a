# OCPP 1.6-J: what ChargePoint asks of the protocol version it runs (ocpp201.py has the same
# names). Incoming calls go to the 1.6 feature profiles (core + those in the build).

from . import clock, schema

SUBPROTOCOL = "ocpp1.6"
VERSION = "1.6"
TX_ID = int  # the type of a transactionId (the CSMS gives it)
ACTIONS = schema.CALLS  # every CSMS->CP action: others are answered NotImplemented


# the Core profile's calls: core.py, imported for the call only (compat.run_in)
_CORE = ("ChangeAvailability", "ChangeConfiguration", "ClearCache", "DataTransfer", "GetConfiguration",
         "RemoteStartTransaction", "RemoteStopTransaction", "Reset", "UnlockConnector")


def handler(cp, action):  # -> a function(cp, payload), or None
    m = None  # the module to import for the call
    if action in _CORE:
        m = "core"
    else:
        for p in cp.profiles:
            f = getattr(p, action, None)
            if f:
                return f
            if action in getattr(p, "CALLS", ()):  # handled by <profile>_calls.py
                m = p.__name__.rsplit(".", 1)[1] + "_calls"
                break
    return m and (lambda cp, p: run_in(m, action, cp, p))


def cache(cp):  # the Authorization Cache for one use: its module too (its state is a file)
    return load("authorization_cache").AuthorizationCache(cp)


def code(c):  # error codes are spelled as 1.6 spells them everywhere in the library
    return c


def boot(cp):
    return cp.boot


def authorize(id_tag, kind):
    return {"idTag": id_tag}


def id_info(res):
    return res["idTagInfo"]


def begins(c, plugged):  # a transaction starts with the card accepted and the cable in
    return c.session is not None and plugged


def started(c, tx):  # -> the first message of the transaction
    p = {"connectorId": c.id, "idTag": tx.id_tag, "meterStart": tx.meter_start, "timestamp": tx.start}
    if tx.reservation is not None:
        p["reservationId"] = tx.reservation
    return "StartTransaction", p


def stopped(c, tx, reason, id_tag):
    p = {"meterStop": c.meter(), "timestamp": clock.iso(), "reason": reason}
    if id_tag:
        p["idTag"] = id_tag
    if tx.data:
        p["transactionData"] = tx.data
    return "StopTransaction", p


def lost(tx):  # the StopTransaction of a transaction whose record was lost (journal._lost)
    return "StopTransaction", {"meterStop": tx.meter_start, "timestamp": clock.iso(), "reason": "Other"}


def metered(c, tx, mv):  # in a transaction or not: the journal gives its transactionId
    return "MeterValues", {"connectorId": c.id, "meterValue": [mv]}


def status(cp, cid, status, err):
    p = {"connectorId": cid, "status": status, "errorCode": "NoError", "timestamp": clock.iso()}
    if err is not None:
        if type(err) is str:
            p["errorCode"] = err
        else:
            p["errorCode"] = err[0]
            if err[1]:
                p["info"] = err[1]
            if len(err) > 2 and err[2]:
                p["vendorErrorCode"] = err[2]
    return p


def load(name):
    """The package's module `name`, imported without sys.modules keeping it (unless something
    else already holds it there): frozen, its code stays in flash, but its functions and
    globals take heap only while a caller holds it. Such a module keeps no state."""
    import sys  # here, not a global: the module's dict stays at 23 names (29 slots: 48 B more)

    pkg = __name__.rsplit(".", 1)[0]
    full = pkg + "." + name
    held = full in sys.modules
    m = __import__(full, None, None, ("_",))
    if not held:
        del sys.modules[full]
        pkg = sys.modules.get(pkg)
        if pkg and name in pkg.__dict__:
            delattr(pkg, name)
    return m


def run_in(name, fn, *args):  # `fn` of module `name`, the module held for this call only
    return getattr(load(name), fn)(*args)
