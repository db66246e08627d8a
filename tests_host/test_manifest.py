"""manifest.py keeps each board's own frozen modules: it includes the manifest the port would
freeze without FROZEN_MANIFEST (the board's, else the port's, else the unix variants'), then
freezes the library. Checked with a stand-in for MicroPython's tools/manifestfile.py include()
(same substitution, same error on a missing file) for each port's layout; no MicroPython tree
needed. With MICROPY=<a MicroPython tree> in the environment, also against the real one."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class ManifestFileError(Exception):
    pass


def freeze(manifests, board_dir, port_dir="/mp/ports/p"):
    """Run manifest.py as makemanifest.py would, on a tree whose manifests are `manifests`
    ({path: list of modules it freezes, or an exception it raises}); the calls made, in order."""
    calls = []
    subst = {"$(BOARD_DIR)": board_dir, "$(PORT_DIR)": port_dir}

    def include(path, **_):
        for k, v in subst.items():
            path = path.replace(k, v)
        try:  # like manifestfile.py: open() inside the try, every error wrapped
            if path not in manifests:
                raise FileNotFoundError(2, "No such file or directory", path)
            calls.append(("include", path))
            if isinstance(manifests[path], Exception):
                raise manifests[path]
            calls.extend(("module", m) for m in manifests[path])
        except Exception as e:
            raise ManifestFileError("Error in manifest file: %s: %s" % (path, e))

    env = {"include": include,
           "metadata": lambda **k: calls.append(("metadata", k.get("version"))),
           "package": lambda name, **k: calls.append(("package", name, k.get("opt")))
           or FILES.__setitem__(name, k.get("files"))}
    cwd = os.getcwd()
    os.chdir(ROOT)  # as manifestfile.py does: a manifest runs in its own directory
    try:
        exec(compile((ROOT / "manifest.py").read_text(), "manifest.py", "exec"), env)
    finally:
        os.chdir(cwd)
    return calls


FILES = {}  # package -> the files= the last freeze() passed


LIBRARY = [("metadata", None), ("package", "mpy_ocpp", 3)]  # no version=: see manifest.py


def test_ocpp201_is_frozen_only_when_asked_for(monkeypatch):
    v201 = {"ocpp201.py", "schema201.py", "device_model.py", "provisioning.py", "availability.py",
            "remote_control.py", "transactions.py", "negotiation.py"}
    every = {p.name for p in (ROOT / "mpy_ocpp").glob("*.py")}
    sec = {"security.py", "certificate_chains.py", "signed_meter_values.py", "plug_and_charge.py"}  # MPY_OCPP_SECURITY=1
    v16 = {"ocpp16.py", "core.py", "schema.py", "local_auth_list.py", "reservation.py", "smart_charging.py",
           "remote_trigger.py", "firmware_management.py", "http.py", "security.py", "negotiation.py"}
    v16 |= {p.name for p in (ROOT / "mpy_ocpp").glob("*_calls.py") if p.name[:-9] + ".py" in v16}
    for security in ("", "1"):
        if security:
            monkeypatch.setenv("MPY_OCPP_SECURITY", "1")
        else:
            monkeypatch.delenv("MPY_OCPP_SECURITY", raising=False)
        out = set() if security else sec
        monkeypatch.delenv("MPY_OCPP_201", raising=False)
        freeze({}, "/b")  # certificates.py with the Security extension or with 2.0.1
        assert set(FILES["mpy_ocpp"]) == every - v201 - out - (set() if security else {"certificates.py"})
        monkeypatch.setenv("MPY_OCPP_201", "1")
        freeze({}, "/b")
        assert set(FILES["mpy_ocpp"]) == every - out
        monkeypatch.setenv("MPY_OCPP_201", "only")  # and no 1.6 module, nor the negotiation
        freeze({}, "/b")
        assert set(FILES["mpy_ocpp"]) == every - v16 - out
        assert "ocpp201.py" in FILES["mpy_ocpp"] and "chargepoint.py" in FILES["mpy_ocpp"]


def test_pico_w_keeps_its_board_manifest():
    tree = {"/mp/ports/rp2/boards/RPI_PICO_W/manifest.py": ["network", "ntptime", "aioble"],
            "/mp/ports/rp2/boards/manifest.py": ["rp2", "asyncio"]}
    calls = freeze(tree, "/mp/ports/rp2/boards/RPI_PICO_W", "/mp/ports/rp2")
    assert calls == [("include", "/mp/ports/rp2/boards/RPI_PICO_W/manifest.py"),
                     ("module", "network"), ("module", "ntptime"), ("module", "aioble")] + LIBRARY


def test_esp32_generic_takes_the_port_manifest():
    tree = {"/mp/ports/esp32/boards/manifest.py": ["ntptime", "webrepl"]}
    calls = freeze(tree, "/mp/ports/esp32/boards/ESP32_GENERIC", "/mp/ports/esp32")
    assert calls == [("include", "/mp/ports/esp32/boards/manifest.py"),
                     ("module", "ntptime"), ("module", "webrepl")] + LIBRARY


def test_unix_variant_as_board_dir_else_the_variants_manifest():
    tree = {"/mp/ports/unix/variants/standard/manifest.py": ["asyncio"],
            "/mp/ports/unix/variants/manifest.py": ["ssl"]}
    assert freeze(tree, "/mp/ports/unix/variants/standard", "/mp/ports/unix") == [
        ("include", "/mp/ports/unix/variants/standard/manifest.py"), ("module", "asyncio")] + LIBRARY
    # the unix port passes BOARD_DIR empty unless told: the shared part at least
    assert freeze(tree, "", "/mp/ports/unix") == [
        ("include", "/mp/ports/unix/variants/manifest.py"), ("module", "ssl")] + LIBRARY


def test_qemu_has_no_manifest_library_alone():
    assert freeze({}, "/mp/ports/qemu/boards/MPS2_AN385", "/mp/ports/qemu") == LIBRARY


def test_an_error_inside_a_board_manifest_is_not_swallowed():
    tree = {"/mp/ports/rp2/boards/RPI_PICO_W/manifest.py": ValueError("Package 'x' not found"),
            "/mp/ports/rp2/boards/manifest.py": ["rp2"]}
    with pytest.raises(ManifestFileError, match="Package 'x' not found"):
        freeze(tree, "/mp/ports/rp2/boards/RPI_PICO_W", "/mp/ports/rp2")


def test_boards_manifest_includes_the_library_manifest_once():
    code = [ln for ln in (ROOT / "boards" / "manifest.py").read_text().splitlines()
            if not ln.startswith("#")]
    assert [ln for ln in code if "include(" in ln] == ['include("../manifest.py")']  # nothing else


@pytest.mark.skipif(not os.environ.get("MICROPY"), reason="MICROPY=<a MicroPython tree> not set")
def test_against_micropython_manifestfile():
    sys.path.insert(0, str(ROOT / "tools"))
    import firmware_bench

    rows = firmware_bench.check_manifests(Path(os.environ["MICROPY"]).resolve())
    assert all(r["ok"] for r in rows), rows
    pico_w = [r for r in rows if r["board"] == "rp2 RPI_PICO_W"][0]
    assert {"ntptime", "aioble", "ssl"} <= set(pico_w["kept"])
