"""Remote Trigger end to end: TriggerMessage for every message kind, on both runtimes."""
import pytest

from tests_host import simproc

pytestmark = pytest.mark.parametrize("runtime", simproc.RUNTIMES)


def test_trigger_message(runtime, csms, tmp_path):
    sim = simproc.start(runtime, csms, tmp_path)
    try:
        csms.wait_action("CP_1", "StatusNotification", count=3)
        call = lambda p: csms.call("CP_1", "TriggerMessage", p)  # noqa: E731
        m = csms.mark()
        assert call({"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
        csms.wait_action("CP_1", "Heartbeat", since=m)
        assert call({"requestedMessage": "BootNotification"}) == {"status": "Accepted"}
        csms.wait_action("CP_1", "BootNotification", since=m)
        m = csms.mark()
        assert call({"requestedMessage": "StatusNotification", "connectorId": 2}) == {"status": "Accepted"}
        assert csms.wait_action("CP_1", "StatusNotification", since=m)["connectorId"] == 2
        m = csms.mark()
        assert call({"requestedMessage": "StatusNotification"}) == {"status": "Accepted"}
        got = csms.wait_action("CP_1", "StatusNotification", since=m, count=3)
        assert sorted(p["connectorId"] for p in got) == [0, 1, 2]
        m = csms.mark()
        assert call({"requestedMessage": "MeterValues", "connectorId": 1}) == {"status": "Accepted"}
        mv = csms.wait_action("CP_1", "MeterValues", since=m)
        assert mv["connectorId"] == 1 and "transactionId" not in mv
        assert {s["context"] for s in mv["meterValue"][0]["sampledValue"]} == {"Trigger"}
        assert call({"requestedMessage": "MeterValues", "connectorId": 0}) == {"status": "Rejected"}
        assert call({"requestedMessage": "StatusNotification", "connectorId": 5}) == {"status": "Rejected"}
        # during a transaction the triggered values carry its id
        sim.cmd("plug 1", "tag 1 CARD")
        csms.wait_action("CP_1", "StartTransaction")
        tx = sim.wait_status(lambda s: s["connectors"][1]["transaction"])["connectors"][1]["transaction"]
        m = csms.mark()
        assert call({"requestedMessage": "MeterValues", "connectorId": 1}) == {"status": "Accepted"}
        assert csms.wait_action("CP_1", "MeterValues", since=m)["transactionId"] == tx
        conf = csms.call("CP_1", "GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
        assert "RemoteTrigger" in conf["configurationKey"][0]["value"].split(",")
        assert csms.violations == []
    finally:
        sim.stop()
