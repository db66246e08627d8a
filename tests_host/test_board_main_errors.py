"""boards/main.py against a user's mistakes (CPython, stubbed `machine`): a missing or malformed
config.json, an unknown board, a missing CA file, too many connectors. Each gives one clear
line on the console and an idle charger: run() returns None instead of raising (a reboot loop
under the watchdog on a board), the contactors stay off, a running watchdog is fed, and no
OCPP connection is made. A crash inside the running loop (a bug) opens the contactors before
the exception leaves run() (the watchdog then resets the board)."""
import json
import time

import pytest

from tests_host import boardsim  # noqa: F401  (stubs first on sys.path)

import machine  # noqa: E402
from boards import main  # noqa: E402
from boards.esp32_devkit import ESP32DevKit  # noqa: E402
from mpy_ocpp.chargepoint import MAX_CONNECTORS  # noqa: E402

RELAY = ESP32DevKit.PINS["relay"]


def good(csms, tmp_path, **extra):
    cfg = {"board": "esp32_devkit", "csms": {"url": csms.url, "id": "CP_1"}, "state": str(tmp_path / "state"),
           "connectors": [{"pilot": False}], "profiles": []}
    cfg.update(extra)
    return cfg


def idle(tmp_path, capsys, content, rounds=3):
    """run() on a config.json holding `content` (text as is, else JSON); -> (the console's lines)."""
    machine.reset_all()
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    calls = []
    assert main.run(str(path), stop=lambda: calls.append(1) or len(calls) > rounds) is None
    err = capsys.readouterr().err.splitlines()
    said = [line for line in err if line.startswith("charger not started: ")]
    assert len(said) == 1 and "Traceback" not in "\n".join(err), err
    return said[0]


def test_missing_config(tmp_path, capsys):
    line = idle(tmp_path, capsys, None)
    assert "config.json" in line and "Errno 2" in line
    assert machine.pin(RELAY).out is None  # no pin driven: the pins are not known


@pytest.mark.parametrize("text", ["", "{oops", "[1, 2", "\x00\xff"])
def test_config_not_json(tmp_path, capsys, text):
    assert "config.json" in idle(tmp_path, capsys, text)


BAD = [  # (what to change in a good config, words the message must have)
    (lambda c: [], "an object expected"),
    (lambda c: 5, "an object expected"),
    (lambda c: dict(c, csms=5), "config.csms: an object expected"),
    (lambda c: dict(c, csms={"url": c["csms"]["url"]}), "url and id are required"),
    (lambda c: dict(c, csms={"id": "CP_1"}), "url and id are required"),
    (lambda c: dict(c, csms=dict(c["csms"], url=5)), "config.csms.url: 5"),
    (lambda c: dict(c, connectors={}), "config.connectors: a list expected"),
    (lambda c: dict(c, connectors=[5]), "config.connectors[0]: an object expected"),
    (lambda c: dict(c, connectors=[{"relay_active": "low"}]), "config.connectors[0].relay_active"),
    (lambda c: dict(c, connectors=[{"meter": {"model": "sdm999"}}]), "config.connectors[0].meter.model"),
    (lambda c: dict(c, connectors=[{"feedback": "maybe"}]), "config.connectors[0].feedback"),
    (lambda c: dict(c, reader={"type": "rc522"}), "config.reader.type"),
    (lambda c: dict(c, pins=[26]), "config.pins: an object expected"),
    (lambda c: dict(c, watchdog_ms="8000"), "config.watchdog_ms"),
    (lambda c: dict(c, wifi={"ssid": 1}), "config.wifi.ssid"),
    (lambda c: dict(c, profiles="reservation"), "config.profiles: a list expected"),
    (lambda c: dict(c, board="arduino"), "unknown board arduino"),
    (lambda c: dict(c, csms=dict(c["csms"], csr="csr.pem")), "csr and csr_key go together"),
]


@pytest.mark.parametrize("change,words", BAD)
def test_config_wrong_shape_or_types(csms, tmp_path, capsys, change, words):
    line = idle(tmp_path, capsys, change(good(csms, tmp_path)))
    assert words in line, line
    assert machine.wdts == [] and csms.events == []


