"""The test CSMS itself (tools/csms.py), driven by a tiny raw websockets client."""

import json
import os
import signal
import ssl
import subprocess
import sys
from base64 import b64encode
from concurrent.futures import ThreadPoolExecutor

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tools.csms import (DATE_KEYS, NO_REPLY, CallErrorReply, FrameState,
                        check_frame, is_utc_time)

BOOT = {"chargePointVendor": "Acme", "chargePointModel": "AC22"}
T0 = "2026-11-21T10:00:00Z"


class Client:
    """A raw OCPP-J charge point: one frame in, one frame out."""

    def __init__(self, url, **kwargs):
        kwargs.setdefault("subprotocols", ["ocpp1.6"])
        self.ws = connect(url, proxy=None, open_timeout=5, close_timeout=1, legacy=True, **kwargs)
        self.n = 0

    def call(self, action, payload):
        self.n += 1
        self.ws.send(json.dumps([2, "m%d" % self.n, action, payload]))
        return self.recv()

    def recv(self):
        return json.loads(self.ws.recv(timeout=5))

    def send(self, frame):
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def close(self):
        self.ws.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def basic(user, password):
    return {"Authorization": "Basic " + b64encode(("%s:%s" % (user, password)).encode()).decode()}


# ---------------------------------------------------------------- the checker

GOOD = [
    '[2,"1","Heartbeat",{}]',
    '[2,"2","BootNotification",{"chargePointVendor":"A","chargePointModel":"B"}]',
    '[2,"3","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-11-21T10:00:00.123Z",'
    '"sampledValue":[{"value":"12"}]}]}]',
    '[2,"%s","Heartbeat",{}]' % ("x" * 36),
]


@pytest.mark.parametrize("frame", GOOD)
def test_checker_accepts_good_frames(frame):
    assert check_frame(frame) == []


BAD = [
    ("not json", "not valid JSON"),
    ('{"a":1}', "not a non-empty JSON array"),
    ("[]", "not a non-empty JSON array"),
    ('[5,"1",{}]', "unknown MessageTypeId"),
    ('[true,"1","Heartbeat",{}]', "unknown MessageTypeId"),
    ('[2,"1","Heartbeat"]', "needs 4 items"),
    ('[3,"1",{},{}]', "needs 3 items"),
    ('[4,"1","GenericError",""]', "needs 5 items"),
    ('[2,1,"Heartbeat",{}]', "not a string"),
    ('[2,"%s","Heartbeat",{}]' % ("x" * 37), "1..36 characters"),
    ('[2,"","Heartbeat",{}]', "1..36 characters"),
    ('[2,"1",7,{}]', "action 7 is not a string"),
    ('[2,"1","Heartbeat",[]]', "payload is not an object"),
    ('[2,"1","Fly",{}]', "unknown action 'Fly'"),
    ('[2,"1","StatusNotification",{"connectorId":1,"errorCode":"NoError"}]', "schema StatusNotification"),
    ('[2,"1","StartTransaction",{"connectorId":1,"idTag":"A","meterStart":0,'
     '"timestamp":"2026-11-21T10:00:00"}]', "timestamp '2026-11-21T10:00:00' is not ISO 8601 UTC"),
    ('[2,"1","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-11-21T10:00:00+01:00",'
     '"sampledValue":[{"value":"1"}]}]}]', "not ISO 8601 UTC"),
    ('[3,"1",{}]', "never sent"),
]


@pytest.mark.parametrize("frame,problem", BAD)
def test_checker_flags_bad_frames(frame, problem):
    problems = check_frame(frame)
    assert any(problem in p for p in problems), problems


def test_checker_error_frames_and_ids():
    state = FrameState()
    assert check_frame('[2,"a","Reset",{"type":"Soft"}]', "out", state) == []
    assert check_frame('[2,"b","Reset",{"type":"Hard"}]', "out", state) == []
    bad = check_frame('[4,"a","FormatViolation",5,[]]', "in", state)
    assert len(bad) == 3 and "not an OCPP 1.6 code" in bad[0]
    assert check_frame('[4,"a","GenericError","",{}]', "in", state) == ["id 'a' answered twice"]
    # a CALLRESULT is validated against the response schema of the CALL it answers
    assert "schema Reset response" in check_frame('[3,"b",{"status":"Maybe"}]', "in", state)[0]
    assert check_frame('[2,"c","Heartbeat",{}]', "in", state) == []
    assert "reused" in check_frame('[2,"c","Heartbeat",{}]', "in", state)[0]


