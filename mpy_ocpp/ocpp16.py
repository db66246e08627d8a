# OCPP 1.6-J: what ChargePoint asks of the protocol version it runs (ocpp201.py has the same
# names). Incoming calls go to the 1.6 feature profiles (core + those in the build).
from . import clock, schema

SUBPROTOCOL = "ocpp1.6"
VERSION = "1.6"
ACTIONS = schema.CALLS  # every CSMS->CP action: others are answered NotImplemented
TRANSACTIONS = True


def select(cp):
    pass


def handler(cp, action):
    for p in cp.profiles:
        f = getattr(p, action, None)
        if f:
            return f
    return None


def code(c):  # error codes are spelled as 1.6 spells them everywhere in the library
    return c


def boot(cp):
    return cp.boot


def meter_values(cid, mv):
    return {"connectorId": cid, "meterValue": [mv]}


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
