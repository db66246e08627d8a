"""The Local Auth List Management profile end to end: tools/sim.py (which loads
mpy_ocpp.local_auth_list) against tools/csms.py over a real WebSocket, on CPython and on the
MicroPython unix port. Unit tests: tests_host/mpy/test_local_auth_list_mp.py."""
import sys
from pathlib import Path

import pytest

from tests_host import simproc
from tools.csms import CallErrorReply

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests_host/wasm.py, any import mode
from wasm import AVAILABLE, run_wasm  # noqa: E402

runtimes = pytest.mark.parametrize("runtime", simproc.RUNTIMES)


def cp0_statuses(csms):
    return [(p["status"], p["errorCode"]) for p in csms.received("CP_1", "StatusNotification")
            if p["connectorId"] == 0]


def entry(tag, status="Accepted", **more):
    return {"idTag": tag, "idTagInfo": dict(status=status, **more)}


def send(csms, version, kind, entries=None):
    p = {"listVersion": version, "updateType": kind}
    if entries is not None:
        p["localAuthorizationList"] = entries
    return csms.call("CP_1", "SendLocalList", p)["status"]


def version(csms):
    return csms.call("CP_1", "GetLocalListVersion", {})["listVersion"]


@runtimes
def test_updates_versions_limits_and_persistence(runtime, csms, run):
    sim = run(runtime)
    conf = csms.call("CP_1", "GetConfiguration", {})["configurationKey"]
    keys = {k["key"]: (k["readonly"], k["value"]) for k in conf}
    assert keys["LocalAuthListEnabled"] == (False, "true")
    assert keys["LocalAuthListMaxLength"] == (True, "500")
    assert keys["SendLocalListMaxLength"] == (True, "50")
    assert "LocalAuthListManagement" in keys["SupportedFeatureProfiles"][1].split(",")
    assert version(csms) == 0
    assert send(csms, 1, "Full", [entry("A"), entry("B", "Blocked")]) == "Accepted"
    assert version(csms) == 1
    assert send(csms, 1, "Differential", [entry("C")]) == "VersionMismatch"
    # 500 entries in ten messages of 50 (the most one may carry), then one too many
    tags = ["T%07d" % i for i in range(500)]
    assert send(csms, 10, "Full", [entry(t) for t in tags[:50]]) == "Accepted"
    for v in range(1, 10):
        chunk = [entry(t) for t in tags[v * 50:(v + 1) * 50]]
        assert send(csms, 10 + v, "Differential", chunk) == "Accepted"
    assert version(csms) == 19
    assert send(csms, 20, "Differential", [entry("ONE_TOO_MANY")]) == "Failed"
    assert send(csms, 20, "Differential", [entry("ONE_TOO_MANY"), {"idTag": tags[0]}]) == "Accepted"
    with pytest.raises(CallErrorReply) as e:
        send(csms, 21, "Full", [entry("X%d" % i) for i in range(51)])
    assert e.value.code == "OccurenceConstraintViolation"
    assert version(csms) == 20
    # the list survives a restart of the charge point
    sim.stop()
    run(runtime)
    assert version(csms) == 20
    assert send(csms, 20, "Differential", [entry("Z")]) == "VersionMismatch"
    assert send(csms, 3, "Full", []) == "Accepted"  # an empty Full list: no list
    assert version(csms) == 0
    assert csms.violations == []


@runtimes
def test_offline_authorization_blocked_entry_and_conflict(runtime, csms, run):
    sim = run(runtime)
    assert send(csms, 1, "Full", [entry("LISTED"), entry("BLOCKED", "Blocked"),
                                  entry("CONFLICT")]) == "Accepted"
    # the CSMS contradicts the list: LocalListConflict on connector 0, then NoError again
    csms.authorize_status["CONFLICT"] = "Blocked"
    sim.cmd("tag 2 CONFLICT")
    csms.wait_for(lambda: cp0_statuses(csms)[-2:] == [("Available", "LocalListConflict"),
                                                      ("Available", "NoError")])
    assert version(csms) == 1  # Authorize answers do not change the list
    # offline: the list decides (LocalAuthorizeOffline), the cache knows none of these tags
    port = csms.port
    csms.stop()
    sim.wait_status(lambda s: not s["online"])
    sim.cmd("plug 1", "tag 1 BLOCKED", "wait 0.5")
    assert not sim.status()["connectors"][1]["relay"]
    sim.cmd("tag 1 LISTED")
    sim.wait_status(lambda s: s["connectors"][1]["relay"])
    csms.start(port=port)
    start = csms.wait_action("CP_1", "StartTransaction", timeout=30)
    assert start["idTag"] == "LISTED"
    assert [p["idTag"] for p in csms.received("CP_1", "Authorize")] == ["CONFLICT"]
    assert csms.violations == []


# 500 entries on the 32-bit port: what the list keeps on the heap (retained across steps, so
# garbage does not count), and what one lookup and one 50-entry update allocate in passing.
_HEAP = """\
import gc
from mpy_ocpp import ChargePoint, local_auth_list
from mpy_ocpp.local_auth_list_calls import LocalList, update
from mpy_ocpp.store import Store


class Link:
    online = False
    error = None

    def connect(self, user, password):
        pass

    def poll(self):
        return None


cp = ChargePoint("CP_1", Link(), Store("/state"), profiles=(local_auth_list,))
ll = LocalList(cp)  # none is held before a list is stored
tags = ["%08X" % ((i * 2654435761) & 0xFFFFFFFF) for i in range(500)]
#--- step
empty = gc.mem_alloc()
for v in range(10):
    update(ll, v + 1, v == 0, [{"idTag": t, "idTagInfo": {"status": "Accepted", "parentIdTag": "G"}}
                          for t in tags[v * 50:(v + 1) * 50]])
#--- step
full = gc.mem_alloc()
info = ll.lookup(tags[321])
lookup = gc.mem_alloc() - full
news = [{"idTag": "NEW%d" % i, "idTagInfo": {"status": "Blocked"}} for i in range(50)]
#--- step
before = gc.mem_alloc()
update(ll, 11, False, news[:49])
update = gc.mem_alloc() - before
print("HEAP", ll.count, full - empty, lookup, update, info == {"status": "Accepted", "parentIdTag": "G"})
"""


@pytest.mark.skipif(not AVAILABLE, reason="no node or no wasm port (make wasm)")
def test_heap_of_500_entries_on_32_bit():
    rc, out, err = run_wasm(_HEAP)
    assert rc == 0, err
    words = out.split()
    assert words[0] == "HEAP", out
    count, retained, lookup, update, ok = int(words[1]), int(words[2]), int(words[3]), int(words[4]), words[5]
    print("500 entries: %d B retained; a lookup allocates %d B, a 49-entry update %d B"
          % (retained, lookup, update))
    assert count == 500 and ok == "True"
    assert retained < 512  # the records stay in the file (an in-RAM dict: about 68 KB)
    assert lookup < 2048 and update < 32768  # garbage, collected as usual