@pytest.mark.parametrize("code", ["NotImplemented", "NotSupported", "InternalError", "ProtocolError",
                                  "SecurityError", "FormationViolation", "PropertyConstraintViolation",
                                  "OccurenceConstraintViolation", "TypeConstraintViolation", "GenericError"])
def test_checker_knows_the_16_error_codes(code):
    state = FrameState()
    check_frame('[2,"a","ClearCache",{}]', "out", state)
    assert check_frame(json.dumps([4, "a", code, "", {}]), "in", state) == []


def test_date_keys_come_from_the_schemas():
    assert {"timestamp", "currentTime", "expiryDate", "startSchedule", "validFrom", "validTo",
            "retrieveDate", "startTime", "stopTime"} <= DATE_KEYS
    assert "idTag" not in DATE_KEYS
    assert is_utc_time("2026-02-28T23:59:59.5Z") and is_utc_time(T0)
    for text in ("2026-02-30T00:00:00Z", "2026-11-21 10:00:00Z", "2026-11-21T10:00:00z", "2026-11-21T24:00:00Z"):
        assert not is_utc_time(text)


# ---------------------------------------------------------------- live, ws://

def test_boot_and_core_messages(csms):
    csms.authorize_status = {"BLOCKED1": "Blocked"}
    with Client(csms.url_for("CP_1")) as cp:
        boot = cp.call("BootNotification", BOOT)
        assert boot[:2] == [3, "m1"] and boot[2]["status"] == "Accepted"
        assert boot[2]["interval"] == 300 and is_utc_time(boot[2]["currentTime"])
        assert is_utc_time(cp.call("Heartbeat", {})[2]["currentTime"])
        assert cp.call("Authorize", {"idTag": "BLOCKED1"})[2] == {"idTagInfo": {"status": "Blocked"}}
        assert cp.call("Authorize", {"idTag": "OK"})[2] == {"idTagInfo": {"status": "Accepted"}}
        cp.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"})
        tx1 = cp.call("StartTransaction", {"connectorId": 1, "idTag": "OK", "meterStart": 0, "timestamp": T0})
        tx2 = cp.call("StartTransaction", {"connectorId": 2, "idTag": "OK", "meterStart": 5, "timestamp": T0})
        assert tx2[2]["transactionId"] == tx1[2]["transactionId"] + 1
        mv = {"connectorId": 1, "transactionId": 1,
              "meterValue": [{"timestamp": T0, "sampledValue": [{"value": "10"}]}]}
        assert cp.call("MeterValues", mv)[2] == {}
        assert cp.call("StopTransaction", {"transactionId": 1, "meterStop": 10, "timestamp": T0,
                                           "idTag": "OK"})[2] == {"idTagInfo": {"status": "Accepted"}}
        assert cp.call("DataTransfer", {"vendorId": "Acme"})[2] == {"status": "Accepted"}
        assert cp.call("DiagnosticsStatusNotification", {"status": "Idle"})[2] == {}
        assert cp.call("FirmwareStatusNotification", {"status": "Idle"})[2] == {}
    assert csms.wait_action("CP_1", "BootNotification") == BOOT
    assert [p["connectorId"] for p in csms.received("CP_1", "StartTransaction")] == [1, 2]
    assert csms.received(action="Authorize") == [{"idTag": "BLOCKED1"}, {"idTag": "OK"}]
    assert csms.transactions[1]["stop"]["meterStop"] == 10
    assert csms.transactions[1]["meter_values"] == [mv]
    assert [d for _, d, _ in csms.frames].count("in") == 12
    assert csms.violations == []


