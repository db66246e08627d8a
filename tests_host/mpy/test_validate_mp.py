"""mpy_ocpp.validate on MicroPython (and CPython): plain test_* functions with plain asserts.

Run by tests_host/test_validate.py::test_micropython (and by pytest directly on CPython).
VALID is also used by the CPython tests, which check it against jsonschema.
"""
import gc

from mpy_ocpp import schema, validate
from mpy_ocpp.schema import CALLS, T, spec
from mpy_ocpp.validate import _val


def check(name, payload, s=schema):
    return validate.check(name, payload, s)

_PROFILE = {
    "chargingProfileId": 7, "transactionId": 12, "stackLevel": 1,
    "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Recurring",
    "recurrencyKind": "Daily", "validFrom": "2024-01-01T00:00:00Z",
    "validTo": "2025-01-01T00:00:00.000+01:00",
    "chargingSchedule": {
        "duration": 86400, "startSchedule": "2024-01-01T06:00:00Z", "chargingRateUnit": "A",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 16},
            {"startPeriod": 3600, "limit": 0.3, "numberPhases": 1},
            {"startPeriod": 7200, "limit": 6.7},
        ],
        "minChargingRate": 6.1,
    },
}
_INFO = {"status": "Accepted", "expiryDate": "2030-12-31T23:59:59Z", "parentIdTag": "PARENT"}

# one or more valid payloads for every request the charge point receives, then every response
VALID = (
    ("CancelReservation", {"reservationId": 3}),
    ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}),
    ("ChangeAvailability", {"connectorId": 2, "type": "Operative"}),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "300"}),
    ("ClearCache", {}),
    ("ClearChargingProfile", {}),
    ("ClearChargingProfile", {"id": 1, "connectorId": 1,
                              "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 0}),
    ("DataTransfer", {"vendorId": "com.acme", "messageId": "x", "data": "{\"a\": 1}"}),
    ("GetCompositeSchedule", {"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"}),
    ("GetConfiguration", {}),
    ("GetConfiguration", {"key": ["HeartbeatInterval", "MeterValueSampleInterval"]}),
    ("GetDiagnostics", {"location": "ftp://example.com/diag", "retries": 3,
                        "retryInterval": 60, "startTime": "2024-02-29T12:00:00+05:30",
                        "stopTime": "2024-03-01T12:00:00-08:00"}),
    ("GetLocalListVersion", {}),
    ("RemoteStartTransaction", {"idTag": "04A2B3C4"}),
    ("RemoteStartTransaction", {"idTag": "04A2B3C4", "connectorId": 1,
                                "chargingProfile": _PROFILE}),
    ("RemoteStopTransaction", {"transactionId": 12}),
    ("ReserveNow", {"connectorId": 1, "expiryDate": "2024-06-01T10:00:00.123456Z",
                    "idTag": "TAG1", "reservationId": 9, "parentIdTag": "P"}),
    ("DeleteCertificate", {"certificateHashData": {"hashAlgorithm": "SHA256", "issuerNameHash": "ab",
                                                   "issuerKeyHash": "cd", "serialNumber": "1f"}}),
    ("GetInstalledCertificateIds", {"certificateType": "ManufacturerRootCertificate"}),
    ("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate", "connectorId": 1}),
    ("InstallCertificate", {"certificateType": "CentralSystemRootCertificate", "certificate": "PEM"}),
    ("CertificateSigned", {"certificateChain": "-----BEGIN CERTIFICATE-----"}),
    ("SignedUpdateFirmware", {"requestId": 4, "retries": 1, "retryInterval": 60, "firmware": {
        "location": "https://example.com/fw.bin", "retrieveDateTime": "2024-01-01T00:00:00Z",
        "installDateTime": "2024-01-01T01:00:00Z", "signingCertificate": "PEM", "signature": "c2ln"}}),
    ("GetLog", {"logType": "SecurityLog", "requestId": 1, "retries": 2, "retryInterval": 30,
                "log": {"remoteLocation": "https://example.com/logs/", "oldestTimestamp": "2024-01-01T00:00:00Z",
                        "latestTimestamp": "2024-01-02T00:00:00Z"}}),
    ("Reset", {"type": "Hard"}),
    ("Reset", {"type": "Soft"}),
    ("SendLocalList", {"listVersion": 2, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "A", "idTagInfo": _INFO}, {"idTag": "B"}]}),
    ("SendLocalList", {"listVersion": 3, "updateType": "Differential"}),
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": _PROFILE}),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}),
    ("TriggerMessage", {"requestedMessage": "BootNotification"}),
    ("UnlockConnector", {"connectorId": 1}),
    ("UpdateFirmware", {"location": "https://example.com/fw.bin",
                        "retrieveDate": "2024-01-01T00:00:00Z", "retries": 1,
                        "retryInterval": 30}),
    ("AuthorizeResponse", {"idTagInfo": _INFO}),
    ("BootNotificationResponse", {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z",
                                  "interval": 300}),
    ("DataTransferResponse", {"status": "UnknownVendorId"}),
    ("DiagnosticsStatusNotificationResponse", {}),
    ("FirmwareStatusNotificationResponse", {}),
    ("HeartbeatResponse", {"currentTime": "2024-01-01T00:00:00.5+00:00"}),
    ("MeterValuesResponse", {}),
    ("SecurityEventNotificationResponse", {}),
    ("LogStatusNotificationResponse", {}),
    ("SignCertificateResponse", {"status": "Rejected"}),
    ("SignedFirmwareStatusNotificationResponse", {}),
    ("StartTransactionResponse", {"idTagInfo": {"status": "ConcurrentTx"}, "transactionId": 1}),
    ("StatusNotificationResponse", {}),
    ("StopTransactionResponse", {}),
    ("StopTransactionResponse", {"idTagInfo": {"status": "Invalid"}}),
)

