"""Signed meter values (Eichrecht): the simulator's meters sign their readings (OCMF documents
with a stand-in signature) and the charge point carries them as OCA's paper for 1.6 and 2.0.1
say, the signed start reading kept in the journal across a SIGKILL and an offline end. tools/sim.py against
tools/csms.py (the `ocpp` package's schemas), on CPython and the MicroPython unix port."""
import base64
import json

import pytest

from tests_host import simproc

pytestmark = pytest.mark.parametrize("runtime", simproc.RUNTIMES)


def signed(mvs):
    """(context, envelope) of every SignedData sampledValue of 1.6 meterValues."""
    return [(s["context"], json.loads(s["value"])) for mv in mvs for s in mv["sampledValue"]
            if s.get("format") == "SignedData"]


def ocmf(env):
    doc = base64.b64decode(env["signedMeterData"]).decode()
    assert doc.startswith("OCMF|") and env["encodingMethod"] == "OCMF"
    return json.loads(doc.split("|")[1])["RD"][0]


def test_signed_readings_in_1_6_survive_a_kill(runtime, csms, sims):
    sim = sims(runtime, booted=True, ocpp="1.6", signed_meter="yes")
    set_ = lambda k, v: csms.call("CP_1", "ChangeConfiguration", {"key": k, "value": v})["status"]  # noqa: E731
    assert set_("PublicKeyWithSignedMeterValue", "Sometimes") == "Rejected"
    assert set_("SampledDataSignUpdatedReadings", "true") == set_("MeterValueSampleInterval", "1") == "Accepted"
    sim.cmd("plug 1", "tag 1 CARD")
    csms.wait_action("CP_1", "StartTransaction")
    # StartTransaction has no room for it: the signed start reading follows in a MeterValues
    csms.wait_action("CP_1", "MeterValues", where=lambda p: signed(p["meterValue"]))
    (ctx, env), = signed(csms.received("CP_1", "MeterValues")[0]["meterValue"])
    assert ctx == "Transaction.Begin" and env["publicKey"] == "SIM-KEY-CP_1" and ocmf(env)["TX"] == "B"
    csms.wait_action("CP_1", "MeterValues", count=2, timeout=10)
    periodic = signed(csms.received("CP_1", "MeterValues")[1]["meterValue"])
    assert [c for c, _ in periodic] == ["Sample.Periodic"]
    assert periodic[0][1]["publicKey"] == "" and ocmf(periodic[0][1])["TX"] == "T"  # the key once per transaction
    assert set_("SampledDataSignUpdatedReadings", "false") == set_("MeterValueSampleInterval", "0") == "Accepted"
    sim.kill()  # a power cut in the middle: the signed start reading is in the journal
    port = csms.port
    csms.stop()  # and the charger comes back to no CSMS: the transaction ends offline
    sim = sims(runtime, boot=False, ocpp="1.6", signed_meter="yes")
    sim.status()
    sim.cmd("unplug 1")
    sim.wait_status(lambda s: s["connectors"][1]["transaction"] is None and not s["online"])
    csms.start(port=port)
    csms.wait_action("CP_1", "StopTransaction", timeout=20)
    stop = csms.received("CP_1", "StopTransaction")[-1]
    got = signed(stop["transactionData"])
    assert [c for c, _ in got] == ["Transaction.Begin", "Transaction.End"]
    assert got[0][1] == env and got[1][1]["publicKey"] == "" and ocmf(got[1][1])["TX"] == "E"
    assert csms.violations == []


def test_signed_readings_in_2_0_1(runtime, csms_factory, sims):
    csms = csms_factory(versions=("ocpp2.0.1",))
    sim = sims(runtime, server=csms, ocpp="2.0.1", signed_meter="yes")
    csms.wait_action("CP_1", "StatusNotification", count=2)
    sim.cmd("plug 1", "tag 1 CARD")
    csms.wait_action("CP_1", "TransactionEvent")
    sim.cmd("unplug 1")
    csms.wait_action("CP_1", "TransactionEvent", where=lambda p: p["eventType"] == "Ended")
    events = csms.received("CP_1", "TransactionEvent")
    svs = [s for e in (events[0], events[-1]) for mv in e["meterValue"] for s in mv["sampledValue"]]
    smv = [(s["context"], s["signedMeterValue"]) for s in svs if "signedMeterValue" in s]
    assert [c for c, _ in smv] == ["Transaction.Begin", "Transaction.Begin", "Transaction.End"]  # Ended: all
    assert smv[0][1]["publicKey"] == "SIM-KEY-CP_1" and ocmf(smv[2][1])["TX"] == "E"
    assert all(s["measurand"] == "Energy.Active.Import.Register" for s in svs if "signedMeterValue" in s)
    assert csms.received("CP_1", "MeterValues") == []  # the Started event carries it
    assert csms.violations == []