def test_scripted_replies(csms):
    csms.boot_status = ["Pending", "Accepted"]
    csms.boot_retry_interval = 2
    csms.next_transaction_id = 77
    csms.start_status = {"TAG": {"status": "ConcurrentTx", "parentIdTag": "P"}}
    csms.data_transfer = lambda cp_id, p: {"status": "Accepted", "data": cp_id + p["vendorId"]}
    csms.current_time = T0
    with Client(csms.url_for("CP_1")) as cp:
        assert cp.call("BootNotification", BOOT)[2] == {"status": "Pending", "currentTime": T0, "interval": 2}
        assert cp.call("BootNotification", BOOT)[2] == {"status": "Accepted", "currentTime": T0, "interval": 300}
        assert cp.call("BootNotification", BOOT)[2]["status"] == "Accepted"
        tx = cp.call("StartTransaction", {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": T0})
        assert tx[2] == {"transactionId": 77, "idTagInfo": {"status": "ConcurrentTx", "parentIdTag": "P"}}
        assert cp.call("DataTransfer", {"vendorId": "V"})[2] == {"status": "Accepted", "data": "CP_1V"}
    assert csms.violations == []


def test_handlers_override_defaults(csms):
    def refuse(cp_id, payload):
        raise CallErrorReply("SecurityError", "no", {"why": cp_id})
    csms.handlers["Heartbeat"] = lambda cp_id, payload: {"currentTime": T0}
    csms.handlers["Authorize"] = refuse
    csms.handlers["StatusNotification"] = lambda cp_id, payload: NO_REPLY
    with Client(csms.url_for("CP_1")) as cp:
        assert cp.call("Heartbeat", {}) == [3, "m1", {"currentTime": T0}]
        assert cp.call("Authorize", {"idTag": "A"}) == [4, "m2", "SecurityError", "no", {"why": "CP_1"}]
        cp.send([2, "s", "StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"}])
        assert cp.call("Heartbeat", {})[1] == "m3"  # the StatusNotification got no answer
    assert csms.violations == []


def test_bad_cp_frames_become_violations(csms):
    with Client(csms.url_for("CP_1")) as cp:
        reply = cp.call("StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 0,
                                             "timestamp": "2026-11-21T10:00:00"})
        assert reply[0] == 3  # schema-valid, so `ocpp` takes it; only the checker objects
        cp.send([2, "y" * 40, "Heartbeat", {}])
        assert cp.recv()[0] == 3
        # a schema failure: `ocpp` answers a CALLERROR (in 1.6 spelling), the checker records it
        bad = cp.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Bogus"})
        assert bad[2] == "FormationViolation"
        assert cp.call("Reset", {"type": "Soft"})[2] == "NotImplemented"  # wrong direction
        cp.send("[2,")
        cp.send([3, "nobody-asked", {}])
        assert cp.call("Heartbeat", {})[0] == 3
    v = csms.violations
    assert "timestamp '2026-11-21T10:00:00' is not ISO 8601 UTC" in v[0]
    assert "1..36 characters" in v[1]
    assert "schema StatusNotification request (FormationViolation) status:" in v[2]
    assert "CSMS answered a CP CALL with NotImplemented" in v[3]
    assert "not valid JSON" in v[4] and "never sent" in v[5]
    assert len(v) == 6


def test_csms_call_round_trip(csms):
    with Client(csms.url_for("CP_1")) as cp, ThreadPoolExecutor(1) as pool:
        cp.call("BootNotification", BOOT)
        assert csms.connected("CP_1")
        pending = pool.submit(csms.call, "CP_1", "Reset", {"type": "Soft"})
        call = cp.recv()
        assert call[0] == 2 and call[2:] == ["Reset", {"type": "Soft"}] and len(call[1]) <= 36
        cp.send([3, call[1], {"status": "Accepted"}])
        assert pending.result(5) == {"status": "Accepted"}

        pending = pool.submit(csms.call, "CP_1", "ClearCache", {})
        call = cp.recv()
        cp.send([4, call[1], "NotSupported", "nope", {"a": 1}])
        with pytest.raises(CallErrorReply) as e:
            pending.result(5)
        assert (e.value.code, e.value.description, e.value.details) == ("NotSupported", "nope", {"a": 1})

        with pytest.raises(TimeoutError):
            csms.call("CP_1", "ClearCache", {}, timeout=0.2)
        cp.recv()  # the unanswered CALL
        with pytest.raises(ValueError):
            csms.call("CP_1", "Reset", {"type": "Gentle"})  # invalid: never sent
        with pytest.raises(ConnectionError):
            csms.call("CP_2", "ClearCache", {})
    assert csms.violations == []