_BOOT = "BootNotificationResponse"
_SCHED = {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8}]}

# (name, payload, expected check() result)
INVALID = (
    ("Reset", [], ("FormationViolation", "payload: not a JSON object")),
    ("Reset", "Hard", ("FormationViolation", "payload: not a JSON object")),
    ("Reset", {"type": "Hard", "when": 1}, ("FormationViolation", "when: not allowed")),
    ("ClearCache", {"x": None}, ("FormationViolation", "x: not allowed")),
    ("Reset", {}, ("OccurenceConstraintViolation", "type: missing")),
    ("Reset", {"type": "Later"}, ("PropertyConstraintViolation", "type: bad enum value")),
    ("Reset", {"type": 1}, ("TypeConstraintViolation", "type: wrong type")),
    ("UnlockConnector", {"connectorId": True}, ("TypeConstraintViolation",
                                                "connectorId: wrong type")),
    ("UnlockConnector", {"connectorId": 1.0}, ("TypeConstraintViolation",
                                               "connectorId: wrong type")),
    ("UnlockConnector", {"connectorId": "1"}, ("TypeConstraintViolation",
                                               "connectorId: wrong type")),
    ("UnlockConnector", {"connectorId": None}, ("TypeConstraintViolation",
                                                "connectorId: wrong type")),
    ("RemoteStartTransaction", {"idTag": "x" * 21}, ("PropertyConstraintViolation",
                                                     "idTag: too long")),
    ("GetConfiguration", {"key": "HeartbeatInterval"}, ("TypeConstraintViolation",
                                                        "key: wrong type")),
    ("GetConfiguration", {"key": ["a", 5]}, ("TypeConstraintViolation", "key[1]: wrong type")),
    (_BOOT, {"status": "Accepted", "currentTime": "2024-01-01 00:00:00Z", "interval": 1},
     ("PropertyConstraintViolation", "currentTime: not an ISO 8601 date-time")),
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "kW", "chargingSchedulePeriod": []}}},
     ("PropertyConstraintViolation",
      "csChargingProfiles.chargingSchedule.chargingRateUnit: bad enum value")),
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {
            "chargingRateUnit": "A", "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 0.3}, {"startPeriod": 9, "limit": 6.05}]}}},
     ("PropertyConstraintViolation", "csChargingProfiles.chargingSchedule."
      "chargingSchedulePeriod[1].limit: not a multiple of 0.1")),
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {
            "chargingRateUnit": "A", "chargingSchedulePeriod": [{"limit": 6}]}}},
     ("OccurenceConstraintViolation", "csChargingProfiles.chargingSchedule."
      "chargingSchedulePeriod[0].startPeriod: missing")),
    ("RemoteStartTransaction", {"idTag": "T", "chargingProfile": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": _SCHED, "validTo": "2024"}},
     ("PropertyConstraintViolation", "chargingProfile.validTo: not an ISO 8601 date-time")),
    ("SendLocalList", {"listVersion": 1, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "A", "idTagInfo": {"status": "Accepted", "extra": 1}}]},
     ("FormationViolation", "localAuthorizationList[0].idTagInfo.extra: not allowed")),
    ("StartTransactionResponse", {"idTagInfo": {}, "transactionId": 1},
     ("OccurenceConstraintViolation", "idTagInfo.status: missing")),
    ("StartTransactionResponse", {"idTagInfo": [], "transactionId": 1},
     ("TypeConstraintViolation", "idTagInfo: wrong type")),
    (_BOOT, {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 2.5},
     ("TypeConstraintViolation", "interval: wrong type")),
)

