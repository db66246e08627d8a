# The Local Auth List Management profile, plain asserts: run on MicroPython by tools/mptest.py
# and on CPython by pytest, against a fake transport (the end-to-end proof is
# tests_host/test_local_auth_list.py).
import gc
import json
import os

from mpy_ocpp import ChargePoint, clock, local_auth_list, local_auth_list_calls
from mpy_ocpp.store import Store
from tests_host.mpy.fakes import Link, state_dir


def _dir():
    return state_dir("lal")


def _answer_all(cp, link, reply=None):
    """Answer every call the charge point sends until it has nothing left to send."""
    for _ in range(40):
        cp.loop()
        if cp.pending is None:
            if not cp.queue:
                return
            continue
        mid, e = cp.pending[0], cp.pending[1]
        if e[1] == "BootNotification":
            p = {"status": "Accepted", "currentTime": clock.iso(), "interval": 300}
        elif e[1] == "StartTransaction":
            p = {"transactionId": 7, "idTagInfo": {"status": "Accepted"}}
        elif e[1] == "Authorize":
            p = {"idTagInfo": (reply or {}).get(e[2]["idTag"], {"status": "Accepted"})}
        else:
            p = {}
        link.inbox.append(json.dumps([3, mid, p]))


def _booted(state=None, connectors=1):
    link = Link()
    cp = ChargePoint("CP_1", link, Store(state or _dir()), connectors=connectors,
                     profiles=(local_auth_list,))
    for c in cp.connectors[1:]:
        c.energy = lambda: 100
    _answer_all(cp, link)
    assert cp.accepted
    return cp, link


def _call(cp, link, action, payload):
    link.inbox.append(json.dumps([2, "t1", action, payload]))
    cp.loop()
    return [m for m in link.sent if m[1] == "t1"].pop()


def _send(cp, link, version, kind, entries=None):
    p = {"listVersion": version, "updateType": kind}
    if entries is not None:
        p["localAuthorizationList"] = entries
    reply = _call(cp, link, "SendLocalList", p)
    return reply[2]["status"] if reply[0] == 3 else reply[2]


def _version(cp, link):
    return _call(cp, link, "GetLocalListVersion", {})[2]["listVersion"]


def _e(tag, status="Accepted", **more):
    info = {"status": status}
    info.update(more)
    return {"idTag": tag, "idTagInfo": info}


def test_keys_and_profile():
    cp, link = _booted()
    conf = _call(cp, link, "GetConfiguration", {})[2]["configurationKey"]
    keys = dict((k["key"], (k["readonly"], k["value"])) for k in conf)
    assert keys["LocalAuthListEnabled"] == (False, "true")
    assert keys["LocalAuthListMaxLength"] == (True, "500")
    assert keys["SendLocalListMaxLength"] == (True, "50")
    assert "LocalAuthListManagement" in keys["SupportedFeatureProfiles"][1].split(",")
    assert cp.config.change("LocalAuthListMaxLength", "9") == "Rejected"


def _lookup(cp, tag):  # the core looks only while a list is stored (cp.local_list, its version)
    return local_auth_list_calls.lookup(cp, tag) if cp.local_list else None


def _count(cp):
    return local_auth_list_calls.LocalList(cp).count