def test_bad_answers_from_cp_are_violations(csms):
    with Client(csms.url_for("CP_1")) as cp, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(csms.call, "CP_1", "Reset", {"type": "Hard"})
        call = cp.recv()
        cp.send([4, call[1], "FormatViolation", "bad", None])
        with pytest.raises(CallErrorReply):
            pending.result(5)
        pending = pool.submit(csms.call, "CP_1", "Reset", {"type": "Hard"})
        call = cp.recv()
        cp.send([3, call[1], {"status": "Fine"}])
        assert pending.result(5) == {"status": "Fine"}
    v = csms.wait_for(lambda: len(csms.violations) == 3 and csms.violations)
    assert "'FormatViolation' is not an OCPP 1.6 code" in v[0] and "details is not an object" in v[1]
    assert "schema Reset response" in v[2]


def test_send_raw_and_wait_reply(csms):
    with Client(csms.url_for("CP_1")) as cp:
        cp.call("Heartbeat", {})
        csms.send_raw("CP_1", '[2,"raw-1","Reset",{"type":"Bogus"}]')
        assert cp.recv() == [2, "raw-1", "Reset", {"type": "Bogus"}]
        cp.send([4, "raw-1", "FormationViolation", "bad type", {}])
        assert csms.wait_reply("CP_1", "raw-1") == [4, "raw-1", "FormationViolation", "bad type", {}]
        mark = len(csms.frames)
        csms.send_raw("CP_1", "garbage")
        assert cp.ws.recv(timeout=5) == "garbage"
        assert csms.wait_frame(lambda t: t == "garbage", direction="out", since=mark) == "garbage"
    assert csms.violations == []  # raw frames are not checked unless asked


def test_wait_for_times_out_with_a_report(csms):
    with Client(csms.url_for("CP_1")) as cp:
        cp.call("Heartbeat", {})
        with pytest.raises(AssertionError) as e:
            csms.wait_action("CP_1", "BootNotification", timeout=0.1)
    text = str(e.value)
    assert "BootNotification from CP_1" in text and "CP_1 < [2" in text and "Heartbeat" in text


def test_wait_action_count_where_since(csms):
    with Client(csms.url_for("CP_1")) as cp:
        for status in ("Available", "Preparing", "Charging"):
            cp.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": status})
        mark = csms.mark()
        cp.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Finishing"})
        two = csms.wait_action("CP_1", "StatusNotification", count=2)
        assert [p["status"] for p in two] == ["Available", "Preparing"]
        assert csms.wait_action("CP_1", "StatusNotification", where=lambda p: p["status"] == "Charging")
        assert csms.wait_action("CP_1", "StatusNotification", since=mark)["status"] == "Finishing"


# ---------------------------------------------------------------- handshake

def test_basic_auth(csms_factory):
    csms = csms_factory(auth={"CP_1": "s3cret:x", "CP_2": b"\x00\xffkey"})
    with Client(csms.url_for("CP_1"), additional_headers=basic("CP_1", "s3cret:x")) as cp:
        assert cp.call("Heartbeat", {})[0] == 3
    raw = {"Authorization": "Basic " + b64encode(b"CP_2:\x00\xffkey").decode()}
    with Client(csms.url_for("CP_2"), additional_headers=raw) as cp:
        assert cp.call("Heartbeat", {})[0] == 3
    refused = [("CP_1", basic("CP_1", "wrong")), ("CP_1", basic("CP_2", "s3cret:x")),
               ("CP_1", None), ("CP_3", basic("CP_3", "s3cret:x"))]
    for cp_id, headers in refused:
        with pytest.raises(InvalidStatus) as e:
            Client(csms.url_for(cp_id), additional_headers=headers)
        assert e.value.response.status_code == 401
        assert e.value.response.headers["WWW-Authenticate"].startswith("Basic")
    h = csms.handshakes
    assert [x["accepted"] for x in h] == [True, True, False, False, False, False]
    assert (h[0]["user"], h[0]["password"]) == ("CP_1", b"s3cret:x")
    assert csms.violations == []