GOOD_DATES = (
    "2024-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:60Z",
    "2024-02-29T12:34:56.7Z", "2024-02-29T12:34:56.123456789+14:00",
    "2024-02-29T12:34:56-00:00", "2024-02-29T12:34:56+23:59", "2024-01-31T00:00:00.000Z",
)
BAD_DATES = (
    "", "Z", "2024-01-01", "2024-01-01T00:00:00", "2024-01-01T00:00Z", "2024-01-01 00:00:00Z",
    "2024-01-01t00:00:00Z", "2024-01-01T00:00:00z", "2024-00-01T00:00:00Z",
    "2024-13-01T00:00:00Z", "2024-01-00T00:00:00Z", "2024-01-32T00:00:00Z",
    "2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "2024-01-01T00:00:61Z",
    "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.1.2Z", "2024-01-01T00:00:00+24:00",
    "2024-01-01T00:00:00+01:60", "2024-01-01T00:00:00+0100", "2024-01-01T00:00:00+01",
    "2024-01-01T00:00:00ZZ", "2024-01-01T00:00:00 Z", "24-01-01T00:00:00Z",
    "2024-1-01T00:00:00Z", "2024-01-01T00:00:00.+01:00", "2024-01-01T00:00:00.5x01:00",
    "2024-01-01T00:00:00Z ", " 2024-01-01T00:00:00Z", "2024-01-0aT00:00:00Z",
    "2024/01/01T00:00:00Z", "2024-01-01T00:00:00.\u0661Z", "2024-01-01T00:00:00.12a4Z",
    "2024-01-01T00:00:00.5:Z", "2024-01-01T00:00:00.5/Z", "2024-01-01T0:00:00.5Z",
)


def test_valid_examples():
    for name, payload in VALID:
        assert check(name, payload) is None, (name, check(name, payload))


def test_every_action_has_an_example():
    names = [n for n, _ in VALID]
    for a in CALLS:
        assert a in names, a
    assert len(set(names)) == len(CALLS) + 14


def test_invalid_examples():
    for name, payload, want in INVALID:
        assert check(name, payload) == want, (name, check(name, payload))


def test_spec_lookup():
    assert len(CALLS) == 26 and "Reset" in CALLS and "BootNotification" not in CALLS
    for name, _ in VALID:
        assert spec(name) is not None, name
    for name in ("", "Response", "Boot", "BootNotification", "ResetResponse", "Foo",
                 "FooResponse", "BootNotificationResponsex", "AuthorizeResponseResponse"):
        assert spec(name) is None, name
        assert check(name, {"anything": 1}) is None  # unknown: not validated here


def test_date_time():
    for d in GOOD_DATES:
        assert check("HeartbeatResponse", {"currentTime": d}) is None, d
    for d in BAD_DATES:
        want = ("PropertyConstraintViolation", "currentTime: not an ISO 8601 date-time")
        assert check("HeartbeatResponse", {"currentTime": d}) == want, d


def _limit(x):
    return check("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {
            "chargingRateUnit": "A", "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": x}]}}})