def test_full_and_differential_updates_and_versions():
    d = _dir()
    cp, link = _booted(d)
    assert _version(cp, link) == 0 and _lookup(cp, "A") is None
    soon = clock.iso(clock.now() + 3600)
    past = clock.iso(clock.now() - 10)
    assert _send(cp, link, 3, "Full", [
        _e("A"), _e("B", "Blocked"), _e("C", "Accepted", expiryDate=past),
        _e("D", "Accepted", expiryDate=soon, parentIdTag="GROUP"), _e("E", "Invalid"),
        {"idTag": "F"}]) == "Accepted"  # no idTagInfo in a Full list: not listed
    assert _version(cp, link) == 3 and _count(cp) == 5
    assert _lookup(cp, "A") == {"status": "Accepted"}
    assert _lookup(cp, "B") == {"status": "Blocked"}
    assert _lookup(cp, "C") == {"status": "Expired"}
    assert _lookup(cp, "D") == {"status": "Accepted", "parentIdTag": "GROUP"}
    assert _lookup(cp, "E") == {"status": "Invalid"}
    assert _lookup(cp, "F") is None and _lookup(cp, "") is None
    assert _lookup(cp, "a") == {"status": "Accepted"}  # CiString20: any case
    assert _lookup(cp, "X" * 21) is None
    # Differential: only newer versions; replace, add, delete (no idTagInfo)
    assert _send(cp, link, 3, "Differential", [_e("Z")]) == "VersionMismatch"
    assert _send(cp, link, 2, "Differential", [_e("Z")]) == "VersionMismatch"
    assert _lookup(cp, "Z") is None
    assert _send(cp, link, 4, "Differential", [
        _e("B"), _e("Z", "ConcurrentTx"), {"idTag": "A"}, {"idTag": "NOPE"}]) == "Accepted"
    assert _version(cp, link) == 4 and _count(cp) == 5
    assert _lookup(cp, "A") is None and _lookup(cp, "B") == {"status": "Accepted"}
    assert _lookup(cp, "Z") == {"status": "ConcurrentTx"}
    assert _send(cp, link, 5, "Differential") == "Accepted"  # no entries: only the version
    assert _version(cp, link) == 5 and _count(cp) == 5
    # a Full list may go back to any version; persistence across a reboot
    assert _send(cp, link, 2, "Full", [_e("Q", "Blocked"), _e("R")]) == "Accepted"
    cp2, link2 = _booted(d)
    assert _version(cp2, link2) == 2 and _lookup(cp2, "Q") == {"status": "Blocked"}
    assert _lookup(cp2, "B") is None
    # an empty Full list resets it: version 0 means no list (§5.10)
    assert _send(cp2, link2, 9, "Full", []) == "Accepted"
    assert _version(cp2, link2) == 0 and cp2.local_list is None
    assert _send(cp2, link2, 1, "Differential", [_e("S")]) == "Accepted"
    assert _version(cp2, link2) == 1
    assert local_auth_list_calls.lookup(_booted(d)[0], "S") == {"status": "Accepted"}


def test_a_tag_listed_twice_takes_its_last_entry():
    cp, link = _booted()
    assert _send(cp, link, 1, "Full", [_e("B", "Blocked"), _e("A"), _e("B", "Invalid"), _e("C"),
                                        _e("B", "Expired"), _e("A", "Blocked")]) == "Accepted"
    assert _count(cp) == 3 and _lookup(cp, "A") == {"status": "Blocked"}
    assert _lookup(cp, "B") == {"status": "Expired"} and _lookup(cp, "C") == {"status": "Accepted"}
    assert _send(cp, link, 2, "Differential", [{"idTag": "C"}, _e("C", "Blocked"), _e("D"),
                                                {"idTag": "D"}]) == "Accepted"
    assert _count(cp) == 3 and _lookup(cp, "C") == {"status": "Blocked"} and _lookup(cp, "D") is None


def test_limits_failed_and_callerror():
    cp, link = _booted()
    cp.config.set_default("LocalAuthListMaxLength", 3)
    assert _send(cp, link, 1, "Full", [_e("A"), _e("B"), _e("C")]) == "Accepted"
    assert _send(cp, link, 2, "Differential", [_e("D")]) == "Failed"
    assert _version(cp, link) == 1 and local_auth_list_calls.lookup(cp, "D") is None
    assert _send(cp, link, 2, "Differential", [_e("D"), {"idTag": "A"}]) == "Accepted"  # 3 again
    assert _send(cp, link, 3, "Full", [_e("1"), _e("2"), _e("3"), _e("4")]) == "Failed"
    assert local_auth_list_calls.lookup(cp, "D") == {"status": "Accepted"}
    assert _send(cp, link, 0, "Full", [_e("A")]) == "Failed"  # version 0 = no list
    assert _send(cp, link, -1, "Full", [_e("A")]) == "Failed"
    cp.config.set_default("SendLocalListMaxLength", 2)
    err = _send(cp, link, 5, "Full", [_e("A"), _e("B"), _e("C")])
    assert err == "OccurenceConstraintViolation", err
    assert _version(cp, link) == 2
    assert _send(cp, link, 5, "Full", [_e("\u00e9" * 11)]) == "Failed"  # 22 bytes do not fit