def test_path_and_subprotocol_are_enforced(csms):
    for path in ("/CP_1", "/ocpp/", "/ocpp/a/CP_1"):
        with pytest.raises(InvalidStatus) as e:
            Client("ws://127.0.0.1:%d%s" % (csms.port, path))
        assert e.value.response.status_code == 404
    with pytest.raises(InvalidStatus) as e:
        Client(csms.url_for("CP_1"), subprotocols=None)
    assert e.value.response.status_code == 400
    with Client(csms.url + "/CP%201?x=1") as cp:  # percent-decoded, query ignored
        cp.call("Heartbeat", {})
    assert csms.received("CP 1") == [{}]


def test_wss_with_test_ca(csms_factory, tls):
    csms = csms_factory(ssl_context=tls.server_context)
    assert csms.url.startswith("wss://127.0.0.1:")
    with Client(csms.url_for("CP_1"), ssl=tls.client_context) as cp:
        assert cp.call("BootNotification", BOOT)[2]["status"] == "Accepted"
    with pytest.raises(ssl.SSLCertVerificationError):
        Client(csms.url_for("CP_1"), ssl=ssl.create_default_context())
    for name in ("ca_der", "cert_der", "key_der", "client_cert_der", "client_key_der"):
        assert os.path.getsize(getattr(tls, name)) > 100
    assert csms.violations == []


def test_client_certificate(csms_factory, tls):
    csms = csms_factory(ssl_context=tls.mtls_context)
    ctx = ssl.create_default_context(cafile=tls.ca_pem)
    ctx.load_cert_chain(tls.client_cert_pem, tls.client_key_pem)
    with Client(csms.url_for("CP_1"), ssl=ctx) as cp:
        cp.call("Heartbeat", {})
    assert csms.handshakes[0]["client_cn"] == tls.client_cn


# ---------------------------------------------------------------- connection life

def test_disconnect_and_replace(csms):
    with Client(csms.url_for("CP_1")) as cp:
        cp.call("Heartbeat", {})
        csms.disconnect("CP_1")
        assert not csms.connected("CP_1")
        with pytest.raises(ConnectionClosed):
            cp.recv()
    first = Client(csms.url_for("CP_1"))
    first.call("Heartbeat", {})
    with Client(csms.url_for("CP_1")) as second:
        second.call("Heartbeat", {})
        with pytest.raises(ConnectionClosed):
            first.recv()
        assert csms.connected("CP_1") and csms.connect_count("CP_1") == 3
        csms.disconnect("CP_1", abort=True)
        with pytest.raises(ConnectionClosed):
            second.recv()
    csms.wait_for(lambda: [e[1] for e in csms.events].count("disconnect") == 3)
    assert csms.violations == []


def test_restart_on_same_port(csms):
    port = csms.port
    with Client(csms.url_for("CP_1")) as cp:
        cp.call("BootNotification", BOOT)
        csms.stop()
        with pytest.raises(ConnectionClosed):
            cp.recv()
    with pytest.raises(OSError):
        Client(csms.url_for("CP_1"))
    csms.start(port=port)
    assert csms.port == port
    with Client(csms.url_for("CP_1")) as cp:
        assert cp.call("BootNotification", BOOT)[0] == 3
    assert len(csms.received("CP_1", "BootNotification")) == 2
    assert csms.connect_count("CP_1") == 2 and csms.violations == []


def test_two_csms_instances_are_independent(csms_factory):
    a, b = csms_factory(), csms_factory()
    assert a.port != b.port
    with Client(a.url_for("CP_1")) as cp:
        cp.call("Heartbeat", {})
    assert a.received() == [{}] and b.received() == []


# ---------------------------------------------------------------- command line