def test_multiple_of():
    for k in range(-50, 3000, 7):  # k / 10 is not exact in binary for most k
        assert _limit(k / 10) is None, k
        assert _limit(k) is None, k
        assert _limit(k / 10 + 0.05) is not None, k
        assert _limit(k / 10 + 0.01) is not None, k
    for x in (123456.7, 2147483647, -2147483647.0):
        assert _limit(x) is None, x
    for x in (0.001, 1e-7, 123456.75):
        assert _limit(x) is not None, x


def test_numbers_beyond_32_bits_are_out_of_range():
    # no bigint or inf may reach an index, a loop or time arithmetic (issue 9)
    out = ("PropertyConstraintViolation",
           "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit: out of range")
    for x in (1e300, -1e300, 2 ** 31, 10 ** 400, float("inf"), float("-inf"), float("nan")):
        assert _limit(x) == out, x
    for cid in (2 ** 31, -2 ** 31, 99999999999999999999, 10 ** 4000):
        assert check("UnlockConnector", {"connectorId": cid}) == (
            "PropertyConstraintViolation", "connectorId: out of range"), cid
    assert check("UnlockConnector", {"connectorId": 2147483647}) is None
    assert check("BootNotificationResponse", {"status": "Accepted", "interval": 2 ** 40,
                                              "currentTime": "2026-01-01T00:00:00Z"}) == (
        "PropertyConstraintViolation", "interval: out of range")


def test_min_max():
    # not used by the OCPP 1.6 schemas the charge point receives, but supported
    arr = (-1, T.index((-4,)), 1, 2)  # 1 or 2 integers
    few = ("OccurenceConstraintViolation", ": wrong number of items")
    assert _val(arr, [1], T, None) is None and _val(arr, [1, 2], T, None) is None
    assert _val(arr, [], T, None) == few and _val(arr, [1, 2, 3], T, None) == few
    assert _val(arr, ["1"], T, None) == ("TypeConstraintViolation", "[0]: wrong type")
    num = (-5, None, 0)  # a number >= 0
    assert _val(num, 0, T, None) is None and _val(num, 0.5, T, None) is None
    assert _val(num, -1, T, None) == ("PropertyConstraintViolation", ": below minimum")
    rng = (-4, 0, 9)  # an integer 0..9 (2.0.1 schemas have such)
    assert _val(rng, 0, T, None) is None and _val(rng, 9, T, None) is None
    assert _val(rng, -1, T, None) == _val(rng, 10, T, None) == ("PropertyConstraintViolation", ": out of range")


def test_201_tables():
    # customData objects are open; data is any value; the 2.0.1 names of the tables
    from mpy_ocpp import schema201 as s
    ok = {"vendorId": "Acme", "data": [1, {"a": None}], "customData": {"vendorId": "X", "more": 1}}
    assert check("DataTransfer", ok, s) is None
    assert check("DataTransfer", dict(ok, extra=1), s) == ("FormationViolation", "extra: not allowed")
    assert check("DataTransfer", {"customData": {"vendorId": "X"}}, s) == (
        "OccurenceConstraintViolation", "vendorId: missing")
    assert check("DataTransfer", dict(ok, customData={}), s) == (
        "OccurenceConstraintViolation", "customData.vendorId: missing")
    # only 2.0.1 objects may hold customData: a 1.6 one refuses it
    assert check("DataTransfer", {"vendorId": "A", "customData": {"vendorId": "X"}}, schema) == (
        "FormationViolation", "customData: not allowed")
    boot = {"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Pending",
            "statusInfo": {"reasonCode": "Wait"}}
    assert check("BootNotificationResponse", boot, s) is None
    assert check("BootNotificationResponse", dict(boot, status="Blocked"), s)[1] == "status: bad enum value"
    assert check("StatusNotificationResponse", {}, s) is None
    assert check("Reset", {"type": "Immediate"}, s) is None  # no table yet: not checked here


def test_little_allocation():
    if not hasattr(gc, "mem_alloc"):
        return  # CPython
    payloads = [p for p in VALID if p[0] in (_BOOT, "SendLocalList", "TriggerMessage")]
    for name, payload in payloads:  # no float: boxed (allocated) on most boards
        check(name, payload)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for name, payload in payloads:
        check(name, payload)
    b = gc.mem_alloc()
    gc.enable()
    assert b - a == 0, b - a
