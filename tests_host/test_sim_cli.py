"""The simulator as a user meets it (tools/sim.py, on CPython and on the MicroPython unix port):
--help, every mistake on the command line (one line on stderr, exit code 2), every mistake on
stdin (one line on stderr, the simulator goes on), Ctrl-C, the AuthorizationKey never printed,
charge point ids percent-encoded into the URL, and the most connectors it takes all reporting
their status after boot, against the real CSMS."""
import signal
import subprocess
import sys
import time
from urllib.parse import quote

import pytest

from mpy_ocpp.chargepoint import MAX_CONNECTORS
from tests_host import simproc

SIM = str(simproc.ROOT / "tools" / "sim.py")
GARBAGE = str(simproc.ROOT / "tools" / "sim.py")  # not a certificate


def exe(runtime):
    return sys.executable if runtime == "cpython" else simproc.MICROPYTHON


def run_sim(runtime, *args):
    return subprocess.run([exe(runtime), SIM] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=20)


def wait_lines(lines, n, timeout=10):
    end = time.monotonic() + timeout
    while len(lines) < n and time.monotonic() < end:
        time.sleep(0.02)
    return lines


@pytest.mark.parametrize("runtime", simproc.RUNTIMES)
def test_help_names_every_option_and_command(runtime):
    p = run_sim(runtime, "--help")
    assert p.returncode == 0 and p.stderr == ""
    for word in ("--url", "--id", "--connectors", "--state", "--auth-key", "--ca", "--cert", "--key", "--power", "--ocpp",
                 "plug N", "unplug N", "tag N IDTAG", "token N TYPE ID", "evready N 0|1", "fault N CODE",
                 "wait SECONDS", "status", "help", "quit", "GroundFailure",
                 "1 to %d" % MAX_CONNECTORS):
        assert word in p.stdout, word


BAD_OPTIONS = [
    ["--connectors", "0"], ["--connectors", "-1"], ["--connectors", "100"],
    ["--connectors", str(MAX_CONNECTORS + 1)], ["--connectors", "two"], ["--connectors", "1.5"],
    ["--power", "-1"], ["--power", "lots"], ["--bogus", "1"], ["--state"],
    ["--url", "http://127.0.0.1:1/ocpp"], ["--url", "wss://127.0.0.1:1/ocpp"],  # wss:// without --ca
    ["--url", "wss://127.0.0.1:1/ocpp", "--ca", "/nonexistent/ca.der"],
    ["--url", "wss://127.0.0.1:1/ocpp", "--ca", GARBAGE], ["--url", "ws://127.0.0.1:port/ocpp"],
    ["--state", "/dev/null/state"],
    ["--ocpp", "2.1"], ["--ocpp", "1.6,1.6"], ["--ocpp", ""], ["--ocpp", "1.6;2.0.1"],
    ["--cert", "/nonexistent/c.der", "--key", "/nonexistent/k.der"], ["--cert", "/dev/null"],
]


@pytest.mark.parametrize("runtime", simproc.RUNTIMES)
def test_bad_options_are_one_line_and_exit_2(runtime, tmp_path):
    for extra in BAD_OPTIONS + [["--id="]]:  # the last one: no id at all
        args = ["--url", "ws://127.0.0.1:1/ocpp", "--id", "CP_1", "--state", str(tmp_path / "s")] + extra
        p = run_sim(runtime, *args)
        assert p.returncode == 2, (extra, p.stderr)
        assert len(p.stderr.splitlines()) == 1 and "Traceback" not in p.stderr, (extra, p.stderr)
        assert p.stdout == ""


BAD_COMMANDS = [
    "frobnicate", "plug", "plug -1", "plug 0", "plug 3", "plug x", "plug 1 2", "unplug -2",
    "tag 1", "tag -1 CARD", "tag 9 CARD", "tag 1 " + "X" * 21, "evready 1", "evready 1 yes",
    "fault 1", "fault 1 Broken", "fault -1 GroundFailure", "wait", "wait x", "wait -1",
    "wait inf", "wait nan", "status now", "quit now", "token 1 RFID X", "token 1 KeyCode",
    "token 1 Local " + "X" * 37, "power 1", "power 1 -5", "power 1 fast", "power 0 1000",
]


@pytest.mark.parametrize("runtime", simproc.RUNTIMES)
def test_bad_commands_are_one_line_and_the_simulator_goes_on(runtime, csms, tmp_path):
    sim = simproc.start(runtime, csms, tmp_path)
    try:
        sim.status()
        n = len(sim.err)
        sim.cmd(*BAD_COMMANDS)
        errs = wait_lines(sim.err, n + len(BAD_COMMANDS))[n:]
        assert len(errs) == len(BAD_COMMANDS), errs
        for cmd, err in zip(BAD_COMMANDS, errs):
            assert err.startswith(cmd + ": "), (cmd, err)
        assert not any("Traceback" in e for e in sim.err)
        n = len(sim.out)
        sim.cmd("help")
        assert "plug N" in "\n".join(wait_lines(sim.out, n + 10)[n:])
        sim.cmd("plug 2")  # still at work
        sim.wait_status(lambda s: s["connectors"][2]["plugged"])
        csms.wait_action("CP_1", "StatusNotification", where=lambda p: p["connectorId"] == 2
                         and p["status"] == "Preparing")
        assert sim.proc.poll() is None
    finally:
        assert sim.stop() == 0