def test_disabled_list_is_not_consulted():
    cp, link = _booted()
    assert _send(cp, link, 1, "Full", [_e("A", "Blocked")]) == "Accepted"
    assert cp.config.change("LocalAuthListEnabled", "false") == "Accepted"
    assert local_auth_list_calls.lookup(cp, "A") is None
    assert _version(cp, link) == 1  # still installed, still updated
    assert _send(cp, link, 2, "Differential", [_e("B")]) == "Accepted"
    assert cp.config.change("LocalAuthListEnabled", "true") == "Accepted"
    assert local_auth_list_calls.lookup(cp, "B") == {"status": "Accepted"}


def test_offline_authorization_from_the_list():
    cp, link = _booted()
    cp.config.change("AuthorizationCacheEnabled", "false")
    assert _send(cp, link, 1, "Full", [_e("OK"), _e("BAD", "Blocked")]) == "Accepted"
    link.online = False
    cp.loop()
    assert not cp.online
    got = []
    cp.authorize("OK", got.append)
    cp.authorize("BAD", got.append)
    cp.authorize("UNKNOWN", got.append)  # AllowOfflineTxForUnknownId is false
    assert got == [{"status": "Accepted"}, {"status": "Blocked"}, None]
    cp.tag(1, "BAD")
    assert cp.connectors[1].session is None
    cp.tag(1, "OK")
    assert cp.connectors[1].session[:2] == ("OK", None)


def test_conflict_with_the_csms_is_reported_on_connector_0():
    cp, link = _booted()
    assert _send(cp, link, 1, "Full", [_e("A"), _e("B", "Blocked"), _e("C")]) == "Accepted"
    n = len(link.sent)
    replies = {"A": {"status": "Blocked"}, "B": {"status": "Accepted"}, "C": {"status": "Accepted"}}
    for tag in ("A", "B", "C", "UNLISTED"):
        cp.authorize(tag, lambda info: None)
        _answer_all(cp, link, replies)
    sn = [m[3] for m in link.sent[n:] if m[0] == 2 and m[2] == "StatusNotification"]
    assert [(p["connectorId"], p["status"], p["errorCode"]) for p in sn] == [
        (0, "Available", "LocalListConflict"), (0, "Available", "NoError"),
        (0, "Available", "LocalListConflict"), (0, "Available", "NoError")]
    assert local_auth_list_calls.lookup(cp, "A") == {"status": "Accepted"}  # the list is not changed


def test_conflict_in_a_start_transaction_answer_is_reported_too():
    cp, link = _booted()
    cp.config.change("LocalPreAuthorize", "true")  # the list alone lets the charge start
    assert _send(cp, link, 1, "Full", [_e("A")]) == "Accepted"
    c = cp.connectors[1]
    c.plugged = lambda: True
    n = len(link.sent)
    cp.tag(1, "A")
    for _ in range(20):
        cp.loop()
        p = cp.pending
        if p is not None:
            res = {"transactionId": 7, "idTagInfo": {"status": "Blocked"}} if (
                p[1][1] == "StartTransaction") else {}
            link.inbox.append(json.dumps([3, p[0], res]))
    sent = [m[2] for m in link.sent[n:] if m[0] == 2]
    assert "Authorize" not in sent and "StartTransaction" in sent
    sn = [(m[3]["connectorId"], m[3]["errorCode"]) for m in link.sent[n:]
          if m[0] == 2 and m[2] == "StatusNotification"]
    assert [e for e in sn if e[0] == 0] == [(0, "LocalListConflict"), (0, "NoError")]
    assert local_auth_list_calls.lookup(cp, "A") == {"status": "Accepted"}  # the list is not changed