def test_command_line(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "tools", "csms.py")
    proc = subprocess.Popen([sys.executable, script, "--port", "0", "--auth", "CP_1:pw"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on ws://127.0.0.1:"), line
        url = line.split()[2] + "/CP_1"
        with Client(url, additional_headers=basic("CP_1", "pw")) as cp:
            cp.call("Heartbeat", {})
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=10)[0]
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert 'CP_1 < [2, "m1", "Heartbeat", {}]' in out and 'CP_1 > [3,"m1",{"currentTime":' in out


# ---------------------------------------------------------------- OCPP 2.0.1

BOOT_201 = {"reason": "PowerUp", "chargingStation": {"model": "AC22", "vendorName": "Acme"}}


@pytest.mark.parametrize("served,offered,chosen", [
    (("ocpp1.6", "ocpp2.0.1"), ["ocpp2.0.1", "ocpp1.6"], "ocpp2.0.1"),
    (("ocpp1.6", "ocpp2.0.1"), ["ocpp1.6", "ocpp2.0.1"], "ocpp1.6"),  # the charge point's order
    (("ocpp2.0.1",), ["ocpp1.6", "ocpp2.0.1"], "ocpp2.0.1"),
    (("ocpp1.6",), ["ocpp2.0.1", "ocpp1.6"], "ocpp1.6"),
])
def test_version_negotiation(csms_factory, served, offered, chosen):
    csms = csms_factory(versions=served)
    with Client(csms.url_for("CP_1"), subprotocols=offered) as cp:
        assert cp.ws.subprotocol == chosen
    assert csms.wait_for(lambda: [e for e in csms.events if e[1] == "connect"])[0][2] == chosen


def test_version_none_in_common(csms_factory):
    csms = csms_factory(versions=("ocpp2.0.1",))
    with pytest.raises(InvalidStatus) as e:
        Client(csms.url_for("CP_1"), subprotocols=["ocpp1.6"])
    assert e.value.response.status_code == 400
    with pytest.raises(ValueError):
        csms_factory(versions=("ocpp1.5",))


def test_201_session_is_checked_against_201(csms_factory):
    csms = csms_factory(versions=("ocpp2.0.1",), heartbeat_interval=60)
    csms.authorize_status = {"BAD": "Blocked"}
    with Client(csms.url_for("CP_1"), subprotocols=["ocpp2.0.1"]) as cp:
        r = cp.call("BootNotification", BOOT_201)
        assert r[2]["status"] == "Accepted" and r[2]["interval"] == 60
        assert is_utc_time(cp.call("Heartbeat", {})[2]["currentTime"])
        assert cp.call("StatusNotification", {"timestamp": T0, "connectorStatus": "Available",
                                              "evseId": 1, "connectorId": 1})[2] == {}
        assert cp.call("Authorize", {"idToken": {"idToken": "BAD", "type": "ISO14443"}})[2] == {
            "idTokenInfo": {"status": "Blocked"}}
        ev = {"eventType": "Started", "timestamp": T0, "triggerReason": "Authorized", "seqNo": 0,
              "transactionInfo": {"transactionId": "tx-1"}, "evse": {"id": 1, "connectorId": 1},
              "idToken": {"idToken": "A1", "type": "ISO14443"}}
        assert cp.call("TransactionEvent", ev)[2] == {"idTokenInfo": {"status": "Accepted"}}
        assert csms.violations == []
        assert csms.transactions["tx-1"]["events"] == [ev]
        # a 1.6 payload on a 2.0.1 link: the package's code, and a violation recorded
        r = cp.call("BootNotification", BOOT)
        assert r[0] == 4 and r[2] in ("OccurrenceConstraintViolation", "FormatViolation"), r
        assert any("schema BootNotification request" in v for v in csms.violations)
        assert cp.call("StartTransaction", {})[2] == "NotImplemented"
        n = len(csms.violations)
        cp.send([4, "x", "FormationViolation", "", {}])  # the 1.6 spelling is wrong here
        csms.wait_for(lambda: len(csms.violations) > n + 1)
        assert any("'FormationViolation' is not an OCPP 2.0.1 code" in v for v in csms.violations)


def test_201_checker_alone():
    ok = '[2,"1","StatusNotification",{"timestamp":"2026-11-21T10:00:00Z","connectorStatus":"Occupied","evseId":1,"connectorId":1}]'
    assert check_frame(ok, version="2.0.1") == []
    bad = ok.replace("Occupied", "Charging").replace("00Z", "00+01:00")
    problems = check_frame(bad, version="2.0.1")
    assert any("timestamp" in p and "UTC" in p for p in problems)
    assert any("connectorStatus" in p for p in problems)
    assert any("schema StatusNotification request" in p for p in check_frame(ok, version="1.6"))
