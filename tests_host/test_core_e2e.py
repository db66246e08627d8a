"""The Core profile end to end: tools/sim.py (the library with simulated hardware) against
tools/csms.py over a real WebSocket, on CPython and on the MicroPython unix port. The CSMS
validates every frame against the official schemas; `csms.violations` must stay empty."""
import json
import time

import pytest

from tests_host import simproc
from tests_host.wsserver import Loop, frame, handshake, raw, read_fragment

pytestmark = pytest.mark.parametrize("runtime", simproc.RUNTIMES)


@pytest.fixture
def run(sims):
    return sims


def statuses(csms, cid, cp="CP_1"):
    return [p["status"] for p in csms.received(cp, "StatusNotification") if p["connectorId"] == cid]


def test_full_session_two_connectors(runtime, csms, run):
    sim = run(runtime)
    csms.wait_action("CP_1", "StatusNotification", count=3)
    assert csms.call("CP_1", "ChangeConfiguration",
                     {"key": "MeterValueSampleInterval", "value": "1"}) == {"status": "Accepted"}
    sim.cmd("plug 1", "tag 1 CARD1", "plug 2", "tag 2 CARD2")
    csms.wait_action("CP_1", "StartTransaction", count=2)
    csms.wait_action("CP_1", "MeterValues", count=4, timeout=15)
    sim.cmd("tag 1 CARD1", "tag 2 CARD2")
    csms.wait_action("CP_1", "StopTransaction", count=2)
    sim.cmd("wait 0.5", "unplug 1", "unplug 2")
    csms.wait_for(lambda: statuses(csms, 1)[-1:] == ["Available"] and statuses(csms, 2)[-1:] == ["Available"])
    for cid in (1, 2):
        assert statuses(csms, cid) == ["Available", "Preparing", "Charging", "Finishing", "Available"]
    starts = {p["connectorId"]: p for p in csms.received("CP_1", "StartTransaction")}
    assert {starts[1]["idTag"], starts[2]["idTag"]} == {"CARD1", "CARD2"}
    ids = set(csms.transactions)
    assert len(ids) == 2
    for stop in csms.received("CP_1", "StopTransaction"):
        assert stop["transactionId"] in ids
        assert stop["reason"] == "Local"
        assert stop["meterStop"] > 0
        contexts = [v["sampledValue"][0]["context"] for v in stop["transactionData"]]
        assert contexts[0] == "Transaction.Begin" and contexts[-1] == "Transaction.End"
    for mv in csms.received("CP_1", "MeterValues"):
        assert mv["transactionId"] in ids
        measurands = {s["measurand"] for s in mv["meterValue"][0]["sampledValue"]}
        assert measurands == {"Energy.Active.Import.Register", "Power.Active.Import"}
    assert csms.violations == []