@pytest.mark.parametrize("relay_active", [1, 0])
def test_missing_ca_file(csms, tmp_path, capsys, relay_active):
    cfg = good(csms, tmp_path, connectors=[{"pilot": False, "relay_active": relay_active}])
    cfg["csms"]["ca"] = str(tmp_path / "ca.der")
    line = idle(tmp_path, capsys, cfg, rounds=5)
    assert "config.csms.ca: cannot read" in line and "ca.der" in line
    assert machine.pin(RELAY).history and machine.pin(RELAY).out == 1 - relay_active  # driven off
    assert [v for _, v in machine.pin(RELAY).history] == [1 - relay_active]  # never on
    assert len(machine.wdts) == 1 and len(machine.wdts[0].feeds) >= 5  # the watchdog runs: fed
    assert csms.events == []  # no OCPP


def test_too_many_connectors(csms, tmp_path, capsys):
    cfg = good(csms, tmp_path, connectors=[{"pilot": False}] * (MAX_CONNECTORS + 1))
    line = idle(tmp_path, capsys, cfg)
    assert "ValueError" in line and str(MAX_CONNECTORS) in line
    assert machine.pin(RELAY).out == 0 and machine.pin("relay%d" % (MAX_CONNECTORS + 1)).out == 0
    assert len(machine.wdts[0].feeds) >= 3 and csms.events == []


def test_broken_app_bundle_runs_the_built_in_app(csms, tmp_path, capsys, monkeypatch):
    def chain(cfg, path, stop):
        raise ValueError("slot.json: garbage")
    monkeypatch.setattr(ESP32DevKit, "chain", staticmethod(chain))
    machine.reset_all()
    path = tmp_path / "config.json"
    path.write_text(json.dumps(good(csms, tmp_path)))
    end = time.monotonic() + 10
    seen = []

    def stop():
        if csms.connected("CP_1"):
            seen.append(1)
        return seen or time.monotonic() > end
    assert main.run(str(path), stop=stop) is not None and seen  # the built-in app reached the CSMS
    assert "app bundle: ValueError" in capsys.readouterr().err


def test_a_crash_in_the_loop_opens_the_contactors_first(csms, tmp_path, monkeypatch):
    def poll(self, now):  # a bug in a driver while the contactor is closed
        self.relay.set(True)
        raise RuntimeError("driver bug")
    monkeypatch.setattr(main.Outlet, "poll", poll)
    machine.reset_all()
    path = tmp_path / "config.json"
    path.write_text(json.dumps(good(csms, tmp_path)))
    with pytest.raises(RuntimeError):  # the watchdog resets the board
        main.run(str(path), stop=lambda: False)
    assert [v for _, v in machine.pin(RELAY).history] == [0, 1, 0]


@pytest.mark.parametrize("name,content", [("config.json", "[]"), ("config.json", "5"),
                                          ("config.json", "{oops"), ("ota.json", "5"),
                                          ("ota.json", "{\"a\": 1}"), ("ota.json", "\x00\xff")])
def test_damaged_state_files_are_set_aside(csms, tmp_path, capsys, name, content):
    """The files the board reads from its state directory (the seeded OCPP configuration,
    the pending update's slot): a bad one is set aside with a log line, the charger starts."""
    cfg = good(csms, tmp_path)
    cfg["csms"]["authorization_key"] = "0123456789abcdef"
    state = tmp_path / "state"
    state.mkdir()
    (state / name).write_text(content)
    machine.reset_all()
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    end = time.monotonic() + 30
    seen = []

    def stop():
        if csms.connected("CP_1"):
            seen.append(1)
        return seen or time.monotonic() > end
    assert main.run(str(path), stop=stop) is not None and seen  # run() ends by closing the link
    assert "store: %s is corrupt, set aside as %s.bad" % (name, name) in capsys.readouterr().err
    assert (state / (name + ".bad")).exists()
