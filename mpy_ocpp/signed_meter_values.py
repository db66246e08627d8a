# Signed meter values (German calibration law, "Eichrecht"): a meter that signs its readings,
# e.g. an OCMF document from a calibration-law meter, hands them over through a connector
# input, `c.measure("SignedData", read)` with read(context) -> (signedMeterData,
# signingMethod, encodingMethod, publicKey) or None; they go beside the plain readings. OCPP 1.6 (OCA's signed meter values paper): a
# sampledValue with format SignedData whose value is the 2.0.1 SignedMeterValueType as JSON;
# 2.0.1: signedMeterValue on the Energy.Active.Import.Register value of the same sample.
# Signed: Transaction.Begin and Transaction.End (kept in the journal with the transaction, so
# the signed start reading survives a power cut and goes in StopTransaction's
# transactionData; 1.6 also sends the start one in a MeterValues after StartTransaction, which
# has no room for it), and the periodic MeterValues with SampledDataSignUpdatedReadings.
# Not a feature profile: pass the module in `profiles` for its keys.
import json

from .compat import log
from .config import BOOL, STR
from .metering import ENERGY, inputs

_WHEN = ("Never", "OncePerTransaction", "EveryMeterValue")


def setup(cp):
    d = cp.config.declare
    d("SampledDataSignReadings", BOOL, True)
    d("SampledDataSignUpdatedReadings", BOOL, False)
    d("PublicKeyWithSignedMeterValue", STR, "OncePerTransaction", 0, lambda v: v in _WHEN)


def add(c, context, values):
    """The signed readings of connector c's "SignedData" inputs for `context`, if it calls for
    them, added to the sampledValues `values` (metering.sample)."""
    cfg = c.cp.config
    if not cfg["SampledDataSignReadings"] or context == "Sample.Periodic" and not cfg[
            "SampledDataSignUpdatedReadings"]:
        return
    when = cfg["PublicKeyWithSignedMeterValue"]
    for read, _ in inputs(c, "SignedData"):
        try:
            r = read(context)
        except Exception as e:  # the meter's driver must not stop the charger
            log("connector %d: no signed reading: %r" % (c.id, e))
            continue
        if r:
            key = r[3] if when == "EveryMeterValue" or when == "OncePerTransaction" and context == "Transaction.Begin" else ""
            env = {"signedMeterData": r[0], "signingMethod": r[1], "encodingMethod": r[2], "publicKey": key}
            values.append({"value": json.dumps(env), "format": "SignedData", "context": context,
                           "measurand": ENERGY, "unit": "Wh"})


def begun(c, tx):
    """1.6: the signed start reading in a MeterValues after StartTransaction."""
    mv = tx.data[0] if tx.data else None
    if mv and mv["sampledValue"][-1].get("format") and c.cp.version == "1.6" and not tx.unreported:
        c.cp.journal.push(tx, *c.cp.v.metered(c, None, mv))  # 1.6's, not an event