def test_csms_initiated_core_operations(runtime, csms, run):
    sim = run(runtime)
    csms.wait_action("CP_1", "StatusNotification", count=3)
    call = lambda action, p: csms.call("CP_1", action, p)  # noqa: E731
    # configuration
    conf = call("GetConfiguration", {})
    keys = {k["key"]: k for k in conf["configurationKey"]}
    assert "AuthorizationKey" not in keys and len(keys) >= 34
    assert keys["NumberOfConnectors"] == {"key": "NumberOfConnectors", "readonly": True, "value": "2"}
    assert call("GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]}) == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
        "unknownKey": ["Nope"]}
    assert call("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "x"})["status"] == "Rejected"
    assert call("ChangeConfiguration", {"key": "NumberOfConnectors", "value": "3"})["status"] == "Rejected"
    assert call("ChangeConfiguration", {"key": "NoSuchKey", "value": "1"})["status"] == "NotSupported"
    assert call("ChangeConfiguration", {"key": "MeterValuesSampledData",
                                        "value": "Energy.Active.Import.Register,SoC"})["status"] == "Rejected"
    assert call("ChangeConfiguration", {"key": "AuthorizationKey",
                                        "value": "0123456789abcdef0123"})["status"] == "Accepted"
    # the charger reconnects with the new key (this CSMS asks for none)
    csms.wait_for(lambda: csms.connect_count("CP_1") == 2 and csms.connected("CP_1"))
    assert call("GetConfiguration", {"key": ["AuthorizationKey"]}) == {
        "configurationKey": [], "unknownKey": ["AuthorizationKey"]}
    assert call("ClearCache", {}) == {"status": "Accepted"}
    assert call("DataTransfer", {"vendorId": "acme", "data": "x"}) == {"status": "Accepted", "data": "x"}
    # availability
    assert call("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"}) == {"status": "Accepted"}
    csms.wait_for(lambda: statuses(csms, 2)[-1] == "Unavailable")
    assert call("ChangeAvailability", {"connectorId": 2, "type": "Operative"}) == {"status": "Accepted"}
    csms.wait_for(lambda: statuses(csms, 2)[-1] == "Available")
    assert call("ChangeAvailability", {"connectorId": 7, "type": "Operative"}) == {"status": "Rejected"}
    # remote start and stop, Scheduled availability during a transaction
    assert call("RemoteStartTransaction", {"connectorId": 1, "idTag": "REMOTE"}) == {"status": "Accepted"}
    sim.cmd("plug 1")
    start = csms.wait_action("CP_1", "StartTransaction")
    assert start["idTag"] == "REMOTE"
    csms.wait_for(lambda: statuses(csms, 1)[-1] == "Charging")
    tx_id = sim.wait_status(lambda s: s["connectors"][1]["transaction"])["connectors"][1]["transaction"]
    assert call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}) == {"status": "Scheduled"}
    assert call("RemoteStartTransaction", {"connectorId": 1, "idTag": "OTHER"}) == {"status": "Rejected"}
    assert call("RemoteStopTransaction", {"transactionId": tx_id + 100}) == {"status": "Rejected"}
    assert call("RemoteStopTransaction", {"transactionId": tx_id}) == {"status": "Accepted"}
    stop = csms.wait_action("CP_1", "StopTransaction")
    assert stop["reason"] == "Remote" and stop["transactionId"] == tx_id
    sim.cmd("unplug 1")
    csms.wait_for(lambda: statuses(csms, 1)[-1] == "Unavailable" and statuses(csms, 0)[-1] == "Unavailable")
    assert call("ChangeAvailability", {"connectorId": 0, "type": "Operative"}) == {"status": "Accepted"}
    csms.wait_for(lambda: statuses(csms, 1)[-1] == "Available")
    # unlock: a transaction is stopped first
    sim.cmd("plug 2", "tag 2 CARD")
    csms.wait_for(lambda: statuses(csms, 2)[-1] == "Charging")
    assert call("UnlockConnector", {"connectorId": 2}) == {"status": "Unlocked"}
    assert csms.wait_action("CP_1", "StopTransaction", count=2)[-1]["reason"] == "UnlockCommand"
    assert call("UnlockConnector", {"connectorId": 9}) == {"status": "NotSupported"}
    # reset: transactions stopped, then the charger restarts and boots again
    sim.cmd("tag 2 CARD")
    csms.wait_for(lambda: statuses(csms, 2)[-1] == "Charging")
    assert call("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    assert csms.wait_action("CP_1", "StopTransaction", count=3)[-1]["reason"] == "SoftReset"
    csms.wait_action("CP_1", "BootNotification", count=2)
    assert csms.violations == []


BAD_FRAMES = [
    ('[2, "b1", "Reset", {"type": "Soft"}', "b1", "FormationViolation"),  # not JSON
    ('[2, "b2", "Reset"]', "b2", "ProtocolError"),  # incomplete
    ('[2, "b3", "NoSuchAction", {}]', "b3", "NotImplemented"),
    ('[2, "b4", "Reset", {}]', "b4", "OccurenceConstraintViolation"),  # missing field
    ('[2, "b5", "UnlockConnector", {"connectorId": "1"}]', "b5", "TypeConstraintViolation"),
    ('[2, "b6", "Reset", {"type": "Gentle"}]', "b6", "PropertyConstraintViolation"),  # bad enum
    ('[2, "b7", "ClearCache", {"extra": 1}]', "b7", "FormationViolation"),
    ('[2, "b8", "Reset", []]', "b8", "FormationViolation"),
    ('[2, "b9", "DataTransfer", {"vendorId": "v", "data": "%s"}]' % ("x" * 9000), "b9", "FormationViolation"),
]


def test_bad_input_gets_the_right_callerror(runtime, csms, run):
    sim = run(runtime)
    csms.wait_action("CP_1", "StatusNotification", count=3)
    for text, mid, code in BAD_FRAMES:
        csms.send_raw("CP_1", text)
        reply = csms.wait_reply("CP_1", mid)
        assert reply[0] == 4 and reply[2] == code, (text[:60], reply)
    for junk in ("hello", "{}", "[]", "[5]", "[3, 1, {}]", '[3, "nobody", {}]', '[4, "nobody"]'):
        csms.send_raw("CP_1", junk)
    # still working: answers a call and charges
    assert csms.call("CP_1", "ClearCache", {}) == {"status": "Accepted"}
    sim.cmd("plug 1", "tag 1 CARD")
    csms.wait_action("CP_1", "StartTransaction")
    assert sim.proc.poll() is None
    assert csms.violations == []


def test_fault_and_error_codes(runtime, csms, run):
    sim = run(runtime)
    csms.wait_action("CP_1", "StatusNotification", count=3)
    sim.cmd("fault 1 GroundFailure")
    csms.wait_for(lambda: statuses(csms, 1)[-1] == "Faulted")
    assert csms.received("CP_1", "StatusNotification")[-1]["errorCode"] == "GroundFailure"
    sim.cmd("fault 1 NoError")
    csms.wait_for(lambda: statuses(csms, 1)[-1] == "Available")
    assert csms.violations == []


def test_boot_pending_then_accepted_and_heartbeat(runtime, csms_factory, run):
    csms = csms_factory(heartbeat_interval=1)
    csms.boot_status = ["Pending", "Accepted"]
    csms.boot_retry_interval = 1
    run(runtime, server=csms, boot=False)
    csms.wait_action("CP_1", "BootNotification", count=2)
    # nothing but BootNotification before it was accepted
    actions = [c[2] for c in csms.calls if c[0] == "CP_1"]
    assert actions[:2] == ["BootNotification", "BootNotification"]
    csms.wait_action("CP_1", "Heartbeat", count=2, timeout=10)
    assert csms.violations == []


def test_reconnect_after_csms_restart(runtime, csms, run):
    sim = run(runtime)
    csms.wait_action("CP_1", "StatusNotification", count=3)
    port = csms.port
    csms.stop()
    sim.cmd("plug 1")  # happens while the CSMS is away: queued
    csms.start(port=port)
    csms.wait_for(lambda: csms.connected("CP_1"), timeout=30)
    csms.wait_for(lambda: "Preparing" in statuses(csms, 1), timeout=15)
    assert csms.violations == []


KEY = "0123456789abcdef0123456789abcdef"


def test_security_profile_2_wss_with_basic_auth(runtime, csms_factory, run, tls):
    csms = csms_factory(auth={"CP_1": KEY}, ssl_context=tls.server_context)
    assert csms.url.startswith("wss://")
    sim = run(runtime, server=csms, ca=tls.ca_der, auth_key=KEY)
    csms.wait_action("CP_1", "StatusNotification", count=3)
    hs = [h for h in csms.handshakes if h["accepted"]][-1]
    assert hs["user"] == "CP_1" and hs["password"] == KEY.encode()
    sim.cmd("plug 1", "tag 1 CARD")
    csms.wait_action("CP_1", "StartTransaction")
    assert csms.violations == []


def test_wrong_key_is_refused(runtime, csms_factory, run, tls):
    csms = csms_factory(auth={"CP_1": KEY})
    sim = run(runtime, server=csms, boot=False, auth_key="not-the-right-key-at-all")
    csms.wait_for(lambda: len(csms.handshakes) >= 1)
    assert not any(h["accepted"] for h in csms.handshakes)
    assert csms.received("CP_1") == []
    assert sim.wait_status(lambda s: not s["online"])["accepted"] is False


def test_wss_refuses_an_unknown_ca(runtime, csms_factory, run, tls, tmp_path):
    import trustme
    other = tmp_path / "other-ca.der"
    other.write_bytes(__import__("ssl").PEM_cert_to_DER_cert(trustme.CA().cert_pem.bytes().decode()))
    csms = csms_factory(ssl_context=tls.server_context)
    sim = run(runtime, server=csms, boot=False, ca=str(other))
    sim.cmd("wait 1")
    assert sim.wait_status(lambda s: not s["online"])["accepted"] is False
    assert csms.received("CP_1") == []


def test_a_full_getconfiguration_answer_arrives_as_one_frame(runtime, tmp_path):
    # a raw server that sees the frames themselves: the answer (3,286 bytes here, built by the
    # library in 512-byte blocks, never whole) arrives as ONE text frame with FIN set, as does
    # every other message
    frames = []

    async def script(reader, writer, got):
        await handshake(reader, writer)
        while True:
            fin, op, data = await read_fragment(reader)
            frames.append((fin, op, len(data)))
            msg = json.loads(data)
            if msg[0] == 3 and msg[1] == "gc-1":
                got.append(msg[2])
                break
            res = {}
            if msg[2] == "BootNotification":
                res = {"status": "Accepted", "currentTime": "2026-12-02T12:00:00Z", "interval": 300}
            writer.write(frame(1, json.dumps([3, msg[1], res]).encode()))
            if msg[2] == "BootNotification":
                writer.write(frame(1, b'[2, "gc-1", "GetConfiguration", {}]'))
        await reader.read()

    lp = Loop()
    srv, got = raw(lp, script, timeout=20)
    sim = simproc.Sim(runtime, srv.url.rsplit("/", 1)[0], tmp_path / "state")
    try:
        end = time.monotonic() + 15
        while not got and sim.proc.poll() is None and time.monotonic() < end:
            time.sleep(0.01)
    finally:
        sim.stop()
        srv.stop()
        lp.stop()
    assert got, (frames, sim.err[-20:])
    assert len(got[0]["configurationKey"]) >= 34
    size = frames[-1][2]
    print("GetConfiguration answer:", size, "bytes")
    assert size > 3000 and frames[-1][:2] == (True, 1)  # FIN, a text frame: the whole answer
    assert all(f[:2] == (True, 1) for f in frames), frames


def test_a_new_meter_value_sample_interval_applies_at_once(runtime, csms, run):
    sim = run(runtime)
    csms.wait_action("CP_1", "StatusNotification", count=3)
    sim.cmd("plug 1", "tag 1 CARD1")  # charging with the default interval (60 s)
    csms.wait_action("CP_1", "StartTransaction")
    assert csms.call("CP_1", "ChangeConfiguration",
                     {"key": "MeterValueSampleInterval", "value": "1"}) == {"status": "Accepted"}
    csms.wait_action("CP_1", "MeterValues", count=2, timeout=6)  # not a minute later
    assert csms.violations == []