def test_five_hundred_entries_in_chunks():
    d = _dir()
    cp, link = _booted(d)
    tags = ["%08X" % ((i * 2654435761) & 0xFFFFFFFF) for i in range(500)]  # unsorted
    for v in range(10):
        chunk = [_e(t, "Accepted" if i % 7 else "Blocked", parentIdTag="P%d" % (i % 3))
                 for i, t in enumerate(tags) if i // 50 == v]
        assert _send(cp, link, v + 1, "Full" if v == 0 else "Differential", chunk) == "Accepted"
    assert _version(cp, link) == 10 and local_auth_list_calls.LocalList(cp).count == 500
    assert os.stat(d + "/locallist.bin")[6] == 4 + 500 * 45
    cp2 = _booted(d)[0]
    gc.collect()
    for i, t in enumerate(tags):
        assert local_auth_list_calls.lookup(cp2, t) == {"status": "Accepted" if i % 7 else "Blocked",
                                "parentIdTag": "P%d" % (i % 3)}, t
    assert _send(cp, link, 11, "Differential", [_e(tags[0])]) == "Accepted"
    assert _send(cp, link, 12, "Differential", [_e("NEW")]) == "Failed"  # 501 > 500
    assert local_auth_list_calls.LocalList(cp).count == 500


def test_power_cut_while_writing():
    d = _dir()
    cp, link = _booted(d)
    assert _send(cp, link, 4, "Full", [_e("A"), _e("B")]) == "Accepted"
    name = d + "/locallist.bin"
    os.rename(name, name + ".tmp")  # FAT: cut after removing the old file, before the rename
    cp = _booted(d)[0]
    assert cp.local_list == 4 and local_auth_list_calls.lookup(cp, "B") == {"status": "Accepted"}
    with open(name, "rb") as f:
        data = f.read()
    os.remove(name)
    with open(name + ".tmp", "wb") as f:  # cut before the version was written
        f.write(bytes(4) + data[4:])
    cp, link = _booted(d)
    assert cp.local_list is None
    assert _send(cp, link, 1, "Differential", [_e("C")]) == "Accepted"
    assert local_auth_list_calls.LocalList(cp).count == 1 and local_auth_list_calls.lookup(cp, "A") is None


def test_tags_are_found_in_any_case():
    d = _dir()
    cp, link = _booted(d)
    assert _send(cp, link, 1, "Full", [_e("abc1"), _e("Card", "Blocked"), _e("CARD"),
                                        _e("x\u00e9")]) == "Accepted"
    assert _count(cp) == 3  # "Card" and "CARD" are one tag: its last entry
    assert _lookup(cp, "ABC1") == _lookup(cp, "aBc1") == {"status": "Accepted"}
    assert _lookup(cp, "card") == {"status": "Accepted"}
    assert _lookup(cp, "X\u00e9") == {"status": "Accepted"}  # ASCII letters fold, on every runtime
    assert _lookup(cp, "X\u00c9") is None
    assert _send(cp, link, 2, "Differential", [{"idTag": "ABC1"}]) == "Accepted"
    assert _count(cp) == 2 and _lookup(cp, "abc1") is None
    assert local_auth_list_calls.lookup(_booted(d)[0], "cArD") == {"status": "Accepted"}


def test_a_list_written_before_tags_were_folded_is_set_aside():
    d = _dir()
    cp, link = _booted(d)
    rec = bytearray(45)
    rec[:3] = b"abc"  # as an older version wrote a lower-case tag
    with open(d + "/locallist.bin", "wb") as f:
        f.write((3).to_bytes(4, "little") + rec)
    cp, link = _booted(d)
    assert cp.local_list is None
    assert "locallist.bin.bad" in os.listdir(d)
    assert _send(cp, link, 1, "Full", [_e("abc")]) == "Accepted"
    assert local_auth_list_calls.lookup(cp, "ABC") == {"status": "Accepted"}



def test_a_list_stored_under_1_6_serves_a_2_0_1_session():
    # a build with both versions: the CSMS may pick 2.0.1 while a 1.6 list is on flash
    from mpy_ocpp import ocpp201
    d = _dir()
    cp, link = _booted(d)
    assert _send(cp, link, 2, "Full", [_e("A"), _e("B", "Blocked")]) == "Accepted"
    cp = ChargePoint("CP_1", Link(), Store(d), connectors=1, profiles=(local_auth_list,), versions=(ocpp201,))
    assert cp.version == "2.0.1" and cp.local_list == 2
    seen = []
    cp.authorize("B", seen.append)  # offline: the list decides
    assert seen == [{"status": "Blocked"}]