@pytest.mark.parametrize("runtime", simproc.RUNTIMES)
def test_ctrl_c_exits_cleanly(runtime, csms, tmp_path):
    sim = simproc.start(runtime, csms, tmp_path)
    sim.status()
    sim.proc.send_signal(signal.SIGINT)
    assert sim.proc.wait(timeout=10) == 130
    wait_lines(sim.err, 1)
    time.sleep(0.2)
    assert not any("Traceback" in e for e in sim.err), sim.err
    csms.wait_for(lambda: not csms.connected("CP_1"), what="the link closed")


@pytest.mark.parametrize("runtime", simproc.RUNTIMES)
def test_authorization_key_is_never_printed(runtime, csms, tmp_path):
    sim = simproc.start(runtime, csms, tmp_path, auth_key="first-key-0123456")
    try:
        assert csms.call("CP_1", "ChangeConfiguration",
                         {"key": "AuthorizationKey", "value": "second-key-6543210"}) == {"status": "Accepted"}
        csms.wait_for(lambda: csms.connect_count("CP_1") == 2, what="a reconnect with the new key")
        # JSON may spell the key with escapes: the simulator still hides its value
        csms.send_raw("CP_1", '[2,"k3","ChangeConfiguration",'
                              '{"key":"Authorization\\u004bey","value":"third-key-7777777"}]')
        csms.wait_frame(lambda t: t.replace(" ", "").startswith('[3,"k3"'), cp_id="CP_1")
        csms.wait_for(lambda: csms.connect_count("CP_1") == 3, what="a reconnect with the third key")
        assert csms.handshakes[-1]["password"] == b"third-key-7777777"
        sim.status()
        assert any("ChangeConfiguration" in line and "***" in line for line in sim.out)
    finally:
        sim.stop()
    printed = "\n".join(sim.out + sim.err)
    for key in ("first-key-0123456", "second-key-6543210", "third-key-7777777"):
        assert key not in printed


IDS = ["CP 1", "a/b", "c#d", "e?f", "g%41h", "Zürich-€", "x+y&z=1"]


@pytest.mark.parametrize("runtime", simproc.RUNTIMES)
def test_ids_are_percent_encoded_into_the_url(runtime, csms, tmp_path):
    sims = [simproc.start(runtime, csms, tmp_path / str(i), cp_id=cp_id, boot=False, connectors=1)
            for i, cp_id in enumerate(IDS)]
    try:
        for cp_id in IDS:
            boot = csms.wait_action(cp_id, "BootNotification", timeout=20)
            assert boot["chargePointModel"] == "sim"
        paths = {h["cp_id"]: h["path"] for h in csms.handshakes}
        for cp_id in IDS:
            assert paths[cp_id] == "/ocpp/" + quote(cp_id, safe="")
            assert csms.call(cp_id, "GetConfiguration", {"key": ["NumberOfConnectors"]})[
                "configurationKey"][0]["value"] == "1"
        assert csms.violations == []
    finally:
        for s in sims:
            s.stop()


@pytest.mark.parametrize("runtime", simproc.RUNTIMES)
def test_every_connector_reports_its_status_after_boot(runtime, csms, tmp_path):
    sim = simproc.start(runtime, csms, tmp_path, connectors=MAX_CONNECTORS)
    try:
        csms.wait_for(lambda: {p["connectorId"] for p in csms.received("CP_1", "StatusNotification")}
                      == set(range(MAX_CONNECTORS + 1)), timeout=20, what="a status of every connector")
        assert all(p["status"] == "Available" for p in csms.received("CP_1", "StatusNotification"))
        assert csms.violations == []
    finally:
        sim.stop()


def test_chargepoint_refuses_connectors_out_of_range(tmp_path):
    from mpy_ocpp import ChargePoint
    from mpy_ocpp.store import Store
    for n in (0, -1, MAX_CONNECTORS + 1, 100):
        with pytest.raises(ValueError):
            ChargePoint("CP_1", None, Store(str(tmp_path)), connectors=n)


@pytest.mark.parametrize("runtime", simproc.RUNTIMES)
def test_a_deep_frame_is_echoed_not_fatal(runtime, csms, tmp_path):
    """The frame echo parses what it prints (to hide a key): a frame nested 1,500 deep (3 KB) must
    not kill the simulator (RecursionError on CPython)."""
    sim = simproc.start(runtime, csms, tmp_path)
    try:
        deep = '[2,"d1","ChangeConfiguration",' + "[" * 1500 + "]" * 1500 + "]"
        csms.send_raw("CP_1", deep)
        csms.wait_frame(lambda t: t.replace(" ", "").startswith('[4,"d1","FormationViolation"'),
                        cp_id="CP_1")
        assert csms.call("CP_1", "GetConfiguration", {"key": ["HeartbeatInterval"]})
    finally:
        sim.stop()
    assert "Traceback" not in "\n".join(sim.err)
