"""`make demo`: the local CSMS and the simulated charge point run one whole charging session.

    python tools/demo.py [--micropython] [--ocpp 1.6|2.0.1]

Boot, the CSMS sets MeterValueSampleInterval (2.0.1: SampledDataCtrlr.TxUpdatedInterval),
cable in, card, charging with meter values, card again, cable out. Prints the conversation and
a summary. `make demo DEMO_ARGS="--ocpp 2.0.1"` runs it in OCPP 2.0.1.
"""
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tools.csms import CSMS  # noqa: E402

CARD = "04A2B3C4"


def main():
    micropython = "--micropython" in sys.argv
    v201 = sys.argv[sys.argv.index("--ocpp") + 1:][:1] == ["2.0.1"] if "--ocpp" in sys.argv else False
    csms = CSMS(heartbeat_interval=60, versions=("ocpp2.0.1",) if v201 else ("ocpp1.6",))
    csms.start()
    runtime = os.path.join(os.path.dirname(sys.executable), "micropython") if micropython else sys.executable
    with tempfile.TemporaryDirectory() as state:
        cmd = [runtime, os.path.join(ROOT, "tools", "sim.py"), "--url", csms.url, "--id", "CP_1",
               "--connectors", "2", "--state", state, "--power", "11000",
               "--ocpp", "2.0.1" if v201 else "1.6"]
        sim = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, bufsize=1)
        t0 = time.monotonic()

        def show():
            for line in sim.stdout:
                print("%6.2fs  CP %s" % (time.monotonic() - t0, line.rstrip()[:160]), flush=True)
        threading.Thread(target=show, daemon=True).start()

        def say(cmd):
            print("%6.2fs  -- %s" % (time.monotonic() - t0, cmd), flush=True)
            sim.stdin.write(cmd + "\n")
            sim.stdin.flush()

        try:
            csms.wait_action("CP_1", "BootNotification", timeout=15)
            csms.wait_action("CP_1", "StatusNotification", count=2 if v201 else 3, timeout=10)
            if v201:
                return session_201(csms, sim, say, t0, micropython)
            print("%6.2fs  -- CSMS: ChangeConfiguration MeterValueSampleInterval=2" % (time.monotonic() - t0))
            csms.call("CP_1", "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "2"})
            say("plug 1")
            say("tag 1 " + CARD)
            csms.wait_action("CP_1", "StartTransaction", timeout=10)
            csms.wait_action("CP_1", "MeterValues", count=3, timeout=15)
            say("tag 1 " + CARD)
            csms.wait_action("CP_1", "StopTransaction", timeout=10)
            time.sleep(1)
            say("unplug 1")
            csms.wait_action("CP_1", "StatusNotification", timeout=10,
                             where=lambda p: p["connectorId"] == 1 and p["status"] == "Available", count=2)
            say("quit")
            sim.wait(timeout=10)
        finally:
            if sim.poll() is None:
                sim.kill()
            csms.stop()
    return summary_16(csms, micropython)


def session_201(csms, sim, say, t0, micropython):
    print("%6.2fs  -- CSMS: SetVariables SampledDataCtrlr.TxUpdatedInterval=2" % (time.monotonic() - t0))
    csms.call("CP_1", "SetVariables", {"setVariableData": [{
        "component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
        "attributeValue": "2"}]})
    say("plug 1")
    say("tag 1 " + CARD)
    csms.wait_action("CP_1", "TransactionEvent", timeout=10)
    csms.wait_action("CP_1", "TransactionEvent", count=3, timeout=15,
                     where=lambda p: p["triggerReason"] == "MeterValuePeriodic")
    say("tag 1 " + CARD)
    csms.wait_action("CP_1", "TransactionEvent", timeout=10, where=lambda p: p["eventType"] == "Ended")
    time.sleep(1)
    say("unplug 1")
    csms.wait_action("CP_1", "StatusNotification", timeout=10, count=2,
                     where=lambda p: p["evseId"] == 1 and p["connectorStatus"] == "Available")
    say("quit")
    sim.wait(timeout=10)
    csms.stop()
    (tid, t), = csms.transactions.items()
    ev = t["events"]
    wh = [float(s["value"]) for e in ev for m in e.get("meterValue", ()) for s in m["sampledValue"]
          if s["measurand"] == "Energy.Active.Import.Register"]
    statuses = [p["connectorStatus"] for p in csms.received("CP_1", "StatusNotification") if p["evseId"] == 1]
    print()
    print("Summary (%s, OCPP 2.0.1)" % ("MicroPython unix port" if micropython else "CPython"))
    print("  frames exchanged     %d" % len(csms.frames))
    print("  EVSE 1 statuses      %s" % " -> ".join(statuses))
    print("  transaction          id %s, card %s" % (tid, ev[0]["idToken"]["idToken"]))
    print("  events (seqNo)       %s" % ", ".join("%s/%s (%d)" % (e["eventType"], e["triggerReason"], e["seqNo"])
                                                for e in ev))
    print("  meter                %d Wh -> %d Wh (%d Wh charged)" % (wh[0], wh[-1], wh[-1] - wh[0]))
    print("  schema/frame errors  %d" % len(csms.violations))
    for v in csms.violations:
        print("    " + v)
    return 1 if csms.violations else 0


def summary_16(csms, micropython):
    start = csms.received("CP_1", "StartTransaction")[-1]
    statuses = [p["status"] for p in csms.received("CP_1", "StatusNotification") if p["connectorId"] == 1]
    print()
    print("Summary (%s)" % ("MicroPython unix port" if micropython else "CPython"))
    print("  frames exchanged     %d" % len(csms.frames))
    print("  connector 1 statuses %s" % " -> ".join(statuses))
    stop = csms.received("CP_1", "StopTransaction")[-1]
    print("  transaction          id %s, card %s" % (stop.get("transactionId"), start["idTag"]))
    print("  meter                %d Wh -> %d Wh (%d Wh charged)" % (
        start["meterStart"], stop["meterStop"], stop["meterStop"] - start["meterStart"]))
    print("  MeterValues          %d" % len(csms.received("CP_1", "MeterValues")))
    print("  schema/frame errors  %d" % len(csms.violations))
    for v in csms.violations:
        print("    " + v)
    return 1 if csms.violations else 0


if __name__ == "__main__":
    sys.exit(main())
