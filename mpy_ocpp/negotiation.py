# Version negotiation, for a ChargePoint offering more than one version (only 2.0.1 builds can):
# the version last run is taken again at boot (its transaction messages may still be owed),
# and the one the CSMS chooses in the handshake replaces it.
from .compat import log, ticks_ms

_VERSION = "ocpp.json"


def setup(cp):
    vs = cp.versions
    last = cp.store.load(_VERSION, None, lambda d: d in [v.VERSION for v in vs])
    for v in vs:
        if v.VERSION == last:
            cp._use(v)


def chosen(cp, protocol):
    """Online: the CSMS chose `protocol`. Another version than the one in use boots again in
    it. Queued messages were made for the other one: they go, and the connectors report their
    status anew."""
    for v in cp.versions:
        if v.SUBPROTOCOL == protocol and v is not cp.v:
            log("OCPP %s chosen by the CSMS (was %s)" % (v.VERSION, cp.version))
            cp._use(v)
            cp.store.save(_VERSION, v.VERSION)
            old = cp.queue
            cp.queue = [e for e in old if e[4] is not None]  # transaction messages stay
            for e in old:  # the others were made for the other version: given up, and
                if e[4] is None:  # their callbacks hear it (before the boot is due again below)
                    cp._failed(e)
            cp.accepted = False
            cp._boot_due = ticks_ms()
            for c in cp.connectors:
                c.status = None
